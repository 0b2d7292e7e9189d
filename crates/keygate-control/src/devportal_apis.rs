//! The Developer Portal's API catalogue (`/api/am/devportal/v1/apis`): what a subscriber
//! may subscribe to. Published and prototyped APIs are listed to everyone holding
//! `apim:subscribe` (or `apim:sub_manage`); a deprecated API only to callers whose
//! applications already subscribe to it (administrators see them all), as WSO2's portal
//! keeps it visible to them. APIs that are created, retired or blocked are never shown:
//! reading one by id is a 404, as for an unknown id.

use crate::auth::{Caller, Permission};
use crate::body::QueryParams;
use crate::errors::{ControlError, ControlResult};
use crate::publisher::{ListBody, Paging};
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use keygate_model::{Api, ApiStatus};
use keygate_store::Page;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// An API as the Developer Portal shows it (WSO2's devportal `API` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalApiBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Context path.
    pub context: String,
    /// Version.
    pub version: String,
    /// Who created it.
    pub provider: String,
    /// `PUBLISHED`, `PROTOTYPED` or `DEPRECATED`.
    pub life_cycle_status: ApiStatus,
    /// The subscription policies a subscription may name.
    pub throttling_policies: Vec<String>,
    /// Whether this version also answers at the bare context.
    pub is_default_version: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl PortalApiBody {
    fn from_api(api: &Api) -> Self {
        Self {
            id: api.uuid.clone(),
            name: api.name.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            provider: api.provider.clone(),
            life_cycle_status: api.status,
            throttling_policies: api.subscription_tiers.clone(),
            is_default_version: api.is_default_version,
            description: api.description.clone(),
        }
    }
}

/// Paging and the text filter of the catalogue.
#[derive(Debug, Clone, Deserialize)]
pub struct PortalApiQuery {
    /// Most items (default 25, at most 1000).
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
    /// Only APIs whose name or context contains this text (case-insensitive).
    pub query: Option<String>,
}

/// Which APIs a caller may see in the portal.
struct Visibility {
    /// Administrators see every deprecated API.
    all_deprecated: bool,
    /// APIs the caller's applications subscribe to.
    subscribed: HashSet<String>,
}

impl Visibility {
    fn shows(&self, api: &Api) -> bool {
        match api.status {
            ApiStatus::Published | ApiStatus::Prototyped => true,
            ApiStatus::Deprecated => self.all_deprecated || self.subscribed.contains(&api.uuid),
            _ => false,
        }
    }
}

async fn visibility(control: &ControlPlane, caller: &Caller) -> ControlResult<Visibility> {
    if caller.is_admin(&control.settings().admin_role) {
        return Ok(Visibility {
            all_deprecated: true,
            subscribed: HashSet::new(),
        });
    }
    let stores = control.stores();
    let mut subscribed = HashSet::new();
    for app in stores
        .applications()
        .list_applications_by_owner(control.tenant(), &caller.username, Page::ALL)
        .await?
    {
        for sub in stores
            .subscriptions()
            .list_subscriptions_by_application(&app.uuid, Page::ALL)
            .await?
        {
            subscribed.insert(sub.api_uuid);
        }
    }
    Ok(Visibility {
        all_deprecated: false,
        subscribed,
    })
}

fn matches_text(api: &Api, text: &str) -> bool {
    let text = text.to_lowercase();
    api.name.to_lowercase().contains(&text) || api.context.to_lowercase().contains(&text)
}

async fn list_portal_apis(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<PortalApiQuery>,
) -> ControlResult<Json<ListBody<PortalApiBody>>> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let page = Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .page();
    let visibility = visibility(&control, &caller).await?;
    let text = query.query.as_deref().map(str::trim).unwrap_or_default();
    let mut shown = Vec::new();
    for status in [
        ApiStatus::Published,
        ApiStatus::Prototyped,
        ApiStatus::Deprecated,
    ] {
        shown.extend(
            control
                .stores()
                .apis()
                .list_apis_by_status(control.tenant(), status, Page::ALL)
                .await?
                .into_iter()
                .filter(|api| visibility.shows(api) && matches_text(api, text)),
        );
    }
    shown.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let list = shown
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .map(PortalApiBody::from_api)
        .collect();
    Ok(Json(ListBody::new(list, page)))
}

async fn get_portal_api(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<PortalApiBody>> {
    let caller = control.caller(&headers, Permission::SubManage).await?;
    let not_found = || ControlError::NotFound(format!("api {id}"));
    let api = control
        .stores()
        .apis()
        .api(&id)
        .await?
        .filter(|api| &api.tenant == control.tenant())
        .ok_or_else(not_found)?;
    if !visibility(&control, &caller).await?.shows(&api) {
        return Err(not_found());
    }
    Ok(Json(PortalApiBody::from_api(&api)))
}

/// The catalogue's routes.
pub(crate) fn routes() -> Routes {
    vec![
        (
            "/api/am/devportal/v1/apis".to_owned(),
            get(list_portal_apis),
        ),
        (
            "/api/am/devportal/v1/apis/{id}".to_owned(),
            get(get_portal_api),
        ),
    ]
}
