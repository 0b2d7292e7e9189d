//! The token endpoint's grants end to end through the router: client credentials, password,
//! authorization code with PKCE, refresh rotation, JWT bearer; JWT and opaque tokens; ID
//! tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use keygate_jose::jwt::Claims;
use keygate_jose::{Audience, VerifyingKeySet, jwt};
use keygate_km::settings::TrustedIssuer;
use keygate_km::{IssuerKeys, tokens::token_hash};
use keygate_model::{TokenEndpointAuthMethod, TokenType};
use keygate_oauth::pkce::s256_challenge;
use keygate_oauth::{AuthorizeClient, AuthorizeRequest, Form};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const ALL_GRANTS: &[&str] = &[
    "client_credentials",
    "password",
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Issues a code the way the authorize endpoint will: a checked request, then
/// [`keygate_km::KeyManager::issue_authorization_code`].
async fn issue_code(km: &Km, client_id: &str, scope: &str, challenge: Option<&str>) -> String {
    let client = km
        .stores
        .clients()
        .client(client_id)
        .await
        .unwrap()
        .unwrap();
    let mut pairs = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", "https://app.example/cb"),
        ("scope", scope),
        ("state", "xyz"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    let challenge_value;
    if let Some(verifier) = challenge {
        challenge_value = s256_challenge(verifier);
        pairs.push(("code_challenge", &challenge_value));
        pairs.push(("code_challenge_method", "S256"));
    }
    let form = Form::from_pairs(pairs, &[]).unwrap();
    let request =
        AuthorizeRequest::validate(&form, &AuthorizeClient::from_client(&client).unwrap()).unwrap();
    let user = km.stores.users().user("alice").await.unwrap().unwrap();
    let granted = km.km.scopes_for_user(&user, &request.scope).await.unwrap();
    km.km
        .issue_authorization_code(&request, "alice", &granted)
        .await
        .unwrap()
        .expose()
        .to_owned()
}

#[tokio::test]
async fn client_credentials_issue_an_rfc9068_jwt_for_the_client_owner() {
    let km = Km::start().await;
    km.secret_client("app-1", "app-1-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    let reply = km
        .client_credentials(
            "app-1",
            "app-1-secret",
            Some("read write admin:all unknown"),
        )
        .await
        .ok();
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.headers["pragma"], "no-cache");
    assert_eq!(reply.field("token_type"), "Bearer");
    assert_eq!(reply.json["expires_in"], 3600);
    // bob, the owner, is an admin: `write` needs the subscriber role, `unknown` is no scope.
    assert_eq!(reply.field("scope"), "admin:all read");
    assert!(
        reply.json.get("refresh_token").is_none(),
        "no refresh for client credentials"
    );
    assert!(reply.json.get("id_token").is_none());

    let token = reply.field("access_token");
    let header = jwt_header(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let claims = jwt_claims(&token);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["aud"], "app-1");
    assert_eq!(claims["client_id"], "app-1");
    assert_eq!(claims["azp"], "app-1");
    assert_eq!(claims["aut"], "APPLICATION");
    assert_eq!(claims["scope"], "admin:all read");
    assert_eq!(claims["iat"], START.as_secs());
    assert_eq!(claims["exp"], START.as_secs() + 3600);
    assert!(claims["jti"].as_str().unwrap().len() >= 32);

    // Post authentication works as well, and every request gets a new token.
    let again = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "app-1"),
                ("client_secret", "app-1-secret"),
            ],
            None,
        )
        .await
        .ok();
    assert_eq!(again.field("scope"), "default");
    assert_ne!(again.field("access_token"), token);
}

#[tokio::test]
async fn oauth_clients_get_opaque_tokens_that_introspect() {
    let km = Km::start().await;
    km.secret_client("opaque", "opaque-secret", ALL_GRANTS, TokenType::Oauth)
        .await;
    let token = km
        .client_credentials("opaque", "opaque-secret", Some("read"))
        .await
        .ok()
        .field("access_token");
    assert_eq!(token.len(), 43);
    assert!(!token.contains('.'));
    let info = km.introspect_as_admin(&token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "opaque");
    assert_eq!(info["username"], "bob");
    assert_eq!(info["scope"], "read");
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["iss"], ISSUER);
    assert_eq!(info["exp"], START.as_secs() + 3600);
}

