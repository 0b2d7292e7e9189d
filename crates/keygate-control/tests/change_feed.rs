//! The change feed on SQLite, PostgreSQL and MariaDB: no event for a refused write, a
//! relay that resumes after a restart and wakes after a write, a bus outage that delays
//! events but loses none, other roles' writes on the same feed, and snapshots taken
//! during concurrent writes that converge once brought forward by later events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Fixture, api_body, drain};
use keygate_bus::{BusMessage, EventBus, Subject, SubjectPrefix};
use keygate_control::OutboxRelay;
use keygate_gateway::{ApplyOutcome, Replica, ReplicaChange, ReplicaData};
use std::time::Duration;

on_all_backends!(
    refused_writes_leave_no_event_and_the_relay_resumes,
    the_spawned_relay_publishes_after_a_write,
);

async fn refused_writes_leave_no_event_and_the_relay_resumes(f: &Fixture) {
    let outbox = f.stores.change_outbox();
    let pets = f.create_api("Pets", "/pets").await;
    assert_eq!(f.control.relay().publish_pending().await.unwrap(), 1);
    let before = outbox.current_revision().await.unwrap();

    // A write the database refuses (same context and version, checked only by the unique
    // key) rolls back with its outbox entry.
    let mut api = f.stores.apis().api(&pets).await.unwrap().unwrap();
    api.uuid = "another".into();
    api.name = "Other".into();
    assert!(
        f.stores
            .apis()
            .create_api(&api)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let (status, _) = f
        .call(
            "alice",
            "POST",
            "/api/am/publisher/v1/apis",
            Some(api_body("Pets", "/pets")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(outbox.current_revision().await.unwrap(), before);
    assert_eq!(f.control.relay().publish_pending().await.unwrap(), 0);

    // A new relay (a restarted node) resumes after the last published entry.
    let mut feed = f
        .bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();
    let restarted = OutboxRelay::new(
        f.stores.clone(),
        f.bus.clone(),
        &SubjectPrefix::default(),
        "cp-2",
    );
    assert_eq!(restarted.publish_pending().await.unwrap(), 0);
    assert_eq!(f.lifecycle(&pets, "Publish").await.0, StatusCode::OK);
    assert_eq!(restarted.publish_pending().await.unwrap(), 1);
    let events = drain(&mut feed).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].revision, before + 1);
    assert_eq!(events[0].event_type, "API_UPDATE");
    assert_eq!(events[0].origin_node, "cp-2");
    assert_eq!(events[0].payload["data"]["status"], "PUBLISHED");
}

async fn the_spawned_relay_publishes_after_a_write(f: &Fixture) {
    let mut feed = f
        .bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();
    let seeded = f.control.seed_defaults().await.unwrap();
    assert_eq!(seeded.policies, 13);
    let task = f.control.spawn_relay(Duration::from_secs(3600));
    f.create_api("Pets", "/pets").await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        if let Ok(Some(BusMessage::Event(e))) =
            tokio::time::timeout(Duration::from_millis(100), feed.next()).await
        {
            let done = e.payload["kind"] == "api_upserted";
            seen.push(e);
            if done {
                break;
            }
        }
    }
    task.abort();
    let event = seen.last().expect("the write woke the relay");
    assert_eq!(event.payload["kind"], "api_upserted");
    // WSO2's 13 default policies were seeded first; each is an event before it.
    let kinds: Vec<&str> = seen[..seen.len() - 1]
        .iter()
        .map(|e| e.payload["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 13, "{kinds:?}");
    assert!(
        kinds.iter().all(|k| k.ends_with("policy_upserted")),
        "{kinds:?}"
    );
    let revisions: Vec<u64> = seen.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (1..=14).collect::<Vec<_>>());
}

on_all_backends!(snapshots_taken_during_writes_plus_later_events_converge);

/// Snapshots taken while subscribers write concurrently, each brought forward with the
/// events after its revision, all end where a final snapshot is.
async fn snapshots_taken_during_writes_plus_later_events_converge(f: &Fixture) {
    let pets = f.create_api("Pets", "/pets").await;
    assert_eq!(f.lifecycle(&pets, "Publish").await.0, StatusCode::OK);
    let mut feed = f
        .bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();
    f.control.relay().publish_pending().await.unwrap();
    let writers: Vec<_> = ["bob", "carol"]
        .into_iter()
        .map(|user| {
            let control = f.control.clone();
            let router = control.router();
            let pets = pets.clone();
            tokio::spawn(async move {
                for i in 0..6 {
                    let app = common::create_app_via(&router, user, &format!("app-{i}")).await;
                    common::subscribe_via(&router, user, &app, &pets).await;
                }
            })
        })
        .collect();
    let mut snapshots = Vec::new();
    while snapshots.len() < 40 && writers.iter().any(|w| !w.is_finished()) {
        snapshots.push(f.control.snapshot().await.unwrap());
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    snapshots.push(f.control.snapshot().await.unwrap());
    f.control.relay().publish_pending().await.unwrap();
    let events = drain(&mut feed).await;
    let last = f.control.snapshot().await.unwrap();
    assert_eq!(last.applications.len(), 12);
    assert_eq!(last.subscriptions.len(), 12);
    assert_eq!(events.last().map(|e| e.revision), Some(last.revision));

    let mut revisions: Vec<u64> = snapshots.iter().map(|s| s.revision).collect();
    revisions.dedup();
    assert!(revisions.len() >= 3, "snapshots at {revisions:?}");

    let final_replica = Replica::new();
    final_replica
        .load_snapshot(serde_json::from_value(serde_json::to_value(&last).unwrap()).unwrap());
    let expected = final_replica.snapshot();
    for taken in snapshots {
        let data: ReplicaData =
            serde_json::from_value(serde_json::to_value(&taken).unwrap()).unwrap();
        let replica = Replica::new();
        replica.load_snapshot(data);
        for event in events.iter().filter(|e| e.revision > taken.revision) {
            let change: ReplicaChange = serde_json::from_value(event.payload.clone()).unwrap();
            assert_eq!(
                replica.apply_event(event.revision, change),
                ApplyOutcome::Applied
            );
        }
        let got = replica.snapshot();
        assert_eq!(got.revision(), expected.revision());
        assert_eq!(got.subscription_count(), expected.subscription_count());
        for app in &last.applications {
            assert_eq!(got.application(&app.uuid), expected.application(&app.uuid));
        }
        for sub in &last.subscriptions {
            assert_eq!(
                got.subscription(&sub.application_uuid, &sub.api_uuid),
                expected.subscription(&sub.application_uuid, &sub.api_uuid)
            );
        }
    }
}

on_all_backends!(writes_of_other_roles_reach_the_feed_and_the_snapshot);

/// Revocations the key manager stores, and policies and deny conditions written straight
/// to the store, are published like the control plane's own changes.
async fn writes_of_other_roles_reach_the_feed_and_the_snapshot(f: &Fixture) {
    use keygate_model::*;
    let now = 1_900_000_000_000_i64;
    let mut feed = f
        .bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();
    let token = RevokedToken {
        tenant: Tenant::default(),
        signature: "sig-1".into(),
        token_type: RevokedTokenType::JwtSignature,
        expiry_time_ms: now + 3_600_000,
        revoked_at_ms: now,
    };
    f.stores
        .revoked_tokens()
        .insert_revoked_token(&token)
        .await
        .unwrap();
    let policy = ApplicationPolicy {
        uuid: "p-1".into(),
        tenant: Tenant::default(),
        name: "5PerMin".into(),
        display_name: "5PerMin".into(),
        description: None,
        limit: QuotaLimit::requests(5, 1, TimeUnit::Minute),
    };
    f.stores
        .application_policies()
        .create_application_policy(&policy)
        .await
        .unwrap();
    let condition = BlockCondition {
        uuid: "b-1".into(),
        tenant: Tenant::default(),
        condition_type: BlockConditionType::Ip,
        value: "10.1.2.3".into(),
        enabled: true,
    };
    f.stores
        .block_conditions()
        .create_block_condition(&condition)
        .await
        .unwrap();
    f.stores
        .application_policies()
        .delete_application_policy(&Tenant::default(), "5PerMin")
        .await
        .unwrap();

    assert_eq!(f.control.relay().publish_pending().await.unwrap(), 4);
    let events = drain(&mut feed).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "TOKEN_REVOKED",
            "APPLICATION_POLICY_CREATE",
            "BLOCK_CONDITION_CREATE",
            "APPLICATION_POLICY_DELETE"
        ]
    );
    // The policy was gone by the time its creation was published: both events say so,
    // and the replica converges all the same.
    assert_eq!(events[1].payload["kind"], "application_policy_deleted");
    let replica = Replica::new();
    for event in &events {
        let change: ReplicaChange = serde_json::from_value(event.payload.clone()).unwrap();
        assert_eq!(
            replica.apply_event(event.revision, change),
            ApplyOutcome::Applied
        );
    }
    assert!(replica.snapshot().is_revoked("sig-1", now));
    let snapshot = f.control.snapshot().await.unwrap();
    assert_eq!(snapshot.revision, 4);
    assert_eq!(snapshot.block_conditions, vec![condition]);
    assert!(snapshot.application_policies.is_empty());
}

