use super::*;
use crate::auth::TokenKind;
use crate::replica::{Replica, ReplicaChange, ReplicaData};
use crate::test_fixtures::{
    API_UUID, APP_UUID, CLIENT, application, key_mapping, pets_api, subscription,
};
use keygate_model::{BlockCondition, BlockConditionType, Tenant};

fn replica(status: SubscriptionStatus, key_type: KeyType) -> Replica {
    let replica = Replica::new();
    replica.load_snapshot(ReplicaData {
        revision: 1,
        apis: vec![pets_api()],
        applications: vec![application(APP_UUID, 7)],
        subscriptions: vec![subscription("sub", APP_UUID, API_UUID, status)],
        key_mappings: vec![key_mapping(CLIENT, APP_UUID, key_type)],
        ..ReplicaData::default()
    });
    replica
}

fn principal(user_type: UserType, scopes: &[&str]) -> Principal {
    Principal {
        kind: TokenKind::Jwt,
        consumer_key: Some(CLIENT.into()),
        subject: "bob@carbon.super".into(),
        user_type,
        scopes: scopes.iter().map(|s| Box::from(*s)).collect(),
        key_type: None,
        issued_at_ms: None,
        expires_at_ms: None,
        not_before_ms: None,
        revocation_ids: Box::default(),
        certificate_thumbprint: None,
        claims: None,
    }
}

fn check(
    replica: &Replica,
    verb: &str,
    path: &str,
    principal: &Principal,
) -> Result<Authorization, GatewayError> {
    let snapshot = replica.snapshot();
    let route = snapshot.route(verb, path).unwrap();
    authorize(&snapshot, &route, principal, "10.0.0.9".parse().ok())
}

const ITEMS: &str = "/pets/1.0.0/items";

#[test]
fn a_subscribed_application_is_authorized_with_its_key_type() {
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Sandbox);
    let auth = check(
        &replica,
        "GET",
        ITEMS,
        &principal(UserType::ApplicationUser, &[]),
    )
    .unwrap();
    assert_eq!(auth.key_type, KeyType::Sandbox);
    assert_eq!(&*auth.application.id_text, "7");
    assert_eq!(auth.subscription.uuid, "sub");
    assert_eq!(&*auth.end_user, "bob@carbon.super");
    // An application token acts as the application's owner.
    let auth = check(
        &replica,
        "GET",
        "/pets/1.0.0/apps",
        &principal(UserType::Application, &[]),
    )
    .unwrap();
    assert_eq!(&*auth.end_user, "alice@carbon.super");
}

#[test]
fn subscription_states_map_to_wso2_codes() {
    let cases = [
        (SubscriptionStatus::Blocked, KeyType::Sandbox, Some(900_907)),
        (
            SubscriptionStatus::ProdOnlyBlocked,
            KeyType::Production,
            Some(900_907),
        ),
        (SubscriptionStatus::ProdOnlyBlocked, KeyType::Sandbox, None),
        (
            SubscriptionStatus::OnHold,
            KeyType::Production,
            Some(900_909),
        ),
        (
            SubscriptionStatus::Rejected,
            KeyType::Production,
            Some(900_909),
        ),
        (SubscriptionStatus::Unblocked, KeyType::Production, None),
    ];
    for (status, key_type, code) in cases {
        let replica = replica(status, key_type);
        let outcome = check(
            &replica,
            "GET",
            ITEMS,
            &principal(UserType::ApplicationUser, &[]),
        );
        assert_eq!(
            outcome.err().map(|e| e.code()),
            code,
            "{status:?} {key_type:?}"
        );
    }
}

#[test]
fn no_subscription_key_mapping_or_application_is_900908() {
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
    replica
        .apply(ReplicaChange::SubscriptionDeleted { uuid: "sub".into() })
        .unwrap();
    let user = principal(UserType::ApplicationUser, &[]);
    assert_eq!(
        check(&replica, "GET", ITEMS, &user).unwrap_err(),
        GatewayError::ResourceForbidden
    );

    let replica = self::replica(SubscriptionStatus::Unblocked, KeyType::Production);
    let stranger = Principal {
        consumer_key: Some("unknown".into()),
        ..principal(UserType::ApplicationUser, &[])
    };
    assert_eq!(
        check(&replica, "GET", ITEMS, &stranger).unwrap_err(),
        GatewayError::ResourceForbidden
    );
    replica
        .apply(ReplicaChange::ApplicationDeleted {
            uuid: APP_UUID.into(),
        })
        .unwrap();
    assert_eq!(
        check(&replica, "GET", ITEMS, &user).unwrap_err(),
        GatewayError::ResourceForbidden
    );
}

