//! The gateway's calls to the other roles when they run elsewhere (DESIGN §4): the key
//! manager's key validation service for opaque tokens ([`HttpKeyValidator`]), the
//! control plane's internal data service for snapshots ([`HttpSnapshotSource`]), and the
//! key manager's `/oauth2/token` and `/oauth2/revoke`, which the gateway exposes as
//! `/token` and `/revoke` as WSO2's gateway does ([`RemoteService::forward`]), and the
//! key manager's user-claims operation for the backend JWT's end-user claims
//! ([`HttpUserClaims`]).
//!
//! Every call goes through one pooled [`UpstreamClient`] (HTTP/1.1 and HTTP/2, TLS checked
//! against the WebPKI roots and the `[truststore]`), with the `[apim.key_manager]`
//! credentials as HTTP Basic, connect and response timeouts, and a bounded body.

use crate::auth::opaque::{
    KeyValidationInfo, KeyValidationRequest, KeyValidator, KeyValidatorError,
};
use crate::backend_jwt::{UserClaimsError, UserClaimsSource};
use crate::errors::GatewayError;
use crate::feed::{SnapshotError, SnapshotSource};
use crate::proxy::{UpstreamClient, downstream_response, remove_hop_by_hop};
use crate::replica::ReplicaData;
use async_trait::async_trait;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use keygate_model::Secret;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Time allowed to read a service's answer once its head arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest key validation answer read.
pub const MAX_VALIDATION_BYTES: usize = 256 * 1024;
/// Largest snapshot read.
pub const MAX_SNAPSHOT_BYTES: usize = 512 * 1024 * 1024;
/// Path of the key validation service under `service_url`.
pub const KEY_VALIDATION_PATH: &str = "key-validation/v1/validate";
/// Path of the internal data service's snapshot.
pub const SNAPSHOT_PATH: &str = "/internal/data/v1/snapshot";
/// Path of the key manager's user-claims operation (WSO2 IS-KM's), on its origin.
pub const USER_CLAIMS_PATH: &str = "/keymanager-operations/user-info/claims";
/// Largest user-claims answer read.
pub const MAX_USER_CLAIMS_BYTES: usize = 256 * 1024;

/// Why a service URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an absolute http or https URL")]
pub struct ServiceUrlError(pub String);

