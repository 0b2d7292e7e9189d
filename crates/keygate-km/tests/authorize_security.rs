//! Named security tests of the authorization endpoint: what is shown rather than
//! redirected, PKCE for public clients, forged forms, password guessing, locked users,
//! code replay, denial, and `prompt=none`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize_common;
mod support;

use authorize_common::*;
use axum::http::{StatusCode, header};
use keygate_model::claims;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use support::*;

async fn km() -> Km {
    let km = Km::start().await;
    register_clients(&km).await;
    km
}

/// An error page: the status, no redirect, the error code on the page.
fn assert_error_page(seen: &Seen, status: StatusCode, code: &str) {
    assert_eq!(seen.status, status, "{}", seen.html);
    assert!(seen.location().is_none(), "never redirected");
    seen.assert_protected();
    assert!(
        seen.html.contains(&format!("<code>{code}</code>")),
        "{}",
        seen.html
    );
}

#[tokio::test]
async fn redirect_uri_mismatch_shows_an_error_page() {
    let km = km().await;
    let mut browser = Browser::new();
    for uri in [
        "https://evil.example/cb",
        "https://app.example/cb/",
        "https://app.example/CB",
        "https://app.example/cb?x=1",
    ] {
        let challenge = challenge();
        let seen = browser
            .get(
                &km.km,
                &query(&[
                    ("response_type", "code"),
                    ("client_id", "spa"),
                    ("redirect_uri", uri),
                    ("state", "st-1"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ]),
            )
            .await;
        assert_error_page(&seen, StatusCode::BAD_REQUEST, "invalid_request");
        assert!(
            !seen.html.contains("evil.example\""),
            "no link to the target"
        );
    }
    // A fragment, or a script URI, is refused the same way.
    let seen = browser
        .get(
            &km.km,
            &query(&[
                ("response_type", "code"),
                ("client_id", "web"),
                ("redirect_uri", "javascript:alert(1)"),
            ]),
        )
        .await;
    assert_error_page(&seen, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn unknown_client_shows_an_error_page() {
    let km = km().await;
    let mut browser = Browser::new();
    let seen = browser
        .get(
            &km.km,
            &query(&[
                ("response_type", "code"),
                ("client_id", "nobody"),
                ("redirect_uri", CALLBACK),
                ("state", "s"),
            ]),
        )
        .await;
    assert_error_page(&seen, StatusCode::BAD_REQUEST, "invalid_client");
    assert!(seen.html.contains("Unknown application"));
    let missing = browser
        .get(
            &km.km,
            &query(&[("response_type", "code"), ("redirect_uri", CALLBACK)]),
        )
        .await;
    assert_error_page(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    // A repeated parameter cannot be trusted to redirect either.
    let repeated = browser
        .get(
            &km.km,
            "/oauth2/authorize?client_id=spa&client_id=web&response_type=code",
        )
        .await;
    assert_error_page(&repeated, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn missing_pkce_for_a_public_client() {
    let km = km().await;
    let mut browser = Browser::new();
    let seen = browser
        .get(
            &km.km,
            &query(&[
                ("response_type", "code"),
                ("client_id", "spa"),
                ("redirect_uri", CALLBACK),
                ("scope", "openid"),
                ("state", "st-1"),
            ]),
        )
        .await;
    assert_eq!(seen.status, StatusCode::FOUND);
    seen.assert_protected();
    let params = seen.callback_params();
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "st-1");
    assert_eq!(params["iss"], ISSUER);
    assert!(!params.contains_key("code"));
    // A confidential client may go without PKCE.
    let web = browser
        .get(
            &km.km,
            &query(&[
                ("response_type", "code"),
                ("client_id", "web"),
                ("redirect_uri", CALLBACK),
            ]),
        )
        .await;
    assert_eq!(web.status, StatusCode::OK);
    assert_eq!(web.form().get("kg_action"), Some("login"));
}

#[tokio::test]
async fn plain_pkce_downgrade_refused() {
    let km = km().await;
    let mut plain_ok = code_client(
        "legacy",
        keygate_model::TokenEndpointAuthMethod::ClientSecretBasic,
    );
    plain_ok.pkce_plain_allowed = true;
    km.register(plain_ok).await;
    let mut browser = Browser::new();
    for client in ["spa", "web"] {
        let seen = browser
            .get(
                &km.km,
                &query(&[
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", CALLBACK),
                    ("state", "st-2"),
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ]),
            )
            .await;
        let params = seen.callback_params();
        assert_eq!(params["error"], "invalid_request", "{client}");
        assert_eq!(params["state"], "st-2");
        // Without a method, RFC 7636 §4.3 means plain: refused the same way.
        let implicit = browser
            .get(
                &km.km,
                &query(&[
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", CALLBACK),
                    ("code_challenge", VERIFIER),
                ]),
            )
            .await;
        assert_eq!(implicit.callback_params()["error"], "invalid_request");
    }
    // A confidential client that allows plain gets the login page.
    let allowed = browser
        .get(
            &km.km,
            &query(&[
                ("response_type", "code"),
                ("client_id", "legacy"),
                ("redirect_uri", CALLBACK),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ]),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.html);
}

#[tokio::test]
async fn only_response_type_code_is_served() {
    let km = km().await;
    let mut browser = Browser::new();
    let seen = browser
        .get(
            &km.km,
            &spa_request(&[]).replace("response_type=code", "response_type=token"),
        )
        .await;
    let params = seen.callback_params();
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "st-123");
}

#[tokio::test]
async fn csrf_token_missing_or_wrong_refuses_login() {
    let km = km().await;
    let mut browser = Browser::new();
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let form = login
        .form()
        .set("username", "alice")
        .set("password", "alice-password");

    let missing = browser
        .submit(&km.km, &form.clone().without("kg_csrf"))
        .await;
    assert_error_page(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(
        missing
            .set_cookies()
            .iter()
            .all(|c| !c.starts_with("KGSESSION"))
    );

    let wrong = browser
        .submit(&km.km, &form.clone().set("kg_csrf", "AAAAforged"))
        .await;
    assert_error_page(&wrong, StatusCode::BAD_REQUEST, "invalid_request");

    // The right token without its cookie (another browser posting it) fails too.
    let mut other = Browser::new();
    let cross = other.submit(&km.km, &form).await;
    assert_error_page(&cross, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(!other.has_session());

    // An expired form fails even with its cookie.
    km.advance(Duration::from_secs(31 * 60));
    let expired = browser.submit(&km.km, &form).await;
    assert_error_page(&expired, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(!browser.has_session(), "no login happened");

    // A fresh page's form works.
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let consent = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    assert_eq!(consent.status, StatusCode::OK);
    assert!(browser.has_session());

    // The consent form is protected the same way: a forged one changes nothing.
    let forged = consent
        .form()
        .set("kg_consent", "approve")
        .set("kg_csrf", "x");
    let refused = browser.submit(&km.km, &forged).await;
    assert_error_page(&refused, StatusCode::BAD_REQUEST, "invalid_request");
    // A login form sent as a GET is refused outright.
    let as_get = browser
        .get(&km.km, &format!("{}&kg_action=login", spa_request(&[])))
        .await;
    assert_error_page(&as_get, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn wrong_password_gets_a_generic_message() {
    let km = km().await;
    let mut browser = Browser::new();
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let wrong = browser.sign_in(&km.km, &login, "alice", "not-it").await;
    let nobody = browser.sign_in(&km.km, &login, "mallory", "not-it").await;
    for seen in [&wrong, &nobody] {
        assert_eq!(seen.status, StatusCode::OK);
        seen.assert_protected();
        assert!(
            seen.html.contains("The username or password is incorrect."),
            "{}",
            seen.html
        );
        assert_eq!(seen.form().get("kg_action"), Some("login"));
    }
    // The two pages differ only in the username filled in again.
    assert_eq!(
        wrong.html.replace("value=\"alice\"", "value=\"mallory\""),
        nobody.html
    );
    assert!(!browser.has_session());
    // Nothing echoes the password.
    assert!(!wrong.html.contains("not-it"));
    let empty = browser
        .submit(&km.km, &login.form().set("username", "alice"))
        .await;
    assert!(empty.html.contains("Enter your username and password."));
}

#[tokio::test]
async fn locked_user_refused() {
    let km = km().await;
    let lock = |value: &str| {
        let mut claims = BTreeMap::new();
        claims.insert(claims::ACCOUNT_LOCKED.to_owned(), value.to_owned());
        claims
    };
    // A session opened before the lock ends with it.
    let (mut browser, _) = sign_in_and_approve(&km).await;
    km.stores
        .users()
        .set_claims("alice", &lock("true"), START.as_millis() as i64)
        .await
        .unwrap();
    let seen = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.form().get("kg_action"), Some("login"));
    // And no new one opens.
    let refused = browser
        .sign_in(&km.km, &seen, "alice", "alice-password")
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused.html.contains("locked or disabled"),
        "{}",
        refused.html
    );
    assert!(refused.location().is_none());
    assert!(!browser.has_session());
    // Unlocked, she gets in.
    km.stores
        .users()
        .set_claims("alice", &lock("false"), START.as_millis() as i64)
        .await
        .unwrap();
    let back = browser
        .sign_in(&km.km, &seen, "alice", "alice-password")
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.html);
}

#[tokio::test]
async fn repeated_failures_are_braked_per_user_and_address() {
    let km = km().await;
    let mut browser = Browser::new();
    browser.peer = Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        50000,
    ));
    let login = browser.get(&km.km, &spa_request(&[])).await;
    for _ in 0..5 {
        let seen = browser.sign_in(&km.km, &login, "alice", "guess").await;
        assert_eq!(seen.status, StatusCode::OK);
    }
    // Now even the right password waits.
    let braked = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    assert_eq!(braked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(braked.headers[header::RETRY_AFTER], "300");
    assert!(
        braked.html.contains("Try again in 5 minutes."),
        "{}",
        braked.html
    );
    assert!(!browser.has_session());
    // From another address she is not braked.
    let mut elsewhere = Browser::new();
    elsewhere.peer = Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        50000,
    ));
    let page = elsewhere.get(&km.km, &spa_request(&[])).await;
    let ok = elsewhere
        .sign_in(&km.km, &page, "alice", "alice-password")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.html);
    assert!(elsewhere.has_session());
    // After the window the first address may try again.
    km.advance(Duration::from_secs(5 * 60));
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let ok = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.html);
    assert!(browser.has_session());
}

#[tokio::test]
async fn code_replay_revokes_the_first_tokens() {
    let km = km().await;
    let (_, params) = sign_in_and_approve(&km).await;
    let code = &params["code"];
    let first = redeem_spa(&km, code).await.ok();
    let access = first.field("access_token");
    let refresh = first.field("refresh_token");
    assert_eq!(km.introspect_as_admin(&access).await["active"], true);

    let replay = redeem_spa(&km, code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.error(), "invalid_grant");
    assert_eq!(km.introspect_as_admin(&access).await["active"], false);
    let refreshed = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", "spa"),
            ],
            None,
        )
        .await;
    assert_eq!(refreshed.error(), "invalid_grant");
    // The code is not worth anything a third time either.
    assert_eq!(redeem_spa(&km, code).await.error(), "invalid_grant");
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_redirect_and_verifier() {
    let km = km().await;
    let (mut browser, params) = sign_in_and_approve(&km).await;
    let wrong_verifier = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", CALLBACK),
                ("client_id", "spa"),
                ("code_verifier", &"x".repeat(43)),
            ],
            None,
        )
        .await;
    assert_eq!(wrong_verifier.error(), "invalid_grant");
    let next = browser
        .get(&km.km, &spa_request(&[]))
        .await
        .callback_params();
    let wrong_client = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &next["code"]),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
            Some(("web", "web-secret")),
        )
        .await;
    assert_eq!(wrong_client.error(), "invalid_grant");
    let next = browser
        .get(&km.km, &spa_request(&[]))
        .await
        .callback_params();
    let wrong_redirect = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &next["code"]),
                ("redirect_uri", SIGNED_OUT),
                ("client_id", "spa"),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    assert_eq!(wrong_redirect.error(), "invalid_grant");
}

