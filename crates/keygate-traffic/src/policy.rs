//! Where the traffic manager's limits come from. A gateway reports each counted key with
//! the limit it applied and, when it knows it, the policy the limit came from
//! (`subscription:Gold`, `application:10PerMin`, `api:50KPerMin`, `global:<name>` for a
//! custom key template). With `enable_policy_deploy` the traffic manager's own
//! [`PolicySource`] is authoritative for named policies: a gateway with a stale replica
//! cannot loosen a limit, and a key whose gateway knows no limit (a custom rule, which only
//! traffic managers count) is still counted. The server backs the source with the store.

use async_trait::async_trait;
use keygate_throttle::window::Limit;
use std::collections::HashMap;
use std::fmt;

/// Limits by policy name, as reported with request keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficPolicies {
    limits: HashMap<String, Limit>,
}

impl TrafficPolicies {
    /// No policies: every key is counted against the limit its gateway reported.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the limit of `policy` (e.g. `subscription:Gold`).
    pub fn with_limit(mut self, policy: impl Into<String>, limit: Limit) -> Self {
        self.insert(policy, limit);
        self
    }

    /// Adds or replaces the limit of `policy`.
    pub fn insert(&mut self, policy: impl Into<String>, limit: Limit) {
        self.limits.insert(policy.into(), limit);
    }

    /// The limit of `policy`.
    pub fn limit(&self, policy: &str) -> Option<&Limit> {
        self.limits.get(policy)
    }

    /// Policies whose limit differs between `self` and `newer` (added, removed or changed).
    pub fn changed<'a>(&'a self, newer: &'a TrafficPolicies) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .limits
            .iter()
            .filter(|(name, limit)| newer.limits.get(*name) != Some(limit))
            .map(|(name, _)| name.as_str())
            .chain(
                newer
                    .limits
                    .keys()
                    .filter(|name| !self.limits.contains_key(*name))
                    .map(String::as_str),
            )
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Why policies could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("throttling policies unavailable: {0}")]
pub struct PolicySourceError(pub String);

/// The traffic manager's view of the throttling policies.
#[async_trait]
pub trait PolicySource: Send + Sync + fmt::Debug {
    /// Every policy's limit now.
    async fn load(&self) -> Result<TrafficPolicies, PolicySourceError>;
}

/// A fixed set of policies (tests, and a traffic manager with no store).
#[derive(Debug, Clone, Default)]
pub struct StaticPolicies(pub TrafficPolicies);

#[async_trait]
impl PolicySource for StaticPolicies {
    async fn load(&self) -> Result<TrafficPolicies, PolicySourceError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_names_added_removed_and_edited_policies() {
        let old = TrafficPolicies::new()
            .with_limit("subscription:Gold", Limit::requests(5000, 60_000))
            .with_limit("application:10PerMin", Limit::requests(10, 60_000))
            .with_limit("api:50KPerMin", Limit::requests(50_000, 60_000));
        let new = TrafficPolicies::new()
            .with_limit("subscription:Gold", Limit::requests(4000, 60_000))
            .with_limit("application:10PerMin", Limit::requests(10, 60_000))
            .with_limit("global:ip", Limit::requests(1, 1_000));
        assert_eq!(
            old.changed(&new),
            ["api:50KPerMin", "global:ip", "subscription:Gold"]
        );
        assert!(new.changed(&new).is_empty());
    }
}
