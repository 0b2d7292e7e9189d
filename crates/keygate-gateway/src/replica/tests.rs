use super::*;
use crate::test_fixtures::{api, application, key_mapping, pets_api, subscription, template};
use keygate_model::{
    AuthScheme, BlockConditionType, KeyType, QuotaLimit, RevokedTokenType, SubscriptionStatus,
    Tenant, TimeUnit,
};

fn revoked(signature: &str, expiry_time_ms: i64) -> RevokedToken {
    RevokedToken {
        tenant: Tenant::default(),
        signature: signature.into(),
        token_type: RevokedTokenType::JwtSignature,
        expiry_time_ms,
        revoked_at_ms: 0,
    }
}

fn data() -> ReplicaData {
    ReplicaData {
        revision: 10,
        apis: vec![pets_api()],
        applications: vec![application("app-1", 1)],
        subscriptions: vec![subscription(
            "sub-1",
            "app-1",
            "api-1",
            SubscriptionStatus::Unblocked,
        )],
        key_mappings: vec![key_mapping("ck", "app-1", KeyType::Production)],
        ..ReplicaData::default()
    }
}

#[test]
fn a_snapshot_answers_every_lookup() {
    let replica = Replica::new();
    assert!(replica.load_snapshot(data()).is_empty());
    let snapshot = replica.snapshot();
    assert_eq!(snapshot.revision(), 10);
    assert_eq!(replica.revision(), 10);
    assert_eq!(snapshot.api_count(), 1);
    assert!(snapshot.api("api-1").is_some());
    assert_eq!(&*snapshot.application("app-1").unwrap().id_text, "1");
    assert_eq!(
        snapshot.subscription("app-1", "api-1").unwrap().uuid,
        "sub-1"
    );
    assert!(snapshot.subscription("app-1", "api-2").is_none());
    assert_eq!(
        snapshot.key_mapping("ck").unwrap().key_type,
        KeyType::Production
    );
    assert_eq!(snapshot.subscription_count(), 1);
    // WSO2's default tiers are there without being sent.
    assert!(snapshot.policies().subscription("Gold").is_some());
    let hit = snapshot.route("GET", "/pets/1.0.0/items/7").unwrap();
    assert_eq!(hit.resource().unwrap().template.url_pattern, "/items/{id}");
    assert!(!hit.via_default_version);
}

#[test]
fn the_default_version_answers_without_a_version_segment() {
    let replica = Replica::new();
    let mut v1 = pets_api();
    v1.is_default_version = true;
    let mut v2 = api(
        "api-2",
        "/pets",
        "2.0.0",
        vec![template("/items", "GET", AuthScheme::Any, &[])],
    );
    v2.is_default_version = false;
    replica
        .apply(ReplicaChange::ApiUpserted(v1.clone()))
        .unwrap();
    replica
        .apply(ReplicaChange::ApiUpserted(v2.clone()))
        .unwrap();
    let snapshot = replica.snapshot();
    let hit = snapshot.route("GET", "/pets/items").unwrap();
    assert_eq!(hit.api.api.uuid, "api-1");
    assert!(hit.via_default_version);
    assert_eq!(hit.remainder("/pets/items"), "/items");
    assert_eq!(
        snapshot
            .route("GET", "/pets/2.0.0/items")
            .unwrap()
            .api
            .api
            .uuid,
        "api-2"
    );

    // The default moves to 2.0.0: the old default stops answering at `/pets`.
    v1.is_default_version = false;
    v2.is_default_version = true;
    replica.apply(ReplicaChange::ApiUpserted(v2)).unwrap();
    replica.apply(ReplicaChange::ApiUpserted(v1)).unwrap();
    let snapshot = replica.snapshot();
    assert_eq!(
        snapshot.route("GET", "/pets/items").unwrap().api.api.uuid,
        "api-2"
    );
    assert_eq!(
        snapshot
            .route("GET", "/pets/1.0.0/items")
            .unwrap()
            .api
            .api
            .uuid,
        "api-1"
    );
}

#[test]
fn the_longest_context_wins() {
    let replica = Replica::new();
    let all = vec![template("/*", "GET", AuthScheme::Any, &[])];
    let mut short = api("short", "/shop", "1", all.clone());
    short.is_default_version = true;
    replica.apply(ReplicaChange::ApiUpserted(short)).unwrap();
    replica
        .apply(ReplicaChange::ApiUpserted(api(
            "long",
            "/shop/orders",
            "1",
            all,
        )))
        .unwrap();
    let snapshot = replica.snapshot();
    assert_eq!(
        snapshot
            .route("GET", "/shop/orders/1/x")
            .unwrap()
            .api
            .api
            .uuid,
        "long"
    );
    assert_eq!(
        snapshot
            .route("GET", "/shop/orders/2")
            .unwrap()
            .api
            .api
            .uuid,
        "short"
    );
    assert_eq!(
        snapshot.route("GET", "/shop/1/x").unwrap().api.api.uuid,
        "short"
    );
    assert_eq!(
        snapshot.route("GET", "/nothing").unwrap_err(),
        RouteError::NoApi
    );
}

