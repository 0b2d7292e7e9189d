//! The key manager's HTTP surface: its routes, as one axum [`Router`] the server mounts
//! on the management listener, and the strict reading of requests before any protocol
//! logic sees them — form bodies only as `application/x-www-form-urlencoded` (RFC 6749
//! §3.2, RFC 7009 §2.1, RFC 7662 §2.1), at most [`MAX_FORM_BYTES`] (else `413`), with
//! repeated parameters refused (RFC 6749 §3.1) by [`keygate_oauth::Form`]; at most one
//! `Authorization` header; and the TLS client certificate chain the server attached, if
//! any. Every defect is `invalid_request`, never a 500; an endpoint called with a method
//! it does not take answers `405` with an `invalid_request` object.
//!
//! Handlers only read the request, call into the key manager's state and return; errors
//! become responses in [`crate::errors`].

use crate::errors::Failure;
use crate::manager::KeyManager;
use crate::mtls::ClientCertificates;
use crate::settings::{
    AUTHORIZE_PATH, INTROSPECT_PATH, JWKS_PATH, LOGOUT_PATH, OAUTH_METADATA_PATH,
    OPENID_CONFIGURATION_PATH, REVOKE_PATH, TOKEN_PATH, USERINFO_PATH,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keygate_oauth::{Form, OAuthError};

/// Largest form body accepted: 64 KiB.
pub const MAX_FORM_BYTES: usize = keygate_oauth::form::MAX_FORM_BYTES;

/// The media type of every form body (RFC 6749 Appendix B).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A form request as the endpoints need it.
#[derive(Debug)]
pub struct FormRequest {
    /// The parsed body.
    pub form: Form,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    /// The TLS client certificate chain, if the client presented one.
    pub certificates: Option<ClientCertificates>,
}

/// Reads a POSTed form: content type, size and parameters checked.
pub async fn read_form(request: Request) -> Result<FormRequest, Failure> {
    let (parts, body) = request.into_parts();
    check_form_content_type(&parts.headers)?;
    let authorization = authorization(&parts.headers)?;
    let certificates = parts.extensions.get::<ClientCertificates>().cloned();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_FORM_BYTES as u64) {
        return Err(Failure::TooLarge);
    }
    let bytes = read_body(body).await?;
    let form = Form::parse(&bytes)?;
    Ok(FormRequest {
        form,
        authorization,
        certificates,
    })
}

/// Reads a body of at most [`MAX_FORM_BYTES`].
async fn read_body(body: Body) -> Result<Vec<u8>, Failure> {
    match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        // Over the limit, or the client stopped sending: either way there is no form.
        Err(_) => Err(Failure::TooLarge),
    }
}

/// Checks that the body is declared as a form: exactly one `Content-Type`, whose media
/// type (parameters such as `charset` aside) is [`FORM_CONTENT_TYPE`].
pub fn check_form_content_type(headers: &HeaderMap) -> Result<(), Failure> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        )
        .into());
    };
    let media_type = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if media_type.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        Ok(())
    } else {
        Err(
            OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded")
                .into(),
        )
    }
}

/// The `Authorization` header: absent, or exactly one of visible ASCII.
pub fn authorization(headers: &HeaderMap) -> Result<Option<String>, Failure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value
            .to_str()
            .map(|v| Some(v.to_owned()))
            .map_err(|_| OAuthError::invalid_request("malformed Authorization header").into()),
        (Some(_), Some(_)) => {
            Err(OAuthError::invalid_request("more than one Authorization header").into())
        }
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1); `invalid_token` when
/// there is none or it is malformed.
pub fn bearer_token(headers: &HeaderMap) -> Result<String, Failure> {
    let header = authorization(headers)?
        .ok_or(OAuthError::InvalidToken(None))
        .map_err(Failure::from)?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| Failure::from(OAuthError::InvalidToken(None)))?;
    let token = token.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.chars().all(b64token) {
        return Err(OAuthError::InvalidToken(None).into());
    }
    Ok(token.to_owned())
}

/// The client certificate chain attached to a request, if any.
pub fn certificates(request: &Request) -> Option<ClientCertificates> {
    request.extensions().get::<ClientCertificates>().cloned()
}

