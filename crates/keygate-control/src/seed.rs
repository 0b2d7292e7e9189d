//! What a fresh control plane stores before anyone calls it: WSO2 API Manager's default
//! throttling policies (subscription Gold, Silver, Bronze, Unauthenticated, Unlimited;
//! application 50PerMin, 20PerMin, 10PerMin, Unlimited; advanced 50KPerMin, 20KPerMin,
//! 10KPerMin, Unlimited) and the management scopes with their role bindings
//! ([`crate::scopes::SCOPES`]), which the key manager grants from. Seeding adds what is
//! missing and changes nothing an administrator changed; every policy it adds goes
//! through the change outbox like any other write. Several nodes may seed at once: a
//! conflict means another node stored the record first.

use keygate_model::Tenant;
use keygate_store::{StoreResult, Stores};
use keygate_throttle::policy::{
    default_api_policies, default_application_policies, default_subscription_policies,
};

/// How many records a seeding pass added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Policies added.
    pub policies: usize,
    /// Scopes added.
    pub scopes: usize,
}

/// `Ok(true)` when a create succeeded, `Ok(false)` when the record exists already.
fn added(result: StoreResult<()>) -> StoreResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_conflict() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Stores the default policies and the management scopes of `tenant` that are missing.
pub async fn seed_defaults(stores: &Stores, tenant: &Tenant) -> StoreResult<Seeded> {
    let mut seeded = Seeded::default();
    for mut policy in default_subscription_policies() {
        policy.tenant = tenant.clone();
        let repo = stores.subscription_policies();
        if repo
            .subscription_policy(tenant, &policy.name)
            .await?
            .is_none()
            && added(repo.create_subscription_policy(&policy).await)?
        {
            seeded.policies += 1;
        }
    }
    for mut policy in default_application_policies() {
        policy.tenant = tenant.clone();
        let repo = stores.application_policies();
        if repo
            .application_policy(tenant, &policy.name)
            .await?
            .is_none()
            && added(repo.create_application_policy(&policy).await)?
        {
            seeded.policies += 1;
        }
    }
    for mut policy in default_api_policies() {
        policy.tenant = tenant.clone();
        let repo = stores.api_policies();
        if repo.api_policy(tenant, &policy.name).await?.is_none()
            && added(repo.create_api_policy(&policy).await)?
        {
            seeded.policies += 1;
        }
    }
    for seed in crate::scopes::SCOPES {
        let repo = stores.scopes();
        if repo.scope(tenant, seed.name).await?.is_none() {
            match repo.create_scope(&seed.to_scope(tenant)).await {
                Ok(_) => seeded.scopes += 1,
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(seeded)
}
