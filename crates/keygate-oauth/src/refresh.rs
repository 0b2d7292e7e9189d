//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700, the
//! OAuth 2.0 Security BCP, §4.14.2): every refresh issues a new refresh token and marks the
//! presented one used; a used refresh token presented again means one of two parties holds
//! a stolen copy, so the whole family — every token descending from the same grant — is
//! revoked ([`RefreshError::ReuseDetected`]).
//!
//! The caller looks the presented token up by its lookup key, calls [`rotate`], persists
//! the superseded record with a compare-and-set from `ACTIVE` (so that of two concurrent
//! refreshes one wins and the other is seen as reuse), and stores the new token in the same
//! family.

use crate::error::OAuthError;
use crate::lifetime::{from_millis, is_expired};
use crate::random::{RandomSource, opaque_value};
use crate::scope::{ScopeSet, narrow_for_refresh};
use keygate_model::{AccessToken, Secret, TokenState};
use std::time::Duration;

/// The refresh request, beyond the presented token.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    /// The authenticated client (RFC 6749 §6: the token must have been issued to it).
    pub client_id: &'a str,
    /// `scope` of the request, if any: at most the original scope.
    pub scope: Option<&'a ScopeSet>,
    /// Lifetime of the new refresh token.
    pub refresh_lifetime: Duration,
}

/// A successful rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRotation {
    /// The presented record, now `INACTIVE`: persist it (compare-and-set from `ACTIVE`).
    pub superseded: AccessToken,
    /// The new refresh token, to return to the client and store by its lookup key.
    pub refresh_token: Secret,
    /// When the new refresh token expires.
    pub refresh_expires_at: Duration,
    /// Lifetime of the new refresh token.
    pub refresh_lifetime: Duration,
    /// Family of the new token: the same as the presented one's.
    pub family_id: String,
    /// The authorized user, unchanged.
    pub subject: String,
    /// Grant that started the family, e.g. `authorization_code`.
    pub grant_type: String,
    /// Scope of the new access token: the requested one, or the original.
    pub access_scopes: ScopeSet,
    /// Scope of the new refresh token: always the original (RFC 6749 §6, "MUST be
    /// identical to that of the refresh token included by the client").
    pub refresh_scopes: ScopeSet,
}

/// Why a refresh was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// Refused; nothing else to do.
    #[error("{0}")]
    Refused(OAuthError),
    /// A refresh token that was already rotated came back: refuse, and revoke every
    /// token of the family (RFC 9700 §4.14.2).
    #[error("refresh token reused")]
    ReuseDetected {
        /// The family to revoke.
        family_id: String,
    },
}

impl RefreshError {
    /// The error to answer with: `invalid_grant` for reuse too.
    pub fn oauth_error(&self) -> OAuthError {
        match self {
            Self::Refused(e) => e.clone(),
            Self::ReuseDetected { .. } => OAuthError::invalid_grant("refresh token revoked"),
        }
    }
}

impl From<OAuthError> for RefreshError {
    fn from(e: OAuthError) -> Self {
        Self::Refused(e)
    }
}

/// Decides a refresh of `presented` at `now`, in this order: a refresh token on the
/// record; its state (`INACTIVE` means already rotated: reuse, reported before anything
/// else, whichever client presents it); the client; the refresh token's expiry; the
/// requested scope. On success draws a new refresh token from `rng`.
pub fn rotate(
    presented: &AccessToken,
    request: &RefreshRequest<'_>,
    now: Duration,
    rng: &mut dyn RandomSource,
) -> Result<RefreshRotation, RefreshError> {
    if presented.refresh_token_digest.is_none() {
        return Err(OAuthError::invalid_grant("no refresh token was issued").into());
    }
    match presented.state {
        TokenState::Active => {}
        TokenState::Inactive => {
            return Err(RefreshError::ReuseDetected {
                family_id: presented.refresh_family_id.clone(),
            });
        }
        TokenState::Revoked => {
            return Err(OAuthError::invalid_grant("refresh token revoked").into());
        }
        TokenState::Expired => {
            return Err(OAuthError::invalid_grant("refresh token expired").into());
        }
    }
    if presented.client_id != request.client_id {
        return Err(OAuthError::invalid_grant("refresh token was issued to another client").into());
    }
    let expires_at = presented
        .refresh_expires_at_ms()
        .map(from_millis)
        .ok_or_else(|| OAuthError::invalid_grant("no refresh token was issued"))?;
    if is_expired(expires_at, now) {
        return Err(OAuthError::invalid_grant("refresh token expired").into());
    }
    let original = ScopeSet::from_tokens(&presented.scopes)
        .map_err(|_| OAuthError::server_error("stored scope is malformed"))?;
    let access_scopes = narrow_for_refresh(&original, request.scope)?;
    let refresh_token = opaque_value(rng).map_err(OAuthError::from)?;

    let mut superseded = presented.clone();
    superseded.state = TokenState::Inactive;
    Ok(RefreshRotation {
        superseded,
        refresh_token,
        refresh_expires_at: now.saturating_add(request.refresh_lifetime),
        refresh_lifetime: request.refresh_lifetime,
        family_id: presented.refresh_family_id.clone(),
        subject: presented.subject.clone(),
        grant_type: presented.grant_type.clone(),
        access_scopes,
        refresh_scopes: original,
    })
}

#[cfg(test)]
mod tests;
