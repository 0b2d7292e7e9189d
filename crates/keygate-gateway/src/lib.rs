//! keygate-gateway: the gateway role's request path (DESIGN §1, §2, §7). A request goes
//! through phases, each a module testable alone, as pingora's `ProxyHttp` has them:
//! [`route`] (API by context and version, resource by URL template and verb), [`auth`]
//! (the token: JWTs validated locally with a verified-token cache, opaque tokens through
//! the key manager behind a token cache), [`authorize`] (API state, token type,
//! subscription, scopes, deny conditions), [`throttle`] (keygate-throttle's evaluation
//! with the replica's policies), [`backend_jwt`] (`X-JWT-Assertion`) and [`proxy`] (the
//! pooled backend call). [`errors`] is the one place refusals become WSO2's JSON answers.
//!
//! Everything a request is checked against lives in the [`replica`], an in-memory copy
//! of the control plane's data read without locks and replaced or patched by the
//! snapshot loader and event handler. [`Gateway`] puts the phases together as an axum
//! [`axum::Router`] the server mounts on the gateway listeners.
//!
//! Around the request path: the [`feed`] keeps the replica current from the bus and
//! snapshots, [`remote`] reaches the key manager and control plane when they run
//! elsewhere, [`events`] publishes admitted requests for global throttling, and
//! `observe` gives each call its metrics and access-log line.

#![forbid(unsafe_code)]

pub mod auth;
pub mod authorize;
pub mod backend_jwt;
pub mod errors;
pub mod events;
pub mod feed;
mod gateway;
mod observe;
mod pool;
pub mod proxy;
pub mod remote;
pub mod replica;
pub mod route;
pub mod settings;
pub mod throttle;

#[cfg(test)]
mod test_fixtures;

pub use auth::keys::{
    HttpJwksFetcher, JwksFetcher, JwksKeys, KeySource, KeySourceError, StaticKeys,
};
pub use auth::opaque::{
    CachingKeyValidator, KeyValidationInfo, KeyValidationRequest, KeyValidator, KeyValidatorError,
};
pub use auth::{
    AuthSettings, Authenticator, ClientCertificate, Principal, TokenKind, TrustedIssuer, UserType,
};
pub use authorize::Authorization;
pub use backend_jwt::{BackendJwtIssuer, BackendJwtSettings, UserClaimsError, UserClaimsSource};
pub use errors::{ErrorSource, GatewayError, InvalidToken, UpstreamFailure};
pub use events::{
    RequestEvent, RequestEventError, RequestEventQueue, RequestEventSettings, RequestEventSink,
};
pub use feed::{FeedSubscriptions, ReplicaFeed, SnapshotError, SnapshotSource};
pub use gateway::{
    ClientConnection, Clock, Gateway, GatewayBuildError, GatewayBuilder, SystemClock,
};
pub use observe::ACCESS_LOG_TARGET;
pub use proxy::{BackendEndpoint, ProxySettings, UpstreamClient};
pub use remote::{HttpKeyValidator, HttpSnapshotSource, RemoteService, ServiceUrlError};
pub use replica::{
    ApplicationEntry, ApplyOutcome, Replica, ReplicaChange, ReplicaData, ReplicaError,
    ReplicaSnapshot, RevocationSubject, SubjectRevocation,
};
pub use route::{DeployedApi, RouteError, RouteMatch};
pub use settings::{GatewaySettings, RequestLimits, SettingsError, trusted_issuers};
pub use throttle::Admitted;
