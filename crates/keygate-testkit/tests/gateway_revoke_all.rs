//! A revoke-all reaches gateways started after it: revoking every token of an
//! application's OAuth client (here by regenerating its secret) is recorded by the key
//! manager's store and carried in the control plane's snapshot, so a gateway node that
//! starts later refuses the old tokens from its first request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::{Fixture, call_on};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_gateway_started_after_a_revoke_all_refuses_the_old_tokens() {
    let control = Fixture::start("").await;
    let operations = json!([{"target": "/*", "verb": "GET"}]);
    let (_, revoked_keys) = control
        .subscribed("/revoked", operations.clone(), "JWT")
        .await;
    let (_, kept_keys) = control.subscribed("/kept", operations, "JWT").await;
    let old = control.token(&revoked_keys).await;
    let kept = control.token(&kept_keys).await;
    control
        .call_until("/revoked/1.0.0/x", Some(&old), 200)
        .await;
    control.call_until("/kept/1.0.0/x", Some(&kept), 200).await;

    let (status, body) = control
        .rest(
            Method::POST,
            &format!(
                "/keymanager-operations/dcr/register/{}/regenerate-consumer-secret",
                revoked_keys.client_id
            ),
            Some(json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    // The control plane serves the revoke-all to gateways.
    let (status, listed) = control
        .rest(Method::GET, "/internal/data/v1/subject-revocations", None)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["list"][0]["subject"],
        json!({"type": "consumer_key", "value": revoked_keys.client_id})
    );

    let dir = tempfile::tempdir().unwrap();
    let gateway = control.gateway_node(dir.path(), "").await;
    let (status, body) = call_on(&gateway, "/revoked/1.0.0/x", &old).await;
    assert_eq!(
        status, 401,
        "a token revoked before the gateway started: {body}"
    );
    assert_eq!(body["code"], 900_901);
    let (status, body) = call_on(&gateway, "/kept/1.0.0/x", &kept).await;
    assert_eq!(status, 200, "another client's token is unaffected: {body}");
    gateway.stop().await;
    control.node.stop().await;
}
