//! OAuth 2.0 bearer tokens (RFC 6750) from keygate's key manager on the management APIs.
//! A JWT access token (RFC 9068) is verified here, against the key manager's keys — a
//! JWKS URL, fetched on first use and again when a token names a key not yet seen, or
//! keys given in the settings — with its `exp`, `nbf` and, when configured, `iss`. An
//! opaque token is asked about at the key manager's introspection endpoint (RFC 7662),
//! with the `[apim.key_manager]` credentials; only an active access token passes. Either
//! way the caller is the token's subject and holds the token's scopes.

use crate::errors::{ControlError, ControlResult};
use crate::relay::now_ms;
use keygate_jose::jwt::{self, JwtError, Validation};
use keygate_jose::{JwkSet, VerifyingKeySet};
use keygate_model::Secret;
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// A JWKS is fetched again for an unknown key at most this often.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY: Duration = Duration::from_secs(30);

/// Where the key manager's token-signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Its JWKS endpoint, e.g. `https://km:9443/oauth2/jwks`.
    JwksUrl(String),
    /// Keys given in the settings.
    Static(JwkSet),
}

/// The key manager's introspection endpoint and the account that may call it.
#[derive(Debug, Clone)]
pub struct IntrospectionEndpoint {
    /// E.g. `https://km:9443/oauth2/introspect`.
    pub url: String,
    /// `[apim.key_manager] username`.
    pub username: String,
    /// `[apim.key_manager] password`.
    pub password: Secret,
}

/// How bearer tokens are checked; with neither keys nor introspection, bearer tokens are
/// refused and only Basic authentication works.
#[derive(Debug, Clone, Default)]
pub struct TokenValidationSettings {
    /// The `iss` JWTs must carry; `None` accepts the key manager's signature alone.
    pub issuer: Option<String>,
    /// Keys that verify JWT access tokens.
    pub keys: Option<KeySource>,
    /// Where opaque tokens are introspected.
    pub introspection: Option<IntrospectionEndpoint>,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// The token's subject: the user, or for an application token the client's owner.
    pub subject: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
}

struct CachedKeys {
    keys: VerifyingKeySet,
    fetched: Instant,
}

/// Checks bearer tokens.
pub struct BearerVerifier {
    settings: TokenValidationSettings,
    http: reqwest::Client,
    keys: RwLock<Option<CachedKeys>>,
}

impl std::fmt::Debug for BearerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerVerifier")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: &str) -> ControlError {
    ControlError::InvalidToken(reason.to_owned())
}

/// RFC 7662 §2.2, the members read.
#[derive(Debug, Deserialize)]
struct IntrospectionResponse {
    active: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

impl BearerVerifier {
    /// A verifier with `settings`, calling the key manager through `http`.
    pub fn new(settings: TokenValidationSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            keys: RwLock::new(None),
        }
    }

    /// Whether any kind of bearer token can be checked.
    pub fn enabled(&self) -> bool {
        self.settings.keys.is_some() || self.settings.introspection.is_some()
    }

    /// The identity `token` speaks for; 401 when it is not a valid access token.
    pub async fn verify(&self, token: &str) -> ControlResult<TokenIdentity> {
        if token.split('.').count() == 3 {
            self.verify_jwt(token).await
        } else {
            self.introspect(token).await
        }
    }

