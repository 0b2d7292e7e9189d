//! Access token scope (RFC 6749 §3.3): parsing the space-delimited `scope` parameter into a
//! [`ScopeSet`], WSO2's role-based scope issuer (a requested scope is granted when it is
//! bound to no role or the user has one of its roles), and narrowing on refresh (RFC 6749
//! §6: a refresh may ask for less than the original grant, never more).

use crate::error::OAuthError;
use keygate_model::Scope;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The OpenID Connect scope (OIDC Core §3.1.2.1).
pub const OPENID: &str = "openid";

/// The scope WSO2 grants when no requested scope survives: `default`.
pub const DEFAULT_SCOPE: &str = "default";

/// Longest `scope` parameter accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 4096;

/// Whether `token` is a scope-token: one or more of `%x21 / %x23-5B / %x5D-7E` (RFC 6749
/// §3.3), i.e. printable ASCII without space, `"` and `\`.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A set of scope tokens, deduplicated and kept sorted, so that it prints the same way
/// whatever order it was requested in (WSO2 sorts scopes the same way). `Display` joins
/// them with single spaces, the form of the `scope` parameter and response field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `scope` parameter (RFC 6749 §3.3): tokens separated by spaces (runs of
    /// spaces are tolerated), each a scope-token. Anything else is `invalid_scope`.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        if text.len() > MAX_SCOPE_LEN {
            return Err(OAuthError::invalid_scope("scope too long"));
        }
        Self::from_tokens(text.split(' ').filter(|t| !t.is_empty()))
    }

    /// A set from individual tokens, each checked as a scope-token.
    pub fn from_tokens<S: AsRef<str>>(
        tokens: impl IntoIterator<Item = S>,
    ) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for token in tokens {
            let token = token.as_ref();
            if !is_scope_token(token) {
                return Err(OAuthError::invalid_scope("malformed scope"));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Adds a token; `invalid_scope` if it is not a scope-token.
    pub fn insert(&mut self, token: &str) -> Result<(), OAuthError> {
        if !is_scope_token(token) {
            return Err(OAuthError::invalid_scope("malformed scope"));
        }
        self.0.insert(token.to_owned());
        Ok(())
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens as a vector, sorted (the form `AccessToken::scopes` stores).
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, token) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
        }
        Ok(())
    }
}

impl FromStr for ScopeSet {
    type Err = OAuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// WSO2's role-based scope issuer: decides which requested scopes a user is granted.
///
/// - a scope bound to no role is granted;
/// - a scope bound to roles is granted when the user has one of them (role names compare
///   exactly, as [`Scope::allows_roles`] does);
/// - a scope the server does not know is dropped;
/// - `openid` is kept when requested and the client may use OpenID Connect;
/// - when nothing remains, the grant is [`DEFAULT_SCOPE`].
///
/// The result is always a subset of what was requested, plus `default` (RFC 6749 §3.3: the
/// server may issue a scope different from the one requested).
#[derive(Debug, Clone)]
pub struct RoleBasedScopeIssuer<'a> {
    known: BTreeMap<&'a str, &'a Scope>,
    openid_allowed: bool,
}

impl<'a> RoleBasedScopeIssuer<'a> {
    /// An issuer over the scopes the server knows (for WSO2, those of the APIs the
    /// application subscribes to, and the system scopes), and whether the client may have
    /// `openid`.
    pub fn new(known: &'a [Scope], openid_allowed: bool) -> Self {
        Self {
            known: known.iter().map(|s| (s.name.as_str(), s)).collect(),
            openid_allowed,
        }
    }

    /// The scopes granted to a user with `user_roles` who asked for `requested`.
    pub fn issue<S: AsRef<str>>(&self, requested: &ScopeSet, user_roles: &[S]) -> ScopeSet {
        let mut granted = BTreeSet::new();
        for token in requested.iter() {
            let allowed = if token == OPENID {
                self.openid_allowed
            } else {
                self.known
                    .get(token)
                    .is_some_and(|scope| scope.allows_roles(user_roles))
            };
            if allowed {
                granted.insert(token.to_owned());
            }
        }
        if granted.is_empty() {
            granted.insert(DEFAULT_SCOPE.to_owned());
        }
        ScopeSet(granted)
    }
}

/// The scope of a token issued by refresh (RFC 6749 §6): the original scope when none is
/// requested, the requested one when it is within the original, otherwise `invalid_scope`
/// naming the first scope that was not granted before.
pub fn narrow_for_refresh(
    original: &ScopeSet,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested else {
        return Ok(original.clone());
    };
    match requested.iter().find(|t| !original.contains(t)) {
        Some(extra) => Err(OAuthError::invalid_scope(format!(
            "scope exceeds the original grant: {extra}"
        ))),
        None => Ok(requested.clone()),
    }
}

#[cfg(test)]
mod tests;
