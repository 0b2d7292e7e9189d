//! A node with every role and nothing configured: the control plane makes application keys
//! at the node's own key manager (over its self-signed TLS, on the port actually bound) and
//! accepts that key manager's bearer tokens on the management APIs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use keygate_testkit::TestNode;
use serde_json::{Value, json};

const APPS: &str = "/api/am/devportal/v1/applications";

#[tokio::test]
async fn a_default_node_makes_keys_and_accepts_its_bearer_tokens() {
    let node = TestNode::start().await.unwrap();
    let admin = node.node.admin.clone().unwrap();
    let password = admin.generated_password.unwrap().expose().to_owned();
    let basic = |method: reqwest::Method, path: &str| {
        node.client
            .request(method, node.management(path).unwrap())
            .basic_auth(&admin.username, Some(&password))
    };

    let response = basic(reqwest::Method::POST, APPS)
        .json(&json!({"name": "Pets", "tokenType": "JWT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let app: Value = response.json().await.unwrap();
    let app = app["applicationId"].as_str().unwrap().to_owned();

    let response = basic(
        reqwest::Method::POST,
        &format!("{APPS}/{app}/generate-keys"),
    )
    .json(&json!({"keyType": "PRODUCTION",
                      "grantTypesToBeSupported": ["client_credentials"]}))
    .send()
    .await
    .unwrap();
    let status = response.status();
    let keys: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{keys}");
    let secret = keys["consumerSecret"].as_str().unwrap();

    let response = basic(
        reqwest::Method::POST,
        &format!("{APPS}/{app}/keys/PRODUCTION/generate-token"),
    )
    .json(&json!({"consumerSecret": secret, "scopes": ["apim:subscribe"]}))
    .send()
    .await
    .unwrap();
    let status = response.status();
    let issued: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{issued}");
    let token = issued["accessToken"].as_str().unwrap();

    let response = node
        .client
        .get(node.management(APPS).unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let listed: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["list"][0]["applicationId"], app.as_str(), "{listed}");

    let response = node
        .client
        .get(node.management(APPS).unwrap())
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a tampered token is refused");
    node.stop().await;
}

/// After a restart the generated admin password is known only to whoever saw it printed:
/// the node's roles reach each other through the internal account instead, so key
/// generation still works.
#[tokio::test]
async fn a_restarted_default_node_still_makes_keys() {
    let mut first = TestNode::start().await.unwrap();
    let admin = first.node.admin.clone().unwrap();
    let password = admin.generated_password.unwrap().expose().to_owned();
    let dir = first.keep_data_dir().unwrap();
    first.node.shutdown().await;

    let mut config = keygate_config::Config::embedded_default();
    config.set_data_dir(dir.path().to_path_buf());
    let node = TestNode::start_with(config).await.unwrap();
    assert!(
        node.node
            .admin
            .as_ref()
            .is_some_and(|a| a.generated_password.is_none()),
        "the admin exists already: no new password is generated"
    );
    let basic = |path: &str| {
        node.client
            .post(node.management(path).unwrap())
            .basic_auth(&admin.username, Some(&password))
    };
    let response = basic(APPS)
        .json(&json!({"name": "Restarted", "tokenType": "JWT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let app: Value = response.json().await.unwrap();
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let response = basic(&format!("{APPS}/{app}/generate-keys"))
        .json(&json!({"keyType": "PRODUCTION",
                      "grantTypesToBeSupported": ["client_credentials"]}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let keys: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{keys}");
    assert!(keys["consumerKey"].as_str().is_some_and(|k| !k.is_empty()));
    node.node.shutdown().await;
}
