//! The NATS transport against the real server at 127.0.0.1:4222: the conformance suite,
//! malformed messages, and outages through a proxy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use async_trait::async_trait;
use keygate_bus::conformance::{self, RawPublisher, event};
use keygate_bus::{BusMessage, EventBus, NatsBus, ResyncReason, Subject, SubjectPrefix};
use keygate_config::BrokerTransport;
use std::sync::Arc;
use std::time::Duration;
use support::proxy::CutProxy;
use support::{NATS, broker_or_skip, endpoint, outage, settings, test_prefix};

async fn bus_at(addr: &str, prefix: &SubjectPrefix, publish_timeout: Duration) -> NatsBus {
    NatsBus::start(&settings(
        endpoint(BrokerTransport::Nats, addr, None),
        prefix,
        publish_timeout,
    ))
    .await
    .unwrap()
}

/// A plain NATS client.
struct RawNats(async_nats::Client);

#[async_trait]
impl RawPublisher for RawNats {
    async fn publish_raw(&self, subject: &Subject, payloads: Vec<Vec<u8>>) {
        for payload in payloads {
            // The server refuses payloads above its limit outright; those never arrive.
            let _ = self
                .0
                .publish(subject.as_str().to_owned(), payload.into())
                .await;
        }
        self.0.flush().await.unwrap();
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    if !broker_or_skip("NATS", NATS, "nats::passes_the_conformance_suite") {
        return;
    }
    let bus = bus_at(NATS, &test_prefix(), Duration::from_secs(10)).await;
    conformance::run_all(&bus).await;
    let raw = RawNats(async_nats::connect(NATS).await.unwrap());
    conformance::skips_malformed_payloads(&bus, &raw).await;
}

#[tokio::test]
async fn connect_chooses_nats_for_nats_urls() {
    if !broker_or_skip("NATS", NATS, "nats::connect_chooses_nats_for_nats_urls") {
        return;
    }
    let prefix = test_prefix();
    let settings = settings(
        endpoint(BrokerTransport::Nats, NATS, None),
        &prefix,
        Duration::from_secs(10),
    );
    outage::connect_picks(&settings, "nats").await;
}

#[tokio::test]
async fn a_subscription_made_before_the_first_connect_is_greeted_once_connected() {
    if !broker_or_skip(
        "NATS",
        NATS,
        "nats::a_subscription_made_before_the_first_connect_is_greeted_once_connected",
    ) {
        return;
    }
    let prefix = test_prefix();
    let proxy = CutProxy::start(NATS).await;
    proxy.cut();
    let bus = bus_at(&proxy.addr(), &prefix, Duration::from_secs(1)).await;
    let subject = Subject::notification(&prefix);
    let mut sub = bus.subscribe(&subject).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(early.is_err(), "no greeting before a connection: {early:?}");
    proxy.restore();
    let greeting = tokio::time::timeout(Duration::from_secs(30), sub.next()).await;
    assert_eq!(
        greeting.unwrap(),
        Some(BusMessage::Resync {
            reason: ResyncReason::Connected
        })
    );
    let direct = bus_at(NATS, &prefix, Duration::from_secs(10)).await;
    direct.publish(&subject, &event(3)).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .unwrap()
        {
            Some(BusMessage::Event(e)) => {
                assert_eq!(e, event(3));
                break;
            }
            Some(BusMessage::Resync { .. }) => continue,
            None => panic!("subscription ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_no_event() {
    if !broker_or_skip("NATS", NATS, "nats::an_outage_loses_no_event") {
        return;
    }
    let prefix = test_prefix();
    let proxy = CutProxy::start(NATS).await;
    let direct = bus_at(NATS, &prefix, Duration::from_secs(20)).await;
    let proxied = bus_at(&proxy.addr(), &prefix, Duration::from_secs(20)).await;
    outage::outage_loses_nothing(Arc::new(direct), Arc::new(proxied), &proxy, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_during_an_outage_is_unavailable_after_its_timeout() {
    if !broker_or_skip(
        "NATS",
        NATS,
        "nats::a_publish_during_an_outage_is_unavailable_after_its_timeout",
    ) {
        return;
    }
    let prefix = test_prefix();
    let proxy = CutProxy::start(NATS).await;
    let timeout = Duration::from_secs(1);
    let proxied = bus_at(&proxy.addr(), &prefix, timeout).await;
    outage::publish_during_outage_is_unavailable(Arc::new(proxied), &proxy, &prefix, timeout).await;
}
