//! The gateway's throttling phase for one request, in WSO2's order: deny conditions (900805),
//! the API's advanced policy at API level (900800) or the resource's at resource level
//! (900802), the subscription (900804, with spike arrest, and admitting but reporting
//! requests over a quota that does not stop on quota reach), the application (900803),
//! custom policies (900806), and last the backend's hard limit (900801).
//!
//! At every level the traffic managers' decisions are obeyed first, then the gateway's own
//! window counter for the key is taken — against the traffic manager's quota lease for the
//! key when the gateway follows leases ([`crate::lease`]), against the whole limit otherwise. A request refused at a later level gives back what
//! earlier levels counted for it, so a refused request uses no quota. An admitted request
//! answers with the keys it was counted under, each with its limit: the request event the
//! gateway sends to the traffic managers.
//!
//! Keys are rendered into a per-thread buffer and looked up without allocating; the only
//! allocation of an admitted request is the list of its keys.

use crate::condition::{NoAttributes, RequestAttributes};
use crate::decision::{BlockQuery, BlockingConditions, DecisionTable};
use crate::key::{TemplateValues, ThrottleKey};
use crate::policy::{PolicySet, is_unlimited};
use crate::retry::retry_after_secs;
use crate::window::{Acquisition, CountedKey, Limit, WindowCounters};
use keygate_model::BlockConditionType;
use std::cell::RefCell;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Why a request is refused, as the WSO2 error code the gateway answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleCode {
    /// 900800: the API's advanced policy.
    ApiThrottled,
    /// 900801: the backend's maximum throughput (hard limit).
    HardLimitExceeded,
    /// 900802: the resource's advanced policy.
    ResourceThrottled,
    /// 900803: the application's policy.
    ApplicationThrottled,
    /// 900804: the subscription's policy or its spike arrest.
    SubscriptionThrottled,
    /// 900805: a deny condition.
    Blocked,
    /// 900806: a custom policy.
    CustomPolicyThrottled,
}

impl ThrottleCode {
    /// The numeric code, e.g. `900804`.
    pub const fn code(self) -> u32 {
        match self {
            Self::ApiThrottled => 900_800,
            Self::HardLimitExceeded => 900_801,
            Self::ResourceThrottled => 900_802,
            Self::ApplicationThrottled => 900_803,
            Self::SubscriptionThrottled => 900_804,
            Self::Blocked => 900_805,
            Self::CustomPolicyThrottled => 900_806,
        }
    }

    /// WSO2's message for the code.
    pub const fn message(self) -> &'static str {
        match self {
            Self::HardLimitExceeded => "API Limit Reached",
            Self::Blocked => "Message blocked",
            _ => "Message throttled out",
        }
    }

    /// WSO2's description for the code.
    pub const fn description(self) -> &'static str {
        match self {
            Self::HardLimitExceeded => "API not accepting requests",
            Self::Blocked => "You have been blocked from accessing the resource",
            _ => "You have exceeded your quota",
        }
    }
}

impl fmt::Display for ThrottleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// What the throttling phase knows of a request, borrowed from it.
#[derive(Clone, Copy)]
pub struct RequestContext<'a> {
    /// API context, e.g. `/pizzashack/1.0.0`.
    pub api_context: &'a str,
    /// API version, e.g. `1.0.0`.
    pub api_version: &'a str,
    /// The matched resource's URL template, e.g. `/menu`.
    pub resource: &'a str,
    /// HTTP method, e.g. `GET`.
    pub verb: &'a str,
    /// Application id.
    pub app_id: &'a str,
    /// Application name (for deny conditions).
    pub app_name: &'a str,
    /// The application's owner (for deny conditions).
    pub subscriber: &'a str,
    /// The application's tier, e.g. `10PerMin`.
    pub app_tier: &'a str,
    /// The authorized user as `name@tenant`, e.g. `admin@carbon.super`.
    pub user: &'a str,
    /// The subscriber's tenant.
    pub app_tenant: &'a str,
    /// The API's tenant.
    pub api_tenant: &'a str,
    /// The subscription's tier, e.g. `Gold`.
    pub subscription_tier: &'a str,
    /// The API's advanced tier; when set and not `Unlimited` it applies instead of the
    /// resource's.
    pub api_tier: Option<&'a str>,
    /// The resource's advanced tier.
    pub resource_tier: Option<&'a str>,
    /// The client address, when known.
    pub client_ip: Option<IpAddr>,
    /// Request size in bytes, counted by bandwidth quotas.
    pub message_size: u64,
    /// The backend's maximum requests per second (WSO2's hard throttling), if any.
    pub backend_max_tps: Option<u64>,
    /// Headers, query parameters and claims for advanced policy conditions.
    pub attributes: &'a dyn RequestAttributes,
}

