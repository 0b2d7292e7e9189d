//! The gateway role in a node: its [`Gateway`] built from the configuration, mounted on
//! the gateway listeners (8243, 8280) with `/token` and `/revoke` forwarded to the key
//! manager, its replica kept current by a [`ReplicaFeed`], and its request events sent to
//! the traffic managers (`crate::traffic` picks the road).
//!
//! What a gateway needs of the other roles comes in-process when they run in the same
//! node, and over HTTPS otherwise:
//!
//! | need | co-located | remote |
//! |---|---|---|
//! | JWT signing keys | the key manager's JWK Set | `[[apim.jwt.issuer]]`, the truststore's `gateway_certificate_alias`, or `{key manager}/oauth2/jwks` |
//! | opaque tokens | [`KeyManager::validate_key`] | `POST {service_url}key-validation/v1/validate` |
//! | snapshots | [`ControlPlane::snapshot`] | `GET {control plane}/internal/data/v1/snapshot` |
//! | `/token`, `/revoke` | the key manager's router | `{key manager}/oauth2/token`, `/oauth2/revoke` |
//! | end users' claims (`enable_user_claims`) | the key manager's user store | `POST {key manager}/keymanager-operations/user-info/claims` |
//!
//! A remote control plane is found at the origin of `[apim.event_hub] service_url`, by
//! default the key manager's (WSO2's usual layout: key manager and control plane on one
//! node). Remote calls authenticate with the `[apim.event_hub]` or `[apim.key_manager]`
//! credentials and trust the `[truststore]`.

use crate::ServerError;
use crate::tls;
use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any;
use keygate_bus::{Subject, SubjectPrefix};
use keygate_config::{Config, JwtSigningAlgorithm};
use keygate_control::ControlPlane;
use keygate_gateway::auth::keys::{JwksFetcher, JwksKeys, KeySource, KeySourceError};
use keygate_gateway::remote::HttpUserClaims;
use keygate_gateway::{
    ClientConnection, FeedSubscriptions, Gateway, GatewaySettings, HttpJwksFetcher,
    HttpKeyValidator, HttpSnapshotSource, KeyValidationInfo, KeyValidationRequest, KeyValidator,
    KeyValidatorError, ProxySettings, RemoteService, Replica, ReplicaData, ReplicaFeed,
    RequestEventQueue, RequestEventSettings, SnapshotError, SnapshotSource, StaticKeys,
    SystemClock, TrustedIssuer, UpstreamClient, UserClaimsError, UserClaimsSource,
};
use keygate_jose::{JwkSet, Keystore, KeystoreEntry, SigningKey};
use keygate_km::KeyManager;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The truststore alias of the key manager's signing certificate, as WSO2 names it.
pub const GATEWAY_CERTIFICATE_ALIAS: &str = "gateway_certificate_alias";
/// How often the co-located key manager's keys may be re-read on an unknown `kid`.
const LOCAL_JWKS_REFETCH: Duration = Duration::from_millis(100);
/// How long start-up waits for the first snapshot before serving without it.
const FIRST_SNAPSHOT_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the feed and the last request events.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// The key manager's token endpoint.
const TOKEN_PATH: &str = "/oauth2/token";
/// The key manager's revocation endpoint.
const REVOKE_PATH: &str = "/oauth2/revoke";

/// The paths of a gateway listener that are not API calls: the key manager's token
/// endpoints, health and metrics.
pub(crate) const OTHER_PATHS: [&str; 5] = [
    "/token",
    "/revoke",
    "/health/live",
    "/health/ready",
    "/metrics",
];

/// What a gateway listener serves: API calls through the gateway, [`OTHER_PATHS`] through
/// a router.
pub(crate) struct GatewayListener {
    gateway: Gateway,
    other: Router,
}

impl GatewayListener {
    /// Whether a path is an API call (anything but [`OTHER_PATHS`]).
    pub(crate) fn is_api_call(&self, path: &str) -> bool {
        !OTHER_PATHS.contains(&path)
    }

