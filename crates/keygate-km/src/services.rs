//! The key manager's services beyond the OAuth endpoints (DESIGN §4): dynamic client
//! registration (RFC 7591/7592) for anyone it admits, and, for the other roles, the
//! key-manager operations the control plane creates OAuth clients with, the key
//! validation service gateways ask about opaque tokens, and the throttle data endpoints.
//!
//! [`ServiceSettings`] is what the configuration says about them; [`KeyManager::service_routes`]
//! mounts them behind the one access-control middleware of [`crate::access_control`].
//! Their bodies are JSON, read strictly by [`read_json`]: `application/json`, at most
//! [`MAX_JSON_BYTES`], one object.
//!
//! Paths are WSO2's. The key validation service answers under `/services/`, WSO2's
//! service base: gateways find it at `{service_url}key-validation/v1/validate`, whatever
//! path `[apim.key_manager] service_url` names, as long as a proxy in front maps it there.

use crate::access_control::{self, AccessControl, CredentialCache};
use crate::dcr;
use crate::errors::Failure;
use crate::manager::KeyManager;
use crate::operations;
use crate::settings::REGISTRATION_PATH;
use crate::throttle_data;
use crate::validation::{self, ValidationCache};
use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::middleware;
use axum::routing::{get, post};
use keygate_config::{Config, ResourceAccessSettings};
use keygate_model::validation::KEY_VALIDATION_PATH;
use keygate_oauth::OAuthError;
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::sync::OnceCell;

/// WSO2's base path of the key manager's services.
pub const SERVICES_BASE_PATH: &str = "/services/";
/// Path of the control plane's client operations (WSO2 IS-KM's).
pub const OPERATIONS_REGISTER_PATH: &str = "/keymanager-operations/dcr/register";
/// Path of the user-claims operation.
pub const USER_CLAIMS_PATH: &str = "/keymanager-operations/user-info/claims";
/// Path of the global policies' key templates.
pub const KEY_TEMPLATES_PATH: &str = "/throttle/data/v1/keyTemplates";
/// Path of the deny conditions.
pub const BLOCK_CONDITIONS_PATH: &str = "/throttle/data/v1/block";
/// Largest JSON body accepted: 64 KiB.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// The media type of every JSON body.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The path of the key validation service on the key manager.
pub fn key_validation_path() -> String {
    format!("{SERVICES_BASE_PATH}{KEY_VALIDATION_PATH}")
}

/// What the configuration says about the services.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// `[apim.key_manager] username`: the user the other roles call the services as
    /// (the super admin unless configured). Users with the administrator role may call
    /// them too.
    pub service_user: String,
    /// `[resource_access_control]` and `[[resource.access_control]]`.
    pub access: ResourceAccessSettings,
    /// `[apim.cache.km_token]`: how long a key validation answer is kept; `None` when the
    /// cache is off (WSO2's default).
    pub validation_cache: Option<Duration>,
    /// Whether anyone may register a client without credentials (RFC 7591 §3, open
    /// registration). The configuration has no key for it: off unless set in code.
    pub open_registration: bool,
}

impl ServiceSettings {
    /// The settings of a loaded configuration.
    pub fn from_config(config: &Config) -> Self {
        let cache = config.caches.km_token;
        Self {
            service_user: config.key_manager.username.clone(),
            access: config.resource_access.clone(),
            validation_cache: cache.enabled.then_some(cache.expiry),
            open_registration: false,
        }
    }
}

/// The services' state, shared by every request.
#[derive(Debug)]
pub(crate) struct ServiceState {
    /// The access-control rules.
    pub(crate) access: AccessControl,
    /// Recently verified service credentials.
    pub(crate) credentials: CredentialCache,
    /// Key validation answers.
    pub(crate) validation_cache: ValidationCache,
    /// The key registration access tokens are derived with, loaded on first use.
    pub(crate) registration_key: OnceCell<Vec<u8>>,
}

