//! panva's `openid-client` (npm) as a relying party of a real node: discovery from the
//! WSO2-style issuer, the authorization code flow with PKCE — a scripted browser signing
//! in on the login page and approving on the consent page, for a public and a
//! confidential client — client credentials, the password grant followed by a refresh with
//! rotation, UserInfo, introspection, revocation, `private_key_jwt` client
//! authentication, and dynamic client registration (RFC 7591) with an initial access
//! token. The script does the protocol work through the library; these tests
//! check what it got, and look at the tokens from the key manager's side too.

use crate::harness::*;
use keygate_model::TokenType;

const SCRIPT: &str = "openid-client.mjs";
const PACKAGES: &[&str] = &["openid-client", "jose"];

/// The environment of a flow run by `client_id` with `secret`.
fn secret_env(node: &InteropNode, client_id: &str, secret: &str) -> Vec<(String, String)> {
    let mut env = node.base_env();
    env.push(("KEYGATE_CLIENT_ID".into(), client_id.into()));
    env.push(("KEYGATE_CLIENT_SECRET".into(), secret.into()));
    env
}

async fn flow(name: &str, env: Vec<(String, String)>) -> serde_json::Value {
    run_script(Runtime::Node, SCRIPT, &[name], env).await
}

#[tokio::test]
async fn openid_client_discovers_the_key_manager_from_its_wso2_issuer() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_discovery") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("rp-discovery", "rp-discovery-secret", TokenType::Jwt)
        .await;
    let out = flow(
        "discovery",
        secret_env(&node, "rp-discovery", "rp-discovery-secret"),
    )
    .await;
    // openid-client requires the document's issuer to equal the URL it was given.
    assert_eq!(field(&out, "issuer"), node.issuer);
    assert_eq!(
        field(&out, "token_endpoint"),
        node.endpoint("/oauth2/token")
    );
    assert_eq!(field(&out, "jwks_uri"), node.endpoint("/oauth2/jwks"));
    assert_eq!(
        field(&out, "introspection_endpoint"),
        node.endpoint("/oauth2/introspect")
    );
    assert_eq!(
        field(&out, "revocation_endpoint"),
        node.endpoint("/oauth2/revoke")
    );
    assert_eq!(
        field(&out, "userinfo_endpoint"),
        node.endpoint("/oauth2/userinfo")
    );
    assert_eq!(
        out["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(out["supports_pkce"], true);
}

#[tokio::test]
async fn openid_client_gets_a_client_credentials_token_the_key_manager_knows() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_client_credentials") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("rp-cc", "rp-cc-secret", TokenType::Jwt)
        .await;
    let out = flow(
        "client_credentials",
        secret_env(&node, "rp-cc", "rp-cc-secret"),
    )
    .await;
    // openid-client normalizes the token type to lower case.
    assert_eq!(field(&out, "token_type").to_ascii_lowercase(), "bearer");
    assert_eq!(field(&out, "scope"), "read");
    assert!(out["refresh_token"].is_null(), "{out}");
    let expires_in = out["expires_in"].as_u64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");

    let token = field(&out, "access_token");
    let claims = jwt_claims(token);
    assert_eq!(claims["iss"], node.issuer.as_str());
    assert_eq!(claims["client_id"], "rp-cc");
    assert_eq!(claims["sub"], USER, "application tokens are the owner's");
    let introspected = node.introspect(token).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], "rp-cc");
    assert_eq!(introspected["scope"], "read");
}

