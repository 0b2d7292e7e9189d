//! The Publisher's core (`/api/am/publisher/v1`): APIs with their resources — create,
//! read, list, replace, delete — and the lifecycle (`POST /apis/change-lifecycle`). Bodies
//! use the Publisher REST API's names (`endpointConfig`, `operations[].target`,
//! `policies`, `apiThrottlingPolicy`, `lifeCycleStatus`). Context with version is unique
//! (409); every bad field is reported at once (400); an API with subscriptions cannot be
//! deleted (409), as in WSO2.

use crate::auth::Permission;
use crate::body::{JsonBody, QueryParams};
use crate::errors::{ControlError, ControlResult, FieldError};
use crate::lifecycle::{LifecycleAction, Transition, available_transitions};
use crate::relay::now_ms;
use crate::tiers::{TierKind, check_tiers};
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use keygate_model::{Api, ApiStatus, AuthScheme, UrlTemplate};
use keygate_store::Page;
use serde::{Deserialize, Serialize};

/// HTTP verbs a resource may have.
const VERBS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
/// Characters WSO2 refuses in API names.
const NAME_SPECIALS: &str = "~!@#;:%^*()+={}|\\<>\"',&$[]/";
/// The subscription policy an API gets when none is named.
const DEFAULT_TIER: &str = "Unlimited";

/// A backend endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointUrl {
    /// Backend URL.
    pub url: String,
}

/// Production and sandbox backends (`endpointConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// Where production keys go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_endpoints: Option<EndpointUrl>,
    /// Where sandbox keys go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_endpoints: Option<EndpointUrl>,
}

/// One resource (`operations[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// URL template, e.g. `/pets/{id}`.
    pub target: String,
    /// HTTP verb.
    pub verb: String,
    /// `Any` (or `Application & Application User`), `None`, `Application`,
    /// `Application User` (or `Application_User`).
    #[serde(default = "default_auth_type")]
    pub auth_type: String,
    /// Resource throttling policy.
    #[serde(default = "default_policy")]
    pub throttling_policy: String,
    /// Scopes, any one of which a token needs.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_auth_type() -> String {
    "Any".into()
}

fn default_policy() -> String {
    DEFAULT_TIER.into()
}

/// An API as the Publisher REST API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Context, e.g. `/pets`.
    #[serde(default)]
    pub context: String,
    /// Version, e.g. `1.0.0`.
    #[serde(default)]
    pub version: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creator; set from the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Lifecycle state; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub life_cycle_status: Option<ApiStatus>,
    /// Whether this version also answers without a version in the path.
    #[serde(default)]
    pub is_default_version: bool,
    /// Backends.
    #[serde(default)]
    pub endpoint_config: EndpointConfig,
    /// Subscription policies applications may subscribe with.
    #[serde(default)]
    pub policies: Vec<String>,
    /// API-level advanced throttling policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_throttling_policy: Option<String>,
    /// Resources.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// Creation time, unix milliseconds; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    /// Last change, unix milliseconds; read only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<i64>,
}

fn auth_scheme(text: &str) -> Option<AuthScheme> {
    match text.trim() {
        "Any" | "Application & Application User" => Some(AuthScheme::Any),
        "None" => Some(AuthScheme::None),
        "Application" => Some(AuthScheme::Application),
        "Application User" | "Application_User" => Some(AuthScheme::ApplicationUser),
        _ => None,
    }
}

fn check_name(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
}

fn check_url(errors: &mut Vec<FieldError>, field: &str, endpoint: Option<&EndpointUrl>) {
    if let Some(endpoint) = endpoint {
        let url = endpoint.url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(' ') {
            errors.push(FieldError::new(field, "must be an http or https URL"));
        }
    }
}

