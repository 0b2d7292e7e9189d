//! Tokens, codes and client secrets at rest (DESIGN §6, `[apim.oauth_config]`).
//!
//! Whatever the mode, a token or code is found by its lookup key: the SHA-256 of its
//! value ([`TokenProtection::lookup_key`]) — or, for a JWT access token, its `jti`
//! ([`crate::token_keys`]) — so no lookup ever needs the value itself. What else is kept
//! depends on the mode:
//!
//! - `plain` (default): the value as issued, so that it can be given back — except a JWT
//!   access token, of which nothing but its `jti` is kept (the record's id and lookup
//!   key), which is what WSO2 keeps of a JWT (as the token's alias), and a JWT is its own
//!   record for whoever holds it;
//! - `hash` (`enable_token_hashing`): nothing but the digest — irreversible, and, as WSO2
//!   documents, every request then gets a new token and no token can be retrieved;
//! - `encrypt` (`enable_token_encryption`): AES-256-GCM ciphertext carrying its key id,
//!   under a key derived with HKDF-SHA256 from the `[keystore.internal]` private key, or,
//!   without that keystore, a random 32-byte key created once and kept in the database.
//!
//! Client secrets are never kept in clear: HMAC-SHA256 under a server pepper (32 random
//! bytes created once in the database, so every key-manager node agrees), or ciphertext
//! when encryption is on; verification accepts either form and compares in constant
//! time. The pepper and database-kept encryption key live in the same database as what
//! they protect: they keep a leaked token table from being replayed, not a full database
//! dump from being read — a keystore-derived key does that.

use crate::clock::{Clock, Draw, Entropy, random_bytes};
use crate::errors::KmError;
use crate::settings::{KmSettings, open_keystore};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hkdf;
use keygate_config::TokenPersistence;
use keygate_jose::{TokenCipher, TokenHasher, x5t_s256};
use keygate_model::{Secret, TokenType};
use keygate_oauth::client_auth::{CLIENT_SECRET_DIGEST_LEN, ClientSecretDigest};
use keygate_store::Stores;
use std::fmt;
use std::sync::Arc;

/// Name of the client-secret pepper among the server secrets.
pub const PEPPER_SECRET: &str = "oauth.client-secret-pepper";
/// Name of the database-kept token-encryption key among the server secrets.
pub const ENCRYPTION_KEY_SECRET: &str = "oauth.token-encryption-key";
/// Key id of the database-kept token-encryption key.
pub const DATABASE_KEY_ID: &str = "db-1";
/// Bytes of the pepper and of a generated encryption key.
const SECRET_BYTES: usize = 32;
/// HKDF salt and info deriving the token-encryption key from the internal keystore key.
const HKDF_SALT: &[u8] = b"keygate token encryption";
const HKDF_INFO: &[u8] = b"AES-256-GCM key v1";

/// How tokens, codes and client secrets are kept at rest.
pub struct TokenProtection {
    mode: TokenPersistence,
    pepper: Vec<u8>,
    cipher: TokenCipher,
    entropy: Arc<dyn Entropy>,
}