    async fn verify_jwt(&self, token: &str) -> ControlResult<TokenIdentity> {
        if self.settings.keys.is_none() {
            return Err(invalid("JWT access tokens are not accepted here"));
        }
        let mut validation = Validation::new(Duration::from_millis(
            u64::try_from(now_ms()).unwrap_or_default(),
        ))
        .with_leeway(LEEWAY);
        if let Some(issuer) = &self.settings.issuer {
            validation = validation.with_issuer(issuer.clone());
        }
        let mut refetched = false;
        loop {
            self.load_keys(false).await?;
            let outcome = match self.keys.read().await.as_ref() {
                Some(cached) => jwt::decode(token, cached.keys.keys(), &validation),
                None => return Err(invalid("no key to verify the token with")),
            };
            match outcome {
                Ok(verified) => {
                    let claims = verified.claims;
                    let subject = claims
                        .sub
                        .clone()
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| invalid("the token has no subject"))?;
                    return Ok(TokenIdentity {
                        subject: local_name(&subject).to_owned(),
                        scopes: claims.scopes().map(str::to_owned).collect(),
                        client_id: claims.client_id.clone(),
                    });
                }
                Err(JwtError::BadSignature | JwtError::Refused(_))
                    if !refetched && self.may_refetch().await =>
                {
                    refetched = true;
                    self.load_keys(true).await?;
                }
                Err(JwtError::Expired) => return Err(invalid("the access token has expired")),
                Err(_) => return Err(invalid("the access token is not valid")),
            }
        }
    }

    /// Loads the keys when none are cached, or again when `refresh`.
    async fn load_keys(&self, refresh: bool) -> ControlResult<()> {
        if !refresh && self.keys.read().await.is_some() {
            return Ok(());
        }
        let set = match &self.settings.keys {
            None => return Ok(()),
            Some(KeySource::Static(set)) => set.clone(),
            Some(KeySource::JwksUrl(url)) => self.fetch_jwks(url).await?,
        };
        let (keys, _skipped) = VerifyingKeySet::from_jwk_set(&set);
        *self.keys.write().await = Some(CachedKeys {
            keys,
            fetched: Instant::now(),
        });
        Ok(())
    }

    /// Whether keys come from a URL and were fetched long enough ago to fetch again.
    async fn may_refetch(&self) -> bool {
        matches!(self.settings.keys, Some(KeySource::JwksUrl(_)))
            && self
                .keys
                .read()
                .await
                .as_ref()
                .is_none_or(|k| k.fetched.elapsed() >= JWKS_REFETCH_INTERVAL)
    }

    async fn fetch_jwks(&self, url: &str) -> ControlResult<JwkSet> {
        let response = self.http.get(url).send().await.map_err(|e| {
            tracing::warn!(error = %e, "the key manager's JWKS could not be fetched");
            ControlError::KeyManager("the key manager's keys could not be fetched".into())
        })?;
        if !response.status().is_success() {
            return Err(ControlError::KeyManager(format!(
                "the key manager's JWKS answered {}",
                response.status()
            )));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|_| ControlError::KeyManager("the key manager's JWKS is not a JWK Set".into()))
    }

    async fn introspect(&self, token: &str) -> ControlResult<TokenIdentity> {
        let Some(endpoint) = &self.settings.introspection else {
            return Err(invalid("opaque access tokens are not accepted here"));
        };
        let response = self
            .http
            .post(&endpoint.url)
            .basic_auth(&endpoint.username, Some(endpoint.password.expose()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "token introspection failed");
                ControlError::KeyManager(
                    "the key manager could not be asked about the token".into(),
                )
            })?;
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), "token introspection refused");
            return Err(ControlError::KeyManager(format!(
                "the key manager's introspection answered {}",
                response.status()
            )));
        }
        let body: IntrospectionResponse = response.json().await.map_err(|_| {
            ControlError::KeyManager("the key manager's introspection answer is not JSON".into())
        })?;
        let is_access_token = body
            .token_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("bearer"));
        if !body.active || !is_access_token {
            return Err(invalid("the access token is not active"));
        }
        let subject = body
            .username
            .or(body.sub)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("the token has no subject"))?;
        Ok(TokenIdentity {
            subject: local_name(&subject).to_owned(),
            scopes: crate::scopes::split_scopes(body.scope.as_deref().unwrap_or_default()),
            client_id: body.client_id,
        })
    }
}

/// A user name without WSO2's `@carbon.super`.
fn local_name(name: &str) -> &str {
    name.strip_suffix("@carbon.super").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_source_every_kind_of_token_is_refused() {
        let verifier =
            BearerVerifier::new(TokenValidationSettings::default(), reqwest::Client::new());
        assert!(!verifier.enabled());
        for token in ["a.b.c", "opaque-value"] {
            let err = verifier.verify(token).await.unwrap_err();
            assert!(matches!(err, ControlError::InvalidToken(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_jwt_under_no_known_key_is_refused() {
        let verifier = BearerVerifier::new(
            TokenValidationSettings {
                keys: Some(KeySource::Static(JwkSet::default())),
                ..TokenValidationSettings::default()
            },
            reqwest::Client::new(),
        );
        let err = verifier
            .verify("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
            .await
            .unwrap_err();
        assert!(matches!(err, ControlError::InvalidToken(_)), "{err:?}");
    }

    #[test]
    fn tenant_suffix_is_dropped() {
        assert_eq!(local_name("bob@carbon.super"), "bob");
        assert_eq!(local_name("bob"), "bob");
    }
}
