//! The key validation service's wire types (DESIGN §4): what a gateway asks the key
//! manager about an access token it cannot read itself ([`KeyValidationRequest`], sent to
//! `POST {service_url}key-validation/v1/validate`) and what the key manager answers
//! ([`KeyValidationInfo`]: WSO2's `APIKeyValidationInfoDTO` as JSON, snake case).
//!
//! A refusal is an answer, not an error: `authorized` is false and `validation_status`
//! carries the WSO2 code the gateway answers with ([`status`]). Every field of the answer
//! has a default, so either side may add fields without breaking the other.

use crate::catalog::{AuthScheme, KeyType};
use crate::secret::Secret;
use crate::wso2_enum::wso2_enum;
use serde::{Deserialize, Serialize};

/// Where the service lives relative to `[apim.key_manager] service_url` (which ends in
/// `/`), as WSO2 names it: `https://km:9444/services/` + this.
pub const KEY_VALIDATION_PATH: &str = "key-validation/v1/validate";

/// The URL of the key validation service under `service_url` (with or without its
/// trailing `/`).
pub fn key_validation_url(service_url: &str) -> String {
    format!(
        "{}/{KEY_VALIDATION_PATH}",
        service_url.trim_end_matches('/')
    )
}

/// The WSO2 codes of a refused validation (`APIConstants.KeyValidationStatus`), the
/// numbers gateways answer API callers with (DESIGN §7).
pub mod status {
    /// Unknown, malformed or revoked token (401).
    pub const INVALID_CREDENTIALS: u32 = 900_901;
    /// The token has expired (401).
    pub const ACCESS_TOKEN_EXPIRED: u32 = 900_903;
    /// The token is not active (401).
    pub const ACCESS_TOKEN_INACTIVE: u32 = 900_904;
    /// An application token where a user token is required, or the other way (401).
    pub const INCORRECT_ACCESS_TOKEN_TYPE: u32 = 900_905;
    /// The API, or the subscription to it, is blocked (401).
    pub const API_BLOCKED: u32 = 900_907;
    /// No subscription of the token's application to the API (403).
    pub const RESOURCE_FORBIDDEN: u32 = 900_908;
    /// The subscription waits for approval or was rejected (401).
    pub const SUBSCRIPTION_INACTIVE: u32 = 900_909;
    /// The token has none of the scopes the resource needs (403).
    pub const INVALID_SCOPE: u32 = 900_910;
}

wso2_enum! {
    /// Whom an access token speaks for (WSO2's `aut` and `userType`).
    pub enum UserType {
        /// The application itself (client credentials).
        Application => "APPLICATION",
        /// An end user of the application.
        ApplicationUser => "APPLICATION_USER",
    }
}

/// What a gateway asks about a token for one resource of one API (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValidationRequest {
    /// API context with its version, e.g. `/pets/1.0.0`.
    pub context: String,
    /// API version; `_default_1.0.0` when called through the default version.
    pub version: String,
    /// The access token. Printed as `***`.
    pub token: Secret,
    /// Who the resource admits: `Any`, `None`, `Application` or `Application_User`.
    pub required_auth_level: AuthScheme,
    /// The matched URL template, e.g. `/pets/{id}`.
    pub matching_resource: String,
    /// The HTTP verb, e.g. `GET`.
    pub http_verb: String,
    /// The API caller's address, when known.
    #[serde(default)]
    pub client_ip: Option<String>,
}

impl KeyValidationRequest {
    /// The version without WSO2's `_default_` prefix.
    pub fn api_version(&self) -> &str {
        self.version
            .strip_prefix(DEFAULT_VERSION_PREFIX)
            .unwrap_or(&self.version)
    }
}

/// Prefix WSO2 gateways put before the version of a call through the default version.
pub const DEFAULT_VERSION_PREFIX: &str = "_default_";

