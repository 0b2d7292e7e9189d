//! The control plane's key-manager operations through the router: the full life of an
//! OAuth client in WSO2 IS-KM's shape (secret regeneration included), per-client token
//! lifetimes and token types as the token endpoint then honours them, the user-claims
//! operation, and who may call them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod services_support;
mod support;

use axum::http::StatusCode;
use keygate_config::TokenPersistence;
use serde_json::json;
use services_support::*;
use std::time::Duration;
use support::*;

const REGISTER: &str = "/keymanager-operations/dcr/register";
const CLAIMS: &str = "/keymanager-operations/user-info/claims";

fn key_generation() -> serde_json::Value {
    json!({
        "client_name": "admin_PetApp_PRODUCTION",
        "grant_types": ["client_credentials", "password", "refresh_token"],
        "callbackUrl": "",
        "ext_param_owner": "bob@carbon.super",
        "token_type_extension": "JWT",
        "ext_application_token_lifetime": 3600,
        "ext_user_token_lifetime": 3600,
        "ext_refresh_token_lifetime": 86400,
        "ext_id_token_lifetime": 3600,
    })
}

#[tokio::test]
async fn control_plane_cycle_with_secret_regeneration() {
    let km = Km::start().await;
    let created = km
        .call("POST", REGISTER, Some(&key_generation()), ADMIN)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let client_id = created.field("client_id");
    let secret = created.field("client_secret");
    assert_eq!(created.json["client_name"], "admin_PetApp_PRODUCTION");
    assert_eq!(created.json["ext_param_owner"], "bob");
    assert_eq!(created.json["token_type_extension"], "JWT");
    assert_eq!(created.json["ext_refresh_token_lifetime"], 86400);
    assert_eq!(created.json["ext_public_client"], false);
    assert_eq!(created.json["redirect_uris"], json!([]));

    let path = format!("{REGISTER}/{client_id}");
    let read = km.call("GET", &path, None, ADMIN).await.ok();
    assert_eq!(read.json["grant_types"], created.json["grant_types"]);
    assert!(
        read.json.get("client_secret").is_none(),
        "the secret is shown once"
    );

    let old_token = km.app_token(&client_id, &secret, None).await;
    assert_eq!(km.introspect_as_admin(&old_token).await["active"], true);

    let regenerated = km
        .call(
            "POST",
            &format!("{path}/regenerate-consumer-secret"),
            None,
            ADMIN,
        )
        .await
        .ok();
    let new_secret = regenerated.field("client_secret");
    assert_ne!(new_secret, secret);
    assert_eq!(regenerated.field("client_id"), client_id);
    let refused = km.client_credentials(&client_id, &secret, None).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "the old secret stops working"
    );
    assert_eq!(refused.error(), "invalid_client");
    assert_eq!(
        km.introspect_as_admin(&old_token).await["active"],
        false,
        "tokens of the old secret are revoked"
    );
    km.client_credentials(&client_id, &new_secret, None)
        .await
        .ok();

    let update = json!({
        "client_name": "admin_PetApp_PRODUCTION",
        "grant_types": ["client_credentials", "authorization_code"],
        "callbackUrl": "https://petapp.example/cb",
    });
    let updated = km.call("PUT", &path, Some(&update), ADMIN).await.ok();
    assert_eq!(
        updated.json["grant_types"],
        json!(["client_credentials", "authorization_code"])
    );
    assert_eq!(
        updated.json["redirect_uris"],
        json!(["https://petapp.example/cb"])
    );
    assert_eq!(updated.json["callbackUrl"], "https://petapp.example/cb");
    assert_eq!(
        updated.json["ext_param_owner"], "bob",
        "what is not sent stays"
    );
    km.client_credentials(&client_id, &new_secret, None)
        .await
        .ok();

    let deleted = km.call("DELETE", &path, None, ADMIN).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = km.call("GET", &path, None, ADMIN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let gone = km.call("DELETE", &path, None, ADMIN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let refused = km.client_credentials(&client_id, &new_secret, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn per_client_lifetimes_are_honoured() {
    let km = Km::start().await;
    let mut body = key_generation();
    body["ext_application_token_lifetime"] = json!(120);
    body["ext_user_token_lifetime"] = json!("300");
    body["ext_refresh_token_lifetime"] = json!(900);
    let created = km.call("POST", REGISTER, Some(&body), ADMIN).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let (id, secret) = (created.field("client_id"), created.field("client_secret"));
    assert_eq!(created.json["ext_application_token_lifetime"], 120);
    assert_eq!(created.json["ext_user_token_lifetime"], 300);

    let app = km.client_credentials(&id, &secret, None).await.ok();
    assert_eq!(app.json["expires_in"], 120);
    let claims = jwt_claims(&app.field("access_token"));
    assert_eq!(claims["exp"], START.as_secs() + 120);

    let user = km
        .password(&id, &secret, "alice", "alice-password", "read")
        .await
        .ok();
    assert_eq!(user.json["expires_in"], 300);
    assert_eq!(
        jwt_claims(&user.field("access_token"))["exp"],
        START.as_secs() + 300
    );
    // The refresh token lives 900 s: usable before, refused after.
    let refresh = user.field("refresh_token");
    km.advance(Duration::from_secs(899));
    let refreshed = km
        .post(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&id, &secret)),
        )
        .await
        .ok();
    km.advance(Duration::from_secs(902));
    let late = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refreshed.field("refresh_token")),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(late.error(), "invalid_grant");

    // Zero brings the server default back.
    let reset = km
        .call(
            "PUT",
            &format!("{REGISTER}/{id}"),
            Some(&json!({"ext_application_token_lifetime": 0})),
            ADMIN,
        )
        .await
        .ok();
    assert_eq!(reset.json["ext_application_token_lifetime"], 3600);
    let app = km.client_credentials(&id, &secret, None).await.ok();
    assert_eq!(app.json["expires_in"], 3600);
}

