//! Revocation latency through the traffic manager: from handing a `TOKEN_REVOKED` event to
//! the node's producer until both of two subscribers (standing for two gateways) have it on
//! `keygate.token.revocation`, over 1,000 revocations sent one after another. Three paths:
//!
//! - `bus`: publish on the in-process bus directly (all roles in one process);
//! - `ingest-tcp`: producer → traffic manager on loopback 9611-style plain TCP → bus;
//! - `ingest-tls`: the same over TLS 1.3 (the 9711-style listener).
//!
//! Prints p50, p99 and max per path. `cargo run --release -p keygate-traffic --example
//! revocation_latency [count]`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark"
)]

use keygate_bus::ingest::{Balance, Receiver, ReceiverGroup};
use keygate_bus::{
    BusMessage, Envelope, EventBus, InProcessBus, Producer, ProducerSettings, Subject,
    SubjectPrefix, Subscription,
};
use keygate_model::Secret;
use keygate_traffic::{IngestListeners, TrafficManager, TrafficSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

#[path = "../tests/support/tls.rs"]
mod tls;

const PASSWORD: &str = "bench-secret";

fn revocation(path: &str, i: usize) -> Envelope {
    Envelope {
        id: format!("{path}-{i}"),
        event_type: "TOKEN_REVOKED".into(),
        revision: i as u64,
        time: 0,
        origin_node: "km-bench".into(),
        payload: serde_json::json!({"jti": format!("jti-{i}"), "expiry": 4_102_444_800_000_i64}),
    }
}

async fn subscriber(bus: &InProcessBus) -> Subscription {
    let mut sub = bus
        .subscribe(&Subject::token_revocation(&SubjectPrefix::default()))
        .await
        .unwrap();
    assert!(matches!(sub.next().await, Some(BusMessage::Resync { .. })));
    sub
}

async fn received(sub: &mut Subscription, id: &str) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(BusMessage::Event(event))) if event.id == id => return,
            Ok(Some(_)) => continue,
            other => panic!("revocation {id} not received: {other:?}"),
        }
    }
}

fn report(path: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{path:<11} n={} p50={:.0} µs p99={:.0} µs max={:.0} µs",
        samples.len(),
        us(at(0.50)),
        us(at(0.99)),
        us(*samples.last().unwrap())
    );
}

enum Send {
    Bus(InProcessBus),
    Producer(Producer),
}

async fn measure(path: &str, send: &Send, gateways: &mut [Subscription; 2], count: usize) {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let event = revocation(path, i);
        let id = event.id.clone();
        let start = Instant::now();
        match send {
            Send::Bus(bus) => bus
                .publish(
                    &Subject::token_revocation(&SubjectPrefix::default()),
                    &event,
                )
                .await
                .unwrap(),
            Send::Producer(producer) => {
                producer.send_revocation(event).await.unwrap();
            }
        }
        for gateway in gateways.iter_mut() {
            received(gateway, &id).await;
        }
        samples.push(start.elapsed());
    }
    report(path, samples);
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(1_000, |n| n.parse().unwrap());

    let bus = InProcessBus::default();
    let mut gateways = [subscriber(&bus).await, subscriber(&bus).await];
    measure("bus", &Send::Bus(bus.clone()), &mut gateways, count).await;

    let (server_tls, client_tls) = tls::self_signed();
    let settings = TrafficSettings::new("tm-bench", "admin", Some(Secret::new(PASSWORD)));
    let shared: Arc<dyn EventBus> = Arc::new(bus.clone());
    let tm = TrafficManager::new(settings, shared)
        .start(IngestListeners {
            plain: Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            tls: Some((TcpListener::bind("127.0.0.1:0").await.unwrap(), server_tls)),
        })
        .await;
    for (path, receiver) in [
        (
            "ingest-tcp",
            Receiver {
                host: "127.0.0.1".into(),
                port: tm.plain_addr().unwrap().port(),
                tls: false,
            },
        ),
        (
            "ingest-tls",
            Receiver {
                host: "localhost".into(),
                port: tm.tls_addr().unwrap().port(),
                tls: true,
            },
        ),
    ] {
        let group = ReceiverGroup {
            balance: Balance::Failover,
            receivers: vec![receiver],
        };
        let mut settings =
            ProducerSettings::new("km-bench", vec![group], "admin", Secret::new(PASSWORD));
        settings.tls = Some(Arc::clone(&client_tls));
        let producer = Producer::start(settings);
        // One revocation first so that connecting is not measured.
        let mut warm = producer
            .send_revocation(revocation(&format!("warm-{path}"), 0))
            .await
            .unwrap();
        warm.first().await.unwrap();
        measure(
            path,
            &Send::Producer(producer.clone()),
            &mut gateways,
            count,
        )
        .await;
        producer.shutdown().await;
    }
    tm.shutdown().await;
}
