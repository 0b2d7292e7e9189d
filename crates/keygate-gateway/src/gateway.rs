//! The gateway service: one request through the phases, in order, each a unit of its own
//! module, with a per-request context carried between them as pingora's `ProxyHttp`
//! carries its `CTX`:
//!
//! 1. request filter — header and body limits (431, 413);
//! 2. [`route`](crate::route) — API and resource (404, 900906);
//! 3. [`auth`](crate::auth) — the token, unless the resource's scheme is `None`
//!    (900901-900904, 900911, 900900);
//! 4. [`authorize`](crate::authorize) — API state, token type, subscription, scopes,
//!    deny conditions (900905, 900907-900910, 900805);
//! 5. [`throttle`](crate::throttle) — policies (900800-900806, 429);
//! 6. [`backend_jwt`](crate::backend_jwt) — `X-JWT-Assertion`;
//! 7. [`proxy`](crate::proxy) — the backend call (502, 504).
//!
//! Every refusal becomes a response in [`errors`](crate::errors) alone. A listener calls
//! [`Gateway::serve`] with what it knows of the connection ([`ClientConnection`]);
//! [`Gateway::router`] is the same service as an axum [`Router`] whose fallback takes every
//! request, reading the connection from the request's extensions.

use crate::auth::keys::KeySourceError;
use crate::auth::opaque::{KeyValidationRequest, KeyValidator};
use crate::auth::{
    Authenticator, ClientCertificate, Principal, TrustedIssuer, check_principal, extract_token,
};
use crate::authorize::{Authorization, authorize, authorize_anonymous};
use crate::backend_jwt::{BackendJwtError, BackendJwtIssuer, UserClaimsSource};
use crate::errors::{GatewayError, InvalidToken};
use crate::events::{RequestEvent, RequestEventQueue};
use crate::observe::{self, Finished, Observation};
use crate::proxy::{
    Forwarded, ProxyBuildError, UpstreamClient, downstream_response, upstream_headers,
};
use crate::replica::{Replica, ReplicaSnapshot};
use crate::route::{RouteError, RouteMatch};
use crate::settings::GatewaySettings;
use crate::throttle::{HttpAttributes, ThrottleRequest, throttle};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Request, Response};
use http_body_util::Limited;
use keygate_jose::SigningKey;
use keygate_model::{AuthScheme, KeyType, Secret};
use keygate_throttle::GatewayThrottle;
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The gateway's clock, in unix milliseconds; tests move it instead of sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayBuildError {
    /// The backend client.
    #[error(transparent)]
    Proxy(#[from] ProxyBuildError),
    /// The backend JWT.
    #[error(transparent)]
    BackendJwt(#[from] BackendJwtError),
    /// An issuer's keys.
    #[error(transparent)]
    Keys(#[from] KeySourceError),
}

/// What the listener knows of the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct ClientConnection {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// Whether the connection speaks TLS (for `X-Forwarded-Proto`).
    pub tls: bool,
    /// The leaf certificate the client presented, for certificate-bound tokens (RFC 8705).
    pub certificate: Option<ClientCertificate>,
}

impl ClientConnection {
    /// The connection as a request's extensions describe it: the peer from axum's
    /// [`ConnectInfo`], the certificate from a [`ClientCertificate`].
    pub fn from_extensions(extensions: &http::Extensions, tls: bool) -> ClientConnection {
        ClientConnection {
            peer: extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
            tls,
            certificate: extensions.get::<ClientCertificate>().cloned(),
        }
    }
}

/// What a request carries from phase to phase.
struct RequestContext<'r> {
    now_ms: i64,
    replica: Arc<ReplicaSnapshot>,
    route: RouteMatch,
    client_ip: Option<IpAddr>,
    token: Option<&'r str>,
    principal: Option<Arc<Principal>>,
    authorization: Option<Authorization>,
}

/// What the proxy phase needs of the earlier ones.
struct Upstream {
    route: RouteMatch,
    key_type: KeyType,
    client_ip: Option<IpAddr>,
    /// Whether the client announced its body's length (checked against the limit).
    sized_body: bool,
    assertion: Option<http::HeaderValue>,
    tls: bool,
}

struct Inner {
    settings: GatewaySettings,
    replica: Arc<Replica>,
    authenticator: Authenticator,
    backend_jwt: BackendJwtIssuer,
    throttle: Arc<GatewayThrottle>,
    upstream: UpstreamClient,
    clock: Arc<dyn Clock>,
    events: Option<Arc<RequestEventQueue>>,
}

