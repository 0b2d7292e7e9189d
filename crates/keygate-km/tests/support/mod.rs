//! A key manager over a fresh SQLite database with a manual clock and an in-process bus,
//! its router driven request by request, and the records tests need: clients of every
//! authentication method, users with roles and claims, scopes bound to roles.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use keygate_bus::{BusMessage, Envelope, EventBus, InProcessBus, Subject, Subscription};
use keygate_config::{Config, TokenPersistence};
use keygate_jose::{JwsAlgorithm, SigningKey};
use keygate_km::{ClientCertificates, KeyManager, KmSettings, ManualClock, SystemEntropy};
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Scope, Secret, Tenant, TokenEndpointAuthMethod, TokenType,
};
use keygate_store::{MigrateMode, NewUser, StoreOptions, Stores};
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// 2023-11-14T22:13:20Z, where every test clock starts.
pub const START: Duration = Duration::from_secs(1_700_000_000);
/// The public base URL of the test key manager.
pub const BASE: &str = "https://km.test:9443";
/// Its issuer and token endpoint.
pub const ISSUER: &str = "https://km.test:9443/oauth2/token";

/// A key manager under test.
pub struct Km {
    pub km: KeyManager,
    pub stores: Arc<Stores>,
    pub clock: ManualClock,
    pub bus: Arc<InProcessBus>,
    pub dir: tempfile::TempDir,
    pub db_path: std::path::PathBuf,
}

/// Settings for a test key manager with `persistence`.
pub fn settings(persistence: TokenPersistence) -> KmSettings {
    let mut settings = KmSettings::from_config(&Config::embedded_default())
        .unwrap()
        .with_public_base_url(BASE);
    settings.token_persistence = persistence;
    settings
}

impl Km {
    /// A key manager with plain token persistence.
    pub async fn start() -> Km {
        Self::start_with(settings(TokenPersistence::Plain)).await
    }

    /// A key manager with `settings`, over a fresh database.
    pub async fn start_with(settings: KmSettings) -> Km {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("km.db");
        let stores = open_stores(&db_path).await;
        let clock = ManualClock::new(START);
        let bus = Arc::new(InProcessBus::default());
        let km = KeyManager::start_with(
            settings,
            stores.clone(),
            bus.clone(),
            Arc::new(clock.clone()),
            Arc::new(SystemEntropy::new()),
        )
        .await
        .unwrap();
        let km = Km {
            km,
            stores,
            clock,
            bus,
            dir,
            db_path,
        };
        km.seed().await;
        km
    }

    /// Another key manager node on the same database, with its own bus.
    pub async fn second_node(&self, settings: KmSettings) -> KeyManager {
        KeyManager::start_with(
            settings,
            open_stores(&self.db_path).await,
            Arc::new(InProcessBus::default()),
            Arc::new(self.clock.clone()),
            Arc::new(SystemEntropy::new()),
        )
        .await
        .unwrap()
    }

