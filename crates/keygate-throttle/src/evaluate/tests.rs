use super::*;
use crate::condition::AttributeList;
use crate::decision::ThrottleDecision;
use crate::policy::{
    CustomRule, default_api_policies, default_application_policies, default_subscription_policies,
};
use keygate_model::{
    ApiPolicy, ApplicationPolicy, BlockCondition, ConditionGroup, QuotaLimit, SpikeArrest,
    SubscriptionPolicy, Tenant, ThrottleCondition, TimeUnit,
};
use proptest::prelude::*;

/// 2024-01-01T00:00:00Z, a minute boundary.
const T0: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;

fn subscription(name: &str, per_minute: i64) -> SubscriptionPolicy {
    SubscriptionPolicy {
        name: name.into(),
        limit: QuotaLimit::requests(per_minute, 1, TimeUnit::Minute),
        ..default_subscription_policies().remove(0)
    }
}

fn application(name: &str, per_minute: i64) -> ApplicationPolicy {
    ApplicationPolicy {
        name: name.into(),
        limit: QuotaLimit::requests(per_minute, 1, TimeUnit::Minute),
        ..default_application_policies().remove(0)
    }
}

fn advanced(name: &str, per_minute: i64, groups: Vec<ConditionGroup>) -> ApiPolicy {
    ApiPolicy {
        name: name.into(),
        default_limit: QuotaLimit::requests(per_minute, 1, TimeUnit::Minute),
        condition_groups: groups,
        ..default_api_policies().remove(0)
    }
}

/// Subscription `Sub` (`sub`/min), application `App` (`app`/min) and advanced `Adv`
/// (`adv`/min), next to WSO2's defaults.
fn policies(adv: i64, sub: i64, app: i64) -> PolicySet {
    let mut set = PolicySet::wso2_defaults();
    set.insert_subscription(&subscription("Sub", sub)).unwrap();
    set.insert_application(&application("App", app)).unwrap();
    set.insert_api(&advanced("Adv", adv, vec![])).unwrap();
    set
}

fn request(user: &str) -> RequestContext<'_> {
    RequestContext {
        api_context: "/pizzashack/1.0.0",
        api_version: "1.0.0",
        resource: "/menu",
        verb: "GET",
        app_id: "5",
        app_name: "DefaultApplication",
        subscriber: "admin",
        app_tier: "App",
        user,
        app_tenant: "carbon.super",
        api_tenant: "carbon.super",
        subscription_tier: "Sub",
        api_tier: None,
        resource_tier: Some("Adv"),
        client_ip: Some("10.0.0.1".parse().unwrap()),
        message_size: 100,
        backend_max_tps: None,
        attributes: &NoAttributes,
    }
}

const ADMIN: &str = "admin@carbon.super";

fn codes(
    throttle: &GatewayThrottle,
    policies: &PolicySet,
    request: &RequestContext<'_>,
    count: usize,
    now_ms: i64,
) -> Vec<Option<u32>> {
    let blocking = BlockingConditions::new();
    (0..count)
        .map(|_| {
            throttle
                .evaluate(policies, &blocking, request, now_ms)
                .code()
                .map(ThrottleCode::code)
        })
        .collect()
}

fn event_keys(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Admitted {
            request_event_keys, ..
        } => request_event_keys
            .iter()
            .map(|k| k.key.to_string())
            .collect(),
        refused => panic!("expected admission, got {refused:?}"),
    }
}

#[test]
fn an_admitted_request_reports_every_key_it_was_counted_under() {
    let throttle = GatewayThrottle::new();
    let set = policies(10, 10, 10);
    let verdict = throttle.evaluate(&set, &BlockingConditions::new(), &request(ADMIN), T0);
    assert_eq!(
        event_keys(&verdict),
        [
            "/pizzashack/1.0.0/1.0.0/menu:GET_default",
            "5:/pizzashack/1.0.0:1.0.0",
            "5:admin@carbon.super",
        ]
    );
    let Verdict::Admitted {
        request_event_keys,
        over_quota,
    } = verdict
    else {
        unreachable!()
    };
    assert!(!over_quota);
    assert!(
        request_event_keys
            .iter()
            .all(|k| k.limit == Limit::requests(10, 60_000))
    );
}

