//! The control plane through HTTP on SQLite, PostgreSQL and MariaDB: the publisher →
//! devportal story, lifecycle rules, subscription blocking, 400/401/403/404/409 answers,
//! ownership, the internal data service, events on the bus in revision order, and
//! event/snapshot consistency against the gateway's own replica.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Fixture, PASSWORD, api_body, basic, drain};
use keygate_bus::{EventBus, Subject, SubjectPrefix};
use keygate_gateway::{ApplyOutcome, Replica, ReplicaChange, ReplicaData};
use serde_json::json;

on_all_backends!(
    publisher_to_devportal_story_with_consistent_events_and_snapshot,
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
