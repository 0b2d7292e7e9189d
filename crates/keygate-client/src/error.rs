//! What can go wrong talking to keygate: the server refused (its status and error body,
//! with every field it named), it could not be reached, or it answered something that is
//! not what its API documents.

use serde_json::Value;
use std::fmt;

/// One field the server named as bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field, in the request's own naming (`context`, `operations[0].verb`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A refusal, as the server explained it: WSO2's REST error shape
/// (`{code, message, description, error: [{code, message, field}]}`) or an OAuth 2.0
/// error object (RFC 6749 §5.2: `{error, error_description}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// HTTP status.
    pub status: u16,
    /// The short message (`Bad Request`, `invalid_grant`).
    pub message: String,
    /// The longer explanation, when there is one.
    pub description: Option<String>,
    /// The fields the server named.
    pub fields: Vec<FieldProblem>,
}

impl ServerError {
    /// Reads an error body; anything unrecognised becomes the message as it came.
    pub fn from_body(status: u16, body: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        match parsed {
            Some(v) if v.get("error").and_then(Value::as_str).is_some() => Self {
                status,
                message: text(&v, "error").unwrap_or_default(),
                description: text(&v, "error_description"),
                fields: Vec::new(),
            },
            Some(v) if v.get("message").is_some() => Self {
                status,
                message: text(&v, "message").unwrap_or_default(),
                description: text(&v, "description"),
                fields: v
                    .get("error")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .map(|e| FieldProblem {
                                field: text(e, "field").unwrap_or_default(),
                                message: text(e, "message").unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            _ => Self {
                status,
                message: if body.trim().is_empty() {
                    format!("HTTP {status}")
                } else {
                    body.trim().chars().take(500).collect()
                },
                description: None,
                fields: Vec::new(),
            },
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)?;
        if let Some(description) = self.description.as_deref().filter(|d| *d != self.message) {
            write!(f, ": {description}")?;
        }
        for problem in &self.fields {
            write!(f, "\n  {}: {}", problem.field, problem.message)?;
        }
        Ok(())
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("the server refused: {0}")]
    Refused(ServerError),
    /// The server could not be reached, or the connection failed (TLS included).
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered something this client cannot read.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    /// A local problem: the server URL, a CA file.
    #[error("{0}")]
    Setup(String),
    /// No such resource among those listed (looked up by name).
    #[error("{0} not found")]
    NotFound(String),
}

impl ClientError {
    /// The server's refusal, if that is what this is.
    pub fn refusal(&self) -> Option<&ServerError> {
        match self {
            Self::Refused(e) => Some(e),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(error: reqwest::Error) -> Self {
        // The URL reqwest adds carries no credentials: they travel in headers.
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        Self::Transport(text)
    }
}

/// The result of a call.
pub type ClientResult<T> = Result<T, ClientError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_errors_keep_their_fields() {
        let e = ServerError::from_body(
            400,
            r#"{"code":400,"message":"Bad Request","description":"invalid request","error":[{"code":400,"message":"is required","field":"name"}]}"#,
        );
        assert_eq!(e.message, "Bad Request");
        assert_eq!(e.fields[0].field, "name");
        assert!(e.to_string().contains("name: is required"));
    }

    #[test]
    fn oauth_errors_are_read() {
        let e = ServerError::from_body(
            400,
            r#"{"error":"invalid_grant","error_description":"wrong credentials"}"#,
        );
        assert_eq!(e.message, "invalid_grant");
        assert_eq!(e.to_string(), "invalid_grant (400): wrong credentials");
    }

    #[test]
    fn other_bodies_are_kept_short() {
        let e = ServerError::from_body(502, "");
        assert_eq!(e.message, "HTTP 502");
        let e = ServerError::from_body(500, &"x".repeat(2000));
        assert_eq!(e.message.len(), 500);
    }
}
