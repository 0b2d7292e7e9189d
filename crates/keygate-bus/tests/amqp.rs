//! The RabbitMQ transport against the real broker at 127.0.0.1:5672 (guest/guest): the
//! conformance suite, malformed deliveries, queue clean-up, and outages through a proxy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use async_trait::async_trait;
use keygate_bus::conformance::{self, RawPublisher, event};
use keygate_bus::{AmqpBus, BusError, BusMessage, EventBus, Subject, SubjectPrefix};
use keygate_config::BrokerTransport;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::sync::Arc;
use std::time::Duration;
use support::proxy::CutProxy;
use support::{
    RABBITMQ, broker_or_skip, delete_amqp_exchange, endpoint, outage, settings, test_prefix,
};

const GUEST: Option<(&str, &str)> = Some(("guest", "guest"));

fn bus_at(addr: &str, prefix: &SubjectPrefix, publish_timeout: Duration) -> AmqpBus {
    AmqpBus::start(&settings(
        endpoint(BrokerTransport::Amqp, addr, GUEST),
        prefix,
        publish_timeout,
    ))
    .unwrap()
}

/// A plain AMQP client on the test's exchange, publisher confirms on.
struct RawAmqp {
    _connection: Connection,
    channel: Channel,
    exchange: String,
}

impl RawAmqp {
    async fn open(exchange: &str) -> Self {
        let connection = Connection::connect(
            &format!("amqp://guest:guest@{RABBITMQ}"),
            ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Self {
            _connection: connection,
            channel,
            exchange: exchange.to_owned(),
        }
    }

    /// Publishes with `mandatory`; `true` when the broker routed it to some queue.
    async fn routed(&self, subject: &Subject) -> bool {
        let confirmation = self
            .channel
            .basic_publish(
                self.exchange.as_str().into(),
                subject.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &event(0).encode().unwrap(),
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        confirmation.take_message().is_none()
    }
}

#[async_trait]
impl RawPublisher for RawAmqp {
    async fn publish_raw(&self, subject: &Subject, payloads: Vec<Vec<u8>>) {
        for payload in payloads {
            self.channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    subject.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    BasicProperties::default(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    if !broker_or_skip("RabbitMQ", RABBITMQ, "amqp::passes_the_conformance_suite") {
        return;
    }
    let bus = bus_at(RABBITMQ, &test_prefix(), Duration::from_secs(10));
    conformance::run_all(&bus).await;
    let raw = RawAmqp::open(bus.exchange()).await;
    conformance::skips_malformed_payloads(&bus, &raw).await;
    delete_amqp_exchange(bus.exchange()).await;
}

#[tokio::test]
async fn a_dropped_subscription_deletes_its_queue() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqp::a_dropped_subscription_deletes_its_queue",
    ) {
        return;
    }
    let prefix = test_prefix();
    let bus = bus_at(RABBITMQ, &prefix, Duration::from_secs(10));
    let subject = Subject::token_revocation(&prefix);
    let raw = RawAmqp::open(bus.exchange()).await;
    let mut sub = bus.subscribe(&subject).await.unwrap();
    assert!(matches!(sub.next().await, Some(BusMessage::Resync { .. })));
    assert!(
        raw.routed(&subject).await,
        "the subscription's queue is bound"
    );
    drop(sub);
    let mut unrouted = false;
    for _ in 0..50 {
        if !raw.routed(&subject).await {
            unrouted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unrouted, "the queue outlived its subscription");
    delete_amqp_exchange(bus.exchange()).await;
}

#[tokio::test]
async fn connect_chooses_rabbitmq_for_amqp_urls() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqp::connect_chooses_rabbitmq_for_amqp_urls",
    ) {
        return;
    }
    let prefix = test_prefix();
    let settings = settings(
        endpoint(BrokerTransport::Amqp, RABBITMQ, GUEST),
        &prefix,
        Duration::from_secs(10),
    );
    outage::connect_picks(&settings, "amqp").await;
    delete_amqp_exchange(&format!("{}.events", prefix.as_str())).await;
}

#[tokio::test]
async fn a_refused_login_is_unavailable_without_the_password() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqp::a_refused_login_is_unavailable_without_the_password",
    ) {
        return;
    }
    let bus = AmqpBus::start(&settings(
        endpoint(
            BrokerTransport::Amqp,
            RABBITMQ,
            Some(("guest", "not-the-password-9f3")),
        ),
        &test_prefix(),
        Duration::from_secs(1),
    ))
    .unwrap();
    let outcome = bus
        .publish(&Subject::notification(&test_prefix()), &event(1))
        .await;
    let Err(error @ BusError::Unavailable { .. }) = outcome else {
        panic!("expected Unavailable, got {outcome:?}");
    };
    let shown = error.to_string();
    assert!(shown.contains("amqp://guest@127.0.0.1:5672"), "{shown}");
    assert!(!shown.contains("not-the-password-9f3"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_no_event() {
    if !broker_or_skip("RabbitMQ", RABBITMQ, "amqp::an_outage_loses_no_event") {
        return;
    }
    let prefix = test_prefix();
    let proxy = CutProxy::start(RABBITMQ).await;
    let direct = bus_at(RABBITMQ, &prefix, Duration::from_secs(20));
    let proxied = bus_at(&proxy.addr(), &prefix, Duration::from_secs(20));
    let exchange = direct.exchange().to_owned();
    outage::outage_loses_nothing(Arc::new(direct), Arc::new(proxied), &proxy, &prefix).await;
    delete_amqp_exchange(&exchange).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_during_an_outage_is_unavailable_after_its_timeout() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqp::a_publish_during_an_outage_is_unavailable_after_its_timeout",
    ) {
        return;
    }
    let prefix = test_prefix();
    let proxy = CutProxy::start(RABBITMQ).await;
    let timeout = Duration::from_secs(1);
    let proxied = bus_at(&proxy.addr(), &prefix, timeout);
    let exchange = proxied.exchange().to_owned();
    outage::publish_during_outage_is_unavailable(Arc::new(proxied), &proxy, &prefix, timeout).await;
    delete_amqp_exchange(&exchange).await;
}
