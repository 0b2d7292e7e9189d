//! What the Publisher and the Developer Portal manage: APIs with their resources (URL
//! templates), applications, subscriptions of applications to APIs, and the mapping of an
//! application's OAuth keys to it. Field and value names are WSO2's (`AM_API`,
//! `AM_API_URL_MAPPING`, `AM_APPLICATION`, `AM_SUBSCRIPTION`,
//! `AM_APPLICATION_KEY_MAPPING`).

use crate::identity::Tenant;
use crate::wso2_enum::wso2_enum;
use serde::{Deserialize, Serialize};

wso2_enum! {
    /// Lifecycle state of an API.
    pub enum ApiStatus {
        /// Created, not yet visible in the Developer Portal.
        Created => "CREATED",
        /// Prototyped: callable for trials without subscription.
        Prototyped => "PROTOTYPED",
        /// Published: subscribable and callable.
        Published => "PUBLISHED",
        /// Blocked: calls are refused (900907).
        Blocked => "BLOCKED",
        /// Deprecated: existing subscriptions work, new ones are refused.
        Deprecated => "DEPRECATED",
        /// Retired: gone from the gateways.
        Retired => "RETIRED",
    }
}

impl ApiStatus {
    /// Whether gateways route calls to an API in this state.
    pub fn is_invocable(self) -> bool {
        matches!(self, Self::Published | Self::Prototyped | Self::Deprecated)
    }
}

wso2_enum! {
    /// Who must be authenticated to call a resource (`AUTH_SCHEME`).
    pub enum AuthScheme {
        /// An application or application-user token.
        Any => "Any",
        /// No token at all.
        None => "None",
        /// An application token (client credentials).
        Application => "Application",
        /// A token issued to an end user.
        ApplicationUser => "Application_User",
    }
}

wso2_enum! {
    /// Kind of access tokens an application gets; JWT unless chosen otherwise.
    #[derive(Default)]
    pub enum TokenType {
        /// Self-contained signed JWTs, validated by gateways on their own.
        #[default]
        Jwt => "JWT",
        /// Opaque tokens, validated by the key manager.
        Oauth => "OAUTH",
    }
}

wso2_enum! {
    /// Approval state of an application.
    pub enum ApplicationStatus {
        /// Created, waiting for approval when a workflow is on.
        Created => "CREATED",
        /// Approved; keys may be generated.
        Approved => "APPROVED",
        /// Rejected by the approval workflow.
        Rejected => "REJECTED",
        /// Deletion waits for approval.
        DeletePending => "DELETE_PENDING",
    }
}

wso2_enum! {
    /// State of a subscription of an application to an API (`SUB_STATUS`).
    pub enum SubscriptionStatus {
        /// Active.
        Unblocked => "UNBLOCKED",
        /// Blocked for every key type (900907).
        Blocked => "BLOCKED",
        /// Blocked for production keys only (900907 with a production key).
        ProdOnlyBlocked => "PROD_ONLY_BLOCKED",
        /// Waiting for approval (900909).
        OnHold => "ON_HOLD",
        /// Rejected by the approval workflow (900909).
        Rejected => "REJECTED",
    }
}

wso2_enum! {
    /// Whether a subscription is being created or removed (`SUBS_CREATE_STATE`).
    pub enum SubscriptionCreateState {
        /// Subscribing.
        Subscribe => "SUBSCRIBE",
        /// Unsubscribing, waiting for a workflow.
        Unsubscribe => "UNSUBSCRIBE",
    }
}

wso2_enum! {
    /// Environment a pair of application keys is for.
    pub enum KeyType {
        /// Production keys, routed to production endpoints.
        Production => "PRODUCTION",
        /// Sandbox keys, routed to sandbox endpoints.
        Sandbox => "SANDBOX",
    }
}

wso2_enum! {
    /// State of an application key mapping.
    pub enum KeyMappingState {
        /// Key generation requested.
        Created => "CREATED",
        /// Key generation approved.
        Approved => "APPROVED",
        /// Keys generated and usable.
        Completed => "COMPLETED",
        /// Key generation rejected.
        Rejected => "REJECTED",
    }
}

