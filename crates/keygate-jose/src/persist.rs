//! Token-persistence crypto (DESIGN §6): how tokens, codes and secrets are kept at rest
//! when `[apim.oauth_config]` asks for hashing or encryption.
//!
//! - [`TokenHasher`]: SHA-256, irreversible, as WSO2's `enable_token_hashing` stores it.
//!   The plain form is lowercase hex; [`TokenHasher::wso2_record`] writes WSO2's JSON
//!   record (`{"algorithm":"SHA-256","hash":"…"}`), and [`TokenHasher::matches`] reads
//!   both, comparing digests in constant time.
//! - [`TokenCipher`]: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce from a
//!   caller's [`NonceSource`], written as `kid:base64url(nonce | ciphertext | tag)`. The
//!   `kid` is also the associated data, so a value cannot be moved under another key id.
//!   A cipher holds one current key, which encrypts, and any number of previous keys,
//!   which only decrypt: rotating means adding a new current key and keeping the old one
//!   until [`TokenCipher::needs_reencryption`] finds no value left under it. Random
//!   nonces bound one key to about 2^32 encryptions (SP 800-38D §8.3); rotate well before.
//!
//! Keys are raw 32-byte values here; deriving them from the internal keystore is the
//! caller's. A wrong key or an altered value is an error, never a panic, and errors never
//! carry plaintext or key bytes.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, SHA256_OUTPUT_LEN, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use keygate_model::Secret;

use crate::jws::{Segment, decode_b64, encode_b64};

/// SHA-256 of tokens, authorization codes and client secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenHasher;

impl TokenHasher {
    /// The algorithm name WSO2 writes in its hash records.
    pub const ALGORITHM: &'static str = "SHA-256";

    /// Lowercase hex SHA-256 of the value's UTF-8 bytes: 64 characters.
    pub fn hash(value: &str) -> String {
        hex(digest(&SHA256, value.as_bytes()).as_ref())
    }

    /// WSO2's stored form: `{"algorithm":"SHA-256","hash":"<lowercase hex>"}`.
    pub fn wso2_record(value: &str) -> String {
        format!(
            r#"{{"algorithm":"{}","hash":"{}"}}"#,
            Self::ALGORITHM,
            Self::hash(value)
        )
    }

    /// Whether `stored` is the hash of `value`, in either form: hex (either case) or a
    /// WSO2 record naming SHA-256. The digests are compared in constant time.
    pub fn matches(value: &str, stored: &str) -> bool {
        let Some(expected) = stored_digest(stored) else {
            return false;
        };
        let actual = digest(&SHA256, value.as_bytes());
        verify_slices_are_equal(actual.as_ref(), &expected).is_ok()
    }
}