#[test]
fn the_api_tier_replaces_the_resource_tier_unless_unlimited() {
    let throttle = GatewayThrottle::new();
    let set = policies(10, 10, 10);
    let blocking = BlockingConditions::new();
    let api_level = RequestContext {
        api_tier: Some("Adv"),
        resource_tier: Some("10KPerMin"),
        ..request(ADMIN)
    };
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &api_level, T0));
    assert_eq!(keys[0], "/pizzashack/1.0.0:1.0.0_default");
    let unlimited_api = RequestContext {
        api_tier: Some("Unlimited"),
        ..request(ADMIN)
    };
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &unlimited_api, T0));
    assert_eq!(keys[0], "/pizzashack/1.0.0/1.0.0/menu:GET_default");
    let nothing_advanced = RequestContext {
        resource_tier: Some("Unlimited"),
        ..request(ADMIN)
    };
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &nothing_advanced, T0));
    assert_eq!(keys, ["5:/pizzashack/1.0.0:1.0.0", "5:admin@carbon.super"]);
}

#[test]
fn api_limit_comes_before_subscription_before_application() {
    let cases = [
        // (advanced, subscription, application) limits, and the code of the third request.
        ((2, 2, 2), ThrottleCode::ResourceThrottled),
        ((9, 2, 2), ThrottleCode::SubscriptionThrottled),
        ((9, 9, 2), ThrottleCode::ApplicationThrottled),
    ];
    for ((adv, sub, app), code) in cases {
        let throttle = GatewayThrottle::new();
        let set = policies(adv, sub, app);
        let seen = codes(&throttle, &set, &request(ADMIN), 3, T0);
        assert_eq!(seen, [None, None, Some(code.code())], "{adv}/{sub}/{app}");
    }
    let throttle = GatewayThrottle::new();
    let set = policies(1, 1, 1);
    let api_level = RequestContext {
        api_tier: Some("Adv"),
        ..request(ADMIN)
    };
    assert_eq!(
        codes(&throttle, &set, &api_level, 2, T0),
        [None, Some(900_800)]
    );
}

#[test]
fn a_refused_request_uses_no_quota() {
    let throttle = GatewayThrottle::new();
    // Subscription 2/min shared by users; application 1/min per user.
    let set = policies(100, 2, 1);
    let blocking = BlockingConditions::new();
    let eval = |user| {
        throttle
            .evaluate(&set, &blocking, &request(user), T0)
            .code()
    };
    assert_eq!(eval("alice@carbon.super"), None);
    // Counted at the API and subscription levels, refused at the application level:
    // both counts are given back.
    assert_eq!(
        eval("alice@carbon.super"),
        Some(ThrottleCode::ApplicationThrottled)
    );
    assert_eq!(
        eval("alice@carbon.super"),
        Some(ThrottleCode::ApplicationThrottled)
    );
    assert_eq!(
        eval("bob@carbon.super"),
        None,
        "the subscription still has room"
    );
    assert_eq!(
        eval("carol@carbon.super"),
        Some(ThrottleCode::SubscriptionThrottled)
    );
    let api_key = "/pizzashack/1.0.0/1.0.0/menu:GET_default";
    let used = throttle
        .table(Level::Advanced)
        .used(api_key, &Limit::requests(100, 60_000), T0);
    assert_eq!(used, 2, "only admitted requests count at the API level");
}

#[test]
fn windows_roll_over_with_injected_time() {
    let throttle = GatewayThrottle::new();
    let set = policies(100, 100, 2);
    assert_eq!(
        codes(&throttle, &set, &request(ADMIN), 3, T0 + 10),
        [None, None, Some(900_803)]
    );
    let blocking = BlockingConditions::new();
    let refused = throttle.evaluate(&set, &blocking, &request(ADMIN), T0 + 59_000);
    assert_eq!(
        refused,
        Verdict::Throttled {
            code: ThrottleCode::ApplicationThrottled,
            retry_after_ms: 1_000
        }
    );
    assert_eq!(refused.retry_after_secs(), Some(1));
    assert_eq!(
        codes(&throttle, &set, &request(ADMIN), 3, T0 + MINUTE),
        [None, None, Some(900_803)]
    );
}