/// One resource of an API: a URL pattern and verb with its security and throttling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlTemplate {
    /// URI template relative to the API context, e.g. `/pets/{id}` or `/*`.
    pub url_pattern: String,
    /// HTTP method, upper case, e.g. `GET`.
    pub http_verb: String,
    /// Who may call it.
    pub auth_scheme: AuthScheme,
    /// Resource-level throttling policy name, e.g. `Unlimited`.
    pub throttling_tier: String,
    /// Scopes a token needs to call it (any one of them), empty for none.
    pub scopes: Vec<String>,
}

/// An API as the Publisher defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Api {
    /// Unique id.
    pub uuid: String,
    /// Tenant the API belongs to.
    pub tenant: Tenant,
    /// User who created it.
    pub provider: String,
    /// Name; with version and provider unique within the tenant.
    pub name: String,
    /// Version, e.g. `1.0.0`.
    pub version: String,
    /// Context path, e.g. `/pets`; with version unique within the tenant.
    pub context: String,
    /// Whether this version also answers at the context without a version.
    pub is_default_version: bool,
    /// Free text.
    pub description: Option<String>,
    /// Production backend URL.
    pub production_endpoint: Option<String>,
    /// Sandbox backend URL.
    pub sandbox_endpoint: Option<String>,
    /// Lifecycle state.
    pub status: ApiStatus,
    /// API-level advanced throttling policy, if any.
    pub api_tier: Option<String>,
    /// Subscription policies applications may subscribe with, e.g. `Gold`, `Unlimited`.
    pub subscription_tiers: Vec<String>,
    /// Resources, in the order the Publisher lists them.
    pub url_templates: Vec<UrlTemplate>,
    /// Change counter: raised by one on every stored update, for optimistic concurrency and
    /// gateway replicas.
    pub revision: i64,
    /// Revision currently deployed to gateways, if any.
    pub deployed_revision: Option<i64>,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: i64,
}

impl Api {
    /// The resource matching `url_pattern` and `http_verb` exactly, if any.
    pub fn url_template(&self, url_pattern: &str, http_verb: &str) -> Option<&UrlTemplate> {
        self.url_templates
            .iter()
            .find(|t| t.url_pattern == url_pattern && t.http_verb.eq_ignore_ascii_case(http_verb))
    }
}

/// An application of the Developer Portal: the subscriber-side identity that holds keys
/// and subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Unique id.
    pub uuid: String,
    /// Numeric id, assigned by the store; used in throttle keys (`appId:user`) and JWTs.
    pub id: i64,
    /// Tenant the application belongs to.
    pub tenant: Tenant,
    /// Name; unique per owner within the tenant.
    pub name: String,
    /// Subscriber who owns it.
    pub owner: String,
    /// Application throttling policy name, e.g. `10PerMin`.
    pub tier: String,
    /// OAuth callback URL given at creation.
    pub callback_url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Approval state.
    pub status: ApplicationStatus,
    /// Group id for applications shared among a group of subscribers.
    pub group_id: Option<String>,
    /// Kind of tokens issued to it.
    pub token_type: TokenType,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: i64,
}

/// A subscription of an application to an API with a subscription policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Unique id.
    pub uuid: String,
    /// Tenant the subscription belongs to.
    pub tenant: Tenant,
    /// The subscribing application.
    pub application_uuid: String,
    /// The API subscribed to.
    pub api_uuid: String,
    /// Subscription policy name, e.g. `Gold`.
    pub tier: String,
    /// State.
    pub status: SubscriptionStatus,
    /// Whether it is being created or removed.
    pub create_state: SubscriptionCreateState,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: i64,
}

impl Subscription {
    /// Whether a call with a key of `key_type` passes this subscription's state.
    pub fn admits(&self, key_type: KeyType) -> bool {
        match self.status {
            SubscriptionStatus::Unblocked => true,
            SubscriptionStatus::ProdOnlyBlocked => key_type == KeyType::Sandbox,
            SubscriptionStatus::Blocked
            | SubscriptionStatus::OnHold
            | SubscriptionStatus::Rejected => false,
        }
    }
}