/// The key manager's answer (WSO2's `APIKeyValidationInfoDTO`): whether the call may go
/// on and, when it may, everything the gateway needs to throttle it, route it by key type
/// and tell the backend who called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValidationInfo {
    /// Whether the call may go on.
    pub authorized: bool,
    /// The WSO2 code of a refusal ([`status`]); 0 when authorized.
    pub validation_status: u32,
    /// PRODUCTION or SANDBOX: the key type of the token's client.
    pub key_type: Option<KeyType>,
    /// Whom the token speaks for.
    pub user_type: Option<UserType>,
    /// The end user, `name@tenant` (the application owner for an application token).
    pub end_user: Option<String>,
    /// The backend JWT, when the key manager makes it (keygate's gateways make their own).
    pub end_user_token: Option<String>,
    /// The OAuth client the token was issued to.
    pub consumer_key: Option<String>,
    /// Application numeric id.
    pub application_id: Option<String>,
    /// Application uuid.
    pub application_uuid: Option<String>,
    /// Application name.
    pub application_name: Option<String>,
    /// Application throttling tier.
    pub application_tier: Option<String>,
    /// The application's owner.
    pub subscriber: Option<String>,
    /// The tenant of the application's owner.
    pub subscriber_tenant_domain: Option<String>,
    /// Subscription throttling tier.
    pub subscription_tier: Option<String>,
    /// The API's name.
    pub api_name: Option<String>,
    /// The API's provider.
    pub api_publisher: Option<String>,
    /// The API-level advanced throttling policy, if any.
    pub api_tier: Option<String>,
    /// Scopes of the token.
    pub scopes: Vec<String>,
    /// When the token was issued, unix milliseconds.
    pub issued_time_ms: Option<i64>,
    /// Its validity, milliseconds.
    pub validity_period_ms: Option<i64>,
    /// Spike arrest limit of the subscription tier; 0 for none.
    pub spike_arrest_limit: i64,
    /// Unit of the spike arrest limit (`sec` or `min`), when there is one.
    pub spike_arrest_unit: Option<String>,
    /// Whether calls are refused once the subscription tier's quota is reached.
    pub stop_on_quota_reach: bool,
}

impl KeyValidationInfo {
    /// A refusal with `code`.
    pub fn refused(code: u32) -> Self {
        Self {
            authorized: false,
            validation_status: code,
            ..Self::default()
        }
    }

    /// When the token expires, unix milliseconds, if known.
    pub fn expires_at_ms(&self) -> Option<i64> {
        match (self.issued_time_ms, self.validity_period_ms) {
            (Some(issued), Some(validity)) if validity >= 0 => {
                Some(issued.saturating_add(validity))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_the_gateway_wire_form_and_hide_the_token() {
        let text = r#"{"context":"/pets/1.0.0","version":"_default_1.0.0","token":"abc",
            "required_auth_level":"Application_User","matching_resource":"/pets/{id}",
            "http_verb":"GET","client_ip":null}"#;
        let request: KeyValidationRequest = serde_json::from_str(text).unwrap();
        assert_eq!(request.required_auth_level, AuthScheme::ApplicationUser);
        assert_eq!(request.api_version(), "1.0.0");
        assert_eq!(request.token.expose(), "abc");
        assert!(!format!("{request:?}").contains("abc"));
        let without_ip = text.replace(r#","client_ip":null"#, "");
        assert_ne!(without_ip, text);
        let read: KeyValidationRequest = serde_json::from_str(&without_ip).unwrap();
        assert_eq!(read.client_ip, None);
        let bad_level = text.replace("Application_User", "Everyone");
        assert!(serde_json::from_str::<KeyValidationRequest>(&bad_level).is_err());
    }

    #[test]
    fn answers_default_every_missing_field() {
        let info: KeyValidationInfo =
            serde_json::from_str(r#"{"authorized":false,"validation_status":900908}"#).unwrap();
        assert_eq!(info, KeyValidationInfo::refused(status::RESOURCE_FORBIDDEN));
        let full = KeyValidationInfo {
            authorized: true,
            key_type: Some(KeyType::Sandbox),
            user_type: Some(UserType::ApplicationUser),
            issued_time_ms: Some(1_000),
            validity_period_ms: Some(3_600_000),
            ..KeyValidationInfo::default()
        };
        let json = serde_json::to_value(&full).unwrap();
        assert_eq!(json["key_type"], "SANDBOX");
        assert_eq!(json["user_type"], "APPLICATION_USER");
        assert_eq!(full.expires_at_ms(), Some(3_601_000));
        assert_eq!(
            serde_json::from_value::<KeyValidationInfo>(json).unwrap(),
            full
        );
    }

    #[test]
    fn the_service_url_is_wso2s() {
        for base in ["https://km:9444/services/", "https://km:9444/services"] {
            assert_eq!(
                key_validation_url(base),
                "https://km:9444/services/key-validation/v1/validate"
            );
        }
    }
}
