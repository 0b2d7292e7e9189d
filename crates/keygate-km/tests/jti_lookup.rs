//! What an access token is kept and found under: a JWT of this key manager by its `jti`
//! (time-ordered), an opaque token by its SHA-256, a JWT kept by its SHA-256 before that
//! still found — and never a JWT by a `jti` its signature does not vouch for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod services_support;
mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_jose::TokenHasher;
use keygate_jose::jwt::{self, ACCESS_TOKEN_TYPE, Claims};
use keygate_model::validation::{KeyValidationInfo, status};
use keygate_model::{RevokedTokenType, TokenType};
use serde_json::Value;
use services_support::*;
use sqlx::{Connection, SqliteConnection};
use support::*;

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];
const VALIDATE: &str = "/services/key-validation/v1/validate";

/// A key manager with two JWT clients (`victim`, `attacker`) and an opaque one.
async fn km_with_apps() -> Km {
    let km = Km::start().await;
    km.secret_client("victim", "victim-secret", GRANTS, TokenType::Jwt)
        .await;
    km.secret_client("attacker", "attacker-secret", GRANTS, TokenType::Jwt)
        .await;
    km.secret_client("opaque", "opaque-secret", GRANTS, TokenType::Oauth)
        .await;
    km
}

/// A JWT access token of `victim` for alice, with `openid`.
async fn alice_jwt(km: &Km) -> String {
    km.password(
        "victim",
        "victim-secret",
        "alice",
        "alice-password",
        "openid read",
    )
    .await
    .ok()
    .field("access_token")
}

fn jti_of(token: &str) -> String {
    jwt_claims(token)["jti"].as_str().unwrap().to_owned()
}

/// `token` with its payload replaced by `claims`, the signature left as it was.
fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let header = parts.next().unwrap();
    parts.next().unwrap();
    let signature = parts.next().unwrap();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.{signature}")
}

/// Forgeries of `victim_token` a holder of another token could make: the victim's claims
/// under the attacker's signature, re-signed by a key of the key manager's `kid`, and
/// unsigned (`alg: none`).
fn forgeries(victim_token: &str, attacker_token: &str) -> Vec<(&'static str, String)> {
    let victim = jwt_claims(victim_token);
    let mut attacker = jwt_claims(attacker_token);
    attacker["jti"] = victim["jti"].clone();
    let kid = jwt_header(victim_token)["kid"].as_str().unwrap().to_owned();
    let impostor = es256_key(&kid);
    let claims = Claims::from_json(&serde_json::to_vec(&victim).unwrap()).unwrap();
    let resigned = jwt::encode(
        &impostor,
        &impostor.header().with_typ(ACCESS_TOKEN_TYPE),
        &claims,
    )
    .unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#.as_slice());
    let victim_payload = victim_token.split('.').nth(1).unwrap();
    vec![
        (
            "the attacker's token naming the victim's jti",
            with_payload(attacker_token, &attacker),
        ),
        ("the victim's claims re-signed by another key", resigned),
        (
            "the victim's claims unsigned",
            format!("{none_header}.{victim_payload}."),
        ),
    ]
}

async fn validation_status(km: &Km, token: &str) -> u32 {
    let question = question(token, "/pets", "GET", "Any");
    let reply = km.call("POST", VALIDATE, Some(&question), ADMIN).await.ok();
    let info: KeyValidationInfo = serde_json::from_value(reply.json).unwrap();
    info.validation_status
}