impl ServiceState {
    /// The state for `settings`.
    pub(crate) fn new(settings: &ServiceSettings) -> Self {
        Self {
            access: AccessControl::new(&settings.access),
            credentials: CredentialCache::new(),
            validation_cache: ValidationCache::new(settings.validation_cache),
            registration_key: OnceCell::new(),
        }
    }
}

impl KeyManager {
    /// The services' routes: client registration, key-manager operations, key
    /// validation and throttle data, each behind the access-control middleware.
    pub fn service_routes(&self) -> Router<KeyManager> {
        let registration_item = format!("{REGISTRATION_PATH}/{{client_id}}");
        let operations_item = format!("{OPERATIONS_REGISTER_PATH}/{{client_id}}");
        let regenerate = format!("{operations_item}/regenerate-consumer-secret");
        Router::new()
            .route(REGISTRATION_PATH, post(dcr::register))
            .route(
                &registration_item,
                get(dcr::read).put(dcr::update).delete(dcr::delete),
            )
            .route(OPERATIONS_REGISTER_PATH, post(operations::create))
            .route(
                &operations_item,
                get(operations::read)
                    .put(operations::update)
                    .delete(operations::delete),
            )
            .route(&regenerate, post(operations::regenerate_secret))
            .route(USER_CLAIMS_PATH, post(operations::user_claims))
            .route(&key_validation_path(), post(validation::validate))
            .route(KEY_TEMPLATES_PATH, get(throttle_data::key_templates))
            .route(BLOCK_CONDITIONS_PATH, get(throttle_data::block_conditions))
            .route_layer(middleware::from_fn_with_state(
                self.clone(),
                access_control::guard,
            ))
    }
}

/// Reads a JSON object body: `Content-Type: application/json`, at most
/// [`MAX_JSON_BYTES`]. A body that is not one JSON object is `invalid_request`.
pub(crate) async fn read_json(request: Request) -> Result<Map<String, Value>, Failure> {
    let (parts, body) = request.into_parts();
    let media_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if !media_type.eq_ignore_ascii_case(JSON_CONTENT_TYPE) {
        return Err(OAuthError::invalid_request("Content-Type must be application/json").into());
    }
    let bytes = axum::body::to_bytes(body, MAX_JSON_BYTES)
        .await
        .map_err(|_| Failure::TooLarge)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OAuthError::invalid_request("the body must be a JSON object").into()),
        Err(_) => Err(OAuthError::invalid_request("the body is not valid JSON").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(content_type: Option<&str>, body: impl Into<Body>) -> Request {
        let mut builder = axum::http::Request::post("/x");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(body.into()).unwrap()
    }

    #[tokio::test]
    async fn json_bodies_are_one_object_of_the_json_type() {
        let map = read_json(request(
            Some("application/json; charset=utf-8"),
            r#"{"a":1}"#,
        ))
        .await
        .unwrap();
        assert_eq!(map["a"], 1);
        for (ct, body) in [
            (None, r#"{"a":1}"#),
            (Some("text/plain"), r#"{"a":1}"#),
            (Some("application/json"), "[1]"),
            (Some("application/json"), "{"),
        ] {
            let e = read_json(request(ct, body)).await.unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{ct:?} {body}");
            assert_eq!(e.oauth_error().as_str(), "invalid_request");
        }
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_JSON_BYTES));
        let e = read_json(request(Some("application/json"), big))
            .await
            .unwrap_err();
        assert_eq!(e.status().as_u16(), 413);
    }

    #[test]
    fn the_validation_service_sits_under_wso2s_service_base() {
        assert_eq!(
            key_validation_path(),
            "/services/key-validation/v1/validate"
        );
        let settings = ServiceSettings::from_config(&Config::embedded_default());
        assert_eq!(settings.service_user, "admin");
        assert_eq!(settings.validation_cache, None);
        assert!(!settings.open_registration);
    }
}
