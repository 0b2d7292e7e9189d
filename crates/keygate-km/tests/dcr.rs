//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592) through
//! the router: the whole life of a registration, who may register, what metadata is
//! refused, and what the registration access token guards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod services_support;
mod support;

use axum::http::StatusCode;
use keygate_model::{Scope, Tenant};
use serde_json::{Value, json};
use services_support::*;
use support::*;

const REGISTER: &str = "/client-registration/v1/register";

fn web_app() -> Value {
    json!({
        "client_name": "Pet shop",
        "redirect_uris": ["https://shop.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "read",
        "logo_uri": "https://shop.example/logo.png",
    })
}

fn configuration_path(reply: &Reply) -> String {
    reply
        .field("registration_client_uri")
        .strip_prefix(BASE)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn dcr_create_read_update_delete() {
    let km = Km::start().await;
    let created = km.call("POST", REGISTER, Some(&web_app()), ADMIN).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.headers["cache-control"], "no-store");
    let client_id = created.field("client_id");
    let rat = created.field("registration_access_token");
    let path = configuration_path(&created);
    assert_eq!(path, format!("{REGISTER}/{client_id}"));
    assert_eq!(created.json["client_name"], "Pet shop");
    assert_eq!(created.json["response_types"], json!(["code"]));
    assert_eq!(created.json["client_secret_expires_at"], 0);
    assert_eq!(created.json["client_id_issued_at"], START.as_secs());
    assert!(
        created.json.get("logo_uri").is_none(),
        "unknown metadata ignored"
    );
    let stored = km
        .stores
        .clients()
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner, "bob", "the registrant owns the client");

    let read = km.call("GET", &path, None, Auth::Bearer(&rat)).await.ok();
    assert_eq!(read.json["client_id"], client_id.as_str());
    assert_eq!(
        read.json["redirect_uris"],
        json!(["https://shop.example/cb"])
    );
    assert_eq!(read.field("registration_access_token"), rat);

    let mut replacement = web_app();
    replacement["client_id"] = json!(client_id);
    replacement["client_name"] = json!("Pet shop 2");
    replacement["redirect_uris"] = json!(["https://shop.example/cb2", "http://127.0.0.1:8080/cb"]);
    replacement["grant_types"] = json!(["authorization_code"]);
    let updated = km
        .call("PUT", &path, Some(&replacement), Auth::Bearer(&rat))
        .await
        .ok();
    assert_eq!(updated.json["client_name"], "Pet shop 2");
    assert_eq!(updated.json["grant_types"], json!(["authorization_code"]));
    assert!(
        updated.json.get("client_secret").is_none(),
        "the secret stays as it was"
    );
    let stored = km
        .stores
        .clients()
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.redirect_uris.len(), 2);
    assert!(stored.secret_digest.is_some());

    let deleted = km.call("DELETE", &path, None, Auth::Bearer(&rat)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(
        km.stores
            .clients()
            .client(&client_id)
            .await
            .unwrap()
            .is_none()
    );
    let gone = km.call("GET", &path, None, Auth::Bearer(&rat)).await;
    assert_eq!(
        gone.status,
        StatusCode::UNAUTHORIZED,
        "RFC 7592 §2.1: 401 once deleted"
    );
    assert_eq!(gone.error(), "invalid_token");
}

