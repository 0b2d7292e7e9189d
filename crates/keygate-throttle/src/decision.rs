//! What the gateway obeys beyond its own counters. [`ThrottleDecision`]s come from the
//! traffic managers (`keygate.throttle.data`): a key is throttled until an expiry, or
//! released. A [`DecisionTable`] keeps them for lookups on every request; a decision is never
//! obeyed past its expiry, and applying one twice, or a throttle and its release in either
//! order, leaves the same state. [`BlockingConditions`] holds the deny conditions (API,
//! APPLICATION, IP, IPRANGE, USER) that are enabled, indexed so that a request is checked in
//! a few hash lookups; a match is refused with 900805.

use crate::condition::IpMatch;
use crate::error::ThrottleError;
use crate::lease::{QuotaLease, starter_cap};
use crate::shard::ShardedMap;
use crate::window::Limit;
use foldhash::fast::RandomState;
use keygate_model::{BlockCondition, BlockConditionType};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// A traffic manager's verdict on one key: `{key, throttled, expiry}` on the wire.
///
/// A throttle (`throttled: true`) holds until `expiry` (unix milliseconds, exclusive). A
/// release (`throttled: false`) lifts every throttle of the key that ends at or before its
/// `expiry`: a traffic manager releases a key with the start of the window that freed it,
/// and `i64::MAX` lifts any throttle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThrottleDecision {
    /// The throttle key, e.g. `5:/pizzashack/1.0.0:1.0.0`.
    pub key: String,
    /// Throttled (`true`) or released (`false`).
    pub throttled: bool,
    /// Unix milliseconds: end of a throttle, or the time a release is from.
    #[serde(rename = "expiry")]
    pub expiry_ms: i64,
}

/// This gateway's lease on one key: its cap in the window ending at `expiry_ms`.
#[derive(Debug, Clone, Copy)]
struct LeaseSlot {
    cap: u64,
    expiry_ms: i64,
}

/// The throttle decisions and quota leases in force at a gateway.
pub struct DecisionTable {
    until: ShardedMap<i64>,
    entries: AtomicUsize,
    leases: ShardedMap<LeaseSlot>,
    /// Leases are followed until then (unix milliseconds): a leading traffic manager's
    /// heartbeat moves it on.
    follow_leases_until: AtomicI64,
}

impl DecisionTable {
    /// No decisions.
    pub fn new() -> Self {
        Self {
            until: ShardedMap::new(),
            entries: AtomicUsize::new(0),
            leases: ShardedMap::new(),
            follow_leases_until: AtomicI64::new(i64::MIN),
        }
    }

    /// Follows leases until `until_ms` (a leading traffic manager's heartbeat arrived);
    /// an earlier time than the one already set changes nothing.
    pub fn follow_leases_until(&self, until_ms: i64) {
        self.follow_leases_until
            .fetch_max(until_ms, Ordering::Relaxed);
    }

    /// Stops following leases: every key is counted against its whole limit again.
    pub fn stop_following_leases(&self) {
        self.follow_leases_until.store(i64::MIN, Ordering::Relaxed);
    }

    /// Whether leases are followed at `now_ms`.
    pub fn follows_leases(&self, now_ms: i64) -> bool {
        self.follow_leases_until.load(Ordering::Relaxed) > now_ms
    }

    /// Takes in a lease for this gateway received at `now_ms`. A lease of an ended window
    /// changes nothing; of a later window than the one held, it replaces it; of the same
    /// window, the higher cap holds (caps only grow within a window). Answers whether the
    /// table changed.
    pub fn apply_lease(&self, lease: &QuotaLease, now_ms: i64) -> bool {
        if lease.expiry_ms <= now_ms {
            return false;
        }
        self.leases.upsert(
            &lease.key,
            |_| LeaseSlot {
                cap: 0,
                expiry_ms: i64::MIN,
            },
            |slot| {
                if lease.expiry_ms > slot.expiry_ms {
                    *slot = LeaseSlot {
                        cap: lease.cap,
                        expiry_ms: lease.expiry_ms,
                    };
                    true
                } else if lease.expiry_ms == slot.expiry_ms && lease.cap > slot.cap {
                    slot.cap = lease.cap;
                    true
                } else {
                    false
                }
            },
        )
    }

    /// The cap this gateway holds on `key` in the window of `now_ms` under `limit`: its
    /// lease, the [`starter_cap`] when it holds none for that window, or `None` when leases
    /// are not followed.
    pub fn lease_cap(&self, key: &str, limit: &Limit, now_ms: i64) -> Option<u64> {
        if !self.follows_leases(now_ms) {
            return None;
        }
        let window_end = limit.window_end(now_ms);
        let leased = self
            .leases
            .update(key, |slot| {
                (slot.expiry_ms == window_end).then_some(slot.cap)
            })
            .flatten();
        Some(leased.unwrap_or_else(|| starter_cap(limit.max)))
    }

