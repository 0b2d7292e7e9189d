//! A gateway on a node of its own, reaching the key manager and control plane of another
//! node over HTTPS as WSO2's distributed deployment has it: its snapshot from the
//! internal data service, JWT keys from the key manager's JWK Set, opaque tokens through
//! the key validation service, `/token` forwarded — trusting the other node's
//! certificate through `[truststore]`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::{Fixture, Keys, call_on as call};
use keygate_server::ListenerKind;
use keygate_testkit::TestNode;
use serde_json::json;

async fn token_through(gateway: &TestNode, keys: &Keys) -> String {
    let response = gateway
        .client
        .post(gateway.url(ListenerKind::GatewayHttp, "/token").unwrap())
        .basic_auth(&keys.client_id, Some(&keys.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "/token forwarded to the remote key manager"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_gateway_node_serves_from_a_remote_control_plane_and_key_manager() {
    let control = Fixture::start("").await;
    let (_, jwt_keys) = control
        .subscribed("/remote", json!([{"target": "/*", "verb": "GET"}]), "JWT")
        .await;
    let (_, opaque_keys) = control
        .subscribed("/opaque", json!([{"target": "/*", "verb": "GET"}]), "OAUTH")
        .await;
    // The relay has published the key mappings: the snapshot has everything.
    let jwt = control.token(&jwt_keys).await;
    control.call_until("/remote/1.0.0/x", Some(&jwt), 200).await;
    let opaque = control.token(&opaque_keys).await;
    control
        .call_until("/opaque/1.0.0/x", Some(&opaque), 200)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let gateway = control.gateway_node(dir.path(), "").await;
    assert!(gateway.node.key_manager().is_none() && gateway.node.control_plane().is_none());

    let jwt = token_through(&gateway, &jwt_keys).await;
    let (status, body) = call(&gateway, "/remote/1.0.0/items?q=1", &jwt).await;
    assert_eq!(status, 200, "JWT verified with the remote JWK Set: {body}");
    let received = control.backend.last().unwrap();
    assert_eq!(received.path, "/backend/items");
    assert_eq!(received.query.as_deref(), Some("q=1"));

    let opaque = token_through(&gateway, &opaque_keys).await;
    let (status, body) = call(&gateway, "/opaque/1.0.0/x", &opaque).await;
    assert_eq!(status, 200, "opaque token validated over HTTPS: {body}");
    let (status, body) = call(&gateway, "/opaque/1.0.0/x", "unknown-opaque-token").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], 900_901);

    // The key manager and control plane go away: tokens already verified keep working
    // (no network hop on the request path); a new opaque token cannot be validated.
    control.node.stop().await;
    let (status, body) = call(&gateway, "/remote/1.0.0/items", &jwt).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&gateway, "/opaque/1.0.0/x", "never-seen-opaque-token").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], 900_900);
    gateway.stop().await;
}
