//! Named security tests of the token endpoint: bad client credentials, malformed and
//! oversized requests, grants a client may not use, scope escalation, refresh-token reuse,
//! client-assertion replay, and mutual-TLS client authentication switched off and on.
//! Every refusal is the RFC's error object with its status — never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use keygate_jose::jwt::{self, Claims};
use keygate_jose::{Audience, Jwk, SigningKey};
use keygate_km::ClientCertificates;
use keygate_model::{TokenEndpointAuthMethod, TokenType};
use std::time::Duration;
use support::*;

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];

async fn km_with_app() -> Km {
    let km = Km::start().await;
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    km
}

fn raw(body: &str, content_type: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/oauth2/token").header(header::CONTENT_TYPE, content_type);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn wrong_client_secret() {
    let km = km_with_app().await;
    let basic = km.client_credentials("app", "not-the-secret", None).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.error(), "invalid_client");
    assert_eq!(
        basic.headers[header::WWW_AUTHENTICATE],
        "Basic realm=\"keygate\""
    );
    let post = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "not-the-secret"),
            ],
            None,
        )
        .await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    assert_eq!(post.error(), "invalid_client");
    assert!(post.headers.get(header::WWW_AUTHENTICATE).is_none());
    let unknown = km.client_credentials("nobody", "app-secret", None).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.json, basic.json,
        "unknown client and wrong secret look alike"
    );
}

