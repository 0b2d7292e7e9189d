//! Reader for the JDK's proprietary JKS keystore (`sun.security.provider.JavaKeyStore`), the
//! format of WSO2's `wso2carbon.jks` and `client-truststore.jks`.
//!
//! Layout, all integers big-endian:
//!
//! ```text
//! u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count, then per entry:
//!   u32 tag (1 private key, 2 trusted certificate), UTF alias, u64 creation time (ms),
//!   tag 1: u32 length + EncryptedPrivateKeyInfo, u32 chain length, certificates
//!   tag 2: one certificate
//!   certificate: (version 2 only) UTF type "X.509", u32 length + DER
//! SHA-1(password as UTF-16BE || "Mighty Aphrodite" || everything above)
//! ```
//!
//! `UTF` is Java's `DataOutput.writeUTF`: a u16 length and modified UTF-8. Private keys stay
//! encrypted until asked for; [`recover_key`] undoes Sun's `KeyProtector` (OID
//! 1.3.6.1.4.1.42.2.17.1.1): a SHA-1 keystream XORed over the PKCS#8 key, with a SHA-1
//! check of password and plaintext. Every length is checked against the bytes that remain
//! and entry counts are capped, so no input makes this reader panic or allocate wildly.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA1_OUTPUT_LEN};
use keygate_model::Secret;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::KeystoreError;
use crate::der::{self, DerReader, TAG_OCTET_STRING, oid};

/// First four bytes of a JKS keystore.
pub(crate) const MAGIC_JKS: u32 = 0xFEED_FEED;
/// First four bytes of a JCEKS keystore (`com.sun.crypto.provider.JceKeyStore`).
pub(crate) const MAGIC_JCEKS: u32 = 0xCECE_CECE;

const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERTIFICATE: u32 = 2;
const TAG_SECRET_KEY: u32 = 3;
/// More entries than any real keystore holds; a larger count is corruption.
const MAX_ENTRIES: u32 = 10_000;
/// Longest certificate chain accepted in one key entry.
const MAX_CHAIN_LENGTH: u32 = 64;
/// The constant the JDK mixes into the keystore digest.
const DIGEST_WHITENER: &[u8] = b"Mighty Aphrodite";
/// Salt length of Sun's `KeyProtector`.
const KEY_PROTECTOR_SALT_LEN: usize = 20;

