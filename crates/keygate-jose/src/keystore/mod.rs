//! Keystores as WSO2 users keep them: JKS (`wso2carbon.jks`, `client-truststore.jks`),
//! PKCS#12 and PEM, read into one [`Keystore`] of aliased entries.
//!
//! A [`Keystore`] maps aliases to [`KeystoreEntry`] values: a private key with its
//! certificate chain, or a trusted certificate. Aliases compare case-insensitively, as the
//! JDK lowercases them. Opening a store checks its integrity with the store password (the
//! JKS digest, the PKCS#12 MAC); a private key is only decrypted when
//! [`Keystore::private_key`] is asked for it with its key password, the way
//! `java.security.KeyStore::getKey` works, so one store can hold keys with different
//! passwords. Keys always come out as PKCS#8, whatever the container held.
//!
//! Which key password each format expects:
//!
//! | format  | key password |
//! |---------|--------------|
//! | JKS     | the entry's own (`keytool -keypass`), often but not always the store password |
//! | PKCS#12 | the store password (`keytool` refuses another one for PKCS#12) |
//! | PEM     | none: unencrypted keys only; the password arguments are ignored |

mod jks;
mod pem;
mod pkcs12;

use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, SHA256_OUTPUT_LEN, digest};
use keygate_model::Secret;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

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

/// Names the source of a keystore read from memory in error messages.
const IN_MEMORY: &str = "<in-memory keystore>";

/// The container format of a keystore file (`[keystore.*] type` in `deployment.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeystoreFormat {
    /// The JDK's proprietary JKS format.
    Jks,
    /// PKCS#12 (RFC 7292), `.p12` / `.pfx`.
    Pkcs12,
    /// PEM (RFC 7468): certificates and at most one unencrypted private key.
    Pem,
}

impl KeystoreFormat {
    /// Guesses the format from a file's first bytes: the JKS magic, a DER SEQUENCE for
    /// PKCS#12, a `-----BEGIN` line for PEM. `None` when nothing matches.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let magic = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes);
        if magic == Some(jks::MAGIC_JKS) {
            return Some(Self::Jks);
        }
        if bytes.first() == Some(&0x30) {
            return Some(Self::Pkcs12);
        }
        let text = bytes.get(..bytes.len().min(64 * 1024)).unwrap_or_default();
        text.windows(b"-----BEGIN ".len())
            .any(|w| w == b"-----BEGIN ")
            .then_some(Self::Pem)
    }

    /// The name `deployment.toml` uses for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jks => "JKS",
            Self::Pkcs12 => "PKCS12",
            Self::Pem => "PEM",
        }
    }
}

impl fmt::Display for KeystoreFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `type` given is not a keystore format keygate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown keystore type `{0}`; expected JKS, PKCS12 or PEM")]
pub struct UnknownKeystoreFormat(pub String);

impl FromStr for KeystoreFormat {
    type Err = UnknownKeystoreFormat;

    /// Accepts `JKS`, `PKCS12` (also `P12`, `PFX`) and `PEM`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "JKS" => Ok(Self::Jks),
            "PKCS12" | "PKCS#12" | "P12" | "PFX" => Ok(Self::Pkcs12),
            "PEM" => Ok(Self::Pem),
            _ => Err(UnknownKeystoreFormat(s.to_owned())),
        }
    }
}

/// A private key as stored, before its key password has been applied.
pub struct ProtectedKey(Protection);

enum Protection {
    /// JKS: a Sun `KeyProtector` `EncryptedPrivateKeyInfo`, decrypted on demand.
    JksKeyProtector(Vec<u8>),
    /// PKCS#12: decrypted at open with the store password, which is also the key password;
    /// the SHA-256 of that password is kept to check the key password against.
    StorePassword {
        key: PrivatePkcs8KeyDer<'static>,
        password_digest: [u8; SHA256_OUTPUT_LEN],
    },
    /// PEM: unencrypted.
    Unprotected(PrivatePkcs8KeyDer<'static>),
}

impl ProtectedKey {
    pub(crate) fn jks(protected_key: Vec<u8>) -> Self {
        Self(Protection::JksKeyProtector(protected_key))
    }