#[tokio::test]
async fn secret_basic_with_bad_base64() {
    let km = km_with_app().await;
    for header_value in [
        "Basic !!!not-base64!!!",
        "Basic",
        "Basic YXBw",
        "Bearer abc",
    ] {
        let reply = km
            .send(raw(
                "grant_type=client_credentials",
                FORM,
                Some(header_value),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header_value}");
        assert_eq!(reply.error(), "invalid_client", "{header_value}");
        assert_eq!(
            reply.headers[header::WWW_AUTHENTICATE],
            "Basic realm=\"keygate\""
        );
    }
}

#[tokio::test]
async fn duplicated_parameter() {
    let km = km_with_app().await;
    let reply = km
        .send(raw(
            "grant_type=client_credentials&scope=read&scope=write",
            FORM,
            Some(&basic_header("app", "app-secret")),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_request");
    assert!(reply.text.contains("scope"), "{}", reply.text);
    let two_methods = km
        .send(raw(
            "grant_type=client_credentials&client_id=app&client_secret=app-secret",
            FORM,
            Some(&basic_header("app", "app-secret")),
        ))
        .await;
    assert_eq!(two_methods.status, StatusCode::BAD_REQUEST);
    assert_eq!(two_methods.error(), "invalid_request");
}

#[tokio::test]
async fn wrong_content_type() {
    let km = km_with_app().await;
    for content_type in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let reply = km
            .send(raw(
                r#"{"grant_type":"client_credentials"}"#,
                content_type,
                Some(&basic_header("app", "app-secret")),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{content_type}");
        assert_eq!(reply.error(), "invalid_request");
    }
    let missing = km
        .send(
            Request::post("/oauth2/token")
                .body(Body::from("grant_type=client_credentials"))
                .unwrap(),
        )
        .await;
    assert_eq!(missing.error(), "invalid_request");
}

#[tokio::test]
async fn oversized_body() {
    let km = km_with_app().await;
    let body = format!(
        "grant_type=client_credentials&padding={}",
        "x".repeat(70 * 1024)
    );
    let reply = km
        .send(raw(&body, FORM, Some(&basic_header("app", "app-secret"))))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn unsupported_grant() {
    let km = km_with_app().await;
    let reply = km
        .post(
            "/oauth2/token",
            &[("grant_type", "urn:example:made-up")],
            Some(("app", "app-secret")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "unsupported_grant_type");
    let missing = km
        .post(
            "/oauth2/token",
            &[("scope", "read")],
            Some(("app", "app-secret")),
        )
        .await;
    assert_eq!(missing.error(), "invalid_request");
}

#[tokio::test]
async fn client_not_allowed_the_grant() {
    let km = Km::start().await;
    km.secret_client(
        "narrow",
        "narrow-secret",
        &["client_credentials"],
        TokenType::Jwt,
    )
    .await;
    let reply = km
        .password("narrow", "narrow-secret", "alice", "alice-password", "read")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "unauthorized_client");
}

#[tokio::test]
async fn scope_escalation_via_refresh() {
    let km = km_with_app().await;
    let first = km
        .password("app", "app-secret", "alice", "alice-password", "read")
        .await
        .ok();
    let refresh = first.field("refresh_token");
    let escalate = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "read write"),
            ],
            Some(("app", "app-secret")),
        )
        .await;
    assert_eq!(escalate.status, StatusCode::BAD_REQUEST);
    assert_eq!(escalate.error(), "invalid_scope");
    // The refused request did not use the refresh token up.
    let same = km
        .post(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some(("app", "app-secret")),
        )
        .await
        .ok();
    assert_eq!(same.field("scope"), "read");
}

#[tokio::test]
async fn refresh_reuse_revokes_the_family() {
    let km = km_with_app().await;
    let first = km
        .password("app", "app-secret", "alice", "alice-password", "read")
        .await
        .ok();
    let mut revocations = km.revocations().await;
    let refresh = |token: String| {
        let km = &km;
        async move {
            km.post(
                "/oauth2/token",
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
                Some(("app", "app-secret")),
            )
            .await
        }
    };
    let second = refresh(first.field("refresh_token")).await.ok();
    let reused = refresh(first.field("refresh_token")).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.error(), "invalid_grant");
    // The whole family is gone: the latest refresh token and access token too.
    let after = refresh(second.field("refresh_token")).await;
    assert_eq!(after.error(), "invalid_grant");
    assert_eq!(
        km.introspect_as_admin(&second.field("access_token")).await["active"],
        false
    );
    let events = drain(&mut revocations).await;
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e.payload["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["superseded", "family_revoked"]);
    assert_eq!(
        events[1].payload["jti"],
        jwt_claims(&second.field("access_token"))["jti"]
    );
}

fn client_assertion(key: &SigningKey, client_id: &str, aud: &str, jti: &str, exp: u64) -> String {
    let claims = Claims {
        iss: Some(client_id.into()),
        sub: Some(client_id.into()),
        aud: Audience::new(aud),
        exp: Some(exp as i64),
        iat: Some(START.as_secs() as i64),
        jti: Some(jti.into()),
        ..Claims::default()
    };
    jwt::encode(key, &key.header().with_typ("JWT"), &claims).unwrap()
}

#[tokio::test]
async fn private_key_jwt_replay_refused() {
    let km = Km::start().await;
    let key = es256_key("client-key-1");
    let mut registered = client("signer", TokenEndpointAuthMethod::PrivateKeyJwt, GRANTS);
    let jwk: Jwk = key.public_jwk().unwrap();
    registered.jwks = Some(serde_json::json!({ "keys": [jwk] }).to_string());
    km.register(registered).await;
    let exp = START.as_secs() + 120;
    let token_with = |assertion: String| {
        let km = &km;
        async move {
            km.post(
                "/oauth2/token",
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ],
                None,
            )
            .await
        }
    };
    let assertion = client_assertion(&key, "signer", ISSUER, "jti-1", exp);
    token_with(assertion.clone()).await.ok();
    let replay = token_with(assertion).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.error(), "invalid_client");
    // A fresh jti is accepted.
    token_with(client_assertion(&key, "signer", ISSUER, "jti-2", exp))
        .await
        .ok();
    let wrong_audience = token_with(client_assertion(
        &key,
        "signer",
        "https://other/token",
        "jti-3",
        exp,
    ))
    .await;
    assert_eq!(wrong_audience.error(), "invalid_client");
    let stranger = es256_key("client-key-1");
    let forged = token_with(client_assertion(&stranger, "signer", ISSUER, "jti-4", exp)).await;
    assert_eq!(forged.error(), "invalid_client");
    km.advance(Duration::from_secs(300));
    let expired = token_with(client_assertion(&key, "signer", ISSUER, "jti-5", exp)).await;
    assert_eq!(expired.error(), "invalid_client");
    // A secret cannot stand in for the key.
    let by_secret = km.client_credentials("signer", "anything", None).await;
    assert_eq!(by_secret.error(), "invalid_client");
}

