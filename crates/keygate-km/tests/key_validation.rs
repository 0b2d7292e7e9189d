//! The key validation service through the router: every WSO2 status code it answers, the
//! authorized answer with all its fields, the cache and revocation, API resolution by
//! context and version, and who may ask.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod services_support;
mod support;

use axum::http::StatusCode;
use keygate_config::TokenPersistence;
use keygate_model::SubscriptionStatus;
use keygate_model::validation::{KeyValidationInfo, status};
use serde_json::{Value, json};
use services_support::*;
use std::time::Duration;
use support::*;

const VALIDATE: &str = "/services/key-validation/v1/validate";

async fn validate(km: &Km, question: &Value) -> KeyValidationInfo {
    let reply = km.call("POST", VALIDATE, Some(question), ADMIN).await.ok();
    assert_eq!(reply.headers["cache-control"], "no-store");
    serde_json::from_value(reply.json).unwrap()
}

async fn code_of(km: &Km, question: &Value) -> u32 {
    let info = validate(km, question).await;
    assert!(!info.authorized || info.validation_status == 0, "{info:?}");
    if info.authorized {
        0
    } else {
        info.validation_status
    }
}

/// A key manager with the validation cache on (`[apim.cache.km_token]`).
async fn km_with_cache() -> Km {
    let km = Km::start_with(settings_from(
        "[apim.cache.km_token]\nenable = true\nexpiry_time = \"900s\"\n",
    ))
    .await;
    assert_eq!(
        km.km.settings().services.validation_cache,
        Some(Duration::from_secs(900))
    );
    km
}

#[tokio::test]
async fn authorized_answers_carry_every_field() {
    let km = Km::start().await;
    let catalog = seed_catalog(&km).await;
    let token = km.alice_token(PROD_CLIENT, PROD_SECRET, "read write").await;
    assert!(
        !token.contains('.'),
        "an opaque token, as gateways send here"
    );
    let info = validate(&km, &question(&token, "/pets", "POST", "Application_User")).await;
    assert!(info.authorized, "{info:?}");
    assert_eq!(info.validation_status, 0);
    assert_eq!(info.key_type, Some(keygate_model::KeyType::Production));
    assert_eq!(
        info.user_type,
        Some(keygate_model::validation::UserType::ApplicationUser)
    );
    assert_eq!(info.end_user.as_deref(), Some("alice@carbon.super"));
    assert_eq!(info.end_user_token, None);
    assert_eq!(info.consumer_key.as_deref(), Some(PROD_CLIENT));
    assert_eq!(
        info.application_id,
        Some(catalog.application.id.to_string())
    );
    assert_eq!(
        info.application_uuid.as_deref(),
        Some(catalog.application.uuid.as_str())
    );
    assert_eq!(info.application_name.as_deref(), Some("PetApp"));
    assert_eq!(info.application_tier.as_deref(), Some("10PerMin"));
    assert_eq!(info.subscriber.as_deref(), Some("bob"));
    assert_eq!(
        info.subscriber_tenant_domain.as_deref(),
        Some("carbon.super")
    );
    assert_eq!(info.subscription_tier.as_deref(), Some("Gold"));
    assert_eq!(info.api_name.as_deref(), Some("Pets"));
    assert_eq!(info.api_publisher.as_deref(), Some("publisher1"));
    assert_eq!(info.api_tier.as_deref(), Some("50KPerMin"));
    assert_eq!(info.scopes, ["read", "write"]);
    assert_eq!(info.issued_time_ms, Some(START.as_millis() as i64));
    assert_eq!(info.validity_period_ms, Some(3_600_000));
    assert_eq!(info.spike_arrest_limit, 20);
    assert_eq!(info.spike_arrest_unit.as_deref(), Some("sec"));
    assert!(info.stop_on_quota_reach);

    // A JWT of ours validates here too, with the sandbox key type.
    let jwt = km.app_token(SANDBOX_CLIENT, SANDBOX_SECRET, None).await;
    let info = validate(&km, &question(&jwt, "/stats", "GET", "Application")).await;
    assert!(info.authorized, "{info:?}");
    assert_eq!(info.key_type, Some(keygate_model::KeyType::Sandbox));
    assert_eq!(
        info.user_type,
        Some(keygate_model::validation::UserType::Application)
    );
    assert_eq!(info.end_user.as_deref(), Some("bob@carbon.super"));
}

