//! The version handshake a gateway or control plane makes with its key manager before it
//! serves (`keygate_model::handshake`): `GET {service_url}keymanager-operations/v1/version`
//! over TLS verified by the `[truststore]` (and the node's own certificate), as every later
//! call is.
//!
//! - The key manager cannot be reached (refused, timed out, 5xx from a load balancer with
//!   no live key manager): the node asks again, with growing pauses up to
//!   [`MAX_RETRY_PAUSE`], logging each failure. After [`START_WAIT`] it starts serving
//!   without the answer (as it serves before its first snapshot) and keeps asking; an
//!   incompatible answer then stops it, with the same message ([`NodeFailure`]).
//! - It answers with protocols that meet this build's: the node starts.
//! - It answers with other protocols, another product, or `404` (WSO2 Identity Server 5.x
//!   as a key manager has no such endpoint): the node refuses to start, naming both sides'
//!   versions — the seed's "check the product compatibility" warning, enforced.
//! - Its certificate is not trusted, or is made for another host name: the node refuses to
//!   start, naming the host, the certificate's subject and names, and what to import
//!   where. The truststore is read once at start, so waiting could not help.
//!
//! A node that runs the key manager itself, or neither a gateway nor a control plane,
//! makes no handshake.

use crate::{ServerError, tls};
use keygate_config::{Config, KeystoreKind, KeystoreRef, Role};
use keygate_jose::KeystoreEntry;
use keygate_model::handshake::{ProductVersion, key_manager_version_url};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long one handshake request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The first pause before asking an unreachable key manager again.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between two attempts.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// How long start-up waits for an unreachable key manager before serving without it.
pub const START_WAIT: Duration = Duration::from_secs(5);

/// Why a running node stopped on its own, when it did: read after
/// [`crate::RunningNode::wait`] returns, to exit non-zero with the reason.
#[derive(Debug, Clone, Default)]
pub struct NodeFailure(Arc<OnceLock<String>>);

impl NodeFailure {
    /// The reason, if the node stopped on a failure.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    fn set(&self, reason: String) {
        let _ = self.0.set(reason);
    }
}

/// A handshake still waiting for its key manager after [`START_WAIT`].
pub(crate) struct PendingHandshake(Pin<Box<dyn Future<Output = Result<(), ServerError>> + Send>>);

impl PendingHandshake {
    /// Finishes the handshake in the background; an incompatible or untrusted key manager
    /// records the reason in `failure` and stops the node through `shutdown`.
    pub(crate) fn spawn(
        self,
        failure: NodeFailure,
        shutdown: watch::Sender<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(error) = self.0.await {
                tracing::error!("{error}; stopping");
                failure.set(error.to_string());
                let _ = shutdown.send(true);
            }
        })
    }
}

/// This node's side of the handshake.
fn this_node() -> ProductVersion {
    ProductVersion::this_build(env!("CARGO_PKG_VERSION"))
}

/// The certificates this node trusts for calls to other nodes: every certificate of the
/// `[truststore]` (trusted entries and key entries' chains) and the node's own chain.
pub(crate) fn trusted_roots(
    config: &Config,
    own_chain: &[CertificateDer<'static>],
) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let mut roots = Vec::new();
    if let Some(store) = &config.keystores.truststore {
        for (_, entry) in tls::open_keystore(store)?.entries() {
            match entry {
                KeystoreEntry::TrustedCertificate(cert) => roots.push(cert.clone()),
                KeystoreEntry::PrivateKey { chain, .. } => roots.extend(chain.iter().cloned()),
            }
        }
    }
    roots.extend(own_chain.iter().cloned());
    Ok(roots)
}

/// Whether this node must make the handshake: it calls a key manager it does not run.
fn needs_handshake(config: &Config) -> bool {
    !config.runs(Role::KeyManager)
        && (config.runs(Role::Gateway) || config.runs(Role::ControlPlane))
}

