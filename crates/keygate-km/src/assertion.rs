//! JWT assertions presented to the key manager (RFC 7521, RFC 7523): client assertions
//! for `private_key_jwt` (RFC 7523 §2.2, §3) and the JWT bearer grant (§2.1, §3).
//!
//! An assertion is accepted when its signature verifies under the issuer's keys (the
//! client's registered `jwks` or `jwks_uri`, or a trusted issuer's certificate or JWK
//! Set), it names the expected issuer, one of our audiences (the issuer, the token
//! endpoint, or the endpoint it was sent to), has an `exp` in the future, a `sub`, and a
//! `jti` never seen before from that issuer. Replays are caught across nodes by recording
//! each `jti` in the database until the assertion expires, with an in-memory cache in
//! front ([`ReplayGuard`]). Keys published at a URL are fetched over HTTPS and cached
//! ([`RemoteKeys`]).

use crate::errors::Failure;
use keygate_jose::jwt::{self, Claims, Validation};
use keygate_jose::{JwkSet, JwsAlgorithm, VerifyingKeySet};
use keygate_oauth::OAuthError;
use keygate_store::Stores;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest lifetime (`exp` minus now) an assertion may claim: longer ones are refused, so
/// that the replay records they need stay bounded.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Entries the in-memory replay cache holds before it drops expired ones.
const REPLAY_CACHE_ENTRIES: usize = 10_000;
/// How long a fetched JWK Set is used before it is fetched again.
pub const REMOTE_KEYS_TTL: Duration = Duration::from_secs(300);
/// Shortest interval between two fetches of one URL, even on an unknown `kid`.
const REMOTE_KEYS_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Largest JWK Set document read from a URL.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a JWK Set fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What an assertion must satisfy beyond its signature.
#[derive(Debug, Clone)]
pub struct AssertionRules {
    /// The `iss` it must carry.
    pub issuer: String,
    /// When set, the `sub` it must carry (RFC 7523 §3 point 2.B: a client's own id).
    pub subject: Option<String>,
    /// The audiences, one of which `aud` must name.
    pub audiences: Vec<String>,
    /// Now, since the epoch.
    pub now: Duration,
    /// Clock skew tolerated.
    pub leeway: Duration,
}