#[tokio::test]
async fn unknown_malformed_and_revoked_tokens_are_900901() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    for token in ["no-such-token", "a.b.c", ""] {
        assert_eq!(
            code_of(&km, &question(token, "/pets", "GET", "Any")).await,
            status::INVALID_CREDENTIALS,
            "{token:?}"
        );
    }
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    km.post(
        "/oauth2/revoke",
        &[("token", &token)],
        Some((PROD_CLIENT, PROD_SECRET)),
    )
    .await
    .ok();
    assert_eq!(
        code_of(&km, &question(&token, "/pets", "GET", "Any")).await,
        status::INVALID_CREDENTIALS
    );
}

#[tokio::test]
async fn revoked_token_is_refused_at_once_even_when_cached() {
    let km = km_with_cache().await;
    seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let ask = question(&token, "/pets", "GET", "Any");
    assert_eq!(code_of(&km, &ask).await, 0);
    // Cached: a change the cache does not watch (the subscription) is not seen yet...
    let subscription = km
        .stores
        .subscriptions()
        .list_subscriptions(&Default::default(), keygate_store::Page::ALL)
        .await
        .unwrap()
        .remove(0);
    km.stores
        .subscriptions()
        .set_subscription_status(&subscription.uuid, SubscriptionStatus::Blocked, 1)
        .await
        .unwrap();
    assert_eq!(code_of(&km, &ask).await, 0, "served from the cache");
    // ...but a revocation is, at the very next call.
    km.post(
        "/oauth2/revoke",
        &[("token", &token)],
        Some((PROD_CLIENT, PROD_SECRET)),
    )
    .await
    .ok();
    assert_eq!(code_of(&km, &ask).await, status::INVALID_CREDENTIALS);
    // The cache forgot the token: a fresh one sees the blocked subscription.
    let fresh = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    assert_eq!(
        code_of(&km, &question(&fresh, "/pets", "GET", "Any")).await,
        status::API_BLOCKED
    );
}

#[tokio::test]
async fn revocation_on_another_node_is_seen_through_the_cache() {
    let km = km_with_cache().await;
    seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let ask = question(&token, "/pets", "GET", "Any");
    assert_eq!(code_of(&km, &ask).await, 0);
    let other = km.second_node(settings(TokenPersistence::Plain)).await;
    let revoke = form_request(
        "/oauth2/revoke",
        &[("token", &token)],
        Some((PROD_CLIENT, PROD_SECRET)),
        None,
    );
    let response = tower::ServiceExt::oneshot(other.router(), revoke)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(code_of(&km, &ask).await, status::INVALID_CREDENTIALS);
}

#[tokio::test]
async fn expired_tokens_are_900903() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    km.secret_client(
        "short-lived",
        "short-lived-secret",
        &["client_credentials"],
        keygate_model::TokenType::Jwt,
    )
    .await;
    let opaque = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let jwt = km.app_token(SANDBOX_CLIENT, SANDBOX_SECRET, None).await;
    let orphan = km
        .app_token("short-lived", "short-lived-secret", None)
        .await;
    // A JWT whose record is gone is judged by its signature and expiry.
    km.stores
        .clients()
        .delete_client("short-lived")
        .await
        .unwrap();
    assert_eq!(
        code_of(&km, &question(&orphan, "/pets", "GET", "Any")).await,
        status::INVALID_CREDENTIALS,
        "no record and not expired: nothing vouches for it"
    );
    km.advance(Duration::from_secs(3600));
    for token in [&opaque, &jwt, &orphan] {
        assert_eq!(
            code_of(&km, &question(token, "/pets", "GET", "Any")).await,
            status::ACCESS_TOKEN_EXPIRED
        );
    }
}