    /// Answers one request that came on `connection`.
    pub(crate) async fn call(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
        connection: &ClientConnection,
    ) -> Response {
        let request = request.map(Body::new);
        if self.is_api_call(request.uri().path()) {
            return self.gateway.serve(request, connection).await;
        }
        match self.other.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The gateway role of a running node.
pub(crate) struct GatewayRole {
    gateway: Gateway,
    token_endpoints: TokenEndpoints,
    /// The feed and the request-event publisher.
    pub(crate) tasks: Vec<JoinHandle<()>>,
    events: Option<Arc<RequestEventQueue>>,
}

/// The other roles as this node reaches them.
pub(crate) struct Peers<'a> {
    pub key_manager: Option<&'a KeyManager>,
    pub control_plane: Option<&'a ControlPlane>,
    /// What the node's roles publish through; it also routes request events.
    pub bus: Arc<crate::traffic::PublishingBus>,
    /// The node's own TLS certificate chain, trusted like the truststore (a node calling
    /// itself, or peers sharing its certificate).
    pub own_chain: Vec<CertificateDer<'static>>,
}

fn config_error(what: &str, error: impl std::fmt::Display) -> ServerError {
    ServerError::Config(format!("gateway: {what}: {error}"))
}

/// The certificates of the `[truststore]`, when one is configured.
fn truststore(config: &Config) -> Result<Option<Keystore>, ServerError> {
    config
        .keystores
        .truststore
        .as_ref()
        .map(tls::open_keystore)
        .transpose()
}

fn trusted_certificates(store: Option<&Keystore>) -> Vec<CertificateDer<'static>> {
    let Some(store) = store else {
        return Vec::new();
    };
    store
        .entries()
        .flat_map(|(_, entry)| match entry {
            KeystoreEntry::TrustedCertificate(cert) => vec![cert.clone()],
            KeystoreEntry::PrivateKey { chain, .. } => chain.clone(),
        })
        .collect()
}

/// End users' claims from the co-located key manager's user store: the claims of the
/// backend JWT's dialect and the user's roles, as the key manager's user-claims
/// operation answers them to a remote gateway.
#[derive(Clone)]
struct LocalUserClaims(KeyManager);

impl std::fmt::Debug for LocalUserClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalUserClaims")
    }
}

#[async_trait]
impl UserClaimsSource for LocalUserClaims {
    async fn claims(&self, end_user: &str) -> Result<BTreeMap<String, String>, UserClaimsError> {
        let username = end_user
            .strip_suffix(keygate_model::SUPER_TENANT_DOMAIN)
            .and_then(|rest| rest.strip_suffix('@'))
            .unwrap_or(end_user);
        let user = self
            .0
            .stores()
            .users()
            .user(username)
            .await
            .map_err(|e| UserClaimsError::Unavailable(e.to_string()))?
            .ok_or_else(|| UserClaimsError::Unavailable("no such user".to_owned()))?;
        Ok(keygate_model::claims::of_dialect(
            &user.claims,
            &user.roles,
            keygate_model::claims::DIALECT,
        ))
    }
}

/// The co-located key manager's JWK Set, read in-process.
#[derive(Clone)]
struct LocalJwks(KeyManager);

impl std::fmt::Debug for LocalJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalJwks")
    }
}

#[async_trait]
impl JwksFetcher for LocalJwks {
    async fn fetch(&self, _url: &str) -> Result<JwkSet, KeySourceError> {
        Ok(self.0.jwks())
    }
}

/// The co-located key manager's key validation, in-process.
#[derive(Clone)]
struct LocalKeyValidator(KeyManager);

impl std::fmt::Debug for LocalKeyValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKeyValidator")
    }
}

#[async_trait]
impl KeyValidator for LocalKeyValidator {
    async fn validate(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, KeyValidatorError> {
        let unavailable = |e: &dyn std::fmt::Display| KeyValidatorError::Unavailable(e.to_string());
        // The gateway's question and the key manager's are one wire contract (DESIGN §4).
        let question = serde_json::to_value(request)
            .and_then(serde_json::from_value)
            .map_err(|e| unavailable(&e))?;
        let info = self
            .0
            .validate_key(&question)
            .await
            .map_err(|e| unavailable(&format!("{e:?}")))?;
        serde_json::to_value(info)
            .and_then(serde_json::from_value)
            .map_err(|e| unavailable(&e))
    }
}

/// The co-located control plane's data, in-process.
#[derive(Clone)]
struct LocalSnapshotSource(ControlPlane);

impl std::fmt::Debug for LocalSnapshotSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSnapshotSource")
    }
}

#[async_trait]
impl SnapshotSource for LocalSnapshotSource {
    async fn snapshot(&self) -> Result<ReplicaData, SnapshotError> {
        let snapshot = self
            .0
            .snapshot()
            .await
            .map_err(|e| SnapshotError(e.to_string()))?;
        serde_json::to_value(snapshot)
            .and_then(serde_json::from_value)
            .map_err(|e| SnapshotError(e.to_string()))
    }
}

/// The envelope type of a batch of request events.
pub const REQUEST_EVENTS_TYPE: &str = "REQUEST_EVENTS";

/// Where `/token` and `/revoke` go.
#[derive(Clone)]
enum TokenEndpoints {
    /// The co-located key manager's own routes.
    Local(Router),
    /// The key manager over the network.
    Remote(Box<RemoteService>),
}