#[test]
fn only_deployed_states_are_routed() {
    let replica = Replica::new();
    for (status, routed) in [
        (ApiStatus::Created, false),
        (ApiStatus::Prototyped, true),
        (ApiStatus::Published, true),
        (ApiStatus::Blocked, true),
        (ApiStatus::Deprecated, true),
        (ApiStatus::Retired, false),
    ] {
        let mut record = pets_api();
        record.status = status;
        replica.apply(ReplicaChange::ApiUpserted(record)).unwrap();
        let snapshot = replica.snapshot();
        assert_eq!(
            snapshot.route("GET", "/pets/1.0.0/items").is_ok(),
            routed,
            "{status:?}"
        );
        assert_eq!(snapshot.api_count(), usize::from(routed));
    }
    replica
        .apply(ReplicaChange::ApiUpserted(pets_api()))
        .unwrap();
    replica
        .apply(ReplicaChange::ApiDeleted {
            uuid: "api-1".into(),
        })
        .unwrap();
    assert!(
        replica
            .snapshot()
            .route("GET", "/pets/1.0.0/items")
            .is_err()
    );
}

#[test]
fn a_context_change_moves_the_route() {
    let replica = Replica::new();
    replica
        .apply(ReplicaChange::ApiUpserted(pets_api()))
        .unwrap();
    let mut moved = pets_api();
    moved.context = "/animals".into();
    replica.apply(ReplicaChange::ApiUpserted(moved)).unwrap();
    let snapshot = replica.snapshot();
    assert!(snapshot.route("GET", "/pets/1.0.0/items").is_err());
    assert!(snapshot.route("GET", "/animals/1.0.0/items").is_ok());
}

#[test]
fn subscriptions_change_and_go_with_their_application() {
    let replica = Replica::new();
    replica.load_snapshot(data());
    let blocked = subscription("sub-1", "app-1", "api-1", SubscriptionStatus::Blocked);
    replica
        .apply(ReplicaChange::SubscriptionUpserted(blocked))
        .unwrap();
    let snapshot = replica.snapshot();
    assert_eq!(
        snapshot.subscription("app-1", "api-1").unwrap().status,
        SubscriptionStatus::Blocked
    );
    assert_eq!(snapshot.subscription_count(), 1);

    replica
        .apply(ReplicaChange::SubscriptionDeleted {
            uuid: "sub-1".into(),
        })
        .unwrap();
    assert!(replica.snapshot().subscription("app-1", "api-1").is_none());
    assert_eq!(replica.snapshot().subscription_count(), 0);

    for (uuid, api) in [("s1", "api-1"), ("s2", "api-2")] {
        let sub = subscription(uuid, "app-1", api, SubscriptionStatus::Unblocked);
        replica
            .apply(ReplicaChange::SubscriptionUpserted(sub))
            .unwrap();
    }
    assert_eq!(replica.snapshot().subscription_count(), 2);
    replica
        .apply(ReplicaChange::ApplicationDeleted {
            uuid: "app-1".into(),
        })
        .unwrap();
    let snapshot = replica.snapshot();
    assert!(snapshot.application("app-1").is_none());
    assert!(snapshot.subscription("app-1", "api-2").is_none());
    assert_eq!(snapshot.subscription_count(), 0);
    // Deleting a subscription that went with its application is harmless.
    replica
        .apply(ReplicaChange::SubscriptionDeleted { uuid: "s1".into() })
        .unwrap();
}

#[test]
fn a_published_snapshot_never_changes() {
    let replica = Replica::new();
    replica.load_snapshot(data());
    let before = replica.snapshot();
    replica
        .apply(ReplicaChange::KeyMappingDeleted {
            consumer_key: "ck".into(),
        })
        .unwrap();
    assert!(before.key_mapping("ck").is_some());
    assert!(replica.snapshot().key_mapping("ck").is_none());
}