#[test]
fn token_type_must_fit_the_auth_scheme() {
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
    let app = principal(UserType::Application, &["pets:admin"]);
    let user = principal(UserType::ApplicationUser, &[]);
    assert_eq!(
        check(&replica, "POST", "/pets/1.0.0/admin", &app).unwrap_err(),
        GatewayError::IncorrectTokenType
    );
    assert_eq!(
        check(&replica, "GET", "/pets/1.0.0/apps", &user).unwrap_err(),
        GatewayError::IncorrectTokenType
    );
    assert!(scheme_admits(AuthScheme::Any, UserType::Application));
    assert!(scheme_admits(AuthScheme::None, UserType::ApplicationUser));
}

#[test]
fn scopes_of_the_resource_are_required() {
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
    let without = principal(UserType::ApplicationUser, &["read"]);
    let with = principal(UserType::ApplicationUser, &["read", "pets:admin"]);
    assert_eq!(
        check(&replica, "POST", "/pets/1.0.0/admin", &without).unwrap_err(),
        GatewayError::InvalidScope
    );
    assert!(check(&replica, "POST", "/pets/1.0.0/admin", &with).is_ok());
}

#[test]
fn a_blocked_api_refuses_everyone() {
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
    let mut blocked = pets_api();
    blocked.status = ApiStatus::Blocked;
    replica.apply(ReplicaChange::ApiUpserted(blocked)).unwrap();
    let user = principal(UserType::ApplicationUser, &[]);
    assert_eq!(
        check(&replica, "GET", ITEMS, &user).unwrap_err(),
        GatewayError::ApiBlocked
    );
    let snapshot = replica.snapshot();
    let route = snapshot.route("GET", "/pets/1.0.0/public").unwrap();
    assert_eq!(
        authorize_anonymous(&snapshot, &route, None).unwrap_err(),
        GatewayError::ApiBlocked
    );
}

fn deny(uuid: &str, condition_type: BlockConditionType, value: &str) -> ReplicaChange {
    ReplicaChange::BlockConditionUpserted(BlockCondition {
        uuid: uuid.into(),
        tenant: Tenant::default(),
        condition_type,
        value: value.into(),
        enabled: true,
    })
}

#[test]
fn deny_conditions_are_900805() {
    let user = principal(UserType::ApplicationUser, &[]);
    let conditions = [
        (BlockConditionType::Api, "/pets/1.0.0"),
        (BlockConditionType::Application, "alice:app7"),
        (BlockConditionType::User, "bob"),
        (BlockConditionType::Ip, "10.0.0.9"),
        (
            BlockConditionType::IpRange,
            r#"{"startingIp":"10.0.0.1","endingIp":"10.0.0.20","invert":false}"#,
        ),
    ];
    for (kind, value) in conditions {
        let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
        replica.apply(deny("bc", kind, value)).unwrap();
        assert_eq!(
            check(&replica, "GET", ITEMS, &user).unwrap_err(),
            GatewayError::Blocked(kind),
            "{kind:?}"
        );
    }
    // Anonymous calls meet the API and address conditions too.
    let replica = replica(SubscriptionStatus::Unblocked, KeyType::Production);
    replica
        .apply(deny("ip", BlockConditionType::Ip, "10.0.0.9"))
        .unwrap();
    let snapshot = replica.snapshot();
    let route = snapshot.route("GET", "/pets/1.0.0/public").unwrap();
    assert_eq!(
        authorize_anonymous(&snapshot, &route, "10.0.0.9".parse().ok()).unwrap_err(),
        GatewayError::Blocked(BlockConditionType::Ip)
    );
    assert!(authorize_anonymous(&snapshot, &route, "10.0.0.10".parse().ok()).is_ok());
}
