//! The Admin REST API's bodies for throttling policies, in WSO2 Admin v1's names
//! (`policyName`, `defaultLimit: {type: REQUESTCOUNTLIMIT | BANDWIDTHLIMIT, requestCount |
//! bandwidth}`, `rateLimitCount`, `conditionalGroups[].conditions[]` with `IPCONDITION`,
//! `HEADERCONDITION`, `QUERYPARAMETERCONDITION`, `JWTCLAIMSCONDITION`), and their checked
//! conversion to the stored policies: every bad field is named, and a policy is only
//! accepted when the gateways' throttling engine compiles it (IP addresses, ranges,
//! regular expressions, key templates).

use crate::errors::FieldError;
use keygate_model::{
    ApiPolicy, ApplicationPolicy, BillingPlan, ConditionGroup, DataUnit, GlobalPolicy, PolicyLevel,
    Quota, QuotaLimit, SpikeArrest, SubscriptionPolicy, Tenant, ThrottleCondition, TimeUnit,
};
use keygate_throttle::{
    AdvancedTier, ApplicationTier, CompiledCondition, KeyTemplate, SubscriptionTier,
};
use serde::{Deserialize, Serialize};

/// Longest policy name.
const NAME_MAX: usize = 255;

/// `requestCount` of a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCountBody {
    /// `sec`, `min`, `hour`, `day`, `month` or `year`.
    #[serde(default)]
    pub time_unit: Option<String>,
    /// Length of the window in time units.
    #[serde(default)]
    pub unit_time: Option<i64>,
    /// Requests allowed per window.
    #[serde(default)]
    pub request_count: Option<i64>,
}

/// `bandwidth` of a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthBody {
    /// `sec`, `min`, `hour`, `day`, `month` or `year`.
    #[serde(default)]
    pub time_unit: Option<String>,
    /// Length of the window in time units.
    #[serde(default)]
    pub unit_time: Option<i64>,
    /// Data allowed per window.
    #[serde(default)]
    pub data_amount: Option<i64>,
    /// `KB`, `MB` or `GB`.
    #[serde(default)]
    pub data_unit: Option<String>,
}

/// A limit (`ThrottleLimit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleLimitBody {
    /// `REQUESTCOUNTLIMIT` or `BANDWIDTHLIMIT`.
    #[serde(rename = "type", default)]
    pub limit_type: Option<String>,
    /// The request-count quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_count: Option<RequestCountBody>,
    /// The bandwidth quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthBody>,
}

const REQUEST_COUNT_LIMIT: &str = "REQUESTCOUNTLIMIT";
const BANDWIDTH_LIMIT: &str = "BANDWIDTHLIMIT";

impl ThrottleLimitBody {
    /// The body of a stored limit.
    pub fn from_limit(limit: &QuotaLimit) -> Self {
        let time_unit = Some(limit.time_unit.as_str().to_owned());
        match limit.quota {
            Quota::RequestCount { request_count } => Self {
                limit_type: Some(REQUEST_COUNT_LIMIT.to_owned()),
                request_count: Some(RequestCountBody {
                    time_unit,
                    unit_time: Some(limit.unit_time),
                    request_count: Some(request_count),
                }),
                bandwidth: None,
            },
            Quota::Bandwidth {
                data_amount,
                data_unit,
            } => Self {
                limit_type: Some(BANDWIDTH_LIMIT.to_owned()),
                request_count: None,
                bandwidth: Some(BandwidthBody {
                    time_unit,
                    unit_time: Some(limit.unit_time),
                    data_amount: Some(data_amount),
                    data_unit: Some(data_unit.as_str().to_owned()),
                }),
            },
        }
    }