#[test]
fn revocations_count_until_the_token_would_expire() {
    let replica = Replica::new();
    replica
        .apply(ReplicaChange::TokenRevoked(revoked("sig-a", 2_000)))
        .unwrap();
    replica
        .apply(ReplicaChange::TokenRevoked(revoked("sig-b", 9_000)))
        .unwrap();
    let snapshot = replica.snapshot();
    assert!(snapshot.is_revoked("sig-a", 1_999));
    assert!(!snapshot.is_revoked("sig-a", 2_000));
    assert!(!snapshot.is_revoked("sig-c", 0));
    assert_eq!(replica.purge_expired_revocations(5_000), 1);
    assert_eq!(replica.snapshot().revoked_count(), 1);

    let subject = RevocationSubject::ConsumerKey("ck".into());
    replica
        .apply(ReplicaChange::RevokedAll {
            subject: subject.clone(),
            issued_before_ms: 1_000,
        })
        .unwrap();
    // An older revoke-all never undoes a newer one.
    replica
        .apply(ReplicaChange::RevokedAll {
            subject: subject.clone(),
            issued_before_ms: 500,
        })
        .unwrap();
    let snapshot = replica.snapshot();
    assert!(snapshot.has_subject_revocations());
    assert!(snapshot.is_revoked_for(&subject, 999));
    assert!(!snapshot.is_revoked_for(&subject, 1_000));
    assert!(!snapshot.is_revoked_for(&RevocationSubject::User("ck".into()), 0));
}

#[test]
fn events_apply_in_revision_order_and_a_gap_asks_for_a_snapshot() {
    let replica = Replica::new();
    replica.load_snapshot(data());
    let change = || ReplicaChange::TokenRevoked(revoked("sig", i64::MAX));
    assert_eq!(replica.apply_event(11, change()), ApplyOutcome::Applied);
    assert_eq!(replica.revision(), 11);
    assert_eq!(replica.apply_event(11, change()), ApplyOutcome::Stale);
    assert_eq!(replica.apply_event(3, change()), ApplyOutcome::Stale);
    assert_eq!(
        replica.apply_event(13, change()),
        ApplyOutcome::NeedSnapshot {
            expected: 12,
            received: 13
        }
    );
    assert_eq!(replica.revision(), 11, "a gap changes nothing");
    let mut fresh = data();
    fresh.revision = 13;
    replica.load_snapshot(fresh);
    assert_eq!(replica.apply_event(14, change()), ApplyOutcome::Applied);
    assert_eq!(replica.revision(), 14);
}

#[test]
fn a_change_that_cannot_be_taken_in_is_skipped_but_counted() {
    let replica = Replica::new();
    replica.load_snapshot(data());
    let bad = BlockCondition {
        uuid: "bc".into(),
        tenant: Tenant::default(),
        condition_type: BlockConditionType::Ip,
        value: "not an address".into(),
        enabled: true,
    };
    let outcome = replica.apply_event(11, ReplicaChange::BlockConditionUpserted(bad));
    assert!(matches!(
        outcome,
        ApplyOutcome::Skipped(ReplicaError::BlockCondition { .. })
    ));
    assert_eq!(replica.revision(), 11);
    assert!(replica.snapshot().blocking().is_empty());

    let mut deep = pets_api();
    deep.context = "/".into();
    assert!(matches!(
        replica.apply_event(12, ReplicaChange::ApiUpserted(deep)),
        ApplyOutcome::Skipped(ReplicaError::Deploy(_))
    ));
}

#[test]
fn policies_and_deny_conditions_follow_events() {
    let replica = Replica::new();
    let policy = SubscriptionPolicy {
        uuid: "p".into(),
        tenant: Tenant::default(),
        name: "Tiny".into(),
        display_name: "Tiny".into(),
        description: None,
        limit: QuotaLimit::requests(2, 1, TimeUnit::Minute),
        spike_arrest: None,
        stop_on_quota_reach: true,
        billing_plan: keygate_model::BillingPlan::Free,
    };
    replica
        .apply(ReplicaChange::SubscriptionPolicyUpserted(policy))
        .unwrap();
    assert!(replica.snapshot().policies().subscription("Tiny").is_some());
    replica
        .apply(ReplicaChange::SubscriptionPolicyDeleted {
            name: "Tiny".into(),
        })
        .unwrap();
    assert!(replica.snapshot().policies().subscription("Tiny").is_none());

    let condition = BlockCondition {
        uuid: "bc".into(),
        tenant: Tenant::default(),
        condition_type: BlockConditionType::Api,
        value: "/pets/1.0.0".into(),
        enabled: true,
    };
    replica
        .apply(ReplicaChange::BlockConditionUpserted(condition))
        .unwrap();
    assert_eq!(replica.snapshot().blocking().len(), 1);
    replica
        .apply(ReplicaChange::BlockConditionDeleted { uuid: "bc".into() })
        .unwrap();
    assert!(replica.snapshot().blocking().is_empty());
}