impl TokenEndpoints {
    async fn forward(&self, mut request: Request, path: &'static str) -> Response {
        match self {
            Self::Local(router) => {
                let query = request
                    .uri()
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                match format!("{path}{query}").parse() {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => {
                        return keygate_gateway::GatewayError::BadRequest("invalid path")
                            .into_response();
                    }
                }
                match router.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
            Self::Remote(service) => match service.forward(request, path).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            },
        }
    }
}

/// The key for signing backend JWTs: `[keystore.primary]`'s, else one made at start.
fn backend_jwt_signer(config: &Config) -> Result<Option<SigningKey>, ServerError> {
    if !config.jwt.enabled || config.jwt.signing_algorithm == JwtSigningAlgorithm::None {
        return Ok(None);
    }
    if let Some(primary) = &config.keystores.primary {
        let identity = tls::identity_from_keystore(primary)?;
        let rustls_pki_types::PrivateKeyDer::Pkcs8(key) = identity.key else {
            return Err(config_error("[keystore.primary]", "the key is not PKCS#8"));
        };
        return SigningKey::from_pkcs8(&key)
            .map(Some)
            .map_err(|e| config_error("[keystore.primary] key for backend JWTs", e));
    }
    tracing::warn!(
        "no [keystore.primary]: backend JWTs are signed with a key made at start; backends \
         cannot pin it across restarts"
    );
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|e| config_error("backend JWT key", e))?;
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair
        .as_der()
        .map_err(|e| config_error("backend JWT key", e))?;
    SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(der.as_ref().to_vec()))
        .map(Some)
        .map_err(|e| config_error("backend JWT key", e))
}

