//! Opaque access tokens (application token type `OAUTH`): the gateway cannot read them,
//! so the key manager's key validation service (`POST {service_url}key-validation/v1/
//! validate`, DESIGN §4) says what they are. [`KeyValidator`] is that call; the HTTP
//! client that makes it lives with the server wiring.
//!
//! [`CachingKeyValidator`] puts WSO2's gateway token cache in front of it
//! (`[apim.cache.gateway_token]`, 15 minutes by default) and an invalid-token cache that
//! answers a token the key manager refused without asking again, so each token costs the
//! key manager one call per cache period, not one per request (product-apim#9253). Only
//! answers about the token itself are cached: a refusal that depends on the API (no
//! subscription, wrong scope) is not.

use crate::errors::{GatewayError, InvalidToken};
use async_trait::async_trait;
use keygate_model::{KeyType, Secret};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The most distinct invalid tokens remembered.
pub const INVALID_TOKEN_CACHE_CAPACITY: u64 = 100_000;
/// The most distinct valid opaque tokens remembered.
pub const TOKEN_CACHE_CAPACITY: u64 = 1_000_000;

/// What the gateway asks the key manager (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValidationRequest {
    /// API context with version, e.g. `/pets/1.0.0`.
    pub context: String,
    /// API version; `_default_1.0.0` when called through the default version, as WSO2
    /// sends it.
    pub version: String,
    /// The access token.
    #[serde(serialize_with = "expose_secret")]
    pub token: Secret,
    /// `Any`, `None`, `Application` or `Application_User`.
    pub required_auth_level: String,
    /// The matched URL template.
    pub matching_resource: String,
    /// The HTTP verb.
    pub http_verb: String,
    /// The client's address, when known.
    pub client_ip: Option<String>,
}

fn expose_secret<S: serde::Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// What the key manager answers (DESIGN §4): whether the token is authorized and, if so,
/// who it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValidationInfo {
    /// Whether the call may go on.
    pub authorized: bool,
    /// The WSO2 code when it may not (900901, 900903, 900904, 900905, 900907-900910).
    pub validation_status: u32,
    /// PRODUCTION or SANDBOX.
    pub key_type: Option<KeyType>,
    /// `APPLICATION` or `APPLICATION_USER`.
    pub user_type: Option<String>,
    /// The end user, `name@tenant`.
    pub end_user: Option<String>,
    /// The OAuth client the token was issued to.
    pub consumer_key: Option<String>,
    /// Application numeric id.
    pub application_id: Option<String>,
    /// Application uuid.
    pub application_uuid: Option<String>,
    /// Application name.
    pub application_name: Option<String>,
    /// Application tier.
    pub application_tier: Option<String>,
    /// The application's owner.
    pub subscriber: Option<String>,
    /// Subscription tier.
    pub subscription_tier: Option<String>,
    /// Scopes of the token.
    pub scopes: Vec<String>,
    /// When the token was issued, unix milliseconds.
    pub issued_time_ms: Option<i64>,
    /// Its validity, milliseconds; negative for never-expiring.
    pub validity_period_ms: Option<i64>,
}

impl KeyValidationInfo {
    /// When the token expires, unix milliseconds, if it does.
    pub fn expires_at_ms(&self) -> Option<i64> {
        match (self.issued_time_ms, self.validity_period_ms) {
            (Some(issued), Some(validity)) if validity >= 0 => {
                Some(issued.saturating_add(validity))
            }
            _ => None,
        }
    }
}

/// Why the key manager could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyValidatorError {
    /// Not reachable, or it failed.
    #[error("key validation service unavailable: {0}")]
    Unavailable(String),
}

/// The key manager's key validation service.
#[async_trait]
pub trait KeyValidator: Send + Sync + fmt::Debug {
    /// Validates an opaque token for one API resource.
    async fn validate(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, KeyValidatorError>;
}

/// The gateway error for a refusal code of the key manager.
pub fn refusal(validation_status: u32) -> GatewayError {
    match validation_status {
        900_903 => GatewayError::TokenExpired,
        900_904 => GatewayError::TokenInactive,
        900_905 => GatewayError::IncorrectTokenType,
        900_906 => GatewayError::NoMatchingResource,
        900_907 => GatewayError::SubscriptionBlocked,
        900_908 => GatewayError::ResourceForbidden,
        900_909 => GatewayError::SubscriptionInactive,
        900_910 => GatewayError::InvalidScope,
        _ => GatewayError::InvalidCredentials(InvalidToken::KeyManagerRejected),
    }
}

/// Whether a refusal is about the token alone, and so the same for every API.
fn token_level(error: &GatewayError) -> bool {
    matches!(
        error,
        GatewayError::InvalidCredentials(_)
            | GatewayError::TokenExpired
            | GatewayError::TokenInactive
    )
}

/// A [`KeyValidator`] behind the gateway token cache and the invalid-token cache.
#[derive(Clone)]
pub struct CachingKeyValidator {
    inner: Arc<dyn KeyValidator>,
    valid: Option<Cache<Arc<str>, Arc<KeyValidationInfo>>>,
    invalid: Option<Cache<Arc<str>, GatewayError>>,
}

impl fmt::Debug for CachingKeyValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingKeyValidator")
            .field("inner", &self.inner)
            .field("cached", &self.valid.is_some())
            .finish()
    }
}

impl CachingKeyValidator {
    /// `inner` with caches kept for `expiry`; `None` turns caching off.
    pub fn new(inner: Arc<dyn KeyValidator>, expiry: Option<Duration>) -> Self {
        let valid = expiry.map(|ttl| {
            Cache::builder()
                .max_capacity(TOKEN_CACHE_CAPACITY)
                .time_to_live(ttl)
                .build()
        });
        let invalid = expiry.map(|ttl| {
            Cache::builder()
                .max_capacity(INVALID_TOKEN_CACHE_CAPACITY)
                .time_to_live(ttl)
                .build()
        });
        Self {
            inner,
            valid,
            invalid,
        }
    }

    /// The token's validation info, from the cache or the key manager. A token-level
    /// refusal is an `Err` and is remembered; `now_ms` refuses a cached token that has
    /// expired since.
    pub async fn validate(
        &self,
        token: &str,
        request: impl FnOnce() -> KeyValidationRequest,
        now_ms: i64,
    ) -> Result<Arc<KeyValidationInfo>, GatewayError> {
        if let Some(error) = self.invalid.as_ref().and_then(|c| c.get(token)) {
            return Err(error);
        }
        let cached = self.valid.as_ref().and_then(|c| c.get(token));
        if self.valid.is_some() {
            crate::observe::cache_lookup("opaque_token", cached.is_some());
        }
        if let Some(info) = cached {
            if info.expires_at_ms().is_some_and(|exp| exp <= now_ms) {
                self.forget(token);
                return Err(GatewayError::TokenExpired);
            }
            return Ok(info);
        }
        let info = self.inner.validate(&request()).await.map_err(|error| {
            tracing::warn!(%error, "key validation failed");
            GatewayError::AuthenticationFailure("key validation service unavailable")
        })?;
        let key: Arc<str> = token.into();
        if !info.authorized {
            let error = refusal(info.validation_status);
            if token_level(&error)
                && let Some(cache) = &self.invalid
            {
                cache.insert(key, error.clone());
            }
            return Err(error);
        }
        let info = Arc::new(info);
        if let Some(cache) = &self.valid {
            cache.insert(key, info.clone());
        }
        Ok(info)
    }

    /// Drops what is cached about a token (it was revoked).
    pub fn forget(&self, token: &str) {
        if let Some(cache) = &self.valid {
            cache.invalidate(token);
        }
    }
}
