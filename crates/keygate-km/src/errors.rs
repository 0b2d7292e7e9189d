//! Every failure of the key manager, and the one place where failures become HTTP
//! responses (as kanidm's `https/errors.rs` does).
//!
//! [`KmError`] is what start-up and the key manager's methods return. [`Failure`] is what
//! a request handler returns: an [`OAuthError`] the client caused, answered with the RFC's
//! error object and status (RFC 6749 §5.2, RFC 6750 §3, RFC 7009 §2.2.1, RFC 7662 §2.3),
//! with `WWW-Authenticate` on 401 and `Cache-Control: no-store`; storage that cannot be
//! reached is `503 temporarily_unavailable`; anything else is `500 server_error` with no
//! detail. A client mistake is never a 500. What reaches the log is the error code, the
//! client id when known and, for internal failures, a reason that never holds a token,
//! code, secret or password (store errors redact URLs; jose errors carry no token bytes).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keygate_oauth::{OAuthError, RandomUnavailable};
use keygate_store::StoreError;

/// The realm of every `WWW-Authenticate` challenge.
pub const REALM: &str = "keygate";

/// Why the key manager could not start, or an operation of it failed.
#[derive(Debug, thiserror::Error)]
pub enum KmError {
    /// The configuration cannot be used.
    #[error("key manager configuration: {0}")]
    Config(String),
    /// A keystore could not be read or holds no usable key.
    #[error("keystore {file}: {reason}")]
    Keystore {
        /// The file.
        file: String,
        /// What is wrong, without any password.
        reason: String,
    },
    /// A database operation failed.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// A signing or encryption key is unusable.
    #[error("key: {0}")]
    Key(String),
    /// The system random generator failed.
    #[error("random generator unavailable")]
    RandomUnavailable,
    /// Signing keys come from `[keystore.primary]` and cannot be rotated here.
    #[error("signing keys come from the configured keystore; replace the keystore to rotate")]
    RotationUnavailable,
    /// The request was refused for a reason the caller should see.
    #[error("{0}")]
    Refused(OAuthError),
}

impl From<RandomUnavailable> for KmError {
    fn from(_: RandomUnavailable) -> Self {
        Self::RandomUnavailable
    }
}

/// Why a request failed, as the client will be told.
#[derive(Debug)]
pub enum Failure {
    /// The client's mistake (or refusal), answered with the RFC error object.
    OAuth(OAuthError),
    /// The body is over the size limit: `413` with `invalid_request`.
    TooLarge,
    /// The endpoint does not take this HTTP method: `405` with `invalid_request`.
    MethodNotAllowed,
    /// The caller is known but may not use the resource: `403` with the error.
    Forbidden(OAuthError),
    /// What the request names does not exist: `404` with the error.
    NotFound(OAuthError),
    /// Storage (or another dependency) cannot be reached: `503 temporarily_unavailable`.
    Unavailable,
    /// An internal failure: `500 server_error`, no detail.
    Internal,
}

impl Failure {
    /// A failure for a [`StoreError`]: unavailable databases are `503`, the rest `500`;
    /// logged here with the store's own (redacted) message.
    pub fn storage(error: &StoreError) -> Self {
        match error {
            StoreError::Unavailable { .. } => {
                tracing::warn!(%error, "storage unavailable");
                Self::Unavailable
            }
            // A value from the request that the store cannot hold (too long, say).
            StoreError::Invalid { field, .. } => {
                tracing::info!(field = *field, "request value refused by storage");
                Self::OAuth(OAuthError::invalid_request(
                    "a request value is not acceptable",
                ))
            }
            _ => {
                tracing::error!(%error, "storage failure");
                Self::Internal
            }
        }
    }

    /// An internal failure, logged with `reason` (which must hold no secret).
    pub fn internal(reason: &dyn std::fmt::Display) -> Self {
        tracing::error!(%reason, "key manager failure");
        Self::Internal
    }

