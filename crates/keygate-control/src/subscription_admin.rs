//! What a publisher does with the subscriptions to APIs
//! (`/api/am/publisher/v1/subscriptions`): list those of an API, block them for every key
//! type or for production keys only (`block-subscription?blockState=BLOCKED|
//! PROD_ONLY_BLOCKED`), and lift the block (`unblock-subscription`). Gateways refuse
//! calls through a blocked subscription with 900907 once the change reaches them.

use crate::auth::Permission;
use crate::body::QueryParams;
use crate::errors::{ControlError, ControlResult};
use crate::publisher::{ListBody, Paging};
use crate::relay::now_ms;
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use keygate_model::{Subscription, SubscriptionStatus};
use serde::{Deserialize, Serialize};

/// A subscription as the Publisher lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherSubscriptionBody {
    /// Id.
    pub subscription_id: String,
    /// The subscribing application.
    pub application_id: String,
    /// The API.
    pub api_id: String,
    /// Subscription policy.
    pub throttling_policy: String,
    /// State.
    pub subscription_status: SubscriptionStatus,
}

impl PublisherSubscriptionBody {
    fn from_subscription(sub: &Subscription) -> Self {
        Self {
            subscription_id: sub.uuid.clone(),
            application_id: sub.application_uuid.clone(),
            api_id: sub.api_uuid.clone(),
            throttling_policy: sub.tier.clone(),
            subscription_status: sub.status,
        }
    }
}

/// Filters of the subscription list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSubscriptionQuery {
    /// Subscriptions to this API (required).
    pub api_id: Option<String>,
    /// Most items.
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
}

async fn list_api_subscriptions(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<ApiSubscriptionQuery>,
) -> ControlResult<Json<ListBody<PublisherSubscriptionBody>>> {
    control
        .caller(&headers, Permission::SubscriptionView)
        .await?;
    let Some(api_id) = query.api_id.filter(|a| !a.is_empty()) else {
        return Err(ControlError::invalid("apiId", "is required"));
    };
    match control.stores().apis().api(&api_id).await? {
        Some(api) if &api.tenant == control.tenant() => {}
        _ => return Err(ControlError::NotFound(format!("api {api_id}"))),
    }
    let page = Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .page();
    let subs = control
        .stores()
        .subscriptions()
        .list_subscriptions_by_api(&api_id, page)
        .await?;
    Ok(Json(ListBody::new(
        subs.iter()
            .map(PublisherSubscriptionBody::from_subscription)
            .collect(),
        page,
    )))
}

/// Parameters of `block-subscription` and `unblock-subscription`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockQuery {
    /// The subscription.
    pub subscription_id: Option<String>,
    /// `BLOCKED` or `PROD_ONLY_BLOCKED` (block only).
    pub block_state: Option<String>,
}

async fn set_subscription_state(
    control: &ControlPlane,
    headers: &HeaderMap,
    id: Option<String>,
    status: SubscriptionStatus,
) -> ControlResult<StatusCode> {
    control
        .caller(headers, Permission::SubscriptionBlock)
        .await?;
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return Err(ControlError::invalid("subscriptionId", "is required"));
    };
    let not_found = || ControlError::NotFound(format!("subscription {id}"));
    let sub = control
        .stores()
        .subscriptions()
        .subscription(&id)
        .await?
        .ok_or_else(not_found)?;
    if &sub.tenant != control.tenant() {
        return Err(not_found());
    }
    if !control
        .stores()
        .subscriptions()
        .set_subscription_status(&sub.uuid, status, now_ms())
        .await?
    {
        return Err(not_found());
    }
    control.changed();
    Ok(StatusCode::OK)
}

async fn block_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<BlockQuery>,
) -> ControlResult<StatusCode> {
    let status = match query.block_state.as_deref() {
        Some("BLOCKED") => SubscriptionStatus::Blocked,
        Some("PROD_ONLY_BLOCKED") => SubscriptionStatus::ProdOnlyBlocked,
        _ => {
            return Err(ControlError::invalid(
                "blockState",
                "must be BLOCKED or PROD_ONLY_BLOCKED",
            ));
        }
    };
    set_subscription_state(&control, &headers, query.subscription_id, status).await
}

async fn unblock_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<BlockQuery>,
) -> ControlResult<StatusCode> {
    set_subscription_state(
        &control,
        &headers,
        query.subscription_id,
        SubscriptionStatus::Unblocked,
    )
    .await
}

/// The routes of subscription administration.
pub(crate) fn routes() -> Routes {
    vec![
        (
            "/api/am/publisher/v1/subscriptions".to_owned(),
            get(list_api_subscriptions),
        ),
        (
            "/api/am/publisher/v1/subscriptions/block-subscription".to_owned(),
            post(block_subscription),
        ),
        (
            "/api/am/publisher/v1/subscriptions/unblock-subscription".to_owned(),
            post(unblock_subscription),
        ),
    ]
}
