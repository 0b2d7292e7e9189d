//! The Admin REST API's throttling policies (`/api/am/admin/v1/throttling/policies/…`):
//! subscription, application and advanced policies and custom rules, each listed, read,
//! created, replaced and deleted by id, in WSO2 Admin v1's shape ([`crate::policy_bodies`]).
//! Reading needs `apim:tier_view`, changing `apim:tier_manage`. A name is unique per kind
//! (409) and fixed once created (400); a policy in use — named by an API, a resource, an
//! application or a subscription — cannot be deleted (409), nor can WSO2's defaults, which
//! every gateway knows (400: change them instead). Each write reaches gateways as its
//! `keygate.notification` event through the change outbox.

use crate::auth::Permission;
use crate::body::{JsonBody, QueryParams};
use crate::errors::{ControlError, ControlResult};
use crate::policy_bodies::{
    AdvancedPolicyBody, ApplicationPolicyBody, CustomRuleBody, SubscriptionPolicyBody,
};
use crate::publisher::{ListBody, Paging};
use crate::tiers::{
    DEFAULT_API_POLICIES, DEFAULT_APPLICATION_POLICIES, DEFAULT_SUBSCRIPTION_TIERS,
};
use crate::{ControlPlane, Routes};
use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keygate_model::{ApiPolicy, ApplicationPolicy, GlobalPolicy, SubscriptionPolicy, Tenant};
use keygate_store::{Page, StoreResult, Stores};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the policies live.
pub const POLICIES_PATH: &str = "/api/am/admin/v1/throttling/policies";