#[tokio::test]
async fn openid_client_refreshes_with_rotation_and_reads_userinfo() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_refresh") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("rp-refresh", "rp-refresh-secret", TokenType::Oauth)
        .await;
    let mut env = secret_env(&node, "rp-refresh", "rp-refresh-secret");
    env.push(("KEYGATE_USERNAME".into(), USER.into()));
    env.push(("KEYGATE_PASSWORD".into(), USER_PASSWORD.into()));
    let out = flow("refresh", env).await;

    // openid-client validated the ID token of the password grant and took its subject,
    // which UserInfo (called with the opaque access token) confirmed.
    assert_eq!(field(&out, "id_token_subject"), USER);
    assert_eq!(field(&out, "userinfo_subject"), USER);
    assert_ne!(
        field(&out, "refresh_token"),
        field(&out, "first_refresh_token"),
        "refresh tokens rotate"
    );
    assert_eq!(field(&out, "scope"), "openid read");
    // The reused refresh token was refused, and reuse revoked the whole family.
    assert_eq!(field(&out, "reuse_error"), "invalid_grant");
    for token in ["first_access_token", "access_token"] {
        let introspected = node.introspect(field(&out, token)).await;
        assert_eq!(introspected["active"], false, "{token}: {introspected}");
    }
    let (status, body) = node
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", field(&out, "refresh_token")),
            ],
            ("rp-refresh", "rp-refresh-secret"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn openid_client_introspects_its_own_tokens() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_introspection") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("rp-introspect", "rp-introspect-secret", TokenType::Oauth)
        .await;
    let out = flow(
        "introspection",
        secret_env(&node, "rp-introspect", "rp-introspect-secret"),
    )
    .await;
    let token = field(&out, "access_token");
    assert_eq!(token.split('.').count(), 1, "an opaque token: {token}");
    let active = &out["active"];
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], "rp-introspect");
    assert_eq!(active["scope"], "read");
    assert_eq!(active["sub"], USER);
    assert_eq!(active["iss"], node.issuer.as_str());
    let exp = active["exp"].as_i64().unwrap();
    let iat = active["iat"].as_i64().unwrap();
    assert_eq!(exp - iat, 3600, "{active}");
    assert_eq!(out["unknown"], serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn openid_client_revokes_a_token() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_revocation") {
        return;
    }
    let node = InteropNode::start().await;
    node.secret_client("rp-revoke", "rp-revoke-secret", TokenType::Jwt)
        .await;
    let out = flow(
        "revocation",
        secret_env(&node, "rp-revoke", "rp-revoke-secret"),
    )
    .await;
    assert_eq!(out["active_before"], true, "{out}");
    assert_eq!(out["active_after"], false, "{out}");
    let introspected = node.introspect(field(&out, "access_token")).await;
    assert_eq!(introspected["active"], false, "{introspected}");
}

