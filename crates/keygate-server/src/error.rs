//! Everything that stops a node from starting or running, each naming the thing at fault.
//! Messages never carry a password: store URLs are shown without credentials.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// A database could not be opened, migrated or reached.
    #[error("storage: {0}")]
    Storage(#[from] keygate_store::StoreError),
    /// A keystore could not be read, or holds no usable key.
    #[error("keystore {file}: {reason}")]
    Keystore { file: PathBuf, reason: String },
    /// The key manager role could not start.
    #[error("key manager: {0}")]
    KeyManager(#[from] keygate_km::KmError),
    /// The key manager this node calls is not one it can work with, or its certificate
    /// is not trusted.
    #[error("key manager handshake: {0}")]
    Handshake(String),
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener could not bind its address.
    #[error("{listener} listener cannot bind {addr}: {source}{hint}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        hint: String,
        source: std::io::Error,
    },
    /// The data directory or another file could not be written.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}
