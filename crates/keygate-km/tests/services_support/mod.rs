//! What the tests of the key manager's services share: key managers configured from
//! `deployment.toml` text, JSON requests with Basic or Bearer credentials, and an API
//! catalog (an API, an application with production and sandbox keys, a subscription and
//! its tier) for key validation.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::support::*;
use axum::body::Body;
use axum::http::{Request, header};
use keygate_km::KmSettings;
use keygate_model::*;
use serde_json::Value;
use std::path::Path;

/// Credentials a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// None.
    Anonymous,
    /// HTTP Basic with a user name and password (RFC 7617, not form-encoded).
    Basic(&'a str, &'a str),
    /// A bearer token.
    Bearer(&'a str),
}

/// The admin user of the test key manager, by Basic.
pub const ADMIN: Auth<'static> = Auth::Basic("bob", "bob-password");
/// A user without the admin role.
pub const SUBSCRIBER: Auth<'static> = Auth::Basic("alice", "alice-password");

/// Settings from `deployment.toml` text, at the test base URL, plain persistence.
pub fn settings_from(text: &str) -> KmSettings {
    let loaded = keygate_config::load_str(text, Path::new("deployment.toml")).unwrap();
    KmSettings::from_config(&loaded.config)
        .unwrap()
        .with_public_base_url(BASE)
}

/// A request with an optional JSON body.
pub fn json_request(
    method: &str,
    path: &str,
    body: Option<&Value>,
    auth: Auth<'_>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    builder = match auth {
        Auth::Anonymous => builder,
        Auth::Basic(user, password) => {
            use base64::Engine as _;
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            builder.header(header::AUTHORIZATION, format!("Basic {pair}"))
        }
        Auth::Bearer(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
    };
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

impl Km {
    /// Sends a JSON request through the router.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
    ) -> Reply {
        self.send(json_request(method, path, body, auth)).await
    }

    /// A client-credentials token's value for a client with `secret`.
    pub async fn app_token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        self.client_credentials(client_id, secret, scope)
            .await
            .ok()
            .field("access_token")
    }

    /// A password-grant token's value for `alice`.
    pub async fn alice_token(&self, client_id: &str, secret: &str, scope: &str) -> String {
        self.password(client_id, secret, "alice", "alice-password", scope)
            .await
            .ok()
            .field("access_token")
    }
}

/// The records key validation reads.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// `Pets 1.0.0` at `/pets`.
    pub api: Api,
    /// `Zoo 2.0` at `/{version}/zoo`, the default version of `/zoo`, not subscribed.
    pub unsubscribed_api: Api,
    /// `PetApp`, owned by bob.
    pub application: Application,
    /// Its subscription to `Pets`.
    pub subscription: Subscription,
}

/// The production client of the catalog's application (opaque tokens).
pub const PROD_CLIENT: &str = "prod-client";
/// Its secret.
pub const PROD_SECRET: &str = "prod-secret";
/// The sandbox client (JWT tokens).
pub const SANDBOX_CLIENT: &str = "sandbox-client";
/// Its secret.
pub const SANDBOX_SECRET: &str = "sandbox-secret";
/// A client mapped to no application.
pub const LONE_CLIENT: &str = "lone-client";
/// Its secret.
pub const LONE_SECRET: &str = "lone-secret";

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];

