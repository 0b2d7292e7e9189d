//! The Developer Portal's core (`/api/am/devportal/v1`): a subscriber's applications
//! (create, list, read, replace, delete) and their subscriptions to APIs. Applications need
//! `apim:app_manage`, subscriptions `apim:sub_manage`; `apim:subscribe` covers both. The caller owns what they create and sees only that
//! (administrators see everything); an application name is unique per owner (409); an API
//! accepts subscriptions only while published or prototyped, and only with one of the
//! subscription policies its publisher allowed (400).

use crate::auth::{Caller, Permission};
use crate::body::{JsonBody, QueryParams};
use crate::errors::{ControlError, ControlResult, FieldError};
use crate::key_manager::ClientUpdate;
use crate::publisher::{ListBody, Paging};
use crate::relay::now_ms;
use crate::tiers::{TierKind, check_tiers};
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keygate_model::{
    ApiStatus, Application, ApplicationStatus, Subscription, SubscriptionCreateState,
    SubscriptionStatus, TokenType,
};
use keygate_store::Page;
use serde::{Deserialize, Serialize};

/// The application policy an application gets when none is named.
const DEFAULT_APPLICATION_POLICY: &str = "Unlimited";

/// An application as the Developer Portal reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Name, unique per owner.
    #[serde(default)]
    pub name: String,
    /// Application throttling policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_policy: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `JWT` (default) or `OAUTH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// OAuth callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Approval state; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApplicationStatus>,
    /// Owner; set from the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl ApplicationBody {
    fn from_application(app: &Application) -> Self {
        Self {
            application_id: Some(app.uuid.clone()),
            name: app.name.clone(),
            throttling_policy: Some(app.tier.clone()),
            description: app.description.clone(),
            token_type: Some(app.token_type),
            callback_url: app.callback_url.clone(),
            status: Some(app.status),
            owner: Some(app.owner.clone()),
        }
    }
}

/// A subscription as the Developer Portal reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The subscribing application.
    #[serde(default)]
    pub application_id: String,
    /// The API.
    #[serde(default)]
    pub api_id: String,
    /// Subscription policy.
    #[serde(default)]
    pub throttling_policy: String,
    /// State; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SubscriptionStatus>,
}

impl SubscriptionBody {
    fn from_subscription(sub: &Subscription) -> Self {
        Self {
            subscription_id: Some(sub.uuid.clone()),
            application_id: sub.application_uuid.clone(),
            api_id: sub.api_uuid.clone(),
            throttling_policy: sub.tier.clone(),
            status: Some(sub.status),
        }
    }
}

impl ControlPlane {
    /// The application `id` when the caller may manage it; 404 otherwise (another
    /// subscriber's application is not revealed).
    pub(crate) async fn owned_application(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ControlResult<Application> {
        match self.stores().applications().application(id).await? {
            Some(app)
                if &app.tenant == self.tenant()
                    && (app.owner == caller.username
                        || caller.is_admin(&self.settings().admin_role)) =>
            {
                Ok(app)
            }
            _ => Err(ControlError::NotFound(format!("application {id}"))),
        }
    }

    /// The subscription `id` when the caller owns its application.
    async fn owned_subscription(&self, caller: &Caller, id: &str) -> ControlResult<Subscription> {
        let not_found = || ControlError::NotFound(format!("subscription {id}"));
        let sub = self
            .stores()
            .subscriptions()
            .subscription(id)
            .await?
            .ok_or_else(not_found)?;
        self.owned_application(caller, &sub.application_uuid)
            .await
            .map_err(|_| not_found())?;
        Ok(sub)
    }
}

/// Checks an application body: its name and the application policy it names (the
/// default when none); every bad field otherwise.
async fn check_application(
    control: &ControlPlane,
    body: &ApplicationBody,
) -> ControlResult<(String, String)> {
    let mut errors = Vec::new();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    let tier = body
        .throttling_policy
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_APPLICATION_POLICY.to_owned());
    check_tiers(
        control.stores(),
        control.tenant(),
        TierKind::Application,
        &[("throttlingPolicy".to_owned(), tier.clone())],
        &mut errors,
    )
    .await?;
    if let Some(url) = &body.callback_url
        && !url.is_empty()
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        errors.push(FieldError::new(
            "callbackUrl",
            "must be an http or https URL",
        ));
    }
    if errors.is_empty() {
        Ok((name.to_owned(), tier))
    } else {
        Err(ControlError::Invalid(errors))
    }
}

