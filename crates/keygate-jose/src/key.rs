//! Private keys as keygate holds them: PKCS#8 `PrivateKeyInfo` (RFC 5208 §5), whatever
//! container they came from. This module tells which algorithm a key is for, converts the
//! older PKCS#1 `RSAPrivateKey` (RFC 8017 appendix A.1.2) and SEC1 `ECPrivateKey`
//! (RFC 5915 §3) encodings into PKCS#8, and derives a key's public half so a certificate can
//! be matched to it. The parsing itself is aws-lc-rs's.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::der::{self, DerReader, TAG_INTEGER, TAG_OCTET_STRING, oid};

/// The algorithm family and parameters of a private or public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA (RFC 8017), any modulus size aws-lc-rs accepts (2048 to 8192 bits).
    Rsa,
    /// ECDSA over NIST P-256 (`secp256r1`).
    EcP256,
    /// ECDSA over NIST P-384 (`secp384r1`).
    EcP384,
    /// ECDSA over NIST P-521 (`secp521r1`).
    EcP521,
    /// EdDSA over Curve25519 (RFC 8032, RFC 8410).
    Ed25519,
}

impl KeyAlgorithm {
    /// The algorithm named by a PKCS#8 `PrivateKeyInfo`'s `privateKeyAlgorithm`, or `None`
    /// when the input is not PKCS#8 or names an algorithm keygate does not use.
    pub fn of_pkcs8(pkcs8: &[u8]) -> Option<Self> {
        let mut outer = DerReader::new(pkcs8);
        let mut info = outer.sequence().ok()?;
        info.expect(TAG_INTEGER).ok()?;
        let (algorithm, parameter) = der::algorithm_identifier(&mut info).ok()?;
        info.expect(TAG_OCTET_STRING).ok()?;
        Self::from_oids(algorithm, parameter)
    }

    /// The algorithm named by an X.509 `SubjectPublicKeyInfo` algorithm identifier
    /// (RFC 5280 §4.1.2.7): the algorithm OID and, for EC keys, the named-curve OID, both as
    /// DER contents octets.
    pub(crate) fn from_oids(algorithm: &[u8], parameter: Option<&[u8]>) -> Option<Self> {
        match (algorithm, parameter) {
            (oid::RSA_ENCRYPTION, _) => Some(Self::Rsa),
            (oid::ED25519, _) => Some(Self::Ed25519),
            (oid::EC_PUBLIC_KEY, Some(oid::SECP256R1)) => Some(Self::EcP256),
            (oid::EC_PUBLIC_KEY, Some(oid::SECP384R1)) => Some(Self::EcP384),
            (oid::EC_PUBLIC_KEY, Some(oid::SECP521R1)) => Some(Self::EcP521),
            _ => None,
        }
    }

    fn ecdsa_signing(self) -> Option<&'static EcdsaSigningAlgorithm> {
        match self {
            Self::EcP256 => Some(&ECDSA_P256_SHA256_FIXED_SIGNING),
            Self::EcP384 => Some(&ECDSA_P384_SHA384_FIXED_SIGNING),
            Self::EcP521 => Some(&ECDSA_P521_SHA512_FIXED_SIGNING),
            Self::Rsa | Self::Ed25519 => None,
        }
    }
}

/// Why a private key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key's algorithm is not one of [`KeyAlgorithm`].
    #[error("unsupported private key algorithm")]
    UnsupportedAlgorithm,
    /// The bytes do not hold a valid key of the format expected.
    #[error("invalid {0} private key")]
    Invalid(&'static str),
    /// The certificate could not be parsed or its public key is not supported.
    #[error("cannot read the certificate's public key")]
    Certificate,
}

/// The public half of a PKCS#8 private key, encoded as an X.509 certificate carries it in
/// its `subjectPublicKey` BIT STRING: the PKCS#1 `RSAPublicKey` DER for RSA, the
/// uncompressed point for ECDSA, the 32 raw bytes for Ed25519.
pub fn public_key_of(pkcs8: &PrivatePkcs8KeyDer<'_>) -> Result<(KeyAlgorithm, Vec<u8>), KeyError> {
    let der = pkcs8.secret_pkcs8_der();
    let algorithm = KeyAlgorithm::of_pkcs8(der).ok_or(KeyError::UnsupportedAlgorithm)?;
    let public = match algorithm {
        KeyAlgorithm::Rsa => RsaKeyPair::from_pkcs8(der)
            .map_err(|_| KeyError::Invalid("RSA PKCS#8"))?
            .public_key()
            .as_ref()
            .to_vec(),
        KeyAlgorithm::Ed25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| KeyError::Invalid("Ed25519 PKCS#8"))?
            .public_key()
            .as_ref()
            .to_vec(),
        ec => {
            let signing = ec.ecdsa_signing().ok_or(KeyError::UnsupportedAlgorithm)?;
            EcdsaKeyPair::from_pkcs8(signing, der)
                .map_err(|_| KeyError::Invalid("EC PKCS#8"))?
                .public_key()
                .as_ref()
                .to_vec()
        }
    };
    Ok((algorithm, public))
}

/// A certificate's public key: its algorithm and the `subjectPublicKey` bits
/// (RFC 5280 §4.1.2.7).
pub fn certificate_public_key(
    certificate: &CertificateDer<'_>,
) -> Result<(KeyAlgorithm, Vec<u8>), KeyError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map_err(|_| KeyError::Certificate)?;
    let spki = &parsed.tbs_certificate.subject_pki;
    let algorithm_oid = spki.algorithm.algorithm.as_bytes();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.as_bytes().to_vec());
    let algorithm =
        KeyAlgorithm::from_oids(algorithm_oid, curve.as_deref()).ok_or(KeyError::Certificate)?;
    Ok((algorithm, spki.subject_public_key.data.to_vec()))
}

