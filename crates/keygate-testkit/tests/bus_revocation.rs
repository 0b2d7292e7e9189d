//! Two nodes sharing one database and one message broker: a token revoked at node A's key
//! manager is refused at node B's gateway within seconds, through RabbitMQ and through
//! NATS — B's gateway had accepted, and cached, the token before; and a client changed at
//! A's key manager is dropped from B's key manager cache at once
//! (`[apim.cache_invalidation]`).

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
    two_nodes_with(broker, "").await
}

async fn two_nodes_with(broker: &str, extra: &str) -> (Fixture, Fixture) {
    let (mut config_a, dir_a) = Fixture::config(extra);
    let endpoint = Fixture::brokers(broker);
    config_a.throttling.decision_endpoints = endpoint.clone();
    let (mut config_b, dir_b) = Fixture::config(extra);
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

/// A client-credentials token asked for at `node`'s key manager: its status.
async fn token_status(node: &Fixture, keys: &gateway_support::Keys) -> u16 {
    node.node
        .client
        .post(node.node.management("/oauth2/token").unwrap())
        .basic_auth(&keys.client_id, Some(&keys.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_client_changed_at_one_key_manager_is_dropped_from_the_others_cache() {
    if !ServiceAddr::RABBITMQ.available_or_skip("bus_revocation::cache_invalidation") {
        return;
    }
    let (a, b) = two_nodes_with(
        "amqp://guest:guest@127.0.0.1:5672",
        "[apim.cache_invalidation]\nenabled = true\n",
    )
    .await;
    let app = a.application("cached-client", "JWT", "Unlimited").await;
    let keys = a.keys(&app, "JWT", serde_json::json!({})).await;
    // B reads the client once: it is cached for the next seconds.
    assert_eq!(token_status(&b, &keys).await, 200);
    let changed = std::time::Instant::now();
    let response = a
        .node
        .client
        .put(
            a.node
                .management(&format!(
                    "/keymanager-operations/dcr/register/{}",
                    keys.client_id
                ))
                .unwrap(),
        )
        .basic_auth("admin", Some("admin"))
        .json(&serde_json::json!({"grant_types": ["password"]}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    while token_status(&b, &keys).await == 200 {
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(2),
            "B still grants client_credentials (its cache was not invalidated)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!(
        "client changed at B {:?} after the change at A",
        changed.elapsed()
    );
    a.node.stop().await;
    b.node.stop().await;
}

/// p-th percentile of sorted samples.
fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Polls `node`'s gateway until it refuses `token`; the time since `since`.
async fn refused_after(
    node: &Fixture,
    path: &str,
    token: &str,
    since: std::time::Instant,
) -> std::time::Duration {
    loop {
        let (status, _) = node.call(path, Some(token)).await;
        if status == 401 {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "never refused"
        );
    }
}

/// Revocation latency (bench/revocation.sh): from the revoke response at A's key manager
/// to the first refused call at A's and at B's gateway, `KEYGATE_BENCH_REVOCATIONS`
/// (1,000) times, through `KEYGATE_BENCH_BROKER` (none: one node, in-process bus).
#[tokio::test]
#[ignore = "benchmark: bench/revocation.sh"]
async fn revocation_latency() {
    let broker = std::env::var("KEYGATE_BENCH_BROKER").unwrap_or_default();
    let count: usize = std::env::var("KEYGATE_BENCH_REVOCATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let (a, b) = if broker.is_empty() {
        (Fixture::start("").await, None)
    } else {
        let (a, b) = two_nodes(&broker).await;
        (a, Some(b))
    };
    let (_, keys, _) = a.ready("/latency", "OAUTH").await;
    let path = "/latency/1.0.0/x";
    let mut at_a = Vec::with_capacity(count);
    let mut at_b = Vec::with_capacity(count);
    for _ in 0..count {
        let token = a.token(&keys).await;
        a.call_until(path, Some(&token), 200).await;
        if let Some(b) = &b {
            b.call_until(path, Some(&token), 200).await;
        }
        a.revoke(&keys, &token).await;
        let revoked = std::time::Instant::now();
        let (first, second) = match &b {
            Some(b) => tokio::join!(
                refused_after(&a, path, &token, revoked),
                refused_after(b, path, &token, revoked)
            ),
            None => (
                refused_after(&a, path, &token, revoked).await,
                Default::default(),
            ),
        };
        at_a.push(first);
        at_b.push(second);
    }
    for (name, samples) in [("gateway A", &mut at_a), ("gateway B", &mut at_b)] {
        if b.is_none() && name == "gateway B" {
            continue;
        }
        samples.sort();
        println!(
            "RESULT broker={} {name}: {count} revocations, p50 {:?}, p99 {:?}, max {:?}",
            if broker.is_empty() {
                "in-process"
            } else {
                &broker
            },
            percentile(samples, 0.50),
            percentile(samples, 0.99),
            samples[samples.len() - 1],
        );
    }
}