/// Checks a body; answers every bad field.
pub fn validate(body: &ApiBody) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_name(&mut errors, "name", &body.name, 255);
    if body.name.chars().any(|c| NAME_SPECIALS.contains(c)) {
        errors.push(FieldError::new("name", "contains special characters"));
    }
    check_name(&mut errors, "version", &body.version, 64);
    if body.version.chars().any(|c| c.is_whitespace() || c == '/') {
        errors.push(FieldError::new("version", "contains whitespace or '/'"));
    }
    check_name(&mut errors, "context", &body.context, 200);
    if !body.context.is_empty()
        && (!body.context.starts_with('/')
            || body.context.len() < 2
            || body
                .context
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '%')))
    {
        errors.push(FieldError::new(
            "context",
            "must start with '/' and contain no whitespace, '?', '#' or '%'",
        ));
    }
    check_url(
        &mut errors,
        "endpointConfig.production_endpoints.url",
        body.endpoint_config.production_endpoints.as_ref(),
    );
    check_url(
        &mut errors,
        "endpointConfig.sandbox_endpoints.url",
        body.endpoint_config.sandbox_endpoints.as_ref(),
    );
    for (i, policy) in body.policies.iter().enumerate() {
        if policy.trim().is_empty() || policy.contains(char::is_whitespace) {
            errors.push(FieldError::new(
                format!("policies[{i}]"),
                "is not a policy name",
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, op) in body.operations.iter().enumerate() {
        if !op.target.starts_with('/') || op.target.contains(char::is_whitespace) {
            errors.push(FieldError::new(
                format!("operations[{i}].target"),
                "must start with '/' and contain no whitespace",
            ));
        }
        let verb = op.verb.to_ascii_uppercase();
        if !VERBS.contains(&verb.as_str()) {
            errors.push(FieldError::new(
                format!("operations[{i}].verb"),
                format!("must be one of {}", VERBS.join(", ")),
            ));
        }
        if auth_scheme(&op.auth_type).is_none() {
            errors.push(FieldError::new(
                format!("operations[{i}].authType"),
                "must be Any, None, Application or Application User",
            ));
        }
        if op
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            errors.push(FieldError::new(
                format!("operations[{i}].scopes"),
                "scopes are single words",
            ));
        }
        if !seen.insert((op.target.clone(), verb)) {
            errors.push(FieldError::new(
                format!("operations[{i}]"),
                "repeats the target and verb of an earlier operation",
            ));
        }
    }
    errors
}

impl ApiBody {
    /// The body of a stored API.
    pub fn from_api(api: &Api) -> Self {
        Self {
            id: Some(api.uuid.clone()),
            name: api.name.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            description: api.description.clone(),
            provider: Some(api.provider.clone()),
            life_cycle_status: Some(api.status),
            is_default_version: api.is_default_version,
            endpoint_config: EndpointConfig {
                production_endpoints: api
                    .production_endpoint
                    .clone()
                    .map(|url| EndpointUrl { url }),
                sandbox_endpoints: api.sandbox_endpoint.clone().map(|url| EndpointUrl { url }),
            },
            policies: api.subscription_tiers.clone(),
            api_throttling_policy: api.api_tier.clone(),
            operations: api
                .url_templates
                .iter()
                .map(|t| Operation {
                    target: t.url_pattern.clone(),
                    verb: t.http_verb.clone(),
                    auth_type: t.auth_scheme.as_str().to_owned(),
                    throttling_policy: t.throttling_tier.clone(),
                    scopes: t.scopes.clone(),
                })
                .collect(),
            created_time: Some(api.created_at_ms),
            last_updated_time: Some(api.updated_at_ms),
        }
    }

    /// Writes the body's fields into `api` (a validated body).
    fn apply_to(&self, api: &mut Api) {
        api.description = self.description.clone();
        api.is_default_version = self.is_default_version;
        api.production_endpoint = self
            .endpoint_config
            .production_endpoints
            .as_ref()
            .map(|e| e.url.trim().to_owned());
        api.sandbox_endpoint = self
            .endpoint_config
            .sandbox_endpoints
            .as_ref()
            .map(|e| e.url.trim().to_owned());
        api.subscription_tiers = if self.policies.is_empty() {
            vec![DEFAULT_TIER.to_owned()]
        } else {
            self.policies.clone()
        };
        api.api_tier = self.api_throttling_policy.clone().filter(|t| !t.is_empty());
        api.url_templates = self
            .operations
            .iter()
            .map(|op| UrlTemplate {
                url_pattern: op.target.clone(),
                http_verb: op.verb.to_ascii_uppercase(),
                auth_scheme: auth_scheme(&op.auth_type).unwrap_or(AuthScheme::Any),
                throttling_tier: op.throttling_policy.clone(),
                scopes: op.scopes.clone(),
            })
            .collect();
    }
}

/// Filters of the API list.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiListQuery {
    /// Most items (default 25, at most 1000).
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
    /// Only APIs in this lifecycle state.
    pub status: Option<String>,
}