#[tokio::test]
async fn private_key_jwt_replay_is_refused_across_nodes() {
    let km = Km::start().await;
    let key = es256_key("k");
    let mut registered = client("signer", TokenEndpointAuthMethod::PrivateKeyJwt, GRANTS);
    registered.jwks = Some(serde_json::json!({ "keys": [key.public_jwk().unwrap()] }).to_string());
    km.register(registered).await;
    let other = km
        .second_node(settings(keygate_config::TokenPersistence::Plain))
        .await;
    let assertion = client_assertion(&key, "signer", ISSUER, "shared-jti", START.as_secs() + 60);
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    km.post("/oauth2/token", &form, None).await.ok();
    use tower::ServiceExt;
    let response = other
        .router()
        .oneshot(form_request("/oauth2/token", &form, None, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

fn self_signed_certificate() -> (ClientCertificates, Jwk) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let der = cert.der().clone();
    let jwk = Jwk::from_certificate(&der).unwrap();
    (ClientCertificates::new(vec![der]), jwk)
}

async fn mtls_client(km: &Km, jwk: &Jwk) {
    let mut registered = client(
        "device",
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
        GRANTS,
    );
    registered.jwks = Some(serde_json::json!({ "keys": [jwk] }).to_string());
    km.register(registered).await;
}

#[tokio::test]
async fn mtls_client_auth_refused_when_disabled() {
    let km = Km::start().await;
    let (chain, jwk) = self_signed_certificate();
    mtls_client(&km, &jwk).await;
    let reply = km
        .post_with_certificate(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "device"),
            ],
            chain,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "invalid_client");
    let metadata = km.get("/.well-known/openid-configuration", None).await.ok();
    let methods = metadata.json["token_endpoint_auth_methods_supported"].to_string();
    assert!(!methods.contains("tls_client_auth"), "{methods}");
}

#[tokio::test]
async fn mtls_client_auth_works_when_enabled_and_binds_the_token() {
    let mut enabled = settings(keygate_config::TokenPersistence::Plain);
    enabled.mutual_tls_enabled = true;
    let km = Km::start_with(enabled).await;
    let (chain, jwk) = self_signed_certificate();
    mtls_client(&km, &jwk).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "device"),
    ];
    let reply = km
        .post_with_certificate("/oauth2/token", &form, chain.clone())
        .await
        .ok();
    let thumbprint = chain.thumbprint().unwrap();
    let token = reply.field("access_token");
    assert_eq!(jwt_claims(&token)["cnf"]["x5t#S256"], thumbprint);
    assert_eq!(
        km.introspect_as_admin(&token).await["cnf"]["x5t#S256"],
        thumbprint
    );
    // Without a certificate, or with another one, the client is not authenticated.
    let bare = km.post("/oauth2/token", &form, None).await;
    assert_eq!(bare.error(), "invalid_client");
    let (other, _) = self_signed_certificate();
    let stranger = km
        .post_with_certificate("/oauth2/token", &form, other)
        .await;
    assert_eq!(stranger.error(), "invalid_client");
    let metadata = km.get("/.well-known/openid-configuration", None).await.ok();
    assert_eq!(
        metadata.json["tls_client_certificate_bound_access_tokens"],
        true
    );
    assert!(
        metadata.json["token_endpoint_auth_methods_supported"]
            .to_string()
            .contains("self_signed_tls_client_auth")
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_request_never_500() {
    let km = km_with_app().await;
    let auth = basic_header("app", "app-secret");
    for body in [
        "",
        "grant_type=client_credentials&%zz=1",
        "grant_type=%FF%FE",
        "=novalue&grant_type=client_credentials",
        "grant_type",
    ] {
        let reply = km.send(raw(body, FORM, Some(&auth))).await;
        assert!(
            reply.status.is_client_error(),
            "{body:?} gave {}",
            reply.status
        );
        assert!(
            ["invalid_request", "unsupported_grant_type"].contains(&reply.error()),
            "{body:?}: {}",
            reply.text
        );
    }
    let get = km.get("/oauth2/token", None).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.error(), "invalid_request");
    let anonymous = km
        .post(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.error(), "invalid_client");
}

#[tokio::test]
async fn storage_down_is_temporarily_unavailable() {
    let km = km_with_app().await;
    km.stores.close().await;
    let reply = km.client_credentials("app", "app-secret", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json,
        serde_json::json!({ "error": "temporarily_unavailable" })
    );
    let introspect = km
        .post(
            "/oauth2/introspect",
            &[("token", "x")],
            Some(("app", "app-secret")),
        )
        .await;
    assert_eq!(introspect.status, StatusCode::SERVICE_UNAVAILABLE);
}
