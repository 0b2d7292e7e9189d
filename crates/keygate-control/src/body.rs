//! Reading JSON request bodies and query strings so that input that does not fit is a
//! 400 naming the field that failed (`defaultLimit.requestCount.unitTime`, `limit`), never
//! axum's plain-text rejection.

use crate::errors::{ControlError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body of type `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// `bytes` as a `T`, or the field that failed.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ControlError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let parent = (path != "." && !path.is_empty()).then_some(path);
        // A missing field is reported at its parent; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (parent, missing) {
            (Some(parent), Some(name)) => format!("{parent}.{name}"),
            (None, Some(name)) => name.to_owned(),
            (Some(parent), None) => parent,
            (None, None) => "body".to_owned(),
        };
        // serde_json appends the position; the field names the place well enough.
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        ControlError::Invalid(vec![FieldError::new(field, message)])
    })
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ControlError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| {
                let essence = v.split(';').next().unwrap_or_default().trim();
                essence.eq_ignore_ascii_case("application/json")
                    || essence.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ControlError::invalid(
                "Content-Type",
                "must be application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ControlError::invalid("body", "could not be read"))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Query parameters of type `T`.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| QueryParams(value))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                match detail.split_once(": ") {
                    Some((field, message)) if !field.contains(' ') => {
                        ControlError::invalid(field, message)
                    }
                    _ => ControlError::invalid("query", detail),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "read by serde only")]
    struct Inner {
        unit_time: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "read by serde only")]
    struct Outer {
        name: String,
        limit: Inner,
    }

    fn field_of(text: &str) -> String {
        match parse::<Outer>(text.as_bytes()).unwrap_err() {
            ControlError::Invalid(fields) => fields[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_failing_field_is_named() {
        assert_eq!(
            field_of(r#"{"name": "x", "limit": {"unit_time": "one"}}"#),
            "limit.unit_time"
        );
        assert_eq!(
            field_of(r#"{"name": 5, "limit": {"unit_time": 1}}"#),
            "name"
        );
        assert_eq!(field_of("not json"), "body");
        assert_eq!(field_of(r#"{"limit": {"unit_time": 1}}"#), "name");
        assert_eq!(field_of(r#"{"name": "x", "limit": {}}"#), "limit.unit_time");
        assert!(parse::<Outer>(br#"{"name": "x", "limit": {"unit_time": 1}}"#).is_ok());
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "read by serde only")]
    struct Paging {
        limit: Option<u32>,
    }

    #[tokio::test]
    async fn bad_query_parameters_are_named() {
        let request = axum::http::Request::builder()
            .uri("/x?limit=many")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        match QueryParams::<Paging>::from_request_parts(&mut parts, &()).await {
            Err(ControlError::Invalid(fields)) => assert_eq!(fields[0].field, "limit"),
            other => panic!("{other:?}"),
        }
    }
}