/// `limit` and `offset` of a list.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Paging {
    /// Most items (default 25, at most 1000).
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
}

impl Paging {
    /// The store page.
    pub fn page(self) -> Page {
        Page::new(
            self.limit.unwrap_or(25).clamp(1, 1000),
            self.offset.unwrap_or(0),
        )
    }
}

/// A page of a list.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListBody<T> {
    /// Items in this page.
    pub count: usize,
    /// The items.
    pub list: Vec<T>,
    /// The window.
    pub pagination: PaginationBody,
}

/// The window of a list page.
#[derive(Debug, Serialize, Deserialize)]
pub struct PaginationBody {
    /// Items skipped.
    pub offset: u32,
    /// Most items.
    pub limit: u32,
}

impl<T> ListBody<T> {
    /// A page of `list` at `page`.
    pub fn new(list: Vec<T>, page: Page) -> Self {
        Self {
            count: list.len(),
            list,
            pagination: PaginationBody {
                offset: page.offset,
                limit: page.limit,
            },
        }
    }
}

/// Adds a bad field for every policy the body names that does not exist.
async fn check_body_tiers(
    control: &ControlPlane,
    body: &ApiBody,
    errors: &mut Vec<FieldError>,
) -> ControlResult<()> {
    let stores = control.stores();
    let tenant = control.tenant();
    let subscription: Vec<(String, String)> = body
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("policies[{i}]"), p.clone()))
        .collect();
    check_tiers(
        stores,
        tenant,
        TierKind::Subscription,
        &subscription,
        errors,
    )
    .await?;
    let mut advanced: Vec<(String, String)> = body
        .operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            (
                format!("operations[{i}].throttlingPolicy"),
                op.throttling_policy.clone(),
            )
        })
        .collect();
    if let Some(policy) = body
        .api_throttling_policy
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        advanced.push(("apiThrottlingPolicy".into(), policy.clone()));
    }
    check_tiers(stores, tenant, TierKind::Api, &advanced, errors).await?;
    Ok(())
}

async fn load_api(control: &ControlPlane, id: &str) -> ControlResult<Api> {
    match control.stores().apis().api(id).await? {
        Some(api) if &api.tenant == control.tenant() => Ok(api),
        _ => Err(ControlError::NotFound(format!("api {id}"))),
    }
}

async fn create_api(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ApiBody>,
) -> ControlResult<(StatusCode, Json<ApiBody>)> {
    let caller = control.caller(&headers, Permission::ApiCreate).await?;
    insert_api(&control, &caller.username, body).await
}