/// One kind of policy, as the generic handlers see it.
#[async_trait]
pub trait PolicyKind: Send + Sync + 'static {
    /// The stored policy.
    type Policy: Clone + Send + Sync;
    /// The REST body.
    type Body: Serialize + DeserializeOwned + Send + Sync;
    /// The noun in messages, e.g. `subscription policy`.
    const NOUN: &'static str;
    /// WSO2's default policies of the kind.
    const DEFAULTS: &'static [&'static str];

    /// The body of a policy.
    fn to_body(policy: &Self::Policy) -> Self::Body;
    /// The policy a body describes.
    fn from_body(
        body: &Self::Body,
        uuid: &str,
        tenant: &Tenant,
    ) -> Result<Self::Policy, Vec<crate::FieldError>>;
    /// The policy's id.
    fn uuid(policy: &Self::Policy) -> &str;
    /// The policy's name.
    fn name(policy: &Self::Policy) -> &str;
    /// A page of the tenant's policies.
    async fn list(stores: &Stores, tenant: &Tenant, page: Page) -> StoreResult<Vec<Self::Policy>>;
    /// Stores a new policy.
    async fn create(stores: &Stores, policy: &Self::Policy) -> StoreResult<()>;
    /// Replaces a policy.
    async fn update(stores: &Stores, policy: &Self::Policy) -> StoreResult<()>;
    /// Deletes a policy by name.
    async fn delete(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<bool>;
    /// What uses the policy, if anything.
    async fn used_by(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<Option<String>>;
}

/// The conversions every kind has: its body type's `from_policy` and `to_policy`, and
/// the policy's `uuid` and `name`.
macro_rules! body_conversions {
    ($body:ty) => {
        fn to_body(policy: &Self::Policy) -> Self::Body {
            <$body>::from_policy(policy)
        }
        fn from_body(
            body: &Self::Body,
            uuid: &str,
            tenant: &Tenant,
        ) -> Result<Self::Policy, Vec<crate::FieldError>> {
            body.to_policy(uuid, tenant)
        }
        fn uuid(policy: &Self::Policy) -> &str {
            &policy.uuid
        }
        fn name(policy: &Self::Policy) -> &str {
            &policy.name
        }
    };
}

/// Subscription policies.
#[derive(Debug)]
pub struct SubscriptionKind;
/// Application policies.
#[derive(Debug)]
pub struct ApplicationKind;
/// Advanced (API and resource) policies.
#[derive(Debug)]
pub struct AdvancedKind;
/// Custom rules (global policies with a key template).
#[derive(Debug)]
pub struct CustomKind;

#[async_trait]
impl PolicyKind for SubscriptionKind {
    type Policy = SubscriptionPolicy;
    type Body = SubscriptionPolicyBody;
    const NOUN: &'static str = "subscription policy";
    const DEFAULTS: &'static [&'static str] = &DEFAULT_SUBSCRIPTION_TIERS;

    body_conversions!(SubscriptionPolicyBody);

    async fn list(stores: &Stores, tenant: &Tenant, page: Page) -> StoreResult<Vec<Self::Policy>> {
        stores
            .subscription_policies()
            .list_subscription_policies(tenant, page)
            .await
    }
    async fn create(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores
            .subscription_policies()
            .create_subscription_policy(policy)
            .await
    }
    async fn update(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores
            .subscription_policies()
            .update_subscription_policy(policy)
            .await
    }
    async fn delete(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        stores
            .subscription_policies()
            .delete_subscription_policy(tenant, name)
            .await
    }
    async fn used_by(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<Option<String>> {
        let apis = stores.apis().list_apis(tenant, Page::ALL).await?;
        if let Some(api) = apis
            .iter()
            .find(|a| a.subscription_tiers.iter().any(|t| t == name))
        {
            return Ok(Some(format!("API {} {}", api.name, api.version)));
        }
        let subs = stores
            .subscriptions()
            .list_subscriptions(tenant, Page::ALL)
            .await?;
        Ok(subs
            .iter()
            .find(|s| s.tier == name)
            .map(|s| format!("subscription {}", s.uuid)))
    }
}

#[async_trait]
impl PolicyKind for ApplicationKind {
    type Policy = ApplicationPolicy;
    type Body = ApplicationPolicyBody;
    const NOUN: &'static str = "application policy";
    const DEFAULTS: &'static [&'static str] = &DEFAULT_APPLICATION_POLICIES;

    body_conversions!(ApplicationPolicyBody);

    async fn list(stores: &Stores, tenant: &Tenant, page: Page) -> StoreResult<Vec<Self::Policy>> {
        stores
            .application_policies()
            .list_application_policies(tenant, page)
            .await
    }
    async fn create(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores
            .application_policies()
            .create_application_policy(policy)
            .await
    }
    async fn update(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores
            .application_policies()
            .update_application_policy(policy)
            .await
    }
    async fn delete(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        stores
            .application_policies()
            .delete_application_policy(tenant, name)
            .await
    }
    async fn used_by(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<Option<String>> {
        let apps = stores
            .applications()
            .list_applications(tenant, Page::ALL)
            .await?;
        Ok(apps
            .iter()
            .find(|a| a.tier == name)
            .map(|a| format!("application {}", a.name)))
    }
}

#[async_trait]
impl PolicyKind for AdvancedKind {
    type Policy = ApiPolicy;
    type Body = AdvancedPolicyBody;
    const NOUN: &'static str = "advanced policy";
    const DEFAULTS: &'static [&'static str] = &DEFAULT_API_POLICIES;

    body_conversions!(AdvancedPolicyBody);

    async fn list(stores: &Stores, tenant: &Tenant, page: Page) -> StoreResult<Vec<Self::Policy>> {
        stores.api_policies().list_api_policies(tenant, page).await
    }
    async fn create(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores.api_policies().create_api_policy(policy).await
    }
    async fn update(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores.api_policies().update_api_policy(policy).await
    }
    async fn delete(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        stores.api_policies().delete_api_policy(tenant, name).await
    }
    async fn used_by(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<Option<String>> {
        let apis = stores.apis().list_apis(tenant, Page::ALL).await?;
        Ok(apis
            .iter()
            .find(|a| {
                a.api_tier.as_deref() == Some(name)
                    || a.url_templates.iter().any(|t| t.throttling_tier == name)
            })
            .map(|a| format!("API {} {}", a.name, a.version)))
    }
}

#[async_trait]
impl PolicyKind for CustomKind {
    type Policy = GlobalPolicy;
    type Body = CustomRuleBody;
    const NOUN: &'static str = "custom rule";
    const DEFAULTS: &'static [&'static str] = &[];

    body_conversions!(CustomRuleBody);

    async fn list(stores: &Stores, tenant: &Tenant, page: Page) -> StoreResult<Vec<Self::Policy>> {
        stores
            .global_policies()
            .list_global_policies(tenant, page)
            .await
    }
    async fn create(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores.global_policies().create_global_policy(policy).await
    }
    async fn update(stores: &Stores, policy: &Self::Policy) -> StoreResult<()> {
        stores.global_policies().update_global_policy(policy).await
    }
    async fn delete(stores: &Stores, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        stores
            .global_policies()
            .delete_global_policy(tenant, name)
            .await
    }
    async fn used_by(_: &Stores, _: &Tenant, _: &str) -> StoreResult<Option<String>> {
        Ok(None)
    }
}

