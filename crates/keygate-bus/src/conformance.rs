//! The behaviour every [`EventBus`] must show, as async checks a backend's tests call
//! (`conformance::run_all(&bus).await`). They panic with a message on a violation, so they
//! belong in tests only.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use crate::{BusMessage, Envelope, EventBus, ResyncReason, Subject, SubjectPrefix, Subscription};
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
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
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

/// Every check below, in turn.
pub async fn run_all(bus: &dyn EventBus) {
    first_message_is_connected(bus).await;
    delivers_in_order(bus).await;
    fans_out_to_every_subscriber(bus).await;
    subjects_are_isolated(bus).await;
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

/// Every subscriber of a subject gets every event.
pub async fn fans_out_to_every_subscriber(bus: &dyn EventBus) {
    let subject = Subject::throttle_data(&unique_prefix());
    let mut a = bus.subscribe(&subject).await.unwrap();
    let mut b = bus.subscribe(&subject).await.unwrap();
    bus.publish(&subject, &event(1)).await.unwrap();
    assert_eq!(next_event(&mut a).await.revision, 1);
    assert_eq!(next_event(&mut b).await.revision, 1);
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