#[tokio::test]
async fn password_grant_issues_user_scopes_a_refresh_token_and_an_id_token() {
    let km = Km::start().await;
    km.secret_client("web", "web-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    let reply = km
        .password(
            "web",
            "web-secret",
            "alice",
            "alice-password",
            "openid read write admin:all",
        )
        .await
        .ok();
    // alice is a subscriber: `admin:all` needs the admin role.
    assert_eq!(reply.field("scope"), "openid read write");
    let access = reply.field("access_token");
    let claims = jwt_claims(&access);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aut"], "APPLICATION_USER");
    assert_eq!(reply.field("refresh_token").len(), 43);

    let id_token = reply.field("id_token");
    assert_eq!(jwt_header(&id_token)["typ"], "JWT");
    let id = jwt_claims(&id_token);
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], "alice");
    assert_eq!(id["aud"], "web");
    assert_eq!(id["azp"], "web");
    assert_eq!(id["auth_time"], START.as_secs());
    assert_eq!(
        id["at_hash"],
        token_hash(keygate_jose::JwsAlgorithm::Rs256, &access)
    );
    assert!(id.get("nonce").is_none());

    let wrong = km
        .password("web", "web-secret", "alice", "not-her-password", "openid")
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.error(), "invalid_grant");
    let nobody = km
        .password("web", "web-secret", "mallory", "alice-password", "openid")
        .await;
    assert_eq!(nobody.error(), "invalid_grant");
    assert_eq!(
        wrong.json, nobody.json,
        "no difference between a wrong user and password"
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_is_redeemed_once() {
    let km = Km::start().await;
    km.secret_client("web", "web-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    let code = issue_code(&km, "web", "openid read write", Some(VERIFIER)).await;
    let redeem = |verifier: &'static str| {
        let code = code.clone();
        let km = &km;
        async move {
            km.post(
                "/oauth2/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "https://app.example/cb"),
                    ("code_verifier", verifier),
                ],
                Some(("web", "web-secret")),
            )
            .await
        }
    };
    let wrong = redeem("wrong-verifier-wrong-verifier-wrong-verifier-x").await;
    assert_eq!(wrong.error(), "invalid_grant");

    let reply = redeem(VERIFIER).await.ok();
    assert_eq!(reply.field("scope"), "openid read write");
    let id = jwt_claims(&reply.field("id_token"));
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["auth_time"], START.as_secs());
    let access = reply.field("access_token");
    assert_eq!(km.introspect_as_admin(&access).await["active"], true);

    // A replay is refused and revokes what the code issued.
    let mut revocations = km.revocations().await;
    let replay = redeem(VERIFIER).await;
    assert_eq!(replay.error(), "invalid_grant");
    assert_eq!(km.introspect_as_admin(&access).await["active"], false);
    let refresh = reply.field("refresh_token");
    assert_eq!(km.introspect_as_admin(&refresh).await["active"], false);
    let events = drain(&mut revocations).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["reason"], "code_replayed");
}

#[tokio::test]
async fn codes_expire_and_belong_to_their_client() {
    let km = Km::start().await;
    km.secret_client("web", "web-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    km.secret_client("other", "other-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    let code = issue_code(&km, "web", "read", None).await;
    let by_other = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/cb"),
            ],
            Some(("other", "other-secret")),
        )
        .await;
    assert_eq!(by_other.error(), "invalid_grant");
    km.advance(Duration::from_secs(301));
    let late = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/cb"),
            ],
            Some(("web", "web-secret")),
        )
        .await;
    assert_eq!(late.error(), "invalid_grant");
    assert!(late.text.contains("expired"), "{}", late.text);
}

#[tokio::test]
async fn public_clients_need_pkce_and_only_use_the_code_grant() {
    let km = Km::start().await;
    let mut public = client(
        "spa",
        TokenEndpointAuthMethod::None,
        &["authorization_code", "refresh_token", "password"],
    );
    public.token_type = TokenType::Oauth;
    km.register(public).await;

    let code = issue_code(&km, "spa", "read", Some(VERIFIER)).await;
    let without_verifier = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &code),
                ("redirect_uri", "https://app.example/cb"),
            ],
            None,
        )
        .await;
    assert_eq!(without_verifier.error(), "invalid_grant");
    let reply = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &code),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await
        .ok();
    let refresh = reply.field("refresh_token");
    let refreshed = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "spa"),
                ("refresh_token", &refresh),
            ],
            None,
        )
        .await
        .ok();
    assert_ne!(refreshed.field("refresh_token"), refresh);

    let password = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", "spa"),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            None,
        )
        .await;
    assert_eq!(password.status, StatusCode::BAD_REQUEST);
    assert_eq!(password.error(), "unauthorized_client");
    let credentials = km
        .post(
            "/oauth2/token",
            &[("grant_type", "client_credentials"), ("client_id", "spa")],
            None,
        )
        .await;
    assert_eq!(credentials.error(), "unauthorized_client");
}

