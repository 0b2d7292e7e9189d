//! Application keys in the Developer Portal (`/api/am/devportal/v1/applications/{id}/…`):
//! generating PRODUCTION or SANDBOX keys makes an OAuth client at the key manager
//! (`/keymanager-operations/dcr/register`) and stores the key mapping that ties its
//! consumer key to the application — the secret is shown in that answer only; the secret
//! can be regenerated (revoking the client's tokens); keys can be revoked (the client is
//! deleted, then the mapping); and `generate-token` gets an application token with the
//! client credentials grant. Only the application's owner (or an administrator) may, with
//! `apim:app_manage` or `apim:subscribe`. A mapping never exists without its client: when
//! the mapping cannot be stored the new client is deleted again.

use crate::auth::Permission;
use crate::body::JsonBody;
use crate::errors::{ControlError, ControlResult, FieldError};
use crate::key_manager::ClientRequest;
use crate::relay::now_ms;
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use keygate_model::{
    Application, KeyMapping, KeyMappingState, KeyType, RESIDENT_KEY_MANAGER, Secret,
};
use serde::{Deserialize, Serialize};

/// Grant types a key may support.
pub const GRANT_TYPES: [&str; 6] = [
    "authorization_code",
    "implicit",
    "password",
    "client_credentials",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];

/// Grant types of keys generated without naming any, as WSO2's Developer Portal offers.
pub const DEFAULT_GRANT_TYPES: [&str; 3] = ["client_credentials", "password", "refresh_token"];

const APPLICATIONS: &str = "/api/am/devportal/v1/applications";

/// The body of `generate-keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyGenerationBody {
    /// `PRODUCTION` or `SANDBOX`.
    #[serde(default)]
    pub key_type: String,
    /// Grant types the client may use.
    #[serde(default)]
    pub grant_types_to_be_supported: Vec<String>,
    /// Redirect URI, needed by `authorization_code` and `implicit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// An application's keys of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationKeyBody {
    /// The key mapping's id.
    pub key_mapping_id: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: KeyType,
    /// The OAuth client id.
    pub consumer_key: String,
    /// The OAuth client secret: only in the answer that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    /// Grant types, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_grant_types: Vec<String>,
    /// Redirect URI, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// `COMPLETED` once usable.
    pub key_state: KeyMappingState,
    /// The key manager that holds the client.
    pub key_manager: String,
}

impl ApplicationKeyBody {
    fn from_mapping(mapping: &KeyMapping) -> Self {
        Self {
            key_mapping_id: mapping.uuid.clone(),
            key_type: mapping.key_type,
            consumer_key: mapping.consumer_key.clone(),
            consumer_secret: None,
            supported_grant_types: Vec::new(),
            callback_url: None,
            key_state: mapping.state,
            key_manager: mapping.key_manager.clone(),
        }
    }
}

/// The body of `generate-token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequestBody {
    /// The consumer secret (never stored by the control plane).
    #[serde(default)]
    pub consumer_secret: String,
    /// Seconds the token should live; the key manager's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<i64>,
    /// Scopes asked for.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An application access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationTokenBody {
    /// The access token.
    pub access_token: String,
    /// Scopes granted.
    pub token_scopes: Vec<String>,
    /// Seconds it lives.
    pub validity_time: i64,
}

/// The body of `regenerate-secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretBody {
    /// The OAuth client id.
    pub consumer_key: String,
    /// The new secret.
    pub consumer_secret: String,
}

fn key_type(text: &str) -> ControlResult<KeyType> {
    text.parse::<KeyType>()
        .map_err(|_| ControlError::invalid("keyType", "must be PRODUCTION or SANDBOX"))
}

/// Checks a key-generation body; its key type, grant types and callback.
fn check_generation(body: &KeyGenerationBody) -> ControlResult<(KeyType, Vec<String>, String)> {
    let mut errors = Vec::new();
    let key_type = body.key_type.parse::<KeyType>().ok();
    if key_type.is_none() {
        errors.push(FieldError::new("keyType", "must be PRODUCTION or SANDBOX"));
    }
    let grants: Vec<String> = if body.grant_types_to_be_supported.is_empty() {
        DEFAULT_GRANT_TYPES
            .iter()
            .map(|g| (*g).to_owned())
            .collect()
    } else {
        body.grant_types_to_be_supported.clone()
    };
    for (i, grant) in grants.iter().enumerate() {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            errors.push(FieldError::new(
                format!("grantTypesToBeSupported[{i}]"),
                format!("must be one of {}", GRANT_TYPES.join(", ")),
            ));
        }
    }
    let callback = body.callback_url.clone().unwrap_or_default();
    let redirecting = grants
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    let web_url = callback.starts_with("https://") || callback.starts_with("http://");
    if !callback.is_empty() && !web_url {
        errors.push(FieldError::new(
            "callbackUrl",
            "must be an http or https URL",
        ));
    } else if callback.is_empty() && redirecting {
        errors.push(FieldError::new(
            "callbackUrl",
            "is required by authorization_code and implicit",
        ));
    }
    match key_type {
        Some(key_type) if errors.is_empty() => Ok((key_type, grants, callback)),
        _ => Err(ControlError::Invalid(errors)),
    }
}

