//! The key validation service (`POST /services/key-validation/v1/validate`, DESIGN §4):
//! what a gateway asks about an access token it cannot validate itself — an opaque
//! token of an `OAUTH` application — for one resource of one API. The caller is the
//! `[apim.key_manager]` user by HTTP Basic; the body is a
//! [`keygate_model::validation::KeyValidationRequest`]; the answer is always `200` with a
//! [`KeyValidationInfo`], whose `validation_status` says why a call is refused.
//!
//! The steps are WSO2's (`APIKeyValidationService`), in its order:
//!
//! 1. the token, found by its lookup key whatever the persistence mode
//!    ([`crate::token_keys`]: a JWT of ours by its `jti`, anything else by its SHA-256):
//!    unknown, revoked or superseded is 900901; expired is 900903 (a JWT we no longer
//!    hold a record of is judged by its signature and `exp` the same way);
//! 2. the token's type against the resource's `required_auth_level`: an application
//!    token where `Application_User` is required, or the other way, is 900905;
//! 3. the application, by the key mapping of the token's client (consumer key), and the
//!    API, by context and version (a `_default_` version and a `{version}` context
//!    template are understood); no mapping, no API or no subscription is 900908; a
//!    `BLOCKED` API or subscription, or a `PROD_ONLY_BLOCKED` one with a production key,
//!    is 900907; an `ON_HOLD` or `REJECTED` subscription is 900909;
//! 4. the scopes the resource (`matching_resource` and `http_verb`) needs: the token must
//!    carry one of them, else 900910.
//!
//! An authorized answer names the key type, user type, end user (`name@tenant`), consumer
//! key, application (id, uuid, name, tier), subscriber, subscription tier with its spike
//! arrest and stop-on-quota-reach, API name, publisher and tier, the token's scopes, issue
//! time and validity. `end_user_token` stays empty: keygate's gateways make the backend
//! JWT themselves from these fields.
//!
//! With `[apim.cache.km_token]` on, authorized answers are kept for its expiry under
//! WSO2's key `token:context:version:resource:verb` — the token by its lookup key, never
//! its value. A cached answer is given only after the token's record is read again and found
//! active, so a revocation — on this node or any other — takes effect at the next call;
//! the entries of a token found revoked, and of a client whose secret is regenerated or
//! which is deleted, are dropped.

use crate::errors::{Failure, no_store_json};
use crate::manager::{Inner, KeyManager};
use crate::token_keys::FoundAccessToken;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use keygate_jose::jwt::{self, Validation};
use keygate_model::validation::{KeyValidationInfo, KeyValidationRequest, UserType, status};
use keygate_model::{
    AccessToken, Api, ApiStatus, AuthScheme, KeyType, SubscriptionStatus, TokenState,
};
use keygate_oauth::OAuthError;
use keygate_oauth::lifetime::AccessTokenKind;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// Most validation answers kept.
pub const VALIDATION_CACHE_CAPACITY: u64 = 100_000;

/// An authorized answer, with whose token it is.
#[derive(Debug)]
struct CachedAnswer {
    client_id: String,
    info: KeyValidationInfo,
}

/// Authorized key validation answers, by WSO2's cache key.
pub(crate) struct ValidationCache {
    answers: Option<Cache<String, Arc<CachedAnswer>>>,
}

impl std::fmt::Debug for ValidationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationCache")
            .field("enabled", &self.answers.is_some())
            .finish()
    }
}

impl ValidationCache {
    /// A cache keeping answers for `ttl`, or none.
    pub(crate) fn new(ttl: Option<Duration>) -> Self {
        Self {
            answers: ttl.map(|ttl| {
                Cache::builder()
                    .max_capacity(VALIDATION_CACHE_CAPACITY)
                    .time_to_live(ttl)
                    .support_invalidation_closures()
                    .build()
            }),
        }
    }

    fn get(&self, key: &str) -> Option<KeyValidationInfo> {
        self.answers
            .as_ref()
            .and_then(|c| c.get(key))
            .map(|a| a.info.clone())
    }

    fn insert(&self, key: String, client_id: &str, info: &KeyValidationInfo) {
        if let Some(cache) = &self.answers {
            cache.insert(
                key,
                Arc::new(CachedAnswer {
                    client_id: client_id.to_owned(),
                    info: info.clone(),
                }),
            );
        }
    }