    /// The limit, or bad fields under `field`.
    pub fn to_limit(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<QuotaLimit> {
        let kind = self.limit_type.as_deref().unwrap_or(REQUEST_COUNT_LIMIT);
        match kind {
            REQUEST_COUNT_LIMIT => {
                let field = format!("{field}.requestCount");
                let Some(body) = &self.request_count else {
                    errors.push(FieldError::new(field, "is required"));
                    return None;
                };
                let time_unit = time_unit(&field, body.time_unit.as_deref(), errors);
                let unit_time = positive(&format!("{field}.unitTime"), body.unit_time, errors);
                let count = positive(&format!("{field}.requestCount"), body.request_count, errors);
                Some(QuotaLimit {
                    quota: Quota::RequestCount {
                        request_count: count?,
                    },
                    unit_time: unit_time?,
                    time_unit: time_unit?,
                })
            }
            BANDWIDTH_LIMIT => {
                let field = format!("{field}.bandwidth");
                let Some(body) = &self.bandwidth else {
                    errors.push(FieldError::new(field, "is required"));
                    return None;
                };
                let time_unit = time_unit(&field, body.time_unit.as_deref(), errors);
                let unit_time = positive(&format!("{field}.unitTime"), body.unit_time, errors);
                let amount = positive(&format!("{field}.dataAmount"), body.data_amount, errors);
                let data_unit = match body.data_unit.as_deref().map(str::parse::<DataUnit>) {
                    Some(Ok(unit)) => Some(unit),
                    _ => {
                        errors.push(FieldError::new(
                            format!("{field}.dataUnit"),
                            "must be KB, MB or GB",
                        ));
                        None
                    }
                };
                Some(QuotaLimit {
                    quota: Quota::Bandwidth {
                        data_amount: amount?,
                        data_unit: data_unit?,
                    },
                    unit_time: unit_time?,
                    time_unit: time_unit?,
                })
            }
            _ => {
                errors.push(FieldError::new(
                    format!("{field}.type"),
                    "must be REQUESTCOUNTLIMIT or BANDWIDTHLIMIT",
                ));
                None
            }
        }
    }
}

fn time_unit(field: &str, text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<TimeUnit> {
    match text.map(str::parse::<TimeUnit>) {
        Some(Ok(unit)) => Some(unit),
        _ => {
            errors.push(FieldError::new(
                format!("{field}.timeUnit"),
                "must be sec, min, hour, day, month or year",
            ));
            None
        }
    }
}

fn positive(field: &str, value: Option<i64>, errors: &mut Vec<FieldError>) -> Option<i64> {
    match value {
        Some(v) if v > 0 => Some(v),
        Some(_) => {
            errors.push(FieldError::new(field, "must be greater than 0"));
            None
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

/// Checks a policy name.
pub fn check_policy_name(name: &str, errors: &mut Vec<FieldError>) {
    if name.is_empty() {
        errors.push(FieldError::new("policyName", "is required"));
    } else if name.chars().count() > NAME_MAX
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        errors.push(FieldError::new(
            "policyName",
            "must be 1 to 255 letters, digits, '_', '-' or '.'",
        ));
    }
}

fn limit_of(
    body: Option<&ThrottleLimitBody>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<QuotaLimit> {
    match body {
        Some(body) => body.to_limit(field, errors),
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

/// A subscription policy (`SubscriptionThrottlePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicyBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Name; fixed once created.
    #[serde(default)]
    pub policy_name: String,
    /// Name to display (defaults to the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_limit: Option<ThrottleLimitBody>,
    /// Spike arrest: requests per `rateLimitTimeUnit`; 0 or absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_count: Option<i64>,
    /// `sec` or `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_time_unit: Option<String>,
    /// Refuse calls once the quota is reached (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_quota_reach: Option<bool>,
    /// `FREE` (default) or `COMMERCIAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_plan: Option<String>,
    /// Always true: every stored policy is deployed; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deployed: Option<bool>,
}

impl SubscriptionPolicyBody {
    /// The body of a stored policy.
    pub fn from_policy(p: &SubscriptionPolicy) -> Self {
        Self {
            policy_id: Some(p.uuid.clone()),
            policy_name: p.name.clone(),
            display_name: Some(p.display_name.clone()),
            description: p.description.clone(),
            default_limit: Some(ThrottleLimitBody::from_limit(&p.limit)),
            rate_limit_count: Some(p.spike_arrest.map_or(0, |s| s.limit)),
            rate_limit_time_unit: p.spike_arrest.map(|s| s.time_unit.as_str().to_owned()),
            stop_on_quota_reach: Some(p.stop_on_quota_reach),
            billing_plan: Some(p.billing_plan.as_str().to_owned()),
            is_deployed: Some(true),
        }
    }

    /// The policy `uuid` of `tenant` the body describes; every bad field otherwise.
    pub fn to_policy(
        &self,
        uuid: &str,
        tenant: &Tenant,
    ) -> Result<SubscriptionPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_policy_name(&self.policy_name, &mut errors);
        let limit = limit_of(self.default_limit.as_ref(), "defaultLimit", &mut errors);
        let spike_arrest = match self.rate_limit_count {
            None | Some(0) => None,
            Some(count) if count < 0 => {
                errors.push(FieldError::new("rateLimitCount", "must not be negative"));
                None
            }
            Some(limit) => match self.rate_limit_time_unit.as_deref() {
                Some("sec") => Some(SpikeArrest {
                    limit,
                    time_unit: TimeUnit::Second,
                }),
                Some("min") => Some(SpikeArrest {
                    limit,
                    time_unit: TimeUnit::Minute,
                }),
                _ => {
                    errors.push(FieldError::new("rateLimitTimeUnit", "must be sec or min"));
                    None
                }
            },
        };
        let billing_plan = match self.billing_plan.as_deref() {
            None | Some("") => Some(BillingPlan::Free),
            Some(text) => text.parse::<BillingPlan>().ok().or_else(|| {
                errors.push(FieldError::new("billingPlan", "must be FREE or COMMERCIAL"));
                None
            }),
        };
        let (Some(limit), Some(billing_plan), true) = (limit, billing_plan, errors.is_empty())
        else {
            return Err(errors);
        };
        let policy = SubscriptionPolicy {
            uuid: uuid.to_owned(),
            tenant: tenant.clone(),
            name: self.policy_name.clone(),
            display_name: display_name(self.display_name.as_deref(), &self.policy_name),
            description: self.description.clone(),
            limit,
            spike_arrest,
            stop_on_quota_reach: self.stop_on_quota_reach.unwrap_or(true),
            billing_plan,
        };
        SubscriptionTier::compile(&policy)
            .map_err(|e| vec![FieldError::new("defaultLimit", e.to_string())])?;
        Ok(policy)
    }
}

fn display_name(given: Option<&str>, name: &str) -> String {
    given
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(name)
        .to_owned()
}

/// An application policy (`ApplicationThrottlePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPolicyBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Name; fixed once created.
    #[serde(default)]
    pub policy_name: String,
    /// Name to display (defaults to the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_limit: Option<ThrottleLimitBody>,
    /// Always true; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deployed: Option<bool>,
}

impl ApplicationPolicyBody {
    /// The body of a stored policy.
    pub fn from_policy(p: &ApplicationPolicy) -> Self {
        Self {
            policy_id: Some(p.uuid.clone()),
            policy_name: p.name.clone(),
            display_name: Some(p.display_name.clone()),
            description: p.description.clone(),
            default_limit: Some(ThrottleLimitBody::from_limit(&p.limit)),
            is_deployed: Some(true),
        }
    }

    /// The policy `uuid` of `tenant` the body describes; every bad field otherwise.
    pub fn to_policy(
        &self,
        uuid: &str,
        tenant: &Tenant,
    ) -> Result<ApplicationPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_policy_name(&self.policy_name, &mut errors);
        let limit = limit_of(self.default_limit.as_ref(), "defaultLimit", &mut errors);
        let (Some(limit), true) = (limit, errors.is_empty()) else {
            return Err(errors);
        };
        let policy = ApplicationPolicy {
            uuid: uuid.to_owned(),
            tenant: tenant.clone(),
            name: self.policy_name.clone(),
            display_name: display_name(self.display_name.as_deref(), &self.policy_name),
            description: self.description.clone(),
            limit,
        };
        ApplicationTier::compile(&policy)
            .map_err(|e| vec![FieldError::new("defaultLimit", e.to_string())])?;
        Ok(policy)
    }
}

/// `headerCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderConditionBody {
    /// Header name.
    #[serde(default)]
    pub header_name: String,
    /// Regular expression for the value.
    #[serde(default)]
    pub header_value: String,
}

/// `queryParameterCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterConditionBody {
    /// Parameter name.
    #[serde(default)]
    pub parameter_name: String,
    /// Regular expression for the value.
    #[serde(default)]
    pub parameter_value: String,
}

/// `jwtClaimsCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtClaimsConditionBody {
    /// Claim URI.
    #[serde(default)]
    pub claim_url: String,
    /// Regular expression for the value.
    #[serde(default)]
    pub attribute: String,
}

