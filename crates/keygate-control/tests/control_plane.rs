//! The control plane through HTTP on SQLite, PostgreSQL and MariaDB: the publisher →
//! devportal story, lifecycle rules, 400/401/403/404/409 answers, ownership, the internal
//! data service, events on the bus in revision order, event/snapshot consistency against
//! the gateway's own replica, no event for a refused write, and a relay that resumes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Fixture, PASSWORD, api_body, basic, drain};
use keygate_bus::{BusMessage, EventBus, Subject, SubjectPrefix};
use keygate_control::OutboxRelay;
use keygate_gateway::{ApplyOutcome, Replica, ReplicaChange, ReplicaData};
use serde_json::json;
use std::time::Duration;

on_all_backends!(
    publisher_to_devportal_story_with_consistent_events_and_snapshot,
    refused_writes_leave_no_event_and_the_relay_resumes,
    the_spawned_relay_publishes_after_a_write,
    authentication_permissions_and_ownership,
);

async fn publisher_to_devportal_story_with_consistent_events_and_snapshot(f: &Fixture) {
    let mut feed = f
        .bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap();

    // Publisher: create, refuse a duplicate and a bad body, read, update, publish.
    let pets = f.create_api("Pets", "/pets").await;
    let (status, body) = f
        .call(
            "alice",
            "POST",
            "/api/am/publisher/v1/apis",
            Some(api_body("Pets2", "/pets")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = f
        .call(
            "alice",
            "POST",
            "/api/am/publisher/v1/apis",
            Some(json!({"name": "", "context": "nope", "version": "1.0.0",
                        "operations": [{"target": "/x", "verb": "FETCH"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = body["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "context", "operations[0].verb"]);
    let mut unknown_tiers = api_body("Tiers", "/tiers");
    unknown_tiers["policies"] = json!(["Gold", "Platinum"]);
    unknown_tiers["apiThrottlingPolicy"] = json!("1PerDay");
    let (status, body) = f
        .call(
            "alice",
            "POST",
            "/api/am/publisher/v1/apis",
            Some(unknown_tiers),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = body["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["policies[1]", "apiThrottlingPolicy"]);
    let (status, body) = f
        .call(
            "bob",
            "POST",
            "/api/am/devportal/v1/applications",
            Some(json!({"name": "cheap", "throttlingPolicy": "1PerYear"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "throttlingPolicy");
    let (status, body) = f
        .call(
            "alice",
            "GET",
            &format!("/api/am/publisher/v1/apis/{pets}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lifeCycleStatus"], "CREATED");
    assert_eq!(body["provider"], "alice");
    assert_eq!(body["operations"][1]["authType"], "Application_User");
    let mut changed = body.clone();
    changed["description"] = json!("All the pets");
    let (status, body) = f
        .call(
            "alice",
            "PUT",
            &format!("/api/am/publisher/v1/apis/{pets}"),
            Some(changed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "All the pets");
    changed["version"] = json!("2.0.0");
    let (status, _) = f
        .call(
            "alice",
            "PUT",
            &format!("/api/am/publisher/v1/apis/{pets}"),
            Some(changed),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = f
        .call("alice", "GET", "/api/am/publisher/v1/apis?limit=10", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1);

    let (status, _) = f
        .call(
            "alice",
            "GET",
            "/api/am/publisher/v1/apis?status=BOGUS",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Lifecycle rules.
    let (status, _) = f.lifecycle(&pets, "Retire").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f.lifecycle(&pets, "Explode").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f.lifecycle("no-such-api", "Publish").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f.lifecycle(&pets, "Publish").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lifecycleState"]["state"], "PUBLISHED");

    // Developer Portal: application, duplicate, subscription, tier check.
    let shop = f.create_app("bob", "shop").await;
    let (status, _) = f
        .call(
            "bob",
            "POST",
            "/api/am/devportal/v1/applications",
            Some(json!({"name": "shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Another owner may use the same name.
    let carols_shop = f.create_app("carol", "shop").await;
    let (status, body) = f.subscribe("bob", &shop, &pets, "Bronze").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "throttlingPolicy");
    let (status, body) = f.subscribe("bob", &shop, &pets, "Gold").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let subscription = body["subscriptionId"].as_str().unwrap().to_owned();
    let (status, _) = f.subscribe("bob", &shop, &pets, "Gold").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = f
        .call(
            "bob",
            "PUT",
            &format!("/api/am/devportal/v1/subscriptions/{subscription}"),
            Some(json!({"applicationId": shop, "apiId": pets, "throttlingPolicy": "Unlimited"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["throttlingPolicy"], "Unlimited");
    let (status, body) = f
        .call(
            "bob",
            "GET",
            &format!("/api/am/devportal/v1/subscriptions?applicationId={shop}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1);
    // The publisher blocks the subscription for production keys, then lifts the block;
    // a subscriber cannot.
    let block = format!(
        "/api/am/publisher/v1/subscriptions/block-subscription?subscriptionId={subscription}"
    );
    let (status, _) = f
        .call("bob", "POST", &format!("{block}&blockState=BLOCKED"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f
        .call(
            "alice",
            "POST",
            &format!("{block}&blockState=SOMETIMES"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f
        .call(
            "alice",
            "POST",
            &format!("{block}&blockState=PROD_ONLY_BLOCKED"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = f
        .call(
            "bob",
            "GET",
            &format!("/api/am/devportal/v1/subscriptions/{subscription}"),
            None,
        )
        .await;
    assert_eq!(body["status"], "PROD_ONLY_BLOCKED");
    let (status, _) = f
        .call(
            "alice",
            "POST",
            "/api/am/publisher/v1/subscriptions/unblock-subscription?subscriptionId=nope",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f
        .call(
            "alice",
            "POST",
            &format!(
                "/api/am/publisher/v1/subscriptions/unblock-subscription?subscriptionId={subscription}"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = f
        .call(
            "alice",
            "GET",
            &format!("/api/am/publisher/v1/subscriptions?apiId={pets}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["list"][0]["subscriptionId"], subscription.as_str());
    assert_eq!(body["list"][0]["subscriptionStatus"], "UNBLOCKED");
    let (status, _) = f
        .call("alice", "GET", "/api/am/publisher/v1/subscriptions", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An API with subscriptions cannot be deleted.
    let (status, _) = f
        .call(
            "alice",
            "DELETE",
            &format!("/api/am/publisher/v1/apis/{pets}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A retired API takes no new subscriptions.
    let old = f.create_api("Old", "/old").await;
    for action in ["Publish", "Deprecate"] {
        assert_eq!(f.lifecycle(&old, action).await.0, StatusCode::OK);
    }
    let (status, _) = f.subscribe("carol", &carols_shop, &old, "Gold").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "deprecated");
    assert_eq!(f.lifecycle(&old, "Retire").await.0, StatusCode::OK);
    let (_, body) = f
        .call(
            "alice",
            "GET",
            "/api/am/publisher/v1/apis?status=RETIRED",
            None,
        )
        .await;
    assert_eq!(body["count"], 1);
    assert_eq!(body["list"][0]["id"], old.as_str());
    let (status, _) = f.subscribe("carol", &carols_shop, &old, "Gold").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "retired");

    // Deletions travel too.
    let temp = f.create_app("carol", "temp").await;
    let (status, _) = f.subscribe("carol", &temp, &pets, "Gold").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = f
        .call(
            "carol",
            "DELETE",
            &format!("/api/am/devportal/v1/applications/{temp}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let gone = f.create_api("Gone", "/gone").await;
    let (status, _) = f
        .call(
            "alice",
            "DELETE",
            &format!("/api/am/publisher/v1/apis/{gone}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Events: in order, gapless from 1, each a change the gateway replica takes.
    let published = f.control.relay().publish_pending().await.unwrap();
    let events = drain(&mut feed).await;
    assert_eq!(events.len(), published);
    let revisions: Vec<u64> = events.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (1..=published as u64).collect::<Vec<_>>());
    assert_eq!(events[0].event_type, "API_CREATE");
    let from_events = Replica::new();
    for event in &events {
        let change: ReplicaChange = serde_json::from_value(event.payload.clone()).unwrap();
        assert_eq!(
            from_events.apply_event(event.revision, change),
            ApplyOutcome::Applied,
            "{}",
            event.event_type
        );
    }

    // The snapshot, as a gateway loads it, equals the replica built from events.
    let (status, body) = f
        .call_as(
            Some(basic("km", "km-secret")),
            "GET",
            "/internal/data/v1/snapshot",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let data: ReplicaData = serde_json::from_value(body).unwrap();
    assert_eq!(data.revision, published as u64);
    assert_eq!(data.apis.len(), 2);
    assert_eq!(data.applications.len(), 2);
    assert_eq!(data.subscriptions.len(), 1);
    let from_snapshot = Replica::new();
    assert!(from_snapshot.load_snapshot(data.clone()).is_empty());
    let (a, b) = (from_events.snapshot(), from_snapshot.snapshot());
    assert_eq!(a.revision(), b.revision());
    assert_eq!(a.api_count(), b.api_count());
    assert_eq!(a.api_count(), 1, "only the published API is deployed");
    assert_eq!(a.subscription_count(), b.subscription_count());
    for api in &data.apis {
        assert_eq!(
            a.api(&api.uuid).map(|d| d.api.clone()),
            b.api(&api.uuid).map(|d| d.api.clone())
        );
    }
    for app in &data.applications {
        assert_eq!(
            a.application(&app.uuid).map(|e| e.app.clone()),
            Some(app.clone())
        );
        assert_eq!(a.application(&app.uuid), b.application(&app.uuid));
    }
    for sub in &data.subscriptions {
        assert_eq!(
            a.subscription(&sub.application_uuid, &sub.api_uuid)
                .map(|s| (**s).clone()),
            Some(sub.clone())
        );
    }
    assert!(a.application(&temp).is_none() && a.api(&gone).is_none());
    assert_eq!(
        a.route("GET", "/pets/1.0.0/items")
            .map(|m| m.api.api.uuid.clone())
            .ok(),
        Some(pets.clone())
    );

    // Each list of the data service carries the revision it was read at.
    let (status, body) = f
        .call_as(
            Some(basic("km", "km-secret")),
            "GET",
            "/internal/data/v1/subscriptions",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["revision"], published as u64);
    assert_eq!(body["list"][0]["uuid"], subscription.as_str());
    for name in [
        "apis",
        "applications",
        "application-key-mappings",
        "subscription-policies",
        "application-policies",
        "api-policies",
        "global-policies",
        "block-conditions",
        "revoked-tokens",
    ] {
        let (status, body) = f
            .call_as(
                Some(basic("km", "km-secret")),
                "GET",
                &format!("/internal/data/v1/{name}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(body["list"].is_array(), "{name}");
    }
}

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
    let task = f.control.spawn_relay(Duration::from_secs(3600));
    f.create_api("Pets", "/pets").await;
    let mut got = None;
    for _ in 0..50 {
        if let Ok(Some(BusMessage::Event(e))) =
            tokio::time::timeout(Duration::from_millis(100), feed.next()).await
        {
            got = Some(e);
            break;
        }
    }
    task.abort();
    let event = got.expect("the write woke the relay");
    assert_eq!(event.revision, 1);
    assert_eq!(event.payload["kind"], "api_upserted");
}

async fn authentication_permissions_and_ownership(f: &Fixture) {
    // No or wrong credentials: 401 with a challenge.
    let (status, _) = f
        .call_as(None, "GET", "/api/am/publisher/v1/apis", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f
        .call_as(
            Some(basic("alice", "wrong")),
            "GET",
            "/api/am/publisher/v1/apis",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Role matrix.
    let (status, _) = f
        .call(
            "bob",
            "POST",
            "/api/am/publisher/v1/apis",
            Some(api_body("Pets", "/pets")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f
        .call(
            "alice",
            "POST",
            "/api/am/devportal/v1/applications",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let pets = f.create_api("Pets", "/pets").await;
    let (status, _) = f
        .call(
            "bob",
            "POST",
            &format!("/api/am/publisher/v1/apis/change-lifecycle?apiId={pets}&action=Publish"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f
        .call("root", "GET", "/api/am/publisher/v1/apis", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // The internal data service: the service account and administrators only.
    for (auth, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(basic("km", "nope")), StatusCode::UNAUTHORIZED),
        (Some(basic("bob", PASSWORD)), StatusCode::FORBIDDEN),
        (Some(basic("root", PASSWORD)), StatusCode::OK),
        (Some(basic("km", "km-secret")), StatusCode::OK),
    ] {
        let (status, _) = f.call_as(auth, "GET", "/internal/data/v1/apis", None).await;
        assert_eq!(status, expected);
    }
    let (status, _) = f
        .call_as(
            Some(basic("km", "km-secret")),
            "GET",
            "/internal/data/v1/nothing",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The service account is no user of the management APIs.
    let (status, _) = f
        .call_as(
            Some(basic("km", "km-secret")),
            "GET",
            "/api/am/publisher/v1/apis",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Ownership: another subscriber's application does not exist for you.
    assert_eq!(f.lifecycle(&pets, "Publish").await.0, StatusCode::OK);
    let shop = f.create_app("bob", "shop").await;
    let (status, _) = f
        .call(
            "carol",
            "GET",
            &format!("/api/am/devportal/v1/applications/{shop}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.subscribe("carol", &shop, &pets, "Gold").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f
        .call("carol", "GET", "/api/am/devportal/v1/applications", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 0);
    let (status, body) = f.subscribe("bob", &shop, &pets, "Gold").await;
    assert_eq!(status, StatusCode::CREATED);
    let sub = body["subscriptionId"].as_str().unwrap().to_owned();
    let (status, _) = f
        .call(
            "carol",
            "DELETE",
            &format!("/api/am/devportal/v1/subscriptions/{sub}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f
        .call(
            "bob",
            "DELETE",
            &format!("/api/am/devportal/v1/subscriptions/{sub}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .call(
            "bob",
            "GET",
            &format!("/api/am/devportal/v1/subscriptions/{sub}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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
