//! The internal data service gateways load their replica from (DESIGN §4):
//! `GET /internal/data/v1/{apis, applications, subscriptions, application-key-mappings,
//! subscription-policies, application-policies, api-policies, global-policies,
//! block-conditions, revoked-tokens, subject-revocations}`, each `{revision, list}`, and
//! `GET /internal/data/v1/snapshot` with everything at one revision, in the shape of the
//! gateway's `ReplicaData`.
//!
//! A read is consistent with its revision: the outbox counter is read before and after
//! the data, and the data kept only when both agree — every replicated write moves the
//! counter in its own transaction, so agreeing readings mean no write committed in
//! between. Callers authenticate with the `[apim.key_manager]` credentials or as an
//! administrator.

use crate::auth::Permission;
use crate::errors::{ControlError, ControlResult};
use crate::relay::now_ms;
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use keygate_model::{
    Api, ApiPolicy, Application, ApplicationPolicy, BlockCondition, GlobalPolicy, KeyMapping,
    RevokedToken, Subscription, SubscriptionPolicy, Tenant,
};
use keygate_store::{Page, RevokedSubjectKind, StoreResult, Stores, SubjectRevocation};
use serde::{Deserialize, Serialize};

/// How often a read is retried when writes keep moving the revision under it.
const CONSISTENT_READ_ATTEMPTS: usize = 20;

/// Everything a gateway replicates, at one revision; field names are the gateway's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogSnapshot {
    /// The revision the snapshot was taken at.
    pub revision: u64,
    pub apis: Vec<Api>,
    pub applications: Vec<Application>,
    pub subscriptions: Vec<Subscription>,
    pub key_mappings: Vec<KeyMapping>,
    pub subscription_policies: Vec<SubscriptionPolicy>,
    pub application_policies: Vec<ApplicationPolicy>,
    pub api_policies: Vec<ApiPolicy>,
    pub global_policies: Vec<GlobalPolicy>,
    pub block_conditions: Vec<BlockCondition>,
    pub revoked_tokens: Vec<RevokedToken>,
    pub subject_revocations: Vec<RevokedSubject>,
}

/// Whose tokens a revoke-all covers, as gateways read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum RevocationSubject {
    /// Every token of an OAuth client.
    ConsumerKey(String),
    /// Every token of a user.
    User(String),
}

/// A revoke-all in force: tokens of `subject` issued before `issued_before_ms` are
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedSubject {
    pub subject: RevocationSubject,
    pub issued_before_ms: i64,
}

impl From<SubjectRevocation> for RevokedSubject {
    fn from(record: SubjectRevocation) -> Self {
        let subject = match record.kind {
            RevokedSubjectKind::ConsumerKey => RevocationSubject::ConsumerKey(record.subject),
            RevokedSubjectKind::User => RevocationSubject::User(record.subject),
        };
        Self {
            subject,
            issued_before_ms: record.revoked_before_ms,
        }
    }
}

async fn subject_revocations(stores: &Stores, now: i64) -> StoreResult<Vec<RevokedSubject>> {
    Ok(stores
        .subject_revocations()
        .list_subject_revocations(now, Page::ALL)
        .await?
        .into_iter()
        .map(RevokedSubject::from)
        .collect())
}

/// One list with the revision it was read at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionedList<T> {
    /// The revision the list was read at.
    pub revision: u64,
    /// The records.
    pub list: Vec<T>,
}

/// Whether the revision read before the data is still current: then no replicated
/// write committed while the data was read.
async fn unchanged_since(stores: &Stores, before: u64) -> StoreResult<bool> {
    Ok(stores.change_outbox().current_revision().await? == before)
}

fn moving_target() -> ControlError {
    ControlError::BadState("the data changed during every read attempt; try again".into())
}

/// One list of the internal data service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataSet {
    Apis,
    Applications,
    Subscriptions,
    KeyMappings,
    SubscriptionPolicies,
    ApplicationPolicies,
    ApiPolicies,
    GlobalPolicies,
    BlockConditions,
    RevokedTokens,
    SubjectRevocations,
}

impl DataSet {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "apis" => Self::Apis,
            "applications" => Self::Applications,
            "subscriptions" => Self::Subscriptions,
            "application-key-mappings" => Self::KeyMappings,
            "subscription-policies" => Self::SubscriptionPolicies,
            "application-policies" => Self::ApplicationPolicies,
            "api-policies" => Self::ApiPolicies,
            "global-policies" => Self::GlobalPolicies,
            "block-conditions" => Self::BlockConditions,
            "revoked-tokens" => Self::RevokedTokens,
            "subject-revocations" => Self::SubjectRevocations,
            _ => return None,
        })
    }
}

fn to_values<T: Serialize>(list: Vec<T>) -> StoreResult<Vec<serde_json::Value>> {
    list.into_iter()
        .map(|item| {
            serde_json::to_value(item).map_err(|e| keygate_store::StoreError::Corrupt {
                field: "record",
                reason: e.to_string(),
            })
        })
        .collect()
}

