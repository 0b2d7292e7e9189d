//! The behaviour every [`EventBus`] must show, as async checks a backend's tests call
//! (`conformance::run_all(&bus).await`, plus [`skips_malformed_payloads`] for transports
//! that carry bytes from a broker). They panic with a message on a violation, so they
//! belong in tests only.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use crate::{
    BusError, BusMessage, Envelope, EnvelopeError, EventBus, MAX_ENVELOPE_BYTES, ResyncReason,
    Subject, SubjectPrefix, Subscription,
};
use async_trait::async_trait;
use std::time::Duration;

/// How long a check waits for a message before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A test event with the given revision.
pub fn event(revision: u64) -> Envelope {
    Envelope {
        id: format!("evt-{revision}"),
        event_type: "TEST".to_owned(),
        revision,
        time: 1_700_000_000_000 + revision as i64,
        origin_node: "conformance".to_owned(),
        payload: serde_json::json!({ "n": revision }),
    }
}

/// A prefix no other test uses, so suites can share one broker.
pub fn unique_prefix() -> SubjectPrefix {
    SubjectPrefix::new(&format!("kgtest{}", uuid_like()))
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A test event whose encoded form is exactly `size` bytes (at least the size of an event
/// with an empty payload string).
pub fn event_of_size(revision: u64, size: usize) -> Envelope {
    let mut e = event(revision);
    e.payload = serde_json::Value::String(String::new());
    let base = e.encode().map(|b| b.len()).unwrap_or(0);
    e.payload = serde_json::Value::String("x".repeat(size.saturating_sub(base)));
    e
}

/// Bytes put on a subject by a plain broker client, bypassing the bus: how a test plays a
/// foreign or broken producer.
#[async_trait]
pub trait RawPublisher: Send + Sync {
    /// Publishes `payloads` on `subject`, in order, on one connection. A payload the broker
    /// refuses outright (larger than it accepts) may be dropped.
    async fn publish_raw(&self, subject: &Subject, payloads: Vec<Vec<u8>>);
}

async fn next(sub: &mut Subscription) -> BusMessage {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("timed out waiting for a bus message")
        .expect("subscription closed")
}

async fn next_event(sub: &mut Subscription) -> Envelope {
    loop {
        match next(sub).await {
            BusMessage::Event(e) => return e,
            BusMessage::Resync { .. } => continue,
        }
    }
}

/// Every check below that needs nothing but the bus, in turn.
pub async fn run_all(bus: &dyn EventBus) {
    first_message_is_connected(bus).await;
    delivers_in_order(bus).await;
    keeps_order_per_subject(bus).await;
    fans_out_to_every_subscriber(bus).await;
    subjects_are_isolated(bus).await;
    carries_the_largest_event(bus).await;
    refuses_oversized_events(bus).await;
    a_dropped_subscriber_holds_nobody_back(bus).await;
}

/// A new subscription starts with `Resync { Connected }`.
pub async fn first_message_is_connected(bus: &dyn EventBus) {
    let subject = Subject::notification(&unique_prefix());
    let mut sub = bus.subscribe(&subject).await.unwrap();
    assert_eq!(
        next(&mut sub).await,
        BusMessage::Resync {
            reason: ResyncReason::Connected
        },
        "{}: first message must be Resync(Connected)",
        bus.transport()
    );
}

/// Events from one publisher arrive in the order published, unchanged.
pub async fn delivers_in_order(bus: &dyn EventBus) {
    let subject = Subject::token_revocation(&unique_prefix());
    let mut sub = bus.subscribe(&subject).await.unwrap();
    for revision in 1..=100 {
        bus.publish(&subject, &event(revision)).await.unwrap();
    }
    for revision in 1..=100 {
        let got = next_event(&mut sub).await;
        assert_eq!(got, event(revision), "{}: out of order", bus.transport());
    }
}

/// Events published alternately on two subjects arrive at each subject's subscriber in
/// their own order.
pub async fn keeps_order_per_subject(bus: &dyn EventBus) {
    let prefix = unique_prefix();
    let revocations = Subject::token_revocation(&prefix);
    let decisions = Subject::throttle_data(&prefix);
    let mut rs = bus.subscribe(&revocations).await.unwrap();
    let mut ds = bus.subscribe(&decisions).await.unwrap();
    for revision in 1..=50 {
        bus.publish(&revocations, &event(revision)).await.unwrap();
        bus.publish(&decisions, &event(1000 + revision))
            .await
            .unwrap();
    }
    for revision in 1..=50 {
        assert_eq!(
            next_event(&mut rs).await.revision,
            revision,
            "{}",
            bus.transport()
        );
        assert_eq!(
            next_event(&mut ds).await.revision,
            1000 + revision,
            "{}",
            bus.transport()
        );
    }
}

/// Every subscriber of a subject gets every event, in order.
pub async fn fans_out_to_every_subscriber(bus: &dyn EventBus) {
    let subject = Subject::throttle_data(&unique_prefix());
    let mut a = bus.subscribe(&subject).await.unwrap();
    let mut b = bus.subscribe(&subject).await.unwrap();
    for revision in 1..=10 {
        bus.publish(&subject, &event(revision)).await.unwrap();
    }
    for revision in 1..=10 {
        assert_eq!(
            next_event(&mut a).await,
            event(revision),
            "{}: first subscriber",
            bus.transport()
        );
        assert_eq!(
            next_event(&mut b).await,
            event(revision),
            "{}: second subscriber",
            bus.transport()
        );
    }
}

/// An event on one subject never reaches another subject's subscriber.
pub async fn subjects_are_isolated(bus: &dyn EventBus) {
    let prefix = unique_prefix();
    let mut notifications = bus
        .subscribe(&Subject::notification(&prefix))
        .await
        .unwrap();
    bus.publish(&Subject::throttle_request(&prefix), &event(1))
        .await
        .unwrap();
    bus.publish(&Subject::notification(&prefix), &event(2))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut notifications).await.revision,
        2,
        "{}: leaked across subjects",
        bus.transport()
    );
}

