//! The authorization code flow through the pages a person sees: the login form, the
//! consent form, the code, its redemption at the token endpoint; the session that spares
//! a second login (also on another key-manager node), `prompt=login` and `max_age` that
//! ask again, remembered and skipped consent, the `form_post` response mode, and what
//! discovery advertises.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize_common;
mod support;

use authorize_common::*;
use axum::http::{StatusCode, header};
use keygate_config::TokenPersistence;
use std::time::Duration;
use support::*;

async fn km() -> Km {
    let km = Km::start().await;
    register_clients(&km).await;
    km
}

#[tokio::test]
async fn full_code_flow_with_pkce_through_login_and_consent() {
    let km = km().await;
    let mut browser = Browser::new();

    // The login page: a form with labels, a CSRF cookie, every protection.
    let login = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.html);
    login.assert_protected();
    assert_eq!(
        login.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    assert!(
        !login.html.contains("<script"),
        "no script on the login page"
    );
    assert!(login.html.contains("<label for=\"username\">"));
    assert!(login.html.contains("<label for=\"password\">"));
    assert!(login.html.contains("spa app"), "the client's name is shown");
    let csrf_cookie = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("KGCSRF="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(csrf_cookie.contains(attribute), "{csrf_cookie}");
    }
    let form = login.form();
    assert_eq!(form.action, "/oauth2/authorize");
    assert_eq!(form.get("kg_action"), Some("login"));
    assert!(form.get("kg_csrf").is_some_and(|t| !t.is_empty()));
    assert_eq!(form.get("code_challenge"), Some(challenge().as_str()));
    assert_eq!(form.get("nonce"), Some("n-456"));

    // Signing in leads to the consent page, with a session cookie.
    let consent = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    consent.assert_protected();
    let session_cookie = consent
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("KGSESSION="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    assert!(consent.html.contains("spa app"));
    assert!(consent.html.contains("alice"));
    for scope in ["openid", "read", "write"] {
        assert!(
            consent
                .html
                .contains(&format!("<span class=\"scope\">{scope}</span>")),
            "{scope} listed: {}",
            consent.html
        );
    }
    assert_eq!(consent.form().get("kg_action"), Some("consent"));

    // Approving sends the code back with state and iss (RFC 9207).
    let done = browser.answer_consent(&km.km, &consent, true).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    done.assert_protected();
    let params = done.callback_params();
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], ISSUER);
    let code = &params["code"];

    // The code, with its verifier, buys tokens with the granted scopes.
    let tokens = redeem_spa(&km, code).await.ok();
    assert_eq!(tokens.field("scope"), "openid read write");
    let id_token = jwt_claims(&tokens.field("id_token"));
    assert_eq!(id_token["nonce"], "n-456");
    assert_eq!(id_token["sub"], "alice");
    assert_eq!(id_token["aud"], "spa");
    assert_eq!(id_token["auth_time"], START.as_secs());
    let access = jwt_claims(&tokens.field("access_token"));
    assert_eq!(access["scope"], "openid read write");
    assert_eq!(access["client_id"], "spa");

    // Ten minutes later the session and the remembered consent spare both pages, and
    // the new ID token still says when alice signed in.
    km.advance(Duration::from_secs(600));
    let again = browser
        .get(&km.km, &spa_request(&[("nonce", "n-789")]))
        .await;
    assert_eq!(again.status, StatusCode::FOUND, "{}", again.html);
    again.assert_protected();
    let params = again.callback_params();
    let tokens = redeem_spa(&km, &params["code"]).await.ok();
    let id_token = jwt_claims(&tokens.field("id_token"));
    assert_eq!(id_token["auth_time"], START.as_secs());
    assert_eq!(id_token["nonce"], "n-789");

    // A scope not approved before is asked about again.
    let wider = browser
        .get(
            &km.km,
            &spa_request(&[("scope", "openid read write profile")]),
        )
        .await;
    assert_eq!(wider.status, StatusCode::OK);
    assert_eq!(wider.form().get("kg_action"), Some("consent"));
}

#[tokio::test]
async fn codes_live_for_the_configured_lifetime() {
    let km = km().await;
    let (mut browser, first) = sign_in_and_approve(&km).await;
    // The configured lifetime (300 s by default) bounds each code.
    km.advance(Duration::from_secs(299));
    redeem_spa(&km, &first["code"]).await.ok();
    let second = browser
        .get(&km.km, &spa_request(&[]))
        .await
        .callback_params();
    km.advance(Duration::from_secs(301));
    let late = redeem_spa(&km, &second["code"]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(late.error(), "invalid_grant");
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_again() {
    let km = km().await;
    let (mut browser, _) = sign_in_and_approve(&km).await;

    let forced = browser
        .get(&km.km, &spa_request(&[("prompt", "login")]))
        .await;
    assert_eq!(forced.status, StatusCode::OK);
    assert_eq!(forced.form().get("kg_action"), Some("login"));
    // Signing in again (prompt=login still in the request) goes through, with a new
    // session and a later auth_time.
    km.advance(Duration::from_secs(120));
    let done = browser
        .sign_in(&km.km, &forced, "alice", "alice-password")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let tokens = redeem_spa(&km, &done.callback_params()["code"]).await.ok();
    let auth_time = jwt_claims(&tokens.field("id_token"))["auth_time"]
        .as_u64()
        .unwrap();
    assert_eq!(auth_time, START.as_secs() + 120);

    // max_age: 60 s after two minutes asks again; an hour does not.
    km.advance(Duration::from_secs(120));
    let stale = browser
        .get(&km.km, &spa_request(&[("max_age", "60")]))
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.form().get("kg_action"), Some("login"));
    let fresh = browser
        .get(&km.km, &spa_request(&[("max_age", "3600")]))
        .await;
    assert_eq!(fresh.status, StatusCode::FOUND, "{}", fresh.html);
    // max_age with prompt=none cannot be satisfied without the user.
    let none = browser
        .get(
            &km.km,
            &spa_request(&[("max_age", "60"), ("prompt", "none")]),
        )
        .await;
    assert_eq!(none.callback_params()["error"], "login_required");
}

#[tokio::test]
async fn sessions_are_idle_and_absolute_limited() {
    let km = km().await;
    let (mut browser, _) = sign_in_and_approve(&km).await;
    // Used every 20 minutes, the session lives on past its idle timeout…
    for _ in 0..3 {
        km.advance(Duration::from_secs(20 * 60));
        let seen = browser.get(&km.km, &spa_request(&[])).await;
        assert_eq!(seen.status, StatusCode::FOUND, "{}", seen.html);
    }
    // …but 31 idle minutes end it.
    km.advance(Duration::from_secs(31 * 60));
    let seen = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.form().get("kg_action"), Some("login"));

    // However busy, eight hours end a session.
    let (mut browser, _) = sign_in_and_approve(&km).await;
    for _ in 0..(8 * 3) {
        km.advance(Duration::from_secs(20 * 60));
        let _ = browser.get(&km.km, &spa_request(&[])).await;
    }
    let seen = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(seen.form().get("kg_action"), Some("login"));
}