impl ControlPlane {
    /// The mapping of `app`'s keys of `key_type`; 404 when none.
    async fn key_mapping(&self, app: &Application, key_type: KeyType) -> ControlResult<KeyMapping> {
        self.stores()
            .key_mappings()
            .key_mappings_for_application(&app.uuid)
            .await?
            .into_iter()
            .find(|m| m.key_type == key_type)
            .ok_or_else(|| {
                ControlError::NotFound(format!("{key_type} keys of application {}", app.uuid))
            })
    }

    /// The caller's application `id` for key operations.
    async fn keyed_application(&self, headers: &HeaderMap, id: &str) -> ControlResult<Application> {
        let caller = self.caller(headers, Permission::AppManage).await?;
        self.owned_application(&caller, id).await
    }

    /// Deletes the OAuth clients of `app`'s keys at the key manager (before the rows go).
    pub(crate) async fn delete_key_clients(&self, app: &Application) -> ControlResult<()> {
        let mappings = self
            .stores()
            .key_mappings()
            .key_mappings_for_application(&app.uuid)
            .await?;
        if mappings.is_empty() {
            return Ok(());
        }
        let key_manager = self.key_manager()?;
        for mapping in &mappings {
            key_manager.delete_client(&mapping.consumer_key).await?;
        }
        Ok(())
    }
}

async fn generate_keys(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<KeyGenerationBody>,
) -> ControlResult<(StatusCode, Json<ApplicationKeyBody>)> {
    let app = control.keyed_application(&headers, &id).await?;
    let (key_type, grants, callback) = check_generation(&body)?;
    if control.key_mapping(&app, key_type).await.is_ok() {
        return Err(ControlError::Conflict(format!(
            "the application has {key_type} keys; regenerate the secret or revoke them first"
        )));
    }
    let key_manager = control.key_manager()?;
    let client = key_manager
        .create_client(&ClientRequest {
            client_name: format!("{}_{}_{}", app.owner, app.name, key_type),
            grant_types: grants,
            callback_url: callback,
            owner: app.owner.clone(),
            token_type: app.token_type,
        })
        .await?;
    let mapping = KeyMapping {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant: control.tenant().clone(),
        application_uuid: app.uuid.clone(),
        consumer_key: client.client_id.clone(),
        key_type,
        state: KeyMappingState::Completed,
        key_manager: RESIDENT_KEY_MANAGER.to_owned(),
        created_at_ms: now_ms(),
    };
    let stored = match control
        .stores()
        .key_mappings()
        .create_key_mapping(&mapping)
        .await
    {
        Ok(stored) => stored,
        Err(e) => {
            // No client without its mapping either: take the new one back.
            if let Err(undo) = key_manager.delete_client(&client.client_id).await {
                tracing::error!(error = %undo, client_id = %client.client_id,
                    "an OAuth client whose key mapping failed could not be deleted");
            }
            return Err(e.into());
        }
    };
    control.changed();
    let mut answer = ApplicationKeyBody::from_mapping(&stored);
    answer.consumer_secret = client.client_secret.map(|s| s.expose().to_owned());
    answer.supported_grant_types = client.grant_types;
    answer.callback_url = client.callback_url;
    Ok((StatusCode::OK, Json(answer)))
}

