//! `[apim.event_hub]`: a gateway node reads its snapshot from the control plane the
//! event hub names, with the event hub's credentials, not the key manager's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::{Fixture, call_on};
use serde_json::json;

#[tokio::test]
async fn a_gateway_reads_its_snapshot_from_the_event_hub() {
    let control = Fixture::start("").await;
    let (_, keys) = control
        .subscribed("/hub", json!([{"target": "/*", "verb": "GET"}]), "JWT")
        .await;
    let token = control.token(&keys).await;
    control.call_until("/hub/1.0.0/x", Some(&token), 200).await;

    // The key manager's credentials are wrong for the data service; the event hub's
    // are right, so only a snapshot read through the event hub has the subscription.
    let port = control.management_port();
    let dir = tempfile::tempdir().unwrap();
    let gateway = control
        .gateway_node_as(
            dir.path(),
            ("nobody", "not-the-password"),
            &format!(
                r#"
[apim.event_hub]
service_url = "https://localhost:{port}/services"
username = "admin"
password = "admin"
"#
            ),
        )
        .await;
    let (status, body) = call_on(&gateway, "/hub/1.0.0/x", &token).await;
    assert_eq!(
        status, 200,
        "the snapshot came through the event hub: {body}"
    );
    assert_eq!(control.backend.last().unwrap().path, "/backend/x");
    gateway.stop().await;
    control.node.stop().await;
}