#[tokio::test]
async fn token_type_oauth_gives_opaque_tokens() {
    let km = Km::start().await;
    let mut body = key_generation();
    body["token_type_extension"] = json!("OAUTH");
    let created = km.call("POST", REGISTER, Some(&body), ADMIN).await;
    let (id, secret) = (created.field("client_id"), created.field("client_secret"));
    let opaque = km.app_token(&id, &secret, None).await;
    assert!(!opaque.contains('.'), "{opaque}");
    assert_eq!(opaque.len(), 43);
    assert_eq!(km.introspect_as_admin(&opaque).await["active"], true);

    let switched = km
        .call(
            "PUT",
            &format!("{REGISTER}/{id}"),
            Some(&json!({"token_type_extension": "JWT"})),
            ADMIN,
        )
        .await
        .ok();
    assert_eq!(switched.json["token_type_extension"], "JWT");
    let jwt = km.app_token(&id, &secret, None).await;
    assert_eq!(jwt.split('.').count(), 3);
}

#[tokio::test]
async fn existing_keys_can_be_provisioned() {
    let km = Km::start().await;
    let mut body = key_generation();
    body["ext_param_client_id"] = json!("legacy-consumer-key");
    body["ext_param_client_secret"] = json!("legacy-consumer-secret");
    let created = km.call("POST", REGISTER, Some(&body), ADMIN).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.field("client_id"), "legacy-consumer-key");
    km.client_credentials("legacy-consumer-key", "legacy-consumer-secret", None)
        .await
        .ok();
    let again = km.call("POST", REGISTER, Some(&body), ADMIN).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_client_metadata");
}