/// `ipCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConditionBody {
    /// `IPSPECIFIC` or `IPRANGE`.
    #[serde(default)]
    pub ip_condition_type: String,
    /// The address of `IPSPECIFIC`.
    #[serde(
        default,
        rename = "specificIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub specific_ip: Option<String>,
    /// First address of `IPRANGE`.
    #[serde(
        default,
        rename = "startingIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub starting_ip: Option<String>,
    /// Last address of `IPRANGE`.
    #[serde(default, rename = "endingIP", skip_serializing_if = "Option::is_none")]
    pub ending_ip: Option<String>,
}

/// One condition of a conditional group (`ThrottleCondition`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionBody {
    /// `HEADERCONDITION`, `IPCONDITION`, `QUERYPARAMETERCONDITION` or
    /// `JWTCLAIMSCONDITION`.
    #[serde(rename = "type", default)]
    pub condition_type: String,
    /// Match when the condition does not hold.
    #[serde(default)]
    pub invert_condition: bool,
    /// Of `HEADERCONDITION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_condition: Option<HeaderConditionBody>,
    /// Of `IPCONDITION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_condition: Option<IpConditionBody>,
    /// Of `QUERYPARAMETERCONDITION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameter_condition: Option<QueryParameterConditionBody>,
    /// Of `JWTCLAIMSCONDITION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_claims_condition: Option<JwtClaimsConditionBody>,
}