#[test]
fn snapshots_report_what_they_could_not_take_in() {
    let mut broken = data();
    broken.block_conditions.push(BlockCondition {
        uuid: "bad".into(),
        tenant: Tenant::default(),
        condition_type: BlockConditionType::Application,
        value: "no-colon".into(),
        enabled: true,
    });
    let mut deep = pets_api();
    deep.uuid = "deep".into();
    deep.context = String::new();
    broken.apis.push(deep);
    let errors = Replica::new().load_snapshot(broken);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn changes_round_trip_through_json() {
    let change = ReplicaChange::RevokedAll {
        subject: RevocationSubject::User("bob@carbon.super".into()),
        issued_before_ms: 5,
    };
    let json = serde_json::to_string(&change).unwrap();
    assert_eq!(
        serde_json::from_str::<ReplicaChange>(&json).unwrap(),
        change
    );
    let snapshot: ReplicaData = serde_json::from_str(r#"{"revision": 4}"#).unwrap();
    assert_eq!(snapshot.revision, 4);
}

/// 10,000 APIs and 100,000 subscriptions: every lookup still finds exactly its record
/// (correctness only; the speed is the benchmark's to measure).
#[test]
fn ten_thousand_apis_and_a_hundred_thousand_subscriptions() {
    const APIS: usize = 10_000;
    const APPS: usize = 10_000;
    const SUBSCRIPTIONS_PER_APP: usize = 10;
    let all = vec![
        template("/items/{id}", "GET", AuthScheme::Any, &[]),
        template("/*", "POST", AuthScheme::Any, &[]),
    ];
    let mut data = ReplicaData {
        revision: 1,
        ..ReplicaData::default()
    };
    for i in 0..APIS {
        let mut record = api(
            &format!("api-{i}"),
            &format!("/svc{i}/area{}", i % 7),
            "v1",
            all.clone(),
        );
        record.is_default_version = i % 2 == 0;
        data.apis.push(record);
    }
    for a in 0..APPS {
        data.applications
            .push(application(&format!("app-{a}"), a as i64));
        data.key_mappings.push(key_mapping(
            &format!("ck-{a}"),
            &format!("app-{a}"),
            KeyType::Production,
        ));
        for s in 0..SUBSCRIPTIONS_PER_APP {
            let api_index = (a * 7 + s * 13) % APIS;
            data.subscriptions.push(subscription(
                &format!("sub-{a}-{s}"),
                &format!("app-{a}"),
                &format!("api-{api_index}"),
                SubscriptionStatus::Unblocked,
            ));
        }
    }
    let replica = Replica::new();
    assert!(replica.load_snapshot(data).is_empty());
    let snapshot = replica.snapshot();
    assert_eq!(snapshot.api_count(), APIS);
    assert_eq!(snapshot.subscription_count(), APPS * SUBSCRIPTIONS_PER_APP);
    for i in (0..APIS).step_by(97) {
        let path = format!("/svc{i}/area{}/v1/items/5", i % 7);
        let hit = snapshot.route("GET", &path).unwrap();
        assert_eq!(hit.api.api.uuid, format!("api-{i}"));
        let default = format!("/svc{i}/area{}/items/5", i % 7);
        assert_eq!(snapshot.route("GET", &default).is_ok(), i % 2 == 0);
    }
    for a in (0..APPS).step_by(89) {
        let mapping = snapshot.key_mapping(&format!("ck-{a}")).unwrap();
        assert_eq!(mapping.application_uuid, format!("app-{a}"));
        for s in 0..SUBSCRIPTIONS_PER_APP {
            let api_index = (a * 7 + s * 13) % APIS;
            let sub = snapshot
                .subscription(&format!("app-{a}"), &format!("api-{api_index}"))
                .unwrap();
            assert_eq!(sub.uuid, format!("sub-{a}-{s}"));
        }
        assert!(
            snapshot
                .subscription(&format!("app-{a}"), "api-none")
                .is_none()
        );
    }
    // One change on the big replica touches one entry and leaves the rest shared.
    let blocked = subscription("sub-5-0", "app-5", "api-35", SubscriptionStatus::Blocked);
    replica
        .apply(ReplicaChange::SubscriptionUpserted(blocked))
        .unwrap();
    let next = replica.snapshot();
    assert_eq!(
        next.subscription("app-5", "api-35").unwrap().status,
        SubscriptionStatus::Blocked
    );
    assert_eq!(
        snapshot.subscription("app-5", "api-35").unwrap().status,
        SubscriptionStatus::Unblocked
    );
    assert_eq!(next.subscription_count(), APPS * SUBSCRIPTIONS_PER_APP);
}