/// The gateway role's request path. Cheap to clone: every clone shares one state.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("revision", &self.inner.replica.revision())
            .field("authenticator", &self.inner.authenticator)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Gateway`].
pub struct GatewayBuilder {
    settings: GatewaySettings,
    replica: Arc<Replica>,
    issuers: Vec<TrustedIssuer>,
    validator: Option<Arc<dyn KeyValidator>>,
    signer: Option<SigningKey>,
    user_claims: Option<Arc<dyn UserClaimsSource>>,
    throttle: Option<Arc<GatewayThrottle>>,
    clock: Arc<dyn Clock>,
    extra_roots: Vec<CertificateDer<'static>>,
    events: Option<Arc<RequestEventQueue>>,
}

impl GatewayBuilder {
    /// Trusts these JWT issuers.
    pub fn issuers(mut self, issuers: Vec<TrustedIssuer>) -> Self {
        self.issuers = issuers;
        self
    }

    /// Validates opaque tokens with `validator` (without one they are refused).
    pub fn key_validator(mut self, validator: Arc<dyn KeyValidator>) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Signs backend JWTs with this RSA key.
    pub fn backend_jwt_signer(mut self, key: SigningKey) -> Self {
        self.signer = Some(key);
        self
    }

    /// Takes end users' claims for backend JWTs from `source`.
    pub fn user_claims(mut self, source: Arc<dyn UserClaimsSource>) -> Self {
        self.user_claims = Some(source);
        self
    }

    /// Shares throttling state (counters, traffic-manager decisions) with the caller.
    pub fn throttle(mut self, throttle: Arc<GatewayThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Queues a request event for each admitted request (`enable_data_publishing`).
    pub fn request_events(mut self, queue: Arc<RequestEventQueue>) -> Self {
        self.events = Some(queue);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Trusts these certificates (the truststore's) for TLS backends, besides the WebPKI
    /// roots.
    pub fn trusted_certificates(mut self, certificates: Vec<CertificateDer<'static>>) -> Self {
        self.extra_roots = certificates;
        self
    }

    /// The gateway.
    pub fn build(self) -> Result<Gateway, GatewayBuildError> {
        let upstream = UpstreamClient::new(&self.settings.proxy, &self.extra_roots)?;
        let backend_jwt = BackendJwtIssuer::new(
            self.settings.backend_jwt.clone(),
            self.signer,
            self.user_claims,
        )?;
        let authenticator =
            Authenticator::new(self.settings.auth.clone(), self.issuers, self.validator);
        Ok(Gateway {
            inner: Arc::new(Inner {
                settings: self.settings,
                replica: self.replica,
                authenticator,
                backend_jwt,
                throttle: self.throttle.unwrap_or_default(),
                upstream,
                clock: self.clock,
                events: self.events,
            }),
        })
    }
}

/// Total bytes of header names and values.
fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

impl Gateway {
    /// A gateway serving from `replica`, trusting `issuers` for JWTs and asking
    /// `validator` about opaque tokens.
    pub fn new(
        settings: GatewaySettings,
        replica: Arc<Replica>,
        issuers: Vec<TrustedIssuer>,
        validator: Option<Arc<dyn KeyValidator>>,
    ) -> Result<Gateway, GatewayBuildError> {
        let mut builder = Self::builder(settings, replica).issuers(issuers);
        if let Some(validator) = validator {
            builder = builder.key_validator(validator);
        }
        builder.build()
    }

    /// A builder for the less common parts (signing key, user claims, clock).
    pub fn builder(settings: GatewaySettings, replica: Arc<Replica>) -> GatewayBuilder {
        GatewayBuilder {
            settings,
            replica,
            issuers: Vec::new(),
            validator: None,
            signer: None,
            user_claims: None,
            throttle: None,
            clock: Arc::new(SystemClock),
            extra_roots: Vec::new(),
            events: None,
        }
    }

    /// The replica the gateway serves from.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.inner.replica
    }

    /// The throttling state, to apply the traffic managers' decisions to.
    pub fn throttle_state(&self) -> &Arc<GatewayThrottle> {
        &self.inner.throttle
    }

    /// The authentication phase, to forget tokens revoked by an event.
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }

    /// The service: an axum router whose fallback sends every request through the
    /// gateway. `tls` says whether the listener it is mounted on speaks TLS (for
    /// `X-Forwarded-Proto`).
    pub fn router(&self, tls: bool) -> Router {
        let gateway = self.clone();
        Router::new().fallback(move |request: Request<Body>| {
            let gateway = gateway.clone();
            async move { gateway.handle(request, tls).await }
        })
    }

    /// Sends one request through the pipeline, the connection read from its extensions
    /// ([`ClientConnection::from_extensions`]), and records its metrics and access-log
    /// line.
    pub async fn handle(&self, request: Request<Body>, tls: bool) -> Response<Body> {
        let connection = ClientConnection::from_extensions(request.extensions(), tls);
        self.serve(request, &connection).await
    }

    /// Sends one request that came on `connection` through the pipeline, and records its
    /// metrics and access-log line.
    pub async fn serve(
        &self,
        request: Request<Body>,
        connection: &ClientConnection,
    ) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let path: Option<Box<str>> =
            observe::access_log_enabled().then(|| request.uri().path().into());
        let peer = connection.peer.map(|peer| peer.ip());
        let mut observation = Observation::default();
        let (response, code) = match self.pipeline(request, connection, &mut observation).await {
            Ok(response) => (response, None),
            Err(error) => {
                tracing::debug!(
                    code = error.code(),
                    source = error.origin().as_str(),
                    retry = error.retry_may_help(),
                    %error,
                    "request refused"
                );
                let code = error.code();
                (error.into_response(), Some(code))
            }
        };
        observe::record(
            &Finished {
                method: &method,
                path: path.as_deref(),
                status: response.status().as_u16(),
                code,
                client_ip: peer,
                started,
            },
            &observation,
        );
        response
    }

    /// Phase 1: limits on what the client sent.
    fn request_filter(&self, request: &http::request::Parts) -> Result<(), GatewayError> {
        let limits = &self.inner.settings.limits;
        if header_bytes(&request.headers) > limits.max_header_bytes {
            return Err(GatewayError::HeadersTooLarge);
        }
        let length = request
            .headers
            .get(CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
        match length {
            Some(None) => Err(GatewayError::BadRequest("invalid Content-Length")),
            Some(Some(length)) if length > limits.max_body_bytes => Err(GatewayError::BodyTooLarge),
            _ => Ok(()),
        }
    }

    async fn pipeline(
        &self,
        request: Request<Body>,
        connection: &ClientConnection,
        observation: &mut Observation,
    ) -> Result<Response<Body>, GatewayError> {
        let (request, body) = request.into_parts();
        self.request_filter(&request)?;
        let inner = &*self.inner;
        let now_ms = inner.clock.now_ms();
        let replica = inner.replica.snapshot();
        let route = replica
            .route(request.method.as_str(), request.uri.path())
            .map_err(|e| match e {
                RouteError::NoApi => GatewayError::ApiNotFound,
                RouteError::NoResource => GatewayError::NoMatchingResource,
            })?;
        observation.api = Some(route.api.clone());
        let mut ctx = RequestContext {
            now_ms,
            replica,
            route,
            client_ip: connection.peer.map(|peer| peer.ip()),
            token: None,
            principal: None,
            authorization: None,
        };
        self.authenticate(&mut ctx, &request, connection.certificate.as_ref())
            .await?;
        observation.application = ctx.authorization.as_ref().map(|a| a.application.clone());
        let message_size = request
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        // Only an unauthenticated call is counted under its address as text.
        let ip_text = match (&ctx.authorization, ctx.client_ip) {
            (None, Some(ip)) => Some(ip.to_string()),
            _ => None,
        };
        let attributes = HttpAttributes {
            headers: &request.headers,
            query: request.uri.query(),
            claims: ctx.principal.as_ref().and_then(|p| p.claims.as_ref()),
            dialect: &inner.settings.backend_jwt.claim_dialect,
            authorization: ctx.authorization.as_ref(),
        };
        let admitted = throttle(
            &inner.throttle,
            &ctx.replica,
            &ThrottleRequest {
                route: &ctx.route,
                authorization: ctx.authorization.as_ref(),
                client_ip: ctx.client_ip,
                client_ip_text: ip_text.as_deref().unwrap_or_default(),
                message_size,
                attributes: &attributes,
            },
            now_ms,
        )?;
        if let Some(queue) = &inner.events {
            queue.push(RequestEvent {
                time_ms: now_ms,
                message_size,
                keys: admitted.keys,
            });
        }
        let assertion = match (&ctx.authorization, ctx.token) {
            (Some(auth), Some(token)) if inner.backend_jwt.enabled() => Some(
                inner
                    .backend_jwt
                    .assertion(token, &ctx.route, auth, now_ms)
                    .await?,
            ),
            _ => None,
        };
        let RequestContext {
            route,
            client_ip,
            authorization,
            ..
        } = ctx;
        let upstream = Upstream {
            route,
            key_type: authorization.map_or(KeyType::Production, |a| a.key_type),
            client_ip,
            sized_body: request.headers.contains_key(CONTENT_LENGTH)
                && !request.headers.contains_key(TRANSFER_ENCODING),
            assertion,
            tls: connection.tls,
        };
        self.proxy(upstream, request, body).await
    }

    /// Phases 3 and 4: the token and what it may do.
    async fn authenticate<'r>(
        &self,
        ctx: &mut RequestContext<'r>,
        request: &'r http::request::Parts,
        certificate: Option<&ClientCertificate>,
    ) -> Result<(), GatewayError> {
        let inner = &*self.inner;
        let resource = ctx
            .route
            .resource()
            .ok_or(GatewayError::NoMatchingResource)?;
        if resource.template.auth_scheme == AuthScheme::None {
            return authorize_anonymous(&ctx.replica, &ctx.route, ctx.client_ip);
        }
        let settings = inner.authenticator.settings();
        let token = extract_token(&request.headers, &settings.token_header)?;
        let route = &ctx.route;
        let client_ip = ctx.client_ip;
        let question = || KeyValidationRequest {
            context: route.api.versioned_context.to_string(),
            version: if route.via_default_version {
                format!("_default_{}", route.api.api.version)
            } else {
                route.api.api.version.clone()
            },
            token: Secret::new(token),
            required_auth_level: resource.template.auth_scheme.as_str().to_owned(),
            matching_resource: resource.template.url_pattern.clone(),
            http_verb: resource.template.http_verb.clone(),
            client_ip: client_ip.map(|ip| ip.to_string()),
        };
        let principal = inner
            .authenticator
            .authenticate(token, question, ctx.now_ms)
            .await?;
        check_principal(
            &principal,
            &ctx.replica,
            ctx.now_ms,
            settings.leeway,
            certificate,
        )?;
        let authorization = authorize(&ctx.replica, &ctx.route, &principal, ctx.client_ip)?;
        ctx.token = Some(token);
        ctx.principal = Some(principal);
        ctx.authorization = Some(authorization);
        Ok(())
    }

    /// Phase 7: the backend call.
    async fn proxy(
        &self,
        ctx: Upstream,
        mut parts: http::request::Parts,
        body: Body,
    ) -> Result<Response<Body>, GatewayError> {
        let inner = &*self.inner;
        let key_type = ctx.key_type;
        let api = &ctx.route.api;
        let endpoint = match key_type {
            KeyType::Production => api.production.as_ref(),
            KeyType::Sandbox => api.sandbox.as_ref(),
        }
        .ok_or(GatewayError::InvalidCredentials(
            InvalidToken::NoEndpointForKeyType(key_type),
        ))?;
        let uri = endpoint.uri_for(ctx.route.remainder(parts.uri.path()), parts.uri.query())?;
        let original_host = parts
            .headers
            .get(HOST)
            .cloned()
            .or_else(|| parts.uri.authority().and_then(|a| a.as_str().parse().ok()));
        let credentials =
            (!inner.settings.forward_credentials).then_some(&inner.settings.auth.token_header);
        upstream_headers(
            &mut parts.headers,
            original_host,
            Forwarded {
                client_ip: ctx.client_ip,
                tls: ctx.tls,
            },
            credentials,
        );
        // A caller never speaks for the gateway: its own assertion header is dropped.
        parts.headers.remove(inner.backend_jwt.header());
        if let Some(assertion) = ctx.assertion {
            parts
                .headers
                .insert(inner.backend_jwt.header().clone(), assertion);
        }
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        parts.extensions = http::Extensions::new();
        // A body of announced length was checked against the limit in phase 1 (and the
        // server holds the client to that length); any other is counted as it streams.
        let body = if ctx.sized_body {
            body
        } else {
            let limit = usize::try_from(inner.settings.limits.max_body_bytes).unwrap_or(usize::MAX);
            Body::new(Limited::new(body, limit))
        };
        let response = inner
            .upstream
            .send(Request::from_parts(parts, body))
            .await?;
        Ok(downstream_response(response))
    }
}