async fn read_set(
    stores: &Stores,
    tenant: &Tenant,
    set: DataSet,
    now: i64,
) -> StoreResult<Vec<serde_json::Value>> {
    let all = Page::ALL;
    match set {
        DataSet::Apis => to_values(stores.apis().list_apis(tenant, all).await?),
        DataSet::Applications => {
            to_values(stores.applications().list_applications(tenant, all).await?)
        }
        DataSet::Subscriptions => to_values(
            stores
                .subscriptions()
                .list_subscriptions(tenant, all)
                .await?,
        ),
        DataSet::KeyMappings => {
            to_values(stores.key_mappings().list_key_mappings(tenant, all).await?)
        }
        DataSet::SubscriptionPolicies => to_values(
            stores
                .subscription_policies()
                .list_subscription_policies(tenant, all)
                .await?,
        ),
        DataSet::ApplicationPolicies => to_values(
            stores
                .application_policies()
                .list_application_policies(tenant, all)
                .await?,
        ),
        DataSet::ApiPolicies => {
            to_values(stores.api_policies().list_api_policies(tenant, all).await?)
        }
        DataSet::GlobalPolicies => to_values(
            stores
                .global_policies()
                .list_global_policies(tenant, all)
                .await?,
        ),
        DataSet::BlockConditions => to_values(
            stores
                .block_conditions()
                .list_block_conditions(tenant, all)
                .await?,
        ),
        DataSet::RevokedTokens => to_values(
            stores
                .revoked_tokens()
                .list_revoked_tokens(now, all)
                .await?,
        ),
        DataSet::SubjectRevocations => to_values(subject_revocations(stores, now).await?),
    }
}

/// One list at the revision it was read at.
async fn revisioned_list(
    stores: &Stores,
    tenant: &Tenant,
    set: DataSet,
) -> ControlResult<RevisionedList<serde_json::Value>> {
    let now = now_ms();
    for _ in 0..CONSISTENT_READ_ATTEMPTS {
        let revision = stores.change_outbox().current_revision().await?;
        let list = read_set(stores, tenant, set, now).await?;
        if unchanged_since(stores, revision).await? {
            return Ok(RevisionedList { revision, list });
        }
    }
    Err(moving_target())
}

async fn read_all(stores: &Stores, tenant: &Tenant, now: i64) -> StoreResult<CatalogSnapshot> {
    Ok(CatalogSnapshot {
        revision: 0,
        apis: stores.apis().list_apis(tenant, Page::ALL).await?,
        applications: stores
            .applications()
            .list_applications(tenant, Page::ALL)
            .await?,
        subscriptions: stores
            .subscriptions()
            .list_subscriptions(tenant, Page::ALL)
            .await?,
        key_mappings: stores
            .key_mappings()
            .list_key_mappings(tenant, Page::ALL)
            .await?,
        subscription_policies: stores
            .subscription_policies()
            .list_subscription_policies(tenant, Page::ALL)
            .await?,
        application_policies: stores
            .application_policies()
            .list_application_policies(tenant, Page::ALL)
            .await?,
        api_policies: stores
            .api_policies()
            .list_api_policies(tenant, Page::ALL)
            .await?,
        global_policies: stores
            .global_policies()
            .list_global_policies(tenant, Page::ALL)
            .await?,
        block_conditions: stores
            .block_conditions()
            .list_block_conditions(tenant, Page::ALL)
            .await?,
        revoked_tokens: stores
            .revoked_tokens()
            .list_revoked_tokens(now, Page::ALL)
            .await?,
        subject_revocations: subject_revocations(stores, now).await?,
    })
}

/// A full snapshot of the tenant's replicated data at one revision.
pub async fn snapshot(stores: &Stores, tenant: &Tenant) -> ControlResult<CatalogSnapshot> {
    let now = now_ms();
    for _ in 0..CONSISTENT_READ_ATTEMPTS {
        let revision = stores.change_outbox().current_revision().await?;
        let mut data = read_all(stores, tenant, now).await?;
        if unchanged_since(stores, revision).await? {
            data.revision = revision;
            return Ok(data);
        }
    }
    Err(moving_target())
}

async fn get_snapshot(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
) -> ControlResult<Json<CatalogSnapshot>> {
    control.authorize_internal(&headers).await?;
    Ok(Json(snapshot(control.stores(), control.tenant()).await?))
}

async fn get_list(
    State(control): State<ControlPlane>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ControlResult<Json<RevisionedList<serde_json::Value>>> {
    control.authorize_internal(&headers).await?;
    let set =
        DataSet::parse(&name).ok_or_else(|| ControlError::NotFound(format!("data set {name}")))?;
    Ok(Json(
        revisioned_list(control.stores(), control.tenant(), set).await?,
    ))
}

impl ControlPlane {
    /// Succeeds for the gateways' service account and administrators.
    pub(crate) async fn authorize_internal(&self, headers: &HeaderMap) -> ControlResult<()> {
        let caller = self
            .authenticate(headers, self.settings().service_account.as_ref())
            .await?;
        caller.require(Permission::InternalData, &self.settings().admin_role)
    }
}

/// The internal data service's routes.
pub(crate) fn routes() -> Routes {
    vec![
        ("/internal/data/v1/snapshot".to_owned(), get(get_snapshot)),
        ("/internal/data/v1/{name}".to_owned(), get(get_list)),
    ]
}