impl Default for RequestContext<'_> {
    fn default() -> Self {
        Self {
            api_context: "",
            api_version: "",
            resource: "",
            verb: "",
            app_id: "",
            app_name: "",
            subscriber: "",
            app_tier: "",
            user: "",
            app_tenant: "",
            api_tenant: "",
            subscription_tier: "",
            api_tier: None,
            resource_tier: None,
            client_ip: None,
            message_size: 0,
            backend_max_tps: None,
            attributes: &NoAttributes,
        }
    }
}

impl fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("api_context", &self.api_context)
            .field("api_version", &self.api_version)
            .field("resource", &self.resource)
            .field("verb", &self.verb)
            .field("app_id", &self.app_id)
            .field("app_tier", &self.app_tier)
            .field("user", &self.user)
            .field("subscription_tier", &self.subscription_tier)
            .field("api_tier", &self.api_tier)
            .field("resource_tier", &self.resource_tier)
            .field("client_ip", &self.client_ip)
            .field("message_size", &self.message_size)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestContext<'a> {
    fn block_query(&self) -> BlockQuery<'a> {
        BlockQuery {
            api_context: self.api_context,
            subscriber: self.subscriber,
            app_name: self.app_name,
            user: self.user,
            api_tenant: self.api_tenant,
            client_ip: self.client_ip,
        }
    }
}

/// The throttling phase's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the request through and report it with these keys.
    Admitted {
        /// The keys counted for the request with their limits, in evaluation order.
        request_event_keys: Vec<CountedKey>,
        /// Whether a subscription that does not stop on quota reach is over its quota
        /// (for billing and analytics).
        over_quota: bool,
    },
    /// Refuse with 429 and `Retry-After`.
    Throttled {
        /// Why.
        code: ThrottleCode,
        /// Milliseconds until the limit that refused the request lets requests through.
        retry_after_ms: u64,
    },
    /// Refuse with 403: a deny condition matches (900805).
    Blocked {
        /// The type of the matching condition.
        by: BlockConditionType,
    },
}

impl Verdict {
    /// Whether the request may go on.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Self::Admitted { .. })
    }

    /// The error code of a refusal.
    pub fn code(&self) -> Option<ThrottleCode> {
        match self {
            Self::Admitted { .. } => None,
            Self::Throttled { code, .. } => Some(*code),
            Self::Blocked { .. } => Some(ThrottleCode::Blocked),
        }
    }

    /// The `Retry-After` seconds of a throttled request.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after_ms, .. } => Some(retry_after_secs(*retry_after_ms)),
            _ => None,
        }
    }
}

/// The counter tables: one per level, so keys of different levels never share a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Advanced = 0,
    Subscription = 1,
    Application = 2,
    Custom = 3,
}

/// Per-thread buffers keys are rendered into.
#[derive(Default)]
struct Scratch {
    key: String,
    resource_key: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        key: String::with_capacity(256),
        resource_key: String::with_capacity(256),
    });
}

/// A refusal on its way out: the code and when the refusing limit frees up.
struct Refusal {
    code: ThrottleCode,
    retry_at_ms: i64,
}

/// The tier, when it is set and not `Unlimited`.
fn applies(tier: Option<&str>) -> Option<&str> {
    tier.filter(|t| !t.is_empty() && !is_unlimited(t))
}

/// One request's evaluation: what it has counted so far, to report or to give back.
struct Pass<'t> {
    throttle: &'t GatewayThrottle,
    now_ms: i64,
    message_size: u64,
    /// Keys counted so far, in level order: the built-in levels first, then custom rules.
    counted: Vec<CountedKey>,
    /// The levels of the first `builtin` entries of `counted`; the rest are custom rules.
    levels: [Level; 3],
    builtin: usize,
    spike: Option<(Arc<str>, i64)>,
    over_quota: bool,
}