/// The policy of kind `K` with id `id`; 404 otherwise.
async fn find<K: PolicyKind>(control: &ControlPlane, id: &str) -> ControlResult<K::Policy> {
    K::list(control.stores(), control.tenant(), Page::ALL)
        .await?
        .into_iter()
        .find(|p| K::uuid(p) == id)
        .ok_or_else(|| ControlError::NotFound(format!("{} {id}", K::NOUN)))
}

async fn list_policies<K: PolicyKind>(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(paging): QueryParams<Paging>,
) -> ControlResult<Json<ListBody<K::Body>>> {
    control.caller(&headers, Permission::TierView).await?;
    let page = paging.page();
    let policies = K::list(control.stores(), control.tenant(), page).await?;
    Ok(Json(ListBody::new(
        policies.iter().map(K::to_body).collect(),
        page,
    )))
}

async fn get_policy<K: PolicyKind>(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<K::Body>> {
    control.caller(&headers, Permission::TierView).await?;
    Ok(Json(K::to_body(&find::<K>(&control, &id).await?)))
}

async fn create_policy<K: PolicyKind>(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<K::Body>,
) -> ControlResult<(StatusCode, Json<K::Body>)> {
    control.caller(&headers, Permission::TierManage).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let policy = K::from_body(&body, &uuid, control.tenant()).map_err(ControlError::Invalid)?;
    let name = K::name(&policy);
    if K::list(control.stores(), control.tenant(), Page::ALL)
        .await?
        .iter()
        .any(|p| K::name(p) == name)
    {
        return Err(ControlError::Conflict(format!(
            "a {} named {name} exists",
            K::NOUN
        )));
    }
    K::create(control.stores(), &policy).await?;
    control.changed();
    Ok((StatusCode::CREATED, Json(K::to_body(&policy))))
}

async fn update_policy<K: PolicyKind>(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<K::Body>,
) -> ControlResult<Json<K::Body>> {
    control.caller(&headers, Permission::TierManage).await?;
    let current = find::<K>(&control, &id).await?;
    let policy = K::from_body(&body, &id, control.tenant()).map_err(ControlError::Invalid)?;
    if K::name(&policy) != K::name(&current) {
        return Err(ControlError::invalid(
            "policyName",
            "cannot change; create a new policy instead",
        ));
    }
    K::update(control.stores(), &policy).await?;
    control.changed();
    Ok(Json(K::to_body(&policy)))
}

async fn delete_policy<K: PolicyKind>(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<StatusCode> {
    control.caller(&headers, Permission::TierManage).await?;
    let policy = find::<K>(&control, &id).await?;
    let name = K::name(&policy);
    if K::DEFAULTS.contains(&name) {
        return Err(ControlError::BadState(format!(
            "{name} is one of WSO2's default {} names and cannot be deleted; change it instead",
            K::NOUN
        )));
    }
    if let Some(user) = K::used_by(control.stores(), control.tenant(), name).await? {
        return Err(ControlError::Conflict(format!(
            "the {} {name} is in use by {user}",
            K::NOUN
        )));
    }
    if !K::delete(control.stores(), control.tenant(), name).await? {
        return Err(ControlError::NotFound(format!("{} {id}", K::NOUN)));
    }
    control.changed();
    Ok(StatusCode::OK)
}

fn kind_routes<K: PolicyKind>(segment: &str) -> Routes {
    vec![
        (
            format!("{POLICIES_PATH}/{segment}"),
            get(list_policies::<K>).post(create_policy::<K>),
        ),
        (
            format!("{POLICIES_PATH}/{segment}/{{policyId}}"),
            get(get_policy::<K>)
                .put(update_policy::<K>)
                .delete(delete_policy::<K>),
        ),
    ]
}

/// The policy routes.
pub(crate) fn routes() -> Routes {
    [
        kind_routes::<SubscriptionKind>("subscription"),
        kind_routes::<ApplicationKind>("application"),
        kind_routes::<AdvancedKind>("advanced"),
        kind_routes::<CustomKind>("custom"),
    ]
    .concat()
}