/// A bus that refuses publications while `down` is set, and records what it accepted.
#[derive(Default)]
struct FlakyBus {
    down: std::sync::atomic::AtomicBool,
    accepted: std::sync::Mutex<Vec<u64>>,
}

#[async_trait::async_trait]
impl EventBus for FlakyBus {
    async fn publish(
        &self,
        _subject: &Subject,
        event: &keygate_bus::Envelope,
    ) -> Result<(), keygate_bus::BusError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(keygate_bus::BusError::Unavailable {
                broker: "test".into(),
                reason: "down".into(),
            });
        }
        self.accepted.lock().unwrap().push(event.revision);
        Ok(())
    }

    async fn subscribe(
        &self,
        _subject: &Subject,
    ) -> Result<keygate_bus::Subscription, keygate_bus::BusError> {
        Err(keygate_bus::BusError::Closed)
    }

    fn transport(&self) -> &'static str {
        "flaky"
    }
}

on_all_backends!(a_bus_outage_delays_events_but_loses_none);

/// While the bus refuses events the outbox keeps them; once it is back they go out in
/// order, each once.
async fn a_bus_outage_delays_events_but_loses_none(f: &Fixture) {
    let bus = std::sync::Arc::new(FlakyBus::default());
    let relay = OutboxRelay::new(
        f.stores.clone(),
        bus.clone(),
        &SubjectPrefix::default(),
        "cp",
    );
    let pets = f.create_api("Pets", "/pets").await;
    assert_eq!(relay.publish_pending().await.unwrap(), 1);
    bus.down.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(f.lifecycle(&pets, "Publish").await.0, StatusCode::OK);
    f.create_app("bob", "shop").await;
    assert!(relay.publish_pending().await.is_err());
    assert!(relay.publish_pending().await.is_err());
    assert_eq!(
        f.stores
            .change_outbox()
            .last_published_revision()
            .await
            .unwrap(),
        1
    );
    bus.down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(relay.publish_pending().await.unwrap(), 2);
    assert_eq!(relay.publish_pending().await.unwrap(), 0);
    assert_eq!(*bus.accepted.lock().unwrap(), [1, 2, 3]);
    assert_eq!(
        f.stores
            .change_outbox()
            .last_published_revision()
            .await
            .unwrap(),
        3
    );
}