impl KeyManager {
    /// The key manager's HTTP surface: token, introspection, revocation, UserInfo, JWK
    /// Set and metadata endpoints, and the authorization and logout pages.
    pub fn router(&self) -> Router {
        let issuer_path = self
            .inner
            .settings
            .issuer
            .strip_prefix(&self.inner.settings.public_base_url)
            .filter(|p| p.starts_with('/') && *p != "/")
            .unwrap_or(TOKEN_PATH)
            .to_owned();
        let mut router = Router::new()
            .route(TOKEN_PATH, post(token).fallback(method_not_allowed))
            .route(
                INTROSPECT_PATH,
                post(introspect).fallback(method_not_allowed),
            )
            .route(REVOKE_PATH, post(revoke).fallback(method_not_allowed))
            .route(USERINFO_PATH, get(userinfo).post(userinfo))
            .route(JWKS_PATH, get(jwks))
            .route(OPENID_CONFIGURATION_PATH, get(metadata))
            .route(OAUTH_METADATA_PATH, get(metadata))
            .route(AUTHORIZE_PATH, get(authorize).post(authorize))
            .route(LOGOUT_PATH, get(logout).post(logout))
            .route(
                &crate::version::version_path(),
                get(crate::version::version),
            );
        // Discovery derived from an issuer with a path (OIDC Discovery §4.1, RFC 8414 §3.1).
        router = router
            .route(
                &format!("{issuer_path}{OPENID_CONFIGURATION_PATH}"),
                get(metadata),
            )
            .route(
                &format!("{OAUTH_METADATA_PATH}{issuer_path}"),
                get(metadata),
            );
        router = router.merge(self.service_routes());
        router.with_state(self.clone())
    }
}

async fn token(State(km): State<KeyManager>, request: Request) -> Result<Response, Failure> {
    let form = read_form(request).await?;
    km.inner.token(form).await
}

async fn introspect(State(km): State<KeyManager>, request: Request) -> Result<Response, Failure> {
    let form = read_form(request).await?;
    km.inner.introspect(form).await
}

async fn revoke(State(km): State<KeyManager>, request: Request) -> Result<Response, Failure> {
    let form = read_form(request).await?;
    km.inner.revoke(form).await
}

async fn userinfo(State(km): State<KeyManager>, request: Request) -> Result<Response, Failure> {
    km.inner.userinfo(request).await
}

async fn authorize(State(km): State<KeyManager>, request: Request) -> Response {
    km.authorize(request).await
}

async fn logout(State(km): State<KeyManager>, request: Request) -> Response {
    km.logout(request).await
}

async fn jwks(State(km): State<KeyManager>) -> Response {
    km.inner
        .signing
        .refresh_if_stale(&km.inner.stores, km.inner.clock.as_ref())
        .await;
    km.inner.jwks_response()
}

async fn metadata(State(km): State<KeyManager>) -> Response {
    km.inner.metadata_response()
}

async fn method_not_allowed() -> Response {
    Failure::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(content_type: Option<&str>, body: impl Into<Body>) -> Request {
        let mut builder = axum::http::Request::post("/oauth2/token");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(body.into()).unwrap()
    }

    fn error_of(failure: Failure) -> (u16, String) {
        (
            failure.status().as_u16(),
            failure.oauth_error().as_str().to_owned(),
        )
    }

    #[tokio::test]
    async fn forms_need_the_form_content_type() {
        let ok = read_form(request(
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            "grant_type=client_credentials",
        ))
        .await
        .unwrap();
        assert_eq!(ok.form.get("grant_type"), Some("client_credentials"));
        for ct in [None, Some("application/json"), Some("text/plain")] {
            let e = read_form(request(ct, "grant_type=x")).await.unwrap_err();
            assert_eq!(error_of(e), (400, "invalid_request".into()), "{ct:?}");
        }
    }

    #[tokio::test]
    async fn oversized_and_duplicated_bodies_are_refused() {
        let big = format!("grant_type=client_credentials&x={}", "a".repeat(70_000));
        let e = read_form(request(Some(FORM_CONTENT_TYPE), big))
            .await
            .unwrap_err();
        assert_eq!(error_of(e), (413, "invalid_request".into()));
        let e = read_form(request(Some(FORM_CONTENT_TYPE), "scope=a&scope=b"))
            .await
            .unwrap_err();
        assert_eq!(error_of(e), (400, "invalid_request".into()));
    }

    #[test]
    fn authorization_headers_are_single() {
        let mut headers = HeaderMap::new();
        assert_eq!(authorization(&headers).unwrap(), None);
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eA=="),
        );
        assert_eq!(
            authorization(&headers).unwrap().as_deref(),
            Some("Basic eA==")
        );
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eQ=="),
        );
        assert!(authorization(&headers).is_err());
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc.DEF-123_~+/="),
        );
        assert_eq!(bearer_token(&headers).unwrap(), "abc.DEF-123_~+/=");
        for bad in ["Basic abc", "Bearer", "Bearer a b", "Bearer a\"b"] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            let e = bearer_token(&headers).unwrap_err();
            assert_eq!(error_of(e), (401, "invalid_token".into()), "{bad}");
        }
    }
}
