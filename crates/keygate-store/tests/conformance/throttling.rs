//! Throttling policies of all four kinds, deny conditions and revoked tokens.

use crate::samples::{self, NOW};
use keygate_model::*;
use keygate_store::{Page, Stores};
use std::sync::Arc;

fn gold() -> SubscriptionPolicy {
    SubscriptionPolicy {
        uuid: samples::id(),
        tenant: Tenant::default(),
        name: "Gold".into(),
        display_name: "Gold".into(),
        description: Some("5000 per minute".into()),
        limit: QuotaLimit::requests(5000, 1, TimeUnit::Minute),
        spike_arrest: Some(SpikeArrest {
            limit: 100,
            time_unit: TimeUnit::Second,
        }),
        stop_on_quota_reach: true,
        billing_plan: BillingPlan::Free,
    }
}

pub async fn subscription_and_application_policies(stores: Arc<Stores>) {
    let tenant = Tenant::default();
    let subs = stores.subscription_policies();
    let gold = gold();
    subs.create_subscription_policy(&gold).await.unwrap();
    assert_eq!(
        subs.subscription_policy(&tenant, "Gold")
            .await
            .unwrap()
            .unwrap(),
        gold
    );
    assert!(
        subs.subscription_policy(&tenant, "Silver")
            .await
            .unwrap()
            .is_none()
    );
    let mut again = gold.clone();
    again.uuid = samples::id();
    assert!(
        subs.create_subscription_policy(&again)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let bandwidth = SubscriptionPolicy {
        uuid: samples::id(),
        name: "Bronze".into(),
        display_name: "Bronze".into(),
        description: None,
        limit: QuotaLimit {
            quota: Quota::Bandwidth {
                data_amount: 10,
                data_unit: DataUnit::Mb,
            },
            unit_time: 2,
            time_unit: TimeUnit::Hour,
        },
        spike_arrest: None,
        stop_on_quota_reach: false,
        billing_plan: BillingPlan::Commercial,
        ..gold.clone()
    };
    subs.create_subscription_policy(&bandwidth).await.unwrap();
    assert_eq!(
        subs.subscription_policy(&tenant, "Bronze")
            .await
            .unwrap()
            .unwrap(),
        bandwidth
    );
    let names: Vec<_> = subs
        .list_subscription_policies(&tenant, Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Bronze", "Gold"]);
    assert_eq!(
        subs.list_subscription_policies(&tenant, Page::new(1, 1))
            .await
            .unwrap()[0]
            .name,
        "Gold"
    );
    let mut changed = gold.clone();
    changed.limit = QuotaLimit::requests(6000, 1, TimeUnit::Minute);
    changed.spike_arrest = None;
    subs.update_subscription_policy(&changed).await.unwrap();
    assert_eq!(
        subs.subscription_policy(&tenant, "Gold")
            .await
            .unwrap()
            .unwrap(),
        changed
    );
    let mut ghost = changed.clone();
    ghost.uuid = samples::id();
    assert!(
        subs.update_subscription_policy(&ghost)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        subs.delete_subscription_policy(&tenant, "Gold")
            .await
            .unwrap()
    );
    assert!(
        !subs
            .delete_subscription_policy(&tenant, "Gold")
            .await
            .unwrap()
    );

    let apps = stores.application_policies();
    let ten = ApplicationPolicy {
        uuid: samples::id(),
        tenant: tenant.clone(),
        name: "10PerMin".into(),
        display_name: "10 per minute".into(),
        description: None,
        limit: QuotaLimit::requests(10, 1, TimeUnit::Minute),
    };
    apps.create_application_policy(&ten).await.unwrap();
    assert_eq!(
        apps.application_policy(&tenant, "10PerMin")
            .await
            .unwrap()
            .unwrap(),
        ten
    );
    assert!(
        apps.create_application_policy(&ApplicationPolicy {
            uuid: samples::id(),
            ..ten.clone()
        })
        .await
        .unwrap_err()
        .is_conflict()
    );
    // Names are per kind: a subscription policy may share one.
    subs.create_subscription_policy(&SubscriptionPolicy {
        uuid: samples::id(),
        name: "10PerMin".into(),
        ..gold.clone()
    })
    .await
    .unwrap();
    let mut changed = ten.clone();
    changed.limit = QuotaLimit::requests(20, 1, TimeUnit::Minute);
    apps.update_application_policy(&changed).await.unwrap();
    assert_eq!(
        apps.list_application_policies(&tenant, Page::ALL)
            .await
            .unwrap(),
        [changed.clone()]
    );
    assert!(
        apps.update_application_policy(&ApplicationPolicy {
            uuid: samples::id(),
            ..changed
        })
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        apps.delete_application_policy(&tenant, "10PerMin")
            .await
            .unwrap()
    );
    assert!(
        apps.application_policy(&tenant, "10PerMin")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn api_and_global_policies(stores: Arc<Stores>) {
    let tenant = Tenant::default();
    let apis = stores.api_policies();
    let policy = ApiPolicy {
        uuid: samples::id(),
        tenant: tenant.clone(),
        name: "50KPerMin".into(),
        display_name: "50K per minute".into(),
        description: Some("advanced".into()),
        level: PolicyLevel::Api,
        default_limit: QuotaLimit::requests(50_000, 1, TimeUnit::Minute),
        condition_groups: vec![ConditionGroup {
            description: Some("internal callers".into()),
            conditions: vec![
                ThrottleCondition::IpRange {
                    start_ip: "10.0.0.1".into(),
                    end_ip: "10.0.0.255".into(),
                    invert: true,
                },
                ThrottleCondition::Header {
                    name: "X-Tier".into(),
                    value: "gold.*".into(),
                    invert: false,
                },
                ThrottleCondition::QueryParameter {
                    name: "debug".into(),
                    value: "true".into(),
                    invert: false,
                },
                ThrottleCondition::JwtClaim {
                    claim_uri: "http://wso2.org/claims/enduser".into(),
                    value: "admin".into(),
                    invert: true,
                },
                ThrottleCondition::IpSpecific {
                    ip: "192.0.2.1".into(),
                    invert: false,
                },
            ],
            limit: QuotaLimit::requests(100, 1, TimeUnit::Second),
        }],
    };
    apis.create_api_policy(&policy).await.unwrap();
    assert_eq!(
        apis.api_policy(&tenant, "50KPerMin")
            .await
            .unwrap()
            .unwrap(),
        policy
    );
    assert!(
        apis.create_api_policy(&ApiPolicy {
            uuid: samples::id(),
            ..policy.clone()
        })
        .await
        .unwrap_err()
        .is_conflict()
    );
    let mut changed = policy.clone();
    changed.level = PolicyLevel::Resource;
    changed.condition_groups.clear();
    apis.update_api_policy(&changed).await.unwrap();
    assert_eq!(
        apis.list_api_policies(&tenant, Page::ALL).await.unwrap(),
        [changed.clone()]
    );
    assert!(
        apis.update_api_policy(&ApiPolicy {
            uuid: samples::id(),
            ..changed
        })
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(apis.delete_api_policy(&tenant, "50KPerMin").await.unwrap());
    assert!(!apis.delete_api_policy(&tenant, "50KPerMin").await.unwrap());

    let globals = stores.global_policies();
    let global = GlobalPolicy {
        uuid: samples::id(),
        tenant: tenant.clone(),
        name: "per-user".into(),
        description: None,
        key_template: "$userId:$apiContext".into(),
        siddhi_query: "FROM RequestStream SELECT userId, apiContext INSERT INTO EligibilityStream;"
            .into(),
        is_deployed: false,
    };
    globals.create_global_policy(&global).await.unwrap();
    assert_eq!(
        globals
            .global_policy(&tenant, "per-user")
            .await
            .unwrap()
            .unwrap(),
        global
    );
    let same_template = GlobalPolicy {
        uuid: samples::id(),
        name: "other".into(),
        ..global.clone()
    };
    assert!(
        globals
            .create_global_policy(&same_template)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut deployed = global.clone();
    deployed.is_deployed = true;
    deployed.key_template = "$userId".into();
    globals.update_global_policy(&deployed).await.unwrap();
    assert_eq!(
        globals
            .list_global_policies(&tenant, Page::ALL)
            .await
            .unwrap(),
        [deployed.clone()]
    );
    assert!(
        globals
            .update_global_policy(&GlobalPolicy {
                uuid: samples::id(),
                ..deployed
            })
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        globals
            .delete_global_policy(&tenant, "per-user")
            .await
            .unwrap()
    );
    assert!(
        globals
            .list_global_policies(&tenant, Page::ALL)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn block_conditions_and_revoked_tokens(stores: Arc<Stores>) {
    let tenant = Tenant::default();
    let blocks = stores.block_conditions();
    let ip = BlockCondition {
        uuid: samples::id(),
        tenant: tenant.clone(),
        condition_type: BlockConditionType::Ip,
        value: "192.0.2.7".into(),
        enabled: true,
    };
    let range = BlockCondition {
        uuid: samples::id(),
        condition_type: BlockConditionType::IpRange,
        value: r#"{"startingIp":"10.0.0.1","endingIp":"10.0.0.9","invert":false}"#.into(),
        ..ip.clone()
    };
    let app = BlockCondition {
        uuid: samples::id(),
        condition_type: BlockConditionType::Application,
        value: "alice:Mobile".into(),
        enabled: false,
        ..ip.clone()
    };
    for condition in [&ip, &range, &app] {
        blocks.create_block_condition(condition).await.unwrap();
    }
    assert!(
        blocks
            .create_block_condition(&BlockCondition {
                uuid: samples::id(),
                ..ip.clone()
            })
            .await
            .unwrap_err()
            .is_conflict()
    );
    // The same value under another type is another condition.
    blocks
        .create_block_condition(&BlockCondition {
            uuid: samples::id(),
            condition_type: BlockConditionType::User,
            ..ip.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        blocks.block_condition(&range.uuid).await.unwrap().unwrap(),
        range
    );
    assert!(blocks.block_condition("missing").await.unwrap().is_none());
    let types: Vec<_> = blocks
        .list_block_conditions(&tenant, Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.condition_type)
        .collect();
    assert_eq!(
        types,
        [
            BlockConditionType::Application,
            BlockConditionType::Ip,
            BlockConditionType::IpRange,
            BlockConditionType::User
        ]
    );
    assert!(
        blocks
            .set_block_condition_enabled(&app.uuid, true)
            .await
            .unwrap()
    );
    assert!(
        blocks
            .set_block_condition_enabled(&app.uuid, true)
            .await
            .unwrap()
    );
    assert!(
        !blocks
            .set_block_condition_enabled("missing", true)
            .await
            .unwrap()
    );
    assert!(
        blocks
            .block_condition(&app.uuid)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(blocks.delete_block_condition(&app.uuid).await.unwrap());
    assert!(!blocks.delete_block_condition(&app.uuid).await.unwrap());
    assert_eq!(
        blocks
            .list_block_conditions(&tenant, Page::new(10, 1))
            .await
            .unwrap()
            .len(),
        2
    );

    let revoked = stores.revoked_tokens();
    let jwt = RevokedToken {
        tenant: tenant.clone(),
        signature: "sig-1".into(),
        token_type: RevokedTokenType::JwtSignature,
        expiry_time_ms: NOW + 1_000,
        revoked_at_ms: NOW,
    };
    let jti = RevokedToken {
        signature: "jti-2".into(),
        token_type: RevokedTokenType::Jti,
        expiry_time_ms: NOW + 2_000,
        ..jwt.clone()
    };
    assert!(revoked.insert_revoked_token(&jwt).await.unwrap());
    assert!(
        !revoked.insert_revoked_token(&jwt).await.unwrap(),
        "idempotent"
    );
    assert!(revoked.insert_revoked_token(&jti).await.unwrap());
    assert_eq!(revoked.revoked_token("sig-1").await.unwrap().unwrap(), jwt);
    assert!(revoked.revoked_token("sig-9").await.unwrap().is_none());
    assert_eq!(
        revoked.list_revoked_tokens(NOW, Page::ALL).await.unwrap(),
        [jwt.clone(), jti.clone()]
    );
    assert_eq!(
        revoked
            .list_revoked_tokens(NOW + 1_000, Page::ALL)
            .await
            .unwrap(),
        std::slice::from_ref(&jti)
    );
    assert_eq!(
        revoked
            .list_revoked_tokens(NOW, Page::new(1, 1))
            .await
            .unwrap(),
        std::slice::from_ref(&jti)
    );
    assert_eq!(
        revoked
            .purge_expired_revocations(NOW + 1_000)
            .await
            .unwrap(),
        1
    );
    assert!(revoked.revoked_token("sig-1").await.unwrap().is_none());
    assert!(revoked.revoked_token("jti-2").await.unwrap().is_some());
}
