//! Every error the control plane's REST APIs answer with, and the one place they become
//! HTTP responses: validation failures are 400 with a body naming each bad field,
//! conflicts 409, unknown ids 404, missing or invalid credentials 401 (with Bearer and
//! Basic challenges, RFC 6750 §3), a missing scope 403 naming it (`insufficient_scope`),
//! a key manager that fails 502, storage trouble 503 or 500. Bodies follow WSO2's REST error
//! shape `{code, message, description, error: [{code, message}]}`; storage details stay
//! in the logs, never in a response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keygate_store::StoreError;
use serde::Serialize;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, in the request's own naming (`context`, `operations[0].verb`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A bad `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a control-plane request failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request body or parameters are invalid; every bad field is named.
    #[error("invalid request: {} bad field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The request is well formed but not allowed in the current state (e.g. a lifecycle
    /// action the API's state does not offer, a subscription to a retired API).
    #[error("{0}")]
    BadState(String),
    /// Something with the same identity exists already.
    #[error("{0}")]
    Conflict(String),
    /// The addressed resource does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(String),
    /// No or wrong credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// A bearer token that is not a valid access token (RFC 6750 §3.1 `invalid_token`).
    #[error("invalid access token: {0}")]
    InvalidToken(String),
    /// The caller lacks the scope (RFC 6750 §3.1 `insufficient_scope`).
    #[error("the caller lacks the scope {0}")]
    MissingScope(&'static str),
    /// The key manager failed or could not be reached.
    #[error("key manager: {0}")]
    KeyManager(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ControlError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// The status the error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::BadState(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthenticated | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::MissingScope(_) => StatusCode::FORBIDDEN,
            Self::KeyManager(_) => StatusCode::BAD_GATEWAY,
            Self::Store(e) if e.is_conflict() => StatusCode::CONFLICT,
            Self::Store(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            Self::Store(StoreError::Invalid { .. }) => StatusCode::BAD_REQUEST,
            Self::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error body.
#[derive(Debug, Serialize)]
struct ErrorBody {
    code: u16,
    message: &'static str,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    error: Vec<FieldErrorBody>,
}

#[derive(Debug, Serialize)]
struct FieldErrorBody {
    code: u16,
    message: String,
    field: String,
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = self.status();
        let description = match &self {
            Self::Store(StoreError::Invalid { field, reason }) => format!("{field}: {reason}"),
            Self::Store(e) if e.is_conflict() => e.to_string(),
            Self::Store(e) if e.is_not_found() => e.to_string(),
            Self::Store(e) => {
                tracing::error!(error = %e, "control plane storage failure");
                "the request could not be completed; try again later".to_owned()
            }
            other => other.to_string(),
        };
        let error = match &self {
            Self::Invalid(fields) => fields
                .iter()
                .map(|f| FieldErrorBody {
                    code: 400,
                    message: f.message.clone(),
                    field: f.field.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            code: status.as_u16(),
            message: status.canonical_reason().unwrap_or("Error"),
            description,
            error,
        };
        let challenge = self.challenge();
        let mut response = (status, Json(body)).into_response();
        for value in challenge {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

impl ControlError {
    /// The `WWW-Authenticate` challenges of the answer (RFC 6750 §3, RFC 7617 §2).
    fn challenge(&self) -> Vec<String> {
        match self {
            Self::Unauthenticated => vec![
                format!("Bearer realm=\"{REALM}\""),
                format!("Basic realm=\"{REALM}\""),
            ],
            Self::InvalidToken(reason) => vec![format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                reason.replace(['"', '\\'], "")
            )],
            Self::MissingScope(scope) => vec![format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
            )],
            _ => Vec::new(),
        }
    }
}

/// The realm of every challenge.
const REALM: &str = "keygate";

impl From<crate::key_manager::KeyManagerError> for ControlError {
    fn from(error: crate::key_manager::KeyManagerError) -> Self {
        use crate::key_manager::KeyManagerError as E;
        match error {
            E::Refused(reason) => Self::BadState(format!("the key manager refused: {reason}")),
            E::InvalidClient => Self::invalid("consumerSecret", "was refused by the key manager"),
            other @ (E::Unavailable(_) | E::NotConfigured) => Self::KeyManager(other.to_string()),
        }
    }
}

/// The result of a handler.
pub type ControlResult<T> = Result<T, ControlError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_error_kind() {
        assert_eq!(
            ControlError::invalid("name", "required").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ControlError::Conflict("x".into()).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ControlError::Store(StoreError::conflict("api")).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ControlError::NotFound("api".into()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ControlError::Unauthenticated.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let response = ControlError::Unauthenticated.into_response();
        let values: Vec<_> = response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            values,
            ["Bearer realm=\"keygate\"", "Basic realm=\"keygate\""]
        );
        let response = ControlError::MissingScope("apim:tier_manage").into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"apim:tier_manage\""
        );
        let response = ControlError::InvalidToken("it \"expired\"".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"keygate\", error=\"invalid_token\", error_description=\"it expired\""
        );
    }
}
