use super::*;
use crate::auth::opaque::KeyValidationRequest;
use crate::auth::{AuthSettings, Authenticator, TrustedIssuer};
use crate::errors::{GatewayError, InvalidToken};
use crate::test_fixtures::{ISSUER, claims, ec_key, sign};
use keygate_jose::{Jwk, SigningKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const NOW_S: i64 = 1_700_000_000;

/// A key manager's JWKS endpoint as a list the test changes, counting fetches.
#[derive(Debug, Default)]
struct RotatingJwks {
    keys: Mutex<Vec<Jwk>>,
    fetches: AtomicUsize,
}

#[async_trait]
impl JwksFetcher for RotatingJwks {
    async fn fetch(&self, url: &str) -> Result<JwkSet, KeySourceError> {
        assert_eq!(url, "https://km.example/oauth2/jwks");
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(JwkSet {
            keys: self.keys.lock().unwrap().clone(),
        })
    }
}

fn kid_key(kid: &str) -> SigningKey {
    ec_key().with_kid(kid)
}

fn question() -> KeyValidationRequest {
    KeyValidationRequest {
        context: String::new(),
        version: String::new(),
        token: keygate_model::Secret::new(""),
        required_auth_level: String::new(),
        matching_resource: String::new(),
        http_verb: String::new(),
        client_ip: None,
    }
}

#[test]
fn truststore_certificates_verify_the_key_managers_tokens() {
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["km.example".into()]).unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    let truststore =
        Keystore::from_pem(cert.pem().as_bytes(), "gateway_certificate_alias").unwrap();
    let keys = StaticKeys::from_truststore(&truststore, "gateway_certificate_alias").unwrap();
    assert_eq!(keys.keys().len(), 1);
    let signer =
        SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(key_pair.serialize_der())).unwrap();
    let token = sign(&signer, &claims(NOW_S, "bob", ""));
    let verified =
        keygate_jose::verify_compact(&token, &*keys.keys(), &[keygate_jose::JwsAlgorithm::Es256]);
    assert!(verified.is_ok());

    let missing = StaticKeys::from_truststore(&truststore, "wso2carbon").unwrap_err();
    assert!(
        matches!(missing, KeySourceError::Certificate { ref alias, .. } if alias == "wso2carbon")
    );
    assert!(StaticKeys::from_certificate(cert.der()).is_ok());
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_jwks_once_per_interval() {
    let jwks = Arc::new(RotatingJwks::default());
    let first = kid_key("k1");
    jwks.keys.lock().unwrap().push(first.public_jwk().unwrap());
    let source = Arc::new(JwksKeys::new(
        "https://km.example/oauth2/jwks",
        jwks.clone(),
        Duration::from_secs(3600),
    ));
    let auth = Authenticator::new(
        AuthSettings::default(),
        vec![TrustedIssuer::new(ISSUER, source.clone())],
        None,
    );
    let now_ms = NOW_S * 1000;

    // Nothing held yet: the first token fetches.
    let token = sign(&first, &claims(NOW_S, "bob", ""));
    auth.authenticate(&token, question, now_ms).await.unwrap();
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // The key manager rotates: a token with the new kid is refused until the interval
    // allows a fetch, and no token with a made-up kid causes one meanwhile.
    let second = kid_key("k2");
    jwks.keys.lock().unwrap().push(second.public_jwk().unwrap());
    let rotated = sign(&second, &claims(NOW_S, "carol", ""));
    for _ in 0..3 {
        let error = auth
            .authenticate(&rotated, question, now_ms)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            GatewayError::InvalidCredentials(InvalidToken::Refused)
        );
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    let eager = Arc::new(JwksKeys::new(
        "https://km.example/oauth2/jwks",
        jwks.clone(),
        Duration::ZERO,
    ));
    let auth = Authenticator::new(
        AuthSettings::default(),
        vec![TrustedIssuer::new(ISSUER, eager.clone())],
        None,
    );
    auth.authenticate(&token, question, now_ms).await.unwrap();
    auth.authenticate(&rotated, question, now_ms).await.unwrap();
    assert_eq!(eager.keys().len(), 2);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let jwks = Arc::new(RotatingJwks::default());
    jwks.keys
        .lock()
        .unwrap()
        .push(kid_key("k1").public_jwk().unwrap());
    let source = JwksKeys::new(
        "https://km.example/oauth2/jwks",
        jwks.clone(),
        Duration::ZERO,
    );
    let seen = source.keys();
    let (a, b) = tokio::join!(source.refresh(&seen), source.refresh(&seen));
    assert!(a.is_some() && b.is_some());
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(source.url(), "https://km.example/oauth2/jwks");
}

#[tokio::test]
async fn static_keys_never_refresh() {
    let keys = StaticKeys::new(vec![ec_key().verifying_key().unwrap()]);
    assert!(keys.refresh(&keys.keys()).await.is_none());
}

#[tokio::test]
async fn jwks_documents_are_fetched_over_http() {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let jwk = kid_key("served").public_jwk().unwrap();
    let body = serde_json::to_vec(&JwkSet { keys: vec![jwk] }).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        let response = if request.uri().path() == "/jwks" {
                            http::Response::new(Full::new(Bytes::from(body)))
                        } else {
                            let mut missing = http::Response::new(Full::new(Bytes::new()));
                            *missing.status_mut() = http::StatusCode::NOT_FOUND;
                            missing
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let fetcher = HttpJwksFetcher::new(&[]).unwrap();
    let set = fetcher.fetch(&format!("http://{addr}/jwks")).await.unwrap();
    assert_eq!(set.keys[0].kid.as_deref(), Some("served"));
    let missing = fetcher.fetch(&format!("http://{addr}/nothing")).await;
    assert!(matches!(missing, Err(KeySourceError::Jwks { .. })));
    let refused = fetcher.fetch("http://127.0.0.1:9/jwks").await;
    assert!(matches!(refused, Err(KeySourceError::Jwks { .. })));
}
