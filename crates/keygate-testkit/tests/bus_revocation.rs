//! Two nodes sharing one database and one message broker: a token revoked at node A's key
//! manager is refused at node B's gateway within seconds, through RabbitMQ and through
//! NATS — B's gateway had accepted, and cached, the token before.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::Fixture;
use keygate_testkit::ServiceAddr;

/// Node A with the broker, and node B on A's databases with the same broker.
async fn two_nodes(broker: &str) -> (Fixture, Fixture) {
    let (mut config_a, dir_a) = Fixture::config("");
    let endpoint = keygate_config::load_str(
        &format!("[apim.throttling]\nthrottle_decision_endpoints = [\"{broker}\"]\n"),
        std::path::Path::new("deployment.toml"),
    )
    .unwrap()
    .config
    .throttling
    .decision_endpoints;
    config_a.throttling.decision_endpoints = endpoint.clone();
    let (mut config_b, dir_b) = Fixture::config("");
    config_b.throttling.decision_endpoints = endpoint;
    config_b.apim_db = config_a.apim_db.clone();
    config_b.shared_db = config_a.shared_db.clone();
    let a = Fixture::start_with(config_a, dir_a).await;
    let b = Fixture::start_with(config_b, dir_b).await;
    (a, b)
}

async fn revoked_at_a_is_refused_at_b(broker: &str, context: &str) {
    let (a, b) = two_nodes(broker).await;
    assert_ne!(a.node.node.bus().transport(), "in-process");
    let (_, keys, token) = a.ready(context, "OAUTH").await;
    let path = format!("{context}/1.0.0/x");
    b.call_until(&path, Some(&token), 200).await;
    let (status, _) = b.call(&path, Some(&token)).await;
    assert_eq!(status, 200, "B accepts the token before the revocation");

    let revoked = std::time::Instant::now();
    a.revoke(&keys, &token).await;
    b.call_until(&path, Some(&token), 401).await;
    eprintln!(
        "{broker}: refused at B {:?} after the revocation",
        revoked.elapsed()
    );
    a.node.stop().await;
    b.node.stop().await;
}

#[tokio::test]
async fn a_revocation_reaches_another_node_through_rabbitmq() {
    if !ServiceAddr::RABBITMQ.available_or_skip("bus_revocation::rabbitmq") {
        return;
    }
    revoked_at_a_is_refused_at_b("amqp://guest:guest@127.0.0.1:5672", "/revamqp").await;
}

#[tokio::test]
async fn a_revocation_reaches_another_node_through_nats() {
    if !ServiceAddr::NATS.available_or_skip("bus_revocation::nats") {
        return;
    }
    revoked_at_a_is_refused_at_b("nats://127.0.0.1:4222", "/revnats").await;
}
