//! The authentication phase: who is calling.
//!
//! The token comes from the credentials header — `Authorization: Bearer …` (the scheme
//! compared case-insensitively, RFC 6750 §2.1), or the header `[apim.oauth_config]
//! auth_header` names, where WSO2 also takes the bare token. A JWT (three segments) is
//! validated here, with no network call: signature with its issuer's keys
//! ([`keys`]), `typ`, `iss`, `exp`, `nbf`. Anything else is an opaque token for the key
//! manager ([`opaque`]).
//!
//! Each token's signature is checked once: the result, a [`Principal`], is cached by
//! token string until the token expires (at most `[apim.cache.gateway_token]
//! expiry_time`), and tokens refused for a reason that cannot change are remembered as
//! refused. What can change per request is checked on every request
//! ([`check_principal`]): expiry against the clock, revocation against the replica (a
//! revoked token is refused from the moment the replica has the revocation), and the
//! RFC 8705 certificate binding against the client certificate of the connection.

pub mod keys;
pub mod opaque;

use crate::errors::{GatewayError, InvalidToken};
use crate::replica::{ReplicaSnapshot, RevocationSubject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName};
use keygate_jose::jws::{MAX_TOKEN_LEN, peek_header};
use keygate_jose::jwt::{self, Claims, JwtError, Validation};
use keygate_jose::{JwsError, TokenHasher, x5t_s256};
use keygate_model::{KeyType, SUPER_TENANT_DOMAIN};
use keys::KeySource;
use moka::sync::Cache;
use opaque::{CachingKeyValidator, KeyValidationInfo, KeyValidationRequest};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most distinct verified tokens remembered.
pub const VERIFIED_TOKEN_CACHE_CAPACITY: u64 = 1_000_000;
/// The most distinct refused JWTs remembered.
pub const REFUSED_TOKEN_CACHE_CAPACITY: u64 = 100_000;
/// Default clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(0);

/// The client certificate of a TLS connection, put in the request's extensions by the
/// listener; RFC 8705 certificate-bound tokens are checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub CertificateDer<'static>);

/// Who a token was issued to act for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserType {
    /// The application itself (client credentials).
    Application,
    /// An end user, through the application.
    ApplicationUser,
}

impl UserType {
    /// WSO2's name: `APPLICATION` or `APPLICATION_USER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "APPLICATION",
            Self::ApplicationUser => "APPLICATION_USER",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "APPLICATION" => Some(Self::Application),
            "APPLICATION_USER" => Some(Self::ApplicationUser),
            _ => None,
        }
    }
}

/// What kind of token authenticated a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A JWT validated by the gateway.
    Jwt,
    /// An opaque token validated by the key manager.
    Opaque,
}

/// An authenticated token: who it belongs to and what it allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// JWT or opaque.
    pub kind: TokenKind,
    /// The OAuth client the token was issued to.
    pub consumer_key: Option<Box<str>>,
    /// The token's subject, `name@tenant`.
    pub subject: Box<str>,
    /// Application or end user.
    pub user_type: UserType,
    /// Scopes granted.
    pub scopes: Box<[Box<str>]>,
    /// Key type, when the token says it (the key mapping decides otherwise).
    pub key_type: Option<KeyType>,
    /// Issue time, unix milliseconds.
    pub issued_at_ms: Option<i64>,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// Not-before, unix milliseconds.
    pub not_before_ms: Option<i64>,
    /// What revocations name the token by: JWT signature and `jti`, or the opaque
    /// token's SHA-256.
    pub revocation_ids: Box<[Box<str>]>,
    /// RFC 8705 §3.1 `cnf.x5t#S256`: the certificate the token is bound to.
    pub certificate_thumbprint: Option<Box<str>>,
    /// The JWT's claims, for throttling conditions; `None` for opaque tokens.
    pub claims: Option<Claims>,
}

impl Principal {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| **s == *scope)
    }
}