/// The JWT issuers the gateway trusts.
fn issuers(
    config: &Config,
    store: Option<&Keystore>,
    roots: &[CertificateDer<'static>],
    key_manager: Option<&KeyManager>,
    km_origin: &str,
) -> Result<Vec<TrustedIssuer>, ServerError> {
    let fetcher =
        Arc::new(HttpJwksFetcher::new(roots).map_err(|e| config_error("JWKS client TLS", e))?);
    let mut issuers = keygate_gateway::trusted_issuers(config, store, fetcher.clone())
        .map_err(|e| config_error("[[apim.jwt.issuer]]", e))?;
    let (issuer, keys): (String, Arc<dyn KeySource>) = match key_manager {
        Some(km) => (
            km.issuer().to_owned(),
            Arc::new(JwksKeys::new(
                "in-process",
                Arc::new(LocalJwks(km.clone())),
                LOCAL_JWKS_REFETCH,
            )),
        ),
        None => {
            let issuer = format!("{km_origin}{TOKEN_PATH}");
            let pinned = store.and_then(|s| {
                StaticKeys::from_truststore(s, GATEWAY_CERTIFICATE_ALIAS)
                    .ok()
                    .map(|k| Arc::new(k) as Arc<dyn KeySource>)
            });
            let keys = pinned.unwrap_or_else(|| {
                Arc::new(JwksKeys::new(
                    format!("{km_origin}/oauth2/jwks"),
                    fetcher,
                    keygate_gateway::auth::keys::DEFAULT_JWKS_MIN_REFETCH_INTERVAL,
                ))
            });
            (issuer, keys)
        }
    };
    if !issuers.iter().any(|i| i.issuer == issuer) {
        issuers.push(TrustedIssuer::new(issuer, keys));
    }
    Ok(issuers)
}

impl GatewayRole {
    /// Builds the gateway, subscribes its feed, takes the first snapshot (waiting up to
    /// [`FIRST_SNAPSHOT_WAIT`]) and starts its background tasks, which stop when
    /// `shutdown` turns true.
    pub(crate) async fn start(
        config: &Config,
        peers: Peers<'_>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<GatewayRole, ServerError> {
        let settings =
            GatewaySettings::from_config(config).map_err(|e| config_error("settings", e))?;
        let store = truststore(config)?;
        let mut roots = trusted_certificates(store.as_ref());
        roots.extend(peers.own_chain.iter().cloned());
        let client = UpstreamClient::new(&ProxySettings::default(), &roots)
            .map_err(|e| config_error("service client TLS", e))?;
        let key_manager = &config.key_manager;
        let (hub_url, hub_user, hub_password) = config.event_hub.resolve(key_manager);
        let control_service = RemoteService::new(client.clone(), hub_url, hub_user, hub_password)
            .map_err(|e| config_error("[apim.event_hub] service_url", e))?;
        let km_service = RemoteService::new(
            client,
            &key_manager.service_url,
            &key_manager.username,
            key_manager.password.as_ref(),
        )
        .map_err(|e| config_error("[apim.key_manager] service_url", e))?;

        let replica = Arc::new(Replica::new());
        let mut builder = Gateway::builder(settings, replica.clone())
            .issuers(issuers(
                config,
                store.as_ref(),
                &roots,
                peers.key_manager,
                km_service.origin(),
            )?)
            .trusted_certificates(roots.clone());
        builder = match peers.key_manager {
            Some(km) => builder.key_validator(Arc::new(LocalKeyValidator(km.clone()))),
            None => builder.key_validator(Arc::new(HttpKeyValidator::new(km_service.clone()))),
        };
        if let Some(signer) = backend_jwt_signer(config)? {
            builder = builder.backend_jwt_signer(signer);
        }
        if config.jwt.enabled && config.jwt.enable_user_claims {
            builder = builder.user_claims(match peers.key_manager {
                Some(km) => Arc::new(LocalUserClaims(km.clone())),
                None => Arc::new(HttpUserClaims::new(km_service.clone())),
            });
        }
        let mut tasks = Vec::new();
        let link = crate::traffic::gateway_link(config, peers.bus.clone());
        let events = config.throttling.enable_data_publishing.then(|| {
            let queue = RequestEventQueue::new(RequestEventSettings::default());
            tasks.push(queue.spawn(peers.bus.request_events(
                Subject::throttle_request(&SubjectPrefix::new(&config.throttling.subject_prefix)),
                link.node.clone(),
            )));
            queue
        });
        if let Some(queue) = &events {
            builder = builder.request_events(queue.clone());
        }
        let gateway = builder
            .build()
            .map_err(|e| config_error("could not be built", e))?;

        let source: Arc<dyn SnapshotSource> = match peers.control_plane {
            Some(control) => Arc::new(LocalSnapshotSource(control.clone())),
            None => Arc::new(HttpSnapshotSource::new(control_service)),
        };
        let mut subscriptions = FeedSubscriptions::subscribe_with(
            peers.bus.as_ref(),
            &SubjectPrefix::new(&config.throttling.subject_prefix),
            config.throttling.enable_decision_connection,
        )
        .await
        .map_err(|e| config_error("event bus", e))?;
        let mut feed = ReplicaFeed::new(
            replica,
            gateway.throttle_state().clone(),
            source,
            Arc::new(SystemClock),
        )
        .with_traffic_link(link);
        match tokio::time::timeout(FIRST_SNAPSHOT_WAIT, feed.prime(&mut subscriptions)).await {
            Ok(Ok(revision)) => tracing::debug!(revision, "gateway replica ready"),
            Ok(Err(error)) => tracing::warn!(%error, "gateway starts without a snapshot; retrying"),
            Err(_) => tracing::warn!("gateway starts before its first snapshot; retrying"),
        }
        tasks.push(feed.spawn(subscriptions, shutdown));

        let token_endpoints = match peers.key_manager {
            Some(km) => TokenEndpoints::Local(km.router()),
            None => TokenEndpoints::Remote(Box::new(km_service)),
        };
        Ok(GatewayRole {
            gateway,
            token_endpoints,
            tasks,
            events,
        })
    }

    /// The gateway.
    pub(crate) fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The service of a gateway listener: `/token` and `/revoke` for the key manager,
    /// `extra` (health and metrics, at [`OTHER_PATHS`]) through a router wrapped in
    /// `layer` (the listener's request metrics), and every other path straight through
    /// the gateway, which records its own metrics.
    pub(crate) fn listener<L>(&self, tls: bool, extra: Router, layer: L) -> GatewayListener
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<Request>>::Response: axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        let token = self.token_endpoints.clone();
        let revoke = self.token_endpoints.clone();
        let gateway = self.gateway.clone();
        let other = Router::new()
            .route(
                "/token",
                any(move |request: Request<Body>| {
                    let token = token.clone();
                    async move { token.forward(request, TOKEN_PATH).await }
                }),
            )
            .route(
                "/revoke",
                any(move |request: Request<Body>| {
                    let revoke = revoke.clone();
                    async move { revoke.forward(request, REVOKE_PATH).await }
                }),
            )
            .merge(extra)
            .fallback(move |request: Request<Body>| {
                let gateway = gateway.clone();
                async move { gateway.handle(request, tls).await }
            })
            .layer(layer);
        GatewayListener {
            gateway: self.gateway.clone(),
            other,
        }
    }

    /// Publishes the request events still queued and waits, briefly, for the background
    /// tasks (they end on the shutdown signal).
    pub(crate) async fn stop(mut self) {
        if let Some(queue) = &self.events {
            queue.close();
        }
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