#[tokio::test]
async fn operations_refuse_bad_metadata() {
    let km = Km::start().await;
    for (member, value) in [
        (
            "grant_types",
            json!(["urn:ietf:params:oauth:grant-type:saml2-bearer"]),
        ),
        ("token_type_extension", json!("SAML")),
        ("ext_user_token_lifetime", json!(-1)),
    ] {
        let mut body = key_generation();
        body[member] = value;
        let reply = km.call("POST", REGISTER, Some(&body), ADMIN).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{member}");
        assert_eq!(reply.error(), "invalid_client_metadata", "{member}");
    }
    let mut code_without_callback = key_generation();
    code_without_callback["grant_types"] = json!(["authorization_code"]);
    let reply = km
        .call("POST", REGISTER, Some(&code_without_callback), ADMIN)
        .await;
    assert_eq!(reply.error(), "invalid_redirect_uri");
    let regenerate_public = {
        let mut body = key_generation();
        body["grant_types"] = json!(["authorization_code"]);
        body["callbackUrl"] = json!("http://localhost/cb");
        body["ext_public_client"] = json!(true);
        let created = km.call("POST", REGISTER, Some(&body), ADMIN).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert!(created.json.get("client_secret").is_none());
        assert_eq!(created.json["ext_pkce_mandatory"], true);
        format!(
            "{REGISTER}/{}/regenerate-consumer-secret",
            created.field("client_id")
        )
    };
    let reply = km.call("POST", &regenerate_public, None, ADMIN).await;
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn operations_need_the_key_manager_user() {
    let km = Km::start().await;
    let body = key_generation();
    let anonymous = km
        .call("POST", REGISTER, Some(&body), Auth::Anonymous)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers["www-authenticate"],
        "Basic realm=\"keygate\""
    );
    let wrong = km
        .call("POST", REGISTER, Some(&body), Auth::Basic("bob", "x"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let subscriber = km.call("POST", REGISTER, Some(&body), SUBSCRIBER).await;
    assert_eq!(subscriber.status, StatusCode::FORBIDDEN);
    assert_eq!(subscriber.error(), "access_denied");
    let claims = km
        .call(
            "POST",
            CLAIMS,
            Some(&json!({"username": "alice"})),
            SUBSCRIBER,
        )
        .await;
    assert_eq!(claims.status, StatusCode::FORBIDDEN);

    // `[apim.key_manager] username` names who the control plane calls as.
    let mut settings = settings(TokenPersistence::Plain);
    settings.services.service_user = "alice".into();
    let km = Km::start_with(settings).await;
    let created = km.call("POST", REGISTER, Some(&body), SUBSCRIBER).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
}

#[tokio::test]
async fn user_claims_as_wso2_returns_them() {
    let km = Km::start().await;
    let reply = km
        .call(
            "POST",
            CLAIMS,
            Some(&json!({"username": "alice@carbon.super"})),
            ADMIN,
        )
        .await
        .ok();
    assert_eq!(reply.json["count"], 4);
    let list = reply.json["list"].as_array().unwrap();
    let value_of = |uri: &str| {
        list.iter()
            .find(|c| c["uri"] == uri)
            .map(|c| c["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        value_of("http://wso2.org/claims/emailaddress").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        value_of("http://wso2.org/claims/givenname").as_deref(),
        Some("Alice")
    );
    assert_eq!(
        value_of("http://wso2.org/claims/role").as_deref(),
        Some("Internal/everyone,Internal/subscriber")
    );
    let narrowed = km
        .call(
            "POST",
            CLAIMS,
            Some(&json!({"username": "alice", "dialect": "http://wso2.org/claims/email"})),
            ADMIN,
        )
        .await
        .ok();
    assert_eq!(narrowed.json["count"], 1);

    // By access token instead of name.
    km.secret_client(
        "c",
        "c-secret",
        &["password"],
        keygate_model::TokenType::Oauth,
    )
    .await;
    let token = km.alice_token("c", "c-secret", "read").await;
    let by_token = km
        .call("POST", CLAIMS, Some(&json!({"accessToken": token})), ADMIN)
        .await
        .ok();
    assert_eq!(by_token.json["count"], 4);

    let unknown = km
        .call("POST", CLAIMS, Some(&json!({"username": "nobody"})), ADMIN)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let nothing = km.call("POST", CLAIMS, Some(&json!({})), ADMIN).await;
    assert_eq!(nothing.error(), "invalid_request");
}
