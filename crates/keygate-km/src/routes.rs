//! The key manager's routes, as one axum [`Router`] the server mounts on the management
//! listener. Handlers only read the request, call into [`crate::manager`]'s state and
//! return; errors become responses in [`crate::errors`]. An endpoint called with a method
//! it does not take answers `405` with an `invalid_request` object rather than an empty
//! body.

use crate::errors::Failure;
use crate::http::read_form;
use crate::manager::KeyManager;
use crate::settings::{
    INTROSPECT_PATH, JWKS_PATH, OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH, REVOKE_PATH,
    TOKEN_PATH, USERINFO_PATH,
};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

impl KeyManager {
    /// The key manager's HTTP surface: token, introspection, revocation, UserInfo, JWK
    /// Set and metadata endpoints.
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
            .route(OAUTH_METADATA_PATH, get(metadata));
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