    /// Drops every answer about the token stored under the lookup `key`.
    pub(crate) fn forget_token(&self, key: &str) {
        if let Some(cache) = &self.answers {
            let prefix = format!("{key}:");
            if let Err(e) = cache.invalidate_entries_if(move |key, _| key.starts_with(&prefix)) {
                tracing::warn!(error = %e, "validation cache not invalidated");
            }
        }
    }

    /// Drops every answer about tokens of `client_id`.
    pub(crate) fn forget_client(&self, client_id: &str) {
        if let Some(cache) = &self.answers {
            let client_id = client_id.to_owned();
            if let Err(e) = cache.invalidate_entries_if(move |_, a| a.client_id == client_id) {
                tracing::warn!(error = %e, "validation cache not invalidated");
            }
        }
    }
}

/// `POST /services/key-validation/v1/validate`.
pub(crate) async fn validate(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let principal = request
        .extensions()
        .get::<crate::access_control::Principal>()
        .cloned();
    let headers = request.headers().clone();
    inner.service_caller(principal.as_ref(), &headers).await?;
    let body = crate::services::read_json(request).await?;
    let question: KeyValidationRequest = serde_json::from_value(body.into())
        .map_err(|_| OAuthError::invalid_request("not a key validation request"))?;
    let info = km.validate_key(&question).await?;
    let body = serde_json::to_value(&info).map_err(|e| Failure::internal(&e))?;
    Ok(no_store_json(StatusCode::OK, body))
}

impl KeyManager {
    /// Validates a token for one resource of one API (see the module documentation).
    pub async fn validate_key(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, Failure> {
        let inner = &self.inner;
        let now_ms = inner.clock.now_ms();
        let token = request.token.expose();
        let keys = inner.access_token_keys(token);
        let cache = &inner.services.validation_cache;
        let Some(FoundAccessToken { key, record }) = inner.access_token_by_keys(&keys).await?
        else {
            keys.in_order().for_each(|key| cache.forget_token(key));
            return Ok(KeyValidationInfo::refused(
                inner.unrecorded_token_status(token),
            ));
        };
        if let Some(code) = token_refusal(&record, now_ms) {
            cache.forget_token(&key);
            return Ok(KeyValidationInfo::refused(code));
        }
        let cache_key = format!(
            "{key}:{}:{}:{}:{}",
            request.context, request.version, request.matching_resource, request.http_verb
        );
        if let Some(info) = cache.get(&cache_key) {
            return Ok(info);
        }
        let info = inner.validate_access(request, &record).await?;
        if info.authorized {
            cache.insert(cache_key, &record.client_id, &info);
        }
        tracing::debug!(
            client_id = %record.client_id,
            context = %request.context,
            status = info.validation_status,
            "key validated"
        );
        Ok(info)
    }
}

/// Why a token record cannot be used at `now_ms`, as a WSO2 code.
fn token_refusal(record: &AccessToken, now_ms: i64) -> Option<u32> {
    match record.state {
        TokenState::Revoked | TokenState::Inactive => Some(status::INVALID_CREDENTIALS),
        TokenState::Expired => Some(status::ACCESS_TOKEN_EXPIRED),
        TokenState::Active if now_ms >= record.expires_at_ms() => {
            Some(status::ACCESS_TOKEN_EXPIRED)
        }
        TokenState::Active => None,
    }
}

/// Whom a token speaks for, by the grant that issued it.
fn user_type(record: &AccessToken) -> UserType {
    match AccessTokenKind::for_grant(&record.grant_type) {
        AccessTokenKind::Application => UserType::Application,
        AccessTokenKind::User => UserType::ApplicationUser,
    }
}

/// Whether a token of `user_type` may call a resource that requires `level`.
fn admits(level: AuthScheme, user_type: UserType) -> bool {
    match level {
        AuthScheme::Any | AuthScheme::None => true,
        AuthScheme::Application => user_type == UserType::Application,
        AuthScheme::ApplicationUser => user_type == UserType::ApplicationUser,
    }
}

impl Inner {
    /// The code for a token without a record: 900903 for one of our JWTs that has expired
    /// (its record may be purged), 900901 for anything else.
    fn unrecorded_token_status(&self, token: &str) -> u32 {
        if token.split('.').count() != 3 {
            return status::INVALID_CREDENTIALS;
        }
        let keys = self.signing.verifying_keys(self.clock.now_ms());
        let validation =
            Validation::new(self.clock.now()).with_issuer(self.settings.issuer.clone());
        match jwt::decode(token, &keys, &validation) {
            Err(jwt::JwtError::Expired) => status::ACCESS_TOKEN_EXPIRED,
            _ => status::INVALID_CREDENTIALS,
        }
    }

