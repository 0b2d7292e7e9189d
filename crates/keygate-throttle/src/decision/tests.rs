use super::*;
use keygate_model::Tenant;

const T0: i64 = 1_704_067_200_000;

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
fn decisions_travel_as_key_throttled_expiry() {
    let json = serde_json::to_value(throttle("5:admin@carbon.super", T0)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"key": "5:admin@carbon.super", "throttled": true, "expiry": T0})
    );
    let back: ThrottleDecision = serde_json::from_value(json).unwrap();
    assert_eq!(back, throttle("5:admin@carbon.super", T0));
}

#[test]
fn a_throttle_holds_until_its_expiry_and_never_after() {
    let table = DecisionTable::new();
    assert_eq!(table.throttled_until("k", T0), None);
    assert!(table.apply(&throttle("k", T0 + 1_000), T0));
    assert_eq!(table.throttled_until("k", T0), Some(T0 + 1_000));
    assert_eq!(table.throttled_until("k", T0 + 999), Some(T0 + 1_000));
    assert_eq!(
        table.throttled_until("k", T0 + 1_000),
        None,
        "expiry is exclusive"
    );
    assert_eq!(table.throttled_until("k", T0 + 50_000), None);
    assert_eq!(table.throttled_until("other", T0), None);
}

#[test]
fn expired_decisions_are_not_taken() {
    let table = DecisionTable::new();
    assert!(!table.apply(&throttle("k", T0), T0));
    assert!(!table.apply(&throttle("k", T0 - 5), T0));
    assert!(table.is_empty());
    assert_eq!(table.throttled_until("k", T0 - 10), None);
}

#[test]
fn applying_twice_changes_nothing_and_the_later_expiry_holds() {
    let table = DecisionTable::new();
    assert!(table.apply(&throttle("k", T0 + 2_000), T0));
    assert!(!table.apply(&throttle("k", T0 + 2_000), T0));
    assert_eq!(table.len(), 1);
    assert!(
        !table.apply(&throttle("k", T0 + 1_000), T0),
        "an earlier expiry does not shorten"
    );
    assert!(table.apply(&throttle("k", T0 + 3_000), T0));
    assert_eq!(table.throttled_until("k", T0), Some(T0 + 3_000));
}

#[test]
fn a_release_lifts_throttles_that_end_by_its_time_in_either_order() {
    let table = DecisionTable::new();
    table.apply(&throttle("k", T0 + 60_000), T0);
    assert!(
        !table.apply(&release("k", T0 + 59_000), T0),
        "a later window stays"
    );
    assert!(table.apply(&release("k", T0 + 60_000), T0));
    assert_eq!(table.throttled_until("k", T0), None);
    assert!(
        !table.apply(&release("k", T0 + 60_000), T0),
        "twice is once"
    );
    // Release first, then the throttle it answers: the throttle still ends at its expiry.
    let other = DecisionTable::new();
    other.apply(&release("k", T0 + 60_000), T0);
    other.apply(&throttle("k", T0 + 60_000), T0);
    assert_eq!(other.throttled_until("k", T0 + 60_000), None);
    let lift_all = DecisionTable::new();
    lift_all.apply(&throttle("k", T0 + 600_000), T0);
    assert!(lift_all.apply(&release("k", i64::MAX), T0));
    assert!(lift_all.is_empty());
}

#[test]
fn purge_forgets_expired_decisions() {
    let table = DecisionTable::new();
    table.apply(&throttle("a", T0 + 10), T0);
    table.apply(&throttle("b", T0 + 20), T0);
    assert_eq!(table.purge_expired(T0 + 10), 1);
    assert_eq!(table.len(), 1);
    assert_eq!(table.throttled_until("b", T0 + 15), Some(T0 + 20));
}

fn condition(uuid: &str, condition_type: BlockConditionType, value: &str) -> BlockCondition {
    BlockCondition {
        uuid: uuid.into(),
        tenant: Tenant::super_tenant(),
        condition_type,
        value: value.into(),
        enabled: true,
    }
}