    /// The OAuth error the response carries.
    pub fn oauth_error(&self) -> OAuthError {
        match self {
            Self::OAuth(e) | Self::Forbidden(e) | Self::NotFound(e) => e.clone(),
            Self::TooLarge => OAuthError::invalid_request("request body too large"),
            Self::MethodNotAllowed => {
                OAuthError::invalid_request("the endpoint does not accept this method")
            }
            Self::Unavailable => OAuthError::TemporarilyUnavailable(None),
            Self::Internal => OAuthError::ServerError(None),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            other => StatusCode::from_u16(other.oauth_error().status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<OAuthError> for Failure {
    fn from(error: OAuthError) -> Self {
        match error {
            OAuthError::TemporarilyUnavailable(_) => Self::Unavailable,
            OAuthError::ServerError(_) => Self::internal(&error),
            other => Self::OAuth(other),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::storage(&error)
    }
}

impl From<KmError> for Failure {
    fn from(error: KmError) -> Self {
        match error {
            KmError::Storage(e) => Self::storage(&e),
            KmError::Refused(e) => Self::from(e),
            other => Self::internal(&other),
        }
    }
}

impl From<RandomUnavailable> for Failure {
    fn from(error: RandomUnavailable) -> Self {
        Self::internal(&error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let error = self.oauth_error();
        let status = self.status();
        if status.is_client_error() {
            tracing::debug!(
                error = error.as_str(),
                status = status.as_u16(),
                "request refused"
            );
        }
        let mut response = (status, axum::Json(error.to_json())).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if let Some(challenge) = error.www_authenticate(REALM)
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if matches!(self, Self::MethodNotAllowed) {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// Marks a response as not to be cached (RFC 6749 §5.1: `Cache-Control: no-store` and
/// `Pragma: no-cache`).
pub fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("pragma"),
        HeaderValue::from_static("no-cache"),
    );
}

/// A JSON response that must not be cached: token, introspection and userinfo answers.
pub fn no_store_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    no_store(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn client_errors_carry_the_rfc_object_and_no_store() {
        let response = Failure::from(OAuthError::invalid_grant("code expired")).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(
            body_of(response).await,
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"})
        );
    }

    #[tokio::test]
    async fn basic_failures_are_challenged() {
        let response = Failure::from(OAuthError::invalid_client_basic(
            "client authentication failed",
        ))
        .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"keygate\""
        );
        let bearer = Failure::from(OAuthError::InvalidToken(None)).into_response();
        assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
        assert!(
            bearer.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer realm=\"keygate\"")
        );
    }

    #[tokio::test]
    async fn internal_failures_say_nothing() {
        let response = Failure::from(OAuthError::server_error("secret detail")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_of(response).await,
            serde_json::json!({"error": "server_error"})
        );
        let response = Failure::Unavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body_of(response).await,
            serde_json::json!({"error": "temporarily_unavailable"})
        );
    }

    #[tokio::test]
    async fn size_and_method_failures_are_invalid_request() {
        let too_large = Failure::TooLarge.into_response();
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body_of(too_large).await["error"], "invalid_request");
        let method = Failure::MethodNotAllowed.into_response();
        assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(method.headers()[header::ALLOW], "POST");
        assert_eq!(body_of(method).await["error"], "invalid_request");
    }

    #[test]
    fn storage_errors_split_into_unavailable_and_internal() {
        let not_found = StoreError::not_found("oauth client");
        assert!(matches!(Failure::storage(&not_found), Failure::Internal));
        let invalid = StoreError::Invalid {
            field: "subject",
            reason: "too long".into(),
        };
        assert_eq!(Failure::storage(&invalid).status(), StatusCode::BAD_REQUEST);
        let km: Failure = KmError::Refused(OAuthError::invalid_scope("x")).into();
        assert_eq!(km.status(), StatusCode::BAD_REQUEST);
        let random: Failure = KmError::RandomUnavailable.into();
        assert_eq!(random.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