    /// Steps 2 to 4 for an active token.
    async fn validate_access(
        &self,
        request: &KeyValidationRequest,
        record: &AccessToken,
    ) -> Result<KeyValidationInfo, Failure> {
        let user_type = user_type(record);
        if !admits(request.required_auth_level, user_type) {
            return Ok(KeyValidationInfo::refused(
                status::INCORRECT_ACCESS_TOKEN_TYPE,
            ));
        }
        let stores = &self.stores;
        let forbidden = || Ok(KeyValidationInfo::refused(status::RESOURCE_FORBIDDEN));
        let Some(mapping) = stores
            .key_mappings()
            .key_mapping_by_consumer_key(&record.client_id)
            .await?
        else {
            return forbidden();
        };
        let Some(application) = stores
            .applications()
            .application(&mapping.application_uuid)
            .await?
        else {
            return forbidden();
        };
        let Some(api) = self
            .api_for(&request.context, request.api_version())
            .await?
        else {
            return forbidden();
        };
        let Some(subscription) = stores
            .subscriptions()
            .subscription_for(&application.uuid, &api.uuid)
            .await?
        else {
            return forbidden();
        };
        let blocked = api.status == ApiStatus::Blocked
            || subscription.status == SubscriptionStatus::Blocked
            || (subscription.status == SubscriptionStatus::ProdOnlyBlocked
                && mapping.key_type == KeyType::Production);
        if blocked {
            return Ok(KeyValidationInfo::refused(status::API_BLOCKED));
        }
        if matches!(
            subscription.status,
            SubscriptionStatus::OnHold | SubscriptionStatus::Rejected
        ) {
            return Ok(KeyValidationInfo::refused(status::SUBSCRIPTION_INACTIVE));
        }
        if let Some(template) = api.url_template(&request.matching_resource, &request.http_verb)
            && !template.scopes.is_empty()
            && !template.scopes.iter().any(|s| record.scopes.contains(s))
        {
            return Ok(KeyValidationInfo::refused(status::INVALID_SCOPE));
        }
        let policy = self
            .stores
            .subscription_policies()
            .subscription_policy(&self.settings.tenant, &subscription.tier)
            .await?;
        let (spike_limit, spike_unit, stop_on_quota_reach) = match &policy {
            Some(p) => (
                p.spike_arrest.map(|s| s.limit).unwrap_or(0),
                p.spike_arrest.map(|s| s.time_unit.as_str().to_owned()),
                p.stop_on_quota_reach,
            ),
            // WSO2's default for a tier it does not know (Unlimited): no spike arrest,
            // stop on quota.
            None => (0, None, true),
        };
        let tenant = record.tenant.domain();
        Ok(KeyValidationInfo {
            authorized: true,
            validation_status: 0,
            key_type: Some(mapping.key_type),
            user_type: Some(user_type),
            end_user: Some(format!("{}@{tenant}", record.subject)),
            end_user_token: None,
            consumer_key: Some(record.client_id.clone()),
            application_id: Some(application.id.to_string()),
            application_uuid: Some(application.uuid.clone()),
            application_name: Some(application.name.clone()),
            application_tier: Some(application.tier.clone()),
            subscriber: Some(application.owner.clone()),
            subscriber_tenant_domain: Some(application.tenant.domain().to_owned()),
            subscription_tier: Some(subscription.tier.clone()),
            api_name: Some(api.name.clone()),
            api_publisher: Some(api.provider.clone()),
            api_tier: api.api_tier.clone(),
            scopes: record.scopes.clone(),
            issued_time_ms: Some(record.issued_at_ms),
            validity_period_ms: Some(record.validity_ms),
            spike_arrest_limit: spike_limit,
            spike_arrest_unit: spike_unit,
            stop_on_quota_reach,
        })
    }

