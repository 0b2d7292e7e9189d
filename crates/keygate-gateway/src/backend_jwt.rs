//! The backend-JWT phase (`[apim.jwt]`): tells the backend who is calling, in a JWT in
//! the `X-JWT-Assertion` header (the name is configurable), as WSO2's gateway does.
//!
//! Claims: `iss` = `wso2.org/products/am`, `iat`, `exp` = now + the token cache's expiry +
//! 60 s (so a cached assertion always has a minute left), and under `claim_dialect`
//! (`http://wso2.org/claims` by default): `subscriber`, `applicationid`,
//! `applicationname`, `applicationtier`, `applicationUUId`, `apicontext`, `version`,
//! `tier`, `keytype`, `usertype`, `enduser`, `enduserTenantId`; with
//! `enable_user_claims`, the end user's claims from a [`UserClaimsSource`] as well.
//!
//! Signed RS256 with the gateway's key (`signing_algorithm = "SHA256withRSA"`) or left
//! unsigned (`"NONE"`: `alg: none` and an empty signature). `encoding = "base64url"`
//! gives a standard compact JWS (RFC 7515 §7.1, unpadded base64url); `"base64"` encodes
//! each part in standard padded base64, as WSO2's default does. One assertion is made per
//! token, API and key type, and reused until its cache period ends.

use crate::authorize::Authorization;
use crate::errors::GatewayError;
use crate::route::RouteMatch;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::{HeaderName, HeaderValue};
use keygate_config::{JwtEncoding, JwtSettings, JwtSigningAlgorithm};
use keygate_jose::{JwsAlgorithm, SigningKey};
use moka::sync::Cache;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The issuer of backend JWTs, as WSO2 names it.
pub const BACKEND_JWT_ISSUER: &str = "wso2.org/products/am";
/// What a backend JWT outlives its cache entry by.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// The most assertions kept.
pub const ASSERTION_CACHE_CAPACITY: u64 = 1_000_000;
/// WSO2's id of the super tenant.
pub const SUPER_TENANT_ID: &str = "-1234";

/// Why the end user's claims could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserClaimsError {
    /// The user store could not answer.
    #[error("user claims unavailable: {0}")]
    Unavailable(String),
}

/// Where end users' claims come from (the user store, wired by the server).
#[async_trait]
pub trait UserClaimsSource: Send + Sync + fmt::Debug {
    /// The claims of `end_user` (`name@tenant`), by claim URI.
    async fn claims(&self, end_user: &str) -> Result<BTreeMap<String, String>, UserClaimsError>;
}

/// Why the phase could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendJwtError {
    /// RS256 signing is configured but there is no RSA key to sign with.
    #[error("[apim.jwt] signing_algorithm = \"SHA256withRSA\" needs the gateway's RSA signing key")]
    NoSigningKey,
    /// The header name is not a valid HTTP header name.
    #[error("[apim.jwt] header `{0}` is not a valid header name")]
    HeaderName(String),
}

/// How the phase is set up.
#[derive(Debug, Clone)]
pub struct BackendJwtSettings {
    /// Whether backends get a JWT.
    pub enabled: bool,
    /// The header carrying it.
    pub header: HeaderName,
    /// Its encoding.
    pub encoding: JwtEncoding,
    /// Prefix of the claim names.
    pub claim_dialect: String,
    /// Signed or not.
    pub signing_algorithm: JwtSigningAlgorithm,
    /// Whether user claims are added.
    pub enable_user_claims: bool,
    /// How long an assertion is reused (the gateway token cache's expiry).
    pub cache_expiry: Duration,
}

impl BackendJwtSettings {
    /// The settings of `[apim.jwt]`, with the token cache's expiry.
    pub fn from_config(jwt: &JwtSettings, cache_expiry: Duration) -> Result<Self, BackendJwtError> {
        let header = HeaderName::from_bytes(jwt.header.trim().as_bytes())
            .map_err(|_| BackendJwtError::HeaderName(jwt.header.clone()))?;
        Ok(Self {
            enabled: jwt.enabled,
            header,
            encoding: jwt.encoding,
            claim_dialect: jwt.claim_dialect.trim_end_matches('/').to_owned(),
            signing_algorithm: jwt.signing_algorithm,
            enable_user_claims: jwt.enable_user_claims,
            cache_expiry,
        })
    }
}

/// Makes and caches backend JWTs.
pub struct BackendJwtIssuer {
    settings: BackendJwtSettings,
    signer: Option<Arc<SigningKey>>,
    user_claims: Option<Arc<dyn UserClaimsSource>>,
    cache: Cache<Box<str>, HeaderValue>,
    header_json: Vec<u8>,
}