async fn list_keys(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<crate::publisher::ListBody<ApplicationKeyBody>>> {
    let app = control.keyed_application(&headers, &id).await?;
    let mappings = control
        .stores()
        .key_mappings()
        .key_mappings_for_application(&app.uuid)
        .await?;
    let list: Vec<_> = mappings
        .iter()
        .map(ApplicationKeyBody::from_mapping)
        .collect();
    let page = keygate_store::Page::new(u32::try_from(list.len()).unwrap_or(u32::MAX).max(1), 0);
    Ok(Json(crate::publisher::ListBody::new(list, page)))
}

async fn get_keys(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
) -> ControlResult<Json<ApplicationKeyBody>> {
    let app = control.keyed_application(&headers, &id).await?;
    let mapping = control.key_mapping(&app, key_type(&kind)?).await?;
    Ok(Json(ApplicationKeyBody::from_mapping(&mapping)))
}

async fn revoke_keys(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
) -> ControlResult<StatusCode> {
    let app = control.keyed_application(&headers, &id).await?;
    let mapping = control.key_mapping(&app, key_type(&kind)?).await?;
    // The client first: a retry after a failed row delete finds the client gone and
    // finishes; the other order could leave a usable client without its mapping.
    control
        .key_manager()?
        .delete_client(&mapping.consumer_key)
        .await?;
    control
        .stores()
        .key_mappings()
        .delete_key_mapping(&mapping.uuid)
        .await?;
    control.changed();
    Ok(StatusCode::OK)
}

async fn regenerate_secret(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
) -> ControlResult<Json<SecretBody>> {
    let app = control.keyed_application(&headers, &id).await?;
    let mapping = control.key_mapping(&app, key_type(&kind)?).await?;
    let client = control
        .key_manager()?
        .regenerate_secret(&mapping.consumer_key)
        .await?;
    let secret = client
        .client_secret
        .ok_or_else(|| ControlError::KeyManager("the key manager returned no secret".into()))?;
    Ok(Json(SecretBody {
        consumer_key: client.client_id,
        consumer_secret: secret.expose().to_owned(),
    }))
}

async fn generate_token(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
    JsonBody(body): JsonBody<TokenRequestBody>,
) -> ControlResult<Json<ApplicationTokenBody>> {
    let app = control.keyed_application(&headers, &id).await?;
    let mut errors = Vec::new();
    if body.consumer_secret.is_empty() {
        errors.push(FieldError::new("consumerSecret", "is required"));
    }
    if body.validity_period.is_some_and(|v| v <= 0) {
        errors.push(FieldError::new("validityPeriod", "must be greater than 0"));
    }
    for (i, scope) in body.scopes.iter().enumerate() {
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            errors.push(FieldError::new(format!("scopes[{i}]"), "is not a scope"));
        }
    }
    if !errors.is_empty() {
        return Err(ControlError::Invalid(errors));
    }
    let mapping = control.key_mapping(&app, key_type(&kind)?).await?;
    let token = control
        .key_manager()?
        .client_credentials_token(
            &mapping.consumer_key,
            &Secret::from(body.consumer_secret),
            &body.scopes,
            body.validity_period,
        )
        .await?;
    Ok(Json(ApplicationTokenBody {
        access_token: token.access_token,
        token_scopes: crate::scopes::split_scopes(token.scope.as_deref().unwrap_or_default()),
        validity_time: token.expires_in.unwrap_or_default(),
    }))
}

/// The key routes.
pub(crate) fn routes() -> Routes {
    vec![
        (
            format!("{APPLICATIONS}/{{applicationId}}/generate-keys"),
            post(generate_keys),
        ),
        (
            format!("{APPLICATIONS}/{{applicationId}}/keys"),
            get(list_keys),
        ),
        (
            format!("{APPLICATIONS}/{{applicationId}}/keys/{{keyType}}"),
            get(get_keys).delete(revoke_keys),
        ),
        (
            format!("{APPLICATIONS}/{{applicationId}}/keys/{{keyType}}/regenerate-secret"),
            post(regenerate_secret),
        ),
        (
            format!("{APPLICATIONS}/{{applicationId}}/keys/{{keyType}}/generate-token"),
            post(generate_token),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: KeyGenerationBody) -> Vec<String> {
        match check_generation(&body).unwrap_err() {
            ControlError::Invalid(fields) => fields.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn key_generation_bodies_are_checked() {
        let (key_type, grants, callback) = check_generation(&KeyGenerationBody {
            key_type: "SANDBOX".into(),
            ..KeyGenerationBody::default()
        })
        .unwrap();
        assert_eq!(key_type, KeyType::Sandbox);
        assert_eq!(grants, DEFAULT_GRANT_TYPES);
        assert_eq!(callback, "");
        assert_eq!(
            fields(KeyGenerationBody {
                key_type: "STAGING".into(),
                grant_types_to_be_supported: vec!["client_credentials".into(), "magic".into()],
                callback_url: Some("ftp://x".into()),
            }),
            ["keyType", "grantTypesToBeSupported[1]", "callbackUrl"]
        );
        assert_eq!(
            fields(KeyGenerationBody {
                key_type: "PRODUCTION".into(),
                grant_types_to_be_supported: vec!["authorization_code".into()],
                callback_url: None,
            }),
            ["callbackUrl"]
        );
    }
}
