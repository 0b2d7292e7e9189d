//! The Publisher API (`/api/am/publisher/v1`): APIs, their lifecycle, and the
//! subscriptions to them as their publisher sees and blocks them.

use crate::connection::{Management, all_pages};
use crate::error::{ClientError, ClientResult};
use crate::model::{Api, ApiDraft, ApiImportProperties, LifecycleAction, Subscription};
use serde_json::{Value, json};

const APIS: &str = "/api/am/publisher/v1/apis";
const SUBSCRIPTIONS: &str = "/api/am/publisher/v1/subscriptions";

impl Management {
    /// Creates an API (`POST /apis`).
    pub async fn create_api(&self, draft: &ApiDraft) -> ClientResult<Api> {
        self.post(APIS, draft).await
    }

    /// Creates an API from an OpenAPI 3 or Swagger 2 definition, given as its JSON text
    /// (`POST /apis/import-openapi`); the server reads the resources and scopes from it.
    pub async fn import_openapi(
        &self,
        definition: &str,
        properties: &ApiImportProperties,
    ) -> ClientResult<Api> {
        let body = json!({"definition": definition, "additionalProperties": properties});
        self.post(&format!("{APIS}/import-openapi"), &body).await
    }

    /// Every API, or those in one lifecycle state (`PUBLISHED`).
    pub async fn apis(&self, status: Option<&str>) -> ClientResult<Vec<Api>> {
        let query: Vec<(&str, String)> = status
            .map(|s| ("status", s.to_owned()))
            .into_iter()
            .collect();
        all_pages(self, APIS, &query).await
    }

    /// One API by id.
    pub async fn api(&self, id: &str) -> ClientResult<Api> {
        self.get(&format!("{APIS}/{id}"), &[]).await
    }

    /// An API named by its id, its name, or `name:version`. A name alone must be
    /// unambiguous.
    pub async fn find_api(&self, reference: &str) -> ClientResult<Api> {
        pick_api(self.apis(None).await?, reference)
    }

    /// Runs a lifecycle action on an API; answers the server's lifecycle state.
    pub async fn change_lifecycle(&self, id: &str, action: LifecycleAction) -> ClientResult<Value> {
        self.post_query(
            &format!("{APIS}/change-lifecycle"),
            &[
                ("apiId", id.to_owned()),
                ("action", action.as_str().to_owned()),
            ],
        )
        .await
    }

    /// Deletes an API.
    pub async fn delete_api(&self, id: &str) -> ClientResult<()> {
        self.delete(&format!("{APIS}/{id}")).await
    }

    /// The subscriptions to an API, or to every API the caller publishes.
    pub async fn api_subscriptions(&self, api_id: Option<&str>) -> ClientResult<Vec<Subscription>> {
        let query: Vec<(&str, String)> = api_id
            .map(|id| ("apiId", id.to_owned()))
            .into_iter()
            .collect();
        all_pages(self, SUBSCRIPTIONS, &query).await
    }

    /// Blocks a subscription: `BLOCKED`, or `PROD_ONLY_BLOCKED` (sandbox keys still work).
    pub async fn block_subscription(&self, id: &str, state: &str) -> ClientResult<()> {
        self.post_query::<Value>(
            &format!("{SUBSCRIPTIONS}/block-subscription"),
            &[
                ("subscriptionId", id.to_owned()),
                ("blockState", state.to_owned()),
            ],
        )
        .await
        .map(drop)
    }

    /// Unblocks a subscription.
    pub async fn unblock_subscription(&self, id: &str) -> ClientResult<()> {
        self.post_query::<Value>(
            &format!("{SUBSCRIPTIONS}/unblock-subscription"),
            &[("subscriptionId", id.to_owned())],
        )
        .await
        .map(drop)
    }
}

/// The API of `all` named by `reference`: its id, its name, or `name:version`. A name
/// alone must be unambiguous.
pub(crate) fn pick_api(all: Vec<Api>, reference: &str) -> ClientResult<Api> {
    if let Some(api) = all.iter().find(|a| a.id == reference) {
        return Ok(api.clone());
    }
    let (name, version) = match reference.rsplit_once(':') {
        Some((name, version)) => (name, Some(version)),
        None => (reference, None),
    };
    let mut matching: Vec<Api> = all
        .into_iter()
        .filter(|a| a.name == name && version.is_none_or(|v| a.version == v))
        .collect();
    match matching.len() {
        0 => Err(ClientError::NotFound(format!("api `{reference}`"))),
        1 => Ok(matching.remove(0)),
        _ => Err(ClientError::Setup(format!(
            "api `{reference}` has several versions ({}); name one as NAME:VERSION",
            matching
                .iter()
                .map(|a| a.version.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