    /// The API a gateway means by a versioned context and a version: the stored context
    /// is the versioned one without its `/{version}` suffix, or with the version segment
    /// written as the `{version}` template, or the context as sent.
    async fn api_for(&self, context: &str, version: &str) -> Result<Option<Api>, Failure> {
        let context = format!("/{}", context.trim_matches('/'));
        let mut candidates = Vec::new();
        if let Some(base) = context.strip_suffix(&format!("/{version}"))
            && !base.is_empty()
        {
            candidates.push(base.to_owned());
        }
        let templated: Vec<&str> = context
            .split('/')
            .map(|segment| {
                if segment == version {
                    "{version}"
                } else {
                    segment
                }
            })
            .collect();
        candidates.push(templated.join("/"));
        candidates.push(context.clone());
        candidates.dedup();
        for candidate in candidates {
            if let Some(api) = self
                .stores
                .apis()
                .api_by_context(&self.settings.tenant, &candidate, version)
                .await?
            {
                return Ok(Some(api));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::Tenant;

    fn record(state: TokenState, grant: &str) -> AccessToken {
        AccessToken {
            token_id: "t".into(),
            tenant: Tenant::default(),
            token_digest: "d".into(),
            token_value: None,
            refresh_token_digest: None,
            refresh_token_value: None,
            refresh_family_id: "f".into(),
            client_id: "c".into(),
            subject: "alice".into(),
            grant_type: grant.into(),
            scopes: vec![],
            issued_at_ms: 1_000,
            validity_ms: 1_000,
            refresh_issued_at_ms: None,
            refresh_validity_ms: None,
            state,
            binding_thumbprint: None,
        }
    }

    #[test]
    fn token_states_map_to_wso2_codes() {
        let active = record(TokenState::Active, "password");
        assert_eq!(token_refusal(&active, 1_999), None);
        assert_eq!(
            token_refusal(&active, 2_000),
            Some(status::ACCESS_TOKEN_EXPIRED)
        );
        for (state, code) in [
            (TokenState::Revoked, status::INVALID_CREDENTIALS),
            (TokenState::Inactive, status::INVALID_CREDENTIALS),
            (TokenState::Expired, status::ACCESS_TOKEN_EXPIRED),
        ] {
            assert_eq!(token_refusal(&record(state, "password"), 1_500), Some(code));
        }
    }

    #[test]
    fn required_levels_admit_their_token_types() {
        let app = user_type(&record(TokenState::Active, "client_credentials"));
        let user = user_type(&record(TokenState::Active, "authorization_code"));
        assert_eq!(
            (app, user),
            (UserType::Application, UserType::ApplicationUser)
        );
        assert!(admits(AuthScheme::Any, app) && admits(AuthScheme::Any, user));
        assert!(admits(AuthScheme::Application, app) && !admits(AuthScheme::Application, user));
        assert!(
            admits(AuthScheme::ApplicationUser, user) && !admits(AuthScheme::ApplicationUser, app)
        );
    }

    #[test]
    fn the_cache_forgets_by_token_and_by_client() {
        let cache = ValidationCache::new(Some(Duration::from_secs(60)));
        let info = KeyValidationInfo {
            authorized: true,
            ..KeyValidationInfo::default()
        };
        cache.insert("d1:/a/1:1:/x:GET".into(), "c1", &info);
        cache.insert("d1:/b/1:1:/x:GET".into(), "c1", &info);
        cache.insert("d2:/a/1:1:/x:GET".into(), "c2", &info);
        assert_eq!(cache.get("d1:/a/1:1:/x:GET"), Some(info.clone()));
        cache.forget_token("d1");
        assert_eq!(cache.get("d1:/a/1:1:/x:GET"), None);
        assert_eq!(cache.get("d1:/b/1:1:/x:GET"), None);
        assert!(cache.get("d2:/a/1:1:/x:GET").is_some());
        cache.forget_client("c2");
        assert_eq!(cache.get("d2:/a/1:1:/x:GET"), None);
        let off = ValidationCache::new(None);
        off.insert("k".into(), "c", &info);
        assert_eq!(off.get("k"), None);
    }
}