impl fmt::Debug for TokenProtection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProtection")
            .field("mode", &self.mode)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl TokenProtection {
    /// Loads or creates the pepper and the encryption key.
    pub async fn load(
        settings: &KmSettings,
        stores: &Stores,
        clock: &dyn Clock,
        entropy: Arc<dyn Entropy>,
    ) -> Result<Self, KmError> {
        let tenant = &settings.tenant;
        let pepper = stores
            .keys()
            .ensure_server_secret(
                tenant,
                PEPPER_SECRET,
                &random_bytes(entropy.as_ref(), SECRET_BYTES)?,
                clock.now_ms(),
            )
            .await?;
        let cipher = match &settings.internal_keystore {
            Some(store) => keystore_cipher(store)?,
            None => {
                let key = stores
                    .keys()
                    .ensure_server_secret(
                        tenant,
                        ENCRYPTION_KEY_SECRET,
                        &random_bytes(entropy.as_ref(), SECRET_BYTES)?,
                        clock.now_ms(),
                    )
                    .await?;
                TokenCipher::new(DATABASE_KEY_ID, &key)
                    .map_err(|e| KmError::Key(format!("token-encryption key: {e}")))?
            }
        };
        Self::new(settings.token_persistence, pepper, cipher, entropy)
    }

    /// Protection from its parts.
    pub fn new(
        mode: TokenPersistence,
        pepper: Vec<u8>,
        cipher: TokenCipher,
        entropy: Arc<dyn Entropy>,
    ) -> Result<Self, KmError> {
        if pepper.len() < 16 {
            return Err(KmError::Key(
                "the client-secret pepper is shorter than 16 bytes".into(),
            ));
        }
        Ok(Self {
            mode,
            pepper,
            cipher,
            entropy,
        })
    }

    /// The persistence mode.
    pub fn mode(&self) -> TokenPersistence {
        self.mode
    }

    /// The key a token or code is stored and found under: lowercase hex SHA-256.
    pub fn lookup_key(&self, value: &str) -> String {
        TokenHasher::hash(value)
    }

    /// What the token column keeps of `value`: the value (plain), nothing (hash) or
    /// ciphertext (encrypt).
    pub fn stored_value(&self, value: &Secret) -> Result<Option<String>, KmError> {
        match self.mode {
            TokenPersistence::Plain => Ok(Some(value.expose().to_owned())),
            TokenPersistence::Hash => Ok(None),
            TokenPersistence::Encrypt => self
                .cipher
                .encrypt_secret(value, &mut Draw(self.entropy.as_ref()))
                .map(Some)
                .map_err(|e| KmError::Key(format!("cannot encrypt a token: {e}"))),
        }
    }

    /// What the token column keeps of an access token of `token_type`: as
    /// [`Self::stored_value`] says, but nothing for a JWT in plain mode (its record id is
    /// its `jti`; storing the ~800-byte JWT would make the row four times larger for no
    /// reader).
    pub fn stored_access_token(
        &self,
        value: &Secret,
        token_type: TokenType,
    ) -> Result<Option<String>, KmError> {
        match (self.mode, token_type) {
            (TokenPersistence::Plain, TokenType::Jwt) => Ok(None),
            _ => self.stored_value(value),
        }
    }

    /// The token a stored value holds, when it can be given back: the value itself in
    /// plain mode, the decrypted ciphertext in encrypt mode.
    pub fn reveal(&self, stored: &str) -> Option<Secret> {
        if TokenCipher::key_id_of(stored).is_some()
            && let Ok(secret) = self.cipher.decrypt_secret(stored)
        {
            return Some(secret);
        }
        match self.mode {
            TokenPersistence::Plain => Some(Secret::new(stored)),
            TokenPersistence::Hash | TokenPersistence::Encrypt => None,
        }
    }

    /// What a client's secret column keeps: ciphertext in encrypt mode, HMAC-SHA256
    /// under the pepper otherwise.
    pub fn seal_client_secret(&self, secret: &Secret) -> Result<Vec<u8>, KmError> {
        match self.mode {
            TokenPersistence::Encrypt => self
                .cipher
                .encrypt_secret(secret, &mut Draw(self.entropy.as_ref()))
                .map(String::into_bytes)
                .map_err(|e| KmError::Key(format!("cannot encrypt a client secret: {e}"))),
            TokenPersistence::Plain | TokenPersistence::Hash => {
                Ok(ClientSecretDigest::compute(&self.pepper, secret)
                    .as_bytes()
                    .to_vec())
            }
        }
    }

    /// Whether `presented` is the secret `stored` was sealed from, in either form,
    /// compared in constant time. Nothing stored never verifies.
    pub fn verify_client_secret(&self, stored: &[u8], presented: &Secret) -> bool {
        if stored.len() == CLIENT_SECRET_DIGEST_LEN {
            return ClientSecretDigest::from_bytes(stored)
                .is_some_and(|digest| digest.verify(&self.pepper, presented));
        }
        match self.reveal_client_secret(stored) {
            Some(secret) => {
                verify_slices_are_equal(secret.expose().as_bytes(), presented.expose().as_bytes())
                    .is_ok()
            }
            None => false,
        }
    }

    /// The client secret an encrypted column holds; `None` for a digest.
    pub fn reveal_client_secret(&self, stored: &[u8]) -> Option<Secret> {
        if stored.len() == CLIENT_SECRET_DIGEST_LEN {
            return None;
        }
        let text = std::str::from_utf8(stored).ok()?;
        self.cipher.decrypt_secret(text).ok()
    }
}

/// The cipher whose key HKDF-SHA256 derives from the internal keystore's private key; its
/// id names the certificate, so a replaced keystore is told apart.
fn keystore_cipher(store: &keygate_config::KeystoreRef) -> Result<TokenCipher, KmError> {
    let keystore = open_keystore(store)?;
    let file = store.file.display().to_string();
    let alias = match &store.alias {
        Some(alias) => alias.clone(),
        None => keystore
            .first_private_key_alias()
            .map(str::to_owned)
            .ok_or_else(|| KmError::Keystore {
                file: file.clone(),
                reason: "holds no private key entry".into(),
            })?,
    };
    let key_password = store.key_password.as_ref().unwrap_or(&store.password);
    let entry = keystore
        .private_key(&alias, key_password)
        .map_err(|e| KmError::Keystore {
            file: file.clone(),
            reason: e.to_string(),
        })?;
    let key = derive_key(entry.key.secret_pkcs8_der())?;
    let thumbprint = entry
        .chain
        .first()
        .map(x5t_s256)
        .unwrap_or_else(|| TokenHasher::hash(&alias));
    let kid = format!("ks-{}", thumbprint.get(..16).unwrap_or(&thumbprint));
    TokenCipher::new(&kid, &key).map_err(|e| KmError::Key(format!("token-encryption key: {e}")))
}