    pub(crate) fn store_password(key: PrivatePkcs8KeyDer<'static>, password: &Secret) -> Self {
        Self(Protection::StorePassword {
            key,
            password_digest: password_digest(password),
        })
    }

    pub(crate) fn unprotected(key: PrivatePkcs8KeyDer<'static>) -> Self {
        Self(Protection::Unprotected(key))
    }

    /// Whether the key still needs a key password to be read.
    pub fn needs_key_password(&self) -> bool {
        !matches!(self.0, Protection::Unprotected(_))
    }

    /// The PKCS#8 key, once `key_password` has been checked or applied.
    fn recover(
        &self,
        source: &str,
        alias: &str,
        key_password: &Secret,
    ) -> Result<PrivatePkcs8KeyDer<'static>, KeystoreError> {
        let wrong_key_password = || KeystoreError::WrongKeyPassword {
            alias: alias.to_owned(),
        };
        match &self.0 {
            Protection::JksKeyProtector(protected) => jks::recover_key(protected, key_password)
                .map_err(|e| match e {
                    jks::KeyRecoveryError::WrongPassword => wrong_key_password(),
                    jks::KeyRecoveryError::Malformed(reason) => {
                        KeystoreError::malformed(source, format!("entry `{alias}`: {reason}"))
                    }
                    jks::KeyRecoveryError::Unsupported => KeystoreError::unsupported(format!(
                        "entry `{alias}` is protected by another algorithm than the JKS key \
                         protector"
                    )),
                }),
            Protection::StorePassword {
                key,
                password_digest: expected,
            } => {
                verify_slices_are_equal(&password_digest(key_password), expected)
                    .map_err(|_| wrong_key_password())?;
                Ok(key.clone_key())
            }
            Protection::Unprotected(key) => Ok(key.clone_key()),
        }
    }
}

impl fmt::Debug for ProtectedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Protection::JksKeyProtector(_) => "JKS key protector",
            Protection::StorePassword { .. } => "PKCS#12 store password",
            Protection::Unprotected(_) => "unprotected",
        };
        f.debug_tuple("ProtectedKey").field(&kind).finish()
    }
}

fn password_digest(password: &Secret) -> [u8; SHA256_OUTPUT_LEN] {
    let mut out = [0u8; SHA256_OUTPUT_LEN];
    out.copy_from_slice(digest(&SHA256, password.expose().as_bytes()).as_ref());
    out
}

/// One aliased entry of a keystore.
#[derive(Debug)]
pub enum KeystoreEntry {
    /// A private key and its certificate chain, leaf first.
    PrivateKey {
        chain: Vec<CertificateDer<'static>>,
        key: ProtectedKey,
    },
    /// A certificate trusted on its own (`keytool -importcert`).
    TrustedCertificate(CertificateDer<'static>),
}

/// A private key read out of a keystore, with its certificate chain (leaf first).
pub struct PrivateKeyEntry {
    pub key: PrivatePkcs8KeyDer<'static>,
    pub chain: Vec<CertificateDer<'static>>,
}

impl Clone for PrivateKeyEntry {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone_key(),
            chain: self.chain.clone(),
        }
    }
}

impl fmt::Debug for PrivateKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyEntry")
            .field("key", &"***")
            .field("chain", &self.chain.len())
            .finish()
    }
}

/// The entries of one keystore file, by alias, in the order the file lists them.
#[derive(Debug)]
pub struct Keystore {
    source: String,
    format: KeystoreFormat,
    entries: Vec<(String, KeystoreEntry)>,
}

