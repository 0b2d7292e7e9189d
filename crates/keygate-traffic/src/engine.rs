//! The counting core of the traffic manager, without I/O: request reports in, throttle
//! decisions out. A report is what a gateway sends on `keygate.throttle.request` — the
//! shape of [`keygate_throttle::RequestEvent`], each key optionally naming its policy — and
//! the [`DecisionEngine`] counts it with [`GlobalCounter`] against the policy's limit (the
//! traffic manager's, when it knows the policy; otherwise the one the gateway reported).
//! Decisions depend only on the reports and the times the caller passes, so two traffic
//! managers fed the same stream decide the same.

use crate::leases::LeaseBook;
use crate::policy::TrafficPolicies;
use keygate_throttle::window::{CountedKey, Limit};
use keygate_throttle::{GlobalCounter, QuotaLease, RequestEvent, ThrottleDecision};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Most keys one request may report.
pub const MAX_KEYS_PER_REQUEST: usize = 64;
/// Longest throttle key accepted.
pub const MAX_KEY_BYTES: usize = 1024;

/// One admitted request as a gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestReport {
    /// When the request was admitted, unix milliseconds.
    pub time_ms: i64,
    /// Request size in bytes, for bandwidth limits.
    #[serde(default)]
    pub message_size: u64,
    /// The keys counted for the request.
    pub keys: Vec<ReportedKey>,
}

/// A key of a [`RequestReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedKey {
    /// The throttle key, e.g. `5:/pizzashack/1.0.0:1.0.0`.
    pub key: Arc<str>,
    /// The limit the gateway applied, when it knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// The policy the limit comes from, e.g. `subscription:Gold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// Why a report was not counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not a request report.
    #[error("malformed request event: {0}")]
    Malformed(String),
    /// Too many keys, or a key too long.
    #[error("request event out of bounds: {0}")]
    OutOfBounds(&'static str),
}

impl RequestReport {
    /// Reads and checks the payload of a request event.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, ReportError> {
        let report =
            Self::deserialize(payload).map_err(|e| ReportError::Malformed(e.to_string()))?;
        if report.keys.len() > MAX_KEYS_PER_REQUEST {
            return Err(ReportError::OutOfBounds("too many keys"));
        }
        if report
            .keys
            .iter()
            .any(|k| k.key.len() > MAX_KEY_BYTES || k.key.is_empty())
        {
            return Err(ReportError::OutOfBounds("empty or overlong key"));
        }
        Ok(report)
    }
}

/// Request counts of every gateway and the decisions they lead to.
#[derive(Debug)]
pub struct DecisionEngine {
    counter: GlobalCounter,
    policies: RwLock<TrafficPolicies>,
    keys_by_policy: Mutex<HashMap<String, BTreeSet<Arc<str>>>>,
    authoritative: bool,
    leases: LeaseBook,
}

impl DecisionEngine {
    /// An engine counting against `policies` when `authoritative` (`enable_policy_deploy`),
    /// otherwise against the limits gateways report.
    pub fn new(policies: TrafficPolicies, authoritative: bool) -> Self {
        Self {
            counter: GlobalCounter::new(),
            policies: RwLock::new(policies),
            keys_by_policy: Mutex::new(HashMap::new()),
            authoritative,
            leases: LeaseBook::new(),
        }
    }

    fn keys_by_policy(&self) -> MutexGuard<'_, HashMap<String, BTreeSet<Arc<str>>>> {
        // A poisoned lock only means a thread panicked holding it; the index is intact.
        self.keys_by_policy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one report, appending the decisions it causes.
    pub fn ingest(&self, report: &RequestReport, decisions: &mut Vec<ThrottleDecision>) {
        let event = self.resolve(report);
        self.counter.ingest(&event, decisions);
    }

    /// Counts one request event as a gateway of this process built it (no policy names: the
    /// limits it carries are counted), appending the decisions it causes. The same counts as
    /// [`DecisionEngine::ingest`] of its report, without converting it.
    pub fn ingest_event(&self, event: &RequestEvent, decisions: &mut Vec<ThrottleDecision>) {
        self.counter.ingest(event, decisions);
    }

    /// Counts one report of gateway `node` received at `now_ms`, appending the decisions it
    /// causes and, when `grant` (the leading traffic manager), the leases.
    pub fn ingest_from(
        &self,
        node: &str,
        report: &RequestReport,
        now_ms: i64,
        grant: bool,
        decisions: &mut Vec<ThrottleDecision>,
        leases: &mut Vec<QuotaLease>,
    ) {
        let event = self.resolve(report);
        self.counter.ingest(&event, decisions);
        self.leases.record(node, &event, now_ms, grant, leases);
    }

    /// The quota leases of gateways ([`LeaseBook`]).
    pub fn leases(&self) -> &LeaseBook {
        &self.leases
    }

    /// The report with each key's limit: the traffic manager's own when it knows the
    /// policy, else the reported one; keys with neither are left out.
    fn resolve(&self, report: &RequestReport) -> RequestEvent {
        let mut keys = Vec::with_capacity(report.keys.len());
        {
            let policies = self
                .policies
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut index = self.authoritative.then(|| self.keys_by_policy());
            for reported in &report.keys {
                let own = match (&reported.policy, self.authoritative) {
                    (Some(policy), true) => {
                        if let Some(index) = index.as_mut() {
                            index
                                .entry(policy.clone())
                                .or_default()
                                .insert(Arc::clone(&reported.key));
                        }
                        policies.limit(policy).copied()
                    }
                    _ => None,
                };
                if let Some(limit) = own.or(reported.limit) {
                    keys.push(CountedKey {
                        key: Arc::clone(&reported.key),
                        limit,
                    });
                }
            }
        }
        RequestEvent {
            time_ms: report.time_ms,
            message_size: report.message_size,
            keys,
        }
    }

    /// Releases the keys whose window has ended by `now_ms` and forgets them.
    pub fn tick(&self, now_ms: i64, decisions: &mut Vec<ThrottleDecision>) {
        self.leases.purge(now_ms);
        if self.counter.release_ended(now_ms, decisions) > 0 {
            let mut index = self.keys_by_policy();
            for keys in index.values_mut() {
                keys.retain(|key| self.counter.used(key).is_some());
            }
            index.retain(|_, keys| !keys.is_empty());
        }
    }

    /// Replaces the policies, re-deciding at `now_ms` every counted key of a policy whose
    /// limit changed. A removed policy's keys fall back to the limits gateways report.
    pub fn replace_policies(
        &self,
        newer: TrafficPolicies,
        now_ms: i64,
        decisions: &mut Vec<ThrottleDecision>,
    ) {
        let mut policies = self
            .policies
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.authoritative {
            let index = self.keys_by_policy();
            for name in policies.changed(&newer) {
                let (Some(limit), Some(keys)) = (newer.limit(name), index.get(name)) else {
                    continue;
                };
                for key in keys {
                    self.counter.relimit(key, limit, now_ms, decisions);
                }
            }
        }
        *policies = newer;
    }

    /// The keys throttled at `now_ms`, sorted by key.
    pub fn throttled(&self, now_ms: i64) -> Vec<ThrottleDecision> {
        self.counter.throttled(now_ms)
    }

    /// What `key` has used in its current window.
    pub fn used(&self, key: &str) -> Option<u64> {
        self.counter.used(key)
    }
}

#[cfg(test)]
mod tests;