#[test]
fn deny_conditions_refuse_before_any_counting() {
    let throttle = GatewayThrottle::new();
    let set = policies(1, 1, 1);
    let (blocking, errors) = BlockingConditions::from_conditions(&[BlockCondition {
        uuid: "b1".into(),
        tenant: Tenant::super_tenant(),
        condition_type: BlockConditionType::Ip,
        value: "10.0.0.66".into(),
        enabled: true,
    }]);
    assert!(errors.is_empty());
    let blocked = RequestContext {
        client_ip: Some("10.0.0.66".parse().unwrap()),
        ..request(ADMIN)
    };
    for _ in 0..3 {
        let verdict = throttle.evaluate(&set, &blocking, &blocked, T0);
        assert_eq!(
            verdict,
            Verdict::Blocked {
                by: BlockConditionType::Ip
            }
        );
        assert_eq!(verdict.code().map(ThrottleCode::code), Some(900_805));
        assert_eq!(verdict.retry_after_secs(), None);
    }
    // Nothing was counted: the same user from another address still has its one request.
    let verdict = throttle.evaluate(&set, &blocking, &request(ADMIN), T0);
    assert!(verdict.is_admitted(), "{verdict:?}");
}

#[test]
fn condition_groups_pick_their_own_key_and_limit() {
    let mut set = policies(100, 100, 100);
    let partner = ConditionGroup {
        description: Some("partners".into()),
        conditions: vec![ThrottleCondition::Header {
            name: "X-Partner".into(),
            value: "^acme$".into(),
            invert: false,
        }],
        limit: QuotaLimit::requests(1, 1, TimeUnit::Minute),
    };
    let internal = ConditionGroup {
        description: None,
        conditions: vec![ThrottleCondition::IpSpecific {
            ip: "10.0.0.0/8".into(),
            invert: true,
        }],
        limit: QuotaLimit::requests(5, 1, TimeUnit::Minute),
    };
    set.insert_api(&advanced("Adv", 100, vec![partner, internal]))
        .unwrap();
    let throttle = GatewayThrottle::new();
    let blocking = BlockingConditions::new();
    let headers = [("x-partner", "acme")];
    let acme = AttributeList {
        headers: &headers,
        ..AttributeList::default()
    };
    let partner_request = RequestContext {
        attributes: &acme,
        ..request(ADMIN)
    };
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &partner_request, T0));
    assert_eq!(keys[0], "/pizzashack/1.0.0/1.0.0/menu:GET_condition_1");
    assert_eq!(
        throttle
            .evaluate(&set, &blocking, &partner_request, T0)
            .code(),
        Some(ThrottleCode::ResourceThrottled)
    );
    // Outside 10/8 (the inverted condition holds): group 2.
    let outside = RequestContext {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..request(ADMIN)
    };
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &outside, T0));
    assert_eq!(keys[0], "/pizzashack/1.0.0/1.0.0/menu:GET_condition_2");
    // Neither: the default group, unaffected by the partner's exhausted group.
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &request(ADMIN), T0));
    assert_eq!(keys[0], "/pizzashack/1.0.0/1.0.0/menu:GET_default");
}

#[test]
fn traffic_manager_decisions_are_obeyed_until_they_expire() {
    let throttle = GatewayThrottle::new();
    let set = policies(100, 100, 100);
    let blocking = BlockingConditions::new();
    throttle.decisions().apply(
        &ThrottleDecision {
            key: "5:/pizzashack/1.0.0:1.0.0".into(),
            throttled: true,
            expiry_ms: T0 + 30_000,
        },
        T0,
    );
    assert_eq!(
        throttle.evaluate(&set, &blocking, &request(ADMIN), T0 + 10_000),
        Verdict::Throttled {
            code: ThrottleCode::SubscriptionThrottled,
            retry_after_ms: 20_000
        }
    );
    assert!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0 + 30_000)
            .is_admitted(),
        "never obeyed past expiry"
    );
    throttle.decisions().apply(
        &ThrottleDecision {
            key: "/pizzashack/1.0.0/1.0.0/menu:GET_default".into(),
            throttled: true,
            expiry_ms: T0 + 40_000,
        },
        T0,
    );
    assert_eq!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0 + 35_000)
            .code(),
        Some(ThrottleCode::ResourceThrottled)
    );
    throttle.decisions().apply(
        &ThrottleDecision {
            key: "5:admin@carbon.super".into(),
            throttled: true,
            expiry_ms: T0 + 50_000,
        },
        T0,
    );
    assert_eq!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0 + 45_000)
            .code(),
        Some(ThrottleCode::ApplicationThrottled)
    );
    assert!(throttle.purge(T0 + MINUTE) >= 3);
    assert!(throttle.decisions().is_empty());
}

