//! TLS for the node's listeners: the certificate and key under `[keystore.tls]` (JKS,
//! PKCS#12 or PEM, read by alias), or — when that table is absent — a self-signed
//! certificate for `[server] hostname`, generated once into `<data_dir>/tls/` and reused.

use crate::ServerError;
use keygate_config::{Config, KeystoreKind, KeystoreRef};
use keygate_jose::keystore::{Keystore, KeystoreFormat};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate chain and its private key, ready for rustls.
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Where it came from, for the start-up line.
    pub source: String,
}

/// The keystore format keygate-jose reads for a configured store type.
pub fn format_of(kind: KeystoreKind) -> KeystoreFormat {
    match kind {
        KeystoreKind::Jks => KeystoreFormat::Jks,
        KeystoreKind::Pkcs12 => KeystoreFormat::Pkcs12,
        KeystoreKind::Pem => KeystoreFormat::Pem,
    }
}

/// Opens a configured keystore, mapping its errors to one naming the file.
/// A PEM file's entry takes the configured alias, so `alias` means the same in every format.
pub fn open_keystore(store: &KeystoreRef) -> Result<Keystore, ServerError> {
    let opened = match (store.kind, &store.alias) {
        (KeystoreKind::Pem, Some(alias)) => Keystore::open_pem(&store.file, alias),
        (kind, _) => Keystore::open(&store.file, format_of(kind), &store.password),
    };
    opened.map_err(|e| ServerError::Keystore {
        file: store.file.clone(),
        reason: e.to_string(),
    })
}

/// Reads the private key entry a keystore reference names (its `alias`, or the store's
/// only key), with `key_password` falling back to the store password as WSO2 does.
pub fn identity_from_keystore(store: &KeystoreRef) -> Result<ServerIdentity, ServerError> {
    let keystore = open_keystore(store)?;
    let alias = match &store.alias {
        Some(alias) => alias.clone(),
        None => keystore
            .first_private_key_alias()
            .map(str::to_owned)
            .ok_or_else(|| ServerError::Keystore {
                file: store.file.clone(),
                reason: "holds no private key entry".to_owned(),
            })?,
    };
    let key_password = store.key_password.as_ref().unwrap_or(&store.password);
    let entry = keystore
        .private_key(&alias, key_password)
        .map_err(|e| ServerError::Keystore {
            file: store.file.clone(),
            reason: e.to_string(),
        })?;
    Ok(ServerIdentity {
        chain: entry.chain,
        key: PrivateKeyDer::Pkcs8(entry.key),
        source: format!("{} (alias {alias})", store.file.display()),
    })
}

/// Where the self-signed identity for `hostname` lives in the data directory.
pub fn self_signed_paths(data_dir: &Path, hostname: &str) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    let stem: String = hostname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        dir.join(format!("{stem}.cert.pem")),
        dir.join(format!("{stem}.key.pem")),
    )
}

/// Loads the self-signed identity from the data directory, generating it on first use.
pub fn self_signed_identity(config: &Config) -> Result<ServerIdentity, ServerError> {
    let hostname = &config.server.hostname;
    let (cert_path, key_path) = self_signed_paths(&config.server.data_dir, hostname);
    if !cert_path.exists() || !key_path.exists() {
        let mut names = vec![hostname.clone()];
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == extra) {
                names.push(extra.to_owned());
            }
        }
        if let Some(ip) = config.server.node_ip {
            names.push(ip.to_string());
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| ServerError::Tls(format!("cannot generate a certificate: {e}")))?;
        write_file(&cert_path, generated.cert.pem().as_bytes(), false)?;
        write_file(
            &key_path,
            generated.signing_key.serialize_pem().as_bytes(),
            true,
        )?;
        tracing::info!(certificate = %cert_path.display(), "generated a self-signed TLS certificate for {hostname}");
    }
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key_path.display())))?;
    Ok(ServerIdentity {
        chain,
        key,
        source: format!("self-signed {}", cert_path.display()),
    })
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), ServerError> {
    let io = |source| ServerError::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// The node's TLS identity: `[keystore.tls]` when configured, else self-signed.
pub fn server_identity(config: &Config) -> Result<ServerIdentity, ServerError> {
    match &config.keystores.tls {
        Some(store) => identity_from_keystore(store),
        None => self_signed_identity(config),
    }
}

/// A rustls server configuration offering HTTP/2 and HTTP/1.1.
pub fn server_config(identity: ServerIdentity) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    server_config_with_client_auth(identity, false)
}

/// The gateway's HTTPS listener: asks clients for a certificate without requiring one, so
/// that a certificate-bound token (RFC 8705 §3, `cnf.x5t#S256`) can be checked against
/// the certificate the connection presented.
pub fn gateway_server_config(
    identity: ServerIdentity,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    server_config_with_client_auth(identity, true)
}

/// A rustls server configuration offering HTTP/2 and HTTP/1.1 that, when
/// `request_client_certificates` is set, asks every client for a certificate without
/// requiring one (RFC 8705 mutual TLS on the key manager's listener). The handshake only
/// proves the client holds the certificate's key; whom the certificate names is checked by
/// the key manager against each client's registration.
pub fn server_config_with_client_auth(
    identity: ServerIdentity,
    request_client_certificates: bool,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let builder = if request_client_certificates {
        builder.with_client_cert_verifier(Arc::new(OptionalClientCertificate {
            algorithms: provider.signature_verification_algorithms,
        }))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", identity.source)))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Asks for a client certificate, accepts none, and accepts any chain whose key signed
/// the handshake: trust in the certificate is decided per OAuth client by the key manager
/// (a CA from the truststore for `tls_client_auth`, a registered key for
/// `self_signed_tls_client_auth`).
#[derive(Debug)]
struct OptionalClientCertificate {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for OptionalClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Opens every keystore the configuration names and reads what it must hold, reporting
/// each problem (wrong password, missing alias, unreadable file) — for `config check`.
pub fn check_keystores(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let stores = [
        ("keystore.tls", &config.keystores.tls, true),
        ("keystore.primary", &config.keystores.primary, true),
        ("keystore.internal", &config.keystores.internal, true),
        ("truststore", &config.keystores.truststore, false),
    ];
    for (key, store, needs_key) in stores {
        let Some(store) = store else { continue };
        let outcome = if needs_key {
            identity_from_keystore(store).map(|_| ())
        } else {
            open_keystore(store).map(|_| ())
        };
        if let Err(e) = outcome {
            problems.push(format!("{key}: {e}"));
        }
    }
    problems
}