/// The digest a stored hash holds, whichever form it takes.
fn stored_digest(stored: &str) -> Option<[u8; SHA256_OUTPUT_LEN]> {
    let trimmed = stored.trim();
    if trimmed.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Record {
            algorithm: String,
            hash: String,
        }
        let record: Record = serde_json::from_str(trimmed).ok()?;
        let algorithm = record.algorithm.to_ascii_uppercase().replace('-', "");
        if algorithm != "SHA256" {
            return None;
        }
        unhex(&record.hash)
    } else {
        unhex(trimmed)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

fn unhex(text: &str) -> Option<[u8; SHA256_OUTPUT_LEN]> {
    let text = text.as_bytes();
    if text.len() != SHA256_OUTPUT_LEN * 2 {
        return None;
    }
    let mut out = [0u8; SHA256_OUTPUT_LEN];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        let (high, low) = match pair {
            [high, low] => (digit(*high)?, digit(*low)?),
            _ => return None,
        };
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// Length of a token-encryption key: AES-256.
pub const KEY_LEN: usize = 32;
/// Length of the GCM authentication tag.
const TAG_LEN: usize = 16;
/// Longest key id accepted.
const MAX_KID_LEN: usize = 64;

/// Where nonces come from: the system generator in production, a fixed sequence in
/// tests.
pub trait NonceSource {
    /// Fills `dest` entirely with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CipherError>;
}

/// A [`NonceSource`] over AWS-LC's system generator.
#[derive(Debug, Default)]
pub struct SystemNonces(SystemRandom);

impl SystemNonces {
    /// The system generator.
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }
}

impl NonceSource for SystemNonces {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CipherError> {
        self.0
            .fill(dest)
            .map_err(|_| CipherError::RandomUnavailable)
    }
}

/// Why a value could not be encrypted or decrypted, or a cipher built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// A key is not [`KEY_LEN`] bytes.
    #[error("a token-encryption key must be {KEY_LEN} bytes")]
    KeyLength,
    /// A key id is empty, too long, or has a character outside `A-Z a-z 0-9 . _ -`.
    #[error("a token-encryption key id must be 1 to {MAX_KID_LEN} of A-Z a-z 0-9 . _ -")]
    InvalidKeyId,
    /// Two keys share an id.
    #[error("token-encryption key id `{0}` is used twice")]
    DuplicateKeyId(String),
    /// The nonce source failed.
    #[error("random generator unavailable")]
    RandomUnavailable,
    /// The stored value is not `kid:base64url(nonce | ciphertext | tag)`.
    #[error("stored value is not an encrypted token")]
    Malformed,
    /// The stored value names a key id the cipher does not hold.
    #[error("no token-encryption key with id `{0}`")]
    UnknownKey(String),
    /// Authentication failed: the key is wrong or the value was altered.
    #[error("encrypted token does not authenticate under its key")]
    Decrypt,
    /// The AEAD primitive refused to encrypt.
    #[error("encryption failed")]
    Encrypt,
    /// The decrypted value is not UTF-8 text.
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

struct CipherKey {
    kid: String,
    key: LessSafeKey,
}

impl CipherKey {
    fn new(kid: &str, key: &[u8]) -> Result<Self, CipherError> {
        if !valid_kid(kid) {
            return Err(CipherError::InvalidKeyId);
        }
        if key.len() != KEY_LEN {
            return Err(CipherError::KeyLength);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CipherError::KeyLength)?;
        Ok(Self {
            kid: kid.to_owned(),
            key: LessSafeKey::new(unbound),
        })
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// AES-256-GCM over tokens at rest, with a keyring: one current key and previous ones.
/// `Debug` lists key ids only.
pub struct TokenCipher {
    current: CipherKey,
    previous: Vec<CipherKey>,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCipher")
            .field("current", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenCipher {
    /// A cipher whose current key is `key` (32 bytes) under id `kid`.
    pub fn new(kid: &str, key: &[u8]) -> Result<Self, CipherError> {
        Ok(Self {
            current: CipherKey::new(kid, key)?,
            previous: Vec::new(),
        })
    }

    /// Adds a previous key, which decrypts values written under it but never encrypts.
    pub fn with_previous_key(mut self, kid: &str, key: &[u8]) -> Result<Self, CipherError> {
        if self.key(kid).is_some() {
            return Err(CipherError::DuplicateKeyId(kid.to_owned()));
        }
        self.previous.push(CipherKey::new(kid, key)?);
        Ok(self)
    }

    /// The id of the key that encrypts.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Every key id held, current first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.kid.as_str())
            .chain(self.previous.iter().map(|k| k.kid.as_str()))
    }

    fn key(&self, kid: &str) -> Option<&CipherKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    /// Encrypts `plaintext` under the current key with a fresh nonce from `nonces`:
    /// `kid:base64url(nonce | ciphertext | tag)`.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        nonces: &mut dyn NonceSource,
    ) -> Result<String, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        nonces.fill(&mut nonce)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let body = sealed.get_mut(NONCE_LEN..).ok_or(CipherError::Encrypt)?;
        let tag = self
            .current
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.current.kid.as_bytes()),
                body,
            )
            .map_err(|_| CipherError::Encrypt)?;
        sealed.extend_from_slice(tag.as_ref());
        let mut out = String::with_capacity(self.current.kid.len() + 1 + sealed.len() * 4 / 3 + 4);
        out.push_str(&self.current.kid);
        out.push(':');
        out.push_str(&encode_b64(&sealed));
        Ok(out)
    }

    /// Encrypts a secret's text.
    pub fn encrypt_secret(
        &self,
        secret: &Secret,
        nonces: &mut dyn NonceSource,
    ) -> Result<String, CipherError> {
        self.encrypt(secret.expose().as_bytes(), nonces)
    }

    /// Decrypts a value written by [`TokenCipher::encrypt`] under any key held.
    pub fn decrypt(&self, stored: &str) -> Result<Vec<u8>, CipherError> {
        let (kid, body) = stored.split_once(':').ok_or(CipherError::Malformed)?;
        if !valid_kid(kid) {
            return Err(CipherError::Malformed);
        }
        let key = self
            .key(kid)
            .ok_or_else(|| CipherError::UnknownKey(kid.to_owned()))?;
        let mut sealed = decode_b64(body, Segment::Payload).map_err(|_| CipherError::Malformed)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CipherError::Malformed);
        }
        let (nonce, in_out) = sealed.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CipherError::Malformed)?;
        let plaintext_len = key
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), in_out)
            .map_err(|_| CipherError::Decrypt)?
            .len();
        sealed.drain(..NONCE_LEN);
        sealed.truncate(plaintext_len);
        Ok(sealed)
    }

    /// Decrypts a value holding text, such as a token or a client secret.
    pub fn decrypt_secret(&self, stored: &str) -> Result<Secret, CipherError> {
        let bytes = self.decrypt(stored)?;
        String::from_utf8(bytes)
            .map(Secret::from)
            .map_err(|_| CipherError::NotUtf8)
    }

    /// The key id a stored value was written under, if it has the form of one.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored
            .split_once(':')
            .map(|(kid, _)| kid)
            .filter(|kid| valid_kid(kid))
    }

    /// Whether a stored value was written under another key than the current one, and
    /// should be decrypted and written again.
    pub fn needs_reencryption(&self, stored: &str) -> bool {
        Self::key_id_of(stored) != Some(self.current.kid.as_str())
    }
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