#[tokio::test]
async fn openid_client_authenticates_with_private_key_jwt() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_private_key_jwt") {
        return;
    }
    let node = InteropNode::start().await;
    let key = ClientKey::generate("rp-key-1");
    node.key_client("rp-signer", &key).await;
    let mut env = node.base_env();
    env.push(("KEYGATE_CLIENT_ID".into(), "rp-signer".into()));
    env.push(("KEYGATE_CLIENT_KEY".into(), key.private_pem()));
    env.push(("KEYGATE_CLIENT_KEY_ID".into(), key.kid.clone()));
    let out = flow("private_key_jwt", env.clone()).await;
    assert_eq!(out["active"], true, "{out}");
    let claims = jwt_claims(field(&out, "access_token"));
    assert_eq!(claims["client_id"], "rp-signer");

    // Another key with the same kid proves nothing: the client is refused.
    let stranger = ClientKey::generate("rp-key-1");
    for (name, value) in &mut env {
        if name == "KEYGATE_CLIENT_KEY" {
            *value = stranger.private_pem();
        }
    }
    let refused = run_script_outcome(Runtime::Node, SCRIPT, &["private_key_jwt"], env).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("invalid_client"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn openid_client_registers_a_client_dynamically() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_registration") {
        return;
    }
    let node = InteropNode::start().await;
    // An initial access token (RFC 7591 §3): an administrator's application token with
    // the registration scope, which only administrators are granted.
    node.node
        .node
        .stores()
        .scopes()
        .create_scope(&keygate_model::Scope {
            tenant: keygate_model::Tenant::default(),
            name: keygate_km::dcr::REGISTRATION_SCOPE.into(),
            display_name: "Create applications".into(),
            description: None,
            roles: vec!["admin".into()],
        })
        .await
        .unwrap();
    let mut provisioner = registration(
        "provisioner",
        keygate_model::TokenEndpointAuthMethod::ClientSecretBasic,
    );
    provisioner.owner = AUDITOR.into();
    provisioner.secret_digest = Some(
        node.km()
            .seal_client_secret(&keygate_model::Secret::new("provisioner-secret"))
            .unwrap(),
    );
    node.register(provisioner).await;
    let (status, initial) = node
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", keygate_km::dcr::REGISTRATION_SCOPE),
            ],
            ("provisioner", "provisioner-secret"),
        )
        .await;
    assert_eq!(status, 200, "{initial}");
    assert_eq!(initial["scope"], keygate_km::dcr::REGISTRATION_SCOPE);

    let mut env = node.base_env();
    env.push((
        "KEYGATE_INITIAL_ACCESS_TOKEN".into(),
        field(&initial, "access_token").into(),
    ));
    let out = flow("registration", env).await;
    let client_id = field(&out, "client_id");
    assert_eq!(out["has_client_secret"], true, "{out}");
    assert_eq!(
        field(&out, "token_endpoint_auth_method"),
        "client_secret_basic"
    );
    let stored = node
        .node
        .node
        .stores()
        .clients()
        .client(client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner, AUDITOR, "the initial token's subject owns it");
    assert!(stored.secret_digest.is_some());
    let claims = jwt_claims(field(&out, "access_token"));
    assert_eq!(claims["client_id"], client_id);

    // RFC 7592 §2.1: the registration access token reads the registration back.
    let read = node
        .node
        .client
        .get(field(&out, "registration_client_uri"))
        .bearer_auth(field(&out, "registration_access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], client_id);
    assert_eq!(read["client_name"], "openid-client registered");
}

/// Runs the authorization code flow with PKCE as `client_id` (public without `secret`)
/// through the login and consent pages, and checks what openid-client got.
async fn authorization_code(client_id: &str, secret: Option<&str>) -> serde_json::Value {
    let node = InteropNode::start().await;
    let mut client = registration(
        client_id,
        match secret {
            Some(_) => keygate_model::TokenEndpointAuthMethod::ClientSecretBasic,
            None => keygate_model::TokenEndpointAuthMethod::None,
        },
    );
    client.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    client.pkce_mandatory = true;
    if let Some(secret) = secret {
        client.secret_digest = Some(
            node.km()
                .seal_client_secret(&keygate_model::Secret::new(secret))
                .unwrap(),
        );
    }
    node.register(client).await;
    let mut env = node.base_env();
    env.push(("KEYGATE_CLIENT_ID".into(), client_id.into()));
    if let Some(secret) = secret {
        env.push(("KEYGATE_CLIENT_SECRET".into(), secret.into()));
    }
    env.push((
        "KEYGATE_REDIRECT_URI".into(),
        "https://app.example/callback".into(),
    ));
    env.push(("KEYGATE_USERNAME".into(), USER.into()));
    env.push(("KEYGATE_PASSWORD".into(), USER_PASSWORD.into()));
    let out = flow("authorization_code", env).await;

    assert_eq!(field(&out, "redirected_to"), "https://app.example/callback");
    assert_eq!(field(&out, "iss_parameter"), node.issuer, "RFC 9207");
    assert_eq!(out["session_cookie_set"], true);
    let mut scopes: Vec<&str> = field(&out, "scope").split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["email", "openid", "read"]);
    let id = &out["id_token_claims"];
    assert_eq!(id["sub"], USER);
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["iss"], node.issuer.as_str());
    assert!(id["auth_time"].is_i64(), "{id}");
    assert_eq!(out["userinfo"]["sub"], USER);
    assert_eq!(out["userinfo"]["email"], "carol@example.com");
    assert_eq!(field(&out, "replay_error"), "invalid_grant");
    // Replaying the code revoked what it had issued (RFC 6749 §4.1.2).
    let introspected = node.introspect(field(&out, "access_token")).await;
    assert_eq!(introspected["active"], false, "{introspected}");
    out
}

#[tokio::test]
async fn openid_client_runs_the_code_flow_with_pkce_as_a_public_client() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_code_public") {
        return;
    }
    let out = authorization_code("rp-spa", None).await;
    assert_eq!(out["consent_page_shown"], true);
}

#[tokio::test]
async fn openid_client_runs_the_code_flow_with_pkce_as_a_confidential_client() {
    if !clients_installed(Runtime::Node, PACKAGES, "openid_client_code_confidential") {
        return;
    }
    let out = authorization_code("rp-web", Some("rp-web-secret")).await;
    assert!(out["refresh_token"].is_string(), "{out}");
}