/// One entry as it appears in the file.
#[derive(Debug)]
pub(crate) enum JksEntry {
    /// Tag 1: the `EncryptedPrivateKeyInfo` bytes and the certificate chain, leaf first.
    PrivateKey {
        protected_key: Vec<u8>,
        chain: Vec<CertificateDer<'static>>,
    },
    /// Tag 2: a trusted certificate.
    TrustedCertificate(CertificateDer<'static>),
}

/// Parses a JKS keystore and checks its integrity digest with `store_password`.
/// `file` names the keystore in errors.
pub(crate) fn read(
    bytes: &[u8],
    file: &str,
    store_password: &Secret,
) -> Result<Vec<(String, JksEntry)>, KeystoreError> {
    let mut input = Input { bytes, pos: 0 };
    let malformed = |reason: String| KeystoreError::malformed(file, reason);

    let magic = input.u32("the magic number").map_err(malformed)?;
    match magic {
        MAGIC_JKS => {}
        MAGIC_JCEKS => {
            return Err(KeystoreError::unsupported(format!(
                "{file} is a JCEKS keystore; convert it with `keytool -importkeystore \
                 -srckeystore {file} -srcstoretype JCEKS -deststoretype PKCS12 -destkeystore <new.p12>`"
            )));
        }
        _ => {
            return Err(malformed(format!(
                "not a JKS keystore (magic 0x{magic:08x})"
            )));
        }
    }
    let version = input.u32("the version").map_err(malformed)?;
    if version != 1 && version != 2 {
        return Err(malformed(format!("unknown JKS version {version}")));
    }
    let count = input.u32("the entry count").map_err(malformed)?;
    if count > MAX_ENTRIES {
        return Err(malformed(format!(
            "declares {count} entries, more than the {MAX_ENTRIES} accepted"
        )));
    }

    let mut entries = Vec::with_capacity(usize::try_from(count.min(64)).unwrap_or(64));
    for index in 0..count {
        let entry = read_entry(&mut input, version)
            .map_err(|reason| malformed(format!("entry {index}: {reason}")))?;
        entries.push(entry);
    }

    let signed = bytes.get(..input.pos).unwrap_or_default();
    let stored = input
        .take(SHA1_OUTPUT_LEN, "the integrity digest")
        .map_err(malformed)?;
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(&utf16_be(store_password));
    context.update(DIGEST_WHITENER);
    context.update(signed);
    let computed = context.finish();
    // Bytes after the digest are ignored, as the JDK ignores them.
    verify_slices_are_equal(computed.as_ref(), stored).map_err(|_| {
        KeystoreError::WrongPassword {
            file: file.to_owned(),
        }
    })?;
    Ok(entries)
}

fn read_entry(input: &mut Input<'_>, version: u32) -> Result<(String, JksEntry), String> {
    let tag = input.u32("the entry tag")?;
    let alias = input.utf("the alias")?;
    input.take(8, "the creation date")?;
    let entry = match tag {
        TAG_PRIVATE_KEY => {
            let key_len = input.u32("the key length")?;
            let protected_key = input.take_u32_len(key_len, "the protected key")?.to_vec();
            let chain_len = input.u32("the chain length")?;
            if chain_len > MAX_CHAIN_LENGTH {
                return Err(format!(
                    "`{alias}` has a chain of {chain_len} certificates, more than {MAX_CHAIN_LENGTH}"
                ));
            }
            let mut chain = Vec::new();
            for _ in 0..chain_len {
                chain.push(read_certificate(input, version)?);
            }
            JksEntry::PrivateKey {
                protected_key,
                chain,
            }
        }
        TAG_TRUSTED_CERTIFICATE => JksEntry::TrustedCertificate(read_certificate(input, version)?),
        TAG_SECRET_KEY => {
            return Err(format!(
                "`{alias}` is a secret-key entry, which only JCEKS and PKCS#12 hold"
            ));
        }
        other => return Err(format!("`{alias}` has unknown entry tag {other}")),
    };
    Ok((alias, entry))
}

fn read_certificate(
    input: &mut Input<'_>,
    version: u32,
) -> Result<CertificateDer<'static>, String> {
    if version == 2 {
        let kind = input.utf("the certificate type")?;
        if kind != "X.509" {
            return Err(format!("certificate type `{kind}` is not X.509"));
        }
    }
    let len = input.u32("the certificate length")?;
    let der = input.take_u32_len(len, "a certificate")?;
    Ok(CertificateDer::from(der.to_vec()))
}

/// Why a JKS key entry could not be decrypted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyRecoveryError {
    /// The key protector's check digest did not match: wrong key password.
    WrongPassword,
    /// The protected key is not a well-formed `EncryptedPrivateKeyInfo`.
    Malformed(String),
    /// The key is protected by another algorithm than Sun's `KeyProtector`.
    Unsupported,
}

