//! What the key manager publishes about itself: its JWK Set (`/oauth2/jwks`, RFC 7517 §5)
//! and its metadata, as OpenID Provider configuration (OIDC Discovery §4,
//! `/.well-known/openid-configuration`) and authorization server metadata (RFC 8414,
//! `/.well-known/oauth-authorization-server`).
//!
//! Because WSO2's issuer is the token endpoint (`…/oauth2/token`), clients that derive
//! the discovery URL from the issuer ask for `/oauth2/token/.well-known/openid-configuration`
//! (OIDC Discovery §4.1) or `/.well-known/oauth-authorization-server/oauth2/token` (RFC
//! 8414 §3.1); the same document is served there. It lists every endpoint, including the
//! authorization, logout and registration endpoints that other parts of the key manager
//! serve, the grant types, the client authentication methods — the RFC 8705 ones only
//! while mutual TLS is on — and `S256` as the only PKCE method.

use crate::manager::Inner;
use crate::settings::{
    AUTHORIZE_PATH, INTROSPECT_PATH, JWKS_PATH, LOGOUT_PATH, REGISTRATION_PATH, REVOKE_PATH,
    TOKEN_PATH, USERINFO_PATH,
};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keygate_jose::JwsAlgorithm;
use keygate_oauth::grant::grant_types;
use serde_json::{Value, json};

/// How long clients and gateways may cache the JWK Set and metadata: short, so that a
/// rotated key is picked up quickly.
pub const METADATA_MAX_AGE_SECONDS: u32 = 60;

/// Scopes OpenID Connect defines (OIDC Core §5.4), which the UserInfo endpoint honours.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "phone"];

impl Inner {
    /// The JWK Set response.
    pub(crate) fn jwks_response(&self) -> Response {
        let set = self.signing.jwks(self.clock.now_ms());
        cacheable(json!(set))
    }

    /// The metadata document.
    pub(crate) fn metadata(&self) -> Value {
        let s = &self.settings;
        let mut auth_methods = vec![
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ];
        if s.mutual_tls_enabled {
            auth_methods.extend(["tls_client_auth", "self_signed_tls_client_auth"]);
        }
        let signing_algs: Vec<&str> = JwsAlgorithm::ALL.iter().map(|a| a.name()).collect();
        let id_token_alg = self
            .signing
            .current()
            .map(|k| k.algorithm().name())
            .unwrap_or("RS256");
        let mut metadata = json!({
            "issuer": s.issuer,
            "authorization_endpoint": s.endpoint(AUTHORIZE_PATH),
            "token_endpoint": s.endpoint(TOKEN_PATH),
            "userinfo_endpoint": s.endpoint(USERINFO_PATH),
            "jwks_uri": s.endpoint(JWKS_PATH),
            "revocation_endpoint": s.endpoint(REVOKE_PATH),
            "introspection_endpoint": s.endpoint(INTROSPECT_PATH),
            "end_session_endpoint": s.endpoint(LOGOUT_PATH),
            "registration_endpoint": s.endpoint(REGISTRATION_PATH),
            "scopes_supported": OIDC_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": [
                grant_types::AUTHORIZATION_CODE,
                grant_types::CLIENT_CREDENTIALS,
                grant_types::PASSWORD,
                grant_types::REFRESH_TOKEN,
                grant_types::JWT_BEARER,
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [id_token_alg],
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": signing_algs,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
                "name", "given_name", "family_name", "nickname", "preferred_username",
                "email", "email_verified", "phone_number",
            ],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
        });
        if s.mutual_tls_enabled {
            metadata["tls_client_certificate_bound_access_tokens"] = Value::Bool(true);
        }
        metadata
    }

    /// The metadata response.
    pub(crate) fn metadata_response(&self) -> Response {
        cacheable(self.metadata())
    }
}

/// A JSON response public caches may keep for [`METADATA_MAX_AGE_SECONDS`].
fn cacheable(body: Value) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={METADATA_MAX_AGE_SECONDS}"))
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
