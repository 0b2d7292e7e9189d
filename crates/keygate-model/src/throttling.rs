//! Throttling policies as the Admin Portal defines them (WSO2's `AM_POLICY_SUBSCRIPTION`,
//! `AM_POLICY_APPLICATION`, `AM_API_THROTTLE_POLICY` with its condition groups,
//! `AM_POLICY_GLOBAL`) and deny (block) conditions (`AM_BLOCK_CONDITIONS`). Only the data:
//! counting and deciding belong to `keygate-throttle`.

use crate::identity::Tenant;
use crate::wso2_enum::wso2_enum;
use serde::{Deserialize, Serialize};

wso2_enum! {
    /// Unit of a policy's time window.
    pub enum TimeUnit {
        /// Seconds.
        Second => "sec",
        /// Minutes.
        Minute => "min",
        /// Hours.
        Hour => "hour",
        /// Days.
        Day => "day",
        /// Months.
        Month => "month",
        /// Years.
        Year => "year",
    }
}

wso2_enum! {
    /// Unit of a bandwidth quota.
    pub enum DataUnit {
        /// Kilobytes.
        Kb => "KB",
        /// Megabytes.
        Mb => "MB",
        /// Gigabytes.
        Gb => "GB",
    }
}

/// What a policy counts within its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Quota {
    /// A number of requests (`requestCount`).
    #[serde(rename = "requestCount")]
    RequestCount {
        /// Requests allowed per window.
        request_count: i64,
    },
    /// An amount of data (`bandwidthVolume`).
    #[serde(rename = "bandwidthVolume")]
    Bandwidth {
        /// Amount allowed per window.
        data_amount: i64,
        /// Unit of `data_amount`.
        data_unit: DataUnit,
    },
}

/// A quota within a time window: `quota` per `unit_time` `time_unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimit {
    /// What is counted and how much is allowed.
    pub quota: Quota,
    /// Length of the window in `time_unit`s.
    pub unit_time: i64,
    /// Unit of the window.
    pub time_unit: TimeUnit,
}

impl QuotaLimit {
    /// A request-count limit: `request_count` requests per `unit_time` `time_unit`s.
    pub fn requests(request_count: i64, unit_time: i64, time_unit: TimeUnit) -> Self {
        Self {
            quota: Quota::RequestCount { request_count },
            unit_time,
            time_unit,
        }
    }
}

/// Burst control of a subscription policy: at most `limit` requests per `time_unit`
/// (`sec` or `min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpikeArrest {
    /// Requests allowed per unit.
    pub limit: i64,
    /// `sec` or `min`.
    pub time_unit: TimeUnit,
}

wso2_enum! {
    /// Billing plan of a subscription policy.
    pub enum BillingPlan {
        /// No charge.
        Free => "FREE",
        /// Charged.
        Commercial => "COMMERCIAL",
    }
}

/// A subscription policy (tier): how often one application may call one API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionPolicy {
    /// Unique id.
    pub uuid: String,
    /// Tenant the policy belongs to.
    pub tenant: Tenant,
    /// Name, unique within the tenant and kind, e.g. `Gold`.
    pub name: String,
    /// Name to display.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// The quota.
    pub limit: QuotaLimit,
    /// Burst control, if any.
    pub spike_arrest: Option<SpikeArrest>,
    /// Whether calls are refused once the quota is reached (otherwise only counted).
    pub stop_on_quota_reach: bool,
    /// Billing plan.
    pub billing_plan: BillingPlan,
}

/// An application policy: how often one user of one application may call, over all APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationPolicy {
    /// Unique id.
    pub uuid: String,
    /// Tenant the policy belongs to.
    pub tenant: Tenant,
    /// Name, unique within the tenant and kind, e.g. `10PerMin`.
    pub name: String,
    /// Name to display.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// The quota.
    pub limit: QuotaLimit,
}

/// One condition of an advanced policy's condition group. `invert` makes it match when the
/// request does *not* satisfy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ThrottleCondition {
    /// The client IP equals `ip`.
    #[serde(rename = "IPSPECIFIC")]
    IpSpecific {
        /// An IPv4 or IPv6 address.
        ip: String,
        /// Match when the condition does not hold.
        invert: bool,
    },
    /// The client IP lies within `start_ip..=end_ip`.
    #[serde(rename = "IPRANGE")]
    IpRange {
        /// First address of the range.
        start_ip: String,
        /// Last address of the range.
        end_ip: String,
        /// Match when the condition does not hold.
        invert: bool,
    },
    /// A request header matches a regular expression.
    #[serde(rename = "HEADER")]
    Header {
        /// Header name.
        name: String,
        /// Regular expression for the value.
        value: String,
        /// Match when the condition does not hold.
        invert: bool,
    },
    /// A query parameter matches a regular expression.
    #[serde(rename = "QUERYPARAMETER")]
    QueryParameter {
        /// Parameter name.
        name: String,
        /// Regular expression for the value.
        value: String,
        /// Match when the condition does not hold.
        invert: bool,
    },
    /// A claim of the backend JWT matches a regular expression.
    #[serde(rename = "JWTCLAIMS")]
    JwtClaim {
        /// Claim URI.
        claim_uri: String,
        /// Regular expression for the value.
        value: String,
        /// Match when the condition does not hold.
        invert: bool,
    },
}