impl fmt::Debug for BackendJwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendJwtIssuer")
            .field("settings", &self.settings)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl BackendJwtIssuer {
    /// An issuer signing with `signer` (needed for `SHA256withRSA`; an RSA key, used with
    /// RS256) and merging claims from `user_claims` when enabled.
    pub fn new(
        settings: BackendJwtSettings,
        signer: Option<SigningKey>,
        user_claims: Option<Arc<dyn UserClaimsSource>>,
    ) -> Result<Self, BackendJwtError> {
        let (signer, alg) = match settings.signing_algorithm {
            JwtSigningAlgorithm::None => (None, "none"),
            JwtSigningAlgorithm::Sha256WithRsa if !settings.enabled => (None, "RS256"),
            JwtSigningAlgorithm::Sha256WithRsa => {
                let key = signer
                    .ok_or(BackendJwtError::NoSigningKey)?
                    .with_algorithm(JwsAlgorithm::Rs256)
                    .map_err(|_| BackendJwtError::NoSigningKey)?;
                (Some(Arc::new(key)), "RS256")
            }
        };
        let mut header = Map::new();
        header.insert("typ".into(), Value::from("JWT"));
        header.insert("alg".into(), Value::from(alg));
        if let Some(kid) = signer.as_ref().and_then(|s| s.kid()) {
            header.insert("kid".into(), Value::from(kid));
        }
        let header_json = serde_json::to_vec(&header).unwrap_or_default();
        let cache = Cache::builder()
            .max_capacity(ASSERTION_CACHE_CAPACITY)
            .time_to_live(settings.cache_expiry)
            .build();
        Ok(Self {
            settings,
            signer,
            user_claims,
            cache,
            header_json,
        })
    }

    /// Whether backends get a JWT.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// The header that carries it.
    pub fn header(&self) -> &HeaderName {
        &self.settings.header
    }

    /// The claims of an assertion issued at `now_secs`.
    pub fn claims(
        &self,
        route: &RouteMatch,
        auth: &Authorization,
        now_secs: i64,
    ) -> Map<String, Value> {
        let app = &auth.application.app;
        let api = &route.api;
        let lifetime = self.settings.cache_expiry.saturating_add(EXPIRY_MARGIN);
        let exp = now_secs.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
        let tenant_id = if app.tenant.is_super_tenant() {
            SUPER_TENANT_ID
        } else {
            "0"
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::from(BACKEND_JWT_ISSUER));
        claims.insert("iat".into(), Value::from(now_secs));
        claims.insert("exp".into(), Value::from(exp));
        let dialect = &self.settings.claim_dialect;
        let values: [(&str, &str); 12] = [
            ("subscriber", &app.owner),
            ("applicationid", &auth.application.id_text),
            ("applicationname", &app.name),
            ("applicationtier", &app.tier),
            ("applicationUUId", &app.uuid),
            ("apicontext", &api.versioned_context),
            ("version", &api.api.version),
            ("tier", &auth.subscription.tier),
            ("keytype", auth.key_type.as_str()),
            ("usertype", auth.user_type.as_str()),
            ("enduser", &auth.end_user),
            ("enduserTenantId", tenant_id),
        ];
        for (name, value) in values {
            claims.insert(format!("{dialect}/{name}"), Value::from(value));
        }
        claims
    }

    fn encode(&self, bytes: &[u8], out: &mut String) {
        match self.settings.encoding {
            JwtEncoding::Base64 => STANDARD.encode_string(bytes, out),
            JwtEncoding::Base64Url => URL_SAFE_NO_PAD.encode_string(bytes, out),
        }
    }

    /// The compact assertion of `claims`.
    pub fn assertion_of(&self, claims: &Map<String, Value>) -> Result<String, GatewayError> {
        let payload =
            serde_json::to_vec(claims).map_err(|_| GatewayError::Internal("backend JWT claims"))?;
        let mut token = String::with_capacity((self.header_json.len() + payload.len()) * 2 + 400);
        self.encode(&self.header_json, &mut token);
        token.push('.');
        self.encode(&payload, &mut token);
        let signature = match &self.signer {
            Some(signer) => signer
                .sign(token.as_bytes())
                .map_err(|_| GatewayError::Internal("backend JWT signing"))?,
            None => Vec::new(),
        };
        token.push('.');
        self.encode(&signature, &mut token);
        Ok(token)
    }

    /// The assertion for a call authenticated with `token`, from the cache or made now.
    pub async fn assertion(
        &self,
        token: &str,
        route: &RouteMatch,
        auth: &Authorization,
        now_ms: i64,
    ) -> Result<HeaderValue, GatewayError> {
        let mut key = String::with_capacity(token.len() + route.api.api.uuid.len() + 12);
        key.push_str(token);
        key.push('\n');
        key.push_str(&route.api.api.uuid);
        key.push('\n');
        key.push_str(auth.key_type.as_str());
        if let Some(value) = self.cache.get(key.as_str()) {
            return Ok(value);
        }
        let mut claims = self.claims(route, auth, now_ms.div_euclid(1000));
        if self.settings.enable_user_claims
            && let Some(source) = &self.user_claims
        {
            match source.claims(&auth.end_user).await {
                Ok(user_claims) => {
                    for (name, value) in user_claims {
                        claims.entry(name).or_insert(Value::from(value));
                    }
                }
                Err(error) => tracing::warn!(%error, "backend JWT without user claims"),
            }
        }
        let assertion = self.assertion_of(&claims)?;
        let value = HeaderValue::try_from(assertion)
            .map_err(|_| GatewayError::Internal("backend JWT header"))?;
        self.cache.insert(key.into(), value.clone());
        Ok(value)
    }
}

#[cfg(test)]
#[path = "backend_jwt_tests.rs"]
mod tests;
