//! keygate-jose: the cryptographic material keygate signs and verifies with. It reads the
//! keystores WSO2 users already have (JKS, PKCS#12, PEM) into keys and certificates, and
//! holds keygate's JOSE building blocks. Pure: no I/O beyond reading a keystore file, no
//! async runtime; the crypto is aws-lc-rs, shared with rustls.

#![forbid(unsafe_code)]

mod der;
pub mod jwk;
pub mod key;
pub mod keystore;

pub use jwk::{Jwk, JwkError, JwkParams, JwkSet, x5t_s256};
pub use key::{KeyAlgorithm, KeyError};
pub use keystore::{
    Keystore, KeystoreEntry, KeystoreError, KeystoreFormat, PrivateKeyEntry, ProtectedKey,
    UnknownKeystoreFormat,
};
