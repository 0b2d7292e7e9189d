use super::*;
use crate::auth::{Principal, TokenKind, UserType};
use crate::authorize::authorize;
use crate::replica::{Replica, ReplicaChange, ReplicaData};
use crate::test_fixtures::{
    API_UUID, APP_UUID, CLIENT, application, key_mapping, pets_api, subscription,
};
use keygate_model::{
    ApiPolicy, ApplicationPolicy, BillingPlan, GlobalPolicy, KeyType, PolicyLevel, QuotaLimit,
    SubscriptionPolicy, SubscriptionStatus, Tenant, TimeUnit,
};
use keygate_throttle::{NoAttributes, ThrottleCode, ThrottleDecision};

const NOW_MS: i64 = 1_700_000_000_000;

fn principal() -> Principal {
    Principal {
        kind: TokenKind::Jwt,
        consumer_key: Some(CLIENT.into()),
        subject: "bob@carbon.super".into(),
        user_type: UserType::ApplicationUser,
        scopes: Box::default(),
        key_type: None,
        issued_at_ms: None,
        expires_at_ms: None,
        not_before_ms: None,
        revocation_ids: Box::default(),
        certificate_thumbprint: None,
        claims: None,
    }
}

fn limit(count: i64) -> QuotaLimit {
    QuotaLimit::requests(count, 1, TimeUnit::Minute)
}

/// A replica whose application, subscription, API and resource tiers are set as given.
fn replica(app_tier: &str, sub_tier: &str, api_tier: Option<&str>, resource_tier: &str) -> Replica {
    let mut api = pets_api();
    api.api_tier = api_tier.map(str::to_owned);
    for template in &mut api.url_templates {
        template.throttling_tier = resource_tier.into();
    }
    let mut app = application(APP_UUID, 3);
    app.tier = app_tier.into();
    let mut sub = subscription("sub", APP_UUID, API_UUID, SubscriptionStatus::Unblocked);
    sub.tier = sub_tier.into();
    let policy = |name: &str| ApiPolicy {
        uuid: name.into(),
        tenant: Tenant::default(),
        name: name.into(),
        display_name: name.into(),
        description: None,
        level: PolicyLevel::Api,
        default_limit: limit(2),
        condition_groups: Vec::new(),
    };
    let replica = Replica::new();
    replica.load_snapshot(ReplicaData {
        revision: 1,
        apis: vec![api],
        applications: vec![app],
        subscriptions: vec![sub],
        key_mappings: vec![key_mapping(CLIENT, APP_UUID, KeyType::Production)],
        subscription_policies: vec![SubscriptionPolicy {
            uuid: "s".into(),
            tenant: Tenant::default(),
            name: "Two".into(),
            display_name: "Two".into(),
            description: None,
            limit: limit(2),
            spike_arrest: None,
            stop_on_quota_reach: true,
            billing_plan: BillingPlan::Free,
        }],
        application_policies: vec![ApplicationPolicy {
            uuid: "a".into(),
            tenant: Tenant::default(),
            name: "TwoPerMin".into(),
            display_name: "TwoPerMin".into(),
            description: None,
            limit: limit(2),
        }],
        api_policies: vec![
            policy("ApiTwo"),
            ApiPolicy {
                level: PolicyLevel::Resource,
                ..policy("ResourceTwo")
            },
        ],
        ..ReplicaData::default()
    });
    replica
}

fn run(
    gateway: &GatewayThrottle,
    replica: &Replica,
    path: &str,
    n: usize,
) -> Vec<Result<Admitted, GatewayError>> {
    let snapshot = replica.snapshot();
    let route = snapshot.route("GET", path).unwrap();
    let anonymous =
        route.resource().unwrap().template.auth_scheme == keygate_model::AuthScheme::None;
    let auth = (!anonymous).then(|| authorize(&snapshot, &route, &principal(), None).unwrap());
    (0..n)
        .map(|i| {
            throttle(
                gateway,
                &snapshot,
                &ThrottleRequest {
                    route: &route,
                    authorization: auth.as_ref(),
                    client_ip: "192.0.2.1".parse().ok(),
                    client_ip_text: "192.0.2.1",
                    message_size: 0,
                    attributes: &NoAttributes,
                },
                NOW_MS + i as i64,
            )
        })
        .collect()
}

fn third_refusal(replica: &Replica, path: &str) -> GatewayError {
    let outcomes = run(&GatewayThrottle::new(), replica, path, 3);
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    outcomes[2].clone().unwrap_err()
}

#[test]
fn each_level_refuses_with_its_code_and_a_retry_after() {
    let cases = [
        (
            replica("Unlimited", "Two", None, "Unlimited"),
            ThrottleCode::SubscriptionThrottled,
        ),
        (
            replica("TwoPerMin", "Unlimited", None, "Unlimited"),
            ThrottleCode::ApplicationThrottled,
        ),
        (
            replica("Unlimited", "Unlimited", Some("ApiTwo"), "Unlimited"),
            ThrottleCode::ApiThrottled,
        ),
        (
            replica("Unlimited", "Unlimited", None, "ResourceTwo"),
            ThrottleCode::ResourceThrottled,
        ),
    ];
    for (replica, code) in cases {
        match third_refusal(&replica, "/pets/1.0.0/items") {
            GatewayError::Throttled {
                code: refused,
                retry_after_secs,
            } => {
                assert_eq!(refused, code);
                assert!((1..=60).contains(&retry_after_secs));
            }
            other => panic!("{code:?}: {other:?}"),
        }
    }
}

