//! Policies compiled for counting, by name: subscription tiers (quota, spike arrest,
//! stop on quota reach), application tiers, advanced (API and resource) tiers with their
//! condition groups, and custom rules with their key templates. A tier named `Unlimited`
//! counts nothing, as in WSO2. [`PolicySet::wso2_defaults`] holds the tiers WSO2 API Manager
//! ships with, and [`default_subscription_policies`] and its siblings give them as model
//! records for seeding a new deployment.
//!
//! Policies are looked up by name only: keygate runs every request in one tenant.

use crate::condition::{CompiledCondition, ConditionGroupMatcher};
use crate::error::ThrottleError;
use crate::key::KeyTemplate;
use crate::window::Limit;
use foldhash::fast::RandomState;
use keygate_model::{
    ApiPolicy, ApplicationPolicy, BillingPlan, GlobalPolicy, PolicyLevel, QuotaLimit,
    SubscriptionPolicy, Tenant, TimeUnit,
};
use std::collections::HashMap;

/// Name of the tier that counts nothing.
pub const UNLIMITED: &str = "Unlimited";

/// Whether `name` is the unlimited tier (compared as WSO2 does, ignoring case).
pub fn is_unlimited(name: &str) -> bool {
    name.eq_ignore_ascii_case(UNLIMITED)
}

/// A subscription tier ready to count.
#[derive(Debug, Clone)]
pub struct SubscriptionTier {
    /// Name, e.g. `Gold`.
    pub name: Box<str>,
    /// The quota; `None` for `Unlimited`.
    pub quota: Option<Limit>,
    /// The spike arrest sub-window limit, if any.
    pub spike_arrest: Option<Limit>,
    /// Whether requests over the quota are refused (otherwise admitted and reported).
    pub stop_on_quota_reach: bool,
}

impl SubscriptionTier {
    /// Compiles a stored policy.
    pub fn compile(policy: &SubscriptionPolicy) -> Result<Self, ThrottleError> {
        let quota = if is_unlimited(&policy.name) {
            None
        } else {
            Some(Limit::from_quota(&policy.name, &policy.limit)?)
        };
        let spike_arrest = match &policy.spike_arrest {
            Some(spike) => Limit::spike_arrest(&policy.name, spike)?,
            None => None,
        };
        Ok(Self {
            name: policy.name.as_str().into(),
            quota,
            spike_arrest,
            stop_on_quota_reach: policy.stop_on_quota_reach,
        })
    }
}

/// An application tier ready to count.
#[derive(Debug, Clone)]
pub struct ApplicationTier {
    /// Name, e.g. `10PerMin`.
    pub name: Box<str>,
    /// The quota; `None` for `Unlimited`.
    pub quota: Option<Limit>,
}

impl ApplicationTier {
    /// Compiles a stored policy.
    pub fn compile(policy: &ApplicationPolicy) -> Result<Self, ThrottleError> {
        let quota = if is_unlimited(&policy.name) {
            None
        } else {
            Some(Limit::from_quota(&policy.name, &policy.limit)?)
        };
        Ok(Self {
            name: policy.name.as_str().into(),
            quota,
        })
    }
}

/// An advanced (API or resource) tier ready to evaluate.
#[derive(Debug, Clone)]
pub struct AdvancedTier {
    /// Name, e.g. `50KPerMin`.
    pub name: Box<str>,
    /// Condition groups and the default limit; `None` for `Unlimited`.
    pub groups: Option<ConditionGroupMatcher>,
}

impl AdvancedTier {
    /// Compiles a stored policy, its conditions included.
    pub fn compile(policy: &ApiPolicy) -> Result<Self, ThrottleError> {
        if is_unlimited(&policy.name) {
            return Ok(Self {
                name: policy.name.as_str().into(),
                groups: None,
            });
        }
        let default_limit = Limit::from_quota(&policy.name, &policy.default_limit)?;
        let groups = policy
            .condition_groups
            .iter()
            .map(|group| {
                let conditions = group
                    .conditions
                    .iter()
                    .map(CompiledCondition::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((conditions, Limit::from_quota(&policy.name, &group.limit)?))
            })
            .collect::<Result<Vec<_>, ThrottleError>>()?;
        Ok(Self {
            name: policy.name.as_str().into(),
            groups: Some(ConditionGroupMatcher::new(groups, default_limit)),
        })
    }
}

/// A custom (global) policy: a key template and, when known, its limit.
///
/// WSO2 states a custom policy's rule as a Siddhi query that only traffic managers run; a
/// gateway renders the key and obeys the traffic managers' decisions on it. A rule with a
/// `quota` is also counted by the gateway and reported with each request.
#[derive(Debug, Clone)]
pub struct CustomRule {
    /// Name of the policy.
    pub name: Box<str>,
    /// The key template, e.g. `$userId:$apiContext`.
    pub template: KeyTemplate,
    /// The limit to count the rendered key against, if the gateway counts it.
    pub quota: Option<Limit>,
}

impl CustomRule {
    /// A rule from its parts.
    pub fn new(name: &str, template: &str, quota: Option<Limit>) -> Result<Self, ThrottleError> {
        Ok(Self {
            name: name.into(),
            template: KeyTemplate::parse(template)?,
            quota,
        })
    }

