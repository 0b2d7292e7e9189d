//! The seed's key manager: its throttling switches off (`enable_data_publishing`,
//! `enable_policy_deploy`, `enable_blacklist_condition`, `enable_decision_connection`), it
//! still sends its revocations to the traffic manager of its `[[apim.throttling.url_group]]`,
//! which relays them onto RabbitMQ to another node's gateway.

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

#[tokio::test]
async fn a_key_manager_with_throttling_off_still_revokes_through_the_traffic_manager() {
    if !ServiceAddr::RABBITMQ.available_or_skip("traffic_relay") {
        return;
    }
    let (mut config, dir) = Fixture::config("[server]\nroles = [\"traffic-manager\"]\n");
    config.throttling.decision_endpoints = Fixture::brokers(BROKER);
    let tm = Fixture::start_with(config, dir).await;
    let (plain, _) = tm.node.node.traffic_manager_addrs().unwrap();
    let plain = plain.unwrap();

    let (mut config_a, dir_a) = Fixture::config(&format!(
        "[server]\nroles = [\"key-manager\", \"control-plane\", \"gateway\"]\n\
         [[apim.throttling.url_group]]\ntraffic_manager_urls = [\"tcp://127.0.0.1:{}\"]\n",
        plain.port()
    ));
    config_a.throttling.decision_endpoints = Fixture::brokers(BROKER);
    config_a.throttling.enable_data_publishing = false;
    config_a.throttling.enable_policy_deploy = false;
    config_a.throttling.enable_blacklist_condition = false;
    config_a.throttling.enable_decision_connection = false;
    let (mut config_b, dir_b) = Fixture::config("");
    config_b.throttling.decision_endpoints = Fixture::brokers(BROKER);
    config_b.apim_db = config_a.apim_db.clone();
    config_b.shared_db = config_a.shared_db.clone();
    let a = Fixture::start_with(config_a, dir_a).await;
    let b = Fixture::start_with(config_b, dir_b).await;

    let (_, keys, token) = a.ready("/relay", "OAUTH").await;
    let path = "/relay/1.0.0/x";
    b.call_until(path, Some(&token), 200).await;
    let stats = || tm.node.node.traffic_manager_stats().unwrap();
    let relayed = stats().relayed;
    a.revoke(&keys, &token).await;
    b.call_until(path, Some(&token), 401).await;
    assert!(
        stats().relayed > relayed,
        "the revocation went through the traffic manager"
    );
    assert_eq!(
        stats().requests,
        0,
        "no request events with enable_data_publishing off"
    );
    a.node.stop().await;
    b.node.stop().await;
    tm.node.stop().await;
}
