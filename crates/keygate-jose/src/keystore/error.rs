//! What can go wrong while opening a keystore or taking a key out of it. Every message names
//! the file or the alias concerned and never a password or any key material.

use std::io;

/// An error from reading a keystore (JKS, PKCS#12 or PEM) or one of its entries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The store's integrity check failed: the JKS digest or the PKCS#12 MAC does not match,
    /// which almost always means the store password is wrong.
    #[error(
        "keystore {file}: integrity check failed; the store password is wrong or the file was altered"
    )]
    WrongPassword { file: String },

    /// The key entry's own protection rejected the key password.
    #[error("keystore entry `{alias}`: the key password is wrong")]
    WrongKeyPassword { alias: String },

    /// No entry has this alias (aliases compare case-insensitively).
    #[error("keystore has no entry `{alias}`; available aliases: {}", list(.available))]
    AliasNotFound {
        alias: String,
        available: Vec<String>,
    },

    /// The entry exists but holds a trusted certificate, not a private key.
    #[error("keystore entry `{alias}` is a trusted certificate, not a private key")]
    NotAPrivateKey { alias: String },

    /// The file is not a well-formed keystore of the expected format.
    #[error("keystore {file} is malformed: {reason}")]
    Malformed { file: String, reason: String },

    /// The file is well formed but uses something keygate does not read.
    #[error("unsupported keystore content: {reason}")]
    Unsupported { reason: String },

    /// The file could not be read.
    #[error("cannot read keystore {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
}

impl KeystoreError {
    pub(crate) fn malformed(file: &str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            file: file.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Self {
        Self::Unsupported {
            reason: reason.into(),
        }
    }
}

fn list(aliases: &[String]) -> String {
    if aliases.is_empty() {
        "none".to_owned()
    } else {
        aliases.join(", ")
    }
}
