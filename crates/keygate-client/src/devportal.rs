//! The Developer Portal API (`/api/am/devportal/v1`): applications, their keys and
//! tokens, and their subscriptions.

use crate::connection::{Management, all_pages};
use crate::error::{ClientError, ClientResult};
use crate::model::{
    Api, Application, ApplicationDraft, ApplicationKey, ApplicationToken, Subscription,
};
use crate::publisher::pick_api;
use serde_json::json;

const PORTAL_APIS: &str = "/api/am/devportal/v1/apis";
const APPLICATIONS: &str = "/api/am/devportal/v1/applications";
const SUBSCRIPTIONS: &str = "/api/am/devportal/v1/subscriptions";

/// Which keys of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Production keys.
    Production,
    /// Sandbox keys.
    Sandbox,
}

impl KeyType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "PRODUCTION",
            Self::Sandbox => "SANDBOX",
        }
    }
}

impl Management {
    /// The APIs the caller may subscribe to, as the Developer Portal lists them; with
    /// `query`, only those whose name or context contains it.
    pub async fn portal_apis(&self, query: Option<&str>) -> ClientResult<Vec<Api>> {
        let query: Vec<(&str, String)> =
            query.map(|q| ("query", q.to_owned())).into_iter().collect();
        all_pages(self, PORTAL_APIS, &query).await
    }

    /// An API the caller may subscribe to, named by its id, its name, or `name:version`
    /// (a name alone must be unambiguous).
    pub async fn find_portal_api(&self, reference: &str) -> ClientResult<Api> {
        pick_api(self.portal_apis(None).await?, reference)
    }

    /// Creates an application.
    pub async fn create_application(&self, draft: &ApplicationDraft) -> ClientResult<Application> {
        self.post(APPLICATIONS, draft).await
    }

    /// The caller's applications (every application, for an administrator).
    pub async fn applications(&self) -> ClientResult<Vec<Application>> {
        all_pages(self, APPLICATIONS, &[]).await
    }

    /// An application named by its id or its name.
    pub async fn find_application(&self, reference: &str) -> ClientResult<Application> {
        let all = self.applications().await?;
        let mut matching: Vec<Application> =
            match all.iter().find(|a| a.application_id == reference) {
                Some(app) => vec![app.clone()],
                None => all.into_iter().filter(|a| a.name == reference).collect(),
            };
        match matching.len() {
            0 => Err(ClientError::NotFound(format!("application `{reference}`"))),
            1 => Ok(matching.remove(0)),
            _ => Err(ClientError::Setup(format!(
                "several applications are named `{reference}` (owners differ); use its id"
            ))),
        }
    }

    /// Deletes an application (and its keys at the key manager).
    pub async fn delete_application(&self, id: &str) -> ClientResult<()> {
        self.delete(&format!("{APPLICATIONS}/{id}")).await
    }

    /// Makes an application's keys of `key_type`: its OAuth client at the key manager.
    /// The answer carries the consumer secret; the server never shows it again.
    pub async fn generate_keys(
        &self,
        application_id: &str,
        key_type: KeyType,
        grant_types: &[String],
    ) -> ClientResult<ApplicationKey> {
        let mut body = json!({"keyType": key_type.as_str()});
        if !grant_types.is_empty() {
            body["grantTypesToBeSupported"] = json!(grant_types);
        }
        self.post(
            &format!("{APPLICATIONS}/{application_id}/generate-keys"),
            &body,
        )
        .await
    }

    /// An application's keys (without secrets).
    pub async fn application_keys(
        &self,
        application_id: &str,
    ) -> ClientResult<Vec<ApplicationKey>> {
        all_pages(self, &format!("{APPLICATIONS}/{application_id}/keys"), &[]).await
    }

    /// An access token for an application (client credentials at the key manager, on
    /// the application's behalf); needs the consumer secret.
    pub async fn application_token(
        &self,
        application_id: &str,
        key_type: KeyType,
        consumer_secret: &str,
        scopes: &[String],
    ) -> ClientResult<ApplicationToken> {
        let mut body = json!({"consumerSecret": consumer_secret});
        if !scopes.is_empty() {
            body["scopes"] = json!(scopes);
        }
        self.post(
            &format!(
                "{APPLICATIONS}/{application_id}/keys/{}/generate-token",
                key_type.as_str()
            ),
            &body,
        )
        .await
    }

    /// Subscribes an application to an API with a subscription policy.
    pub async fn subscribe(
        &self,
        application_id: &str,
        api_id: &str,
        tier: &str,
    ) -> ClientResult<Subscription> {
        self.post(
            SUBSCRIPTIONS,
            &json!({"applicationId": application_id, "apiId": api_id, "throttlingPolicy": tier}),
        )
        .await
    }

    /// The caller's subscriptions, or those of one application.
    pub async fn subscriptions(
        &self,
        application_id: Option<&str>,
    ) -> ClientResult<Vec<Subscription>> {
        let query: Vec<(&str, String)> = application_id
            .map(|id| ("applicationId", id.to_owned()))
            .into_iter()
            .collect();
        all_pages(self, SUBSCRIPTIONS, &query).await
    }

    /// Deletes a subscription.
    pub async fn unsubscribe(&self, id: &str) -> ClientResult<()> {
        self.delete(&format!("{SUBSCRIPTIONS}/{id}")).await
    }
}