#[tokio::test]
async fn a_jwt_is_kept_under_its_jti_and_an_opaque_token_under_its_digest() {
    let km = km_with_apps().await;
    let jwt = km
        .client_credentials("victim", "victim-secret", None)
        .await
        .ok()
        .field("access_token");
    let opaque = km
        .client_credentials("opaque", "opaque-secret", None)
        .await
        .ok()
        .field("access_token");
    let tokens = km.stores.tokens();
    let jti = jti_of(&jwt);
    let record = tokens
        .token_by_digest(&format!("jti:{jti}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.token_id, jti);
    assert!(
        tokens
            .token_by_digest(&TokenHasher::hash(&jwt))
            .await
            .unwrap()
            .is_none()
    );
    let record = tokens
        .token_by_digest(&TokenHasher::hash(&opaque))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.client_id, "opaque");
    assert_eq!(km.introspect_as_admin(&jwt).await["jti"], jti.as_str());
    assert_eq!(km.introspect_as_admin(&opaque).await["active"], true);
}

/// Security: a JWT's `jti` is trusted for lookup only when this key manager's signature
/// vouches for it — a forged JWT naming another client's `jti` is not that client's
/// token at introspection, revocation, key validation or userinfo.
#[tokio::test]
async fn a_forged_jwt_naming_a_real_jti_is_never_that_token() {
    let km = km_with_apps().await;
    let victim = alice_jwt(&km).await;
    let attacker = km
        .client_credentials("attacker", "attacker-secret", None)
        .await
        .ok()
        .field("access_token");
    assert_eq!(km.introspect_as_admin(&victim).await["active"], true);
    assert_eq!(
        km.get("/oauth2/userinfo", Some(&victim)).await.ok().json["sub"],
        "alice"
    );
    let genuine_status = validation_status(&km, &victim).await;
    assert_ne!(genuine_status, status::INVALID_CREDENTIALS);

    for (what, forged) in forgeries(&victim, &attacker) {
        assert_eq!(jti_of(&forged), jti_of(&victim), "{what}");
        assert_eq!(
            km.introspect_as_admin(&forged).await,
            serde_json::json!({ "active": false }),
            "{what} introspected as active"
        );
        assert_eq!(
            validation_status(&km, &forged).await,
            status::INVALID_CREDENTIALS,
            "{what} passed key validation"
        );
        let userinfo = km.get("/oauth2/userinfo", Some(&forged)).await;
        assert_eq!(userinfo.status, 401, "{what} got userinfo");
        // The attacker revoking the forgery (RFC 7009 answers 200 whatever it was)
        // leaves the victim's token alone.
        let revoke = km
            .post(
                "/oauth2/revoke",
                &[("token", &forged)],
                Some(("attacker", "attacker-secret")),
            )
            .await;
        assert_eq!(revoke.status, 200, "{what}");
        assert_eq!(
            km.introspect_as_admin(&victim).await["active"],
            true,
            "{what} revoked the victim's token"
        );
    }
    assert_eq!(validation_status(&km, &victim).await, genuine_status);
}

#[tokio::test]
async fn a_jwt_signed_by_a_rotated_key_is_still_found_by_its_jti() {
    let km = km_with_apps().await;
    let token = km
        .client_credentials("victim", "victim-secret", None)
        .await
        .ok()
        .field("access_token");
    km.km.rotate_signing_key().await.unwrap();
    let after = km
        .client_credentials("victim", "victim-secret", None)
        .await
        .ok()
        .field("access_token");
    assert_ne!(jwt_header(&token)["kid"], jwt_header(&after)["kid"]);
    assert_eq!(km.introspect_as_admin(&token).await["active"], true);
    assert_eq!(km.introspect_as_admin(&after).await["active"], true);
}

/// A database written before JWTs were kept by their `jti` keeps their SHA-256: those
/// tokens are still found, introspected, revoked and announced to gateways.
#[tokio::test]
async fn a_jwt_kept_under_its_digest_before_is_still_found_and_revoked() {
    let km = km_with_apps().await;
    let token = alice_jwt(&km).await;
    let jti = jti_of(&token);
    let digest = TokenHasher::hash(&token);
    let url = format!("sqlite://{}", km.db_path.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let updated = sqlx::query("UPDATE kg_access_token SET token_digest = ? WHERE token_id = ?")
        .bind(&digest)
        .bind(&jti)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    conn.close().await.unwrap();

    assert_eq!(km.introspect_as_admin(&token).await["jti"], jti.as_str());
    assert_eq!(
        km.get("/oauth2/userinfo", Some(&token)).await.ok().json["sub"],
        "alice"
    );
    let revoked = km.stores.revoked_tokens();
    km.post(
        "/oauth2/revoke",
        &[("token", &token)],
        Some(("victim", "victim-secret")),
    )
    .await
    .ok();
    assert_eq!(km.introspect_as_admin(&token).await["active"], false);
    let by_jti = revoked.revoked_token(&jti).await.unwrap().unwrap();
    assert_eq!(by_jti.token_type, RevokedTokenType::Jti);
    assert!(revoked.revoked_token(&digest).await.unwrap().is_some());
}

#[tokio::test]
async fn a_revoked_jwt_is_announced_and_recorded_by_its_jti() {
    let km = km_with_apps().await;
    let token = km
        .client_credentials("victim", "victim-secret", None)
        .await
        .ok()
        .field("access_token");
    let jti = jti_of(&token);
    let mut events = km.revocations().await;
    km.post(
        "/oauth2/revoke",
        &[("token", &token)],
        Some(("victim", "victim-secret")),
    )
    .await
    .ok();
    let events = drain(&mut events).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["jti"], jti.as_str());
    let recorded = km
        .stores
        .revoked_tokens()
        .revoked_token(&jti)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.token_type, RevokedTokenType::Jti);
    assert!(recorded.expiry_time_ms > recorded.revoked_at_ms);
    // Gateways refuse such a JWT by its jti: no digest is announced or recorded for it.
    assert!(
        events[0].payload["token_digest"].is_null(),
        "{:?}",
        events[0].payload
    );
    assert!(
        km.stores
            .revoked_tokens()
            .revoked_token(&format!("jti:{jti}"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(km.introspect_as_admin(&token).await["active"], false);
}
