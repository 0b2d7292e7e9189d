//! Every error code of DESIGN §7, provoked once through a running gateway, each with its
//! status and headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use common::*;
use keygate_gateway::{
    KeyValidationInfo, KeyValidationRequest, KeyValidator, KeyValidatorError, ReplicaChange,
};
use keygate_jose::Confirmation;
use keygate_model::{
    ApiPolicy, ApplicationPolicy, BillingPlan, BlockCondition, BlockConditionType, GlobalPolicy,
    KeyType, PolicyLevel, QuotaLimit, SubscriptionPolicy, SubscriptionStatus, Tenant, TimeUnit,
};
use keygate_throttle::ThrottleDecision;
use std::sync::Arc;

/// A key manager that knows two opaque tokens: one inactive, and any other makes it fail.
#[derive(Debug)]
struct KeyManager;

#[async_trait]
impl KeyValidator for KeyManager {
    async fn validate(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, KeyValidatorError> {
        assert_eq!(request.context, "/pets/1.0.0");
        assert_eq!(request.matching_resource, "/items");
        match request.token.expose() {
            "inactive-token" => Ok(KeyValidationInfo {
                authorized: false,
                validation_status: 900_904,
                ..KeyValidationInfo::default()
            }),
            _ => Err(KeyValidatorError::Unavailable("connection refused".into())),
        }
    }
}

async fn expect(response: reqwest::Response, status: u16, code: u64) {
    let www = response.headers().get("www-authenticate").cloned();
    let retry = response.headers().get("retry-after").cloned();
    assert_eq!(code_of(response).await, (status, code));
    assert_eq!(
        www.is_some(),
        status == 401 || code == 900_910,
        "WWW-Authenticate for {code}"
    );
    assert_eq!(retry.is_some(), status == 429, "Retry-After for {code}");
}

#[tokio::test]
async fn authentication_and_authorization_codes() {
    let h = Harness::with(Options {
        validator: Some(Arc::new(KeyManager)),
        ..Options::default()
    })
    .await;
    let items = "/pets/1.0.0/items";

    // 900900: the key manager cannot be reached for an opaque token.
    expect(h.get(items, Some("opaque-token")).await, 500, 900_900).await;
    // 900901: a signature that does not verify.
    let forged = {
        let token = user_token("");
        let other = user_token("other");
        format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            other.rsplit('.').next().unwrap()
        )
    };
    expect(h.get(items, Some(&forged)).await, 401, 900_901).await;
    // 900902: no credentials.
    expect(h.get(items, None).await, 401, 900_902).await;
    // 900903: expired.
    let mut expired = user_claims("bob", "");
    expired.exp = Some(now_s() - 60);
    expect(h.get(items, Some(&sign(&expired))).await, 401, 900_903).await;
    // 900904: the key manager says the token is inactive.
    expect(h.get(items, Some("inactive-token")).await, 401, 900_904).await;
    // 900905: a user token on an application-only resource.
    expect(
        h.get("/pets/1.0.0/apps", Some(&user_token(""))).await,
        401,
        900_905,
    )
    .await;
    // 900906: no such resource.
    expect(
        h.get("/pets/1.0.0/nothing", Some(&user_token(""))).await,
        403,
        900_906,
    )
    .await;
    // 900908: not subscribed to the other API.
    expect(
        h.get("/other/1.0.0/items", Some(&user_token(""))).await,
        403,
        900_908,
    )
    .await;
    // 900910: the admin resource wants the pets:admin scope.
    let response = h
        .client
        .post(h.url("/pets/1.0.0/admin"))
        .bearer_auth(user_token("read"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"keygate\", error=\"insufficient_scope\""
    );
    expect(response, 403, 900_910).await;
    let allowed = h
        .client
        .post(h.url("/pets/1.0.0/admin"))
        .bearer_auth(user_token("read pets:admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    // 900911: a certificate-bound token over a connection without the certificate.
    let mut bound = user_claims("bob", "");
    bound.cnf = Some(Confirmation {
        x5t_s256: Some("bm90LXByZXNlbnRlZA".into()),
        ..Confirmation::default()
    });
    expect(h.get(items, Some(&sign(&bound))).await, 401, 900_911).await;

    // 900909: the subscription is waiting for approval.
    let on_hold = subscription("sub-1", APP, PETS, "Unlimited", SubscriptionStatus::OnHold);
    h.replica
        .apply(ReplicaChange::SubscriptionUpserted(on_hold))
        .unwrap();
    expect(h.get(items, Some(&user_token(""))).await, 401, 900_909).await;
    // 900907: production keys blocked, sandbox keys still pass.
    let prod_blocked = subscription(
        "sub-1",
        APP,
        PETS,
        "Unlimited",
        SubscriptionStatus::ProdOnlyBlocked,
    );
    h.replica
        .apply(ReplicaChange::SubscriptionUpserted(prod_blocked))
        .unwrap();
    expect(h.get(items, Some(&user_token(""))).await, 401, 900_907).await;
    let mut sandbox = user_claims("bob", "");
    sandbox.client_id = Some(SANDBOX_CLIENT.into());
    assert_eq!(h.get(items, Some(&sign(&sandbox))).await.status(), 200);
    // 900907: the API itself blocked.
    let mut blocked_api = api(OTHER, "/other", &h.backend);
    blocked_api.status = keygate_model::ApiStatus::Blocked;
    h.replica
        .apply(ReplicaChange::ApiUpserted(blocked_api))
        .unwrap();
    expect(
        h.get("/other/1.0.0/items", Some(&user_token(""))).await,
        401,
        900_907,
    )
    .await;
}

fn per_minute(count: i64) -> QuotaLimit {
    QuotaLimit::requests(count, 1, TimeUnit::Minute)
}

fn advanced(name: &str, level: PolicyLevel) -> ReplicaChange {
    ReplicaChange::ApiPolicyUpserted(ApiPolicy {
        uuid: name.into(),
        tenant: Tenant::default(),
        name: name.into(),
        display_name: name.into(),
        description: None,
        level,
        default_limit: per_minute(2),
        condition_groups: Vec::new(),
    })
}

/// Two calls pass, the third is refused with `code`.
async fn third_call_is(h: &Harness, path: &str, token: &str, code: u64) {
    for _ in 0..2 {
        assert_eq!(h.get(path, Some(token)).await.status(), 200, "{code}");
    }
    expect(h.get(path, Some(token)).await, 429, code).await;
}

#[tokio::test]
async fn throttling_and_deny_codes() {
    // 900802: the resource's advanced policy.
    let h = Harness::start().await;
    h.replica
        .apply(advanced("ResourceTwo", PolicyLevel::Resource))
        .unwrap();
    third_call_is(&h, "/pets/1.0.0/limited", &user_token(""), 900_802).await;

    // 900800: the API's advanced policy.
    let h = Harness::start().await;
    h.replica
        .apply(advanced("ApiTwo", PolicyLevel::Api))
        .unwrap();
    let mut limited = api(PETS, "/pets", &h.backend);
    limited.api_tier = Some("ApiTwo".into());
    h.replica
        .apply(ReplicaChange::ApiUpserted(limited))
        .unwrap();
    third_call_is(&h, "/pets/1.0.0/items", &user_token(""), 900_800).await;

    // 900804: the subscription's tier.
    let h = Harness::start().await;
    h.replica
        .apply(ReplicaChange::SubscriptionPolicyUpserted(
            SubscriptionPolicy {
                uuid: "two".into(),
                tenant: Tenant::default(),
                name: "Two".into(),
                display_name: "Two".into(),
                description: None,
                limit: per_minute(2),
                spike_arrest: None,
                stop_on_quota_reach: true,
                billing_plan: BillingPlan::Free,
            },
        ))
        .unwrap();
    let sub = subscription("sub-1", APP, PETS, "Two", SubscriptionStatus::Unblocked);
    h.replica
        .apply(ReplicaChange::SubscriptionUpserted(sub))
        .unwrap();
    third_call_is(&h, "/pets/1.0.0/items", &user_token(""), 900_804).await;

    // 900803: the application's tier.
    let h = Harness::start().await;
    h.replica
        .apply(ReplicaChange::ApplicationPolicyUpserted(
            ApplicationPolicy {
                uuid: "2pm".into(),
                tenant: Tenant::default(),
                name: "TwoPerMin".into(),
                display_name: "TwoPerMin".into(),
                description: None,
                limit: per_minute(2),
            },
        ))
        .unwrap();
    h.replica
        .apply(ReplicaChange::ApplicationUpserted(application(
            APP,
            1,
            "TwoPerMin",
        )))
        .unwrap();
    third_call_is(&h, "/pets/1.0.0/items", &user_token(""), 900_803).await;

    // 900806: a custom policy the traffic managers throttled.
    let h = Harness::start().await;
    h.replica
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
    h.gateway.throttle_state().decisions().apply(
        &ThrottleDecision {
            key: "bob@carbon.super".into(),
            throttled: true,
            expiry_ms: (now_s() + 30) * 1000,
        },
        now_s() * 1000,
    );
    let response = h.get("/pets/1.0.0/items", Some(&user_token(""))).await;
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31).contains(&retry));
    expect(response, 429, 900_806).await;

    // 900805: a deny condition on the application.
    let h = Harness::start().await;
    assert_eq!(
        h.get("/pets/1.0.0/items", Some(&user_token("")))
            .await
            .status(),
        200
    );
    h.replica
        .apply(ReplicaChange::BlockConditionUpserted(BlockCondition {
            uuid: "deny".into(),
            tenant: Tenant::default(),
            condition_type: BlockConditionType::Application,
            value: "alice:app1".into(),
            enabled: true,
        }))
        .unwrap();
    expect(
        h.get("/pets/1.0.0/items", Some(&user_token(""))).await,
        403,
        900_805,
    )
    .await;
    // And on the client address, for calls without a token too.
    h.replica
        .apply(ReplicaChange::BlockConditionUpserted(BlockCondition {
            uuid: "deny-ip".into(),
            tenant: Tenant::default(),
            condition_type: BlockConditionType::Ip,
            value: "127.0.0.1".into(),
            enabled: true,
        }))
        .unwrap();
    expect(h.get("/pets/1.0.0/public", None).await, 403, 900_805).await;
    assert_eq!(KeyType::Production.as_str(), "PRODUCTION");
}
