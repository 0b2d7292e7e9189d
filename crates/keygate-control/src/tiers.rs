//! Which throttling policy names an API, a resource or an application may refer to: the
//! tiers WSO2 API Manager ships (which every gateway knows without being told) and the
//! policies stored for the tenant. A name that is neither is a bad field (400), so no
//! request creates a reference to a policy that does not exist.

use crate::errors::FieldError;
use keygate_model::Tenant;
use keygate_store::{StoreResult, Stores};

/// WSO2's subscription tiers.
pub const DEFAULT_SUBSCRIPTION_TIERS: [&str; 5] =
    ["Gold", "Silver", "Bronze", "Unauthenticated", "Unlimited"];
/// WSO2's application policies.
pub const DEFAULT_APPLICATION_POLICIES: [&str; 4] =
    ["50PerMin", "20PerMin", "10PerMin", "Unlimited"];
/// WSO2's advanced (API and resource) policies.
pub const DEFAULT_API_POLICIES: [&str; 4] = ["50KPerMin", "20KPerMin", "10KPerMin", "Unlimited"];

/// The kind of policy a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierKind {
    /// A subscription policy.
    Subscription,
    /// An application policy.
    Application,
    /// An advanced policy.
    Api,
}

/// Whether `name` names a policy of `kind` in `tenant`.
pub async fn tier_exists(
    stores: &Stores,
    tenant: &Tenant,
    kind: TierKind,
    name: &str,
) -> StoreResult<bool> {
    let defaults: &[&str] = match kind {
        TierKind::Subscription => &DEFAULT_SUBSCRIPTION_TIERS,
        TierKind::Application => &DEFAULT_APPLICATION_POLICIES,
        TierKind::Api => &DEFAULT_API_POLICIES,
    };
    if defaults.contains(&name) {
        return Ok(true);
    }
    Ok(match kind {
        TierKind::Subscription => stores
            .subscription_policies()
            .subscription_policy(tenant, name)
            .await?
            .is_some(),
        TierKind::Application => stores
            .application_policies()
            .application_policy(tenant, name)
            .await?
            .is_some(),
        TierKind::Api => stores
            .api_policies()
            .api_policy(tenant, name)
            .await?
            .is_some(),
    })
}

/// Adds a bad field to `errors` for each of `names` (with its field path) that names no
/// policy of `kind`.
pub async fn check_tiers(
    stores: &Stores,
    tenant: &Tenant,
    kind: TierKind,
    names: &[(String, String)],
    errors: &mut Vec<FieldError>,
) -> StoreResult<()> {
    for (field, name) in names {
        if !tier_exists(stores, tenant, kind, name).await? {
            errors.push(FieldError::new(
                field.clone(),
                format!("no throttling policy is named {name:?}"),
            ));
        }
    }
    Ok(())
}