    /// The rule of a stored global policy: its key template, decided by traffic managers.
    pub fn from_global_policy(policy: &GlobalPolicy) -> Result<Self, ThrottleError> {
        Self::new(&policy.name, &policy.key_template, None)
    }
}

type ByName<T> = HashMap<Box<str>, T, RandomState>;

/// Every policy a gateway evaluates requests against.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    subscription: ByName<SubscriptionTier>,
    application: ByName<ApplicationTier>,
    advanced: ByName<AdvancedTier>,
    custom: Vec<CustomRule>,
}

impl PolicySet {
    /// No policies.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tiers WSO2 API Manager ships with: subscription Gold, Silver, Bronze,
    /// Unauthenticated and Unlimited; application 50PerMin, 20PerMin, 10PerMin and
    /// Unlimited; advanced 50KPerMin, 20KPerMin, 10KPerMin and Unlimited.
    pub fn wso2_defaults() -> Self {
        let mut set = Self::new();
        for policy in default_subscription_policies() {
            set.insert_compiled_subscription(policy);
        }
        for policy in default_application_policies() {
            set.insert_compiled_application(policy);
        }
        for policy in default_api_policies() {
            set.insert_compiled_api(policy);
        }
        set
    }

    fn insert_compiled_subscription(&mut self, policy: SubscriptionPolicy) {
        if let Ok(tier) = SubscriptionTier::compile(&policy) {
            self.subscription.insert(tier.name.clone(), tier);
        }
    }

    fn insert_compiled_application(&mut self, policy: ApplicationPolicy) {
        if let Ok(tier) = ApplicationTier::compile(&policy) {
            self.application.insert(tier.name.clone(), tier);
        }
    }

    fn insert_compiled_api(&mut self, policy: ApiPolicy) {
        if let Ok(tier) = AdvancedTier::compile(&policy) {
            self.advanced.insert(tier.name.clone(), tier);
        }
    }

    /// Adds or replaces a subscription policy.
    pub fn insert_subscription(
        &mut self,
        policy: &SubscriptionPolicy,
    ) -> Result<(), ThrottleError> {
        let tier = SubscriptionTier::compile(policy)?;
        self.subscription.insert(tier.name.clone(), tier);
        Ok(())
    }

    /// Adds or replaces an application policy.
    pub fn insert_application(&mut self, policy: &ApplicationPolicy) -> Result<(), ThrottleError> {
        let tier = ApplicationTier::compile(policy)?;
        self.application.insert(tier.name.clone(), tier);
        Ok(())
    }

    /// Adds or replaces an advanced (API or resource) policy.
    pub fn insert_api(&mut self, policy: &ApiPolicy) -> Result<(), ThrottleError> {
        let tier = AdvancedTier::compile(policy)?;
        self.advanced.insert(tier.name.clone(), tier);
        Ok(())
    }

    /// Adds or replaces (by name) a custom rule.
    pub fn insert_custom(&mut self, rule: CustomRule) {
        match self.custom.iter_mut().find(|r| r.name == rule.name) {
            Some(existing) => *existing = rule,
            None => self.custom.push(rule),
        }
    }

    /// Adds or replaces the rule of a global policy; an undeployed policy is removed.
    pub fn insert_global(&mut self, policy: &GlobalPolicy) -> Result<(), ThrottleError> {
        if !policy.is_deployed {
            self.remove_custom(&policy.name);
            return Ok(());
        }
        self.insert_custom(CustomRule::from_global_policy(policy)?);
        Ok(())
    }

    /// Removes a subscription policy; answers whether it was there.
    pub fn remove_subscription(&mut self, name: &str) -> bool {
        self.subscription.remove(name).is_some()
    }