    /// Applies `decision` received at `now_ms`. A throttle that has already expired changes
    /// nothing; of two throttles of one key the later expiry holds. Answers whether the
    /// table changed.
    pub fn apply(&self, decision: &ThrottleDecision, now_ms: i64) -> bool {
        if decision.throttled {
            if decision.expiry_ms <= now_ms {
                return false;
            }
            let mut inserted = false;
            let changed = self.until.upsert(
                &decision.key,
                |_| {
                    inserted = true;
                    i64::MIN
                },
                |until| {
                    let before = *until;
                    *until = before.max(decision.expiry_ms);
                    *until != before
                },
            );
            if inserted {
                self.entries.fetch_add(1, Ordering::Relaxed);
            }
            changed
        } else {
            let removed = self
                .until
                .remove_if(&decision.key, |until| *until <= decision.expiry_ms);
            if removed {
                self.entries.fetch_sub(1, Ordering::Relaxed);
            }
            removed
        }
    }

    /// When `key` is throttled at `now_ms`, the time the throttle ends.
    pub fn throttled_until(&self, key: &str, now_ms: i64) -> Option<i64> {
        if self.entries.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.until
            .update(key, |until| *until)
            .filter(|until| *until > now_ms)
    }

    /// Forgets decisions that have expired at `now_ms`; answers how many.
    pub fn purge_expired(&self, now_ms: i64) -> usize {
        let removed = self.until.retain(|_, until| *until > now_ms);
        self.entries.fetch_sub(removed, Ordering::Relaxed);
        removed + self.leases.retain(|_, slot| slot.expiry_ms > now_ms)
    }

    /// Number of keys with a decision, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether no decision is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for DecisionTable {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DecisionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionTable")
            .field("keys", &self.len())
            .finish()
    }
}

/// Who a request comes from, as deny conditions see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockQuery<'a> {
    /// API context, e.g. `/pizzashack/1.0.0`.
    pub api_context: &'a str,
    /// The application's owner.
    pub subscriber: &'a str,
    /// The application's name.
    pub app_name: &'a str,
    /// The authorized user, `name@tenant`.
    pub user: &'a str,
    /// The API's tenant, which IP conditions belong to.
    pub api_tenant: &'a str,
    /// The client address, when known.
    pub client_ip: Option<IpAddr>,
}

#[derive(Debug, Clone)]
struct IpRule {
    tenant: Box<str>,
    addresses: IpMatch,
    invert: bool,
}

#[derive(Debug, Clone)]
enum Compiled {
    Api(Box<str>),
    Application { subscriber: Box<str>, app: Box<str> },
    User(Box<str>),
    Ip { tenant: Box<str>, ip: IpAddr },
    IpRule(IpRule),
}

type Set = HashSet<Box<str>, RandomState>;

