//! Application keys and OAuth bearer tokens against a real keygate key manager (in
//! process, over HTTP on an ephemeral port, sharing the fixture's database) on SQLite,
//! PostgreSQL and MariaDB: keys generated for PRODUCTION and SANDBOX make OAuth clients
//! there and key mappings here, the secret shown once; tokens from the token helper call
//! the management APIs with their scopes (JWT verified locally, opaque introspected);
//! ownership holds for token callers; a missing scope is a 403 naming it; secrets are
//! regenerated, keys revoked, applications changed and deleted with their clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::Fixture;
use common::key_manager::KmServer;
use serde_json::{Value, json};

on_all_backends!(
    keys_tokens_scopes_and_ownership,
    key_lifecycle_follows_the_application
);

const APPS: &str = "/api/am/devportal/v1/applications";

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// Creates an application of `user` with `token_type`; its id.
async fn app(f: &Fixture, user: &str, name: &str, token_type: &str) -> String {
    let (status, body) = f
        .call(
            user,
            "POST",
            APPS,
            Some(json!({"name": name, "tokenType": token_type})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["applicationId"].as_str().unwrap().to_owned()
}

/// Generates keys of `key_type` for `app` as `user`; the answer.
async fn keys(f: &Fixture, user: &str, app: &str, key_type: &str) -> Value {
    let (status, body) = f
        .call(
            user,
            "POST",
            &format!("{APPS}/{app}/generate-keys"),
            Some(json!({"keyType": key_type,
                        "grantTypesToBeSupported": ["client_credentials", "password"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// An application token for `app`'s keys of `key_type` with `scopes`.
async fn token(
    f: &Fixture,
    user: &str,
    app: &str,
    key_type: &str,
    secret: &str,
    scopes: &[&str],
) -> (StatusCode, Value) {
    f.call(
        user,
        "POST",
        &format!("{APPS}/{app}/keys/{key_type}/generate-token"),
        Some(json!({"consumerSecret": secret, "scopes": scopes})),
    )
    .await
}

async fn keys_tokens_scopes_and_ownership(f: &mut Fixture) {
    let km = KmServer::start_for(f).await;

    // bob's JWT application: keys made at the key manager, the secret shown once.
    let pets = app(f, "bob", "Pets", "JWT").await;
    let production = keys(f, "bob", &pets, "PRODUCTION").await;
    let consumer_key = production["consumerKey"].as_str().unwrap().to_owned();
    let secret = production["consumerSecret"].as_str().unwrap().to_owned();
    assert_eq!(production["keyState"], "COMPLETED");
    assert_eq!(
        production["supportedGrantTypes"],
        json!(["client_credentials", "password"])
    );
    let client = f.stores.clients().client(&consumer_key).await.unwrap();
    let client = client.expect("the OAuth client exists at the key manager");
    assert_eq!(client.owner, "bob");
    let (status, again) = f
        .call(
            "bob",
            "POST",
            &format!("{APPS}/{pets}/generate-keys"),
            Some(json!({"keyType": "PRODUCTION"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, read) = f
        .call(
            "bob",
            "GET",
            &format!("{APPS}/{pets}/keys/PRODUCTION"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["consumerKey"], consumer_key.as_str());
    assert!(read.get("consumerSecret").is_none(), "shown once: {read}");
    let (status, _) = f
        .call("carol", "GET", &format!("{APPS}/{pets}/keys"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "carol does not see bob's keys"
    );

    // The token helper: bob's roles grant apim:subscribe, not apim:tier_manage.
    let (status, issued) = token(
        f,
        "bob",
        &pets,
        "PRODUCTION",
        &secret,
        &["apim:subscribe", "apim:tier_manage"],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["tokenScopes"], json!(["apim:subscribe"]));
    assert!(issued["validityTime"].as_i64().unwrap() > 0);
    let jwt = issued["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "a JWT application");
    let (status, body) = token(f, "bob", &pets, "PRODUCTION", "wrong", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "consumerSecret");

    // The JWT calls the Developer Portal as bob, verified against the key manager's JWKS.
    let (status, list) = f.call_as(bearer(&jwt), "GET", APPS, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["owner"], "bob");
    let carols = app(f, "carol", "Secret", "JWT").await;
    let (status, _) = f
        .call_as(bearer(&jwt), "GET", &format!("{APPS}/{carols}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "ownership holds for tokens");
    let (status, _) = f
        .call_as(bearer(&jwt), "DELETE", &format!("{APPS}/{carols}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A missing scope: 403 naming it, with RFC 6750's challenge.
    let response = f
        .raw(
            bearer(&jwt),
            "POST",
            "/api/am/admin/v1/throttling/policies/application",
            Some(
                json!({"policyName": "x", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 1}}}),
            ),
        )
        .await;
    assert_eq!(response.0, StatusCode::FORBIDDEN);
    assert_eq!(
        response.1.as_deref(),
        Some("Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"apim:tier_manage\"")
    );
    assert!(
        response.2["description"]
            .as_str()
            .unwrap()
            .contains("apim:tier_manage")
    );

    // A tampered or unknown token: 401 invalid_token.
    let mut tampered = jwt.clone();
    tampered.pop();
    tampered.push(if jwt.ends_with('A') { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "not-a-token-the-key-manager-issued"] {
        let (status, challenge, _) = f.raw(bearer(bad), "GET", APPS, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(
            challenge.unwrap().contains("error=\"invalid_token\""),
            "{bad}"
        );
    }

    // An opaque-token application of bob: its tokens are introspected at the key manager.
    let feeds = app(f, "bob", "Feeds", "OAUTH").await;
    let sandbox = keys(f, "bob", &feeds, "SANDBOX").await;
    let sandbox_secret = sandbox["consumerSecret"].as_str().unwrap().to_owned();
    let (status, issued) = token(
        f,
        "bob",
        &feeds,
        "SANDBOX",
        &sandbox_secret,
        &["apim:subscribe"],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let opaque = issued["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(opaque.split('.').count(), 1, "an opaque token");
    let (status, list) = f.call_as(bearer(&opaque), "GET", APPS, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 2);

    // A new secret revokes the client's tokens at the key manager, and the old secret.
    let (status, renewed) = f
        .call(
            "bob",
            "POST",
            &format!("{APPS}/{feeds}/keys/SANDBOX/regenerate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let new_secret = renewed["consumerSecret"].as_str().unwrap();
    assert_ne!(new_secret, sandbox_secret);
    let (status, _) = f.call_as(bearer(&opaque), "GET", APPS, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old token is revoked");
    let (status, _) = token(f, "bob", &feeds, "SANDBOX", &sandbox_secret, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old secret is refused");
    let (status, _) = token(f, "bob", &feeds, "SANDBOX", new_secret, &[]).await;
    assert_eq!(status, StatusCode::OK);

    // An administrator's token carries the Admin API's scopes.
    let ops = app(f, "root", "Ops", "JWT").await;
    let root_keys = keys(f, "root", &ops, "PRODUCTION").await;
    let (status, issued) = token(
        f,
        "root",
        &ops,
        "PRODUCTION",
        root_keys["consumerSecret"].as_str().unwrap(),
        &["apim:tier_manage", "apim:admin", "apim:subscribe"],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(
        issued["tokenScopes"],
        json!(["apim:admin", "apim:subscribe", "apim:tier_manage"])
    );
    let admin = issued["accessToken"].as_str().unwrap().to_owned();
    let (status, body) = f
        .call_as(
            bearer(&admin),
            "POST",
            "/api/am/admin/v1/throttling/policies/application",
            Some(
                json!({"policyName": "7PerMin", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 7}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = f
        .call_as(bearer(&admin), "GET", &format!("{APPS}/{carols}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "apim:admin sees every application");
    drop(km);
}

async fn key_lifecycle_follows_the_application(f: &mut Fixture) {
    let _km = KmServer::start_for(f).await;
    let pets = app(f, "bob", "Pets", "JWT").await;
    let production = keys(f, "bob", &pets, "PRODUCTION").await;
    let sandbox = keys(f, "bob", &pets, "SANDBOX").await;
    let (production_key, sandbox_key) = (
        production["consumerKey"].as_str().unwrap().to_owned(),
        sandbox["consumerKey"].as_str().unwrap().to_owned(),
    );
    let (status, list) = f
        .call("bob", "GET", &format!("{APPS}/{pets}/keys"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 2);

    // Changing the token type changes the clients' token type at the key manager.
    let (status, updated) = f
        .call(
            "bob",
            "PUT",
            &format!("{APPS}/{pets}"),
            Some(
                json!({"name": "Pets2", "tokenType": "OAUTH", "throttlingPolicy": "20PerMin",
                        "description": "renamed"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Pets2");
    assert_eq!(updated["throttlingPolicy"], "20PerMin");
    let client = f
        .stores
        .clients()
        .client(&production_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.token_type.as_str(), "OAUTH");
    let (status, body) = f
        .call(
            "bob",
            "PUT",
            &format!("{APPS}/{pets}"),
            Some(json!({"name": "Pets2", "throttlingPolicy": "1PerYear"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "throttlingPolicy");
    app(f, "bob", "Taken", "JWT").await;
    let (status, _) = f
        .call(
            "bob",
            "PUT",
            &format!("{APPS}/{pets}"),
            Some(json!({"name": "Taken"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = f
        .call(
            "carol",
            "PUT",
            &format!("{APPS}/{pets}"),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Revoking SANDBOX keys deletes the client, then the mapping.
    let (status, _) = f
        .call(
            "bob",
            "DELETE",
            &format!("{APPS}/{pets}/keys/SANDBOX"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        f.stores
            .clients()
            .client(&sandbox_key)
            .await
            .unwrap()
            .is_none()
    );
    let (status, _) = f
        .call("bob", "GET", &format!("{APPS}/{pets}/keys/SANDBOX"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f
        .call("bob", "GET", &format!("{APPS}/{pets}/keys/STAGING"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "keyType");

    // Deleting the application deletes its remaining client.
    let (status, _) = f
        .call("bob", "DELETE", &format!("{APPS}/{pets}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        f.stores
            .clients()
            .client(&production_key)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.stores
            .key_mappings()
            .key_mapping_by_consumer_key(&production_key)
            .await
            .unwrap()
            .is_none()
    );
}