fn query<'a>(ip: &str) -> BlockQuery<'a> {
    BlockQuery {
        api_context: "/pizzashack/1.0.0",
        subscriber: "admin",
        app_name: "DefaultApplication",
        user: "bob@carbon.super",
        api_tenant: "carbon.super",
        client_ip: Some(ip.parse().unwrap()),
    }
}

#[test]
fn each_condition_type_blocks_its_requests() {
    let cases = [
        (BlockConditionType::Api, "/pizzashack/1.0.0", "/other/1.0.0"),
        (
            BlockConditionType::Application,
            "admin:DefaultApplication",
            "admin:OtherApp",
        ),
        (BlockConditionType::User, "bob", "alice"),
        (
            BlockConditionType::User,
            "bob@carbon.super",
            "carol@carbon.super",
        ),
        (BlockConditionType::Ip, "10.0.0.7", "10.0.0.8"),
        (
            BlockConditionType::Ip,
            r#"{"fixedIp":"10.0.0.7","invert":false}"#,
            r#"{"fixedIp":"10.0.0.9"}"#,
        ),
        (
            BlockConditionType::IpRange,
            r#"{"startingIp":"10.0.0.1","endingIp":"10.0.0.10","invert":false}"#,
            r#"{"startingIp":"10.0.1.1","endingIp":"10.0.1.10","invert":false}"#,
        ),
    ];
    for (kind, blocking, other) in cases {
        let (set, errors) = BlockingConditions::from_conditions(&[condition("u1", kind, blocking)]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            set.blocked_by(&query("10.0.0.7")),
            Some(kind),
            "{kind} {blocking}"
        );
        let (set, errors) = BlockingConditions::from_conditions(&[condition("u1", kind, other)]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(set.blocked_by(&query("10.0.0.7")), None, "{kind} {other}");
    }
}

#[test]
fn inverted_ip_conditions_block_everyone_else() {
    let (set, _) = BlockingConditions::from_conditions(&[condition(
        "u1",
        BlockConditionType::IpRange,
        r#"{"startingIp":"10.0.0.1","endingIp":"10.0.0.10","invert":true}"#,
    )]);
    assert_eq!(set.blocked_by(&query("10.0.0.5")), None);
    assert_eq!(
        set.blocked_by(&query("192.168.0.1")),
        Some(BlockConditionType::IpRange)
    );
    let (set, _) = BlockingConditions::from_conditions(&[condition(
        "u2",
        BlockConditionType::Ip,
        r#"{"fixedIp":"10.0.0.5","invert":true}"#,
    )]);
    assert_eq!(set.blocked_by(&query("10.0.0.5")), None);
    assert_eq!(
        set.blocked_by(&query("10.0.0.6")),
        Some(BlockConditionType::Ip)
    );
}

#[test]
fn ip_conditions_cover_ipv6_and_their_tenant_only() {
    let (set, _) = BlockingConditions::from_conditions(&[
        condition(
            "u1",
            BlockConditionType::IpRange,
            r#"{"startingIp":"2001:db8::1","endingIp":"2001:db8::ff"}"#,
        ),
        condition("u2", BlockConditionType::Ip, "2001:db8:1::1"),
    ]);
    assert_eq!(
        set.blocked_by(&query("2001:db8::80")),
        Some(BlockConditionType::IpRange)
    );
    assert_eq!(
        set.blocked_by(&query("2001:db8:1:0::1")),
        Some(BlockConditionType::Ip)
    );
    let other_tenant = BlockQuery {
        api_tenant: "wso2.com",
        ..query("2001:db8::80")
    };
    assert_eq!(set.blocked_by(&other_tenant), None);
    let no_ip = BlockQuery {
        client_ip: None,
        ..query("10.0.0.1")
    };
    assert_eq!(set.blocked_by(&no_ip), None);
}

#[test]
fn disabled_conditions_do_not_block_and_updates_apply() {
    let mut disabled = condition("u1", BlockConditionType::Api, "/pizzashack/1.0.0");
    disabled.enabled = false;
    let (mut set, _) = BlockingConditions::from_conditions(&[disabled.clone()]);
    assert!(set.is_empty());
    assert_eq!(set.blocked_by(&query("10.0.0.1")), None);
    disabled.enabled = true;
    set.upsert(&disabled).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(
        set.blocked_by(&query("10.0.0.1")),
        Some(BlockConditionType::Api)
    );
    disabled.enabled = false;
    set.upsert(&disabled).unwrap();
    assert_eq!(set.blocked_by(&query("10.0.0.1")), None);
    set.upsert(&condition("u2", BlockConditionType::User, "bob"))
        .unwrap();
    assert!(set.remove("u2"));
    assert!(!set.remove("u2"));
    assert!(set.is_empty());
}

#[test]
fn malformed_values_are_reported_and_left_out() {
    let (set, errors) = BlockingConditions::from_conditions(&[
        condition("u1", BlockConditionType::Application, "no-separator"),
        condition("u2", BlockConditionType::Ip, "10.0.0"),
        condition("u3", BlockConditionType::IpRange, "10.0.0.1-10.0.0.2"),
        condition(
            "u4",
            BlockConditionType::IpRange,
            r#"{"startingIp":"10.0.0.9","endingIp":"10.0.0.1"}"#,
        ),
        condition("u5", BlockConditionType::Api, "/ok/1.0.0"),
    ]);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(set.len(), 1);
    assert!(errors[0].to_string().contains("APPLICATION"));
    let mut set = set;
    assert!(
        set.upsert(&condition("u6", BlockConditionType::Ip, "nope"))
            .is_err()
    );
    assert_eq!(set.len(), 1);
}

mod leases {
    use super::*;
    use crate::lease::QuotaLease;
    use crate::window::Limit;

    const WINDOW: u64 = 60_000;

    fn lease(cap: u64, expiry_ms: i64) -> QuotaLease {
        QuotaLease {
            key: "k".into(),
            node: "gw".into(),
            cap,
            max: 50,
            window_ms: WINDOW,
            expiry_ms,
        }
    }

    #[test]
    fn leases_apply_only_while_followed_and_only_in_their_window() {
        let table = DecisionTable::new();
        let limit = Limit::requests(50, WINDOW);
        let end = limit.window_end(T0);
        assert!(table.apply_lease(&lease(20, end), T0));
        assert_eq!(table.lease_cap("k", &limit, T0), None, "not followed yet");
        table.follow_leases_until(T0 + 3_000);
        assert_eq!(table.lease_cap("k", &limit, T0), Some(20));
        assert_eq!(table.lease_cap("other", &limit, T0), Some(1), "starter");
        // Caps only grow within a window; an older window's lease is ignored.
        assert!(!table.apply_lease(&lease(10, end), T0));
        assert!(!table.apply_lease(&lease(40, end - 60_000), T0));
        assert!(table.apply_lease(&lease(30, end), T0));
        assert_eq!(table.lease_cap("k", &limit, T0), Some(30));
        // The next window starts from the starter until its own lease arrives.
        let next = T0 + 60_000;
        table.follow_leases_until(next + 3_000);
        assert_eq!(table.lease_cap("k", &limit, next), Some(1));
        assert!(table.apply_lease(&lease(5, end + 60_000), T0));
        assert_eq!(table.lease_cap("k", &limit, next), Some(5));
        // Heartbeats gone: the whole limit again.
        assert_eq!(table.lease_cap("k", &limit, next + 3_000), None);
        table.follow_leases_until(i64::MAX);
        table.stop_following_leases();
        assert_eq!(table.lease_cap("k", &limit, next), None);
    }

    #[test]
    fn expired_leases_are_ignored_and_purged() {
        let table = DecisionTable::new();
        assert!(!table.apply_lease(&lease(5, T0), T0));
        assert!(table.apply_lease(&lease(5, T0 + 10), T0));
        assert_eq!(table.purge_expired(T0 + 10), 1);
    }
}
