//! Minting what the token endpoint returns (RFC 6749 §5.1): access tokens as the client's
//! token type says — RFC 9068 JWTs (`typ: at+jwt`, signed by the current key, `kid` in
//! the header) or opaque values (32 random bytes, base64url) — refresh tokens (always
//! opaque), and OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6) when `openid` was
//! granted to a user; together with the record that persists them, kept as
//! [`crate::protection`] says, under the key [`crate::token_keys`] gives it.
//!
//! An access token JWT carries `iss`, `sub` (the user, or for an application token the
//! client's owner, as WSO2 does), `aud` and `client_id` and `azp` (the client), `scope`,
//! `jti` (the record id), `iat`, `nbf` and `exp`, WSO2's `aut` (`APPLICATION` or
//! `APPLICATION_USER`, the key type gateways derive from it), and `cnf.x5t#S256` when the
//! token is bound to a client certificate (RFC 8705 §3.1).

use crate::clients::AuthenticatedClient;
use crate::clock::Draw;
use crate::errors::{Failure, no_store_json};
use crate::manager::Inner;
use crate::token_keys::jti_key;
use aws_lc_rs::digest;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_jose::jwt::{self, ACCESS_TOKEN_TYPE, Audience, Claims, Confirmation};
use keygate_jose::{JwsAlgorithm, SigningKey};
use keygate_model::{AccessToken, Secret, TokenState, TokenType};
use keygate_oauth::ScopeSet;
use keygate_oauth::lifetime::{AccessTokenKind, expires_in, millis, unix_seconds};
use keygate_oauth::random::{opaque_value, time_ordered_id};
use keygate_oauth::refresh::RefreshRotation;
use keygate_oauth::scope::OPENID;
use serde_json::{Value, json};
use std::time::Duration;

/// WSO2's `aut` value for a token an application holds for itself.
pub const AUT_APPLICATION: &str = "APPLICATION";
/// WSO2's `aut` value for a token issued for a user.
pub const AUT_APPLICATION_USER: &str = "APPLICATION_USER";

/// What to do about the refresh token.
#[derive(Debug)]
pub enum RefreshIssue {
    /// No refresh token; the record still starts a family of its own.
    None,
    /// A new refresh token in a new family.
    New,
    /// The refresh token of a rotation, in the family of the presented one.
    Rotation(Box<RefreshRotation>),
}

/// What a grant decided to issue.
#[derive(Debug)]
pub struct GrantOutcome<'a> {
    /// The client it is issued to.
    pub client: &'a AuthenticatedClient,
    /// The user, or the client's owner for an application token.
    pub subject: String,
    /// The grant type recorded: the one that started the family.
    pub grant_type: String,
    /// Scopes of the access token.
    pub scopes: ScopeSet,
    /// Whom the token speaks for, which picks its lifetime and `aut`.
    pub kind: AccessTokenKind,
    /// The refresh token to issue.
    pub refresh: RefreshIssue,
    /// Whether and how to issue an ID token.
    pub id_token: Option<IdTokenRequest>,
    /// The certificate thumbprint to bind the token to.
    pub binding: Option<String>,
}

/// What an ID token repeats from the authentication.
#[derive(Debug, Clone, Default)]
pub struct IdTokenRequest {
    /// The `nonce` of the authorization request.
    pub nonce: Option<String>,
    /// When the user authenticated, since the epoch.
    pub auth_time: Option<Duration>,
}

/// Tokens minted and the record to persist.
#[derive(Debug)]
pub struct Issued {
    /// The record: insert it, or store it by rotation.
    pub record: AccessToken,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<Secret>,
    /// The ID token, if one was issued.
    pub id_token: Option<String>,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Scopes granted.
    pub scopes: ScopeSet,
}

