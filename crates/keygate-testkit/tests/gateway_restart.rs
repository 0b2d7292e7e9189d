//! A gateway node restarted comes back refusing a token revoked while it was down: the
//! revocation went over RabbitMQ while nobody listened at it, and its first snapshot from
//! the control plane carries it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::Fixture;
use keygate_server::ListenerKind;
use keygate_testkit::{ServiceAddr, TestNode};
use std::time::{Duration, Instant};

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672";

/// A gateway-only node reaching `km`'s key manager and control plane over HTTPS.
fn gateway_config(km: &Fixture, data: &std::path::Path) -> keygate_config::Config {
    let port = km.node.node.addr(ListenerKind::Management).unwrap().port();
    let text = format!(
        "[server]\nroles = [\"gateway\"]\n\
         [super_admin]\nusername = \"admin\"\npassword = \"admin\"\ncreate_admin_account = true\n\
         [apim.key_manager]\nservice_url = \"https://localhost:{port}/services/\"\n\
         username = \"admin\"\npassword = \"admin\"\n\
         [truststore]\nfile_name = \"{}\"\ntype = \"PEM\"\nalias = \"key-manager-tls\"\n\
         [apim.jwt]\nenable = true\n\
         [apim.throttling]\nthrottle_decision_endpoints = [\"{BROKER}\"]\n",
        km.tls_certificate().display()
    );
    let mut config = keygate_config::load_str(&text, std::path::Path::new("deployment.toml"))
        .unwrap()
        .config;
    config.set_data_dir(data.to_path_buf());
    config
}

async fn status(gateway: &TestNode, path: &str, token: &str) -> u16 {
    gateway
        .client
        .get(gateway.url(ListenerKind::GatewayHttp, path).unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn until(gateway: &TestNode, path: &str, token: &str, expected: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(gateway, path, token).await;
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still {got}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_restarted_gateway_refuses_tokens_revoked_while_it_was_down() {
    if !ServiceAddr::RABBITMQ.available_or_skip("gateway_restart") {
        return;
    }
    let (mut config, dir) = Fixture::config("");
    config.throttling.decision_endpoints = Fixture::brokers(BROKER);
    let km = Fixture::start_with(config, dir).await;
    let (_, keys, token) = km.ready("/restart", "JWT").await;
    let path = "/restart/1.0.0/x";

    let data = tempfile::tempdir().unwrap();
    let config = gateway_config(&km, data.path());
    let gateway = TestNode::start_with(config.clone()).await.unwrap();
    until(&gateway, path, &token, 200).await;
    gateway.stop().await;

    km.revoke(&keys, &token).await;
    let gateway = TestNode::start_with(config).await.unwrap();
    assert_eq!(
        status(&gateway, path, &token).await,
        401,
        "the first snapshot carries the revocation"
    );
    gateway.stop().await;
    km.node.stop().await;
}