/// A subject qualified with the super tenant when it names none.
fn qualified_user(name: &str) -> Box<str> {
    if name.contains('@') {
        name.into()
    } else {
        let mut user = String::with_capacity(name.len() + 1 + SUPER_TENANT_DOMAIN.len());
        user.push_str(name);
        user.push('@');
        user.push_str(SUPER_TENANT_DOMAIN);
        user.into()
    }
}

/// The token in the credentials header. `header` is `Authorization` or the configured
/// name; under `Authorization` only the `Bearer` scheme counts.
pub fn extract_token<'h>(
    headers: &'h HeaderMap,
    header: &HeaderName,
) -> Result<&'h str, GatewayError> {
    let value = headers
        .get(header)
        .ok_or(GatewayError::MissingCredentials)?
        .as_bytes();
    // What `HeaderValue::to_str` lets through (visible ASCII, space, tab), checked in one
    // pass the compiler can vectorise: tokens are a kilobyte, checked on every call.
    let visible = value.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(0x20) < 0x5f) | (b == b'\t'))
    });
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|_| visible)
        .ok_or(GatewayError::InvalidCredentials(InvalidToken::Malformed))?
        .trim();
    let bearer = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let token = match bearer {
        Some(token) => token,
        None if *header == AUTHORIZATION => {
            // `Bearer` with nothing after it, or another scheme.
            if value.eq_ignore_ascii_case("bearer") {
                ""
            } else {
                return Err(GatewayError::MissingCredentials);
            }
        }
        None => value,
    };
    if token.is_empty() {
        return Err(GatewayError::MissingCredentials);
    }
    // `to_str` lets through visible ASCII, space and tab only: a byte scan for the two
    // blanks is the whole whitespace check (tokens are a kilobyte, checked on every call).
    if token.len() > MAX_TOKEN_LEN
        || token
            .bytes()
            .fold(false, |blank, b| blank | (b == b' ') | (b == b'\t'))
    {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Malformed));
    }
    Ok(token)
}

/// A JWT issuer the gateway trusts.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// Its keys.
    pub keys: Arc<dyn KeySource>,
    /// The claim naming the client, when not `client_id`/`azp`/`consumerKey`.
    pub consumer_key_claim: Option<String>,
    /// The claim holding scopes, when not `scope`.
    pub scopes_claim: Option<String>,
}

impl TrustedIssuer {
    /// An issuer with its keys and the standard claims.
    pub fn new(issuer: impl Into<String>, keys: Arc<dyn KeySource>) -> Self {
        Self {
            issuer: issuer.into(),
            keys,
            consumer_key_claim: None,
            scopes_claim: None,
        }
    }
}

/// How tokens are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// The credentials header.
    pub token_header: HeaderName,
    /// How long a verified token or an opaque token's validation is cached; `None` for
    /// no cache (each request verifies again).
    pub token_cache: Option<Duration>,
    /// `typ` values accepted in a JWT's header, compared case-insensitively with an
    /// optional `application/` prefix.
    pub accepted_types: Vec<String>,
    /// Whether a JWT without `typ` is accepted.
    pub accept_untyped: bool,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            token_header: AUTHORIZATION,
            token_cache: Some(Duration::from_secs(900)),
            accepted_types: vec!["at+jwt".to_owned(), "JWT".to_owned()],
            accept_untyped: false,
            leeway: DEFAULT_LEEWAY,
        }
    }
}

/// A verified principal in the cache, with how long it may stay: until its token
/// expires by the gateway's clock, and no longer than the cache period.
#[derive(Clone)]
struct Cached {
    principal: Arc<Principal>,
    ttl: Duration,
}

/// Expires cache entries after their own time to live.
struct OwnTimeToLive;

impl moka::Expiry<Arc<str>, Cached> for OwnTimeToLive {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &Cached,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The authentication phase: JWT verification, opaque-token validation and their caches.
pub struct Authenticator {
    settings: AuthSettings,
    issuers: Vec<TrustedIssuer>,
    validator: Option<CachingKeyValidator>,
    verified: Option<Cache<Arc<str>, Cached, TokenCacheHasher>>,
    refused: Option<Cache<Arc<str>, GatewayError, TokenCacheHasher>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.settings)
            .field("issuers", &self.issuers.len())
            .field("validator", &self.validator.is_some())
            .finish()
    }
}