impl Keystore {
    /// Reads the keystore at `path` and checks its integrity with `store_password`.
    ///
    /// The entries of a PEM file are named after the file's stem (`tls.pem` → `tls`); use
    /// [`Keystore::open_pem`] to choose the alias.
    pub fn open(
        path: &Path,
        format: KeystoreFormat,
        store_password: &Secret,
    ) -> Result<Keystore, KeystoreError> {
        let source = path.display().to_string();
        let bytes = read_file(path, &source)?;
        let alias = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| pem::DEFAULT_ALIAS.to_owned());
        Self::parse(&bytes, format, store_password, source, &alias)
    }

    /// Reads a PEM file whose private key (or single certificate) takes `alias`.
    pub fn open_pem(path: &Path, alias: &str) -> Result<Keystore, KeystoreError> {
        let source = path.display().to_string();
        let bytes = read_file(path, &source)?;
        pem::read(&bytes, &source, alias)
            .and_then(|entries| Self::build(source, KeystoreFormat::Pem, entries))
    }

    /// Reads a keystore held in memory. PEM entries are named `key` (see [`Keystore::from_pem`]).
    pub fn from_bytes(
        bytes: &[u8],
        format: KeystoreFormat,
        store_password: &Secret,
    ) -> Result<Keystore, KeystoreError> {
        Self::parse(
            bytes,
            format,
            store_password,
            IN_MEMORY.to_owned(),
            pem::DEFAULT_ALIAS,
        )
    }

    /// Reads PEM text held in memory; its private key (or single certificate) takes `alias`.
    pub fn from_pem(bytes: &[u8], alias: &str) -> Result<Keystore, KeystoreError> {
        let entries = pem::read(bytes, IN_MEMORY, alias)?;
        Self::build(IN_MEMORY.to_owned(), KeystoreFormat::Pem, entries)
    }

    fn parse(
        bytes: &[u8],
        format: KeystoreFormat,
        store_password: &Secret,
        source: String,
        pem_alias: &str,
    ) -> Result<Keystore, KeystoreError> {
        let entries = match format {
            KeystoreFormat::Jks => jks::read(bytes, &source, store_password)
                .map_err(|e| with_format_hint(e, bytes, format))?
                .into_iter()
                .map(|(alias, entry)| {
                    let entry = match entry {
                        jks::JksEntry::PrivateKey {
                            protected_key,
                            chain,
                        } => KeystoreEntry::PrivateKey {
                            chain,
                            key: ProtectedKey::jks(protected_key),
                        },
                        jks::JksEntry::TrustedCertificate(cert) => {
                            KeystoreEntry::TrustedCertificate(cert)
                        }
                    };
                    (alias, entry)
                })
                .collect(),
            KeystoreFormat::Pkcs12 => pkcs12::read(bytes, &source, store_password)
                .map_err(|e| with_format_hint(e, bytes, format))?,
            KeystoreFormat::Pem => pem::read(bytes, &source, pem_alias)
                .map_err(|e| with_format_hint(e, bytes, format))?,
        };
        Self::build(source, format, entries)
    }

    fn build(
        source: String,
        format: KeystoreFormat,
        entries: Vec<(String, KeystoreEntry)>,
    ) -> Result<Keystore, KeystoreError> {
        for (index, (alias, _)) in entries.iter().enumerate() {
            let earlier = entries.get(..index).unwrap_or_default();
            if earlier.iter().any(|(other, _)| same_alias(other, alias)) {
                return Err(KeystoreError::malformed(
                    &source,
                    format!("alias `{alias}` appears twice"),
                ));
            }
        }
        Ok(Keystore {
            source,
            format,
            entries,
        })
    }

    /// The file this keystore was read from, or a placeholder for one read from memory.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The container format this keystore was read from.
    pub fn format(&self) -> KeystoreFormat {
        self.format
    }

    /// Every alias, in file order.
    pub fn aliases(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|(alias, _)| alias.as_str())
            .collect()
    }

    /// The entry under `alias`, compared case-insensitively.
    pub fn entry(&self, alias: &str) -> Option<&KeystoreEntry> {
        self.find(alias).map(|(_, entry)| entry)
    }

    /// Every entry with its alias, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &KeystoreEntry)> {
        self.entries
            .iter()
            .map(|(alias, entry)| (alias.as_str(), entry))
    }

    /// The private key under `alias`, decrypted with `key_password`, and its chain.
    pub fn private_key(
        &self,
        alias: &str,
        key_password: &Secret,
    ) -> Result<PrivateKeyEntry, KeystoreError> {
        let (stored_alias, entry) = self.find_or_err(alias)?;
        match entry {
            KeystoreEntry::PrivateKey { chain, key } => Ok(PrivateKeyEntry {
                key: key.recover(&self.source, stored_alias, key_password)?,
                chain: chain.clone(),
            }),
            KeystoreEntry::TrustedCertificate(_) => Err(KeystoreError::NotAPrivateKey {
                alias: stored_alias.to_owned(),
            }),
        }
    }

    /// The certificate under `alias`: the leaf of a key entry's chain, or a trusted
    /// certificate.
    pub fn certificate(&self, alias: &str) -> Result<CertificateDer<'static>, KeystoreError> {
        let (stored_alias, entry) = self.find_or_err(alias)?;
        match entry {
            KeystoreEntry::PrivateKey { chain, .. } => chain.first().cloned().ok_or_else(|| {
                KeystoreError::malformed(
                    &self.source,
                    format!("key entry `{stored_alias}` has no certificate"),
                )
            }),
            KeystoreEntry::TrustedCertificate(cert) => Ok(cert.clone()),
        }
    }

    /// Every trusted-certificate entry with its alias, in file order.
    pub fn trusted_certificates(&self) -> Vec<(String, CertificateDer<'static>)> {
        self.entries
            .iter()
            .filter_map(|(alias, entry)| match entry {
                KeystoreEntry::TrustedCertificate(cert) => Some((alias.clone(), cert.clone())),
                KeystoreEntry::PrivateKey { .. } => None,
            })
            .collect()
    }

    /// The alias of the first private-key entry in file order.
    pub fn first_private_key_alias(&self) -> Option<&str> {
        self.entries.iter().find_map(|(alias, entry)| match entry {
            KeystoreEntry::PrivateKey { .. } => Some(alias.as_str()),
            KeystoreEntry::TrustedCertificate(_) => None,
        })
    }

    fn find(&self, alias: &str) -> Option<&(String, KeystoreEntry)> {
        self.entries
            .iter()
            .find(|(stored, _)| same_alias(stored, alias))
    }

    fn find_or_err(&self, alias: &str) -> Result<(&str, &KeystoreEntry), KeystoreError> {
        self.find(alias)
            .map(|(stored, entry)| (stored.as_str(), entry))
            .ok_or_else(|| KeystoreError::AliasNotFound {
                alias: alias.to_owned(),
                available: self.aliases().into_iter().map(str::to_owned).collect(),
            })
    }
}

/// Whether two aliases name the same entry: the JDK lowercases aliases.
fn same_alias(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn read_file(path: &Path, source: &str) -> Result<Vec<u8>, KeystoreError> {
    std::fs::read(path).map_err(|e| KeystoreError::Io {
        file: source.to_owned(),
        source: e,
    })
}

/// Adds "this looks like X" to a `Malformed` error when the bytes are another format.
fn with_format_hint(error: KeystoreError, bytes: &[u8], expected: KeystoreFormat) -> KeystoreError {
    match (error, KeystoreFormat::sniff(bytes)) {
        (KeystoreError::Malformed { file, reason }, Some(actual)) if actual != expected => {
            KeystoreError::Malformed {
                file,
                reason: format!("{reason} (the file looks like {actual}; check its `type`)"),
            }
        }
        (error, _) => error,
    }
}

#[cfg(test)]
mod tests;
