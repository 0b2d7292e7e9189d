use super::*;
use serde_json::json;

const T0: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;

fn report(time_ms: i64, keys: &[(&str, Option<Limit>, Option<&str>)]) -> RequestReport {
    RequestReport {
        time_ms,
        message_size: 0,
        keys: keys
            .iter()
            .map(|(key, limit, policy)| ReportedKey {
                key: Arc::from(*key),
                limit: *limit,
                policy: policy.map(str::to_owned),
            })
            .collect(),
    }
}

fn throttle(key: &str, expiry_ms: i64) -> ThrottleDecision {
    ThrottleDecision {
        key: key.into(),
        throttled: true,
        expiry_ms,
    }
}

fn release(key: &str, expiry_ms: i64) -> ThrottleDecision {
    ThrottleDecision {
        key: key.into(),
        throttled: false,
        expiry_ms,
    }
}

#[test]
fn wso2_key_shapes_are_counted_each_against_its_limit() {
    let engine = DecisionEngine::new(TrafficPolicies::new(), true);
    let two = Some(Limit::requests(2, MINUTE as u64));
    let ten = Some(Limit::requests(10, MINUTE as u64));
    let keys = [
        ("7:admin@carbon.super", ten, None),
        ("7:/pizzashack/1.0.0:1.0.0", two, None),
        ("/pizzashack/1.0.0:1.0.0_default", ten, None),
        ("/pizzashack/1.0.0/1.0.0/menu:GET_default", two, None),
    ];
    let mut decisions = Vec::new();
    engine.ingest(&report(T0, &keys), &mut decisions);
    engine.ingest(&report(T0 + 1, &keys), &mut decisions);
    assert_eq!(
        decisions,
        [
            throttle("7:/pizzashack/1.0.0:1.0.0", T0 + MINUTE),
            throttle("/pizzashack/1.0.0/1.0.0/menu:GET_default", T0 + MINUTE),
        ]
    );
    assert_eq!(engine.used("7:admin@carbon.super"), Some(2));
}

#[test]
fn the_traffic_managers_policy_overrides_the_reported_limit() {
    let policies =
        TrafficPolicies::new().with_limit("subscription:Bronze", Limit::requests(2, MINUTE as u64));
    let engine = DecisionEngine::new(policies.clone(), true);
    let loose = Some(Limit::requests(1000, MINUTE as u64));
    let keys = [("1:/a:1", loose, Some("subscription:Bronze"))];
    let mut decisions = Vec::new();
    engine.ingest(&report(T0, &keys), &mut decisions);
    engine.ingest(&report(T0 + 1, &keys), &mut decisions);
    assert_eq!(decisions, [throttle("1:/a:1", T0 + MINUTE)]);

    // Without enable_policy_deploy the gateway's limit holds.
    let engine = DecisionEngine::new(policies, false);
    let mut decisions = Vec::new();
    engine.ingest(&report(T0, &keys), &mut decisions);
    engine.ingest(&report(T0 + 1, &keys), &mut decisions);
    assert!(decisions.is_empty());
}

#[test]
fn a_custom_key_template_is_counted_by_its_global_policy_alone() {
    let engine = DecisionEngine::new(
        TrafficPolicies::new().with_limit("global:per-user", Limit::requests(1, 1_000)),
        true,
    );
    let mut decisions = Vec::new();
    let keys = [
        (
            "alice@carbon.super:/pizzashack/1.0.0",
            None,
            Some("global:per-user"),
        ),
        ("unknown-template-key", None, Some("global:undeployed")),
    ];
    engine.ingest(&report(T0, &keys), &mut decisions);
    assert_eq!(
        decisions,
        [throttle("alice@carbon.super:/pizzashack/1.0.0", T0 + 1_000)]
    );
    assert_eq!(engine.used("unknown-template-key"), None);
}