    /// Users `alice` (subscriber, with claims) and `bob` (admin), scopes `read` (open),
    /// `write` (subscribers) and `admin:all` (admins).
    async fn seed(&self) {
        let users = self.stores.users();
        let now = START.as_millis() as i64;
        for role in ["Internal/subscriber", "admin", "Internal/everyone"] {
            if !users.role_exists(role).await.unwrap() {
                users.add_role(role).await.unwrap();
            }
        }
        let claims: BTreeMap<String, String> = [
            ("http://wso2.org/claims/emailaddress", "alice@example.com"),
            ("http://wso2.org/claims/givenname", "Alice"),
            ("http://wso2.org/claims/lastname", "Liddell"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        users
            .add_user(
                &NewUser {
                    username: "alice".into(),
                    password: Secret::new("alice-password"),
                    roles: vec!["Internal/subscriber".into(), "Internal/everyone".into()],
                    claims,
                },
                now,
            )
            .await
            .unwrap();
        users
            .add_user(
                &NewUser {
                    username: "bob".into(),
                    password: Secret::new("bob-password"),
                    roles: vec!["admin".into(), "Internal/everyone".into()],
                    claims: BTreeMap::new(),
                },
                now,
            )
            .await
            .unwrap();
        for (name, roles) in [
            ("read", vec![]),
            ("write", vec!["Internal/subscriber".to_owned()]),
            ("admin:all", vec!["admin".to_owned()]),
        ] {
            self.stores
                .scopes()
                .create_scope(&Scope {
                    tenant: Tenant::default(),
                    name: name.into(),
                    display_name: name.into(),
                    description: None,
                    roles,
                })
                .await
                .unwrap();
        }
    }

    /// Registers a confidential client with `secret`, owned by `bob`.
    pub async fn secret_client(
        &self,
        client_id: &str,
        secret: &str,
        grants: &[&str],
        token_type: TokenType,
    ) -> OAuthClient {
        let mut client = client(
            client_id,
            TokenEndpointAuthMethod::ClientSecretBasic,
            grants,
        );
        client.token_type = token_type;
        client.secret_digest = Some(self.km.seal_client_secret(&Secret::new(secret)).unwrap());
        self.register(client).await
    }

    /// Registers a client as given.
    pub async fn register(&self, client: OAuthClient) -> OAuthClient {
        self.stores.clients().create_client(&client).await.unwrap()
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.km.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// POSTs a form, with Basic credentials when given.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        self.send(form_request(path, form, basic, None)).await
    }

    /// POSTs a form over a connection that presented `certificates`.
    pub async fn post_with_certificate(
        &self,
        path: &str,
        form: &[(&str, &str)],
        certificates: ClientCertificates,
    ) -> Reply {
        self.send(form_request(path, form, None, Some(certificates)))
            .await
    }

    /// GETs a path, with a bearer token when given.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut builder = Request::get(path);
        if let Some(token) = bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    /// A client-credentials token for a secret client.
    pub async fn client_credentials(&self, id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.post("/oauth2/token", &form, Some((id, secret))).await
    }

    /// A password-grant token for a secret client.
    pub async fn password(
        &self,
        id: &str,
        secret: &str,
        user: &str,
        password: &str,
        scope: &str,
    ) -> Reply {
        self.post(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
                ("scope", scope),
            ],
            Some((id, secret)),
        )
        .await
    }

    /// Introspects `token` as the admin `bob`.
    pub async fn introspect_as_admin(&self, token: &str) -> Value {
        let reply = self
            .post(
                "/oauth2/introspect",
                &[("token", token)],
                Some(("bob", "bob-password")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json
    }

    /// A subscription to the token-revocation subject, past its greeting.
    pub async fn revocations(&self) -> Subscription {
        let mut subscription = self
            .bus
            .subscribe(&Subject::token_revocation(&Default::default()))
            .await
            .unwrap();
        assert!(matches!(
            subscription.next().await,
            Some(BusMessage::Resync { .. })
        ));
        subscription
    }

    /// Moves the clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// Events already delivered to `subscription`, without waiting for more.
pub async fn drain(subscription: &mut Subscription) -> Vec<Envelope> {
    let mut events = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(50), subscription.next()).await
    {
        if let BusMessage::Event(event) = message {
            events.push(event);
        }
    }
    events
}

/// Opens (and migrates) a SQLite database at `path` as both `apim_db` and `shared_db`.
pub async fn open_stores(path: &std::path::Path) -> Arc<Stores> {
    let options = StoreOptions::new(format!("sqlite://{}", path.display()));
    Arc::new(
        Stores::open(&options, &options, MigrateMode::Apply)
            .await
            .unwrap(),
    )
}

/// A client registration with `method` and `grants`, owned by `bob`.
pub fn client(client_id: &str, method: TokenEndpointAuthMethod, grants: &[&str]) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: format!("{client_id} app"),
        owner: "bob".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
        token_endpoint_auth_method: method,
        pkce_mandatory: false,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes::default(),
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

/// A form POST request.
pub fn form_request(
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    certificates: Option<ClientCertificates>,
) -> Request<Body> {
    let body = keygate_oauth::form::encode_pairs(form.iter().copied());
    let mut builder =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        builder = builder.header(header::AUTHORIZATION, basic_header(id, secret));
    }
    let mut request = builder.body(Body::from(body)).unwrap();
    if let Some(certificates) = certificates {
        request.extensions_mut().insert(certificates);
    }
    request
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic_header(id: &str, secret: &str) -> String {
    let pair = format!(
        "{}:{}",
        keygate_oauth::form::encode_component(id),
        keygate_oauth::form::encode_component(secret)
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    /// The `error` of an error response.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }

    /// A string field of the body.
    pub fn field(&self, name: &str) -> String {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("no `{name}` in {}", self.text))
            .to_owned()
    }

    /// Asserts a 200.
    pub fn ok(self) -> Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self
    }
}

/// An EC P-256 signing key with `kid`, for client assertions and trusted issuers.
pub fn es256_key(kid: &str) -> SigningKey {
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let der = PrivatePkcs8KeyDer::from(pair.to_pkcs8v1().unwrap().as_ref().to_vec());
    let key = SigningKey::from_pkcs8(&der).unwrap().with_kid(kid);
    assert_eq!(key.algorithm(), JwsAlgorithm::Es256);
    key
}

/// The claims part of a JWT, unverified.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The header part of a JWT, unverified.
pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}