/// Verifies an assertion's signature and claims, without the replay check. Every
/// refusal is `refusal` with a short reason.
pub fn verify(
    assertion: &str,
    keys: &VerifyingKeySet,
    rules: &AssertionRules,
    refusal: fn(&'static str) -> OAuthError,
) -> Result<Claims, OAuthError> {
    let mut validation = Validation::new(rules.now)
        .with_issuer(rules.issuer.clone())
        .with_leeway(rules.leeway)
        .with_algorithms(&JwsAlgorithm::ALL);
    for audience in &rules.audiences {
        validation = validation.with_audience(audience.clone());
    }
    let verified = jwt::decode(assertion, keys, &validation).map_err(|e| {
        refusal(match e {
            jwt::JwtError::Expired => "assertion expired",
            jwt::JwtError::NotYetValid => "assertion not yet valid",
            jwt::JwtError::WrongIssuer => "assertion issuer not accepted",
            jwt::JwtError::WrongAudience => "assertion audience not accepted",
            jwt::JwtError::MissingClaim(_) => "assertion lacks a required claim",
            jwt::JwtError::BadSignature | jwt::JwtError::Refused(_) => {
                "assertion signature not accepted"
            }
            _ => "assertion malformed",
        })
    })?;
    let claims = verified.claims;
    let subject = claims
        .sub
        .as_deref()
        .ok_or_else(|| refusal("assertion lacks sub"))?;
    if rules.subject.as_deref().is_some_and(|s| s != subject) {
        return Err(refusal("assertion subject not accepted"));
    }
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(refusal("assertion lacks jti"));
    }
    let now = i64::try_from(rules.now.as_secs()).unwrap_or(i64::MAX);
    let longest = i64::try_from(MAX_ASSERTION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    if claims
        .exp
        .is_some_and(|exp| exp.saturating_sub(now) > longest)
    {
        return Err(refusal("assertion lifetime too long"));
    }
    if let Some(iat) = claims.iat {
        let leeway = i64::try_from(rules.leeway.as_secs()).unwrap_or(0);
        if iat > now.saturating_add(leeway) {
            return Err(refusal("assertion issued in the future"));
        }
    }
    Ok(claims)
}

/// Until when an accepted assertion's `jti` must be remembered, unix milliseconds: its
/// `exp` plus the leeway it was accepted with.
pub fn replay_window_end(claims: &Claims, leeway: Duration) -> i64 {
    let leeway_ms = i64::try_from(leeway.as_millis()).unwrap_or(i64::MAX);
    claims
        .exp
        .unwrap_or_default()
        .saturating_mul(1000)
        .saturating_add(leeway_ms)
}

/// The issuer an assertion claims, read without verifying it: to find whose keys verify
/// it. Never trusted beyond that.
pub fn unverified_issuer(assertion: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = assertion.split('.').nth(1)?;
    if payload.len() > keygate_jose::jws::MAX_TOKEN_LEN {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims = Claims::from_json(&bytes).ok()?;
    claims.iss
}

/// Single use of assertion ids: an in-memory cache in front of the database record that
/// every node shares.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl ReplayGuard {
    /// Records the use of `jti` from `issuer` until `expires_at_ms`; `false` when it was
    /// used before.
    pub async fn first_use(
        &self,
        stores: &Stores,
        issuer: &str,
        jti: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, Failure> {
        let key = (issuer.to_owned(), jti.to_owned());
        if self.lock().get(&key).is_some_and(|exp| *exp > now_ms) {
            return Ok(false);
        }
        let first = stores
            .keys()
            .record_assertion_id(issuer, jti, expires_at_ms, now_ms)
            .await?;
        let mut seen = self.lock();
        if seen.len() >= REPLAY_CACHE_ENTRIES {
            seen.retain(|_, exp| *exp > now_ms);
            if seen.len() >= REPLAY_CACHE_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(key, expires_at_ms);
        Ok(first)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), i64>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// JWK Sets published at URLs (a client's `jwks_uri`, a trusted issuer's JWKS URL),
/// fetched over HTTPS and cached for [`REMOTE_KEYS_TTL`].
#[derive(Debug)]
pub struct RemoteKeys {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, CachedKeys>>,
}

#[derive(Debug, Clone)]
struct CachedKeys {
    keys: Arc<VerifyingKeySet>,
    kids: Vec<String>,
    fetched_at: Duration,
}

/// Why a JWK Set could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RemoteKeysError {
    /// The URL is not `https://`.
    #[error("JWK Set URL must use https")]
    NotHttps,
    /// The fetch failed or answered an error status.
    #[error("cannot fetch the JWK Set: {0}")]
    Fetch(String),
    /// The document is not a JWK Set, or is too large.
    #[error("the JWK Set document is unusable")]
    Malformed,
}

impl RemoteKeys {
    /// A fetcher with its own HTTP client.
    pub fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The keys at `url`, from the cache when fresh and, when `kid` is given, when the
    /// cached set has it; fetched otherwise (at most once per
    /// [`REMOTE_KEYS_MIN_INTERVAL`]).
    pub async fn keys(
        &self,
        url: &str,
        kid: Option<&str>,
        now: Duration,
    ) -> Result<Arc<VerifyingKeySet>, RemoteKeysError> {
        if !url.starts_with("https://") {
            return Err(RemoteKeysError::NotHttps);
        }
        let cached = self.lock().get(url).cloned();
        if let Some(cached) = &cached {
            let age = now.saturating_sub(cached.fetched_at);
            let has_kid = kid.is_none_or(|kid| cached.kids.iter().any(|k| k == kid));
            if (age < REMOTE_KEYS_TTL && has_kid) || age < REMOTE_KEYS_MIN_INTERVAL {
                return Ok(cached.keys.clone());
            }
        }
        let fetched = self.fetch(url).await;
        match fetched {
            Ok(set) => {
                let kids = set.keys.iter().filter_map(|k| k.kid.clone()).collect();
                let (keys, _) = VerifyingKeySet::from_jwk_set(&set);
                let keys = Arc::new(keys);
                self.lock().insert(
                    url.to_owned(),
                    CachedKeys {
                        keys: keys.clone(),
                        kids,
                        fetched_at: now,
                    },
                );
                Ok(keys)
            }
            // A failing fetch keeps a set we have, until it is much too old.
            Err(e) => match cached {
                Some(cached) if now.saturating_sub(cached.fetched_at) < REMOTE_KEYS_TTL * 4 => {
                    tracing::warn!(error = %e, "JWK Set refresh failed; using the cached set");
                    Ok(cached.keys)
                }
                _ => Err(e),
            },
        }
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, RemoteKeysError> {
        let mut response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| RemoteKeysError::Fetch(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(RemoteKeysError::Fetch(format!(
                "status {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| RemoteKeysError::Fetch(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(RemoteKeysError::Malformed);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| RemoteKeysError::Malformed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedKeys>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_jose::jwt::Claims;
    use keygate_jose::{Audience, SigningKey};
    use rustls_pki_types::PrivatePkcs8KeyDer;

    const NOW: u64 = 1_700_000_000;

    fn new_key() -> SigningKey {
        let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .unwrap();
        let der = PrivatePkcs8KeyDer::from(pair.to_pkcs8v1().unwrap().as_ref().to_vec());
        SigningKey::from_pkcs8(&der).unwrap().with_kid("k1")
    }

    fn claims() -> Claims {
        Claims {
            iss: Some("client-1".into()),
            sub: Some("client-1".into()),
            aud: Audience::new("https://km/oauth2/token"),
            exp: Some(NOW as i64 + 60),
            iat: Some(NOW as i64),
            jti: Some("jti-1".into()),
            ..Claims::default()
        }
    }

    fn rules() -> AssertionRules {
        AssertionRules {
            issuer: "client-1".into(),
            subject: Some("client-1".into()),
            audiences: vec!["https://km/oauth2/token".into()],
            now: Duration::from_secs(NOW),
            leeway: Duration::ZERO,
        }
    }

    fn sign(key: &SigningKey, claims: &Claims) -> String {
        jwt::encode(key, &key.header().with_typ("JWT"), claims).unwrap()
    }

    #[test]
    fn a_well_formed_assertion_verifies() {
        let key = new_key();
        let keys = VerifyingKeySet::new(vec![key.verifying_key().unwrap()]);
        let token = sign(&key, &claims());
        let verified = verify(&token, &keys, &rules(), OAuthError::invalid_client).unwrap();
        assert_eq!(verified.jti.as_deref(), Some("jti-1"));
        assert_eq!(unverified_issuer(&token).as_deref(), Some("client-1"));
        assert_eq!(unverified_issuer("not.a-jwt"), None);
    }

    #[test]
    fn every_defect_is_refused() {
        let key = new_key();
        let keys = VerifyingKeySet::new(vec![key.verifying_key().unwrap()]);
        let refused = |claims: Claims| {
            verify(
                &sign(&key, &claims),
                &keys,
                &rules(),
                OAuthError::invalid_grant,
            )
            .unwrap_err()
            .description()
            .unwrap_or_default()
            .to_owned()
        };
        assert_eq!(
            refused(Claims {
                exp: Some(NOW as i64 - 1),
                ..claims()
            }),
            "assertion expired"
        );
        assert_eq!(
            refused(Claims {
                exp: None,
                ..claims()
            }),
            "assertion lacks a required claim"
        );
        assert_eq!(
            refused(Claims {
                aud: Audience::new("https://elsewhere"),
                ..claims()
            }),
            "assertion audience not accepted"
        );
        assert_eq!(
            refused(Claims {
                iss: Some("other".into()),
                ..claims()
            }),
            "assertion issuer not accepted"
        );
        assert_eq!(
            refused(Claims {
                sub: Some("other".into()),
                ..claims()
            }),
            "assertion subject not accepted"
        );
        assert_eq!(
            refused(Claims {
                jti: None,
                ..claims()
            }),
            "assertion lacks jti"
        );
        assert_eq!(
            refused(Claims {
                exp: Some(NOW as i64 + 2 * 86_400),
                ..claims()
            }),
            "assertion lifetime too long"
        );
        assert_eq!(
            refused(Claims {
                iat: Some(NOW as i64 + 600),
                ..claims()
            }),
            "assertion issued in the future"
        );
        let stranger = new_key();
        let forged = sign(&stranger, &claims());
        let e = verify(&forged, &keys, &rules(), OAuthError::invalid_client).unwrap_err();
        assert_eq!(e.as_str(), "invalid_client");
    }

    #[tokio::test]
    async fn only_https_key_urls_are_fetched() {
        let remote = RemoteKeys::new().unwrap();
        assert!(matches!(
            remote
                .keys("http://127.0.0.1:1/jwks", None, Duration::ZERO)
                .await,
            Err(RemoteKeysError::NotHttps)
        ));
        assert!(matches!(
            remote
                .keys("https://127.0.0.1:1/jwks", None, Duration::ZERO)
                .await,
            Err(RemoteKeysError::Fetch(_))
        ));
    }
}