#[test]
fn a_subscription_that_does_not_stop_on_quota_admits_and_reports() {
    let mut set = policies(100, 100, 100);
    let mut sub = subscription("Sub", 2);
    sub.stop_on_quota_reach = false;
    set.insert_subscription(&sub).unwrap();
    let throttle = GatewayThrottle::new();
    let blocking = BlockingConditions::new();
    let over: Vec<_> = (0..4)
        .map(
            |_| match throttle.evaluate(&set, &blocking, &request(ADMIN), T0) {
                Verdict::Admitted { over_quota, .. } => over_quota,
                refused => panic!("refused: {refused:?}"),
            },
        )
        .collect();
    assert_eq!(over, [false, false, true, true]);
    // A traffic manager's throttle on the key is reported the same way.
    let fresh = GatewayThrottle::new();
    fresh.decisions().apply(
        &ThrottleDecision {
            key: "5:/pizzashack/1.0.0:1.0.0".into(),
            throttled: true,
            expiry_ms: T0 + 1_000,
        },
        T0,
    );
    match fresh.evaluate(&set, &blocking, &request(ADMIN), T0) {
        Verdict::Admitted { over_quota, .. } => assert!(over_quota),
        refused => panic!("refused: {refused:?}"),
    }
}

#[test]
fn spike_arrest_smooths_a_subscription_and_reports_900804() {
    let mut set = policies(100, 100, 100);
    let mut sub = subscription("Sub", 100);
    sub.spike_arrest = Some(SpikeArrest {
        limit: 10,
        time_unit: TimeUnit::Minute,
    });
    set.insert_subscription(&sub).unwrap();
    let throttle = GatewayThrottle::new();
    let blocking = BlockingConditions::new();
    assert!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0)
            .is_admitted()
    );
    assert_eq!(
        throttle.evaluate(&set, &blocking, &request(ADMIN), T0 + 1_000),
        Verdict::Throttled {
            code: ThrottleCode::SubscriptionThrottled,
            retry_after_ms: 5_000
        }
    );
    assert!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0 + 6_000)
            .is_admitted()
    );
    let sub_key = "5:/pizzashack/1.0.0:1.0.0";
    let used = throttle
        .table(Level::Subscription)
        .used(sub_key, &Limit::requests(100, 60_000), T0);
    assert_eq!(used, 2, "the arrested request gave its count back");
}

#[test]
fn spike_arrest_is_given_back_when_a_later_level_refuses() {
    let mut set = policies(100, 100, 1);
    let mut sub = subscription("Sub", 100);
    sub.spike_arrest = Some(SpikeArrest {
        limit: 1,
        time_unit: TimeUnit::Minute,
    });
    set.insert_subscription(&sub).unwrap();
    let throttle = GatewayThrottle::new();
    let blocking = BlockingConditions::new();
    let admin_without_app_limit = RequestContext {
        app_tier: "Unlimited",
        ..request(ADMIN)
    };
    // Exhaust the application for bob; his refused request must not take the spike slot.
    let bob = RequestContext {
        app_tier: "App",
        ..request("bob@carbon.super")
    };
    set.insert_application(&application("App", 0)).unwrap();
    assert_eq!(
        throttle.evaluate(&set, &blocking, &bob, T0).code(),
        Some(ThrottleCode::ApplicationThrottled)
    );
    assert!(
        throttle
            .evaluate(&set, &blocking, &admin_without_app_limit, T0)
            .is_admitted()
    );
}