/// Whether `certificate` certifies the public half of `key`.
pub fn certificate_matches_key(
    certificate: &CertificateDer<'_>,
    key: &PrivatePkcs8KeyDer<'_>,
) -> bool {
    match (certificate_public_key(certificate), public_key_of(key)) {
        (Ok(from_certificate), Ok(from_key)) => from_certificate == from_key,
        _ => false,
    }
}

/// Converts a PKCS#1 `RSAPrivateKey` (PEM label `RSA PRIVATE KEY`) into PKCS#8.
pub(crate) fn pkcs8_from_pkcs1(der: &[u8]) -> Result<PrivatePkcs8KeyDer<'static>, KeyError> {
    let pair = RsaKeyPair::from_der(der).map_err(|_| KeyError::Invalid("PKCS#1 RSA"))?;
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Invalid("PKCS#1 RSA"))?;
    Ok(PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()))
}

/// Converts a SEC1 `ECPrivateKey` (PEM label `EC PRIVATE KEY`) on P-256, P-384 or P-521
/// into PKCS#8.
pub(crate) fn pkcs8_from_sec1(der: &[u8]) -> Result<PrivatePkcs8KeyDer<'static>, KeyError> {
    for curve in [
        KeyAlgorithm::EcP256,
        KeyAlgorithm::EcP384,
        KeyAlgorithm::EcP521,
    ] {
        let Some(signing) = curve.ecdsa_signing() else {
            continue;
        };
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(signing, der) {
            let document = pair
                .to_pkcs8v1()
                .map_err(|_| KeyError::Invalid("SEC1 EC"))?;
            return Ok(PrivatePkcs8KeyDer::from(document.as_ref().to_vec()));
        }
    }
    Err(KeyError::Invalid("SEC1 EC"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, Ed25519KeyPair};

    fn ec_pkcs8(alg: &'static EcdsaSigningAlgorithm) -> PrivatePkcs8KeyDer<'static> {
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        PrivatePkcs8KeyDer::from(doc.as_ref().to_vec())
    }

    #[test]
    fn names_the_algorithm_of_generated_keys() {
        let p256 = ec_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let p384 = ec_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING);
        let p521 = ec_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING);
        let ed = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa: Pkcs8V1Der<'static> = rsa.as_der().unwrap();

        assert_eq!(
            KeyAlgorithm::of_pkcs8(p256.secret_pkcs8_der()),
            Some(KeyAlgorithm::EcP256)
        );
        assert_eq!(
            KeyAlgorithm::of_pkcs8(p384.secret_pkcs8_der()),
            Some(KeyAlgorithm::EcP384)
        );
        assert_eq!(
            KeyAlgorithm::of_pkcs8(p521.secret_pkcs8_der()),
            Some(KeyAlgorithm::EcP521)
        );
        assert_eq!(
            KeyAlgorithm::of_pkcs8(ed.as_ref()),
            Some(KeyAlgorithm::Ed25519)
        );
        assert_eq!(
            KeyAlgorithm::of_pkcs8(rsa.as_ref()),
            Some(KeyAlgorithm::Rsa)
        );
        assert_eq!(KeyAlgorithm::of_pkcs8(b"not a key"), None);
    }

    #[test]
    fn public_key_of_an_ec_key_is_its_uncompressed_point() {
        let pkcs8 = ec_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.secret_pkcs8_der())
                .unwrap();
        let (algorithm, public) = public_key_of(&pkcs8).unwrap();
        assert_eq!(algorithm, KeyAlgorithm::EcP256);
        assert_eq!(public, pair.public_key().as_ref());
        assert_eq!(public.len(), 65);
        assert_eq!(public.first(), Some(&0x04));
    }

    #[test]
    fn sec1_and_pkcs1_keys_convert_to_equivalent_pkcs8() {
        use aws_lc_rs::encoding::EcPrivateKeyRfc5915Der;
        let pkcs8 = ec_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING);
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.secret_pkcs8_der())
                .unwrap();
        let sec1: EcPrivateKeyRfc5915Der<'static> = pair.private_key().as_der().unwrap();
        let converted = pkcs8_from_sec1(sec1.as_ref()).unwrap();
        assert_eq!(
            KeyAlgorithm::of_pkcs8(converted.secret_pkcs8_der()),
            Some(KeyAlgorithm::EcP384)
        );
        assert_eq!(public_key_of(&converted), public_key_of(&pkcs8));

        // A PKCS#8 RSA key wraps the PKCS#1 `RSAPrivateKey` in its `privateKey` OCTET STRING.
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_pkcs8: Pkcs8V1Der<'static> = rsa.as_der().unwrap();
        let mut outer = DerReader::new(rsa_pkcs8.as_ref());
        let mut info = outer.sequence().unwrap();
        info.expect(TAG_INTEGER).unwrap();
        der::algorithm_identifier(&mut info).unwrap();
        let pkcs1 = info.expect(TAG_OCTET_STRING).unwrap();
        let converted = pkcs8_from_pkcs1(pkcs1).unwrap();
        let (algorithm, public) = public_key_of(&converted).unwrap();
        assert_eq!(algorithm, KeyAlgorithm::Rsa);
        assert_eq!(public, rsa.public_key().as_ref());

        assert_eq!(pkcs8_from_sec1(b"junk"), Err(KeyError::Invalid("SEC1 EC")));
        assert!(pkcs8_from_pkcs1(b"junk").is_err());
    }
}