#[test]
fn admitted_requests_keep_their_counted_keys() {
    let replica = replica("TwoPerMin", "Two", None, "Unlimited");
    let outcomes = run(&GatewayThrottle::new(), &replica, "/pets/1.0.0/items", 1);
    let admitted = outcomes[0].clone().unwrap();
    let keys: Vec<&str> = admitted.keys.iter().map(|k| &*k.key).collect();
    assert_eq!(keys, ["3:/pets/1.0.0:1.0.0", "3:bob@carbon.super"]);
    assert!(!admitted.over_quota);
}

#[test]
fn custom_policies_obey_the_traffic_managers_decisions() {
    let replica = replica("Unlimited", "Unlimited", None, "Unlimited");
    replica
        .apply(ReplicaChange::GlobalPolicyUpserted(GlobalPolicy {
            uuid: "g".into(),
            tenant: Tenant::default(),
            name: "PerUser".into(),
            description: None,
            key_template: "$userId".into(),
            siddhi_query: String::new(),
            is_deployed: true,
        }))
        .unwrap();
    let gateway = GatewayThrottle::new();
    gateway.decisions().apply(
        &ThrottleDecision {
            key: "bob@carbon.super".into(),
            throttled: true,
            expiry_ms: NOW_MS + 30_000,
        },
        NOW_MS,
    );
    let outcome = run(&gateway, &replica, "/pets/1.0.0/items", 1).remove(0);
    assert_eq!(
        outcome.unwrap_err(),
        GatewayError::Throttled {
            code: ThrottleCode::CustomPolicyThrottled,
            retry_after_secs: 30
        }
    );
}

#[test]
fn unauthenticated_calls_count_under_the_client_address() {
    let replica = replica("Unlimited", "Unlimited", None, "Unlimited");
    let unauthenticated = SubscriptionPolicy {
        uuid: "u".into(),
        tenant: Tenant::default(),
        name: UNAUTHENTICATED_TIER.into(),
        display_name: UNAUTHENTICATED_TIER.into(),
        description: None,
        limit: limit(1),
        spike_arrest: None,
        stop_on_quota_reach: true,
        billing_plan: BillingPlan::Free,
    };
    replica
        .apply(ReplicaChange::SubscriptionPolicyUpserted(unauthenticated))
        .unwrap();
    let outcomes = run(&GatewayThrottle::new(), &replica, "/pets/1.0.0/public", 2);
    let keys: Vec<&str> = outcomes[0]
        .as_ref()
        .unwrap()
        .keys
        .iter()
        .map(|k| &*k.key)
        .collect();
    assert_eq!(keys, ["192.0.2.1:/pets/1.0.0:1.0.0"]);
    assert_eq!(outcomes[1].as_ref().unwrap_err().code(), 900_804);
}

#[test]
fn attributes_read_headers_query_and_claims() {
    let mut headers = HeaderMap::new();
    headers.insert("x-tier", "gold".parse().unwrap());
    let claims = Claims {
        sub: Some("bob".into()),
        extra: serde_json::from_str(r#"{"dept":"eng","n":3}"#).unwrap(),
        ..Claims::default()
    };
    let attributes = HttpAttributes {
        headers: &headers,
        query: Some("a=1&flag&b=two"),
        claims: Some(&claims),
        dialect: "http://wso2.org/claims",
        authorization: None,
    };
    assert_eq!(attributes.header("x-tier"), Some("gold"));
    assert_eq!(attributes.query_param("b"), Some("two"));
    assert_eq!(attributes.query_param("flag"), Some(""));
    assert_eq!(attributes.query_param("c"), None);
    assert_eq!(attributes.claim("sub"), Some("bob"));
    assert_eq!(attributes.claim("dept"), Some("eng"));
    assert_eq!(attributes.claim("n"), None);
    assert_eq!(attributes.claim("http://wso2.org/claims/enduser"), None);

    let replica = replica("Unlimited", "Unlimited", None, "Unlimited");
    let snapshot = replica.snapshot();
    let route = snapshot.route("GET", "/pets/1.0.0/items").unwrap();
    let auth = authorize(&snapshot, &route, &principal(), None).unwrap();
    let attributes = HttpAttributes {
        authorization: Some(&auth),
        ..attributes
    };
    assert_eq!(
        attributes.claim("http://wso2.org/claims/enduser"),
        Some("bob@carbon.super")
    );
    assert_eq!(
        attributes.claim("http://wso2.org/claims/applicationid"),
        Some("3")
    );
    assert_eq!(
        attributes.claim("http://wso2.org/claims/keytype"),
        Some("PRODUCTION")
    );
}