/// Decrypts a JKS key entry's `EncryptedPrivateKeyInfo` (RFC 5208 §6) protected by Sun's
/// `KeyProtector` with `key_password`, returning the PKCS#8 key.
pub(crate) fn recover_key(
    protected_key: &[u8],
    key_password: &Secret,
) -> Result<PrivatePkcs8KeyDer<'static>, KeyRecoveryError> {
    let malformed = |e: der::DerError| KeyRecoveryError::Malformed(e.to_string());
    let mut outer = DerReader::new(protected_key);
    let mut info = outer.sequence().map_err(malformed)?;
    let (algorithm, _) = der::algorithm_identifier(&mut info).map_err(malformed)?;
    if algorithm != oid::SUN_JKS_KEY_PROTECTOR {
        return Err(KeyRecoveryError::Unsupported);
    }
    let encrypted = info.expect(TAG_OCTET_STRING).map_err(malformed)?;
    if encrypted.len() < KEY_PROTECTOR_SALT_LEN + SHA1_OUTPUT_LEN {
        return Err(KeyRecoveryError::Malformed(
            "protected key is shorter than its salt and check digest".to_owned(),
        ));
    }
    let (salt, rest) = encrypted.split_at(KEY_PROTECTOR_SALT_LEN);
    let (ciphertext, check) = rest.split_at(rest.len() - SHA1_OUTPUT_LEN);

    let password = utf16_be(key_password);
    let plaintext: Vec<u8> = ciphertext
        .iter()
        .zip(keystream(&password, salt, ciphertext.len()))
        .map(|(c, k)| c ^ k)
        .collect();

    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(&password);
    context.update(&plaintext);
    verify_slices_are_equal(context.finish().as_ref(), check)
        .map_err(|_| KeyRecoveryError::WrongPassword)?;
    Ok(PrivatePkcs8KeyDer::from(plaintext))
}

/// `KeyProtector`'s keystream: `d(0) = salt`, `d(i) = SHA-1(password || d(i-1))`, the
/// digests `d(1), d(2), …` laid end to end.
fn keystream(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut stream = Vec::with_capacity(len + SHA1_OUTPUT_LEN);
    let mut previous = salt.to_vec();
    while stream.len() < len {
        let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        context.update(password);
        context.update(&previous);
        previous = context.finish().as_ref().to_vec();
        stream.extend_from_slice(&previous);
    }
    stream.truncate(len);
    stream
}

/// A password as the JDK feeds it to its digests: each UTF-16 code unit big-endian.
fn utf16_be(password: &Secret) -> Vec<u8> {
    password
        .expose()
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect()
}

/// Decodes Java's modified UTF-8 (`DataInput.readUTF`): NUL as two bytes, characters beyond
/// the BMP as two three-byte surrogates.
fn decode_java_utf(bytes: &[u8]) -> Option<String> {
    let mut units = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        let continuation = |b: Option<&u8>| b.filter(|b| *b & 0xc0 == 0x80).map(|b| b & 0x3f);
        let (unit, consumed) = if first < 0x80 {
            (u16::from(first), 0)
        } else if first & 0xe0 == 0xc0 {
            let second = continuation(tail.first())?;
            ((u16::from(first & 0x1f) << 6) | u16::from(second), 1)
        } else if first & 0xf0 == 0xe0 {
            let second = continuation(tail.first())?;
            let third = continuation(tail.get(1))?;
            let unit =
                (u16::from(first & 0x0f) << 12) | (u16::from(second) << 6) | u16::from(third);
            (unit, 2)
        } else {
            return None;
        };
        units.push(unit);
        rest = tail.get(consumed..)?;
    }
    String::from_utf16(&units).ok()
}

/// A bounds-checked cursor over the keystore bytes.
struct Input<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("file ends inside {what}"))?;
        let taken = self.bytes.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(taken)
    }

    fn take_u32_len(&mut self, len: u32, what: &str) -> Result<&'a [u8], String> {
        let len = usize::try_from(len).map_err(|_| format!("{what} is too long"))?;
        self.take(len, what)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let bytes = self.take(4, what)?;
        let array: [u8; 4] = bytes
            .try_into()
            .map_err(|_| format!("file ends inside {what}"))?;
        Ok(u32::from_be_bytes(array))
    }

    fn utf(&mut self, what: &str) -> Result<String, String> {
        let len_bytes = self.take(2, what)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let bytes = self.take(len, what)?;
        decode_java_utf(bytes).ok_or_else(|| format!("{what} is not valid modified UTF-8"))
    }
}

#[cfg(test)]
#[path = "jks_tests.rs"]
mod tests;
