//! The resources of the management APIs, as their JSON bodies have them (WSO2's
//! camelCase names). Fields a caller does not send are optional; members this client
//! does not model are kept in `other`, so nothing the server says is lost on a round trip.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A list answer: `{count, list, pagination}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub list: Vec<T>,
}

/// One backend endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its URL.
    pub url: String,
}

/// Where an API's calls go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// Production backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_endpoints: Option<Endpoint>,
    /// Sandbox backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_endpoints: Option<Endpoint>,
}

/// One resource of an API: a URL template and a verb.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// URL template (`/orders/{id}`, `/*`).
    pub target: String,
    /// HTTP verb.
    pub verb: String,
    /// `Any`, `None`, `Application`, `Application_User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// Scopes a token needs for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Resource-level throttling policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_policy: Option<String>,
}

/// An API to create (Publisher `POST /apis`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiDraft {
    /// Name.
    pub name: String,
    /// Context (`/orders`).
    pub context: String,
    /// Version (`1.0.0`).
    pub version: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Backends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<EndpointConfig>,
    /// Resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    /// Subscription policies applications may subscribe with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

/// What an OpenAPI import sets over the definition (the Publisher's
/// `additionalProperties`); whatever is left out comes from the definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiImportProperties {
    /// Name (default: `info.title`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Context (default: from the name, `/pet-store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Version (default: `info.version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Backends (default production: the first absolute server URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<EndpointConfig>,
    /// Subscription policies applications may subscribe with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

/// An API as the Publisher (or the Developer Portal) answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Context.
    pub context: String,
    /// Version.
    pub version: String,
    /// Lifecycle state (`CREATED`, `PUBLISHED`, …).
    #[serde(default)]
    pub life_cycle_status: String,
    /// Who created it.
    #[serde(default)]
    pub provider: Option<String>,
    /// Everything else the server said.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A lifecycle action of the Publisher's `change-lifecycle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleAction {
    /// CREATED → PUBLISHED.
    Publish,
    /// PUBLISHED → DEPRECATED.
    Deprecate,
    /// DEPRECATED → RETIRED.
    Retire,
    /// PUBLISHED → BLOCKED.
    Block,
    /// BLOCKED → PUBLISHED.
    RePublish,
    /// PUBLISHED → CREATED.
    DemoteToCreated,
}

impl LifecycleAction {
    /// The action's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "Publish",
            Self::Deprecate => "Deprecate",
            Self::Retire => "Retire",
            Self::Block => "Block",
            Self::RePublish => "Re-Publish",
            Self::DemoteToCreated => "Demote to Created",
        }
    }
}

/// An application to create (Developer Portal `POST /applications`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDraft {
    /// Name, unique per owner.
    pub name: String,
    /// Application throttling policy (`50PerMin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_policy: Option<String>,
    /// `JWT` or `OAUTH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An application as the Developer Portal answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Id.
    pub application_id: String,
    /// Name.
    pub name: String,
    /// Owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// Application throttling policy.
    #[serde(default)]
    pub throttling_policy: Option<String>,
    /// `JWT` or `OAUTH`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Approval state.
    #[serde(default)]
    pub status: Option<String>,
    /// Everything else the server said.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An application's keys for one key type. `consumer_secret` is present only in the
/// answer that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationKey {
    /// Id of the key mapping.
    pub key_mapping_id: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: String,
    /// The OAuth client id.
    pub consumer_key: String,
    /// The OAuth client secret, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    /// State of the keys.
    #[serde(default)]
    pub key_state: String,
    /// Grant types the client may use.
    #[serde(default)]
    pub supported_grant_types: Vec<String>,
    /// Everything else the server said.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An access token made for an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationToken {
    /// The token.
    pub access_token: String,
    /// Scopes granted.
    #[serde(default)]
    pub token_scopes: Vec<String>,
    /// Seconds it lives.
    #[serde(default)]
    pub validity_time: i64,
}

/// A subscription of an application to an API, as either portal answers it (the
/// Publisher names the state `subscriptionStatus`, the Developer Portal `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Id.
    pub subscription_id: String,
    /// The application.
    pub application_id: String,
    /// The API.
    pub api_id: String,
    /// Subscription policy (tier).
    pub throttling_policy: String,
    /// `UNBLOCKED`, `BLOCKED`, `PROD_ONLY_BLOCKED`, …
    #[serde(default, alias = "subscriptionStatus")]
    pub status: String,
}

/// A blocking (deny) condition of the Admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockCondition {
    /// Id (assigned on create).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition_id: String,
    /// `API`, `APPLICATION`, `IP`, `IPRANGE`, `USER`.
    pub condition_type: String,
    /// What is blocked: a string, or `{startingIp, endingIp, invert}` for a range.
    pub condition_value: Value,
    /// Whether it is in force.
    #[serde(default = "enabled")]
    pub condition_status: bool,
}

fn enabled() -> bool {
    true
}