/// The enabled deny conditions, by uuid and indexed by type.
#[derive(Debug, Clone, Default)]
pub struct BlockingConditions {
    by_uuid: HashMap<String, Compiled, RandomState>,
    apis: Set,
    applications: HashMap<Box<str>, Set, RandomState>,
    users: Set,
    ips: HashMap<IpAddr, Vec<Box<str>>, RandomState>,
    ip_rules: Vec<IpRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixedIpValue {
    fixed_ip: String,
    #[serde(default)]
    invert: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpRangeValue {
    starting_ip: String,
    ending_ip: String,
    #[serde(default)]
    invert: bool,
}

fn compile(condition: &BlockCondition) -> Result<Compiled, ThrottleError> {
    let tenant = condition.tenant.domain();
    let value = condition.value.trim();
    let invalid = |reason| ThrottleError::InvalidBlockCondition {
        kind: condition.condition_type.as_str(),
        value: condition.value.clone(),
        reason,
    };
    Ok(match condition.condition_type {
        BlockConditionType::Api => Compiled::Api(value.into()),
        BlockConditionType::Application => {
            let (subscriber, app) = value
                .split_once(':')
                .ok_or_else(|| invalid("expected subscriber:appName"))?;
            Compiled::Application {
                subscriber: subscriber.into(),
                app: app.into(),
            }
        }
        BlockConditionType::User => {
            let suffix = format!("@{tenant}");
            if value.ends_with(&suffix) {
                Compiled::User(value.into())
            } else {
                Compiled::User(format!("{value}{suffix}").into())
            }
        }
        BlockConditionType::Ip => {
            let (address, invert) = if value.starts_with('{') {
                let parsed: FixedIpValue = serde_json::from_str(value)
                    .map_err(|_| invalid("expected {\"fixedIp\":…,\"invert\":…}"))?;
                (parsed.fixed_ip, parsed.invert)
            } else {
                (value.to_owned(), false)
            };
            let addresses = IpMatch::parse(&address).map_err(|_| invalid("not an IP address"))?;
            match addresses {
                IpMatch::Exact(ip) if !invert => Compiled::Ip {
                    tenant: tenant.into(),
                    ip,
                },
                _ => Compiled::IpRule(IpRule {
                    tenant: tenant.into(),
                    addresses,
                    invert,
                }),
            }
        }
        BlockConditionType::IpRange => {
            let parsed: IpRangeValue = serde_json::from_str(value)
                .map_err(|_| invalid("expected {\"startingIp\":…,\"endingIp\":…,\"invert\":…}"))?;
            let addresses = IpMatch::parse_range(&parsed.starting_ip, &parsed.ending_ip)
                .map_err(|_| invalid("not a valid IP range"))?;
            Compiled::IpRule(IpRule {
                tenant: tenant.into(),
                addresses,
                invert: parsed.invert,
            })
        }
    })
}

impl BlockingConditions {
    /// No deny conditions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The enabled conditions of a snapshot, with the errors of those that could not be
    /// compiled (which are left out).
    pub fn from_conditions<'c>(
        conditions: impl IntoIterator<Item = &'c BlockCondition>,
    ) -> (Self, Vec<ThrottleError>) {
        let mut set = Self::new();
        let mut errors = Vec::new();
        for condition in conditions {
            if !condition.enabled {
                continue;
            }
            match compile(condition) {
                Ok(compiled) => {
                    set.by_uuid.insert(condition.uuid.clone(), compiled);
                }
                Err(err) => errors.push(err),
            }
        }
        set.reindex();
        (set, errors)
    }

    /// Adds or replaces the condition with `condition.uuid`; a disabled condition is removed.
    pub fn upsert(&mut self, condition: &BlockCondition) -> Result<(), ThrottleError> {
        if !condition.enabled {
            self.remove(&condition.uuid);
            return Ok(());
        }
        let compiled = compile(condition)?;
        self.by_uuid.insert(condition.uuid.clone(), compiled);
        self.reindex();
        Ok(())
    }

    /// Removes the condition with `uuid`; answers whether there was one.
    pub fn remove(&mut self, uuid: &str) -> bool {
        let removed = self.by_uuid.remove(uuid).is_some();
        if removed {
            self.reindex();
        }
        removed
    }

    /// Number of enabled conditions.
    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    /// Whether no condition is enabled.
    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }

    fn reindex(&mut self) {
        self.apis.clear();
        self.applications.clear();
        self.users.clear();
        self.ips.clear();
        self.ip_rules.clear();
        for compiled in self.by_uuid.values() {
            match compiled {
                Compiled::Api(context) => {
                    self.apis.insert(context.clone());
                }
                Compiled::Application { subscriber, app } => {
                    self.applications
                        .entry(subscriber.clone())
                        .or_default()
                        .insert(app.clone());
                }
                Compiled::User(user) => {
                    self.users.insert(user.clone());
                }
                Compiled::Ip { tenant, ip } => {
                    self.ips.entry(*ip).or_default().push(tenant.clone());
                }
                Compiled::IpRule(rule) => self.ip_rules.push(rule.clone()),
            }
        }
    }

    /// The type of the first condition that blocks the request, checked in WSO2's order:
    /// API, application, user, IP, IP range.
    pub fn blocked_by(&self, request: &BlockQuery<'_>) -> Option<BlockConditionType> {
        if self.by_uuid.is_empty() {
            return None;
        }
        if self.apis.contains(request.api_context) {
            return Some(BlockConditionType::Api);
        }
        if self
            .applications
            .get(request.subscriber)
            .is_some_and(|apps| apps.contains(request.app_name))
        {
            return Some(BlockConditionType::Application);
        }
        if self.users.contains(request.user) {
            return Some(BlockConditionType::User);
        }
        let ip = request.client_ip?;
        if self
            .ips
            .get(&ip.to_canonical())
            .is_some_and(|tenants| tenants.iter().any(|tenant| &**tenant == request.api_tenant))
        {
            return Some(BlockConditionType::Ip);
        }
        for rule in &self.ip_rules {
            if &*rule.tenant == request.api_tenant && rule.addresses.contains(ip) != rule.invert {
                return Some(match rule.addresses {
                    IpMatch::Range { .. } => BlockConditionType::IpRange,
                    _ => BlockConditionType::Ip,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
