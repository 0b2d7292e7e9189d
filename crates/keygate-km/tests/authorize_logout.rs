//! RP-initiated logout at `/oidc/logout`: with an ID token hint and a registered
//! post-logout redirect URI the session ends at once; an unregistered URI is refused
//! before anything ends; without a valid hint the person is asked first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize_common;
mod support;

use authorize_common::*;
use axum::http::StatusCode;
use std::time::Duration;
use support::*;

async fn km() -> Km {
    let km = Km::start().await;
    register_clients(&km).await;
    km
}

/// A signed-in browser and the ID token its flow produced.
async fn signed_in(km: &Km) -> (Browser, String) {
    let (browser, params) = sign_in_and_approve(km).await;
    let tokens = redeem_spa(km, &params["code"]).await.ok();
    (browser, tokens.field("id_token"))
}

fn logout_query(pairs: &[(&str, &str)]) -> String {
    format!(
        "/oidc/logout?{}",
        keygate_oauth::form::encode_pairs(pairs.iter().copied())
    )
}

/// Whether the browser is still signed in: the next authorization skips the login page.
async fn still_signed_in(km: &Km, browser: &mut Browser) -> bool {
    browser.get(&km.km, &spa_request(&[])).await.status == StatusCode::FOUND
}

#[tokio::test]
async fn logout_with_id_token_hint_and_registered_redirect() {
    let km = km().await;
    let (mut browser, id_token) = signed_in(&km).await;
    assert!(still_signed_in(&km, &mut browser).await);

    // The hint works even after the ID token expired (RP-Initiated Logout §2); the
    // session, used every 16 minutes, lives on.
    for _ in 0..4 {
        km.advance(Duration::from_secs(16 * 60));
        assert!(still_signed_in(&km, &mut browser).await);
    }
    let out = browser
        .get(
            &km.km,
            &logout_query(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "bye 1"),
            ]),
        )
        .await;
    assert_eq!(out.status, StatusCode::FOUND, "{}", out.html);
    out.assert_protected();
    assert_eq!(out.location().unwrap(), format!("{SIGNED_OUT}?state=bye+1"));
    let cleared = out
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("KGSESSION="))
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!browser.has_session());
    assert!(!still_signed_in(&km, &mut browser).await);

    // A POST works the same, with client_id matching the hint, and no session left.
    let posted = browser
        .post(
            &km.km,
            "/oidc/logout",
            &[
                ("id_token_hint".into(), id_token.clone()),
                ("client_id".into(), "spa".into()),
                ("post_logout_redirect_uri".into(), SIGNED_OUT.into()),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.location().unwrap(), SIGNED_OUT);
}

#[tokio::test]
async fn logout_with_an_unregistered_redirect_is_refused() {
    let km = km().await;
    let (mut browser, id_token) = signed_in(&km).await;
    for uri in [
        "https://evil.example/signed-out",
        "https://app.example/signed-out/",
        "https://app.example/signed-out?x=1",
    ] {
        let refused = browser
            .get(
                &km.km,
                &logout_query(&[
                    ("id_token_hint", &id_token),
                    ("post_logout_redirect_uri", uri),
                    ("state", "s"),
                ]),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(refused.location().is_none());
        refused.assert_protected();
        assert!(refused.html.contains("not registered"), "{}", refused.html);
    }
    // Nothing ended.
    assert!(browser.has_session());
    assert!(still_signed_in(&km, &mut browser).await);

    // Without a hint or client_id, no redirect URI can be registered for anyone.
    let anonymous = browser
        .get(
            &km.km,
            &logout_query(&[("post_logout_redirect_uri", SIGNED_OUT)]),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::BAD_REQUEST);
    // A client_id that contradicts the hint is refused.
    let mismatch = browser
        .get(
            &km.km,
            &logout_query(&[("id_token_hint", &id_token), ("client_id", "web")]),
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(still_signed_in(&km, &mut browser).await);
}

#[tokio::test]
async fn logout_without_a_valid_hint_asks_first() {
    let km = km().await;
    let (mut browser, id_token) = signed_in(&km).await;
    // An access token, or a tampered ID token, is no hint.
    let params = browser
        .get(&km.km, &spa_request(&[]))
        .await
        .callback_params();
    let access = redeem_spa(&km, &params["code"])
        .await
        .ok()
        .field("access_token");
    let mut tampered = id_token.clone();
    tampered.pop();
    for hint in [access.as_str(), tampered.as_str(), "junk"] {
        let asked = browser
            .get(
                &km.km,
                &logout_query(&[
                    ("id_token_hint", hint),
                    ("client_id", "spa"),
                    ("post_logout_redirect_uri", SIGNED_OUT),
                    ("state", "s-9"),
                ]),
            )
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
        asked.assert_protected();
        assert!(asked.html.contains("Sign out?"));
        assert_eq!(asked.form().get("kg_action"), Some("logout"));
    }
    assert!(still_signed_in(&km, &mut browser).await);

    // Staying signed in changes nothing.
    let asked = browser
        .get(
            &km.km,
            &logout_query(&[
                ("client_id", "spa"),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "s-9"),
            ]),
        )
        .await;
    let stay = browser
        .submit(&km.km, &asked.form().set("kg_logout", "no"))
        .await;
    assert_eq!(stay.status, StatusCode::OK);
    assert!(still_signed_in(&km, &mut browser).await);

    // A forged confirmation changes nothing either.
    let forged = asked.form().set("kg_logout", "yes").set("kg_csrf", "x");
    let refused = browser.submit(&km.km, &forged).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(still_signed_in(&km, &mut browser).await);

    // Confirming ends the session and returns to the registered URI with state.
    let confirmed = browser
        .submit(&km.km, &asked.form().set("kg_logout", "yes"))
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.html
    );
    assert_eq!(
        confirmed.location().unwrap(),
        format!("{SIGNED_OUT}?state=s-9")
    );
    assert!(!browser.has_session());
    assert!(!still_signed_in(&km, &mut browser).await);
}

#[tokio::test]
async fn a_hint_for_someone_else_asks_first() {
    let km = km().await;
    let (_, alices_token) = signed_in(&km).await;
    // bob signs in in his own browser; alice's ID token cannot sign him out.
    let mut bob = Browser::new();
    let login = bob.get(&km.km, &spa_request(&[])).await;
    let consent = bob.sign_in(&km.km, &login, "bob", "bob-password").await;
    bob.answer_consent(&km.km, &consent, true).await;
    let asked = bob
        .get(&km.km, &logout_query(&[("id_token_hint", &alices_token)]))
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.html.contains("Sign out?"));
    assert!(still_signed_in(&km, &mut bob).await);
    // Without any session, a hint signs out at once and shows the signed-out page.
    let mut fresh = Browser::new();
    let done = fresh
        .get(&km.km, &logout_query(&[("id_token_hint", &alices_token)]))
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.html.contains("You have signed out"));
}