impl Pass<'_> {
    /// Obeys the decisions on `key`, then counts it against `limit` (if any).
    fn level(
        &mut self,
        level: Level,
        key: &str,
        limit: Option<&Limit>,
        code: ThrottleCode,
        stop_on_quota_reach: bool,
    ) -> Result<(), Refusal> {
        if let Some(until) = self.throttle.decisions.throttled_until(key, self.now_ms) {
            if stop_on_quota_reach {
                return Err(Refusal {
                    code,
                    retry_at_ms: until,
                });
            }
            self.over_quota = true;
        }
        let Some(limit) = limit else {
            return Ok(());
        };
        let counters = self.throttle.table(level);
        let cost = limit.cost(self.message_size);
        let counted = if stop_on_quota_reach {
            // With a traffic manager's lease the gateway stops at its cap, else at the limit.
            let leased = self
                .throttle
                .decisions
                .lease_cap(key, limit, self.now_ms)
                .map(|cap| Limit {
                    max: cap.min(limit.max),
                    ..*limit
                });
            match counters.try_acquire(key, leased.as_ref().unwrap_or(limit), cost, self.now_ms) {
                Acquisition::Admitted(counted) => counted,
                Acquisition::Refused { retry_at_ms } => {
                    return Err(Refusal { code, retry_at_ms });
                }
            }
        } else {
            let counted = counters.count(key, limit, cost, self.now_ms);
            self.over_quota |= counted.over_quota;
            counted
        };
        if level != Level::Custom
            && let Some(slot) = self.levels.get_mut(self.builtin)
        {
            *slot = level;
            self.builtin += 1;
        }
        self.counted.push(CountedKey {
            key: counted.key,
            limit: *limit,
        });
        Ok(())
    }

    /// Gives back everything counted and answers the refusal.
    fn refuse(self, refusal: Refusal) -> Verdict {
        for (index, counted) in self.counted.iter().enumerate() {
            let level = match self.levels.get(index) {
                Some(level) if index < self.builtin => *level,
                _ => Level::Custom,
            };
            let limit = &counted.limit;
            self.throttle.table(level).release(
                &counted.key,
                limit.window_start(self.now_ms),
                limit.cost(self.message_size),
            );
        }
        if let Some((key, window_start)) = &self.spike {
            self.throttle.spikes.release(key, *window_start, 1);
        }
        let wait = refusal.retry_at_ms.saturating_sub(self.now_ms);
        Verdict::Throttled {
            code: refusal.code,
            retry_after_ms: u64::try_from(wait).unwrap_or(0),
        }
    }

    fn admit(self) -> Verdict {
        Verdict::Admitted {
            request_event_keys: self.counted,
            over_quota: self.over_quota,
        }
    }
}

/// A gateway's throttling state: its window counters and the traffic managers' decisions.
/// Shared by all request threads; policies and deny conditions are passed to
/// [`evaluate`](Self::evaluate) so that the gateway can swap them as its replica changes.
#[derive(Debug, Default)]
pub struct GatewayThrottle {
    levels: [WindowCounters; 4],
    spikes: WindowCounters,
    hard_limits: WindowCounters,
    decisions: DecisionTable,
}

