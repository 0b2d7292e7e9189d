//! Python clients: `authlib` (PyPI) for the resource owner password grant with a refresh,
//! and for the RFC 7523 JWT bearer grant with an assertion signed as an issuer the node
//! trusts through its `[truststore]`; PyJWT's `PyJWKClient` verifying an access token and
//! an ID token with keys fetched from the node's JWK Set.

use crate::harness::*;
use keygate_config::{JwtIssuer, KeystoreKind, KeystoreRef};
use keygate_model::{Secret, TokenType};

const ASSERTION_ISSUER: &str = "https://idp.partner.example";

fn secret_env(node: &InteropNode, client_id: &str, secret: &str) -> Vec<(String, String)> {
    let mut env = node.base_env();
    env.push(("KEYGATE_CLIENT_ID".into(), client_id.into()));
    env.push(("KEYGATE_CLIENT_SECRET".into(), secret.into()));
    env.push(("KEYGATE_USERNAME".into(), USER.into()));
    env.push(("KEYGATE_PASSWORD".into(), USER_PASSWORD.into()));
    env
}

#[tokio::test]
async fn authlib_password_grant_and_refresh() {
    if !clients_installed(
        Runtime::Python,
        &["authlib", "requests"],
        "authlib_password",
    ) {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("py-web", "py-web-secret", TokenType::Jwt)
        .await;
    let out = run_script(
        Runtime::Python,
        "authlib_client.py",
        &["password"],
        secret_env(&node, "py-web", "py-web-secret"),
    )
    .await;
    assert_eq!(field(&out, "token_type"), "Bearer");
    assert_eq!(field(&out, "scope"), "openid read");
    assert!(
        out["expires_at"].is_i64(),
        "authlib computed expires_at: {out}"
    );
    let claims = jwt_claims(field(&out, "access_token"));
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["client_id"], "py-web");
    let id_token = jwt_claims(field(&out, "id_token"));
    assert_eq!(id_token["sub"], USER);
    assert_eq!(id_token["aud"], "py-web");

    // authlib's refresh rotated the refresh token; the refreshed access token is live.
    assert_ne!(
        field(&out, "refreshed_refresh_token"),
        field(&out, "refresh_token")
    );
    let refreshed = node.introspect(field(&out, "refreshed_access_token")).await;
    assert_eq!(refreshed["active"], true, "{refreshed}");
    assert_eq!(refreshed["sub"], USER);
}

#[tokio::test]
async fn authlib_jwt_bearer_grant_from_a_trusted_issuer() {
    if !clients_installed(
        Runtime::Python,
        &["authlib", "requests"],
        "authlib_jwt_bearer",
    ) {
        return;
    }
    let issuer_key = ClientKey::generate("partner-2024");
    let certificate = issuer_key.certificate_pem("idp.partner.example");
    let node = InteropNode::start_with(|config, dir| {
        let truststore = dir.join("client-truststore.pem");
        std::fs::write(&truststore, &certificate).unwrap();
        config.keystores.truststore = Some(KeystoreRef {
            file: truststore,
            kind: KeystoreKind::Pem,
            password: Secret::new(""),
            alias: Some("partner-idp".into()),
            key_password: None,
        });
        config.jwt.issuers = vec![JwtIssuer {
            issuer: ASSERTION_ISSUER.into(),
            certificate_alias: Some("partner-idp".into()),
            jwks_url: None,
            consumer_key_claim: None,
            scopes_claim: None,
            claim_mappings: Vec::new(),
        }];
    })
    .await;
    node.secret_client("py-bearer", "py-bearer-secret", TokenType::Jwt)
        .await;
    let mut env = secret_env(&node, "py-bearer", "py-bearer-secret");
    env.push(("KEYGATE_ASSERTION_ISSUER".into(), ASSERTION_ISSUER.into()));
    env.push(("KEYGATE_ASSERTION_KEY".into(), issuer_key.private_pem()));
    env.push(("KEYGATE_ASSERTION_KEY_ID".into(), issuer_key.kid.clone()));
    let out = run_script(
        Runtime::Python,
        "authlib_client.py",
        &["jwt_bearer"],
        env.clone(),
    )
    .await;

    assert_eq!(field(&out, "token_type"), "Bearer");
    assert_eq!(field(&out, "scope"), "read");
    for token in ["access_token", "second_access_token"] {
        let claims = jwt_claims(field(&out, token));
        assert_eq!(claims["sub"], USER, "{token}");
        assert_eq!(claims["client_id"], "py-bearer", "{token}");
        let introspected = node.introspect(field(&out, token)).await;
        assert_eq!(introspected["active"], true, "{token}: {introspected}");
    }

    // An assertion signed by a key the truststore does not hold is refused.
    let impostor = ClientKey::generate("partner-2024");
    for (name, value) in &mut env {
        if name == "KEYGATE_ASSERTION_KEY" {
            *value = impostor.private_pem();
        }
    }
    let refused =
        run_script_outcome(Runtime::Python, "authlib_client.py", &["jwt_bearer"], env).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("invalid_grant"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn pyjwt_verifies_access_and_id_tokens_from_the_jwks() {
    if !clients_installed(Runtime::Python, &["jwt", "cryptography"], "pyjwt_jwks") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("py-rs", "py-rs-secret", TokenType::Jwt)
        .await;
    let tokens = node
        .user_tokens("py-rs", "py-rs-secret", "openid read")
        .await;
    let mut env = secret_env(&node, "py-rs", "py-rs-secret");
    env.push((
        "KEYGATE_ACCESS_TOKEN".into(),
        field(&tokens, "access_token").into(),
    ));
    env.push(("KEYGATE_ID_TOKEN".into(), field(&tokens, "id_token").into()));
    let out = run_script(Runtime::Python, "pyjwt_jwks.py", &["verify"], env).await;

    let jwks: serde_json::Value = node
        .node
        .client
        .get(node.node.management("/oauth2/jwks").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(out["access_token_header"]["typ"], "at+jwt");
    assert_eq!(out["access_token_header"]["alg"], "RS256");
    let kid = field(&out["access_token_header"], "kid");
    assert!(kids.contains(&kid), "{kid} not in {kids:?}");
    assert_eq!(out["id_token_header"]["kid"], kid);

    let access = &out["access_token"];
    assert_eq!(access["sub"], USER);
    assert_eq!(access["iss"], node.issuer.as_str());
    assert_eq!(access["client_id"], "py-rs");
    assert_eq!(access["scope"], "openid read");
    let id = &out["id_token"];
    assert_eq!(id["sub"], USER);
    assert_eq!(id["aud"], "py-rs");
    assert!(id["auth_time"].is_i64(), "{id}");

    assert_eq!(out["tampered_error"], "InvalidSignatureError");
    assert_eq!(out["wrong_audience_error"], "InvalidAudienceError");
}