#[tokio::test]
async fn dcr_secret_is_shown_once_and_works_at_the_token_endpoint() {
    let km = Km::start().await;
    let created = km.call("POST", REGISTER, Some(&web_app()), ADMIN).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let client_id = created.field("client_id");
    let secret = created.field("client_secret");
    assert!(secret.len() >= 43);
    let stored = km
        .stores
        .clients()
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    let digest = stored.secret_digest.unwrap();
    assert!(
        !digest.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is stored sealed"
    );
    let read = km
        .call(
            "GET",
            &configuration_path(&created),
            None,
            Auth::Bearer(&created.field("registration_access_token")),
        )
        .await
        .ok();
    assert!(read.json.get("client_secret").is_none(), "{}", read.text);
    assert!(!read.text.contains(&secret));

    let token = km.client_credentials(&client_id, &secret, None).await.ok();
    assert_eq!(token.field("token_type"), "Bearer");
    let wrong = km
        .client_credentials(&client_id, "not-the-secret", None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn dcr_refuses_bad_redirect_uris() {
    let km = Km::start().await;
    for uri in [
        "http://shop.example/cb",
        "https://shop.example/cb#fragment",
        "shop.example/cb",
        "regexp=https://shop.example/.*",
    ] {
        let mut body = web_app();
        body["redirect_uris"] = json!([uri]);
        let reply = km.call("POST", REGISTER, Some(&body), ADMIN).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.error(), "invalid_redirect_uri", "{uri}");
    }
    let mut missing = web_app();
    missing.as_object_mut().unwrap().remove("redirect_uris");
    let reply = km.call("POST", REGISTER, Some(&missing), ADMIN).await;
    assert_eq!(reply.error(), "invalid_redirect_uri");
    assert!(
        km.stores
            .clients()
            .list_clients(&Tenant::default(), keygate_store::Page::ALL)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn dcr_refuses_bad_metadata() {
    let km = Km::start().await;
    let cases = [
        json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
        json!({"grant_types": ["implicit"], "redirect_uris": ["https://a.example/cb"]}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject_dn": "CN=a"}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
        json!({"grant_types": ["client_credentials"], "client_name": "x".repeat(300)}),
        json!({"grant_types": ["client_credentials"], "scope": "a\u{7f}b"}),
        json!({"grant_types": "client_credentials"}),
    ];
    for body in cases {
        let reply = km.call("POST", REGISTER, Some(&body), ADMIN).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body} {}",
            reply.text
        );
        assert_eq!(reply.error(), "invalid_client_metadata", "{body}");
    }
    let not_json = km
        .send({
            let mut r = json_request("POST", REGISTER, None, ADMIN);
            *r.body_mut() = axum::body::Body::from("{\"grant_types\":");
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        })
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.error(), "invalid_request");
}

#[tokio::test]
async fn dcr_needs_an_administrator_or_an_initial_access_token() {
    let km = Km::start().await;
    let body = json!({"grant_types": ["client_credentials"], "client_name": "m2m"});
    let anonymous = km
        .call("POST", REGISTER, Some(&body), Auth::Anonymous)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key("www-authenticate"));
    let subscriber = km.call("POST", REGISTER, Some(&body), SUBSCRIBER).await;
    assert_eq!(subscriber.status, StatusCode::FORBIDDEN);
    let wrong_password = km
        .call("POST", REGISTER, Some(&body), Auth::Basic("bob", "nope"))
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    let garbage = km
        .call("POST", REGISTER, Some(&body), Auth::Bearer("no-such-token"))
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.error(), "invalid_token");

    // An access token is an initial access token when it carries the registration scope.
    km.stores
        .scopes()
        .create_scope(&Scope {
            tenant: Tenant::default(),
            name: keygate_km::dcr::REGISTRATION_SCOPE.into(),
            display_name: "Create applications".into(),
            description: None,
            roles: vec!["admin".into()],
        })
        .await
        .unwrap();
    km.secret_client(
        "provisioner",
        "provisioner-secret",
        &["client_credentials"],
        keygate_model::TokenType::Oauth,
    )
    .await;
    let plain = km
        .app_token("provisioner", "provisioner-secret", Some("read"))
        .await;
    let refused = km
        .call("POST", REGISTER, Some(&body), Auth::Bearer(&plain))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error(), "insufficient_scope");
    let initial = km
        .app_token(
            "provisioner",
            "provisioner-secret",
            Some(keygate_km::dcr::REGISTRATION_SCOPE),
        )
        .await;
    let created = km
        .call("POST", REGISTER, Some(&body), Auth::Bearer(&initial))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let stored = km
        .stores
        .clients()
        .client(&created.field("client_id"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner, "bob", "the token's subject owns the client");
}