async fn create_application(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ApplicationBody>,
) -> ControlResult<(StatusCode, Json<ApplicationBody>)> {
    let caller = control.caller(&headers, Permission::AppManage).await?;
    let (name, tier) = check_application(&control, &body).await?;
    let name = name.as_str();
    let tenant = control.tenant().clone();
    if control
        .stores()
        .applications()
        .application_by_name(&tenant, &caller.username, name)
        .await?
        .is_some()
    {
        return Err(ControlError::Conflict(format!(
            "an application named {name} exists"
        )));
    }
    let now = now_ms();
    let app = Application {
        uuid: uuid::Uuid::new_v4().to_string(),
        id: 0,
        tenant,
        name: name.to_owned(),
        owner: caller.username.clone(),
        tier,
        callback_url: body.callback_url.clone().filter(|u| !u.is_empty()),
        description: body.description.clone(),
        status: ApplicationStatus::Approved,
        group_id: None,
        token_type: body.token_type.unwrap_or_default(),
        created_at_ms: now,
        updated_at_ms: now,
    };
    let stored = control
        .stores()
        .applications()
        .create_application(&app)
        .await?;
    control.changed();
    Ok((
        StatusCode::CREATED,
        Json(ApplicationBody::from_application(&stored)),
    ))
}

async fn list_applications(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(paging): QueryParams<Paging>,
) -> ControlResult<Json<ListBody<ApplicationBody>>> {
    let caller = control.caller(&headers, Permission::AppManage).await?;
    let page = paging.page();
    let apps = control
        .stores()
        .applications()
        .list_applications_by_owner(control.tenant(), &caller.username, page)
        .await?;
    Ok(Json(ListBody::new(
        apps.iter().map(ApplicationBody::from_application).collect(),
        page,
    )))
}

async fn get_application(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<ApplicationBody>> {
    let caller = control.caller(&headers, Permission::AppManage).await?;
    let app = control.owned_application(&caller, &id).await?;
    Ok(Json(ApplicationBody::from_application(&app)))
}

async fn update_application(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApplicationBody>,
) -> ControlResult<Json<ApplicationBody>> {
    let caller = control.caller(&headers, Permission::AppManage).await?;
    let mut app = control.owned_application(&caller, &id).await?;
    let (name, tier) = check_application(&control, &body).await?;
    if name != app.name
        && control
            .stores()
            .applications()
            .application_by_name(control.tenant(), &app.owner, &name)
            .await?
            .is_some()
    {
        return Err(ControlError::Conflict(format!(
            "an application named {name} exists"
        )));
    }
    let token_type = body.token_type.unwrap_or(app.token_type);
    let callback_url = body.callback_url.clone().filter(|u| !u.is_empty());
    let client_update = ClientUpdate {
        grant_types: None,
        callback_url: (callback_url != app.callback_url)
            .then(|| callback_url.clone().unwrap_or_default()),
        token_type: (token_type != app.token_type).then_some(token_type),
    };
    if client_update != ClientUpdate::default() {
        // The OAuth clients of the keys first: tokens follow the application's type.
        let mappings = control
            .stores()
            .key_mappings()
            .key_mappings_for_application(&app.uuid)
            .await?;
        for mapping in &mappings {
            control
                .key_manager()?
                .update_client(&mapping.consumer_key, &client_update)
                .await?;
        }
    }
    app.name = name;
    app.tier = tier;
    app.description = body.description.clone();
    app.token_type = token_type;
    app.callback_url = callback_url;
    let stored = control
        .stores()
        .applications()
        .update_application(&app, now_ms())
        .await?;
    control.changed();
    Ok(Json(ApplicationBody::from_application(&stored)))
}

async fn delete_application(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<StatusCode> {
    let caller = control.caller(&headers, Permission::AppManage).await?;
    let app = control.owned_application(&caller, &id).await?;
    control.delete_key_clients(&app).await?;
    let stores = control.stores();
    // Dependents go first, each with its own change: a database whose cascades fire no
    // trigger still tells gateways about every row that goes.
    for mapping in stores
        .key_mappings()
        .key_mappings_for_application(&app.uuid)
        .await?
    {
        stores
            .key_mappings()
            .delete_key_mapping(&mapping.uuid)
            .await?;
    }
    for sub in stores
        .subscriptions()
        .list_subscriptions_by_application(&app.uuid, Page::ALL)
        .await?
    {
        stores
            .subscriptions()
            .delete_subscription(&sub.uuid)
            .await?;
    }
    let deleted = stores.applications().delete_application(&app.uuid).await?;
    control.changed();
    if deleted {
        Ok(StatusCode::OK)
    } else {
        Err(ControlError::NotFound(format!("application {id}")))
    }
}

/// Filters of the subscription list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionQuery {
    /// Subscriptions of this application (required).
    pub application_id: Option<String>,
    /// Most items.
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
}

async fn create_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SubscriptionBody>,
) -> ControlResult<(StatusCode, Json<SubscriptionBody>)> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let mut errors = Vec::new();
    for (field, value) in [
        ("applicationId", &body.application_id),
        ("apiId", &body.api_id),
        ("throttlingPolicy", &body.throttling_policy),
    ] {
        if value.trim().is_empty() {
            errors.push(FieldError::new(field, "is required"));
        }
    }
    if !errors.is_empty() {
        return Err(ControlError::Invalid(errors));
    }
    let app = control
        .owned_application(&caller, &body.application_id)
        .await?;
    let api = match control.stores().apis().api(&body.api_id).await? {
        Some(api) if &api.tenant == control.tenant() && api.status != ApiStatus::Created => api,
        _ => return Err(ControlError::NotFound(format!("api {}", body.api_id))),
    };
    if !matches!(api.status, ApiStatus::Published | ApiStatus::Prototyped) {
        return Err(ControlError::BadState(format!(
            "an API in state {} accepts no new subscriptions",
            api.status
        )));
    }
    if !api.subscription_tiers.contains(&body.throttling_policy) {
        return Err(ControlError::invalid(
            "throttlingPolicy",
            format!("the API allows only {}", api.subscription_tiers.join(", ")),
        ));
    }
    let now = now_ms();
    let sub = Subscription {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant: control.tenant().clone(),
        application_uuid: app.uuid.clone(),
        api_uuid: api.uuid.clone(),
        tier: body.throttling_policy.clone(),
        status: SubscriptionStatus::Unblocked,
        create_state: SubscriptionCreateState::Subscribe,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let stored = control
        .stores()
        .subscriptions()
        .create_subscription(&sub)
        .await?;
    control.changed();
    Ok((
        StatusCode::CREATED,
        Json(SubscriptionBody::from_subscription(&stored)),
    ))
}

