//! The roles a default node composes, reached over its management listener: the control
//! plane's Publisher API and internal data service, and the key manager's discovery —
//! proof that `keygate server` serves them, not only that the crates work alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use keygate_bus::{BusMessage, Subject, SubjectPrefix};
use keygate_testkit::TestNode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_api_created_through_the_publisher_reaches_the_snapshot_and_the_bus() {
    let node = TestNode::start().await.unwrap();
    let password = node.node.admin.clone().unwrap().generated_password.unwrap();
    let mut events = node
        .node
        .bus()
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();

    let created = node
        .client
        .post(node.management("/api/am/publisher/v1/apis").unwrap())
        .basic_auth("admin", Some(password.expose()))
        .json(&json!({
            "name": "Orders", "context": "/orders", "version": "1.0.0",
            "endpointConfig": {"production_endpoints": {"url": "http://127.0.0.1:9/v1"}},
            "policies": ["Gold"],
            "operations": [{"target": "/{id}", "verb": "GET"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());

    let snapshot: serde_json::Value = node
        .client
        .get(node.management("/internal/data/v1/apis").unwrap())
        .basic_auth("admin", Some(password.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(snapshot["revision"].as_u64().unwrap() >= 1, "{snapshot}");
    assert!(
        snapshot["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|api| api["context"] == "/orders"),
        "{snapshot}"
    );

    // The outbox relay publishes the change on keygate.notification.
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(BusMessage::Event(event)) = events.next().await {
                return event;
            }
        }
    })
    .await
    .expect("an event within 10 s");
    assert!(event.revision >= 1);

    let unauthenticated = node
        .client
        .get(node.management("/internal/data/v1/apis").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let discovery: serde_json::Value = node
        .client
        .get(
            node.management("/.well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/token"),
        "{discovery}"
    );
    node.stop().await;
}