#[tokio::test]
async fn sessions_are_shared_across_two_key_managers() {
    let km = km().await;
    let other = km.second_node(settings(TokenPersistence::Plain)).await;
    let mut browser = Browser::new();

    // The login page comes from one node, the login form goes to the other (same CSRF
    // key through the database), the consent goes back to the first.
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let consent = browser
        .sign_in(&other, &login, "alice", "alice-password")
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    assert_eq!(consent.form().get("kg_action"), Some("consent"));
    let done = browser.answer_consent(&km.km, &consent, true).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);

    // The session opened on the second node lets the first one issue a code at once.
    let again = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(again.status, StatusCode::FOUND, "{}", again.html);
    let tokens = redeem_spa(&km, &again.callback_params()["code"]).await.ok();
    assert_eq!(
        jwt_claims(&tokens.field("id_token"))["auth_time"],
        START.as_secs()
    );

    // Signing out on one node ends the session on both.
    let out = browser.get(&other, "/oidc/logout").await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.html);
    let form = out.form().set("kg_logout", "yes");
    let signed_out = browser.submit(&other, &form).await;
    assert_eq!(signed_out.status, StatusCode::OK);
    assert!(!browser.has_session());
    let login_again = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(login_again.form().get("kg_action"), Some("login"));
}

#[tokio::test]
async fn first_party_clients_skip_consent() {
    let mut settings = settings(TokenPersistence::Plain);
    settings.login.consent.first_party_clients = vec!["spa".into()];
    let km = Km::start_with(settings).await;
    register_clients(&km).await;
    let mut browser = Browser::new();
    let login = browser.get(&km.km, &spa_request(&[])).await;
    let done = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(done.callback_params().contains_key("code"));
    // prompt=consent does not bring a page the policy skips.
    let again = browser
        .get(&km.km, &spa_request(&[("prompt", "consent")]))
        .await;
    assert_eq!(again.status, StatusCode::FOUND);
}

#[tokio::test]
async fn prompt_consent_asks_even_when_remembered() {
    let km = km().await;
    let (mut browser, _) = sign_in_and_approve(&km).await;
    let asked = browser
        .get(&km.km, &spa_request(&[("prompt", "consent")]))
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert_eq!(asked.form().get("kg_action"), Some("consent"));
    let done = browser.answer_consent(&km.km, &asked, true).await;
    assert!(done.callback_params().contains_key("code"));
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    let km = km().await;
    let (mut browser, _) = sign_in_and_approve(&km).await;
    let page = browser
        .get(&km.km, &spa_request(&[("response_mode", "form_post")]))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.location().is_none());
    page.assert_protected();
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    let form = page.form();
    assert_eq!(form.action, CALLBACK);
    assert_eq!(form.get("state"), Some("st-123"));
    assert_eq!(form.get("iss"), Some(ISSUER));
    let code = form.get("code").unwrap();
    // Without scripts the button still posts it.
    assert!(
        page.html
            .contains("<button type=\"submit\">Continue</button>")
    );
    let tokens = redeem_spa(&km, code).await.ok();
    assert!(tokens.json["access_token"].is_string());

    // Errors travel the same way.
    let denied = browser
        .get(
            &km.km,
            &spa_request(&[
                ("response_mode", "form_post"),
                ("prompt", "none"),
                ("scope", "openid email"),
            ]),
        )
        .await;
    assert_eq!(denied.form().get("error"), Some("consent_required"));
    assert_eq!(denied.form().get("state"), Some("st-123"));
}

#[tokio::test]
async fn discovery_advertises_the_interactive_endpoints() {
    let km = km().await;
    let reply = km.get("/.well-known/openid-configuration", None).await.ok();
    let doc = &reply.json;
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{BASE}/oauth2/authorize")
    );
    assert_eq!(doc["end_session_endpoint"], format!("{BASE}/oidc/logout"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let modes = doc["response_modes_supported"].as_array().unwrap();
    for mode in ["query", "form_post"] {
        assert!(modes.iter().any(|m| m == mode), "{mode}");
    }
    assert_eq!(
        doc["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent", "select_account"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
}