    /// Removes an application policy; answers whether it was there.
    pub fn remove_application(&mut self, name: &str) -> bool {
        self.application.remove(name).is_some()
    }

    /// Removes an advanced policy; answers whether it was there.
    pub fn remove_api(&mut self, name: &str) -> bool {
        self.advanced.remove(name).is_some()
    }

    /// Removes a custom rule; answers whether it was there.
    pub fn remove_custom(&mut self, name: &str) -> bool {
        let before = self.custom.len();
        self.custom.retain(|rule| &*rule.name != name);
        self.custom.len() != before
    }

    /// The subscription tier called `name`.
    pub fn subscription(&self, name: &str) -> Option<&SubscriptionTier> {
        self.subscription.get(name)
    }

    /// The application tier called `name`.
    pub fn application(&self, name: &str) -> Option<&ApplicationTier> {
        self.application.get(name)
    }

    /// The advanced tier called `name`.
    pub fn advanced(&self, name: &str) -> Option<&AdvancedTier> {
        self.advanced.get(name)
    }

    /// The custom rules, in the order they were added.
    pub fn custom_rules(&self) -> &[CustomRule] {
        &self.custom
    }
}

/// WSO2's requests-per-minute count of the unlimited tiers.
const UNLIMITED_COUNT: i64 = 2_147_483_647;

fn per_minute(count: i64) -> QuotaLimit {
    QuotaLimit::requests(count, 1, TimeUnit::Minute)
}

/// The subscription policies WSO2 API Manager ships with.
pub fn default_subscription_policies() -> Vec<SubscriptionPolicy> {
    [
        ("Gold", 5000, "Allows 5000 requests per minute"),
        ("Silver", 2000, "Allows 2000 requests per minute"),
        ("Bronze", 1000, "Allows 1000 requests per minute"),
        (
            "Unauthenticated",
            500,
            "Allows 500 request per minute for unauthenticated requests",
        ),
        (UNLIMITED, UNLIMITED_COUNT, "Allows unlimited requests"),
    ]
    .into_iter()
    .map(|(name, count, description)| SubscriptionPolicy {
        uuid: default_uuid("subscription", name),
        tenant: Tenant::super_tenant(),
        name: name.into(),
        display_name: name.into(),
        description: Some(description.into()),
        limit: per_minute(count),
        spike_arrest: None,
        stop_on_quota_reach: true,
        billing_plan: BillingPlan::Free,
    })
    .collect()
}

/// The application policies WSO2 API Manager ships with.
pub fn default_application_policies() -> Vec<ApplicationPolicy> {
    [
        ("50PerMin", 50, "Allows 50 request per minute"),
        ("20PerMin", 20, "Allows 20 request per minute"),
        ("10PerMin", 10, "Allows 10 request per minute"),
        (UNLIMITED, UNLIMITED_COUNT, "Allows unlimited requests"),
    ]
    .into_iter()
    .map(|(name, count, description)| ApplicationPolicy {
        uuid: default_uuid("application", name),
        tenant: Tenant::super_tenant(),
        name: name.into(),
        display_name: name.into(),
        description: Some(description.into()),
        limit: per_minute(count),
    })
    .collect()
}

/// The advanced policies WSO2 API Manager ships with.
pub fn default_api_policies() -> Vec<ApiPolicy> {
    [
        ("50KPerMin", 50_000, "Allows 50000 requests per minute"),
        ("20KPerMin", 20_000, "Allows 20000 requests per minute"),
        ("10KPerMin", 10_000, "Allows 10000 requests per minute"),
        (UNLIMITED, UNLIMITED_COUNT, "Allows unlimited requests"),
    ]
    .into_iter()
    .map(|(name, count, description)| ApiPolicy {
        uuid: default_uuid("api", name),
        tenant: Tenant::super_tenant(),
        name: name.into(),
        display_name: name.into(),
        description: Some(description.into()),
        level: PolicyLevel::Api,
        default_limit: per_minute(count),
        condition_groups: Vec::new(),
    })
    .collect()
}

/// A fixed, UUID-shaped id for a default policy, the same in every deployment.
fn default_uuid(kind: &str, name: &str) -> String {
    // FNV-1a over "kind/name", spread over the 128 bits of a version-8 (custom) UUID.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut high: u64 = 0;
    for byte in kind
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(name.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        high = high.rotate_left(5) ^ hash;
    }
    let bits = (u128::from(high) << 64) | u128::from(hash);
    let bits = (bits & !(0xf << 76)) | (0x8 << 76);
    let bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