/// Makes the handshake when the node's roles need one: `Ok(None)` once the key manager
/// answered compatibly (or none is needed), `Err` with the reason the node must not
/// start, or the handshake still under way after [`START_WAIT`] of an unreachable key
/// manager.
pub(crate) async fn check_key_manager(
    config: &Config,
    own_chain: &[CertificateDer<'static>],
) -> Result<Option<PendingHandshake>, ServerError> {
    if !needs_handshake(config) {
        return Ok(None);
    }
    let roots = trusted_roots(config, own_chain)?;
    let url = key_manager_version_url(&config.key_manager.service_url);
    let caller = Caller::new(&roots)?;
    let truststore = config.keystores.truststore.clone();
    let mut handshake: Pin<Box<dyn Future<Output = Result<(), ServerError>> + Send>> =
        Box::pin(async move { shake_hands(&caller, &url, truststore.as_ref()).await });
    match tokio::time::timeout(START_WAIT, &mut handshake).await {
        Ok(outcome) => outcome.map(|()| None),
        Err(_) => {
            tracing::warn!(
                "the key manager has not answered the version handshake within {} s: serving \
                 without it; the node stops if it turns out incompatible",
                START_WAIT.as_secs()
            );
            Ok(Some(PendingHandshake(handshake)))
        }
    }
}

/// Asks until the key manager answers; whether it is one this node works with.
async fn shake_hands(
    caller: &Caller,
    url: &str,
    truststore: Option<&KeystoreRef>,
) -> Result<(), ServerError> {
    let ours = this_node();
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        match caller.ask(url).await {
            Answer::Version(theirs) => {
                compatibility(&ours, &theirs).map_err(|reason| refusal(url, &reason))?;
                tracing::info!(
                    key_manager = %url,
                    "key manager is {} {} (protocols {}..={}): compatible",
                    theirs.product,
                    theirs.version,
                    theirs.protocols().start(),
                    theirs.protocols().end()
                );
                return Ok(());
            }
            Answer::Refuse(reason) => return Err(refusal(url, &reason)),
            Answer::TlsRejected(rejection) => {
                let reason = explain_rejection(url, &rejection, truststore);
                return Err(ServerError::Handshake(reason));
            }
            Answer::Unreachable(reason) => {
                tracing::warn!(
                    key_manager = %url,
                    "key manager not reachable ({reason}); asking again in {} ms",
                    pause.as_millis()
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
        }
    }
}

fn refusal(url: &str, reason: &str) -> ServerError {
    ServerError::Handshake(format!(
        "{reason} (asked {url}). This node does not start against an incompatible key \
         manager: see \"Product compatibility\" in docs/deployment.md"
    ))
}

/// The compatibility rule: the key manager is keygate, and the protocols it speaks meet
/// the ones this node speaks. `Err` says why not, naming both sides' versions.
pub fn compatibility(ours: &ProductVersion, theirs: &ProductVersion) -> Result<(), String> {
    let describe = |v: &ProductVersion| {
        let p = v.protocols();
        if p.start() == p.end() {
            format!("{} {} (protocol {})", v.product, v.version, p.end())
        } else {
            format!(
                "{} {} (protocols {} to {})",
                v.product,
                v.version,
                p.start(),
                p.end()
            )
        }
    };
    if !theirs.product.eq_ignore_ascii_case(&ours.product) {
        return Err(format!(
            "the key manager is {}, not {}; this node is {}",
            describe(theirs),
            ours.product,
            describe(ours)
        ));
    }
    let (mine, their) = (ours.protocols(), theirs.protocols());
    if mine.start() <= their.end() && their.start() <= mine.end() {
        Ok(())
    } else {
        let upgrade = if their.end() < mine.start() {
            "upgrade the key manager"
        } else {
            "upgrade this node"
        };
        Err(format!(
            "incompatible key manager: it is {}, this node is {}; {upgrade} so that both run \
             releases speaking one protocol",
            describe(theirs),
            describe(ours)
        ))
    }
}

/// What one attempt learned.
#[derive(Debug)]
enum Answer {
    /// The key manager's version document.
    Version(ProductVersion),
    /// An answer that rules the key manager out.
    Refuse(String),
    /// The TLS handshake failed on the key manager's certificate.
    TlsRejected(Rejection),
    /// Nothing usable yet: ask again later.
    Unreachable(String),
}

/// A certificate the verifier refused, and why.
#[derive(Debug, Clone)]
struct Rejection {
    host: String,
    certificate: CertificateDer<'static>,
    error: rustls::Error,
}

/// The HTTP client of the handshake, whose verifier remembers what it refused.
struct Caller {
    http: reqwest::Client,
    rejected: Arc<Mutex<Option<Rejection>>>,
}

impl Caller {
    fn new(roots: &[CertificateDer<'static>]) -> Result<Self, ServerError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut store = rustls::RootCertStore::empty();
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for root in roots {
            // A certificate webpki cannot use as an anchor is simply not trusted.
            let _ = store.add(root.clone());
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .map_err(|e| ServerError::Tls(format!("key manager trust: {e}")))?;
        let rejected = Arc::new(Mutex::new(None));
        let verifier = RememberingVerifier {
            inner,
            rejected: rejected.clone(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ServerError::Tls(format!("key manager client: {e}")))?;
        Ok(Self { http, rejected })
    }

    async fn ask(&self, url: &str) -> Answer {
        *self.rejected.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) => {
                let rejected = self
                    .rejected
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                return match rejected {
                    Some(rejection) => Answer::TlsRejected(rejection),
                    None => Answer::Unreachable(error_chain(&error)),
                };
            }
        };
        let status = response.status();
        let server = response
            .headers()
            .get(reqwest::header::SERVER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match status.as_u16() {
            200 => match response.json::<ProductVersion>().await {
                Ok(version) => Answer::Version(version),
                Err(_) => Answer::Refuse(format!(
                    "incompatible key manager: it answered the version handshake with a \
                     document that is not keygate's{}; this node is {}",
                    identified_as(server.as_deref()),
                    describe_ours()
                )),
            },
            404 => Answer::Refuse(format!(
                "incompatible key manager: it has no version endpoint (404){}, as WSO2 \
                 Identity Server 5.x and other key managers that are not keygate; this node is \
                 {} and works only with a keygate key manager speaking that protocol",
                identified_as(server.as_deref()),
                describe_ours()
            )),
            408 | 429 | 500..=599 => Answer::Unreachable(format!("it answered {status}")),
            _ => Answer::Refuse(format!(
                "the key manager answered the version handshake with {status}{}; this node is {}",
                identified_as(server.as_deref()),
                describe_ours()
            )),
        }
    }
}

fn describe_ours() -> String {
    let ours = this_node();
    format!(
        "{} {} (protocol {})",
        ours.product,
        ours.version,
        ours.protocols().end()
    )
}

fn identified_as(server: Option<&str>) -> String {
    server
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!(" and calls itself `{}`", s.trim()))
        .unwrap_or_default()
}

/// An error and its sources, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// A WebPKI verifier that keeps the certificate it refused, for the message.
#[derive(Debug)]
struct RememberingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    rejected: Arc<Mutex<Option<Rejection>>>,
}

impl ServerCertVerifier for RememberingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .inspect_err(|error| {
                *self.rejected.lock().unwrap_or_else(PoisonError::into_inner) = Some(Rejection {
                    host: server_name.to_str().into_owned(),
                    certificate: end_entity.clone().into_owned(),
                    error: error.clone(),
                });
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// What a certificate says about itself, for messages.
#[derive(Debug, Default, PartialEq, Eq)]
struct CertificateSummary {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_after: String,
}

fn summarize(certificate: &CertificateDer<'_>) -> CertificateSummary {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(certificate.as_ref()) else {
        return CertificateSummary {
            subject: "(unreadable certificate)".to_owned(),
            ..CertificateSummary::default()
        };
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => {
                    names.push((*dns).to_owned());
                }
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        names.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        names.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    CertificateSummary {
        subject: parsed.subject().to_string(),
        issuer: parsed.issuer().to_string(),
        names,
        not_after: parsed.validity().not_after.to_string(),
    }
}

/// Where the node's truststore is and how to add a certificate to it.
fn import_advice(truststore: Option<&KeystoreRef>, alias: &str) -> String {
    // The file as the operator finds it, whatever directory the node was started from.
    let absolute = |store: &KeystoreRef| {
        std::path::absolute(&store.file).unwrap_or_else(|_| store.file.clone())
    };
    match truststore {
        Some(store) if store.kind == KeystoreKind::Pem => format!(
            "append the key manager's certificate (PEM) to this node's truststore {} \
             ([truststore] file_name)",
            absolute(store).display()
        ),
        Some(store) => format!(
            "import the key manager's certificate into this node's truststore {file} \
             ([truststore] file_name): `keytool -importcert -alias {alias} -file \
             key-manager.crt -keystore {file} -storepass <[truststore] password>`, where \
             key-manager.crt comes from the key manager's keystore (`keytool -exportcert -rfc \
             -alias wso2carbon -keystore wso2carbon.jks -file key-manager.crt`)",
            file = absolute(store).display()
        ),
        None => format!(
            "this node has no [truststore]: import the key manager's certificate into a \
             client-truststore.jks (`keytool -importcert -alias {alias} -file key-manager.crt \
             -keystore client-truststore.jks`) and name it under [truststore] (file_name, \
             password)"
        ),
    }
}

/// The message for a certificate the node refused: the host, the certificate's subject,
/// its names and what to do, for each cause.
fn explain_rejection(url: &str, rejection: &Rejection, truststore: Option<&KeystoreRef>) -> String {
    let host = &rejection.host;
    let cert = summarize(&rejection.certificate);
    let names = if cert.names.is_empty() {
        "no subjectAltName".to_owned()
    } else {
        cert.names.join(", ")
    };
    let presented = format!(
        "the key manager at {host} ({url}) presented a certificate with subject \"{}\" \
         (issuer \"{}\", names: {names})",
        cert.subject, cert.issuer
    );
    let after = "then restart this node";
    match &rejection.error {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "hostname mismatch: {presented}, which is not valid for {host}, the host \
             [apim.key_manager] service_url names. Give the key manager a certificate made \
             for {host} (`deploy/seed/certs.sh OUTDIR {host}`, or `keytool -genkeypair ... \
             -ext SAN=dns:{host}`) under its [keystore.tls], and {}; or name the key manager \
             in service_url by a host its certificate holds; {after}",
            import_advice(truststore, host)
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!(
            "expired certificate: {presented}, valid until {}. Give the key manager a new \
             certificate and {}; {after}",
            cert.not_after,
            import_advice(truststore, host)
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "untrusted certificate: {presented}, which this node does not trust. To trust \
             it, {}; {after}",
            import_advice(truststore, host)
        ),
        other => format!(
            "{presented}, which this node refused ({other}). Check the key manager's \
             [keystore.tls] and {}; {after}",
            import_advice(truststore, host)
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use std::path::PathBuf;

    fn keygate(version: &str, oldest: u32, newest: u32) -> ProductVersion {
        ProductVersion {
            product: "keygate".to_owned(),
            version: version.to_owned(),
            protocol: newest,
            oldest_protocol: Some(oldest),
        }
    }

    #[test]
    fn the_same_build_is_compatible() {
        assert_eq!(compatibility(&this_node(), &this_node()), Ok(()));
    }

    #[test]
    fn overlapping_protocol_ranges_are_compatible_either_way() {
        let ours = keygate("1.4.0", 2, 3);
        assert_eq!(compatibility(&ours, &keygate("1.2.0", 1, 2)), Ok(()));
        assert_eq!(compatibility(&ours, &keygate("2.0.0", 3, 5)), Ok(()));
        assert_eq!(compatibility(&ours, &keygate("1.4.1", 3, 3)), Ok(()));
    }

    #[test]
    fn disjoint_ranges_name_both_versions_and_which_side_to_upgrade() {
        let ours = keygate("1.4.0", 2, 3);
        let older = compatibility(&ours, &keygate("0.9.0", 1, 1)).unwrap_err();
        assert!(older.contains("keygate 0.9.0 (protocol 1)"), "{older}");
        assert!(
            older.contains("keygate 1.4.0 (protocols 2 to 3)"),
            "{older}"
        );
        assert!(older.contains("upgrade the key manager"), "{older}");
        let newer = compatibility(&ours, &keygate("9.0.0", 9, 9)).unwrap_err();
        assert!(newer.contains("keygate 9.0.0 (protocol 9)"), "{newer}");
        assert!(newer.contains("upgrade this node"), "{newer}");
    }

    #[test]
    fn another_product_is_incompatible_whatever_its_protocol() {
        let other = ProductVersion {
            product: "WSO2 Identity Server".to_owned(),
            version: "5.10.0".to_owned(),
            protocol: 1,
            oldest_protocol: None,
        };
        let reason = compatibility(&this_node(), &other).unwrap_err();
        assert!(reason.contains("WSO2 Identity Server 5.10.0"), "{reason}");
        assert!(reason.contains("not keygate"), "{reason}");
    }

    #[test]
    fn a_newest_protocol_below_the_oldest_is_read_as_the_newest_alone() {
        let odd = keygate("1.0.0", 7, 1);
        assert_eq!(odd.protocols(), 1..=1);
        assert_eq!(compatibility(&keygate("1.0.0", 1, 1), &odd), Ok(()));
    }

    fn rejection(names: &[&str], host: &str, error: CertificateError) -> Rejection {
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Rejection {
            host: host.to_owned(),
            certificate: cert.der().clone(),
            error: rustls::Error::InvalidCertificate(error),
        }
    }

    fn jks(path: &str) -> KeystoreRef {
        KeystoreRef {
            file: PathBuf::from(path),
            kind: KeystoreKind::Jks,
            password: keygate_model::Secret::from("kg-truststore-pw-41d7"),
            alias: None,
            key_password: None,
        }
    }

    #[test]
    fn an_untrusted_certificate_names_host_subject_and_the_truststore_to_import_into() {
        let url = "https://km.example:9444/services/keymanager-operations/v1/version";
        let store = jks("/srv/apim/client-truststore.jks");
        let message = explain_rejection(
            url,
            &rejection(
                &["km.example"],
                "km.example",
                CertificateError::UnknownIssuer,
            ),
            Some(&store),
        );
        assert!(message.starts_with("untrusted certificate"), "{message}");
        assert!(message.contains("km.example"), "{message}");
        assert!(message.contains("CN=km.example"), "{message}");
        assert!(message.contains("keytool -importcert"), "{message}");
        assert!(
            message.contains("/srv/apim/client-truststore.jks"),
            "{message}"
        );
        assert!(
            !message.contains("kg-truststore-pw-41d7"),
            "no password: {message}"
        );
        let without = explain_rejection(
            url,
            &rejection(
                &["km.example"],
                "km.example",
                CertificateError::UnknownIssuer,
            ),
            None,
        );
        assert!(without.contains("has no [truststore]"), "{without}");
    }

    #[test]
    fn a_certificate_for_another_host_is_a_hostname_mismatch_naming_both() {
        let message = explain_rejection(
            "https://km.example:9444/services/x",
            &rejection(
                &["localhost"],
                "km.example",
                CertificateError::NotValidForName,
            ),
            Some(&jks("client-truststore.jks")),
        );
        assert!(message.starts_with("hostname mismatch"), "{message}");
        assert!(message.contains("CN=localhost"), "{message}");
        assert!(message.contains("names: localhost"), "{message}");
        assert!(message.contains("not valid for km.example"), "{message}");
        assert!(
            message.contains("deploy/seed/certs.sh OUTDIR km.example"),
            "{message}"
        );
    }

    #[test]
    fn only_nodes_calling_a_remote_key_manager_shake_hands() {
        let config = |roles: &[Role]| {
            let mut config = Config::embedded_default();
            config.set_roles(roles.iter().copied().collect());
            config
        };
        assert!(needs_handshake(&config(&[Role::Gateway])));
        assert!(needs_handshake(&config(&[
            Role::ControlPlane,
            Role::Gateway,
            Role::TrafficManager
        ])));
        assert!(!needs_handshake(&config(&[
            Role::KeyManager,
            Role::Gateway
        ])));
        assert!(!needs_handshake(&config(&[Role::TrafficManager])));
        assert!(!needs_handshake(&config(&[Role::KeyManager])));
    }
}
