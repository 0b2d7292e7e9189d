//! A global limit across two gateway nodes through one traffic manager: both gateways send
//! their request events to the traffic manager of their `[[apim.throttling.url_group]]`,
//! which counts them together, grants each gateway quota leases whose caps add up to the
//! limit at most, and publishes leases and decisions on RabbitMQ. An application policy of
//! 50 requests a minute, 80/20 load of 100 requests 5 ms apart: 49 to 51 are admitted in
//! all (N ± 2 %), where two gateways limiting alone (Kong's `local` policy) would admit 70
//! — 50 at the one taking 80, all 20 at the other — and decisions alone admitted 58 at
//! this pace (what the gateways admitted while the decision was on its way).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::Fixture;
use keygate_testkit::ServiceAddr;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672";
const LIMIT: usize = 50;

fn brokers() -> Vec<keygate_config::BrokerEndpoint> {
    Fixture::brokers(BROKER)
}

#[tokio::test]
async fn two_gateways_share_one_limit_through_a_traffic_manager() {
    if !ServiceAddr::RABBITMQ.available_or_skip("global_limit") {
        return;
    }
    let (mut config, dir) = Fixture::config("[server]\nroles = [\"traffic-manager\"]\n");
    config.throttling.decision_endpoints = brokers();
    let tm = Fixture::start_with(config, dir).await;
    let (plain, _) = tm.node.node.traffic_manager_addrs().unwrap();
    let plain = plain.unwrap();

    let producers = format!(
        "[server]\nroles = [\"key-manager\", \"control-plane\", \"gateway\"]\n\
         [[apim.throttling.url_group]]\ntraffic_manager_urls = [\"tcp://127.0.0.1:{}\"]\n",
        plain.port()
    );
    let (mut config_a, dir_a) = Fixture::config(&producers);
    config_a.throttling.decision_endpoints = brokers();
    let (mut config_b, dir_b) = Fixture::config(&producers);
    config_b.throttling.decision_endpoints = brokers();
    config_b.apim_db = config_a.apim_db.clone();
    config_b.shared_db = config_a.shared_db.clone();
    let a = Fixture::start_with(config_a, dir_a).await;
    let b = Fixture::start_with(config_b, dir_b).await;

    let (_, keys) = a
        .subscribed_as(
            "/global",
            serde_json::json!([{"target": "/*", "verb": "GET"}]),
            "OAUTH",
            "50PerMin",
            serde_json::json!({}),
        )
        .await;
    // Windows are aligned to the minute: the load must not straddle one's end.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into_minute = now.as_millis() % 60_000;
    if into_minute > 50_000 {
        let rest = u64::try_from(60_000 - into_minute).unwrap() + 100;
        tokio::time::sleep(std::time::Duration::from_millis(rest)).await;
    }
    let token = b.token(&keys).await;
    let path = "/global/1.0.0/x";
    // Both replicas know the subscription before the load starts (a 200 each, counted).
    let mut admitted = 0;
    for node in [&a, &b] {
        node.call_until(path, Some(&token), 200).await;
        admitted += 1;
    }
    for i in 0..(2 * LIMIT - 2) {
        let node = if i % 5 == 4 { &b } else { &a };
        let (status, _) = node.call(path, Some(&token)).await;
        match status.as_u16() {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    eprintln!(
        "admitted {admitted} of {} with a limit of {LIMIT}",
        2 * LIMIT
    );
    assert!(
        admitted * 100 >= LIMIT * 98 && admitted * 100 <= LIMIT * 102,
        "admitted {admitted}, limit {LIMIT}: more than 2 % off"
    );
    let stats = tm.node.node.traffic_manager_stats().unwrap();
    eprintln!("traffic manager: {stats:?}");
    assert!(stats.leases > 0, "the gateways ran under leases");
    a.node.stop().await;
    b.node.stop().await;
    tm.node.stop().await;
}
