//! Subject names of DESIGN §5, under a configurable prefix (`keygate` by default).

use std::fmt;

/// The prefix every subject starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPrefix(String);

impl SubjectPrefix {
    /// The default prefix, `keygate`.
    pub const DEFAULT: &'static str = "keygate";

    /// A prefix; empty or dotted-at-the-end prefixes are normalised.
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            Self(Self::DEFAULT.to_owned())
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// The prefix itself, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SubjectPrefix {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// One subject of DESIGN §5.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    /// API, application, subscription, key mapping, policy and block condition changes.
    pub fn notification(prefix: &SubjectPrefix) -> Self {
        Self(format!("{}.notification", prefix.0))
    }

    /// Token revocations: by token, and all tokens of a user, application or consumer key.
    pub fn token_revocation(prefix: &SubjectPrefix) -> Self {
        Self(format!("{}.token.revocation", prefix.0))
    }

    /// Cache invalidations for the nodes of one `[apim.cache_invalidation] domain`.
    pub fn cache_invalidation(prefix: &SubjectPrefix, domain: &str) -> Self {
        Self(format!("{}.cache.invalidation.{}", prefix.0, domain))
    }

    /// Request events from gateways to traffic managers.
    pub fn throttle_request(prefix: &SubjectPrefix) -> Self {
        Self(format!("{}.throttle.request", prefix.0))
    }

    /// Throttle decisions, blocking conditions and key templates for gateways.
    pub fn throttle_data(prefix: &SubjectPrefix) -> Self {
        Self(format!("{}.throttle.data", prefix.0))
    }

    /// The subject as the broker sees it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_design_table() {
        let p = SubjectPrefix::default();
        assert_eq!(Subject::notification(&p).as_str(), "keygate.notification");
        assert_eq!(
            Subject::token_revocation(&p).as_str(),
            "keygate.token.revocation"
        );
        assert_eq!(
            Subject::cache_invalidation(&p, "keymanager-domain").as_str(),
            "keygate.cache.invalidation.keymanager-domain"
        );
        assert_eq!(
            Subject::throttle_request(&p).as_str(),
            "keygate.throttle.request"
        );
        assert_eq!(Subject::throttle_data(&p).as_str(), "keygate.throttle.data");
    }

    #[test]
    fn prefix_is_normalised() {
        assert_eq!(
            Subject::notification(&SubjectPrefix::new("acme.")).as_str(),
            "acme.notification"
        );
        assert_eq!(
            Subject::notification(&SubjectPrefix::new("  ")).as_str(),
            "keygate.notification"
        );
    }
}