/// Validates and stores a new API of `provider`: 201 with it, 400 naming every bad
/// field, 409 when its context and version are taken.
pub(crate) async fn insert_api(
    control: &ControlPlane,
    provider: &str,
    body: ApiBody,
) -> ControlResult<(StatusCode, Json<ApiBody>)> {
    let mut errors = validate(&body);
    check_body_tiers(control, &body, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ControlError::Invalid(errors));
    }
    let tenant = control.tenant().clone();
    if control
        .stores()
        .apis()
        .api_by_context(&tenant, &body.context, &body.version)
        .await?
        .is_some()
    {
        return Err(ControlError::Conflict(format!(
            "an API with context {} and version {} exists",
            body.context, body.version
        )));
    }
    let now = now_ms();
    let mut api = Api {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant,
        provider: provider.to_owned(),
        name: body.name.trim().to_owned(),
        version: body.version.clone(),
        context: body.context.clone(),
        is_default_version: false,
        description: None,
        production_endpoint: None,
        sandbox_endpoint: None,
        status: ApiStatus::Created,
        api_tier: None,
        subscription_tiers: Vec::new(),
        url_templates: Vec::new(),
        revision: 1,
        deployed_revision: None,
        created_at_ms: now,
        updated_at_ms: now,
    };
    body.apply_to(&mut api);
    let stored = control.stores().apis().create_api(&api).await?;
    control.changed();
    Ok((StatusCode::CREATED, Json(ApiBody::from_api(&stored))))
}

async fn list_apis(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<ApiListQuery>,
) -> ControlResult<Json<ListBody<ApiBody>>> {
    control.caller(&headers, Permission::ApiView).await?;
    let page = Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .page();
    let apis = control.stores().apis();
    let apis = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(status) => {
            let status: ApiStatus = status
                .parse()
                .map_err(|_| ControlError::invalid("status", "is no lifecycle state"))?;
            apis.list_apis_by_status(control.tenant(), status, page)
                .await?
        }
        None => apis.list_apis(control.tenant(), page).await?,
    };
    Ok(Json(ListBody::new(
        apis.iter().map(ApiBody::from_api).collect(),
        page,
    )))
}

async fn get_api(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<ApiBody>> {
    control.caller(&headers, Permission::ApiView).await?;
    Ok(Json(ApiBody::from_api(&load_api(&control, &id).await?)))
}

async fn update_api(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApiBody>,
) -> ControlResult<Json<ApiBody>> {
    control.caller(&headers, Permission::ApiCreate).await?;
    let mut api = load_api(&control, &id).await?;
    let mut errors = validate(&body);
    for (field, given, stored) in [
        ("name", &body.name, &api.name),
        ("context", &body.context, &api.context),
        ("version", &body.version, &api.version),
    ] {
        if given.trim() != stored.as_str() {
            errors.push(FieldError::new(field, "cannot be changed"));
        }
    }
    check_body_tiers(&control, &body, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ControlError::Invalid(errors));
    }
    body.apply_to(&mut api);
    let stored = control.stores().apis().update_api(&api, now_ms()).await?;
    control.changed();
    Ok(Json(ApiBody::from_api(&stored)))
}

async fn delete_api(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<StatusCode> {
    control.caller(&headers, Permission::ApiCreate).await?;
    let api = load_api(&control, &id).await?;
    let subscribed = control
        .stores()
        .subscriptions()
        .list_subscriptions_by_api(&api.uuid, Page::first(1))
        .await?;
    if !subscribed.is_empty() {
        return Err(ControlError::Conflict(
            "the API cannot be deleted while subscriptions to it exist".into(),
        ));
    }
    if !control.stores().apis().delete_api(&api.uuid).await? {
        return Err(ControlError::NotFound(format!("api {id}")));
    }
    control.changed();
    Ok(StatusCode::OK)
}

/// Parameters of `change-lifecycle`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleQuery {
    /// The API.
    pub api_id: Option<String>,
    /// The action, e.g. `Publish`.
    pub action: Option<String>,
}

/// The state an API is in after a lifecycle change.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleStateBody {
    /// The state.
    pub state: ApiStatus,
    /// What may happen next.
    #[serde(default, skip_deserializing)]
    pub available_transitions: Vec<Transition>,
}