async fn list_subscriptions(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<SubscriptionQuery>,
) -> ControlResult<Json<ListBody<SubscriptionBody>>> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let Some(app_id) = query.application_id.filter(|a| !a.is_empty()) else {
        return Err(ControlError::invalid("applicationId", "is required"));
    };
    let app = control.owned_application(&caller, &app_id).await?;
    let page = Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .page();
    let subs = control
        .stores()
        .subscriptions()
        .list_subscriptions_by_application(&app.uuid, page)
        .await?;
    Ok(Json(ListBody::new(
        subs.iter()
            .map(SubscriptionBody::from_subscription)
            .collect(),
        page,
    )))
}

async fn get_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<SubscriptionBody>> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let sub = control.owned_subscription(&caller, &id).await?;
    Ok(Json(SubscriptionBody::from_subscription(&sub)))
}

async fn update_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SubscriptionBody>,
) -> ControlResult<Json<SubscriptionBody>> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let mut sub = control.owned_subscription(&caller, &id).await?;
    if body.throttling_policy.trim().is_empty() {
        return Err(ControlError::invalid("throttlingPolicy", "is required"));
    }
    let api = control
        .stores()
        .apis()
        .api(&sub.api_uuid)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("api {}", sub.api_uuid)))?;
    if api.status == ApiStatus::Retired {
        return Err(ControlError::BadState(
            "subscriptions to a retired API cannot change".into(),
        ));
    }
    if !api.subscription_tiers.contains(&body.throttling_policy) {
        return Err(ControlError::invalid(
            "throttlingPolicy",
            format!("the API allows only {}", api.subscription_tiers.join(", ")),
        ));
    }
    sub.tier = body.throttling_policy.clone();
    let stored = control
        .stores()
        .subscriptions()
        .update_subscription(&sub, now_ms())
        .await?;
    control.changed();
    Ok(Json(SubscriptionBody::from_subscription(&stored)))
}

async fn delete_subscription(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<StatusCode> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let sub = control.owned_subscription(&caller, &id).await?;
    if !control
        .stores()
        .subscriptions()
        .delete_subscription(&sub.uuid)
        .await?
    {
        return Err(ControlError::NotFound(format!("subscription {id}")));
    }
    control.changed();
    Ok(StatusCode::OK)
}

/// The Developer Portal's routes.
pub(crate) fn routes() -> Routes {
    vec![
        (
            "/api/am/devportal/v1/applications".to_owned(),
            get(list_applications).post(create_application),
        ),
        (
            "/api/am/devportal/v1/applications/{id}".to_owned(),
            get(get_application)
                .put(update_application)
                .delete(delete_application),
        ),
        (
            "/api/am/devportal/v1/subscriptions".to_owned(),
            get(list_subscriptions).post(create_subscription),
        ),
        (
            "/api/am/devportal/v1/subscriptions/{id}".to_owned(),
            get(get_subscription)
                .put(update_subscription)
                .delete(delete_subscription),
        ),
    ]
}