impl ConditionBody {
    fn from_condition(condition: &ThrottleCondition) -> Self {
        let invert_condition = condition.is_inverted();
        let mut body = Self {
            invert_condition,
            ..Self::default()
        };
        match condition {
            ThrottleCondition::IpSpecific { ip, .. } => {
                body.condition_type = "IPCONDITION".into();
                body.ip_condition = Some(IpConditionBody {
                    ip_condition_type: "IPSPECIFIC".into(),
                    specific_ip: Some(ip.clone()),
                    ..IpConditionBody::default()
                });
            }
            ThrottleCondition::IpRange {
                start_ip, end_ip, ..
            } => {
                body.condition_type = "IPCONDITION".into();
                body.ip_condition = Some(IpConditionBody {
                    ip_condition_type: "IPRANGE".into(),
                    specific_ip: None,
                    starting_ip: Some(start_ip.clone()),
                    ending_ip: Some(end_ip.clone()),
                });
            }
            ThrottleCondition::Header { name, value, .. } => {
                body.condition_type = "HEADERCONDITION".into();
                body.header_condition = Some(HeaderConditionBody {
                    header_name: name.clone(),
                    header_value: value.clone(),
                });
            }
            ThrottleCondition::QueryParameter { name, value, .. } => {
                body.condition_type = "QUERYPARAMETERCONDITION".into();
                body.query_parameter_condition = Some(QueryParameterConditionBody {
                    parameter_name: name.clone(),
                    parameter_value: value.clone(),
                });
            }
            ThrottleCondition::JwtClaim {
                claim_uri, value, ..
            } => {
                body.condition_type = "JWTCLAIMSCONDITION".into();
                body.jwt_claims_condition = Some(JwtClaimsConditionBody {
                    claim_url: claim_uri.clone(),
                    attribute: value.clone(),
                });
            }
        }
        body
    }