impl Inner {
    /// Mints the tokens `outcome` calls for, at the clock's now.
    pub(crate) fn mint(&self, outcome: &GrantOutcome<'_>) -> Result<Issued, Failure> {
        let now = self.clock.now();
        let client = &outcome.client.client;
        let lifetimes = self.settings.lifetimes.for_client(&client.lifetimes);
        let access_lifetime = lifetimes.access_token(outcome.kind);
        let expires_at = now.saturating_add(access_lifetime);
        // Time-ordered, so that the record appends to the id index (and, for a new
        // family, to the family index) rather than dirtying a random page of each.
        let token_id = time_ordered_id(millis(now), &mut Draw(self.entropy.as_ref()))?;
        let signer = self.signing.current()?;

        let access_token = match client.token_type {
            TokenType::Jwt => {
                let claims = self.access_claims(outcome, &token_id, now, expires_at);
                Secret::new(
                    jwt::encode(
                        &signer,
                        &signer.header().with_typ(ACCESS_TOKEN_TYPE),
                        &claims,
                    )
                    .map_err(|e| Failure::internal(&e))?,
                )
            }
            TokenType::Oauth => opaque_value(&mut Draw(self.entropy.as_ref()))?,
        };

        // A new family is named after the token that starts it.
        let (refresh_token, family_id, refresh_issued, refresh_validity) = match &outcome.refresh {
            RefreshIssue::None => (None, token_id.clone(), None, None),
            RefreshIssue::New => (
                Some(opaque_value(&mut Draw(self.entropy.as_ref()))?),
                token_id.clone(),
                Some(millis(now)),
                Some(millis(lifetimes.refresh_token)),
            ),
            RefreshIssue::Rotation(rotation) => (
                Some(rotation.refresh_token.clone()),
                rotation.family_id.clone(),
                Some(millis(now)),
                Some(millis(rotation.refresh_lifetime)),
            ),
        };

        let id_token = match &outcome.id_token {
            Some(request) if outcome.scopes.contains(OPENID) => Some(self.id_token(
                &signer,
                outcome,
                request,
                &access_token,
                now,
                now.saturating_add(lifetimes.id_token),
            )?),
            _ => None,
        };

        let protection = &self.protection;
        // A JWT is kept under its time-ordered `jti`, an opaque token under its digest.
        let token_digest = match client.token_type {
            TokenType::Jwt => jti_key(&token_id),
            TokenType::Oauth => protection.lookup_key(access_token.expose()),
        };
        let record = AccessToken {
            token_id,
            tenant: self.settings.tenant.clone(),
            token_digest,
            token_value: protection.stored_access_token(&access_token, client.token_type)?,
            refresh_token_digest: refresh_token
                .as_ref()
                .map(|r| protection.lookup_key(r.expose())),
            refresh_token_value: match &refresh_token {
                Some(r) => protection.stored_value(r)?,
                None => None,
            },
            refresh_family_id: family_id,
            client_id: client.client_id.clone(),
            subject: outcome.subject.clone(),
            grant_type: outcome.grant_type.clone(),
            scopes: outcome.scopes.to_vec(),
            issued_at_ms: millis(now),
            validity_ms: millis(access_lifetime),
            refresh_issued_at_ms: refresh_issued,
            refresh_validity_ms: refresh_validity,
            state: TokenState::Active,
            binding_thumbprint: outcome.binding.clone(),
        };
        Ok(Issued {
            record,
            access_token,
            refresh_token,
            id_token,
            expires_in: expires_in(expires_at, now),
            scopes: outcome.scopes.clone(),
        })
    }

