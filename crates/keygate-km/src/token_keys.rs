//! The keys an access token is stored and found under.
//!
//! Opaque access tokens, refresh tokens and codes are kept under the SHA-256 of their
//! value ([`crate::protection::TokenProtection::lookup_key`]). A JWT access token is kept
//! under [`jti_key`]: `jti:` and its `jti`, which is the record id — time-ordered
//! (UUIDv7), so that each new row appends to the unique index on the lookup key instead of
//! writing a random page of it; the prefix keeps it apart from every lowercase-hex
//! SHA-256. A `jti` alone is nothing a client can present, so in every persistence mode
//! the database still holds no bearer token.
//!
//! A presented token is found by its `jti` only when it is an access token JWT
//! (`typ: at+jwt`) whose signature verifies against this key manager's keys — the current
//! one or a rotated one still published. The `jti` of anything else, such as a forged JWT
//! naming another client's `jti`, is never used. Whatever it is, a token not found by its
//! `jti` is then looked up by its SHA-256, which finds the JWTs kept under their digest
//! before this scheme, so an existing database keeps working.

use crate::errors::Failure;
use crate::manager::Inner;
use keygate_jose::jwt::{ACCESS_TOKEN_TYPE, Claims};
use keygate_jose::{JwsAlgorithm, verify_compact};
use keygate_model::AccessToken;

/// What starts the lookup key of a JWT access token; no SHA-256 hex digest has a `:`.
pub const JTI_KEY_PREFIX: &str = "jti:";

/// The lookup key a JWT access token with `jti` is stored under.
pub fn jti_key(jti: &str) -> String {
    let mut key = String::with_capacity(JTI_KEY_PREFIX.len() + jti.len());
    key.push_str(JTI_KEY_PREFIX);
    key.push_str(jti);
    key
}

/// Whether `key` is a [`jti_key`] rather than a digest.
pub fn is_jti_key(key: &str) -> bool {
    key.starts_with(JTI_KEY_PREFIX)
}

/// The SHA-256 gateways know `token` by, when its record is kept under one (opaque tokens,
/// and JWTs stored before [`jti_key`]s); `None` for a JWT kept under its `jti`, which
/// gateways refuse by that `jti`.
pub(crate) fn revocation_digest(token: &AccessToken) -> Option<&str> {
    let digest = token.token_digest.as_str();
    (!digest.is_empty() && !is_jti_key(digest)).then_some(digest)
}

/// Whether a JWS `typ` names an access token JWT (RFC 9068 §2.1).
fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// The keys a presented access token may be stored under, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessTokenKeys {
    /// The [`jti_key`] of a verified access token JWT of this key manager.
    pub(crate) jti: Option<String>,
    /// The SHA-256 of the value: opaque tokens, and JWTs kept before the `jti` key.
    pub(crate) digest: String,
}

impl AccessTokenKeys {
    /// The keys, most likely first.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = &str> {
        self.jti
            .as_deref()
            .into_iter()
            .chain([self.digest.as_str()])
    }
}

/// An access token found by what a client presented.
#[derive(Debug, Clone)]
pub(crate) struct FoundAccessToken {
    /// The key it was found under.
    pub(crate) key: String,
    /// Its record.
    pub(crate) record: AccessToken,
}

impl Inner {
    /// The `jti` of `value` when it is an access token JWT whose signature verifies
    /// against this key manager's published keys; `None` for anything else.
    pub(crate) fn verified_access_token_jti(&self, value: &str) -> Option<String> {
        if value.bytes().filter(|&b| b == b'.').count() != 2 {
            return None;
        }
        let keys = self.signing.verifying_keys(self.clock.now_ms());
        let verified = verify_compact(value, &keys, &JwsAlgorithm::ALL).ok()?;
        if !verified
            .header
            .typ
            .as_deref()
            .is_some_and(is_access_token_type)
        {
            return None;
        }
        Claims::from_json(&verified.payload_bytes)
            .ok()?
            .jti
            .filter(|jti| !jti.is_empty())
    }

    /// The keys to look `value` up under as an access token.
    pub(crate) fn access_token_keys(&self, value: &str) -> AccessTokenKeys {
        AccessTokenKeys {
            jti: self
                .verified_access_token_jti(value)
                .map(|jti| jti_key(&jti)),
            digest: self.protection.lookup_key(value),
        }
    }

    /// The record of the access token `value`, by its keys in turn.
    pub(crate) async fn access_token_by_value(
        &self,
        value: &str,
    ) -> Result<Option<FoundAccessToken>, Failure> {
        let keys = self.access_token_keys(value);
        self.access_token_by_keys(&keys).await
    }

    /// The record stored under one of `keys`, tried in order.
    pub(crate) async fn access_token_by_keys(
        &self,
        keys: &AccessTokenKeys,
    ) -> Result<Option<FoundAccessToken>, Failure> {
        let tokens = self.stores.tokens();
        for key in keys.in_order() {
            if let Some(record) = tokens.token_by_digest(key).await? {
                return Ok(Some(FoundAccessToken {
                    key: key.to_owned(),
                    record,
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_jose::TokenHasher;

    #[test]
    fn a_jti_key_is_never_a_digest() {
        let key = jti_key("0192b3c4-0000-7000-8000-000000000001");
        assert_eq!(key, "jti:0192b3c4-0000-7000-8000-000000000001");
        assert!(is_jti_key(&key));
        let digest = TokenHasher::hash("jti:0192b3c4-0000-7000-8000-000000000001");
        assert!(!is_jti_key(&digest));
        assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn keys_of_time_ordered_jtis_sort_as_the_jtis() {
        let earlier = jti_key("0192b3c4-0000-7000-8000-00000000000f");
        let later = jti_key("0192b3c5-0000-7000-8000-000000000000");
        assert!(earlier < later);
    }

    #[test]
    fn the_jti_key_is_tried_before_the_digest() {
        let keys = AccessTokenKeys {
            jti: Some(jti_key("j")),
            digest: "d".into(),
        };
        assert_eq!(keys.in_order().collect::<Vec<_>>(), ["jti:j", "d"]);
        let opaque = AccessTokenKeys {
            jti: None,
            digest: "d".into(),
        };
        assert_eq!(opaque.in_order().collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn only_access_token_types_count() {
        assert!(is_access_token_type("at+jwt"));
        assert!(is_access_token_type("application/AT+JWT"));
        assert!(!is_access_token_type("JWT"));
        assert!(!is_access_token_type("logout+jwt"));
    }
}
