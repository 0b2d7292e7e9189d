//! What the broker tests share: finding the real broker (or skipping loudly), a TCP proxy
//! that can cut the connection, settings for a bus with its own prefix, and the outage
//! scenario both transports must survive.

#![allow(dead_code, reason = "each test file uses part of it")]

pub mod outage;
pub mod proxy;

use keygate_bus::{BusSettings, ReconnectBackoff, SubjectPrefix};
use keygate_config::{BrokerEndpoint, BrokerTransport};
use keygate_model::Secret;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const RABBITMQ: &str = "127.0.0.1:5672";
pub const NATS: &str = "127.0.0.1:4222";

/// `true` when a broker answers at `addr`; otherwise prints the SKIPPED line and returns
/// `false`, or fails when `KEYGATE_TEST_REQUIRE_SERVICES=1`. (The same rule as
/// keygate-testkit's `services` module, which this crate cannot depend on: the testkit
/// depends on this crate through the server.)
pub fn broker_or_skip(name: &str, addr: &str, test: &str) -> bool {
    let reachable = addr
        .parse::<SocketAddr>()
        .ok()
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
        .is_some();
    if reachable {
        return true;
    }
    let required =
        std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true");
    assert!(
        !required,
        "{test}: {name} not reachable at {addr} and KEYGATE_TEST_REQUIRE_SERVICES=1"
    );
    eprintln!("\n*** SKIPPED: {test}: {name} not reachable at {addr} ***\n");
    false
}

/// A prefix of its own for one test, so tests sharing a broker never meet.
pub fn test_prefix() -> SubjectPrefix {
    SubjectPrefix::new(&format!("kgtest{}", uuid::Uuid::new_v4().simple()))
}

/// A broker endpoint at `addr` (`host:port`).
pub fn endpoint(
    transport: BrokerTransport,
    addr: &str,
    user: Option<(&str, &str)>,
) -> BrokerEndpoint {
    let (host, port) = addr.rsplit_once(':').unwrap();
    BrokerEndpoint {
        transport,
        host: host.to_owned(),
        port: port.parse().unwrap(),
        username: user.map(|(u, _)| u.to_owned()),
        password: user.map(|(_, p)| Secret::new(p)),
        virtual_host: None,
    }
}

/// Settings for one bus: quick reconnects, the given publish timeout.
pub fn settings(
    broker: BrokerEndpoint,
    prefix: &SubjectPrefix,
    publish_timeout: Duration,
) -> BusSettings {
    BusSettings {
        brokers: vec![broker],
        prefix: prefix.clone(),
        publish_timeout,
        backoff: ReconnectBackoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        client_name: "keygate-bus tests".to_owned(),
        ..BusSettings::default()
    }
}

/// Removes a test's durable AMQP exchange from the broker.
pub async fn delete_amqp_exchange(exchange: &str) {
    let connection = lapin::Connection::connect(
        &format!("amqp://guest:guest@{RABBITMQ}"),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_delete(
            exchange.into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
}
