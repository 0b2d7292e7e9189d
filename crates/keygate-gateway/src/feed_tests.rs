//! The feed against the in-process bus and a counting snapshot source.

use super::*;
use crate::gateway::SystemClock;
use crate::test_fixtures::{api, pets_api};
use keygate_bus::InProcessBus;
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
struct Source {
    data: Mutex<ReplicaData>,
    taken: AtomicUsize,
}

#[async_trait]
impl SnapshotSource for Source {
    async fn snapshot(&self) -> Result<ReplicaData, SnapshotError> {
        self.taken.fetch_add(1, Ordering::SeqCst);
        Ok(self.data.lock().unwrap().clone())
    }
}

fn envelope(event_type: &str, revision: u64, payload: serde_json::Value) -> Envelope {
    Envelope {
        id: format!("e-{revision}"),
        event_type: event_type.into(),
        revision,
        time: SystemClock.now_ms(),
        origin_node: "test".into(),
        payload,
    }
}

fn feed(source: Arc<Source>) -> (ReplicaFeed, Arc<Replica>, Arc<GatewayThrottle>) {
    let replica = Arc::new(Replica::new());
    let throttle = Arc::new(GatewayThrottle::new());
    let feed = ReplicaFeed::new(
        replica.clone(),
        throttle.clone(),
        source,
        Arc::new(SystemClock),
    );
    (feed, replica, throttle)
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn snapshot_after_subscribing_then_events_in_order_and_a_gap_resyncs() {
    let source = Arc::new(Source::default());
    source.data.lock().unwrap().revision = 5;
    source.data.lock().unwrap().apis = vec![pets_api()];
    let (feed, replica, _) = feed(source.clone());
    let bus = Arc::new(InProcessBus::default());
    let prefix = SubjectPrefix::default();
    let subscriptions = FeedSubscriptions::subscribe(bus.as_ref(), &prefix)
        .await
        .unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let task = feed.spawn(subscriptions, stop_rx);

    eventually("the first snapshot", || replica.revision() == 5).await;
    assert_eq!(
        source.taken.load(Ordering::SeqCst),
        1,
        "three resyncs at once cost one snapshot"
    );

    let orders = api("api-2", "/orders", "1.0.0", vec![]);
    let change = serde_json::to_value(ReplicaChange::ApiUpserted(orders.clone())).unwrap();
    bus.publish(
        &Subject::notification(&prefix),
        &envelope("API_CREATE", 6, change),
    )
    .await
    .unwrap();
    eventually("revision 6", || replica.revision() == 6).await;
    assert!(replica.snapshot().api("api-2").is_some());

    // Revision 7 was missed: the feed reloads.
    {
        let mut data = source.data.lock().unwrap();
        data.revision = 8;
        data.apis.push(orders);
    }
    let deleted = serde_json::to_value(ReplicaChange::ApiDeleted {
        uuid: "api-1".into(),
    })
    .unwrap();
    bus.publish(
        &Subject::notification(&prefix),
        &envelope("API_DELETE", 8, deleted),
    )
    .await
    .unwrap();
    eventually("the snapshot at 8", || replica.revision() == 8).await;
    assert_eq!(source.taken.load(Ordering::SeqCst), 2);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn revocations_apply_at_once_and_survive_a_new_snapshot() {
    let source = Arc::new(Source::default());
    let (mut feed, replica, _) = feed(source);
    let now = SystemClock.now_ms();
    let revoked = envelope(
        "TOKEN_REVOKED",
        1,
        json!({"jti": "jti-1", "token_digest": "abc", "expiry_time_ms": now + 60_000,
               "client_id": "c", "subject": "alice", "tenant": "carbon.super"}),
    );
    assert!(!feed.handle(FeedSubject::TokenRevocation, BusMessage::Event(revoked)));
    let snapshot = replica.snapshot();
    assert!(snapshot.is_revoked("jti-1", now));
    assert!(snapshot.is_revoked("abc", now));

    let all = envelope(
        "TOKENS_REVOKED_FOR_USER",
        2,
        json!({"subject": "bob", "tenant": "carbon.super", "revoked_before_ms": now}),
    );
    feed.handle(FeedSubject::TokenRevocation, BusMessage::Event(all));
    let user = RevocationSubject::User("bob@carbon.super".into());
    assert!(replica.snapshot().is_revoked_for(&user, now - 1));
    assert!(!replica.snapshot().is_revoked_for(&user, now + 1));

    feed.resync().await.unwrap();
    let snapshot = replica.snapshot();
    assert!(snapshot.is_revoked("jti-1", now), "laid over the snapshot");
    assert!(snapshot.is_revoked_for(&user, now - 1));
}

#[test]
fn client_revocations_and_unknown_events_read_as_expected() {
    let all = envelope(
        "TOKENS_REVOKED_FOR_CLIENT",
        1,
        json!({"client_id": "ck", "tenant": "carbon.super", "revoked_before_ms": 10}),
    );
    assert_eq!(
        revocation_changes(&all),
        vec![ReplicaChange::RevokedAll {
            subject: RevocationSubject::ConsumerKey("ck".into()),
            issued_before_ms: 10,
        }]
    );
    assert!(revocation_changes(&envelope("SOMETHING_ELSE", 1, json!({}))).is_empty());
    assert!(revocation_changes(&envelope("TOKEN_REVOKED", 1, json!("garbage"))).is_empty());
}

#[tokio::test]
async fn throttle_decisions_and_resync_requests() {
    let source = Arc::new(Source::default());
    let (mut feed, _, throttle) = feed(source);
    let now = SystemClock.now_ms();
    let decision = envelope(
        "THROTTLE_DECISION",
        1,
        json!({"key": "k1", "throttled": true, "expiry": now + 60_000}),
    );
    assert!(!feed.handle(FeedSubject::ThrottleData, BusMessage::Event(decision)));
    assert!(throttle.decisions().throttled_until("k1", now).is_some());

    let resync = || BusMessage::Resync {
        reason: keygate_bus::ResyncReason::Connected,
    };
    assert!(feed.handle(FeedSubject::Notification, resync()));
    assert!(feed.handle(FeedSubject::TokenRevocation, resync()));
    assert!(!feed.handle(FeedSubject::ThrottleData, resync()));
    let garbage = envelope("API_CREATE", 1, json!({"kind": "nonsense"}));
    assert!(
        feed.handle(FeedSubject::Notification, BusMessage::Event(garbage)),
        "an unreadable change is healed by a snapshot"
    );
}
