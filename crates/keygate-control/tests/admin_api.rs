//! The Admin REST API through HTTP on SQLite, PostgreSQL and MariaDB: WSO2's default
//! policies seeded; subscription, application and advanced policies and custom rules
//! created, read, replaced and deleted, each write reaching `keygate.notification` in
//! revision order and a refused write reaching nothing; deny conditions created, disabled,
//! enabled and deleted; bad input answered 400 naming the field; and who may do what.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::{Fixture, drain};
use keygate_bus::{Envelope, EventBus, Subject, SubjectPrefix};
use keygate_gateway::{ApplyOutcome, Replica, ReplicaChange, ReplicaData};
use serde_json::{Value, json};

const POLICIES: &str = "/api/am/admin/v1/throttling/policies";
const BLACKLIST: &str = "/api/am/admin/v1/throttling/blacklist";

on_all_backends!(
    policies_crud_with_events_in_revision_order,
    deny_conditions_crud_with_events,
    admin_refusals_name_fields_and_scopes,
);

fn per_minute(count: i64) -> Value {
    json!({"type": "REQUESTCOUNTLIMIT",
           "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": count}})
}

fn fields(body: &Value) -> Vec<String> {
    body["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// A feed of `keygate.notification`.
async fn feed(f: &Fixture) -> keygate_bus::Subscription {
    f.bus
        .subscribe(&Subject::notification(&SubjectPrefix::default()))
        .await
        .unwrap()
}

/// Seeds the defaults and publishes them; the events `feed` got for them.
async fn seeded(f: &Fixture, feed: &mut keygate_bus::Subscription) -> Vec<Envelope> {
    let seeded = f.control.seed_defaults().await.unwrap();
    assert_eq!(seeded.policies, 13);
    assert!(seeded.scopes >= 13);
    let again = f.control.seed_defaults().await.unwrap();
    assert_eq!(
        (again.policies, again.scopes),
        (0, 0),
        "seeding is idempotent"
    );
    let published = f.control.relay().publish_pending().await.unwrap();
    let events = drain(feed).await;
    assert_eq!(events.len(), published);
    events
}

async fn policies_crud_with_events_in_revision_order(f: &mut Fixture) {
    let mut feed = feed(f).await;
    let seed_events = seeded(f, &mut feed).await;
    let before = seed_events.len() as u64;
    assert_eq!(before, 13);

    // The defaults are listed with WSO2's limits.
    let (status, list) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/subscription?limit=10"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let gold = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policyName"] == "Gold")
        .unwrap()
        .clone();
    assert_eq!(gold["defaultLimit"]["requestCount"]["requestCount"], 5000);
    assert_eq!(gold["defaultLimit"]["requestCount"]["timeUnit"], "min");
    let (_, apps) = f
        .call("root", "GET", &format!("{POLICIES}/application"), None)
        .await;
    assert_eq!(apps["count"], 4);
    let (_, advanced) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/advanced?limit=2&offset=0"),
            None,
        )
        .await;
    assert_eq!(advanced["count"], 2, "pagination applies");

    // Create, refuse a duplicate (no event for it), read, replace.
    let platinum = json!({
        "policyName": "Platinum", "description": "partners",
        "defaultLimit": per_minute(9000),
        "rateLimitCount": 100, "rateLimitTimeUnit": "sec", "stopOnQuotaReach": true
    });
    let (status, created) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/subscription"),
            Some(platinum.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let platinum_id = created["policyId"].as_str().unwrap().to_owned();
    assert_eq!(created["rateLimitCount"], 100);
    let (status, _) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/subscription"),
            Some(platinum.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, read) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/subscription/{platinum_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);
    let mut changed = read.clone();
    changed["stopOnQuotaReach"] = json!(false);
    changed["defaultLimit"] = json!({"type": "BANDWIDTHLIMIT",
        "bandwidth": {"timeUnit": "hour", "unitTime": 1, "dataAmount": 50, "dataUnit": "MB"}});
    let (status, updated) = f
        .call(
            "root",
            "PUT",
            &format!("{POLICIES}/subscription/{platinum_id}"),
            Some(changed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["stopOnQuotaReach"], false);
    assert_eq!(updated["defaultLimit"]["bandwidth"]["dataUnit"], "MB");
    changed["policyName"] = json!("Diamond");
    let (status, body) = f
        .call(
            "root",
            "PUT",
            &format!("{POLICIES}/subscription/{platinum_id}"),
            Some(changed),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["policyName"]);

    // An application policy, an advanced policy with conditions, a custom rule.
    let (status, app_policy) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/application"),
            Some(json!({"policyName": "5PerMin", "defaultLimit": per_minute(5)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{app_policy}");
    let app_policy_id = app_policy["policyId"].as_str().unwrap().to_owned();
    let (status, adv) = f
        .call("root", "POST", &format!("{POLICIES}/advanced"), Some(json!({
            "policyName": "Office",
            "defaultLimit": per_minute(100),
            "conditionalGroups": [{
                "conditions": [
                    {"type": "IPCONDITION", "ipCondition": {"ipConditionType": "IPRANGE",
                        "startingIP": "10.0.0.1", "endingIP": "10.0.0.255"}},
                    {"type": "HEADERCONDITION", "invertCondition": true,
                     "headerCondition": {"headerName": "X-Debug", "headerValue": "on"}},
                    {"type": "QUERYPARAMETERCONDITION",
                     "queryParameterCondition": {"parameterName": "bulk", "parameterValue": "true"}},
                    {"type": "JWTCLAIMSCONDITION",
                     "jwtClaimsCondition": {"claimUrl": "http://wso2.org/claims/enduser", "attribute": "ops.*"}}
                ],
                "limit": per_minute(1000)
            }]
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{adv}");
    assert_eq!(
        adv["conditionalGroups"][0]["conditions"][1]["invertCondition"],
        true
    );
    let (status, rule) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/custom"),
            Some(json!({
                "policyName": "perUser", "siddhiQuery": "FROM RequestStream SELECT userId",
                "keyTemplate": "$userId"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");

    // A policy in use cannot go; WSO2's defaults cannot go; an unused one can.
    let app = f.create_app("bob", "Cheap").await;
    let (status, _) = f
        .call(
            "bob",
            "PUT",
            &format!("/api/am/devportal/v1/applications/{app}"),
            Some(json!({"name": "Cheap", "throttlingPolicy": "5PerMin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = f
        .call(
            "root",
            "DELETE",
            &format!("{POLICIES}/application/{app_policy_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let gold_id = gold["policyId"].as_str().unwrap();
    let (status, _) = f
        .call(
            "root",
            "DELETE",
            &format!("{POLICIES}/subscription/{gold_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f
        .call(
            "root",
            "DELETE",
            &format!("{POLICIES}/subscription/{platinum_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/subscription/{platinum_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every accepted write is one event, in revision order; refused ones are none.
    f.control.relay().publish_pending().await.unwrap();
    let events = drain(&mut feed).await;
    let seen: Vec<(u64, String, String)> = events
        .iter()
        .map(|e| {
            let data = &e.payload["data"];
            let key = data["name"].as_str().unwrap_or_default().to_owned();
            (e.revision, e.event_type.clone(), key)
        })
        .collect();
    let expected = [
        ("SUBSCRIPTION_POLICY_CREATE", "Platinum"),
        ("SUBSCRIPTION_POLICY_UPDATE", "Platinum"),
        ("APPLICATION_POLICY_CREATE", "5PerMin"),
        ("API_POLICY_CREATE", "Office"),
        ("GLOBAL_POLICY_CREATE", "perUser"),
        ("APPLICATION_CREATE", "Cheap"),
        ("APPLICATION_UPDATE", "Cheap"),
        ("SUBSCRIPTION_POLICY_DELETE", "Platinum"),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for (i, ((revision, kind, key), (want_kind, want_key))) in seen.iter().zip(expected).enumerate()
    {
        assert_eq!(*revision, before + 1 + i as u64, "{seen:?}");
        assert_eq!(kind, want_kind, "{seen:?}");
        assert_eq!(key, want_key, "{seen:?}");
    }

    // A replica fed every event agrees with the snapshot on the policies.
    let from_events = Replica::new();
    for event in seed_events.iter().chain(&events) {
        let change: ReplicaChange = serde_json::from_value(event.payload.clone()).unwrap();
        assert_eq!(
            from_events.apply_event(event.revision, change),
            ApplyOutcome::Applied,
            "{}",
            event.event_type
        );
    }
    let (status, body) = f
        .call("root", "GET", "/internal/data/v1/snapshot", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let data: ReplicaData = serde_json::from_value(body).unwrap();
    assert_eq!(data.revision, before + expected.len() as u64);
    assert!(
        data.subscription_policies
            .iter()
            .all(|p| p.name != "Platinum")
    );
    assert!(
        data.api_policies
            .iter()
            .any(|p| p.name == "Office" && p.condition_groups.len() == 1)
    );
    assert!(
        data.global_policies
            .iter()
            .any(|p| p.key_template == "$userId")
    );
    let from_snapshot = Replica::new();
    assert!(from_snapshot.load_snapshot(data.clone()).is_empty());
    let (a, b) = (from_events.snapshot(), from_snapshot.snapshot());
    assert_eq!(a.revision(), b.revision());
    for p in &data.subscription_policies {
        assert!(a.policies().subscription(&p.name).is_some(), "{}", p.name);
        assert!(b.policies().subscription(&p.name).is_some(), "{}", p.name);
    }
    for p in &data.application_policies {
        assert!(a.policies().application(&p.name).is_some(), "{}", p.name);
    }
    for p in &data.api_policies {
        assert!(a.policies().advanced(&p.name).is_some(), "{}", p.name);
        assert!(b.policies().advanced(&p.name).is_some(), "{}", p.name);
    }
    assert!(a.policies().subscription("Platinum").is_none());
    assert!(b.policies().subscription("Platinum").is_none());
    assert_eq!(
        a.policies().custom_rules().len(),
        b.policies().custom_rules().len()
    );
}

async fn deny_conditions_crud_with_events(f: &mut Fixture) {
    let mut feed = feed(f).await;
    seeded(f, &mut feed).await;
    let mut ids = Vec::new();
    for (kind, value) in [
        ("API", json!("/pets/1.0.0")),
        ("APPLICATION", json!("bob:Pets")),
        ("IP", json!("192.0.2.7")),
        (
            "IPRANGE",
            json!({"startingIp": "198.51.100.1", "endingIp": "198.51.100.99", "invert": false}),
        ),
        ("USER", json!("mallory")),
    ] {
        let (status, body) = f
            .call(
                "root",
                "POST",
                BLACKLIST,
                Some(json!({"conditionType": kind, "conditionValue": value})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["conditionStatus"], true);
        ids.push(body["conditionId"].as_str().unwrap().to_owned());
    }
    let (status, _) = f
        .call(
            "root",
            "POST",
            BLACKLIST,
            Some(json!({"conditionType": "USER", "conditionValue": "mallory"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = f
        .call(
            "root",
            "GET",
            &format!("{BLACKLIST}?conditionType=IPRANGE"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1);
    assert_eq!(
        body["list"][0]["conditionValue"]["endingIp"],
        "198.51.100.99"
    );

    let user = &ids[4];
    let (status, body) = f
        .call(
            "root",
            "PATCH",
            &format!("{BLACKLIST}/{user}"),
            Some(json!({"conditionStatus": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conditionStatus"], false);
    let (_, read) = f
        .call("root", "GET", &format!("{BLACKLIST}/{user}"), None)
        .await;
    assert_eq!(read["conditionStatus"], false);
    // Events carry the state at publication: published now, the disabling shows.
    f.control.relay().publish_pending().await.unwrap();
    let mut events = drain(&mut feed).await;
    assert_eq!(events.last().unwrap().payload["data"]["enabled"], false);
    let (status, _) = f
        .call(
            "root",
            "PATCH",
            &format!("{BLACKLIST}/{user}"),
            Some(json!({"conditionStatus": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .call("root", "DELETE", &format!("{BLACKLIST}/{}", ids[2]), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .call("root", "DELETE", &format!("{BLACKLIST}/{}", ids[2]), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    f.control.relay().publish_pending().await.unwrap();
    events.extend(drain(&mut feed).await);
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "BLOCK_CONDITION_CREATE",
            "BLOCK_CONDITION_CREATE",
            "BLOCK_CONDITION_CREATE",
            "BLOCK_CONDITION_CREATE",
            "BLOCK_CONDITION_CREATE",
            "BLOCK_CONDITION_UPDATE",
            "BLOCK_CONDITION_UPDATE",
            "BLOCK_CONDITION_DELETE",
        ]
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[1].revision == w[0].revision + 1)
    );
    assert_eq!(events[6].payload["data"]["enabled"], true);
    assert_eq!(events[7].payload["kind"], "block_condition_deleted");
}

async fn admin_refusals_name_fields_and_scopes(f: &mut Fixture) {
    f.control.seed_defaults().await.unwrap();
    // Bad bodies: every field named, type errors included.
    let (status, body) = f
        .call("root", "POST", &format!("{POLICIES}/subscription"), Some(json!({
            "policyName": "",
            "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                             "requestCount": {"timeUnit": "fortnight", "unitTime": 1, "requestCount": -5}},
            "billingPlan": "GRATIS"
        })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&body),
        [
            "policyName",
            "defaultLimit.requestCount.timeUnit",
            "defaultLimit.requestCount.requestCount",
            "billingPlan"
        ]
    );
    let (status, body) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/application"),
            Some(json!({
                "policyName": "x", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                    "requestCount": {"timeUnit": "min", "unitTime": "one", "requestCount": 1}}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["defaultLimit.requestCount.unitTime"]);
    let (status, body) = f
        .call(
            "root",
            "POST",
            &format!("{POLICIES}/advanced"),
            Some(json!({
                "policyName": "Bad", "defaultLimit": per_minute(1),
                "conditionalGroups": [{"conditions": [{"type": "IPCONDITION",
                    "ipCondition": {"ipConditionType": "IPSPECIFIC", "specificIP": "300.1.1.1"}}],
                    "limit": per_minute(2)}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["conditionalGroups[0].conditions[0]"]);
    let (status, body) = f
        .call(
            "root",
            "POST",
            BLACKLIST,
            Some(json!({"conditionType": "IP", "conditionValue": "nowhere"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["conditionValue"]);
    let (status, body) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/subscription?limit=lots"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["limit"]);
    let (status, _) = f
        .call(
            "root",
            "GET",
            &format!("{POLICIES}/subscription/no-such-id"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Who may: creators and publishers read policies, only administrators change them or
    // see deny conditions; subscribers neither.
    let (status, _) = f
        .call("alice", "GET", &format!("{POLICIES}/subscription"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for (user, method, path, scope) in [
        (
            "alice",
            "POST",
            format!("{POLICIES}/subscription"),
            "apim:tier_manage",
        ),
        (
            "bob",
            "GET",
            format!("{POLICIES}/advanced"),
            "apim:tier_view",
        ),
        ("alice", "GET", BLACKLIST.to_owned(), "apim:bl_view"),
        ("bob", "POST", BLACKLIST.to_owned(), "apim:bl_manage"),
    ] {
        let body = json!({"policyName": "Nope", "defaultLimit": per_minute(1)});
        let (status, answer) = f.call(user, method, &path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user} {method} {path}");
        assert!(
            answer["description"].as_str().unwrap().contains(scope),
            "{answer} names {scope}"
        );
    }
    let (status, _) = f
        .call_as(None, "GET", &format!("{POLICIES}/subscription"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