impl GatewayThrottle {
    /// Nothing counted and no decisions.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self, level: Level) -> &WindowCounters {
        &self.levels[level as usize]
    }

    /// The traffic managers' decisions, to apply those received from the bus.
    pub fn decisions(&self) -> &DecisionTable {
        &self.decisions
    }

    /// Forgets ended windows and expired decisions; answers how many entries went.
    pub fn purge(&self, now_ms: i64) -> usize {
        self.levels
            .iter()
            .chain([&self.spikes, &self.hard_limits])
            .map(|counters| counters.purge_ended(now_ms))
            .sum::<usize>()
            + self.decisions.purge_expired(now_ms)
    }

    /// Evaluates one request at `now_ms`.
    pub fn evaluate(
        &self,
        policies: &PolicySet,
        blocking: &BlockingConditions,
        request: &RequestContext<'_>,
        now_ms: i64,
    ) -> Verdict {
        if let Some(by) = blocking.blocked_by(&request.block_query()) {
            return Verdict::Blocked { by };
        }
        let mut pass = Pass {
            throttle: self,
            now_ms,
            message_size: request.message_size,
            counted: Vec::with_capacity(3 + policies.custom_rules().len()),
            levels: [Level::Custom; 3],
            builtin: 0,
            spike: None,
            over_quota: false,
        };
        // The thread's buffers, or fresh ones while the thread is being torn down.
        let reused = SCRATCH.try_with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            Some(self.count_levels(&mut pass, policies, request, &mut scratch))
        });
        let outcome = match reused {
            Ok(Some(outcome)) => outcome,
            _ => self.count_levels(&mut pass, policies, request, &mut Scratch::default()),
        };
        match outcome {
            Ok(()) => pass.admit(),
            Err(refusal) => pass.refuse(refusal),
        }
    }

    fn count_levels(
        &self,
        pass: &mut Pass<'_>,
        policies: &PolicySet,
        request: &RequestContext<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), Refusal> {
        let Scratch { key, resource_key } = scratch;

        // API or resource level: an API tier, when set, replaces the resource's.
        let advanced = match (applies(request.api_tier), applies(request.resource_tier)) {
            (Some(tier), _) => Some((tier, ThrottleCode::ApiThrottled)),
            (None, Some(tier)) => Some((tier, ThrottleCode::ResourceThrottled)),
            (None, None) => None,
        };
        if let Some((tier, code)) = advanced
            && let Some(groups) = policies.advanced(tier).and_then(|t| t.groups.as_ref())
        {
            let (group, limit) = groups.select(request.client_ip, request.attributes);
            key.clear();
            if code == ThrottleCode::ApiThrottled {
                ThrottleKey::Api {
                    api_context: request.api_context,
                    api_version: request.api_version,
                    group: Some(group),
                }
            } else {
                ThrottleKey::Resource {
                    api_context: request.api_context,
                    api_version: request.api_version,
                    resource: request.resource,
                    verb: request.verb,
                    group: Some(group),
                }
            }
            .write_to(key);
            pass.level(Level::Advanced, key, Some(limit), code, true)?;
        }

        // Subscription level, with spike arrest.
        if let Some(tier) = policies.subscription(request.subscription_tier) {
            key.clear();
            ThrottleKey::Subscription {
                app_id: request.app_id,
                api_context: request.api_context,
                api_version: request.api_version,
            }
            .write_to(key);
            let code = ThrottleCode::SubscriptionThrottled;
            pass.level(
                Level::Subscription,
                key,
                tier.quota.as_ref(),
                code,
                tier.stop_on_quota_reach,
            )?;
            if let Some(spike) = &tier.spike_arrest {
                match self.spikes.try_acquire(key, spike, 1, pass.now_ms) {
                    Acquisition::Admitted(counted) => {
                        pass.spike = Some((counted.key, counted.window_start));
                    }
                    Acquisition::Refused { retry_at_ms } => {
                        return Err(Refusal { code, retry_at_ms });
                    }
                }
            }
        }

        // Application level.
        if let Some(tier) = policies.application(request.app_tier) {
            key.clear();
            ThrottleKey::Application {
                app_id: request.app_id,
                user: request.user,
            }
            .write_to(key);
            let code = ThrottleCode::ApplicationThrottled;
            pass.level(Level::Application, key, tier.quota.as_ref(), code, true)?;
        }

        // Custom policies, on their rendered keys.
        let rules = policies.custom_rules();
        if !rules.is_empty() {
            resource_key.clear();
            ThrottleKey::Resource {
                api_context: request.api_context,
                api_version: request.api_version,
                resource: request.resource,
                verb: request.verb,
                group: None,
            }
            .write_to(resource_key);
            let values = TemplateValues {
                resource_key,
                user_id: request.user,
                api_context: request.api_context,
                api_version: request.api_version,
                app_tenant: request.app_tenant,
                api_tenant: request.api_tenant,
                app_id: request.app_id,
                client_ip: request.client_ip,
            };
            for rule in rules {
                key.clear();
                rule.template.render_into(&values, key);
                let code = ThrottleCode::CustomPolicyThrottled;
                pass.level(Level::Custom, key, rule.quota.as_ref(), code, true)?;
            }
        }

        // The backend's hard limit, counted by this gateway alone.
        if let Some(tps) = request.backend_max_tps {
            key.clear();
            ThrottleKey::Api {
                api_context: request.api_context,
                api_version: request.api_version,
                group: None,
            }
            .write_to(key);
            let limit = Limit::requests(tps, 1_000);
            if let Acquisition::Refused { retry_at_ms } =
                self.hard_limits.try_acquire(key, &limit, 1, pass.now_ms)
            {
                return Err(Refusal {
                    code: ThrottleCode::HardLimitExceeded,
                    retry_at_ms,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