fn template(pattern: &str, verb: &str, auth: AuthScheme, scopes: &[&str]) -> UrlTemplate {
    UrlTemplate {
        url_pattern: pattern.into(),
        http_verb: verb.into(),
        auth_scheme: auth,
        throttling_tier: "Unlimited".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn api(name: &str, version: &str, context: &str, default: bool) -> Api {
    let now = START.as_millis() as i64;
    Api {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant: Tenant::default(),
        provider: "publisher1".into(),
        name: name.into(),
        version: version.into(),
        context: context.into(),
        is_default_version: default,
        description: None,
        production_endpoint: Some("http://127.0.0.1:9/prod".into()),
        sandbox_endpoint: Some("http://127.0.0.1:9/sandbox".into()),
        status: ApiStatus::Published,
        api_tier: Some("50KPerMin".into()),
        subscription_tiers: vec!["Gold".into()],
        url_templates: vec![
            template("/pets", "GET", AuthScheme::Any, &[]),
            template("/pets", "POST", AuthScheme::ApplicationUser, &["write"]),
            template("/stats", "GET", AuthScheme::Application, &[]),
        ],
        revision: 0,
        deployed_revision: None,
        created_at_ms: now,
        updated_at_ms: now,
    }
}

/// Stores the catalog: clients, the application with its key mappings, the APIs, the
/// subscription and the Gold tier (spike arrest 20 per second, stop on quota).
pub async fn seed_catalog(km: &Km) -> Catalog {
    let now = START.as_millis() as i64;
    km.secret_client(PROD_CLIENT, PROD_SECRET, GRANTS, TokenType::Oauth)
        .await;
    km.secret_client(SANDBOX_CLIENT, SANDBOX_SECRET, GRANTS, TokenType::Jwt)
        .await;
    km.secret_client(LONE_CLIENT, LONE_SECRET, GRANTS, TokenType::Oauth)
        .await;
    let stores = &km.stores;
    let application = stores
        .applications()
        .create_application(&Application {
            uuid: uuid::Uuid::new_v4().to_string(),
            id: 0,
            tenant: Tenant::default(),
            name: "PetApp".into(),
            owner: "bob".into(),
            tier: "10PerMin".into(),
            callback_url: None,
            description: None,
            status: ApplicationStatus::Approved,
            group_id: None,
            token_type: TokenType::Oauth,
            created_at_ms: now,
            updated_at_ms: now,
        })
        .await
        .unwrap();
    for (client, key_type) in [
        (PROD_CLIENT, KeyType::Production),
        (SANDBOX_CLIENT, KeyType::Sandbox),
    ] {
        stores
            .key_mappings()
            .create_key_mapping(&KeyMapping {
                uuid: uuid::Uuid::new_v4().to_string(),
                tenant: Tenant::default(),
                application_uuid: application.uuid.clone(),
                consumer_key: client.into(),
                key_type,
                state: KeyMappingState::Completed,
                key_manager: RESIDENT_KEY_MANAGER.into(),
                created_at_ms: now,
            })
            .await
            .unwrap();
    }
    let pets = stores
        .apis()
        .create_api(&api("Pets", "1.0.0", "/pets", false))
        .await
        .unwrap();
    let zoo = stores
        .apis()
        .create_api(&api("Zoo", "2.0", "/{version}/zoo", true))
        .await
        .unwrap();
    let subscription = stores
        .subscriptions()
        .create_subscription(&Subscription {
            uuid: uuid::Uuid::new_v4().to_string(),
            tenant: Tenant::default(),
            application_uuid: application.uuid.clone(),
            api_uuid: pets.uuid.clone(),
            tier: "Gold".into(),
            status: SubscriptionStatus::Unblocked,
            create_state: SubscriptionCreateState::Subscribe,
            created_at_ms: now,
            updated_at_ms: now,
        })
        .await
        .unwrap();
    stores
        .subscription_policies()
        .create_subscription_policy(&SubscriptionPolicy {
            uuid: uuid::Uuid::new_v4().to_string(),
            tenant: Tenant::default(),
            name: "Gold".into(),
            display_name: "Gold".into(),
            description: None,
            limit: QuotaLimit::requests(5000, 1, TimeUnit::Minute),
            spike_arrest: Some(SpikeArrest {
                limit: 20,
                time_unit: TimeUnit::Second,
            }),
            stop_on_quota_reach: true,
            billing_plan: BillingPlan::Free,
        })
        .await
        .unwrap();
    Catalog {
        api: pets,
        unsubscribed_api: zoo,
        application,
        subscription,
    }
}

/// A key validation question about `token` for `verb resource` of `/pets/1.0.0`.
pub fn question(token: &str, resource: &str, verb: &str, level: &str) -> Value {
    serde_json::json!({
        "context": "/pets/1.0.0",
        "version": "1.0.0",
        "token": token,
        "required_auth_level": level,
        "matching_resource": resource,
        "http_verb": verb,
        "client_ip": "192.0.2.10",
    })
}
