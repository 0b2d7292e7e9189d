//! Proof Key for Code Exchange (RFC 7636): verifier and challenge syntax (§4.1, §4.2), the
//! `S256` and `plain` transforms (§4.2), what the authorization endpoint accepts (§4.3,
//! §4.4.1) under a client's [`PkcePolicy`], and verification at the token endpoint (§4.5,
//! §4.6). Policy, after OAuth 2.1 and the Security BCP (RFC 9700 §2.1.1): public clients
//! must use `S256`; `plain` only for a confidential client that allows it; a code issued
//! with a challenge is never redeemed without its verifier, nor a code issued without one
//! with a verifier.

use crate::error::OAuthError;
use aws_lc_rs::{constant_time, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_model::{OAuthClient, PkceMethod};

/// Shortest code verifier (RFC 7636 §4.1).
pub const MIN_VERIFIER_LEN: usize = 43;

/// Longest code verifier (RFC 7636 §4.1).
pub const MAX_VERIFIER_LEN: usize = 128;

/// Length of an `S256` challenge: base64url of 32 bytes, unpadded.
pub const S256_CHALLENGE_LEN: usize = 43;

/// Whether `value` has the syntax of a code verifier, which a `plain` challenge shares:
/// 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 §4.1).
pub fn is_valid_verifier(value: &str) -> bool {
    (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `value` has the syntax of a challenge for `method` (RFC 7636 §4.2): a verifier's
/// syntax for `plain`, 43 base64url characters for `S256`.
pub fn is_valid_challenge(method: PkceMethod, value: &str) -> bool {
    match method {
        PkceMethod::Plain => is_valid_verifier(value),
        PkceMethod::S256 => {
            value.len() == S256_CHALLENGE_LEN
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        }
    }
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// The challenge `method` derives from `verifier` (RFC 7636 §4.2).
pub fn transform(method: PkceMethod, verifier: &str) -> String {
    match method {
        PkceMethod::S256 => s256_challenge(verifier),
        PkceMethod::Plain => verifier.to_owned(),
    }
}

/// What a client must do about PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PkcePolicy {
    /// Whether an authorization request without a challenge is refused.
    pub required: bool,
    /// Whether the `plain` method is accepted.
    pub plain_allowed: bool,
}

impl PkcePolicy {
    /// The policy for a registered client: required when the client says so or is public;
    /// `plain` only when the client allows it and is not public.
    pub fn for_client(client: &OAuthClient) -> Self {
        Self::new(
            client.pkce_mandatory,
            client.pkce_plain_allowed,
            client.is_public(),
        )
    }

    /// The policy from a client's settings; a public client always needs `S256`.
    pub fn new(mandatory: bool, plain_allowed: bool, public_client: bool) -> Self {
        Self {
            required: mandatory || public_client,
            plain_allowed: plain_allowed && !public_client,
        }
    }
}

/// A challenge accepted at the authorization endpoint, kept with the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge {
    /// `code_challenge`.
    pub challenge: String,
    /// `code_challenge_method`.
    pub method: PkceMethod,
}

/// Checks `code_challenge` and `code_challenge_method` of an authorization request (RFC
/// 7636 §4.3, §4.4.1). The method defaults to `plain` when absent (§4.3). Every refusal is
/// `invalid_request`, returned to the client's redirect URI.
pub fn accept_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    policy: PkcePolicy,
) -> Result<Option<PkceChallenge>, OAuthError> {
    let Some(challenge) = challenge else {
        if method.is_some() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        if policy.required {
            return Err(OAuthError::invalid_request("code_challenge required"));
        }
        return Ok(None);
    };
    let method = match method {
        None => PkceMethod::Plain,
        Some(m) => m
            .parse()
            .map_err(|_| OAuthError::invalid_request("unsupported code_challenge_method"))?,
    };
    if method == PkceMethod::Plain && !policy.plain_allowed {
        return Err(OAuthError::invalid_request(
            "code_challenge_method plain is not allowed; use S256",
        ));
    }
    if !is_valid_challenge(method, challenge) {
        return Err(OAuthError::invalid_request("malformed code_challenge"));
    }
    Ok(Some(PkceChallenge {
        challenge: challenge.to_owned(),
        method,
    }))
}

/// Verifies the token request's `code_verifier` against what the code was issued with
/// (RFC 7636 §4.6). A stored challenge without a method is `plain` (§4.3). All refusals are
/// `invalid_grant`: a missing verifier when there is a challenge, a verifier when there was
/// none, a malformed or wrong verifier, and a `plain` code when `plain` is no longer
/// allowed. The comparison is constant-time.
pub fn verify(
    challenge: Option<&str>,
    method: Option<PkceMethod>,
    verifier: Option<&str>,
    plain_allowed: bool,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier required")),
        (Some(challenge), Some(verifier)) => {
            let method = method.unwrap_or(PkceMethod::Plain);
            if method == PkceMethod::Plain && !plain_allowed {
                return Err(OAuthError::invalid_grant(
                    "code_challenge_method plain is not allowed",
                ));
            }
            if !is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_grant("malformed code_verifier"));
            }
            let derived = transform(method, verifier);
            constant_time::verify_slices_are_equal(derived.as_bytes(), challenge.as_bytes())
                .map_err(|_| OAuthError::invalid_grant("code_verifier does not match"))
        }
    }
}

#[cfg(test)]
mod tests;
