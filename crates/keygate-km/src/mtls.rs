//! Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705).
//!
//! When `mutual_tls_authenticator` is on, the server asks every client on the management
//! listener for a certificate (without requiring one) and hands the chain it received to
//! handlers as a [`ClientCertificates`] request extension. The TLS layer checks only that
//! the client holds the certificate's key; what the certificate means is decided here,
//! per client registration:
//!
//! - `tls_client_auth` (§2.1): the chain must lead to a CA of `[truststore]` and be valid
//!   now for client authentication, and the certificate's subject DN must be the one
//!   registered (`tls_client_auth_subject_dn`, RFC 4514 form; attribute types compared
//!   without regard to case, spaces after separators ignored);
//! - `self_signed_tls_client_auth` (§2.2): the certificate's public key must be one of
//!   the keys the client registered (`jwks`), compared by RFC 7638 thumbprint.
//!
//! Tokens issued to a client that authenticated this way carry the certificate's
//! `x5t#S256` in `cnf` (§3.1), and are refused at the UserInfo endpoint without it.

use keygate_jose::{Jwk, JwkSet, x5t_s256};
use keygate_model::{OAuthClient, TokenEndpointAuthMethod};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::sync::Arc;
use std::time::Duration;

/// The certificate chain a TLS client presented, leaf first, as the server inserts it
/// into each request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificates(pub Arc<Vec<CertificateDer<'static>>>);

impl ClientCertificates {
    /// A chain, leaf first.
    pub fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        Self(Arc::new(chain))
    }

    /// The client's own certificate.
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.0.first()
    }

    /// The `x5t#S256` of the leaf (RFC 8705 §3.1): base64url SHA-256 of its DER.
    pub fn thumbprint(&self) -> Option<String> {
        self.leaf().map(x5t_s256)
    }
}

/// Why a certificate does not authenticate a client. Never carries certificate bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefusal {
    /// No certificate was presented.
    #[error("no client certificate")]
    Missing,
    /// The client's registration does not use a TLS method.
    #[error("the client does not authenticate with a certificate")]
    NotTlsMethod,
    /// The chain does not lead to a trusted CA, is expired, or is not for client use.
    #[error("the client certificate is not trusted: {0}")]
    Untrusted(String),
    /// There is no truststore to check CA-issued certificates against.
    #[error("no truststore is configured for tls_client_auth")]
    NoTruststore,
    /// The subject DN is not the registered one.
    #[error("the certificate subject does not match the registration")]
    SubjectMismatch,
    /// The public key is not among the registered keys.
    #[error("the certificate key is not registered for the client")]
    KeyNotRegistered,
    /// The certificate cannot be parsed.
    #[error("the client certificate cannot be parsed")]
    Malformed,
}