#[tokio::test]
async fn dcr_wrong_registration_token_is_refused() {
    let km = Km::start().await;
    let first = km.call("POST", REGISTER, Some(&web_app()), ADMIN).await;
    let second = km.call("POST", REGISTER, Some(&web_app()), ADMIN).await;
    let path = configuration_path(&first);
    let others = second.field("registration_access_token");
    for auth in [
        Auth::Bearer(&others),
        Auth::Bearer("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Auth::Anonymous,
        ADMIN,
    ] {
        for method in ["GET", "DELETE"] {
            let reply = km.call(method, &path, None, auth).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {auth:?}");
            assert_eq!(reply.error(), "invalid_token");
        }
    }
    let mut body = web_app();
    body["client_id"] = json!(first.field("client_id"));
    let reply = km
        .call("PUT", &path, Some(&body), Auth::Bearer(&others))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let unknown = km
        .call(
            "GET",
            &format!("{REGISTER}/no-such-client"),
            None,
            Auth::Bearer(&others),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        km.stores
            .clients()
            .client(&first.field("client_id"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn dcr_updates_follow_rfc_7592() {
    let km = Km::start().await;
    let created = km.call("POST", REGISTER, Some(&web_app()), ADMIN).await;
    let path = configuration_path(&created);
    let rat = created.field("registration_access_token");
    let client_id = created.field("client_id");
    let secret = created.field("client_secret");
    let put = |body: Value| {
        let km = &km;
        let path = path.clone();
        let rat = rat.clone();
        async move { km.call("PUT", &path, Some(&body), Auth::Bearer(&rat)).await }
    };
    let mut without_id = web_app();
    without_id.as_object_mut().unwrap().remove("client_id");
    assert_eq!(put(without_id).await.error(), "invalid_request");
    let mut wrong_secret = web_app();
    wrong_secret["client_id"] = json!(client_id);
    wrong_secret["client_secret"] = json!("guess");
    assert_eq!(put(wrong_secret).await.error(), "invalid_client_metadata");
    let mut server_member = web_app();
    server_member["client_id"] = json!(client_id);
    server_member["registration_access_token"] = json!(rat);
    assert_eq!(put(server_member).await.error(), "invalid_request");
    // The right secret may be repeated; becoming a public client drops it.
    let mut public = json!({
        "client_id": client_id,
        "client_secret": secret,
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["https://shop.example/cb"],
    });
    let reply = put(public.clone()).await.ok();
    assert_eq!(reply.json["token_endpoint_auth_method"], "none");
    assert!(
        km.stores
            .clients()
            .client(&client_id)
            .await
            .unwrap()
            .unwrap()
            .secret_digest
            .is_none()
    );
    // And a confidential client again gets a new secret, shown in that response.
    public["token_endpoint_auth_method"] = json!("client_secret_post");
    public.as_object_mut().unwrap().remove("client_secret");
    let reply = put(public).await.ok();
    let new_secret = reply.field("client_secret");
    assert_ne!(new_secret, secret);
}

#[tokio::test]
async fn open_registration_only_when_switched_on() {
    let body = json!({
        "grant_types": ["client_credentials"],
        "ext_application_token_lifetime": 999_999,
    });
    let closed = Km::start().await;
    let reply = closed
        .call("POST", REGISTER, Some(&body), Auth::Anonymous)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let mut settings = settings(keygate_config::TokenPersistence::Plain);
    settings.services.open_registration = true;
    let open = Km::start_with(settings).await;
    let reply = open
        .call("POST", REGISTER, Some(&body), Auth::Anonymous)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let client_id = reply.field("client_id");
    let stored = open
        .stores
        .clients()
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.owner, client_id,
        "an open registration owns itself, no user's roles"
    );
    let token = open
        .client_credentials(&client_id, &reply.field("client_secret"), Some("admin:all"))
        .await
        .ok();
    assert_eq!(
        token.field("scope"),
        "default",
        "no admin scope through open registration"
    );
    assert_eq!(
        token.json["expires_in"], 3600,
        "nor a token lifetime of its choosing"
    );
    let mut update = body.clone();
    update["client_id"] = json!(client_id);
    let path = reply
        .field("registration_client_uri")
        .strip_prefix(BASE)
        .unwrap()
        .to_owned();
    let rat = reply.field("registration_access_token");
    open.call("PUT", &path, Some(&update), Auth::Bearer(&rat))
        .await
        .ok();
    let stored = open
        .stores
        .clients()
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.lifetimes,
        Default::default(),
        "not by an update either"
    );
}

#[tokio::test]
async fn discovery_advertises_the_registration_endpoint() {
    let km = Km::start().await;
    let metadata = km.get("/.well-known/openid-configuration", None).await.ok();
    assert_eq!(
        metadata.field("registration_endpoint"),
        format!("{BASE}{REGISTER}")
    );
}