/// The name WSO2 gives the key manager built into the product.
pub const RESIDENT_KEY_MANAGER: &str = "Resident Key Manager";

/// The link between an application and one of its OAuth clients (its consumer key) for one
/// key type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMapping {
    /// Unique id.
    pub uuid: String,
    /// Tenant the mapping belongs to.
    pub tenant: Tenant,
    /// The application.
    pub application_uuid: String,
    /// OAuth client id; unique.
    pub consumer_key: String,
    /// Production or sandbox; one mapping per application, key type and key manager.
    pub key_type: KeyType,
    /// State of key generation.
    pub state: KeyMappingState,
    /// Key manager that issued the client, e.g. [`RESIDENT_KEY_MANAGER`].
    pub key_manager: String,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_wso2_strings() {
        assert_eq!(ApiStatus::Published.as_str(), "PUBLISHED");
        assert_eq!(AuthScheme::ApplicationUser.as_str(), "Application_User");
        assert_eq!("None".parse::<AuthScheme>(), Ok(AuthScheme::None));
        assert_eq!(TokenType::Oauth.as_str(), "OAUTH");
        assert_eq!(TokenType::default(), TokenType::Jwt);
        assert_eq!(
            serde_json::to_string(&SubscriptionStatus::ProdOnlyBlocked).unwrap(),
            "\"PROD_ONLY_BLOCKED\""
        );
        assert_eq!("SANDBOX".parse::<KeyType>(), Ok(KeyType::Sandbox));
        assert!("sandbox".parse::<KeyType>().is_err());
    }

    #[test]
    fn invocable_states() {
        let invocable: Vec<_> = ApiStatus::ALL.iter().filter(|s| s.is_invocable()).collect();
        assert_eq!(
            invocable,
            [
                &ApiStatus::Prototyped,
                &ApiStatus::Published,
                &ApiStatus::Deprecated
            ]
        );
    }

    #[test]
    fn subscription_state_decides_by_key_type() {
        let mut sub = Subscription {
            uuid: "s".into(),
            tenant: Tenant::default(),
            application_uuid: "a".into(),
            api_uuid: "p".into(),
            tier: "Gold".into(),
            status: SubscriptionStatus::Unblocked,
            create_state: SubscriptionCreateState::Subscribe,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        assert!(sub.admits(KeyType::Production) && sub.admits(KeyType::Sandbox));
        sub.status = SubscriptionStatus::ProdOnlyBlocked;
        assert!(!sub.admits(KeyType::Production) && sub.admits(KeyType::Sandbox));
        for status in [
            SubscriptionStatus::Blocked,
            SubscriptionStatus::OnHold,
            SubscriptionStatus::Rejected,
        ] {
            sub.status = status;
            assert!(!sub.admits(KeyType::Production) && !sub.admits(KeyType::Sandbox));
        }
    }

    #[test]
    fn url_template_lookup_ignores_verb_case() {
        let api = Api {
            uuid: "u".into(),
            tenant: Tenant::default(),
            provider: "admin".into(),
            name: "Pets".into(),
            version: "1.0.0".into(),
            context: "/pets".into(),
            is_default_version: false,
            description: None,
            production_endpoint: Some("http://127.0.0.1:8080".into()),
            sandbox_endpoint: None,
            status: ApiStatus::Published,
            api_tier: None,
            subscription_tiers: vec!["Gold".into()],
            url_templates: vec![UrlTemplate {
                url_pattern: "/pets/{id}".into(),
                http_verb: "GET".into(),
                auth_scheme: AuthScheme::Any,
                throttling_tier: "Unlimited".into(),
                scopes: vec![],
            }],
            revision: 1,
            deployed_revision: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        assert!(api.url_template("/pets/{id}", "get").is_some());
        assert!(api.url_template("/pets/{id}", "POST").is_none());
        let json = serde_json::to_value(&api).unwrap();
        assert_eq!(json["status"], "PUBLISHED");
        assert_eq!(json["url_templates"][0]["auth_scheme"], "Any");
    }
}