/// Whether a JWT refusal holds forever for that token string.
fn permanent(error: &JwtError) -> bool {
    !matches!(
        error,
        JwtError::Refused(JwsError::NoMatchingKey) | JwtError::NotYetValid
    )
}

fn jwt_refusal(error: &JwtError) -> GatewayError {
    let reason = match error {
        JwtError::Expired => return GatewayError::TokenExpired,
        JwtError::Malformed(_) | JwtError::InvalidClaims | JwtError::Signing(_) => {
            InvalidToken::Malformed
        }
        JwtError::Refused(_) => InvalidToken::Refused,
        JwtError::BadSignature => InvalidToken::BadSignature,
        JwtError::WrongIssuer => InvalidToken::UnknownIssuer,
        JwtError::WrongType => InvalidToken::WrongType,
        JwtError::MissingClaim(_) | JwtError::NotYetValid | JwtError::WrongAudience => {
            InvalidToken::ClaimsRejected
        }
    };
    GatewayError::InvalidCredentials(reason)
}

/// The `iss` of a JWT read without verifying it, to choose the keys to verify it with.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Issuer>(&bytes).ok()?.iss
}

fn string_claim<'c>(claims: &'c Claims, name: &str) -> Option<&'c str> {
    claims.extra.get(name).and_then(|v| v.as_str())
}

fn seconds_to_ms(seconds: i64) -> i64 {
    seconds.saturating_mul(1000)
}

/// The token caches' hasher: tokens are a kilobyte and hashed on every call, which
/// SipHash makes a noticeable share of the call; foldhash is several times faster and
/// still seeded at random per cache.
type TokenCacheHasher = foldhash::quality::RandomState;

impl Authenticator {
    /// An authenticator trusting `issuers` for JWTs and asking `validator` about opaque
    /// tokens (refused when there is none).
    pub fn new(
        settings: AuthSettings,
        issuers: Vec<TrustedIssuer>,
        validator: Option<Arc<dyn opaque::KeyValidator>>,
    ) -> Self {
        let validator = validator.map(|v| CachingKeyValidator::new(v, settings.token_cache));
        let verified = settings.token_cache.map(|_| {
            Cache::builder()
                .max_capacity(VERIFIED_TOKEN_CACHE_CAPACITY)
                .expire_after(OwnTimeToLive)
                .build_with_hasher(TokenCacheHasher::default())
        });
        let refused = settings.token_cache.map(|ttl| {
            Cache::builder()
                .max_capacity(REFUSED_TOKEN_CACHE_CAPACITY)
                .time_to_live(ttl)
                .build_with_hasher(TokenCacheHasher::default())
        });
        Self {
            settings,
            issuers,
            validator,
            verified,
            refused,
        }
    }

    /// The authentication settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Authenticates `token`: from the cache, by verifying a JWT, or by asking the key
    /// manager about an opaque token (`request` builds that question only when needed).
    pub async fn authenticate(
        &self,
        token: &str,
        request: impl FnOnce() -> KeyValidationRequest,
        now_ms: i64,
    ) -> Result<Arc<Principal>, GatewayError> {
        if let Some(cache) = &self.verified {
            let cached = cache.get(token);
            crate::observe::cache_lookup("verified_token", cached.is_some());
            if let Some(cached) = cached {
                return Ok(cached.principal);
            }
        }
        if let Some(cache) = &self.refused {
            let refused = cache.get(token);
            crate::observe::cache_lookup("refused_token", refused.is_some());
            if let Some(error) = refused {
                return Err(error);
            }
        }
        let principal = if token.bytes().filter(|&b| b == b'.').count() == 2 {
            match self.verify_jwt(token, now_ms).await {
                Ok(principal) => principal,
                Err((error, remember)) => {
                    if remember && let Some(cache) = &self.refused {
                        cache.insert(token.into(), error.clone());
                    }
                    return Err(error);
                }
            }
        } else {
            let validator = self
                .validator
                .as_ref()
                .ok_or(GatewayError::InvalidCredentials(InvalidToken::Malformed))?;
            let info = validator.validate(token, request, now_ms).await?;
            principal_of_info(token, &info)
        };
        let principal = Arc::new(principal);
        if let (Some(cache), Some(cap)) = (&self.verified, self.settings.token_cache) {
            let left = principal.expires_at_ms.map_or(cap, |exp| {
                Duration::from_millis(u64::try_from(exp.saturating_sub(now_ms)).unwrap_or(0))
            });
            cache.insert(
                token.into(),
                Cached {
                    principal: principal.clone(),
                    ttl: cap.min(left),
                },
            );
        }
        Ok(principal)
    }

