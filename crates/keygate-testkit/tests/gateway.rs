//! The gateway role end to end on a node running every role: an API published through
//! the Publisher API, an application subscribed through the Developer Portal, keys from
//! the key manager, a token through the gateway's `/token`, and a call through the
//! gateway to a mock backend that records what it received; then revocation and
//! blocking reaching the gateway on the next call.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::{Fixture, jwt_claims};
use keygate_bus::{BusMessage, Subject, SubjectPrefix};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const DIALECT: &str = "http://wso2.org/claims";

#[tokio::test]
async fn a_call_reaches_the_backend_with_its_path_query_headers_and_backend_jwt() {
    let f = Fixture::start("").await;
    let mut requests = f
        .node
        .node
        .bus()
        .subscribe(&Subject::throttle_request(&SubjectPrefix::default()))
        .await
        .unwrap();
    let (_, keys) = f
        .subscribed(
            "/pets",
            json!([{"target": "/items/{id}", "verb": "GET"}]),
            "JWT",
        )
        .await;
    let token = f.token(&keys).await;
    assert_eq!(token.split('.').count(), 3, "a JWT application gets a JWT");

    f.call_until("/pets/1.0.0/items/7", Some(&token), 200).await;
    let response = f
        .node
        .client
        .get(f.gateway("/pets/1.0.0/items/7?color=red&size=2"))
        .bearer_auth(&token)
        .header("X-Custom", "kept")
        .header("X-JWT-Assertion", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["backend"], "mock");

    let received = f.backend.last().unwrap();
    assert_eq!(received.method, Method::GET);
    assert_eq!(received.path, "/backend/items/7");
    assert_eq!(received.query.as_deref(), Some("color=red&size=2"));
    assert_eq!(received.header("x-custom"), Some("kept"));
    assert_eq!(
        received.header("authorization"),
        None,
        "the token stays at the gateway"
    );
    assert_eq!(received.header("x-forwarded-for"), Some("127.0.0.1"));
    let assertion = received.header("x-jwt-assertion").unwrap();
    assert_ne!(assertion, "forged");
    let claims = jwt_claims(assertion);
    assert_eq!(
        claims[format!("{DIALECT}/apicontext")],
        "/pets/1.0.0",
        "{claims}"
    );
    assert_eq!(claims[format!("{DIALECT}/version")], "1.0.0");
    assert_eq!(
        claims[format!("{DIALECT}/applicationUUId")],
        keys.application.as_str()
    );
    assert_eq!(claims[format!("{DIALECT}/subscriber")], "admin");
    assert_eq!(claims[format!("{DIALECT}/keytype")], "PRODUCTION");
    assert_eq!(claims[format!("{DIALECT}/tier")], "Gold");

    // The admitted calls went out as request events, off the request path.
    let batch = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            // Catch-up requests to the traffic managers share the subject; skip them.
            if let Some(BusMessage::Event(event)) = requests.next().await
                && event.event_type == keygate_server::REQUEST_EVENTS_TYPE
            {
                return event;
            }
        }
    })
    .await
    .expect("request events within 10 s");
    assert_eq!(batch.event_type, keygate_server::REQUEST_EVENTS_TYPE);
    let events = batch.payload["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(
        !events[0]["keys"].as_array().unwrap().is_empty(),
        "{batch:?}"
    );

    // Metrics on the gateway listener, no token in them.
    let metrics = f
        .node
        .client
        .get(f.gateway("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("keygate_gateway_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("api=\"/pets/1.0.0\""));
    assert!(metrics.contains("keygate_gateway_replica_revision"));
    assert!(!metrics.contains(&token));
    f.node.stop().await;
}

#[tokio::test]
async fn a_revoked_jwt_and_a_blocked_subscription_fail_on_the_next_call() {
    let f = Fixture::start("").await;
    let (api, keys, token) = f.ready("/orders", "JWT").await;

    f.revoke(&keys, &token).await;
    let (status, body) = f.call("/orders/1.0.0/open", Some(&token)).await;
    assert_eq!(
        status, 401,
        "refused from the moment the revocation arrives: {body}"
    );
    assert_eq!(body["code"], 900_901);

    let fresh = f.token(&keys).await;
    f.call_until("/orders/1.0.0/open", Some(&fresh), 200).await;
    let (status, list) = f
        .rest(
            Method::GET,
            &format!("/api/am/publisher/v1/subscriptions?apiId={api}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let subscription = list["list"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = f
        .rest(
            Method::POST,
            &format!(
                "/api/am/publisher/v1/subscriptions/block-subscription?subscriptionId={subscription}&blockState=BLOCKED"
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = f.call_until("/orders/1.0.0/open", Some(&fresh), 401).await;
    assert_eq!(body["code"], 900_907);
    f.node.stop().await;
}

#[tokio::test]
async fn opaque_tokens_are_validated_by_the_key_manager_and_revoked_at_once() {
    let f = Fixture::start("").await;
    let (_, keys) = f
        .subscribed("/menu", json!([{"target": "/*", "verb": "GET"}]), "OAUTH")
        .await;
    let token = f.token(&keys).await;
    assert_eq!(
        token.split('.').count(),
        1,
        "an OAUTH application gets an opaque token"
    );
    f.call_until("/menu/1.0.0/today", Some(&token), 200).await;
    let received = f.backend.last().unwrap();
    assert_eq!(received.path, "/backend/today");
    let claims = jwt_claims(received.header("x-jwt-assertion").unwrap());
    assert_eq!(
        claims[format!("{DIALECT}/applicationUUId")],
        keys.application.as_str()
    );

    f.revoke(&keys, &token).await;
    let (status, body) = f.call("/menu/1.0.0/today", Some(&token)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], 900_901);
    f.node.stop().await;
}
