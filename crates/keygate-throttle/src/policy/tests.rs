use super::*;
use crate::condition::NoAttributes;
use crate::key::ConditionGroupId;
use keygate_model::{ConditionGroup, SpikeArrest, ThrottleCondition};

#[test]
fn wso2_default_tiers_have_wso2_limits() {
    let set = PolicySet::wso2_defaults();
    for (name, max) in [
        ("Gold", 5000),
        ("Silver", 2000),
        ("Bronze", 1000),
        ("Unauthenticated", 500),
    ] {
        let tier = set.subscription(name).unwrap();
        assert_eq!(tier.quota, Some(Limit::requests(max, 60_000)), "{name}");
        assert!(tier.stop_on_quota_reach);
        assert_eq!(tier.spike_arrest, None);
    }
    for (name, max) in [("50PerMin", 50), ("20PerMin", 20), ("10PerMin", 10)] {
        assert_eq!(
            set.application(name).unwrap().quota,
            Some(Limit::requests(max, 60_000)),
            "{name}"
        );
    }
    for (name, max) in [
        ("50KPerMin", 50_000),
        ("20KPerMin", 20_000),
        ("10KPerMin", 10_000),
    ] {
        let groups = set.advanced(name).unwrap().groups.as_ref().unwrap();
        assert!(groups.is_empty());
        let (id, limit) = groups.select(None, &NoAttributes);
        assert_eq!((id, limit.max), (ConditionGroupId::Default, max), "{name}");
    }
    assert_eq!(set.subscription("Unlimited").unwrap().quota, None);
    assert_eq!(set.application("Unlimited").unwrap().quota, None);
    assert!(set.advanced("Unlimited").unwrap().groups.is_none());
    assert!(set.subscription("Platinum").is_none());
    assert!(set.custom_rules().is_empty());
}

#[test]
fn default_records_carry_stable_distinct_uuids() {
    let mut uuids: Vec<String> = default_subscription_policies()
        .into_iter()
        .map(|p| p.uuid)
        .chain(default_application_policies().into_iter().map(|p| p.uuid))
        .chain(default_api_policies().into_iter().map(|p| p.uuid))
        .collect();
    assert_eq!(uuids.len(), 13);
    for uuid in &uuids {
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert_eq!(uuid.matches('-').count(), 4, "{uuid}");
        assert_eq!(&uuid[14..15], "8", "version 8: {uuid}");
    }
    assert_eq!(default_subscription_policies()[0].uuid, uuids[0], "stable");
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 13);
    let gold = &default_subscription_policies()[0];
    assert_eq!(gold.name, "Gold");
    assert_eq!(
        gold.description.as_deref(),
        Some("Allows 5000 requests per minute")
    );
    assert!(gold.tenant.is_super_tenant());
}

fn gold_with(spike_arrest: Option<SpikeArrest>, stop_on_quota_reach: bool) -> SubscriptionPolicy {
    SubscriptionPolicy {
        spike_arrest,
        stop_on_quota_reach,
        ..default_subscription_policies().remove(0)
    }
}

#[test]
fn subscription_policies_compile_spike_arrest_and_stop_on_quota() {
    let mut set = PolicySet::new();
    set.insert_subscription(&gold_with(
        Some(SpikeArrest {
            limit: 10,
            time_unit: TimeUnit::Minute,
        }),
        false,
    ))
    .unwrap();
    let gold = set.subscription("Gold").unwrap();
    assert_eq!(gold.spike_arrest, Some(Limit::requests(1, 6_000)));
    assert!(!gold.stop_on_quota_reach);
    let bad = gold_with(
        Some(SpikeArrest {
            limit: 10,
            time_unit: TimeUnit::Day,
        }),
        true,
    );
    assert!(set.insert_subscription(&bad).is_err());
    assert!(
        !set.subscription("Gold").unwrap().stop_on_quota_reach,
        "kept the old one"
    );
    assert!(set.remove_subscription("Gold"));
    assert!(!set.remove_subscription("Gold"));
}