/// Another role, reached over the network.
#[derive(Clone)]
pub struct RemoteService {
    client: UpstreamClient,
    /// The service URL, ending in `/`.
    base: String,
    /// `scheme://authority`.
    origin: String,
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for RemoteService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteService")
            .field("base", &self.base)
            .field("authenticated", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

/// `Basic base64(user:password)` (RFC 7617).
fn basic(username: &str, password: &Secret) -> Option<HeaderValue> {
    let encoded = STANDARD.encode(format!("{username}:{}", password.expose()));
    let mut value = HeaderValue::try_from(format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl RemoteService {
    /// The service at `service_url` (e.g. `https://km:9443/services/`), called as
    /// `username` when a password is given.
    pub fn new(
        client: UpstreamClient,
        service_url: &str,
        username: &str,
        password: Option<&Secret>,
    ) -> Result<Self, ServiceUrlError> {
        let invalid = || ServiceUrlError(service_url.to_owned());
        let uri: Uri = service_url.trim().parse().map_err(|_| invalid())?;
        let scheme = uri.scheme_str().ok_or_else(invalid)?;
        if scheme != "http" && scheme != "https" {
            return Err(invalid());
        }
        let authority = uri.authority().ok_or_else(invalid)?;
        let mut base = service_url.trim().to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            client,
            base,
            origin: format!("{scheme}://{authority}"),
            authorization: password.and_then(|p| basic(username, p)),
        })
    }

    /// `scheme://authority` of the service.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The same client and credentials against another service URL.
    pub fn with_url(&self, service_url: &str) -> Result<Self, ServiceUrlError> {
        let mut other = Self::new(self.client.clone(), service_url, "", None)?;
        other.authorization = self.authorization.clone();
        Ok(other)
    }

    /// Calls `url` and reads at most `limit` bytes of the answer.
    async fn call(
        &self,
        method: Method,
        url: &str,
        json: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(ACCEPT, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let body = match json {
            Some(bytes) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|_| "invalid URL".to_owned())?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| format!("{:?}", e.failure))?;
        let status = response.status();
        let body = tokio::time::timeout(
            BODY_TIMEOUT,
            Limited::new(response.into_body(), limit).collect(),
        )
        .await
        .map_err(|_| "answer timed out".to_owned())?
        .map_err(|_| "answer unreadable or too large".to_owned())?
        .to_bytes();
        Ok((status, body))
    }

    /// Forwards a client's request to `path` on the service's origin, headers and body
    /// as they came (hop-by-hop headers aside); the answer comes back the same way.
    pub async fn forward(
        &self,
        request: Request<Body>,
        path: &str,
    ) -> Result<Response<Body>, GatewayError> {
        let (mut parts, body) = request.into_parts();
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        parts.uri = format!("{}{path}{query}", self.origin)
            .parse()
            .map_err(|_| GatewayError::BadRequest("invalid path"))?;
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.remove(HOST);
        parts.version = http::Version::HTTP_11;
        parts.extensions = http::Extensions::new();
        let response = self.client.send(Request::from_parts(parts, body)).await?;
        Ok(downstream_response(response))
    }
}

/// The key manager's key validation service over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpKeyValidator {
    service: RemoteService,
}

impl HttpKeyValidator {
    /// Asks at `{service_url}key-validation/v1/validate`.
    pub fn new(service: RemoteService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl KeyValidator for HttpKeyValidator {
    async fn validate(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, KeyValidatorError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| KeyValidatorError::Unavailable(e.to_string()))?;
        let url = format!("{}{KEY_VALIDATION_PATH}", self.service.base);
        let (status, answer) = self
            .service
            .call(Method::POST, &url, Some(body), MAX_VALIDATION_BYTES)
            .await
            .map_err(KeyValidatorError::Unavailable)?;
        if !status.is_success() {
            return Err(KeyValidatorError::Unavailable(format!(
                "key validation answered {status}"
            )));
        }
        serde_json::from_slice(&answer).map_err(|_| {
            KeyValidatorError::Unavailable("key validation answer is not JSON".to_owned())
        })
    }
}

/// The control plane's internal data service over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpSnapshotSource {
    service: RemoteService,
}

impl HttpSnapshotSource {
    /// Reads `{origin}/internal/data/v1/snapshot` of `service`.
    pub fn new(service: RemoteService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl SnapshotSource for HttpSnapshotSource {
    async fn snapshot(&self) -> Result<ReplicaData, SnapshotError> {
        let url = format!("{}{SNAPSHOT_PATH}", self.service.origin);
        let (status, body) = self
            .service
            .call(Method::GET, &url, None, MAX_SNAPSHOT_BYTES)
            .await
            .map_err(SnapshotError)?;
        if !status.is_success() {
            return Err(SnapshotError(format!("{url} answered {status}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| SnapshotError(format!("{url}: not a snapshot: {e}")))
    }
}

/// The end user's claims from the key manager's user-claims operation over HTTP(S):
/// `POST {origin}/keymanager-operations/user-info/claims` with `{"username": …}`,
/// answered `{"count", "list": [{"uri", "value"}]}`.
#[derive(Debug, Clone)]
pub struct HttpUserClaims {
    service: RemoteService,
}

impl HttpUserClaims {
    /// Asks the key manager at the origin of `service`.
    pub fn new(service: RemoteService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl UserClaimsSource for HttpUserClaims {
    async fn claims(&self, end_user: &str) -> Result<BTreeMap<String, String>, UserClaimsError> {
        let body = serde_json::to_vec(&serde_json::json!({ "username": end_user }))
            .map_err(|e| UserClaimsError::Unavailable(e.to_string()))?;
        let url = format!("{}{USER_CLAIMS_PATH}", self.service.origin);
        let (status, answer) = self
            .service
            .call(Method::POST, &url, Some(body), MAX_USER_CLAIMS_BYTES)
            .await
            .map_err(UserClaimsError::Unavailable)?;
        if !status.is_success() {
            return Err(UserClaimsError::Unavailable(format!(
                "user claims answered {status}"
            )));
        }
        let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| {
            UserClaimsError::Unavailable("user claims answer is not JSON".to_owned())
        })?;
        Ok(answer["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|claim| {
                Some((
                    claim["uri"].as_str()?.to_owned(),
                    claim["value"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
