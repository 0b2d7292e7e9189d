//! The services over HTTPS on a real node configured as the seed's key manager (super
//! admin `admin`/`admin`, `default_access_allow = true`, the key-manager token cache on):
//! the control plane creates an `OAUTH` client, a gateway validates its opaque token at
//! `{service_url}key-validation/v1/validate`, the token is revoked, and the throttle data
//! and registration endpoints answer on the same listener.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keygate_model::validation::{KeyValidationInfo, key_validation_url, status};
use keygate_model::*;
use keygate_testkit::TestNode;
use serde_json::{Value, json};
use std::path::Path;

const SEED_KEY_MANAGER: &str = r#"
[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[resource_access_control]
default_access_allow = true

[apim.cache.km_token]
enable = true
expiry_time = "900s"
"#;

async fn seed_node() -> (TestNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = keygate_config::load_str(SEED_KEY_MANAGER, Path::new("deployment.toml"))
        .unwrap()
        .config;
    config.set_data_dir(dir.path().join("data"));
    (TestNode::start_with(config).await.unwrap(), dir)
}

/// The application, API and subscription the control plane would have stored.
async fn catalog(node: &TestNode, consumer_key: &str) {
    let stores = node.node.stores();
    let application = stores
        .applications()
        .create_application(&Application {
            uuid: "app-1".into(),
            id: 0,
            tenant: Tenant::default(),
            name: "DefaultApplication".into(),
            owner: "admin".into(),
            tier: "Unlimited".into(),
            callback_url: None,
            description: None,
            status: ApplicationStatus::Approved,
            group_id: None,
            token_type: TokenType::Oauth,
            created_at_ms: 1,
            updated_at_ms: 1,
        })
        .await
        .unwrap();
    stores
        .key_mappings()
        .create_key_mapping(&KeyMapping {
            uuid: "map-1".into(),
            tenant: Tenant::default(),
            application_uuid: application.uuid.clone(),
            consumer_key: consumer_key.into(),
            key_type: KeyType::Production,
            state: KeyMappingState::Completed,
            key_manager: RESIDENT_KEY_MANAGER.into(),
            created_at_ms: 1,
        })
        .await
        .unwrap();
    let api = stores
        .apis()
        .create_api(&Api {
            uuid: "api-1".into(),
            tenant: Tenant::default(),
            provider: "admin".into(),
            name: "PizzaShack".into(),
            version: "1.0.0".into(),
            context: "/pizzashack".into(),
            is_default_version: true,
            description: None,
            production_endpoint: Some("http://127.0.0.1:9/".into()),
            sandbox_endpoint: None,
            status: ApiStatus::Published,
            api_tier: None,
            subscription_tiers: vec!["Unlimited".into()],
            url_templates: vec![UrlTemplate {
                url_pattern: "/menu".into(),
                http_verb: "GET".into(),
                auth_scheme: AuthScheme::Any,
                throttling_tier: "Unlimited".into(),
                scopes: vec![],
            }],
            revision: 0,
            deployed_revision: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        })
        .await
        .unwrap();
    stores
        .subscriptions()
        .create_subscription(&Subscription {
            uuid: "sub-1".into(),
            tenant: Tenant::default(),
            application_uuid: application.uuid,
            api_uuid: api.uuid,
            tier: "Unlimited".into(),
            status: SubscriptionStatus::Unblocked,
            create_state: SubscriptionCreateState::Subscribe,
            created_at_ms: 1,
            updated_at_ms: 1,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn seed_key_manager_serves_operations_validation_and_throttle_data() {
    let (node, _dir) = seed_node().await;
    let http = &node.client;

    // The control plane generates keys.
    let created: Value = http
        .post(
            node.management("/keymanager-operations/dcr/register")
                .unwrap(),
        )
        .basic_auth("admin", Some("admin"))
        .json(&json!({
            "client_name": "admin_DefaultApplication_PRODUCTION",
            "grant_types": ["client_credentials", "password", "refresh_token"],
            "ext_param_owner": "admin",
            "token_type_extension": "OAUTH",
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    catalog(&node, &client_id).await;

    let token: Value = http
        .post(node.management("/oauth2/token").unwrap())
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().unwrap().to_owned();

    // A gateway asks at {service_url}key-validation/v1/validate.
    let service_url = node.management("/services/").unwrap();
    let validate = || async {
        let info: KeyValidationInfo = http
            .post(key_validation_url(&service_url))
            .basic_auth("admin", Some("admin"))
            .json(&json!({
                "context": "/pizzashack/1.0.0",
                "version": "_default_1.0.0",
                "token": access_token,
                "required_auth_level": "Any",
                "matching_resource": "/menu",
                "http_verb": "GET",
                "client_ip": null,
            }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        info
    };
    let info = validate().await;
    assert!(info.authorized, "{info:?}");
    assert_eq!(info.application_name.as_deref(), Some("DefaultApplication"));
    assert_eq!(info.key_type, Some(KeyType::Production));
    assert!(validate().await.authorized, "again, from the cache");

    let revoked = http
        .post(node.management("/oauth2/revoke").unwrap())
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let info = validate().await;
    assert!(!info.authorized);
    assert_eq!(info.validation_status, status::INVALID_CREDENTIALS);

    for path in ["/throttle/data/v1/keyTemplates", "/throttle/data/v1/block"] {
        let anonymous = http
            .get(node.management(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        let answered = http
            .get(node.management(path).unwrap())
            .basic_auth("admin", Some("admin"))
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200, "{path}");
    }

    // Dynamic registration as the super admin, on the same listener.
    let registered = http
        .post(node.management("/client-registration/v1/register").unwrap())
        .basic_auth("admin", Some("admin"))
        .json(&json!({"grant_types": ["client_credentials"], "client_name": "cli"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    node.stop().await;
}
