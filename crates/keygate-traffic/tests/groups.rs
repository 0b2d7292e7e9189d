#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Producers and traffic-manager groups: every group gets every event, failover moves to
//! the next traffic manager when one dies, loadbalance splits batches, revocations sent
//! while no traffic manager is up arrive when one comes up, and two traffic managers fed
//! the same stream decide the same.

mod support;

use keygate_bus::InProcessBus;
use keygate_bus::ingest::Balance;
use keygate_traffic::ManualClock;
use support::*;

#[tokio::test]
async fn a_failover_group_moves_to_the_second_traffic_manager_when_the_first_dies() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let first = start("tm-1", &bus, &clock).await;
    let second = start("tm-2", &bus, &clock).await;
    let mut revoked = subscribe(&bus, revocations()).await;
    let producer = producer(
        "km-1",
        vec![group(
            Balance::Failover,
            &[first.plain_addr().unwrap(), second.plain_addr().unwrap()],
        )],
    );
    for i in 0..3 {
        let mut delivery = producer
            .send_revocation(revocation(&format!("a-{i}")))
            .await
            .unwrap();
        tokio::time::timeout(WAIT, delivery.first())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!((first.stats().relayed, second.stats().relayed), (3, 0));

    first.shutdown().await;
    for i in 0..3 {
        let mut delivery = producer
            .send_revocation(revocation(&format!("b-{i}")))
            .await
            .unwrap();
        tokio::time::timeout(WAIT, delivery.first())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(second.stats().relayed, 3);
    let ids: Vec<_> = drain(&mut revoked)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["a-0", "a-1", "a-2", "b-0", "b-1", "b-2"]);
    assert!(producer.stats().failures >= 1);
    producer.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn a_loadbalance_group_splits_batches_over_its_traffic_managers() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let first = start("tm-1", &bus, &clock).await;
    let second = start("tm-2", &bus, &clock).await;
    let producer = producer(
        "km-1",
        vec![group(
            Balance::LoadBalance,
            &[first.plain_addr().unwrap(), second.plain_addr().unwrap()],
        )],
    );
    for i in 0..10 {
        let mut delivery = producer
            .send_revocation(revocation(&format!("r-{i}")))
            .await
            .unwrap();
        tokio::time::timeout(WAIT, delivery.first())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!((first.stats().relayed, second.stats().relayed), (5, 5));
    producer.shutdown().await;
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn every_group_receives_every_event() {
    let clock = ManualClock::at(T0);
    let (bus_a, bus_b) = (InProcessBus::default(), InProcessBus::default());
    let a = start("tm-a", &bus_a, &clock).await;
    let b = start("tm-b", &bus_b, &clock).await;
    let producer = producer(
        "km-1",
        vec![
            group(Balance::Failover, &[a.plain_addr().unwrap()]),
            group(Balance::Failover, &[b.plain_addr().unwrap()]),
        ],
    );
    let mut delivery = producer.send_revocation(revocation("r-1")).await.unwrap();
    tokio::time::timeout(WAIT, delivery.all())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.acknowledged_by(), 2);
    assert_eq!((a.stats().relayed, b.stats().relayed), (1, 1));
    producer.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn revocations_sent_while_no_traffic_manager_is_up_arrive_when_one_comes_up() {
    let bus = InProcessBus::default();
    // Reserve an ephemeral port, then free it: nobody listens there until the traffic
    // manager starts.
    let port = ephemeral().await.local_addr().unwrap();
    let producer = producer("km-1", vec![group(Balance::Failover, &[port])]);
    let mut deliveries = Vec::new();
    for i in 0..50 {
        deliveries.push(
            producer
                .send_revocation(revocation(&format!("r-{i}")))
                .await
                .unwrap(),
        );
    }
    until("failed attempts", || producer.stats().failures >= 2).await;
    assert!(deliveries.iter().all(|d| d.acknowledged_by() == 0));

    let mut revoked = subscribe(&bus, revocations()).await;
    let listener = tokio::net::TcpListener::bind(port).await.unwrap();
    let tm = start_on("tm-1", &bus, &ManualClock::at(T0), listener, None).await;
    for delivery in &mut deliveries {
        tokio::time::timeout(WAIT, delivery.first())
            .await
            .unwrap()
            .unwrap();
    }
    let ids: Vec<_> = drain(&mut revoked)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    let expected: Vec<_> = (0..50).map(|i| format!("r-{i}")).collect();
    assert_eq!(ids, expected);
    producer.shutdown().await;
    tm.shutdown().await;
}

#[tokio::test]
async fn request_events_beyond_the_buffer_drop_the_oldest_and_are_counted() {
    let port = ephemeral().await.local_addr().unwrap();
    let mut settings = producer_settings("gw-1", vec![group(Balance::Failover, &[port])]);
    settings.request_buffer = 10;
    settings.batch_events = 4;
    let producer = keygate_bus::Producer::start(settings);
    for i in 0..100 {
        producer.send_request(request(&format!("q-{i}"), T0, "k", 1_000));
    }
    // One batch of 4 may be in hand, retried; the ring keeps the newest 10.
    until("drops", || producer.stats().requests_dropped >= 86).await;
    assert!(producer.stats().requests_dropped <= 90);

    let bus = InProcessBus::default();
    let listener = tokio::net::TcpListener::bind(port).await.unwrap();
    let tm = start_on("tm-1", &bus, &ManualClock::at(T0), listener, None).await;
    until("the newest events", || tm.stats().requests >= 10).await;
    assert_eq!(tm.used("k"), Some(tm.stats().requests));
    producer.shutdown().await;
    tm.shutdown().await;
}

#[tokio::test]
async fn two_traffic_managers_fed_the_same_stream_decide_the_same() {
    let clock = ManualClock::at(T0);
    let (bus_a, bus_b) = (InProcessBus::default(), InProcessBus::default());
    let a = start("tm-a", &bus_a, &clock).await;
    let b = start("tm-b", &bus_b, &clock).await;
    let mut decisions_a = subscribe(&bus_a, throttle_data()).await;
    let mut decisions_b = subscribe(&bus_b, throttle_data()).await;
    let producer = producer(
        "gw-1",
        vec![
            group(Balance::Failover, &[a.plain_addr().unwrap()]),
            group(Balance::Failover, &[b.plain_addr().unwrap()]),
        ],
    );
    let keys = [
        "1:admin@carbon.super",
        "1:/pizzashack/1.0.0:1.0.0",
        "/pizzashack/1.0.0:1.0.0",
    ];
    let mut sent = 0;
    for window in 0..3 {
        for i in 0..40 {
            let key = keys[i % keys.len()];
            let time = T0 + window * MINUTE + i as i64 * 100;
            producer.send_request(request(
                &format!("q-{window}-{i}"),
                time,
                key,
                5 + window as u64,
            ));
            sent += 1;
        }
    }
    until("every request at both", || {
        a.stats().requests == sent && b.stats().requests == sent
    })
    .await;
    clock.set(T0 + 3 * MINUTE);
    a.tick().await;
    b.tick().await;
    let payloads = |events: Vec<keygate_bus::Envelope>| -> Vec<serde_json::Value> {
        events.into_iter().map(|e| e.payload).collect()
    };
    let from_a = payloads(drain(&mut decisions_a).await);
    let from_b = payloads(drain(&mut decisions_b).await);
    // 3 keys throttled in each of 3 windows, released by the next window or the tick.
    assert_eq!(from_a.len(), 18, "{from_a:?}");
    assert_eq!(from_a, from_b);
    producer.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}
