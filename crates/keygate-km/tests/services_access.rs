//! Throttle data in WSO2's shapes, and resource access control with rules written as in
//! `deployment.toml`: a rule that denies a context, `default_access_allow` both ways,
//! scopes and bearer tokens, and the public endpoints that no rule governs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod services_support;
mod support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use keygate_model::{BlockCondition, BlockConditionType, GlobalPolicy, Tenant, TokenType};
use serde_json::json;
use services_support::*;
use support::*;
use tower::ServiceExt;

const KEY_TEMPLATES: &str = "/throttle/data/v1/keyTemplates";
const BLOCK: &str = "/throttle/data/v1/block";

fn global(name: &str, template: &str, deployed: bool) -> GlobalPolicy {
    GlobalPolicy {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant: Tenant::default(),
        name: name.into(),
        description: None,
        key_template: template.into(),
        siddhi_query: "FROM RequestStream SELECT 1".into(),
        is_deployed: deployed,
    }
}

fn condition(kind: BlockConditionType, value: &str, enabled: bool) -> BlockCondition {
    BlockCondition {
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant: Tenant::default(),
        condition_type: kind,
        value: value.into(),
        enabled,
    }
}

#[tokio::test]
async fn key_templates_are_the_deployed_global_policies() {
    let km = Km::start().await;
    let empty = km.call("GET", KEY_TEMPLATES, None, ADMIN).await.ok();
    assert_eq!(empty.json, json!([]));
    let policies = km.stores.global_policies();
    policies
        .create_global_policy(&global("perUser", "$userId", true))
        .await
        .unwrap();
    policies
        .create_global_policy(&global("perApi", "$apiContext:$apiVersion", true))
        .await
        .unwrap();
    policies
        .create_global_policy(&global("draft", "$clientIp", false))
        .await
        .unwrap();
    let reply = km.call("GET", KEY_TEMPLATES, None, ADMIN).await.ok();
    let mut templates: Vec<String> = serde_json::from_value(reply.json).unwrap();
    templates.sort();
    assert_eq!(templates, ["$apiContext:$apiVersion", "$userId"]);
}

#[tokio::test]
async fn block_conditions_take_wso2s_shape() {
    let km = Km::start().await;
    let empty = km.call("GET", BLOCK, None, ADMIN).await.ok();
    assert_eq!(
        empty.json,
        json!({"api": [], "application": [], "ip": [], "user": [], "custom": []})
    );
    let conditions = km.stores.block_conditions();
    for c in [
        condition(BlockConditionType::Api, "/pets/1.0.0", true),
        condition(BlockConditionType::Application, "bob:PetApp", true),
        condition(BlockConditionType::User, "mallory", true),
        condition(BlockConditionType::User, "forgiven", false),
        condition(
            BlockConditionType::Ip,
            r#"{"fixedIp":"192.0.2.1","invert":false}"#,
            true,
        ),
        condition(
            BlockConditionType::IpRange,
            r#"{"startingIp":"198.51.100.0","endingIp":"198.51.100.255","invert":true}"#,
            true,
        ),
    ] {
        conditions.create_block_condition(&c).await.unwrap();
    }
    let reply = km.call("GET", BLOCK, None, ADMIN).await.ok();
    assert_eq!(reply.json["api"], json!(["/pets/1.0.0"]));
    assert_eq!(reply.json["application"], json!(["bob:PetApp"]));
    assert_eq!(reply.json["user"], json!(["mallory"]));
    let ips = reply.json["ip"].as_array().unwrap();
    assert_eq!(ips.len(), 2);
    let fixed = ips.iter().find(|i| i["type"] == "IP").unwrap();
    assert_eq!(
        fixed,
        &json!({"type": "IP", "fixedIp": "192.0.2.1", "invert": false, "tenantDomain": "carbon.super"})
    );
    let range = ips.iter().find(|i| i["type"] == "IPRANGE").unwrap();
    assert_eq!(range["startingIp"], "198.51.100.0");
    assert_eq!(range["endingIp"], "198.51.100.255");
    assert_eq!(range["invert"], true);
}