    fn to_condition(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<ThrottleCondition> {
        let invert = self.invert_condition;
        let missing = |errors: &mut Vec<FieldError>, member: &str| {
            errors.push(FieldError::new(format!("{field}.{member}"), "is required"));
            None
        };
        let condition = match self.condition_type.as_str() {
            "HEADERCONDITION" => match &self.header_condition {
                Some(c) if !c.header_name.is_empty() => ThrottleCondition::Header {
                    name: c.header_name.clone(),
                    value: c.header_value.clone(),
                    invert,
                },
                _ => return missing(errors, "headerCondition.headerName"),
            },
            "QUERYPARAMETERCONDITION" => match &self.query_parameter_condition {
                Some(c) if !c.parameter_name.is_empty() => ThrottleCondition::QueryParameter {
                    name: c.parameter_name.clone(),
                    value: c.parameter_value.clone(),
                    invert,
                },
                _ => return missing(errors, "queryParameterCondition.parameterName"),
            },
            "JWTCLAIMSCONDITION" => match &self.jwt_claims_condition {
                Some(c) if !c.claim_url.is_empty() => ThrottleCondition::JwtClaim {
                    claim_uri: c.claim_url.clone(),
                    value: c.attribute.clone(),
                    invert,
                },
                _ => return missing(errors, "jwtClaimsCondition.claimUrl"),
            },
            "IPCONDITION" => {
                let Some(c) = &self.ip_condition else {
                    return missing(errors, "ipCondition");
                };
                match c.ip_condition_type.as_str() {
                    "IPSPECIFIC" => match &c.specific_ip {
                        Some(ip) => ThrottleCondition::IpSpecific {
                            ip: ip.clone(),
                            invert,
                        },
                        None => return missing(errors, "ipCondition.specificIP"),
                    },
                    "IPRANGE" => match (&c.starting_ip, &c.ending_ip) {
                        (Some(start), Some(end)) => ThrottleCondition::IpRange {
                            start_ip: start.clone(),
                            end_ip: end.clone(),
                            invert,
                        },
                        _ => return missing(errors, "ipCondition.startingIP"),
                    },
                    _ => {
                        errors.push(FieldError::new(
                            format!("{field}.ipCondition.ipConditionType"),
                            "must be IPSPECIFIC or IPRANGE",
                        ));
                        return None;
                    }
                }
            }
            _ => {
                errors.push(FieldError::new(
                    format!("{field}.type"),
                    "must be HEADERCONDITION, IPCONDITION, QUERYPARAMETERCONDITION or \
                     JWTCLAIMSCONDITION",
                ));
                return None;
            }
        };
        match CompiledCondition::compile(&condition) {
            Ok(_) => Some(condition),
            Err(e) => {
                errors.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    }
}

/// A conditional group of an advanced policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalGroupBody {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Conditions, all of which must match.
    #[serde(default)]
    pub conditions: Vec<ConditionBody>,
    /// The limit of matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<ThrottleLimitBody>,
}

/// An advanced policy (`AdvancedThrottlePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedPolicyBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Name; fixed once created.
    #[serde(default)]
    pub policy_name: String,
    /// Name to display (defaults to the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `apiLevel` (default) or `resourceLevel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The limit when no group matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_limit: Option<ThrottleLimitBody>,
    /// Conditional groups, evaluated in order.
    #[serde(default)]
    pub conditional_groups: Vec<ConditionalGroupBody>,
    /// Always true; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deployed: Option<bool>,
}

impl AdvancedPolicyBody {
    /// The body of a stored policy.
    pub fn from_policy(p: &ApiPolicy) -> Self {
        Self {
            policy_id: Some(p.uuid.clone()),
            policy_name: p.name.clone(),
            display_name: Some(p.display_name.clone()),
            description: p.description.clone(),
            level: Some(p.level.as_str().to_owned()),
            default_limit: Some(ThrottleLimitBody::from_limit(&p.default_limit)),
            conditional_groups: p
                .condition_groups
                .iter()
                .map(|g| ConditionalGroupBody {
                    description: g.description.clone(),
                    conditions: g
                        .conditions
                        .iter()
                        .map(ConditionBody::from_condition)
                        .collect(),
                    limit: Some(ThrottleLimitBody::from_limit(&g.limit)),
                })
                .collect(),
            is_deployed: Some(true),
        }
    }