#[tokio::test]
async fn wrong_token_type_is_900905() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    let app = km.app_token(PROD_CLIENT, PROD_SECRET, Some("write")).await;
    let user = km.alice_token(PROD_CLIENT, PROD_SECRET, "write").await;
    assert_eq!(
        code_of(&km, &question(&app, "/pets", "POST", "Application_User")).await,
        status::INCORRECT_ACCESS_TOKEN_TYPE
    );
    assert_eq!(
        code_of(&km, &question(&user, "/stats", "GET", "Application")).await,
        status::INCORRECT_ACCESS_TOKEN_TYPE
    );
    assert_eq!(
        code_of(&km, &question(&user, "/pets", "POST", "Application_User")).await,
        0
    );
    assert_eq!(
        code_of(&km, &question(&app, "/stats", "GET", "Application")).await,
        0
    );
}

#[tokio::test]
async fn blocked_subscriptions_are_900907() {
    let km = Km::start().await;
    let catalog = seed_catalog(&km).await;
    let production = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let sandbox = km.app_token(SANDBOX_CLIENT, SANDBOX_SECRET, None).await;
    let set = |status: SubscriptionStatus| {
        let km = &km;
        let uuid = catalog.subscription.uuid.clone();
        async move {
            km.stores
                .subscriptions()
                .set_subscription_status(&uuid, status, 1)
                .await
                .unwrap();
        }
    };
    set(SubscriptionStatus::Blocked).await;
    for token in [&production, &sandbox] {
        assert_eq!(
            code_of(&km, &question(token, "/pets", "GET", "Any")).await,
            status::API_BLOCKED
        );
    }
    set(SubscriptionStatus::ProdOnlyBlocked).await;
    assert_eq!(
        code_of(&km, &question(&production, "/pets", "GET", "Any")).await,
        status::API_BLOCKED
    );
    assert_eq!(
        code_of(&km, &question(&sandbox, "/pets", "GET", "Any")).await,
        0,
        "a sandbox key passes a production-only block"
    );
    set(SubscriptionStatus::Unblocked).await;
    km.stores
        .apis()
        .set_api_status(&catalog.api.uuid, keygate_model::ApiStatus::Blocked, 2)
        .await
        .unwrap();
    assert_eq!(
        code_of(&km, &question(&sandbox, "/pets", "GET", "Any")).await,
        status::API_BLOCKED
    );
}

#[tokio::test]
async fn no_subscription_is_900908() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let mut zoo = question(&token, "/pets", "GET", "Any");
    zoo["context"] = json!("/2.0/zoo");
    zoo["version"] = json!("2.0");
    assert_eq!(code_of(&km, &zoo).await, status::RESOURCE_FORBIDDEN);
    let mut nowhere = question(&token, "/pets", "GET", "Any");
    nowhere["context"] = json!("/nowhere/1.0.0");
    assert_eq!(code_of(&km, &nowhere).await, status::RESOURCE_FORBIDDEN);
    let lone = km.app_token(LONE_CLIENT, LONE_SECRET, None).await;
    assert_eq!(
        code_of(&km, &question(&lone, "/pets", "GET", "Any")).await,
        status::RESOURCE_FORBIDDEN,
        "a client mapped to no application"
    );
}

#[tokio::test]
async fn inactive_subscriptions_are_900909() {
    let km = Km::start().await;
    let catalog = seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    for status_now in [SubscriptionStatus::OnHold, SubscriptionStatus::Rejected] {
        km.stores
            .subscriptions()
            .set_subscription_status(&catalog.subscription.uuid, status_now, 1)
            .await
            .unwrap();
        assert_eq!(
            code_of(&km, &question(&token, "/pets", "GET", "Any")).await,
            status::SUBSCRIPTION_INACTIVE,
            "{status_now:?}"
        );
    }
}

