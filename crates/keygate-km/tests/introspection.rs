//! Introspection (RFC 7662) and revocation (RFC 7009): who may ask, what expired and
//! revoked tokens look like, and the events revocation publishes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use keygate_model::TokenType;
use std::time::Duration;
use support::*;

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];

async fn km_with_apps() -> Km {
    let km = Km::start().await;
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    km.secret_client("other", "other-secret", GRANTS, TokenType::Oauth)
        .await;
    km
}

#[tokio::test]
async fn expired_token_at_introspection() {
    let km = km_with_apps().await;
    let token = km
        .client_credentials("app", "app-secret", Some("read"))
        .await
        .ok()
        .field("access_token");
    assert_eq!(km.introspect_as_admin(&token).await["active"], true);
    km.advance(Duration::from_secs(3599));
    assert_eq!(km.introspect_as_admin(&token).await["active"], true);
    km.advance(Duration::from_secs(1));
    let info = km.introspect_as_admin(&token).await;
    assert_eq!(info, serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn revoked_token_at_introspection() {
    let km = km_with_apps().await;
    let token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    let revoke = km
        .post(
            "/oauth2/revoke",
            &[("token", &token)],
            Some(("app", "app-secret")),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    assert_eq!(revoke.headers["cache-control"], "no-store");
    assert_eq!(
        km.introspect_as_admin(&token).await,
        serde_json::json!({ "active": false })
    );
}

#[tokio::test]
async fn introspection_callers_must_authenticate_and_see_only_their_tokens() {
    let km = km_with_apps().await;
    let token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    let anonymous = km
        .post("/oauth2/introspect", &[("token", &token)], None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.error(), "invalid_client");
    let not_admin = km
        .post(
            "/oauth2/introspect",
            &[("token", &token)],
            Some(("alice", "alice-password")),
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::UNAUTHORIZED);
    let wrong_password = km
        .post(
            "/oauth2/introspect",
            &[("token", &token)],
            Some(("bob", "nope")),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);

    let own = km
        .post(
            "/oauth2/introspect",
            &[("token", &token)],
            Some(("app", "app-secret")),
        )
        .await
        .ok();
    assert_eq!(own.json["active"], true);
    assert_eq!(own.json["client_id"], "app");
    let foreign = km
        .post(
            "/oauth2/introspect",
            &[("token", &token)],
            Some(("other", "other-secret")),
        )
        .await
        .ok();
    assert_eq!(foreign.json, serde_json::json!({ "active": false }));
    let mut public = client(
        "spa",
        keygate_model::TokenEndpointAuthMethod::None,
        &["authorization_code"],
    );
    public.token_type = TokenType::Oauth;
    km.register(public).await;
    let by_public = km
        .post(
            "/oauth2/introspect",
            &[("token", &token), ("client_id", "spa")],
            None,
        )
        .await;
    assert_eq!(by_public.status, StatusCode::UNAUTHORIZED);
    assert_eq!(by_public.error(), "invalid_client");
    let unknown = km.introspect_as_admin("no-such-token").await;
    assert_eq!(unknown, serde_json::json!({ "active": false }));
    let missing = km
        .post("/oauth2/introspect", &[], Some(("bob", "bob-password")))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error(), "invalid_request");
}

#[tokio::test]
async fn refresh_tokens_introspect_with_their_own_expiry() {
    let km = km_with_apps().await;
    let reply = km
        .password("app", "app-secret", "alice", "alice-password", "read")
        .await
        .ok();
    let refresh = reply.field("refresh_token");
    let info = km.introspect_as_admin(&refresh).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["exp"], START.as_secs() + 86_400);
    km.advance(Duration::from_secs(7200));
    assert_eq!(
        km.introspect_as_admin(&reply.field("access_token")).await["active"],
        false
    );
    assert_eq!(km.introspect_as_admin(&refresh).await["active"], true);
}

#[tokio::test]
async fn a_revoked_opaque_token_is_recorded_for_snapshots_by_its_digest() {
    let km = km_with_apps().await;
    let access = km
        .client_credentials("other", "other-secret", None)
        .await
        .ok()
        .field("access_token");
    let digest = keygate_jose::TokenHasher::hash(&access);
    let revoked = km.stores.revoked_tokens();
    assert!(revoked.revoked_token(&digest).await.unwrap().is_none());
    km.post(
        "/oauth2/revoke",
        &[("token", &access)],
        Some(("other", "other-secret")),
    )
    .await
    .ok();
    // A gateway knows an opaque token only by its SHA-256: a gateway that missed the
    // event refuses it after its next snapshot, which lists this record.
    let recorded = revoked.revoked_token(&digest).await.unwrap().unwrap();
    assert_eq!(recorded.token_type, keygate_model::RevokedTokenType::Opaque);
    assert!(recorded.expiry_time_ms > recorded.revoked_at_ms);
}

#[tokio::test]
async fn revocation_emits_one_event_per_revoked_token() {
    let km = km_with_apps().await;
    let mut events = km.revocations().await;

    // An access token: one event, with its jti and expiry; once only.
    let access = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    for _ in 0..2 {
        km.post(
            "/oauth2/revoke",
            &[("token", &access)],
            Some(("app", "app-secret")),
        )
        .await
        .ok();
    }
    let seen = drain(&mut events).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let claims = jwt_claims(&access);
    assert_eq!(seen[0].event_type, "TOKEN_REVOKED");
    assert_eq!(seen[0].payload["jti"], claims["jti"]);
    assert_eq!(
        seen[0].payload["expiry_time_ms"],
        (START.as_secs() + 3600) * 1000
    );
    assert_eq!(seen[0].payload["client_id"], "app");
    assert_eq!(seen[0].payload["subject"], "bob");
    let text = serde_json::to_string(&seen[0]).unwrap();
    assert!(
        !text.contains(&access),
        "the token itself is never broadcast"
    );
    // Gateways' snapshots see it too.
    let recorded = km
        .stores
        .revoked_tokens()
        .revoked_token(claims["jti"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        recorded.expiry_time_ms,
        ((START.as_secs() + 3600) * 1000) as i64
    );

    // A refresh token: its family's live access token, one event.
    let reply = km
        .password("app", "app-secret", "alice", "alice-password", "read")
        .await
        .ok();
    km.post(
        "/oauth2/revoke",
        &[
            ("token", &reply.field("refresh_token")),
            ("token_type_hint", "refresh_token"),
        ],
        Some(("app", "app-secret")),
    )
    .await
    .ok();
    let seen = drain(&mut events).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].payload["subject"], "alice");
    assert_eq!(
        km.introspect_as_admin(&reply.field("access_token")).await["active"],
        false
    );
    assert!(seen[0].revision > 0);

    // Unknown, foreign and already-revoked tokens: 200 and no event.
    let foreign = km
        .client_credentials("other", "other-secret", None)
        .await
        .ok()
        .field("access_token");
    for token in ["no-such-token", foreign.as_str(), access.as_str()] {
        let reply = km
            .post(
                "/oauth2/revoke",
                &[("token", token)],
                Some(("app", "app-secret")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert!(drain(&mut events).await.is_empty());
    assert_eq!(km.introspect_as_admin(&foreign).await["active"], true);

    // Bulk revocations are one event each.
    km.client_credentials("app", "app-secret", None).await.ok();
    km.client_credentials("app", "app-secret", None).await.ok();
    assert_eq!(km.km.revoke_client_tokens("app").await.unwrap(), 2);
    assert!(km.km.revoke_user_tokens("alice").await.is_ok());
    let seen = drain(&mut events).await;
    let types: Vec<&str> = seen.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["TOKENS_REVOKED_FOR_CLIENT", "TOKENS_REVOKED_FOR_USER"]
    );
}

#[tokio::test]
async fn revocation_needs_client_authentication() {
    let km = km_with_apps().await;
    let anonymous = km.post("/oauth2/revoke", &[("token", "x")], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.error(), "invalid_client");
    let wrong = km
        .post("/oauth2/revoke", &[("token", "x")], Some(("app", "bad")))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let get = km.get("/oauth2/revoke", None).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
}