#[test]
fn custom_rules_count_and_obey_their_rendered_keys() {
    let mut set = policies(100, 100, 100);
    set.insert_custom(
        CustomRule::new(
            "PerUser",
            "$userId:$apiContext",
            Some(Limit::requests(1, 60_000)),
        )
        .unwrap(),
    );
    set.insert_custom(CustomRule::new("ByIp", "$clientIp|$resourceKey", None).unwrap());
    let throttle = GatewayThrottle::new();
    let blocking = BlockingConditions::new();
    let keys = event_keys(&throttle.evaluate(&set, &blocking, &request(ADMIN), T0));
    assert_eq!(keys[3], "admin@carbon.super:/pizzashack/1.0.0");
    assert_eq!(keys.len(), 4, "a rule without quota is not counted");
    assert_eq!(
        throttle
            .evaluate(&set, &blocking, &request(ADMIN), T0)
            .code(),
        Some(ThrottleCode::CustomPolicyThrottled)
    );
    throttle.decisions().apply(
        &ThrottleDecision {
            key: "10.0.0.1|/pizzashack/1.0.0/1.0.0/menu:GET".into(),
            throttled: true,
            expiry_ms: T0 + 5_000,
        },
        T0,
    );
    let other_user = request("bob@carbon.super");
    assert_eq!(
        throttle.evaluate(&set, &blocking, &other_user, T0).code(),
        Some(ThrottleCode::CustomPolicyThrottled)
    );
}

#[test]
fn the_backend_hard_limit_is_checked_last() {
    let throttle = GatewayThrottle::new();
    let set = policies(100, 100, 100);
    let limited = RequestContext {
        backend_max_tps: Some(2),
        ..request(ADMIN)
    };
    assert_eq!(
        codes(&throttle, &set, &limited, 3, T0 + 500),
        [None, None, Some(900_801)]
    );
    let verdict = throttle.evaluate(&set, &BlockingConditions::new(), &limited, T0 + 600);
    assert_eq!(
        verdict,
        Verdict::Throttled {
            code: ThrottleCode::HardLimitExceeded,
            retry_after_ms: 400
        }
    );
    assert_eq!(verdict.retry_after_secs(), Some(1));
    assert_eq!(codes(&throttle, &set, &limited, 1, T0 + 1_000), [None]);
}

#[test]
fn bandwidth_quotas_count_message_sizes() {
    let mut set = policies(100, 100, 100);
    let mut app = application("App", 0);
    app.limit = QuotaLimit {
        quota: keygate_model::Quota::Bandwidth {
            data_amount: 1,
            data_unit: keygate_model::DataUnit::Kb,
        },
        unit_time: 1,
        time_unit: TimeUnit::Minute,
    };
    set.insert_application(&app).unwrap();
    let throttle = GatewayThrottle::new();
    let big = RequestContext {
        message_size: 600,
        ..request(ADMIN)
    };
    assert_eq!(
        codes(&throttle, &set, &big, 3, T0),
        [None, None, Some(900_803)]
    );
}

#[test]
fn unknown_tiers_are_not_counted() {
    let throttle = GatewayThrottle::new();
    let set = policies(1, 1, 1);
    let unknown = RequestContext {
        subscription_tier: "Platinum",
        app_tier: "Nope",
        resource_tier: Some("Missing"),
        ..request(ADMIN)
    };
    assert_eq!(codes(&throttle, &set, &unknown, 5, T0), [None; 5]);
}

#[test]
fn codes_messages_and_debug_output() {
    let all = [
        (ThrottleCode::ApiThrottled, 900_800),
        (ThrottleCode::HardLimitExceeded, 900_801),
        (ThrottleCode::ResourceThrottled, 900_802),
        (ThrottleCode::ApplicationThrottled, 900_803),
        (ThrottleCode::SubscriptionThrottled, 900_804),
        (ThrottleCode::Blocked, 900_805),
        (ThrottleCode::CustomPolicyThrottled, 900_806),
    ];
    for (code, number) in all {
        assert_eq!(code.code(), number);
        assert_eq!(code.to_string(), number.to_string());
    }
    assert_eq!(ThrottleCode::Blocked.message(), "Message blocked");
    assert_eq!(
        ThrottleCode::HardLimitExceeded.message(),
        "API Limit Reached"
    );
    assert_eq!(
        ThrottleCode::SubscriptionThrottled.description(),
        "You have exceeded your quota"
    );
    let debug = format!("{:?}", request(ADMIN));
    assert!(debug.contains("/pizzashack/1.0.0"), "{debug}");
    let empty = RequestContext::default();
    assert_eq!(empty.attributes.header("x"), None);
}