#[tokio::test]
async fn consent_deny_redirects_access_denied_with_state() {
    let km = km().await;
    let mut browser = Browser::new();
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let consent = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    let denied = browser.answer_consent(&km.km, &consent, false).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    denied.assert_protected();
    let params = denied.callback_params();
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], ISSUER);
    assert!(!params.contains_key("code"));
    // Nothing was remembered: the next request asks again.
    let again = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(again.form().get("kg_action"), Some("consent"));
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let km = km().await;
    let mut browser = Browser::new();
    let seen = browser
        .get(&km.km, &spa_request(&[("prompt", "none")]))
        .await;
    assert_eq!(seen.status, StatusCode::FOUND);
    let params = seen.callback_params();
    assert_eq!(params["error"], "login_required");
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], ISSUER);

    // Signed in but never asked: consent_required.
    let login = browser.get(&km.km, &spa_request(&[])).await;
    browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    let seen = browser
        .get(&km.km, &spa_request(&[("prompt", "none")]))
        .await;
    assert_eq!(seen.callback_params()["error"], "consent_required");
    // prompt=none with anything else is malformed.
    let seen = browser
        .get(&km.km, &spa_request(&[("prompt", "none login")]))
        .await;
    assert_eq!(seen.callback_params()["error"], "invalid_request");
}

#[tokio::test]
async fn scopes_follow_the_users_roles() {
    let km = km().await;
    let mut browser = Browser::new();
    let login = browser
        .get(
            &km.km,
            &spa_request(&[("scope", "openid read write admin:all")]),
        )
        .await;
    let consent = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    // alice is no admin: admin:all is neither offered nor granted.
    assert!(
        !consent
            .html
            .contains("<span class=\"scope\">admin:all</span>"),
        "{}",
        consent.html
    );
    assert!(consent.html.contains("<span class=\"scope\">write</span>"));
    let done = browser.answer_consent(&km.km, &consent, true).await;
    let tokens = redeem_spa(&km, &done.callback_params()["code"]).await.ok();
    assert_eq!(tokens.field("scope"), "openid read write");
}