#[tokio::test]
async fn refresh_rotates_and_narrows() {
    let km = Km::start().await;
    km.secret_client("web", "web-secret", ALL_GRANTS, TokenType::Oauth)
        .await;
    let first = km
        .password("web", "web-secret", "alice", "alice-password", "read write")
        .await
        .ok();
    let mut revocations = km.revocations().await;
    km.advance(Duration::from_secs(60));
    let second = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first.field("refresh_token")),
                ("scope", "read"),
            ],
            Some(("web", "web-secret")),
        )
        .await
        .ok();
    assert_eq!(second.field("scope"), "read");
    assert_ne!(second.field("refresh_token"), first.field("refresh_token"));
    assert_ne!(second.field("access_token"), first.field("access_token"));
    // The superseded access token stops working, and gateways are told.
    assert_eq!(
        km.introspect_as_admin(&first.field("access_token")).await["active"],
        false
    );
    let info = km.introspect_as_admin(&second.field("access_token")).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "read");
    assert_eq!(info["iat"], START.as_secs() + 60);
    let events = drain(&mut revocations).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["reason"], "superseded");
    assert_eq!(events[0].payload["client_id"], "web");
}

#[tokio::test]
async fn jwt_bearer_assertions_from_trusted_issuers_are_accepted_once() {
    let idp = es256_key("idp-key");
    let mut settings = settings(keygate_config::TokenPersistence::Plain);
    settings.trusted_issuers = vec![TrustedIssuer {
        issuer: "https://idp.example".into(),
        keys: IssuerKeys::Fixed(Arc::new(VerifyingKeySet::new(vec![
            idp.verifying_key().unwrap(),
        ]))),
    }];
    let km = Km::start_with(settings).await;
    km.secret_client("svc", "svc-secret", ALL_GRANTS, TokenType::Jwt)
        .await;
    let assertion = |key: &keygate_jose::SigningKey, iss: &str, aud: &str, jti: &str| {
        let claims = Claims {
            iss: Some(iss.into()),
            sub: Some("alice".into()),
            aud: Audience::new(aud),
            exp: Some(START.as_secs() as i64 + 300),
            iat: Some(START.as_secs() as i64),
            jti: Some(jti.into()),
            ..Claims::default()
        };
        jwt::encode(key, &key.header().with_typ("JWT"), &claims).unwrap()
    };
    let exchange = |assertion: String| {
        let km = &km;
        async move {
            km.post(
                "/oauth2/token",
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &assertion),
                    ("scope", "read write"),
                ],
                Some(("svc", "svc-secret")),
            )
            .await
        }
    };
    let good = assertion(&idp, "https://idp.example", ISSUER, "a-1");
    let reply = exchange(good.clone()).await.ok();
    assert_eq!(reply.field("scope"), "read write", "alice's roles apply");
    assert_eq!(jwt_claims(&reply.field("access_token"))["sub"], "alice");
    let replay = exchange(good).await;
    assert_eq!(replay.error(), "invalid_grant");
    assert!(replay.text.contains("already used"), "{}", replay.text);

    let wrong_audience = exchange(assertion(&idp, "https://idp.example", "https://x", "a-2")).await;
    assert_eq!(wrong_audience.error(), "invalid_grant");
    let untrusted = exchange(assertion(&idp, "https://evil.example", ISSUER, "a-3")).await;
    assert_eq!(untrusted.error(), "invalid_grant");
    let forged = exchange(assertion(
        &es256_key("idp-key"),
        "https://idp.example",
        ISSUER,
        "a-4",
    ))
    .await;
    assert_eq!(forged.error(), "invalid_grant");
    // A subject too long to store is the client's mistake, not a server error.
    let long_subject = {
        let claims = Claims {
            iss: Some("https://idp.example".into()),
            sub: Some("x".repeat(1000)),
            aud: Audience::new(ISSUER),
            exp: Some(START.as_secs() as i64 + 300),
            jti: Some("a-6".into()),
            ..Claims::default()
        };
        jwt::encode(&idp, &idp.header(), &claims).unwrap()
    };
    let long = exchange(long_subject).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.text);
    assert_eq!(long.error(), "invalid_request");
    km.advance(Duration::from_secs(600));
    let expired = exchange(assertion(&idp, "https://idp.example", ISSUER, "a-5")).await;
    assert_eq!(expired.error(), "invalid_grant");
}

#[tokio::test]
async fn per_client_lifetimes_override_the_server_wide_ones() {
    let km = Km::start().await;
    let mut short = client(
        "short",
        TokenEndpointAuthMethod::ClientSecretBasic,
        ALL_GRANTS,
    );
    short.secret_digest = Some(
        km.km
            .seal_client_secret(&keygate_model::Secret::new("short-secret"))
            .unwrap(),
    );
    short.lifetimes.application_access_token_ms = Some(60_000);
    km.register(short).await;
    let reply = km
        .client_credentials("short", "short-secret", None)
        .await
        .ok();
    assert_eq!(reply.json["expires_in"], 60);
    let claims = jwt_claims(&reply.field("access_token"));
    assert_eq!(claims["exp"], START.as_secs() + 60);
}