    /// Forgets a token's cached verification (it was revoked).
    pub fn forget(&self, token: &str) {
        if let Some(cache) = &self.verified {
            cache.invalidate(token);
        }
        if let Some(validator) = &self.validator {
            validator.forget(token);
        }
    }

    /// Verifies a JWT; the flag says whether its refusal can be remembered.
    async fn verify_jwt(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<Principal, (GatewayError, bool)> {
        let header = peek_header(token).map_err(|e| {
            let error = JwtError::from(e);
            (jwt_refusal(&error), permanent(&error))
        })?;
        let malformed = (
            GatewayError::InvalidCredentials(InvalidToken::Malformed),
            true,
        );
        let iss = unverified_issuer(token).ok_or(malformed)?;
        let issuer = self.issuers.iter().find(|i| i.issuer == iss).ok_or((
            GatewayError::InvalidCredentials(InvalidToken::UnknownIssuer),
            true,
        ))?;
        let now = Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
        let validation = Validation::new(now)
            .with_issuer(issuer.issuer.clone())
            .with_leeway(self.settings.leeway);
        let keys = issuer.keys.keys();
        let mut verified = jwt::decode(token, &*keys, &validation);
        if matches!(verified, Err(JwtError::Refused(JwsError::NoMatchingKey)))
            && let Some(fresh) = issuer.keys.refresh(&keys).await
        {
            verified = jwt::decode(token, &*fresh, &validation);
        }
        let verified = verified.map_err(|e| (jwt_refusal(&e), permanent(&e)))?;
        let typed = match &header.typ {
            Some(typ) => self.settings.accepted_types.iter().any(|accepted| {
                let short = |t: &str| {
                    let lower = t.to_ascii_lowercase();
                    lower
                        .strip_prefix("application/")
                        .map(str::to_owned)
                        .unwrap_or(lower)
                };
                short(accepted) == short(typ)
            }),
            None => self.settings.accept_untyped,
        };
        if !typed {
            return Err((
                GatewayError::InvalidCredentials(InvalidToken::WrongType),
                true,
            ));
        }
        Ok(principal_of_jwt(token, issuer, verified.claims))
    }
}

/// The principal of a verified JWT.
fn principal_of_jwt(token: &str, issuer: &TrustedIssuer, claims: Claims) -> Principal {
    let consumer_key = issuer
        .consumer_key_claim
        .as_deref()
        .and_then(|name| string_claim(&claims, name))
        .or(claims.client_id.as_deref())
        .or_else(|| string_claim(&claims, "azp"))
        .or_else(|| string_claim(&claims, "consumerKey"))
        .map(Box::from);
    let subject = claims.sub.as_deref().unwrap_or_default();
    let user_type = string_claim(&claims, "aut")
        .and_then(UserType::parse)
        .unwrap_or(if consumer_key.as_deref() == Some(subject) {
            UserType::Application
        } else {
            UserType::ApplicationUser
        });
    let scopes: Box<[Box<str>]> = match issuer.scopes_claim.as_deref() {
        Some(name) => match claims.extra.get(name) {
            Some(serde_json::Value::String(text)) => text
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(Box::from)
                .collect(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str())
                .map(Box::from)
                .collect(),
            _ => Box::default(),
        },
        None => claims.scopes().map(Box::from).collect(),
    };
    let key_type = string_claim(&claims, "keytype").and_then(|k| k.parse().ok());
    let mut revocation_ids = Vec::with_capacity(2);
    if let Some(signature) = token.rsplit('.').next() {
        revocation_ids.push(Box::from(signature));
    }
    if let Some(jti) = claims.jti.as_deref() {
        revocation_ids.push(Box::from(jti));
    }
    Principal {
        kind: TokenKind::Jwt,
        subject: qualified_user(subject),
        consumer_key,
        user_type,
        scopes,
        key_type,
        issued_at_ms: claims.iat.map(seconds_to_ms),
        expires_at_ms: claims.exp.map(seconds_to_ms),
        not_before_ms: claims.nbf.map(seconds_to_ms),
        revocation_ids: revocation_ids.into(),
        certificate_thumbprint: claims
            .cnf
            .as_ref()
            .and_then(|c| c.x5t_s256.as_deref())
            .map(Box::from),
        claims: Some(claims),
    }
}

/// The principal of an opaque token the key manager validated.
fn principal_of_info(token: &str, info: &KeyValidationInfo) -> Principal {
    let consumer_key = info.consumer_key.as_deref().map(Box::from);
    let user_type = info
        .user_type
        .as_deref()
        .and_then(UserType::parse)
        .unwrap_or(UserType::ApplicationUser);
    Principal {
        kind: TokenKind::Opaque,
        subject: qualified_user(info.end_user.as_deref().unwrap_or_default()),
        consumer_key,
        user_type,
        scopes: info.scopes.iter().map(|s| Box::from(s.as_str())).collect(),
        key_type: info.key_type,
        issued_at_ms: info.issued_time_ms,
        expires_at_ms: info.expires_at_ms(),
        not_before_ms: None,
        revocation_ids: vec![Box::from(TokenHasher::hash(token))].into(),
        certificate_thumbprint: None,
        claims: None,
    }
}

/// Checks what can change while a principal sits in the cache: expiry and not-before
/// against `now_ms`, revocations in the replica, and the certificate binding.
pub fn check_principal(
    principal: &Principal,
    replica: &ReplicaSnapshot,
    now_ms: i64,
    leeway: Duration,
    certificate: Option<&ClientCertificate>,
) -> Result<(), GatewayError> {
    let leeway_ms = i64::try_from(leeway.as_millis()).unwrap_or(i64::MAX);
    if principal
        .expires_at_ms
        .is_some_and(|exp| now_ms >= exp.saturating_add(leeway_ms))
    {
        return Err(GatewayError::TokenExpired);
    }
    if principal
        .not_before_ms
        .is_some_and(|nbf| now_ms.saturating_add(leeway_ms) < nbf)
    {
        return Err(GatewayError::InvalidCredentials(
            InvalidToken::ClaimsRejected,
        ));
    }
    if principal
        .revocation_ids
        .iter()
        .any(|id| replica.is_revoked(id, now_ms))
    {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Revoked));
    }
    if replica.has_subject_revocations() {
        let issued = principal.issued_at_ms.unwrap_or(i64::MIN);
        let by_client = principal.consumer_key.as_deref().is_some_and(|key| {
            replica.is_revoked_for(&RevocationSubject::ConsumerKey(key.to_owned()), issued)
        });
        let by_user = replica.is_revoked_for(
            &RevocationSubject::User(principal.subject.to_string()),
            issued,
        );
        if by_client || by_user {
            return Err(GatewayError::InvalidCredentials(InvalidToken::Revoked));
        }
    }
    if let Some(bound) = principal.certificate_thumbprint.as_deref() {
        let presented = certificate.map(|c| x5t_s256(&c.0));
        if presented.as_deref() != Some(bound) {
            return Err(GatewayError::MutualTlsFailure);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