    /// The policy `uuid` of `tenant` the body describes; every bad field otherwise.
    pub fn to_policy(&self, uuid: &str, tenant: &Tenant) -> Result<ApiPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_policy_name(&self.policy_name, &mut errors);
        let default_limit = limit_of(self.default_limit.as_ref(), "defaultLimit", &mut errors);
        let level = match self.level.as_deref() {
            None | Some("") => Some(PolicyLevel::Api),
            Some(text) => text.parse::<PolicyLevel>().ok().or_else(|| {
                errors.push(FieldError::new(
                    "level",
                    "must be apiLevel or resourceLevel",
                ));
                None
            }),
        };
        let mut groups = Vec::new();
        for (i, group) in self.conditional_groups.iter().enumerate() {
            let field = format!("conditionalGroups[{i}]");
            if group.conditions.is_empty() {
                errors.push(FieldError::new(
                    format!("{field}.conditions"),
                    "needs at least one condition",
                ));
            }
            let conditions: Vec<_> = group
                .conditions
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    c.to_condition(&format!("{field}.conditions[{j}]"), &mut errors)
                })
                .collect();
            let limit = limit_of(group.limit.as_ref(), &format!("{field}.limit"), &mut errors);
            if let Some(limit) = limit {
                groups.push(ConditionGroup {
                    description: group.description.clone(),
                    conditions,
                    limit,
                });
            }
        }
        let (Some(default_limit), Some(level), true) = (default_limit, level, errors.is_empty())
        else {
            return Err(errors);
        };
        let policy = ApiPolicy {
            uuid: uuid.to_owned(),
            tenant: tenant.clone(),
            name: self.policy_name.clone(),
            display_name: display_name(self.display_name.as_deref(), &self.policy_name),
            description: self.description.clone(),
            level,
            default_limit,
            condition_groups: groups,
        };
        AdvancedTier::compile(&policy)
            .map_err(|e| vec![FieldError::new("conditionalGroups", e.to_string())])?;
        Ok(policy)
    }
}

/// A custom rule (`CustomRule`): a global policy with its key template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRuleBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Name; fixed once created.
    #[serde(default)]
    pub policy_name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The rule, as WSO2's Siddhi query text.
    #[serde(default)]
    pub siddhi_query: String,
    /// The throttle key template, e.g. `$userId:$apiContext`; unique.
    #[serde(default)]
    pub key_template: String,
    /// Whether the rule is in force (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deployed: Option<bool>,
}

impl CustomRuleBody {
    /// The body of a stored policy.
    pub fn from_policy(p: &GlobalPolicy) -> Self {
        Self {
            policy_id: Some(p.uuid.clone()),
            policy_name: p.name.clone(),
            description: p.description.clone(),
            siddhi_query: p.siddhi_query.clone(),
            key_template: p.key_template.clone(),
            is_deployed: Some(p.is_deployed),
        }
    }

    /// The policy `uuid` of `tenant` the body describes; every bad field otherwise.
    pub fn to_policy(&self, uuid: &str, tenant: &Tenant) -> Result<GlobalPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_policy_name(&self.policy_name, &mut errors);
        if self.key_template.trim().is_empty() {
            errors.push(FieldError::new("keyTemplate", "is required"));
        } else if let Err(e) = KeyTemplate::parse(&self.key_template) {
            errors.push(FieldError::new("keyTemplate", e.to_string()));
        }
        if self.siddhi_query.trim().is_empty() {
            errors.push(FieldError::new("siddhiQuery", "is required"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(GlobalPolicy {
            uuid: uuid.to_owned(),
            tenant: tenant.clone(),
            name: self.policy_name.clone(),
            description: self.description.clone(),
            key_template: self.key_template.clone(),
            siddhi_query: self.siddhi_query.clone(),
            is_deployed: self.is_deployed.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests;