/// HKDF-SHA256 (RFC 5869) of `ikm` into a 32-byte AES key.
fn derive_key(ikm: &[u8]) -> Result<[u8; 32], KmError> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let mut out = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT)
        .extract(ikm)
        .expand(&[HKDF_INFO], Len)
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| KmError::Key("cannot derive the token-encryption key".into()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemEntropy;

    fn protection(mode: TokenPersistence) -> TokenProtection {
        let cipher = TokenCipher::new("test-1", &[7u8; 32]).unwrap();
        TokenProtection::new(mode, vec![9u8; 32], cipher, Arc::new(SystemEntropy::new())).unwrap()
    }

    #[test]
    fn lookup_keys_are_sha256_hex_in_every_mode() {
        for mode in [
            TokenPersistence::Plain,
            TokenPersistence::Hash,
            TokenPersistence::Encrypt,
        ] {
            let p = protection(mode);
            assert_eq!(
                p.lookup_key("abc"),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
        }
    }

    #[test]
    fn stored_values_follow_the_mode() {
        let token = Secret::new("opaque-token-value");
        let plain = protection(TokenPersistence::Plain);
        assert_eq!(
            plain.stored_value(&token).unwrap().as_deref(),
            Some("opaque-token-value")
        );
        assert_eq!(plain.reveal("opaque-token-value"), Some(token.clone()));

        let hash = protection(TokenPersistence::Hash);
        assert_eq!(hash.stored_value(&token).unwrap(), None);

        let encrypt = protection(TokenPersistence::Encrypt);
        let stored = encrypt.stored_value(&token).unwrap().unwrap();
        assert!(stored.starts_with("test-1:"));
        assert!(!stored.contains("opaque-token-value"));
        assert_ne!(stored, encrypt.stored_value(&token).unwrap().unwrap());
        assert_eq!(encrypt.reveal(&stored), Some(token));
        assert_eq!(encrypt.reveal("test-1:AAAA"), None);
    }

    #[test]
    fn plain_mode_keeps_opaque_access_tokens_but_not_jwts() {
        let token = Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
        let plain = protection(TokenPersistence::Plain);
        assert_eq!(
            plain.stored_access_token(&token, TokenType::Jwt).unwrap(),
            None
        );
        assert_eq!(
            plain
                .stored_access_token(&token, TokenType::Oauth)
                .unwrap()
                .as_deref(),
            Some(token.expose())
        );
        let encrypt = protection(TokenPersistence::Encrypt);
        for token_type in [TokenType::Jwt, TokenType::Oauth] {
            let stored = encrypt.stored_access_token(&token, token_type).unwrap();
            assert_eq!(encrypt.reveal(&stored.unwrap()), Some(token.clone()));
        }
        let hash = protection(TokenPersistence::Hash);
        assert_eq!(
            hash.stored_access_token(&token, TokenType::Jwt).unwrap(),
            None
        );
    }

    #[test]
    fn client_secrets_are_peppered_or_encrypted_and_both_verify() {
        let secret = Secret::new("s3cr3t-value");
        let wrong = Secret::new("s3cr3t-valuf");
        let plain = protection(TokenPersistence::Plain);
        let digest = plain.seal_client_secret(&secret).unwrap();
        assert_eq!(digest.len(), 32);
        assert!(plain.verify_client_secret(&digest, &secret));
        assert!(!plain.verify_client_secret(&digest, &wrong));
        assert_eq!(plain.reveal_client_secret(&digest), None);

        let encrypt = protection(TokenPersistence::Encrypt);
        let sealed = encrypt.seal_client_secret(&secret).unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"s3cr3t-value"));
        assert!(encrypt.verify_client_secret(&sealed, &secret));
        assert!(!encrypt.verify_client_secret(&sealed, &wrong));
        assert_eq!(encrypt.reveal_client_secret(&sealed), Some(secret.clone()));
        // A mode switch keeps existing clients working.
        assert!(encrypt.verify_client_secret(&digest, &secret));
        assert!(plain.verify_client_secret(&sealed, &secret));
        assert!(!plain.verify_client_secret(&[], &secret));
        assert!(!plain.verify_client_secret(b"garbage", &secret));
    }

    #[test]
    fn hkdf_derivation_is_stable_and_keyed() {
        let a = derive_key(b"first key material").unwrap();
        assert_eq!(a, derive_key(b"first key material").unwrap());
        assert_ne!(a, derive_key(b"other key material").unwrap());
    }

    #[test]
    fn a_short_pepper_is_refused_and_debug_hides_it() {
        let cipher = TokenCipher::new("k", &[1u8; 32]).unwrap();
        assert!(
            TokenProtection::new(
                TokenPersistence::Plain,
                vec![1; 8],
                cipher,
                Arc::new(SystemEntropy::new())
            )
            .is_err()
        );
        let shown = format!("{:?}", protection(TokenPersistence::Hash));
        assert!(shown.contains("Hash") && !shown.contains("9, 9"));
    }
}
