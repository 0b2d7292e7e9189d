//! Authorization codes (RFC 6749 §4.1.2, §4.1.3, §10.5): issuing one for a checked
//! authorization request, and deciding a token request that redeems one.
//!
//! A code is single use. Redeeming an `ACTIVE` code yields the record to persist as
//! `INACTIVE`; the caller must write it with a compare-and-set on the state (only one of
//! two concurrent redemptions may win). Presenting a code that was already redeemed is a
//! replay: [`CodeRedeemError::Replayed`] tells the caller to revoke every token issued from
//! it (RFC 6749 §4.1.2: "SHOULD revoke (when possible) all tokens previously issued based
//! on that authorization code"). Every refusal answers `invalid_grant` (RFC 6749 §5.2).

use crate::error::OAuthError;
use crate::grant::AuthorizeRequest;
use crate::lifetime::{from_millis, is_expired, millis};
use crate::pkce::{self, PkcePolicy};
use crate::random::{RandomSource, RandomUnavailable, opaque_value};
use crate::scope::ScopeSet;
use keygate_model::{AuthorizationCode, CodeState, Secret, Tenant};
use std::time::Duration;

/// What a new code records, besides what the authorization request says.
#[derive(Debug, Clone, Copy)]
pub struct CodeIssue<'a> {
    /// The checked authorization request.
    pub request: &'a AuthorizeRequest,
    /// The user who authorized.
    pub subject: &'a str,
    /// Scopes granted (after the scope issuer and consent).
    pub scopes: &'a ScopeSet,
    /// Id of the new record.
    pub code_id: &'a str,
    /// Tenant of the new record.
    pub tenant: &'a Tenant,
    /// Code lifetime, e.g. [`crate::lifetime::DEFAULT_AUTHORIZATION_CODE_LIFETIME`].
    pub lifetime: Duration,
    /// When the user authenticated (OIDC Core §2 `auth_time`), if known.
    pub auth_time: Option<Duration>,
}

/// A new code: the value for the redirect, and the record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// The code, sent to the client once and never stored as such unless `lookup_key`
    /// chose to.
    pub code: Secret,
    /// The record, `ACTIVE`, keyed by `lookup_key(code)`.
    pub record: AuthorizationCode,
}

/// Issues a code for `issue` at `now`. `lookup_key` turns the code into the key it is
/// stored and found under (itself, its SHA-256, …; the token persistence mode decides).
pub fn issue(
    issue: &CodeIssue<'_>,
    now: Duration,
    rng: &mut dyn RandomSource,
    lookup_key: impl FnOnce(&Secret) -> String,
) -> Result<NewCode, RandomUnavailable> {
    let code = opaque_value(rng)?;
    let request = issue.request;
    let record = AuthorizationCode {
        code_id: issue.code_id.to_owned(),
        tenant: issue.tenant.clone(),
        code_digest: lookup_key(&code),
        client_id: request.client_id.clone(),
        subject: issue.subject.to_owned(),
        redirect_uri: request.requested_redirect_uri.clone(),
        scopes: issue.scopes.to_vec(),
        pkce_challenge: request.pkce.as_ref().map(|p| p.challenge.clone()),
        pkce_method: request.pkce.as_ref().map(|p| p.method),
        nonce: request.nonce.clone(),
        auth_time_ms: issue.auth_time.map(millis),
        issued_at_ms: millis(now),
        validity_ms: millis(issue.lifetime),
        state: CodeState::Active,
        token_id: None,
    };
    Ok(NewCode { code, record })
}

/// What the token request presented with the code (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The authenticated client.
    pub client_id: &'a str,
    /// `redirect_uri` of the token request.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier` of the token request.
    pub code_verifier: Option<&'a str>,
    /// The client's PKCE policy now.
    pub pkce: PkcePolicy,
}

/// A code accepted for exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    /// The record, now `INACTIVE`: persist it (compare-and-set from `ACTIVE`), then set
    /// its `token_id` to the token issued.
    pub consumed: AuthorizationCode,
    /// The authorized scopes.
    pub scopes: ScopeSet,
}

/// Why a code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRedeemError {
    /// Refused; nothing else to do.
    #[error("{0}")]
    Refused(OAuthError),
    /// The code was already redeemed: refuse, and revoke every token issued from it
    /// (`token_id`, and what descends from it by refresh), then mark the code `REVOKED`.
    #[error("authorization code replayed")]
    Replayed {
        /// The code's record id.
        code_id: String,
        /// The token issued from it, if the first redemption got that far.
        token_id: Option<String>,
    },
}

impl CodeRedeemError {
    /// The error to answer with: `invalid_grant` for a replay too.
    pub fn oauth_error(&self) -> OAuthError {
        match self {
            Self::Refused(e) => e.clone(),
            Self::Replayed { .. } => OAuthError::invalid_grant("authorization code already used"),
        }
    }
}

impl From<OAuthError> for CodeRedeemError {
    fn from(e: OAuthError) -> Self {
        Self::Refused(e)
    }
}

/// Decides a token request redeeming `code` at `now`, in this order: replay (before
/// anything else, so a stolen code's replay revokes whatever client presents it), revoked
/// or expired state, client, expiry, redirect URI (must equal the authorization request's
/// when that one was sent, RFC 6749 §4.1.3), then PKCE (RFC 7636 §4.6).
pub fn redeem(
    code: &AuthorizationCode,
    exchange: &CodeExchange<'_>,
    now: Duration,
) -> Result<RedeemedCode, CodeRedeemError> {
    match code.state {
        CodeState::Active => {}
        CodeState::Inactive => {
            return Err(CodeRedeemError::Replayed {
                code_id: code.code_id.clone(),
                token_id: code.token_id.clone(),
            });
        }
        CodeState::Revoked => {
            return Err(OAuthError::invalid_grant("authorization code revoked").into());
        }
        CodeState::Expired => {
            return Err(OAuthError::invalid_grant("authorization code expired").into());
        }
    }
    if code.client_id != exchange.client_id {
        return Err(
            OAuthError::invalid_grant("authorization code was issued to another client").into(),
        );
    }
    let expires_at = from_millis(code.expires_at_ms());
    if is_expired(expires_at, now) {
        return Err(OAuthError::invalid_grant("authorization code expired").into());
    }
    if let Some(expected) = code.redirect_uri.as_deref() {
        match exchange.redirect_uri {
            None => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri required: the authorization request had one",
                )
                .into());
            }
            Some(sent) if sent != expected => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request",
                )
                .into());
            }
            Some(_) => {}
        }
    }
    if exchange.pkce.required && code.pkce_challenge.is_none() {
        return Err(OAuthError::invalid_grant("code was issued without a code_challenge").into());
    }
    pkce::verify(
        code.pkce_challenge.as_deref(),
        code.pkce_method,
        exchange.code_verifier,
        exchange.pkce.plain_allowed,
    )?;
    let scopes = ScopeSet::from_tokens(&code.scopes)
        .map_err(|_| OAuthError::server_error("stored scope is malformed"))?;
    let mut consumed = code.clone();
    consumed.state = CodeState::Inactive;
    Ok(RedeemedCode { consumed, scopes })
}

#[cfg(test)]
mod tests;