#[test]
fn advanced_policies_compile_their_groups_in_order() {
    let mut policy = default_api_policies().remove(2);
    policy.condition_groups = vec![
        ConditionGroup {
            description: None,
            conditions: vec![ThrottleCondition::IpSpecific {
                ip: "10.0.0.1".into(),
                invert: false,
            }],
            limit: QuotaLimit::requests(5, 1, TimeUnit::Minute),
        },
        ConditionGroup {
            description: None,
            conditions: vec![ThrottleCondition::IpRange {
                start_ip: "10.0.0.0".into(),
                end_ip: "10.0.0.255".into(),
                invert: false,
            }],
            limit: QuotaLimit::requests(50, 1, TimeUnit::Hour),
        },
    ];
    let mut set = PolicySet::new();
    set.insert_api(&policy).unwrap();
    let groups = set.advanced("10KPerMin").unwrap().groups.as_ref().unwrap();
    assert_eq!(groups.len(), 2);
    let pick = |ip: &str| {
        let (id, limit) = groups.select(Some(ip.parse().unwrap()), &NoAttributes);
        (id, *limit)
    };
    assert_eq!(
        pick("10.0.0.1"),
        (ConditionGroupId::Numbered(1), Limit::requests(5, 60_000))
    );
    assert_eq!(
        pick("10.0.0.2"),
        (
            ConditionGroupId::Numbered(2),
            Limit::requests(50, 3_600_000)
        )
    );
    assert_eq!(
        pick("10.0.1.2"),
        (ConditionGroupId::Default, Limit::requests(10_000, 60_000))
    );
    policy.condition_groups[0].conditions = vec![ThrottleCondition::IpSpecific {
        ip: "not-an-ip".into(),
        invert: false,
    }];
    assert!(matches!(
        set.insert_api(&policy),
        Err(ThrottleError::InvalidIp(_))
    ));
    assert!(set.remove_api("10KPerMin"));
}

#[test]
fn custom_rules_come_from_deployed_global_policies() {
    let mut policy = GlobalPolicy {
        uuid: "u".into(),
        tenant: Tenant::super_tenant(),
        name: "PerUserPerApi".into(),
        description: None,
        key_template: "$userId:$apiContext:$apiVersion".into(),
        siddhi_query: "FROM RequestStream SELECT ...".into(),
        is_deployed: true,
    };
    let mut set = PolicySet::new();
    set.insert_global(&policy).unwrap();
    assert_eq!(set.custom_rules().len(), 1);
    let rule = &set.custom_rules()[0];
    assert_eq!(rule.template.as_str(), "$userId:$apiContext:$apiVersion");
    assert_eq!(rule.quota, None);
    set.insert_custom(
        CustomRule::new("PerUserPerApi", "$userId", Some(Limit::requests(3, 1_000))).unwrap(),
    );
    assert_eq!(set.custom_rules().len(), 1, "replaced by name");
    assert_eq!(set.custom_rules()[0].quota, Some(Limit::requests(3, 1_000)));
    policy.is_deployed = false;
    set.insert_global(&policy).unwrap();
    assert!(set.custom_rules().is_empty());
    policy.is_deployed = true;
    policy.key_template = "$nope".into();
    assert!(set.insert_global(&policy).is_err());
}

#[test]
fn unlimited_is_recognised_in_any_case() {
    assert!(is_unlimited("Unlimited"));
    assert!(is_unlimited("unlimited"));
    assert!(!is_unlimited("Unlimited2"));
    let mut set = PolicySet::new();
    let mut app = default_application_policies().remove(3);
    app.name = "UNLIMITED".into();
    set.insert_application(&app).unwrap();
    assert_eq!(set.application("UNLIMITED").unwrap().quota, None);
    assert!(set.remove_application("UNLIMITED"));
}
