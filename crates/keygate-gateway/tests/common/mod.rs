//! A gateway on an ephemeral port in front of a mock backend (a test server: the backend
//! is the far side of a boundary keygate does not own), with a replica filled with one
//! published API, an application, its subscription and key mappings, and tokens signed by
//! a test key manager's key.

#![allow(dead_code)]

use aws_lc_rs::encoding::AsDer;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keygate_gateway::{
    Gateway, GatewaySettings, KeyValidator, ProxySettings, Replica, ReplicaData, StaticKeys,
    TrustedIssuer,
};
use keygate_jose::jwt::{self, Claims};
use keygate_jose::{JwsHeader, SigningKey};
use keygate_model::{
    Api, ApiStatus, Application, ApplicationStatus, AuthScheme, KeyMapping, KeyMappingState,
    KeyType, Subscription, SubscriptionCreateState, SubscriptionStatus, Tenant, TokenType,
    UrlTemplate,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

pub const ISSUER: &str = "https://km.example:9443/oauth2/token";
pub const CLIENT: &str = "prod-client";
pub const SANDBOX_CLIENT: &str = "sandbox-client";
pub const APP: &str = "app-1";
pub const PETS: &str = "api-pets";
pub const OTHER: &str = "api-other";

/// What the backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A backend that records every request and answers it; `/…/slow` never answers in time.
pub struct MockBackend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl MockBackend {
    pub async fn start() -> MockBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let record = record.clone();
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let path = parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default();
                                if path.ends_with("/slow") {
                                    tokio::time::sleep(Duration::from_secs(30)).await;
                                }
                                record.lock().unwrap().push(Seen {
                                    method: parts.method.to_string(),
                                    path_and_query: path.clone(),
                                    headers: parts.headers,
                                    body: body.clone(),
                                });
                                let response = http::Response::builder()
                                    .status(200)
                                    .header("x-backend", "mock")
                                    .header("connection", "keep-alive, x-hop")
                                    .header("x-hop", "dropped")
                                    .header("x-backend-path", path)
                                    .body(Full::new(body))
                                    .unwrap();
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        MockBackend { addr, seen }
    }

    pub fn url(&self, base: &str) -> String {
        format!("http://{}{base}", self.addr)
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the backend saw a request")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

pub fn template(
    pattern: &str,
    verb: &str,
    scheme: AuthScheme,
    scopes: &[&str],
    tier: &str,
) -> UrlTemplate {
    UrlTemplate {
        url_pattern: pattern.into(),
        http_verb: verb.into(),
        auth_scheme: scheme,
        throttling_tier: tier.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

pub fn api(uuid: &str, context: &str, backend: &MockBackend) -> Api {
    Api {
        uuid: uuid.into(),
        tenant: Tenant::default(),
        provider: "admin".into(),
        name: uuid.into(),
        version: "1.0.0".into(),
        context: context.into(),
        is_default_version: true,
        description: None,
        production_endpoint: Some(backend.url("/base")),
        sandbox_endpoint: Some(backend.url("/sandbox")),
        status: ApiStatus::Published,
        api_tier: None,
        subscription_tiers: vec!["Unlimited".into()],
        url_templates: vec![
            template("/items", "GET", AuthScheme::Any, &[], "Unlimited"),
            template("/items/{id}", "GET", AuthScheme::Any, &[], "Unlimited"),
            template("/orders", "POST", AuthScheme::Any, &[], "Unlimited"),
            template(
                "/admin",
                "POST",
                AuthScheme::ApplicationUser,
                &["pets:admin"],
                "Unlimited",
            ),
            template("/apps", "GET", AuthScheme::Application, &[], "Unlimited"),
            template("/public", "GET", AuthScheme::None, &[], "Unlimited"),
            template("/slow", "GET", AuthScheme::Any, &[], "Unlimited"),
            template("/limited", "GET", AuthScheme::Any, &[], "ResourceTwo"),
        ],
        revision: 1,
        deployed_revision: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn application(uuid: &str, id: i64, tier: &str) -> Application {
    Application {
        uuid: uuid.into(),
        id,
        tenant: Tenant::default(),
        name: format!("app{id}"),
        owner: "alice".into(),
        tier: tier.into(),
        callback_url: None,
        description: None,
        status: ApplicationStatus::Approved,
        group_id: None,
        token_type: TokenType::Jwt,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn subscription(
    uuid: &str,
    app: &str,
    api: &str,
    tier: &str,
    status: SubscriptionStatus,
) -> Subscription {
    Subscription {
        uuid: uuid.into(),
        tenant: Tenant::default(),
        application_uuid: app.into(),
        api_uuid: api.into(),
        tier: tier.into(),
        status,
        create_state: SubscriptionCreateState::Subscribe,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn key_mapping(consumer_key: &str, app: &str, key_type: KeyType) -> KeyMapping {
    KeyMapping {
        uuid: format!("km-{consumer_key}"),
        tenant: Tenant::default(),
        application_uuid: app.into(),
        consumer_key: consumer_key.into(),
        key_type,
        state: KeyMappingState::Completed,
        key_manager: keygate_model::RESIDENT_KEY_MANAGER.into(),
        created_at_ms: 0,
    }
}

/// The replica of a control plane with the pets API (default version), another API the
/// application is not subscribed to, one application with production and sandbox keys.
pub fn replica_data(backend: &MockBackend) -> ReplicaData {
    ReplicaData {
        revision: 100,
        apis: vec![api(PETS, "/pets", backend), api(OTHER, "/other", backend)],
        applications: vec![application(APP, 1, "Unlimited")],
        subscriptions: vec![subscription(
            "sub-1",
            APP,
            PETS,
            "Unlimited",
            SubscriptionStatus::Unblocked,
        )],
        key_mappings: vec![
            key_mapping(CLIENT, APP, KeyType::Production),
            key_mapping(SANDBOX_CLIENT, APP, KeyType::Sandbox),
        ],
        ..ReplicaData::default()
    }
}

pub fn key_manager_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()))
            .unwrap()
            .with_kid("km-1")
    })
}

pub fn rsa_pkcs8() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
        der.as_ref().to_vec()
    })
}

pub fn gateway_key() -> SigningKey {
    SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(rsa_pkcs8().to_vec())).unwrap()
}

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a user token of the production client, valid an hour.
pub fn user_claims(sub: &str, scope: &str) -> Claims {
    let now = now_s();
    Claims {
        iss: Some(ISSUER.into()),
        sub: Some(sub.into()),
        exp: Some(now + 3600),
        iat: Some(now),
        jti: Some(format!("{sub}-{scope}-{}", uuid_like())),
        client_id: Some(CLIENT.into()),
        scope: Some(scope.into()),
        ..Claims::default()
    }
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

pub fn sign(claims: &Claims) -> String {
    let key = key_manager_key();
    let header: JwsHeader = key.header().with_typ("at+jwt");
    jwt::encode(key, &header, claims).unwrap()
}

pub fn user_token(scope: &str) -> String {
    sign(&user_claims("bob", scope))
}

/// A running gateway with its backend.
pub struct Harness {
    pub gateway: Gateway,
    pub replica: Arc<Replica>,
    pub backend: MockBackend,
    pub base: String,
    pub client: reqwest::Client,
}

pub struct Options {
    pub response_timeout: Duration,
    pub backend_jwt: bool,
    pub validator: Option<Arc<dyn KeyValidator>>,
    pub limits: Option<keygate_gateway::RequestLimits>,
    /// Certificates the gateway trusts for TLS backends, besides the WebPKI roots.
    pub trusted: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(10),
            backend_jwt: true,
            validator: None,
            limits: None,
            trusted: Vec::new(),
        }
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Harness {
        let backend = MockBackend::start().await;
        let replica = Arc::new(Replica::new());
        let errors = replica.load_snapshot(replica_data(&backend));
        assert!(errors.is_empty(), "{errors:?}");
        let mut settings = GatewaySettings::embedded_default();
        settings.backend_jwt.enabled = options.backend_jwt;
        settings.backend_jwt.signing_algorithm = keygate_config::JwtSigningAlgorithm::Sha256WithRsa;
        settings.backend_jwt.encoding = keygate_config::JwtEncoding::Base64Url;
        settings.proxy = ProxySettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout: options.response_timeout,
            ..ProxySettings::default()
        };
        if let Some(limits) = options.limits {
            settings.limits = limits;
        }
        let keys = StaticKeys::new(vec![key_manager_key().verifying_key().unwrap()]);
        let mut builder = Gateway::builder(settings, replica.clone())
            .issuers(vec![TrustedIssuer::new(ISSUER, Arc::new(keys))])
            .backend_jwt_signer(gateway_key())
            .trusted_certificates(options.trusted);
        if let Some(validator) = options.validator {
            builder = builder.key_validator(validator);
        }
        let gateway = builder.build().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = gateway.router(false);
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Harness {
            gateway,
            replica,
            backend,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with a bearer token (or none).
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

/// The status and WSO2 code of an error answer.
pub async fn code_of(response: reqwest::Response) -> (u16, u64) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["code"].as_u64().unwrap())
}