#[tokio::test]
async fn missing_scope_is_900910() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    let reader = km.alice_token(PROD_CLIENT, PROD_SECRET, "read").await;
    assert_eq!(
        code_of(&km, &question(&reader, "/pets", "POST", "Application_User")).await,
        status::INVALID_SCOPE
    );
    assert_eq!(
        code_of(&km, &question(&reader, "/pets", "GET", "Any")).await,
        0,
        "a resource without scopes"
    );
}

#[tokio::test]
async fn default_versions_and_version_templates_resolve() {
    let km = Km::start().await;
    let catalog = seed_catalog(&km).await;
    let now = START.as_millis() as i64;
    km.stores
        .subscriptions()
        .create_subscription(&keygate_model::Subscription {
            uuid: "zoo-sub".into(),
            tenant: Default::default(),
            application_uuid: catalog.application.uuid.clone(),
            api_uuid: catalog.unsubscribed_api.uuid.clone(),
            tier: "Unlimited".into(),
            status: SubscriptionStatus::Unblocked,
            create_state: keygate_model::SubscriptionCreateState::Subscribe,
            created_at_ms: now,
            updated_at_ms: now,
        })
        .await
        .unwrap();
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let mut zoo = question(&token, "/pets", "GET", "Any");
    zoo["context"] = json!("/2.0/zoo");
    zoo["version"] = json!("_default_2.0");
    let info = validate(&km, &zoo).await;
    assert!(info.authorized, "{info:?}");
    assert_eq!(info.api_name.as_deref(), Some("Zoo"));
    assert_eq!(info.subscription_tier.as_deref(), Some("Unlimited"));
    assert_eq!(
        info.spike_arrest_limit, 0,
        "an unknown tier has no spike arrest"
    );
    let mut pets = question(&token, "/pets", "GET", "Any");
    pets["version"] = json!("_default_1.0.0");
    assert_eq!(code_of(&km, &pets).await, 0);
}

#[tokio::test]
async fn validation_needs_the_key_manager_user_and_a_well_formed_question() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let ask = question(&token, "/pets", "GET", "Any");
    let anonymous = km.call("POST", VALIDATE, Some(&ask), Auth::Anonymous).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let subscriber = km.call("POST", VALIDATE, Some(&ask), SUBSCRIBER).await;
    assert_eq!(subscriber.status, StatusCode::FORBIDDEN);
    let as_token = km
        .call("POST", VALIDATE, Some(&ask), Auth::Bearer(&token))
        .await;
    assert_eq!(
        as_token.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        as_token.text
    );
    assert!(!as_token.text.contains(&token));
    let mut bad_level = ask.clone();
    bad_level["required_auth_level"] = json!("Everyone");
    let reply = km.call("POST", VALIDATE, Some(&bad_level), ADMIN).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_request");
    let mut no_token = ask.clone();
    no_token.as_object_mut().unwrap().remove("token");
    assert_eq!(
        km.call("POST", VALIDATE, Some(&no_token), ADMIN)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let get = km.call("GET", VALIDATE, None, ADMIN).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_model_request_is_what_the_service_reads() {
    let km = Km::start().await;
    seed_catalog(&km).await;
    let token = km.app_token(PROD_CLIENT, PROD_SECRET, None).await;
    let request = keygate_model::validation::KeyValidationRequest {
        context: "/pets/1.0.0".into(),
        version: "1.0.0".into(),
        token: keygate_model::Secret::new(token.clone()),
        required_auth_level: keygate_model::AuthScheme::Any,
        matching_resource: "/pets".into(),
        http_verb: "GET".into(),
        client_ip: None,
    };
    let direct = km.km.validate_key(&request).await.unwrap();
    assert!(direct.authorized);
    let wire = validate(&km, &serde_json::to_value(&request).unwrap()).await;
    assert_eq!(wire, direct);
}