/// An event of exactly [`MAX_ENVELOPE_BYTES`] encoded arrives intact.
pub async fn carries_the_largest_event(bus: &dyn EventBus) {
    let subject = Subject::notification(&unique_prefix());
    let mut sub = bus.subscribe(&subject).await.unwrap();
    let big = event_of_size(1, MAX_ENVELOPE_BYTES);
    assert_eq!(big.encode().unwrap().len(), MAX_ENVELOPE_BYTES);
    bus.publish(&subject, &big).await.unwrap();
    bus.publish(&subject, &event(2)).await.unwrap();
    assert!(
        next_event(&mut sub).await == big,
        "{}: largest event changed in transit",
        bus.transport()
    );
    assert_eq!(next_event(&mut sub).await, event(2));
}

/// An event larger than [`MAX_ENVELOPE_BYTES`] is refused by `publish`, not sent.
pub async fn refuses_oversized_events(bus: &dyn EventBus) {
    let subject = Subject::notification(&unique_prefix());
    let mut sub = bus.subscribe(&subject).await.unwrap();
    let result = bus
        .publish(&subject, &event_of_size(1, MAX_ENVELOPE_BYTES + 1))
        .await;
    assert!(
        matches!(
            result,
            Err(BusError::Envelope(EnvelopeError::TooLarge { .. }))
        ),
        "{}: oversized event not refused: {result:?}",
        bus.transport()
    );
    bus.publish(&subject, &event(2)).await.unwrap();
    assert_eq!(
        next_event(&mut sub).await.revision,
        2,
        "{}",
        bus.transport()
    );
}

/// Dropping a subscription that nobody reads does not hold back the subject's other
/// subscribers, and the subject takes new subscribers afterwards.
pub async fn a_dropped_subscriber_holds_nobody_back(bus: &dyn EventBus) {
    const EVENTS: u64 = 1500;
    let subject = Subject::token_revocation(&unique_prefix());
    let dropped = bus.subscribe(&subject).await.unwrap();
    let mut kept = bus.subscribe(&subject).await.unwrap();
    bus.publish(&subject, &event(0)).await.unwrap();
    drop(dropped);
    let reader = async {
        for revision in 0..=EVENTS {
            assert_eq!(
                next_event(&mut kept).await.revision,
                revision,
                "{}",
                bus.transport()
            );
        }
    };
    let writer = async {
        for revision in 1..=EVENTS {
            bus.publish(&subject, &event(revision)).await.unwrap();
        }
    };
    tokio::join!(reader, writer);
    let mut late = bus.subscribe(&subject).await.unwrap();
    bus.publish(&subject, &event(EVENTS + 1)).await.unwrap();
    assert_eq!(next_event(&mut late).await.revision, EVENTS + 1);
}

/// Bytes that are not a keygate envelope — not JSON, JSON of another shape, more than
/// [`MAX_ENVELOPE_BYTES`] — are skipped: the subscriber's next event is the valid one that
/// followed them, and the bus keeps working.
pub async fn skips_malformed_payloads(bus: &dyn EventBus, raw: &dyn RawPublisher) {
    let subject = Subject::token_revocation(&unique_prefix());
    let mut sub = bus.subscribe(&subject).await.unwrap();
    let mut oversized = event(0).encode().unwrap();
    oversized.resize(MAX_ENVELOPE_BYTES + 1, b' ');
    raw.publish_raw(
        &subject,
        vec![
            b"{not json".to_vec(),
            br#"{"id":"x","type":"T"}"#.to_vec(),
            vec![0xff, 0xfe, 0x00],
            Vec::new(),
            oversized,
            event(1).encode().unwrap(),
        ],
    )
    .await;
    assert_eq!(next_event(&mut sub).await, event(1), "{}", bus.transport());
    bus.publish(&subject, &event(2)).await.unwrap();
    assert_eq!(next_event(&mut sub).await, event(2), "{}", bus.transport());
}