impl ThrottleCondition {
    /// Whether the condition is inverted.
    pub fn is_inverted(&self) -> bool {
        match self {
            Self::IpSpecific { invert, .. }
            | Self::IpRange { invert, .. }
            | Self::Header { invert, .. }
            | Self::QueryParameter { invert, .. }
            | Self::JwtClaim { invert, .. } => *invert,
        }
    }
}

/// A condition group of an advanced policy: when all its conditions match, its limit
/// applies instead of the policy's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionGroup {
    /// Free text.
    pub description: Option<String>,
    /// Conditions, all of which must match.
    pub conditions: Vec<ThrottleCondition>,
    /// The limit for requests matching the group.
    pub limit: QuotaLimit,
}

wso2_enum! {
    /// Whether an advanced policy applies to a whole API or to each resource.
    pub enum PolicyLevel {
        /// Counted per API.
        Api => "apiLevel",
        /// Counted per resource.
        Resource => "resourceLevel",
    }
}

/// An advanced (API or resource) throttling policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPolicy {
    /// Unique id.
    pub uuid: String,
    /// Tenant the policy belongs to.
    pub tenant: Tenant,
    /// Name, unique within the tenant and kind, e.g. `50KPerMin`.
    pub name: String,
    /// Name to display.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// API or resource level.
    pub level: PolicyLevel,
    /// The limit when no condition group matches.
    pub default_limit: QuotaLimit,
    /// Condition groups, evaluated in order.
    pub condition_groups: Vec<ConditionGroup>,
}

/// A global (custom) policy: a rule over all traffic with its own throttle key template,
/// e.g. `$userId:$apiContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPolicy {
    /// Unique id.
    pub uuid: String,
    /// Tenant the policy belongs to.
    pub tenant: Tenant,
    /// Name, unique within the tenant and kind.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The key template; unique within the tenant.
    pub key_template: String,
    /// The rule, as WSO2's Siddhi query text.
    pub siddhi_query: String,
    /// Whether it is deployed to the traffic managers.
    pub is_deployed: bool,
}

wso2_enum! {
    /// What a deny condition blocks.
    pub enum BlockConditionType {
        /// An API, by context (`/pets/1.0.0`).
        Api => "API",
        /// An application, by `subscriber:appName`.
        Application => "APPLICATION",
        /// A client IP.
        Ip => "IP",
        /// A client IP range, value `{"startingIp":…,"endingIp":…,"invert":…}`.
        IpRange => "IPRANGE",
        /// A user, by username.
        User => "USER",
    }
}

/// A deny condition: matching requests are refused with 900805.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCondition {
    /// Unique id.
    pub uuid: String,
    /// Tenant the condition belongs to.
    pub tenant: Tenant,
    /// What is blocked.
    pub condition_type: BlockConditionType,
    /// The blocked API, application, IP, range or user; with the type unique in a tenant.
    pub value: String,
    /// Whether the condition is in force.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_serializes_with_wso2_quota_types() {
        let count = QuotaLimit::requests(5000, 1, TimeUnit::Minute);
        let json = serde_json::to_value(count).unwrap();
        assert_eq!(json["quota"]["type"], "requestCount");
        assert_eq!(json["quota"]["request_count"], 5000);
        assert_eq!(json["time_unit"], "min");
        let bandwidth = Quota::Bandwidth {
            data_amount: 10,
            data_unit: DataUnit::Mb,
        };
        let json = serde_json::to_value(bandwidth).unwrap();
        assert_eq!(json["type"], "bandwidthVolume");
        assert_eq!(json["data_unit"], "MB");
        assert_eq!(serde_json::from_value::<Quota>(json).unwrap(), bandwidth);
    }

    #[test]
    fn conditions_round_trip_and_report_inversion() {
        let conditions = vec![
            ThrottleCondition::IpRange {
                start_ip: "10.0.0.1".into(),
                end_ip: "10.0.0.9".into(),
                invert: true,
            },
            ThrottleCondition::JwtClaim {
                claim_uri: "http://wso2.org/claims/enduser".into(),
                value: "admin.*".into(),
                invert: false,
            },
        ];
        let text = serde_json::to_string(&conditions).unwrap();
        assert!(text.contains("\"type\":\"IPRANGE\""));
        let back: Vec<ThrottleCondition> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, conditions);
        assert!(back[0].is_inverted());
        assert!(!back[1].is_inverted());
    }

    #[test]
    fn block_condition_types_are_wso2_strings() {
        let names: Vec<_> = BlockConditionType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, ["API", "APPLICATION", "IP", "IPRANGE", "USER"]);
        assert_eq!(PolicyLevel::Resource.as_str(), "resourceLevel");
        assert_eq!(BillingPlan::Commercial.as_str(), "COMMERCIAL");
    }
}