#[tokio::test]
async fn throttle_data_needs_the_key_manager_user() {
    let km = Km::start().await;
    for path in [KEY_TEMPLATES, BLOCK] {
        assert_eq!(
            km.call("GET", path, None, Auth::Anonymous).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            km.call("GET", path, None, SUBSCRIBER).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

const DENY_BLOCK_LIST: &str = r#"
[resource_access_control]
default_access_allow = true

[[resource.access_control]]
context = "(.*)/throttle/data/v1/block"
secure = true
http_method = "GET"
permissions = ["/permission/admin/manage/throttling"]

[[resource.access_control]]
context = "/keymanager-operations/user-info/(.*)"
secure = true
http_method = "POST"
scopes = ["admin:all"]
"#;

#[tokio::test]
async fn a_configured_rule_denies_a_context() {
    let mut settings = settings_from(DENY_BLOCK_LIST);
    // alice is the configured key-manager user, but holds no permission.
    settings.services.service_user = "alice".into();
    let km = Km::start_with(settings).await;
    let denied = km.call("GET", BLOCK, None, SUBSCRIBER).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(denied.error(), "access_denied");
    // The administrator holds every permission; other contexts are not the rule's.
    km.call("GET", BLOCK, None, ADMIN).await.ok();
    km.call("GET", KEY_TEMPLATES, None, SUBSCRIBER).await.ok();

    // A rule with scopes: alice's roles are not granted admin:all, bob's are.
    let claims = json!({"username": "alice"});
    let path = "/keymanager-operations/user-info/claims";
    let denied = km.call("POST", path, Some(&claims), SUBSCRIBER).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    km.call("POST", path, Some(&claims), ADMIN).await.ok();
    // A bearer token is judged by its own scopes.
    km.secret_client(
        "ops",
        "ops-secret",
        &["client_credentials"],
        TokenType::Oauth,
    )
    .await;
    let read_only = km.app_token("ops", "ops-secret", Some("read")).await;
    let denied = km
        .call("POST", path, Some(&claims), Auth::Bearer(&read_only))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.error(), "insufficient_scope");
    let admin_token = km.app_token("ops", "ops-secret", Some("admin:all")).await;
    let passed_the_rule = km
        .call("POST", path, Some(&claims), Auth::Bearer(&admin_token))
        .await;
    // The rule lets the token through; the operation itself wants Basic credentials.
    assert_eq!(passed_the_rule.status, StatusCode::UNAUTHORIZED);
    assert_eq!(passed_the_rule.error(), "invalid_client");
}

#[tokio::test]
async fn an_open_rule_leaves_authentication_to_the_resource() {
    let km = Km::start_with(settings_from(
        r#"
[[resource.access_control]]
context = "/throttle/data/(.*)"
secure = false
"#,
    ))
    .await;
    let anonymous = km.call("GET", KEY_TEMPLATES, None, Auth::Anonymous).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "the resource still asks"
    );
    km.call("GET", KEY_TEMPLATES, None, ADMIN).await.ok();
}

/// A route the built-in rules do not cover, behind the middleware.
fn custom_router(km: &Km) -> Router {
    Router::new()
        .route("/custom/resource", get(|| async { "reached" }))
        .route_layer(axum::middleware::from_fn_with_state(
            km.km.clone(),
            keygate_km::access_control::guard,
        ))
        .with_state(km.km.clone())
}

async fn custom_status(km: &Km, auth: Auth<'_>) -> StatusCode {
    custom_router(km)
        .oneshot(json_request("GET", "/custom/resource", None, auth))
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn default_access_allow_decides_what_no_rule_matches() {
    let open = Km::start_with(settings_from(
        "[resource_access_control]\ndefault_access_allow = true\n",
    ))
    .await;
    assert_eq!(custom_status(&open, Auth::Anonymous).await, StatusCode::OK);

    let closed = Km::start_with(settings_from(
        "[resource_access_control]\ndefault_access_allow = false\n",
    ))
    .await;
    assert_eq!(
        custom_status(&closed, Auth::Anonymous).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(custom_status(&closed, ADMIN).await, StatusCode::FORBIDDEN);

    let secured = Km::start_with(settings_from(
        r#"
[resource_access_control]
default_access_allow = false

[[resource.access_control]]
context = "/custom/(.*)"
secure = true
http_method = "GET"
"#,
    ))
    .await;
    assert_eq!(
        custom_status(&secured, Auth::Anonymous).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        custom_status(&secured, Auth::Basic("alice", "wrong")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(custom_status(&secured, SUBSCRIBER).await, StatusCode::OK);
}

#[tokio::test]
async fn public_endpoints_are_not_subject_to_access_control() {
    let km = Km::start_with(settings_from(
        r#"
[resource_access_control]
default_access_allow = false

[[resource.access_control]]
context = "/oauth2/(.*)"
secure = true
permissions = ["/permission/admin/nothing"]

[[resource.access_control]]
context = "/.well-known/(.*)"
secure = true
"#,
    ))
    .await;
    km.secret_client("app", "app-secret", &["client_credentials"], TokenType::Jwt)
        .await;
    let token = km.app_token("app", "app-secret", None).await;
    assert_eq!(km.introspect_as_admin(&token).await["active"], true);
    km.get("/oauth2/jwks", None).await.ok();
    km.get("/.well-known/openid-configuration", None).await.ok();
}

#[tokio::test]
async fn verified_passwords_are_remembered_by_keyed_hash() {
    let km = Km::start().await;
    km.call("GET", KEY_TEMPLATES, None, ADMIN).await.ok();
    km.stores
        .users()
        .set_password("bob", &keygate_model::Secret::new("new-password"), 1)
        .await
        .unwrap();
    // The new password works at once; the old one, verified a moment ago, until the
    // cache entry expires (`CREDENTIAL_CACHE_TTL`).
    km.call(
        "GET",
        KEY_TEMPLATES,
        None,
        Auth::Basic("bob", "new-password"),
    )
    .await
    .ok();
    km.call("GET", KEY_TEMPLATES, None, ADMIN).await.ok();
    // A remembered password never lets another one in.
    let wrong = km
        .call(
            "GET",
            KEY_TEMPLATES,
            None,
            Auth::Basic("bob", "bob-passworc"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}