    /// The claims of an RFC 9068 access token.
    fn access_claims(
        &self,
        outcome: &GrantOutcome<'_>,
        token_id: &str,
        now: Duration,
        expires_at: Duration,
    ) -> Claims {
        let client_id = &outcome.client.client.client_id;
        let mut extra = serde_json::Map::new();
        extra.insert("azp".into(), Value::String(client_id.clone()));
        let aut = match outcome.kind {
            AccessTokenKind::Application => AUT_APPLICATION,
            AccessTokenKind::User => AUT_APPLICATION_USER,
        };
        extra.insert("aut".into(), Value::String(aut.into()));
        Claims {
            iss: Some(self.settings.issuer.clone()),
            sub: Some(outcome.subject.clone()),
            aud: Audience::new(client_id.clone()),
            exp: Some(unix_seconds(expires_at)),
            nbf: Some(unix_seconds(now)),
            iat: Some(unix_seconds(now)),
            jti: Some(token_id.to_owned()),
            client_id: Some(client_id.clone()),
            scope: Some(outcome.scopes.to_string()),
            cnf: outcome.binding.as_ref().map(|thumbprint| Confirmation {
                x5t_s256: Some(thumbprint.clone()),
                ..Confirmation::default()
            }),
            extra,
        }
    }

    /// An OpenID Connect ID token (OIDC Core §2): `aud` and `azp` the client, `nonce` and
    /// `auth_time` from the authentication, `at_hash` of the access token (§3.1.3.6).
    fn id_token(
        &self,
        signer: &SigningKey,
        outcome: &GrantOutcome<'_>,
        request: &IdTokenRequest,
        access_token: &Secret,
        now: Duration,
        expires_at: Duration,
    ) -> Result<String, Failure> {
        let client_id = &outcome.client.client.client_id;
        let mut extra = serde_json::Map::new();
        extra.insert("azp".into(), Value::String(client_id.clone()));
        extra.insert(
            "at_hash".into(),
            Value::String(token_hash(signer.algorithm(), access_token.expose())),
        );
        if let Some(nonce) = &request.nonce {
            extra.insert("nonce".into(), Value::String(nonce.clone()));
        }
        if let Some(auth_time) = request.auth_time {
            extra.insert("auth_time".into(), json!(unix_seconds(auth_time)));
        }
        let claims = Claims {
            iss: Some(self.settings.issuer.clone()),
            sub: Some(outcome.subject.clone()),
            aud: Audience::new(client_id.clone()),
            exp: Some(unix_seconds(expires_at)),
            iat: Some(unix_seconds(now)),
            extra,
            ..Claims::default()
        };
        jwt::encode(signer, &signer.header().with_typ("JWT"), &claims)
            .map_err(|e| Failure::internal(&e))
    }

    /// The successful token response (RFC 6749 §5.1), never cached.
    pub(crate) fn token_response(&self, issued: &Issued) -> Response {
        let mut body = json!({
            "access_token": issued.access_token.expose(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scopes.to_string(),
        });
        if let Some(refresh) = &issued.refresh_token {
            body["refresh_token"] = Value::String(refresh.expose().to_owned());
        }
        if let Some(id_token) = &issued.id_token {
            body["id_token"] = Value::String(id_token.clone());
        }
        no_store_json(StatusCode::OK, body)
    }
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of
/// the token's ASCII, the hash being the one of the ID token's `alg` (SHA-512 for EdDSA
/// with Ed25519).
pub fn token_hash(alg: JwsAlgorithm, token: &str) -> String {
    let algorithm = match alg {
        JwsAlgorithm::Rs384 | JwsAlgorithm::Ps384 | JwsAlgorithm::Es384 => &digest::SHA384,
        JwsAlgorithm::Rs512 | JwsAlgorithm::Ps512 | JwsAlgorithm::Es512 | JwsAlgorithm::EdDsa => {
            &digest::SHA512
        }
        _ => &digest::SHA256,
    };
    let hash = digest::digest(algorithm, token.as_bytes());
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OpenID Connect Core 1.0, Appendix A.3 (RS256).
        assert_eq!(
            token_hash(
                JwsAlgorithm::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(token_hash(JwsAlgorithm::Es384, "x").len(), 32);
        assert_eq!(token_hash(JwsAlgorithm::EdDsa, "x").len(), 43);
    }
}