#[test]
fn threads_evaluating_one_key_admit_exactly_the_limit() {
    let throttle = GatewayThrottle::new();
    let set = policies(10_000, 10_000, 250);
    let blocking = BlockingConditions::new();
    let admitted: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..100)
                        .filter(|i| {
                            throttle
                                .evaluate(&set, &blocking, &request(ADMIN), T0 + i)
                                .is_admitted()
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(admitted, 250);
    let sub_used = throttle.table(Level::Subscription).used(
        "5:/pizzashack/1.0.0:1.0.0",
        &Limit::requests(10_000, 60_000),
        T0,
    );
    assert_eq!(
        sub_used, 250,
        "refused requests gave their subscription count back"
    );
}

proptest! {
    #[test]
    fn admitted_requests_never_exceed_any_level(
        steps in proptest::collection::vec((0i64..4_000, 0usize..3), 1..150),
        sub in 1i64..8,
        app in 1i64..5,
    ) {
        let throttle = GatewayThrottle::new();
        let set = policies(1_000, sub, app);
        let blocking = BlockingConditions::new();
        let users = ["a@carbon.super", "b@carbon.super", "c@carbon.super"];
        let mut now = T0;
        let mut per_user = std::collections::HashMap::new();
        let mut per_sub = std::collections::HashMap::new();
        for (advance, user) in steps {
            now += advance;
            let verdict = throttle.evaluate(&set, &blocking, &request(users[user]), now);
            let window = now - now.rem_euclid(MINUTE);
            if verdict.is_admitted() {
                *per_user.entry((user, window)).or_insert(0i64) += 1;
                *per_sub.entry(window).or_insert(0i64) += 1;
            } else {
                prop_assert!(matches!(
                    verdict.code(),
                    Some(ThrottleCode::SubscriptionThrottled | ThrottleCode::ApplicationThrottled)
                ));
            }
        }
        prop_assert!(per_user.values().all(|n| *n <= app));
        prop_assert!(per_sub.values().all(|n| *n <= sub));
    }
}

#[test]
fn a_gateway_following_leases_stops_at_its_cap_and_reports_the_whole_limit() {
    let throttle = GatewayThrottle::new();
    // The API and subscription limits' starters (1 %) leave room for every call here.
    let set = policies(10_000, 10_000, 10);
    let key = "5:admin@carbon.super";
    throttle.decisions().follow_leases_until(T0 + 3_000);
    // Before its lease: the starter (1 % of 10, at least 1).
    assert_eq!(
        codes(&throttle, &set, &request(ADMIN), 2, T0),
        [None, Some(900_803)]
    );
    throttle.decisions().apply_lease(
        &crate::lease::QuotaLease {
            key: key.into(),
            node: "gw".into(),
            cap: 4,
            max: 10,
            window_ms: 60_000,
            expiry_ms: T0 + MINUTE,
        },
        T0,
    );
    // The cap counts what was admitted before it: three more.
    let verdict = throttle.evaluate(&set, &BlockingConditions::new(), &request(ADMIN), T0);
    let Verdict::Admitted {
        request_event_keys, ..
    } = verdict
    else {
        panic!("admitted under the lease")
    };
    assert!(
        request_event_keys
            .iter()
            .all(|k| k.limit.max == 10_000 || k.limit == Limit::requests(10, 60_000)),
        "{request_event_keys:?}"
    );
    assert_eq!(
        codes(&throttle, &set, &request(ADMIN), 3, T0),
        [None, None, Some(900_803)]
    );
    // Without a leading traffic manager the whole limit holds again.
    throttle.decisions().stop_following_leases();
    assert_eq!(
        codes(&throttle, &set, &request(ADMIN), 7, T0),
        [None, None, None, None, None, None, Some(900_803)]
    );
}