/// The answer of `change-lifecycle`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleResponse {
    /// `APPROVED`: no approval workflow runs.
    pub workflow_status: String,
    /// The new state.
    pub lifecycle_state: LifecycleStateBody,
}

async fn change_lifecycle(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<LifecycleQuery>,
) -> ControlResult<Json<LifecycleResponse>> {
    control.caller(&headers, Permission::ApiPublish).await?;
    let mut errors = Vec::new();
    let api_id = query.api_id.unwrap_or_default();
    if api_id.is_empty() {
        errors.push(FieldError::new("apiId", "is required"));
    }
    let action = query.action.as_deref().and_then(LifecycleAction::parse);
    if action.is_none() {
        errors.push(FieldError::new(
            "action",
            "must be Publish, Deploy as a Prototype, Demote to Created, Block, Re-Publish, \
             Deprecate or Retire",
        ));
    }
    let Some(action) = action.filter(|_| errors.is_empty()) else {
        return Err(ControlError::Invalid(errors));
    };
    let api = load_api(&control, &api_id).await?;
    let Some(target) = action.target(api.status) else {
        return Err(ControlError::BadState(format!(
            "action {} is not allowed for an API in state {}",
            action.as_str(),
            api.status
        )));
    };
    if target == ApiStatus::Published
        && api.production_endpoint.is_none()
        && api.sandbox_endpoint.is_none()
    {
        return Err(ControlError::invalid(
            "endpointConfig",
            "an API needs a production or sandbox endpoint to be published",
        ));
    }
    if !control
        .stores()
        .apis()
        .set_api_status(&api.uuid, target, now_ms())
        .await?
    {
        return Err(ControlError::NotFound(format!("api {api_id}")));
    }
    control.changed();
    Ok(Json(LifecycleResponse {
        workflow_status: "APPROVED".into(),
        lifecycle_state: LifecycleStateBody {
            state: target,
            available_transitions: available_transitions(target),
        },
    }))
}

/// The Publisher's routes.
pub(crate) fn routes() -> Routes {
    vec![
        (
            "/api/am/publisher/v1/apis".to_owned(),
            get(list_apis).post(create_api),
        ),
        (
            crate::api_import::IMPORT_OPENAPI_PATH.to_owned(),
            post(crate::api_import::import_openapi),
        ),
        (
            "/api/am/publisher/v1/apis/change-lifecycle".to_owned(),
            post(change_lifecycle),
        ),
        (
            "/api/am/publisher/v1/apis/{id}".to_owned(),
            get(get_api).put(update_api).delete(delete_api),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ApiBody {
        serde_json::from_value(serde_json::json!({
            "name": "Pets", "context": "/pets", "version": "1.0.0",
            "endpointConfig": {"production_endpoints": {"url": "http://127.0.0.1:9000"}},
            "operations": [{"target": "/pets/{id}", "verb": "get", "authType": "Application User"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_good_body_passes() {
        assert_eq!(validate(&body()), vec![]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = body();
        bad.name = "Pe/ts".into();
        bad.context = "pets".into();
        bad.version = String::new();
        bad.operations[0].verb = "FETCH".into();
        bad.operations.push(bad.operations[0].clone());
        bad.endpoint_config.sandbox_endpoints = Some(EndpointUrl {
            url: "ftp://x".into(),
        });
        let fields: Vec<String> = validate(&bad).into_iter().map(|e| e.field).collect();
        for expected in [
            "name",
            "version",
            "context",
            "endpointConfig.sandbox_endpoints.url",
            "operations[0].verb",
            "operations[1]",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} in {fields:?}"
            );
        }
    }

    #[test]
    fn auth_types_accept_rest_and_model_names() {
        assert_eq!(
            auth_scheme("Application & Application User"),
            Some(AuthScheme::Any)
        );
        assert_eq!(
            auth_scheme("Application_User"),
            Some(AuthScheme::ApplicationUser)
        );
        assert_eq!(auth_scheme("Everyone"), None);
    }
}
