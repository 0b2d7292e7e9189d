//! keygate-jose: the cryptographic material keygate signs and verifies with. It reads the
//! keystores WSO2 users already have (JKS, PKCS#12, PEM) into keys and certificates,
//! publishes their public halves as JWKs, signs and verifies JWS and JWTs (RFC 7515,
//! RFC 7519, RFC 9068), and protects tokens at rest (hashing and AES-256-GCM). Pure: no
//! I/O beyond reading a keystore file, no async runtime, time and randomness passed in;
//! the crypto is aws-lc-rs, shared with rustls.

#![forbid(unsafe_code)]

mod der;
pub mod jwk;
pub mod jws;
pub mod jwt;
pub mod key;
pub mod keystore;
pub mod persist;

pub use jwk::{Jwk, JwkError, JwkParams, JwkSet, x5t_s256};
pub use jws::{
    JwsAlgorithm, JwsError, JwsHeader, KeyResolver, SigningKey, Verified, VerifyingKey,
    VerifyingKeySet, sign_compact, verify_compact,
};
pub use jwt::{Audience, Claims, Confirmation, JwtError, Validation, VerifiedJwt};
pub use key::{KeyAlgorithm, KeyError};
pub use keystore::{
    Keystore, KeystoreEntry, KeystoreError, KeystoreFormat, PrivateKeyEntry, ProtectedKey,
    UnknownKeystoreFormat,
};
pub use persist::{CipherError, NonceSource, SystemNonces, TokenCipher, TokenHasher};