#[test]
fn a_policy_change_re_decides_counted_keys() {
    let gold = |max| {
        TrafficPolicies::new().with_limit("subscription:Gold", Limit::requests(max, MINUTE as u64))
    };
    let engine = DecisionEngine::new(gold(10), true);
    let keys = [("3:/api:1", None, Some("subscription:Gold"))];
    let mut decisions = Vec::new();
    for i in 0..4 {
        engine.ingest(&report(T0 + i, &keys), &mut decisions);
    }
    assert!(decisions.is_empty());
    engine.replace_policies(gold(4), T0 + 10, &mut decisions);
    assert_eq!(decisions, [throttle("3:/api:1", T0 + MINUTE)]);
    decisions.clear();
    engine.replace_policies(gold(100), T0 + 20, &mut decisions);
    assert_eq!(decisions, [release("3:/api:1", T0 + MINUTE)]);
    decisions.clear();
    engine.replace_policies(gold(100), T0 + 30, &mut decisions);
    assert!(decisions.is_empty());
}

#[test]
fn a_throttled_key_is_released_when_its_window_rolls_quietly() {
    let engine = DecisionEngine::new(TrafficPolicies::new(), true);
    let one = Some(Limit::requests(1, MINUTE as u64));
    let mut decisions = Vec::new();
    engine.ingest(
        &report(T0 + 5, &[("k", one, Some("application:1PerMin"))]),
        &mut decisions,
    );
    assert_eq!(engine.throttled(T0 + 6), [throttle("k", T0 + MINUTE)]);
    decisions.clear();
    engine.tick(T0 + MINUTE - 1, &mut decisions);
    assert!(decisions.is_empty());
    engine.tick(T0 + MINUTE, &mut decisions);
    assert_eq!(decisions, [release("k", T0 + MINUTE)]);
    assert!(engine.keys_by_policy().is_empty());
}

#[test]
fn an_event_of_a_window_already_left_is_not_counted() {
    let engine = DecisionEngine::new(TrafficPolicies::new(), true);
    let limit = Some(Limit::requests(5, MINUTE as u64));
    let mut decisions = Vec::new();
    engine.ingest(
        &report(T0 + MINUTE + 1, &[("k", limit, None)]),
        &mut decisions,
    );
    engine.ingest(&report(T0 + 1, &[("k", limit, None)]), &mut decisions);
    assert_eq!(engine.used("k"), Some(1));
}

#[test]
fn payloads_are_checked_before_counting() {
    let ok = json!({"time_ms": T0, "keys": [{"key": "a:b", "limit": {"max": 1, "window_ms": 1000, "measure": "requests"}}]});
    assert!(RequestReport::from_payload(&ok).is_ok());
    for bad in [
        json!("nope"),
        json!({"keys": []}),
        json!({"time_ms": "x", "keys": []}),
        json!({"time_ms": T0, "keys": [{"key": ""}]}),
        json!({"time_ms": T0, "keys": [{"key": "k".repeat(MAX_KEY_BYTES + 1)}]}),
        json!({"time_ms": T0, "keys": vec![json!({"key": "k"}); MAX_KEYS_PER_REQUEST + 1]}),
    ] {
        assert!(RequestReport::from_payload(&bad).is_err(), "{bad}");
    }
    // A keygate_throttle::RequestEvent is a report.
    let event = RequestEvent {
        time_ms: T0,
        message_size: 10,
        keys: vec![CountedKey {
            key: Arc::from("a:b"),
            limit: Limit::requests(3, 1_000),
        }],
    };
    let report = RequestReport::from_payload(&serde_json::to_value(&event).unwrap()).unwrap();
    assert_eq!(report.keys[0].limit, Some(Limit::requests(3, 1_000)));
}

#[test]
fn a_typed_event_counts_as_its_report() {
    let two = Limit::requests(2, MINUTE as u64);
    let event = RequestEvent {
        time_ms: T0,
        message_size: 0,
        keys: vec![CountedKey {
            key: Arc::from("7:/pizzashack/1.0.0:1.0.0"),
            limit: two,
        }],
    };
    let typed = DecisionEngine::new(TrafficPolicies::new(), true);
    let reported = DecisionEngine::new(TrafficPolicies::new(), true);
    let (mut from_typed, mut from_reports) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        typed.ingest_event(&event, &mut from_typed);
        reported.ingest(
            &report(T0, &[("7:/pizzashack/1.0.0:1.0.0", Some(two), None)]),
            &mut from_reports,
        );
    }
    assert_eq!(
        from_typed,
        [throttle("7:/pizzashack/1.0.0:1.0.0", T0 + MINUTE)]
    );
    assert_eq!(from_typed, from_reports);
    assert_eq!(typed.used("7:/pizzashack/1.0.0:1.0.0"), Some(3));
}
