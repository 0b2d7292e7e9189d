#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The ingestion protocol against a running traffic manager: a batch is applied and
//! acknowledged, wrong credentials are refused, malformed, oversized, duplicated and
//! out-of-order events change nothing they should not, and the TLS listener works.

mod support;

use keygate_bus::ingest::wire::Frame;
use keygate_bus::ingest::{Balance, IngestEvent, Receiver, ReceiverGroup, Topic};
use keygate_bus::{InProcessBus, Producer};
use keygate_traffic::{IngestListeners, ManualClock, TrafficManager};
use std::sync::Arc;
use support::*;
use tokio::io::AsyncWriteExt;

fn batch(batch: u64, events: Vec<(Topic, keygate_bus::Envelope)>) -> Frame {
    Frame::Batch {
        batch,
        events: events
            .into_iter()
            .map(|(topic, event)| IngestEvent { topic, event })
            .collect(),
    }
}

#[tokio::test]
async fn a_batch_is_applied_then_acknowledged() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let tm = start("tm-1", &bus, &clock).await;
    let mut revoked = subscribe(&bus, revocations()).await;
    let mut invalidations = subscribe(
        &bus,
        keygate_bus::Subject::cache_invalidation(&Default::default(), "km-domain"),
    )
    .await;

    let mut client = RawClient::connect(tm.plain_addr().unwrap()).await;
    assert!(
        matches!(client.hello(PASSWORD).await, Some(Frame::Welcome { node }) if node == "tm-1")
    );
    client
        .send(&batch(
            1,
            vec![
                (Topic::TokenRevocation, revocation("r-1")),
                (
                    Topic::CacheInvalidation("km-domain".into()),
                    revocation("c-1"),
                ),
            ],
        ))
        .await;
    assert_eq!(client.read().await, Some(Frame::Ack { batch: 1 }));
    // Acknowledged means already on the bus.
    assert_eq!(drain(&mut revoked).await, [revocation("r-1")]);
    assert_eq!(drain(&mut invalidations).await, [revocation("c-1")]);
    assert_eq!(tm.stats().relayed, 2);
    tm.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_and_the_connection_closed() {
    let bus = InProcessBus::default();
    let tm = start("tm-1", &bus, &ManualClock::at(T0)).await;
    let mut client = RawClient::connect(tm.plain_addr().unwrap()).await;
    assert_eq!(
        client.hello("guess").await,
        Some(Frame::Refused {
            reason: "invalid credentials".into()
        })
    );
    assert_eq!(client.read().await, None);

    // A producer with the wrong password delivers nothing and counts the refusals.
    let mut settings = producer_settings(
        "gw-1",
        vec![group(Balance::Failover, &[tm.plain_addr().unwrap()])],
    );
    settings.password = "guess".into();
    let producer = Producer::start(settings);
    let mut delivery = producer.send_revocation(revocation("r-1")).await.unwrap();
    until("a refusal", || producer.stats().refusals >= 2).await;
    assert_eq!(delivery.acknowledged_by(), 0);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), delivery.first())
            .await
            .is_err()
    );
    assert_eq!(tm.stats().relayed, 0);
    assert!(tm.stats().refused >= 3);
    producer.shutdown().await;
    tm.shutdown().await;
}

#[tokio::test]
async fn malformed_and_oversized_frames_close_only_their_connection() {
    let bus = InProcessBus::default();
    let tm = start("tm-1", &bus, &ManualClock::at(T0)).await;
    let addr = tm.plain_addr().unwrap();

    // Garbage instead of a hello.
    let mut client = RawClient::connect(addr).await;
    client
        .stream
        .write_all(&[0, 0, 0, 3, b'x', b'y', b'z'])
        .await
        .unwrap();
    assert_eq!(client.read().await, None);

    // An oversized frame after a good hello: refused before its body is read.
    let mut client = RawClient::connect(addr).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    client
        .stream
        .write_all(&u32::MAX.to_be_bytes())
        .await
        .unwrap();
    assert_eq!(client.read().await, None);

    // A well-formed frame of the wrong kind.
    let mut client = RawClient::connect(addr).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    client.send(&Frame::Ack { batch: 1 }).await;
    assert_eq!(client.read().await, None);

    // A batch whose event names an unknown topic is malformed as a whole.
    let mut client = RawClient::connect(addr).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    let body = br#"{"frame":"batch","batch":1,"events":[{"topic":"keygate.admin","event":{}}]}"#;
    client
        .stream
        .write_all(&(body.len() as u32).to_be_bytes())
        .await
        .unwrap();
    client.stream.write_all(body).await.unwrap();
    assert_eq!(client.read().await, None);
    assert_eq!(tm.stats().broken, 4);

    // A request event whose payload is not a request is skipped; the batch is still acked.
    let mut client = RawClient::connect(addr).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    let mut bad = request("q-bad", T0, "k", 1);
    bad.payload = serde_json::json!({"keys": "nope"});
    client
        .send(&batch(7, vec![(Topic::ThrottleRequest, bad)]))
        .await;
    assert_eq!(client.read().await, Some(Frame::Ack { batch: 7 }));
    assert_eq!(tm.stats().malformed, 1);
    assert_eq!(tm.stats().requests, 0);
    tm.shutdown().await;
}

