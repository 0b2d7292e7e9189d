//! Throttling as keygate's gateways and traffic managers apply it, with WSO2 API Manager's
//! keys, policies and error codes: throttle keys and custom key templates ([`key`]),
//! fixed-window and spike-arrest counters ([`window`]), advanced-policy conditions
//! ([`condition`]), compiled policies ([`policy`]), traffic-manager decisions and deny
//! conditions ([`decision`]), the gateway's per-request evaluation ([`evaluate`]), the traffic
//! manager's global counting ([`global`]) and `Retry-After` ([`retry`]).
//!
//! Pure: no async runtime, no I/O and no clock. Every call that depends on time takes `now`
//! as unix milliseconds, so a test moves past a window's end instead of sleeping. Shared
//! state (counters, decisions) sits in sharded maps behind short-held locks, so one request
//! costs a few hash lookups and no allocation once its keys have been seen.

#![forbid(unsafe_code)]

pub mod condition;
pub mod decision;
pub mod error;
pub mod evaluate;
pub mod global;
pub mod key;
pub mod lease;
pub mod policy;
pub mod retry;
mod shard;
pub mod window;

pub use condition::{
    AttributeList, CompiledCondition, ConditionGroupMatcher, IpMatch, NoAttributes,
    RequestAttributes,
};
pub use decision::{BlockQuery, BlockingConditions, DecisionTable, ThrottleDecision};
pub use error::ThrottleError;
pub use evaluate::{GatewayThrottle, RequestContext, ThrottleCode, Verdict};
pub use global::{GlobalCounter, RequestEvent};
pub use key::{BlockKey, ConditionGroupId, KeyTemplate, TemplateValues, TemplateVar, ThrottleKey};
pub use lease::{LeaseBatch, QuotaLease, starter_cap};
pub use policy::{AdvancedTier, ApplicationTier, CustomRule, PolicySet, SubscriptionTier};
pub use retry::{retry_after_secs, retry_after_secs_until};
pub use window::{Acquisition, Counted, CountedKey, Limit, Measure, WindowCounters};
