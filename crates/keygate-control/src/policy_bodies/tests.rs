use super::*;
use serde_json::json;

fn fields(errors: Vec<FieldError>) -> Vec<String> {
    errors.into_iter().map(|e| e.field).collect()
}

#[test]
fn a_subscription_policy_round_trips() {
    let body: SubscriptionPolicyBody = serde_json::from_value(json!({
        "policyName": "Platinum",
        "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                         "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 9000}},
        "rateLimitCount": 100, "rateLimitTimeUnit": "sec",
        "stopOnQuotaReach": false, "billingPlan": "COMMERCIAL"
    }))
    .unwrap();
    let policy = body.to_policy("id-1", &Tenant::super_tenant()).unwrap();
    assert_eq!(
        policy.limit,
        QuotaLimit::requests(9000, 1, TimeUnit::Minute)
    );
    assert_eq!(
        policy.spike_arrest,
        Some(SpikeArrest {
            limit: 100,
            time_unit: TimeUnit::Second
        })
    );
    assert!(!policy.stop_on_quota_reach);
    assert_eq!(policy.display_name, "Platinum");
    let back = SubscriptionPolicyBody::from_policy(&policy);
    assert_eq!(back.policy_id.as_deref(), Some("id-1"));
    assert_eq!(
        back.to_policy("id-1", &Tenant::super_tenant()).unwrap(),
        policy
    );
}

#[test]
fn every_bad_field_of_a_subscription_policy_is_named() {
    let body: SubscriptionPolicyBody = serde_json::from_value(json!({
        "policyName": "with space",
        "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                         "requestCount": {"timeUnit": "week", "unitTime": 0, "requestCount": 5}},
        "rateLimitCount": 10, "rateLimitTimeUnit": "hour",
        "billingPlan": "CHEAP"
    }))
    .unwrap();
    let errors = body.to_policy("x", &Tenant::super_tenant()).unwrap_err();
    assert_eq!(
        fields(errors),
        [
            "policyName",
            "defaultLimit.requestCount.timeUnit",
            "defaultLimit.requestCount.unitTime",
            "rateLimitTimeUnit",
            "billingPlan"
        ]
    );
    let missing = SubscriptionPolicyBody::default()
        .to_policy("x", &Tenant::super_tenant())
        .unwrap_err();
    assert_eq!(fields(missing), ["policyName", "defaultLimit"]);
}

#[test]
fn bandwidth_limits_are_read() {
    let body: ApplicationPolicyBody = serde_json::from_value(json!({
        "policyName": "10MBPerHour",
        "defaultLimit": {"type": "BANDWIDTHLIMIT",
                         "bandwidth": {"timeUnit": "hour", "unitTime": 1, "dataAmount": 10, "dataUnit": "MB"}}
    }))
    .unwrap();
    let policy = body.to_policy("a", &Tenant::super_tenant()).unwrap();
    assert_eq!(
        policy.limit.quota,
        Quota::Bandwidth {
            data_amount: 10,
            data_unit: DataUnit::Mb
        }
    );
    let mut bad = body.clone();
    bad.default_limit = Some(ThrottleLimitBody {
        limit_type: Some("BANDWIDTHLIMIT".into()),
        request_count: None,
        bandwidth: Some(BandwidthBody {
            time_unit: Some("hour".into()),
            unit_time: Some(1),
            data_amount: Some(10),
            data_unit: Some("TB".into()),
        }),
    });
    let errors = bad.to_policy("a", &Tenant::super_tenant()).unwrap_err();
    assert_eq!(fields(errors), ["defaultLimit.bandwidth.dataUnit"]);
}

#[test]
fn advanced_conditions_are_converted_and_checked() {
    let body: AdvancedPolicyBody = serde_json::from_value(json!({
        "policyName": "Partners",
        "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                         "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 100}},
        "conditionalGroups": [{
            "description": "office",
            "conditions": [
                {"type": "IPCONDITION", "invertCondition": false,
                 "ipCondition": {"ipConditionType": "IPRANGE", "startingIP": "10.0.0.1", "endingIP": "10.0.0.9"}},
                {"type": "HEADERCONDITION", "invertCondition": true,
                 "headerCondition": {"headerName": "X-Tier", "headerValue": "gold.*"}},
                {"type": "QUERYPARAMETERCONDITION",
                 "queryParameterCondition": {"parameterName": "debug", "parameterValue": "true"}},
                {"type": "JWTCLAIMSCONDITION",
                 "jwtClaimsCondition": {"claimUrl": "http://wso2.org/claims/enduser", "attribute": "admin"}}
            ],
            "limit": {"type": "REQUESTCOUNTLIMIT",
                      "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 1000}}
        }]
    }))
    .unwrap();
    let policy = body.to_policy("p", &Tenant::super_tenant()).unwrap();
    assert_eq!(policy.condition_groups.len(), 1);
    let conditions = &policy.condition_groups[0].conditions;
    assert_eq!(conditions.len(), 4);
    assert!(conditions[1].is_inverted());
    assert!(matches!(conditions[0], ThrottleCondition::IpRange { .. }));
    let back = AdvancedPolicyBody::from_policy(&policy);
    assert_eq!(
        back.to_policy("p", &Tenant::super_tenant()).unwrap(),
        policy
    );

    let mut bad = body;
    bad.conditional_groups[0].conditions[0]
        .ip_condition
        .as_mut()
        .unwrap()
        .starting_ip = Some("10.0.0.300".into());
    bad.conditional_groups[0].conditions[1].condition_type = "COOKIECONDITION".into();
    bad.conditional_groups[0].conditions[2]
        .query_parameter_condition
        .as_mut()
        .unwrap()
        .parameter_value = "([unclosed".into();
    let errors = bad.to_policy("p", &Tenant::super_tenant()).unwrap_err();
    assert_eq!(
        fields(errors),
        [
            "conditionalGroups[0].conditions[0]",
            "conditionalGroups[0].conditions[1].type",
            "conditionalGroups[0].conditions[2]"
        ]
    );
}

#[test]
fn custom_rules_need_a_valid_key_template() {
    let body = CustomRuleBody {
        policy_name: "perUserPerApi".into(),
        siddhi_query: "FROM RequestStream SELECT userId".into(),
        key_template: "$userId:$apiContext".into(),
        ..CustomRuleBody::default()
    };
    let policy = body.to_policy("c", &Tenant::super_tenant()).unwrap();
    assert!(policy.is_deployed);
    let bad = CustomRuleBody {
        key_template: "$nobody".into(),
        siddhi_query: String::new(),
        ..body
    };
    let errors = bad.to_policy("c", &Tenant::super_tenant()).unwrap_err();
    assert_eq!(fields(errors), ["keyTemplate", "siddhiQuery"]);
}