/// Checks client certificates against registrations, with the CAs of `[truststore]`.
#[derive(Debug, Clone)]
pub struct CertificateAuthenticator {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl CertificateAuthenticator {
    /// An authenticator trusting `roots` for `tls_client_auth`; without roots only
    /// `self_signed_tls_client_auth` can succeed.
    pub fn new(roots: Option<RootCertStore>) -> Result<Self, String> {
        let verifier = match roots {
            Some(roots) if !roots.is_empty() => {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                Some(
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
            }
            _ => None,
        };
        Ok(Self { verifier })
    }

    /// Decides whether `certificates` authenticate `client` at `now` (since the epoch).
    pub fn authenticate(
        &self,
        client: &OAuthClient,
        certificates: Option<&ClientCertificates>,
        now: Duration,
    ) -> Result<(), CertificateRefusal> {
        let chain = certificates.ok_or(CertificateRefusal::Missing)?;
        let leaf = chain.leaf().ok_or(CertificateRefusal::Missing)?;
        match client.token_endpoint_auth_method {
            TokenEndpointAuthMethod::TlsClientAuth => {
                let verifier = self
                    .verifier
                    .as_ref()
                    .ok_or(CertificateRefusal::NoTruststore)?;
                let intermediates = chain.0.get(1..).unwrap_or_default();
                verifier
                    .verify_client_cert(leaf, intermediates, UnixTime::since_unix_epoch(now))
                    .map_err(|e| CertificateRefusal::Untrusted(e.to_string()))?;
                let registered = client
                    .tls_client_auth_subject_dn
                    .as_deref()
                    .ok_or(CertificateRefusal::SubjectMismatch)?;
                let subject = subject_dn(leaf).ok_or(CertificateRefusal::Malformed)?;
                if normalize_dn(&subject) == normalize_dn(registered) {
                    Ok(())
                } else {
                    Err(CertificateRefusal::SubjectMismatch)
                }
            }
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
                let presented = Jwk::from_certificate(leaf)
                    .map_err(|_| CertificateRefusal::Malformed)?
                    .thumbprint();
                let registered: JwkSet = client
                    .jwks
                    .as_deref()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_default();
                if registered.keys.iter().any(|k| k.thumbprint() == presented) {
                    Ok(())
                } else {
                    Err(CertificateRefusal::KeyNotRegistered)
                }
            }
            _ => Err(CertificateRefusal::NotTlsMethod),
        }
    }
}

/// The subject DN of a certificate in RFC 4514 form, e.g. `CN=client,O=Example`.
pub fn subject_dn(certificate: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
    Some(parsed.subject().to_string())
}

/// A DN compared loosely: RDNs split on unescaped `,`, each `type=value` with the type
/// upper-cased and spaces around separators dropped. Order is kept (RFC 4514 order is the
/// reverse of the DER; both sides come in the same form).
fn normalize_dn(dn: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' || c == '+' {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|rdn| match rdn.split_once('=') {
            Some((ty, value)) => format!("{}={}", ty.trim().to_ascii_uppercase(), value.trim()),
            None => rdn.trim().to_owned(),
        })
        .filter(|rdn| !rdn.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::{ClientTokenLifetimes, Tenant, TokenType};
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };

    fn client(method: TokenEndpointAuthMethod) -> OAuthClient {
        OAuthClient {
            client_id: "mtls-client".into(),
            tenant: Tenant::default(),
            secret_digest: None,
            client_name: "mtls".into(),
            owner: "admin".into(),
            redirect_uris: vec![],
            grant_types: vec!["client_credentials".into()],
            token_endpoint_auth_method: method,
            pkce_mandatory: false,
            pkce_plain_allowed: false,
            lifetimes: ClientTokenLifetimes::default(),
            token_type: TokenType::Jwt,
            jwks: None,
            jwks_uri: None,
            tls_client_auth_subject_dn: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    struct Pki {
        ca_der: CertificateDer<'static>,
        leaf_der: CertificateDer<'static>,
        self_signed: CertificateDer<'static>,
    }

    fn pki() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "client-one");
        leaf_params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let own_key = KeyPair::generate().unwrap();
        let own = CertificateParams::new(vec!["self.example".into()])
            .unwrap()
            .self_signed(&own_key)
            .unwrap();
        Pki {
            ca_der: ca.der().clone(),
            leaf_der: leaf.der().clone(),
            self_signed: own.der().clone(),
        }
    }

    fn now() -> Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    }

    #[test]
    fn ca_issued_certificates_need_the_truststore_and_the_registered_subject() {
        let pki = pki();
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let auth = CertificateAuthenticator::new(Some(roots)).unwrap();
        let chain = ClientCertificates::new(vec![pki.leaf_der.clone()]);
        let subject = subject_dn(&pki.leaf_der).unwrap();
        assert!(subject.contains("CN=client-one"), "{subject}");

        let mut registered = client(TokenEndpointAuthMethod::TlsClientAuth);
        registered.tls_client_auth_subject_dn =
            Some(subject.to_lowercase().replace("cn=", "cn = "));
        assert_eq!(
            auth.authenticate(&registered, Some(&chain), now()),
            Err(CertificateRefusal::SubjectMismatch),
            "values compare exactly"
        );
        registered.tls_client_auth_subject_dn = Some(subject.replace(", ", ","));
        auth.authenticate(&registered, Some(&chain), now()).unwrap();
        assert_eq!(
            auth.authenticate(&registered, None, now()),
            Err(CertificateRefusal::Missing)
        );
        registered.tls_client_auth_subject_dn = Some("CN=someone-else".into());
        assert_eq!(
            auth.authenticate(&registered, Some(&chain), now()),
            Err(CertificateRefusal::SubjectMismatch)
        );
        // A self-signed certificate does not chain to the CA.
        let stranger = ClientCertificates::new(vec![pki.self_signed.clone()]);
        assert!(matches!(
            auth.authenticate(&registered, Some(&stranger), now()),
            Err(CertificateRefusal::Untrusted(_))
        ));
        // Without a truststore nothing CA-issued is accepted.
        let bare = CertificateAuthenticator::new(None).unwrap();
        assert_eq!(
            bare.authenticate(&registered, Some(&chain), now()),
            Err(CertificateRefusal::NoTruststore)
        );
    }

    #[test]
    fn self_signed_certificates_must_hold_a_registered_key() {
        let pki = pki();
        let auth = CertificateAuthenticator::new(None).unwrap();
        let chain = ClientCertificates::new(vec![pki.self_signed.clone()]);
        let mut registered = client(TokenEndpointAuthMethod::SelfSignedTlsClientAuth);
        assert_eq!(
            auth.authenticate(&registered, Some(&chain), now()),
            Err(CertificateRefusal::KeyNotRegistered)
        );
        let jwk = Jwk::from_certificate(&pki.self_signed).unwrap();
        registered.jwks = Some(serde_json::json!({"keys": [jwk]}).to_string());
        auth.authenticate(&registered, Some(&chain), now()).unwrap();
        let other = ClientCertificates::new(vec![pki.leaf_der.clone()]);
        assert_eq!(
            auth.authenticate(&registered, Some(&other), now()),
            Err(CertificateRefusal::KeyNotRegistered)
        );
        assert_eq!(
            auth.authenticate(
                &client(TokenEndpointAuthMethod::ClientSecretBasic),
                Some(&chain),
                now()
            ),
            Err(CertificateRefusal::NotTlsMethod)
        );
        assert_eq!(chain.thumbprint().unwrap(), x5t_s256(&pki.self_signed));
    }

    #[test]
    fn distinguished_names_compare_by_type_case_and_spacing_only() {
        assert_eq!(
            normalize_dn("cn=client, o=Example"),
            normalize_dn("CN=client,O=Example")
        );
        assert_ne!(
            normalize_dn("CN=Client,O=Example"),
            normalize_dn("CN=client,O=Example")
        );
        assert_eq!(normalize_dn("CN=a\\,b,O=x"), ["CN=a\\,b", "O=x"]);
    }
}
