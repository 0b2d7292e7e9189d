//! A minimal, bounds-checked DER reader (ITU-T X.690 §8, §10) for the few structures this
//! crate takes apart itself: the `EncryptedPrivateKeyInfo` of a JKS key entry (RFC 5208 §6),
//! the algorithm of a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5) and the named curve of an
//! `ECPrivateKey` (RFC 5915 §3).
//!
//! Every read checks the remaining length first and reports [`DerError`] instead of
//! panicking; lengths are definite and at most four bytes long, which covers every key and
//! certificate this crate meets.

use std::fmt;

/// Universal tag of an INTEGER.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// Universal tag of an OCTET STRING.
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
/// Universal tag of an OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;
/// Universal, constructed tag of a SEQUENCE.
pub(crate) const TAG_SEQUENCE: u8 = 0x30;

/// DER encoding (contents octets) of the object identifiers this crate recognises.
pub(crate) mod oid {
    /// `rsaEncryption`, 1.2.840.113549.1.1.1 (RFC 8017 appendix C).
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// `id-ecPublicKey`, 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// `id-Ed25519`, 1.3.101.112 (RFC 8410 §3).
    pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// `secp256r1` / P-256, 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1.1).
    pub(crate) const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// `secp384r1` / P-384, 1.3.132.0.34.
    pub(crate) const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// `secp521r1` / P-521, 1.3.132.0.35.
    pub(crate) const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// Sun's proprietary JKS key protection algorithm, 1.3.6.1.4.1.42.2.17.1.1
    /// (`sun.security.provider.KeyProtector`).
    pub(crate) const SUN_JKS_KEY_PROTECTOR: &[u8] =
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
}

/// Why a DER structure could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerError {
    /// The input ended before the element did.
    Truncated,
    /// An element carried another tag than the one expected.
    UnexpectedTag { expected: u8, found: u8 },
    /// Indefinite, non-minimal or over-long length octets.
    BadLength,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("DER element is truncated"),
            Self::UnexpectedTag { expected, found } => {
                write!(f, "expected DER tag 0x{expected:02x}, found 0x{found:02x}")
            }
            Self::BadLength => f.write_str("unsupported DER length encoding"),
        }
    }
}

/// A cursor over DER elements laid end to end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    /// Reads the elements of `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Whether every element has been read.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element, whatever its tag: `(tag, contents)`.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, after_tag) = self.rest.split_first().ok_or(DerError::Truncated)?;
        let (&first, after_first) = after_tag.split_first().ok_or(DerError::Truncated)?;
        let (len, after_len) = if first < 0x80 {
            (usize::from(first), after_first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(DerError::BadLength);
            }
            let (octets, after) = split(after_first, count)?;
            if octets.first() == Some(&0) {
                return Err(DerError::BadLength);
            }
            let len = octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(DerError::BadLength);
            }
            (len, after)
        };
        let (contents, rest) = split(after_len, len)?;
        self.rest = rest;
        Ok((tag, contents))
    }

    /// Reads the next element, which must carry `tag`, and returns its contents.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated)?;
        if found != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        self.any().map(|(_, contents)| contents)
    }

    /// Reads a SEQUENCE and returns a reader over its elements.
    pub(crate) fn sequence(&mut self) -> Result<DerReader<'a>, DerError> {
        self.expect(TAG_SEQUENCE).map(DerReader::new)
    }
}

fn split(input: &[u8], len: usize) -> Result<(&[u8], &[u8]), DerError> {
    if input.len() < len {
        return Err(DerError::Truncated);
    }
    Ok(input.split_at(len))
}

/// The parts of an RFC 5280 `AlgorithmIdentifier`: the algorithm's OID contents and the
/// OID contents of its parameters when those are an OID (a named curve), else `None`.
pub(crate) fn algorithm_identifier<'a>(
    outer: &mut DerReader<'a>,
) -> Result<(&'a [u8], Option<&'a [u8]>), DerError> {
    let mut algorithm = outer.sequence()?;
    let oid = algorithm.expect(TAG_OID)?;
    let parameter = match algorithm.peek_tag() {
        Some(TAG_OID) => Some(algorithm.expect(TAG_OID)?),
        _ => None,
    };
    Ok((oid, parameter))
}

/// Encodes `contents` as one DER element with `tag`.
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        // Fits the short form by the branch condition.
        out.push(len as u8);
    } else {
        let octets = len.to_be_bytes();
        let skip = octets.iter().take_while(|&&b| b == 0).count();
        let significant = octets.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_elements_in_order() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        let mut outer = DerReader::new(&der);
        let mut seq = outer.sequence().unwrap();
        assert!(outer.is_empty());
        assert_eq!(seq.expect(TAG_INTEGER).unwrap(), &[0x05]);
        assert_eq!(seq.expect(TAG_OCTET_STRING).unwrap(), &[0xaa]);
        assert!(seq.is_empty());
        assert_eq!(seq.any(), Err(DerError::Truncated));
    }

    #[test]
    fn long_form_lengths_round_trip_through_encode() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let contents = vec![0x5a; len];
            let der = encode(TAG_OCTET_STRING, &contents);
            let mut reader = DerReader::new(&der);
            assert_eq!(
                reader.expect(TAG_OCTET_STRING).unwrap(),
                contents.as_slice()
            );
            assert!(reader.is_empty());
        }
    }

    #[test]
    fn rejects_lengths_beyond_the_input_and_odd_encodings() {
        assert_eq!(
            DerReader::new(&[0x04, 0x05, 0x00]).any(),
            Err(DerError::Truncated)
        );
        assert_eq!(
            DerReader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]).any(),
            Err(DerError::Truncated)
        );
        // Indefinite length, five length octets, a leading zero, a short length in long form.
        assert_eq!(
            DerReader::new(&[0x30, 0x80]).any(),
            Err(DerError::BadLength)
        );
        assert_eq!(
            DerReader::new(&[0x04, 0x85, 1, 0, 0, 0, 0]).any(),
            Err(DerError::BadLength)
        );
        assert_eq!(
            DerReader::new(&[0x04, 0x82, 0x00, 0x80]).any(),
            Err(DerError::BadLength)
        );
        assert_eq!(
            DerReader::new(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0]).any(),
            Err(DerError::BadLength)
        );
    }

    #[test]
    fn reports_the_unexpected_tag() {
        let mut reader = DerReader::new(&[0x02, 0x01, 0x00]);
        assert_eq!(
            reader.sequence().map(|_| ()),
            Err(DerError::UnexpectedTag {
                expected: TAG_SEQUENCE,
                found: TAG_INTEGER
            })
        );
    }

    #[test]
    fn algorithm_identifier_yields_a_named_curve() {
        let mut alg = encode(TAG_OID, oid::EC_PUBLIC_KEY);
        alg.extend(encode(TAG_OID, oid::SECP256R1));
        let der = encode(TAG_SEQUENCE, &alg);
        let (algorithm, curve) = algorithm_identifier(&mut DerReader::new(&der)).unwrap();
        assert_eq!(algorithm, oid::EC_PUBLIC_KEY);
        assert_eq!(curve, Some(oid::SECP256R1));

        let mut rsa = encode(TAG_OID, oid::RSA_ENCRYPTION);
        rsa.extend([0x05, 0x00]);
        let der = encode(TAG_SEQUENCE, &rsa);
        let (algorithm, params) = algorithm_identifier(&mut DerReader::new(&der)).unwrap();
        assert_eq!(algorithm, oid::RSA_ENCRYPTION);
        assert_eq!(params, None);
    }
}