#[tokio::test]
async fn duplicated_events_are_applied_once() {
    let bus = InProcessBus::default();
    let tm = start("tm-1", &bus, &ManualClock::at(T0)).await;
    let mut revoked = subscribe(&bus, revocations()).await;
    let mut client = RawClient::connect(tm.plain_addr().unwrap()).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    let events = vec![
        (Topic::TokenRevocation, revocation("r-1")),
        (Topic::TokenRevocation, revocation("r-1")),
        (Topic::ThrottleRequest, request("q-1", T0, "app:user", 100)),
    ];
    client.send(&batch(1, events.clone())).await;
    assert_eq!(client.read().await, Some(Frame::Ack { batch: 1 }));
    // The same batch again, as after a lost acknowledgement, on a new connection.
    let mut again = RawClient::connect(tm.plain_addr().unwrap()).await;
    assert!(matches!(
        again.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    again.send(&batch(1, events)).await;
    assert_eq!(again.read().await, Some(Frame::Ack { batch: 1 }));

    assert_eq!(drain(&mut revoked).await, [revocation("r-1")]);
    let stats = tm.stats();
    assert_eq!((stats.relayed, stats.requests, stats.duplicates), (1, 1, 4));
    tm.shutdown().await;
}

#[tokio::test]
async fn out_of_order_request_events_are_counted_in_their_own_window_or_not_at_all() {
    let bus = InProcessBus::default();
    let tm = start("tm-1", &bus, &ManualClock::at(T0)).await;
    let mut data = subscribe(&bus, throttle_data()).await;
    let mut client = RawClient::connect(tm.plain_addr().unwrap()).await;
    assert!(matches!(
        client.hello(PASSWORD).await,
        Some(Frame::Welcome { .. })
    ));
    let key = "7:/pizzashack/1.0.0:1.0.0";
    client
        .send(&batch(
            1,
            vec![
                (Topic::ThrottleRequest, request("q-2", T0 + 20, key, 2)),
                (Topic::ThrottleRequest, request("q-1", T0 + 10, key, 2)),
                // From a window already left behind: not counted.
                (
                    Topic::ThrottleRequest,
                    request("q-3", T0 - MINUTE + 5, key, 2),
                ),
            ],
        ))
        .await;
    assert_eq!(client.read().await, Some(Frame::Ack { batch: 1 }));
    let decisions = drain(&mut data).await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].event_type, "THROTTLE_DECISION");
    assert_eq!(
        decisions[0].payload,
        serde_json::json!({"key": key, "throttled": true, "expiry": T0 + MINUTE})
    );
    tm.shutdown().await;
}

#[tokio::test]
async fn a_producer_reaches_the_tls_listener() {
    let (server, client) = tls::self_signed();

    let bus = InProcessBus::default();
    let bus_dyn: Arc<dyn keygate_bus::EventBus> = Arc::new(bus.clone());
    let tm = TrafficManager::new(settings("tm-tls"), bus_dyn)
        .start(IngestListeners {
            plain: None,
            tls: Some((ephemeral().await, server)),
        })
        .await;
    let mut revoked = subscribe(&bus, revocations()).await;
    let mut settings = producer_settings(
        "km-1",
        vec![ReceiverGroup {
            balance: Balance::Failover,
            receivers: vec![Receiver {
                host: "localhost".into(),
                port: tm.tls_addr().unwrap().port(),
                tls: true,
            }],
        }],
    );
    settings.tls = Some(client);
    let producer = Producer::start(settings);
    let mut delivery = producer.send_revocation(revocation("r-tls")).await.unwrap();
    tokio::time::timeout(WAIT, delivery.first())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next_event(&mut revoked).await, revocation("r-tls"));

    // A plain client on the TLS port gets nowhere.
    let mut raw = RawClient::connect(tm.tls_addr().unwrap()).await;
    raw.stream
        .write_all(&[0, 0, 0, 2, b'{', b'}'])
        .await
        .unwrap();
    assert_eq!(raw.read().await, None);
    producer.shutdown().await;
    tm.shutdown().await;
}

/// Accounts of a user store holding `USER` with the password `store-password`.
struct OneAccount;

#[async_trait::async_trait]
impl keygate_traffic::ProducerAccounts for OneAccount {
    async fn accepts(&self, username: &str, password: &keygate_model::Secret) -> bool {
        username == USER && password.expose() == "store-password"
    }
}

#[tokio::test]
async fn an_account_the_user_store_accepts_is_welcome_besides_the_configured_one() {
    let bus: Arc<dyn keygate_bus::EventBus> = Arc::new(InProcessBus::default());
    let tm = TrafficManager::new(settings("tm-1"), bus)
        .with_clock(Arc::new(ManualClock::at(T0)))
        .with_accounts(Arc::new(OneAccount))
        .start(IngestListeners {
            plain: Some(ephemeral().await),
            tls: None,
        })
        .await;
    for (password, welcome) in [("store-password", true), (PASSWORD, true), ("guess", false)] {
        let mut client = RawClient::connect(tm.plain_addr().unwrap()).await;
        let answer = client.hello(password).await;
        assert_eq!(
            matches!(answer, Some(Frame::Welcome { .. })),
            welcome,
            "{answer:?}"
        );
    }
    assert_eq!(tm.stats().refused, 1);
    tm.shutdown().await;
}
