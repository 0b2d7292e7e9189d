//! Every error the control plane's REST APIs answer with, and the one place they become
//! HTTP responses: validation failures are 400 with a body naming each bad field,
//! conflicts 409, unknown ids 404, missing credentials 401 (with a Basic challenge),
//! missing permission 403, storage trouble 503 or 500. Bodies follow WSO2's REST error
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
    /// The caller lacks the permission.
    #[error("{0}")]
    Forbidden(String),
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
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
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
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keygate\""),
            );
        }
        response
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
    fn unauthenticated_carries_a_basic_challenge() {
        let response = ControlError::Unauthenticated.into_response();
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Basic realm=\"keygate\""
        );
    }
}
