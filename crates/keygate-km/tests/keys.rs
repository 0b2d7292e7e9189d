//! Signing keys, the JWK Set and rotation; discovery metadata; UserInfo; and two nodes on
//! one database agreeing on keys and secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use keygate_config::TokenPersistence;
use keygate_jose::jwt::{self, ACCESS_TOKEN_TYPE, Validation};
use keygate_jose::{JwkSet, JwsAlgorithm, VerifyingKeySet};
use keygate_km::{ClientCertificates, KeySource, KmError};
use keygate_model::{TokenEndpointAuthMethod, TokenType};
use std::time::Duration;
use support::*;

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];

async fn jwks(km: &Km) -> JwkSet {
    let reply = km.get("/oauth2/jwks", None).await.ok();
    serde_json::from_value(reply.json).unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys.iter().filter_map(|k| k.kid.clone()).collect()
}

#[tokio::test]
async fn jwt_access_tokens_verify_with_the_published_jwks() {
    let km = Km::start().await;
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    let token = km
        .client_credentials("app", "app-secret", Some("read"))
        .await
        .ok()
        .field("access_token");
    let set = jwks(&km).await;
    assert_eq!(set.keys.len(), 1);
    let jwk = &set.keys[0];
    assert_eq!(
        jwk.kid.as_deref(),
        Some(jwk.thumbprint().as_str()),
        "kid is the RFC 7638 thumbprint"
    );
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.key_use.as_deref(), Some("sig"));
    let (keys, skipped) = VerifyingKeySet::from_jwk_set(&set);
    assert_eq!(skipped, 0);
    let validation = Validation::new(START + Duration::from_secs(10))
        .with_issuer(ISSUER)
        .with_audience("app")
        .with_required_type(ACCESS_TOKEN_TYPE)
        .with_algorithms(&[JwsAlgorithm::Rs256]);
    let verified = jwt::decode(&token, &keys, &validation).unwrap();
    assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(verified.header.kid, jwk.kid);
    assert_eq!(verified.claims.client_id.as_deref(), Some("app"));
    assert_eq!(verified.claims.scope.as_deref(), Some("read"));
    // An ID token is not an access token.
    let id_token = km
        .password("app", "app-secret", "alice", "alice-password", "openid")
        .await
        .ok()
        .field("id_token");
    assert_eq!(
        jwt::decode(&id_token, &keys, &validation).unwrap_err(),
        jwt::JwtError::WrongType
    );
}

#[tokio::test]
async fn key_rotation_keeps_the_old_kid_until_its_tokens_expire() {
    let km = Km::start().await;
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    let old_token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();
    km.advance(Duration::from_secs(600));
    let new_kid = km.km.rotate_signing_key().await.unwrap();
    assert_ne!(new_kid, old_kid);

    let new_token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    assert_eq!(jwt_header(&new_token)["kid"], new_kid.as_str());
    let published = jwks(&km).await;
    assert_eq!(kids(&published), [old_kid.clone(), new_kid.clone()]);
    // Both tokens verify with the published set.
    let (keys, _) = VerifyingKeySet::from_jwk_set(&published);
    let validation = Validation::new(START + Duration::from_secs(700));
    jwt::decode(&old_token, &keys, &validation).unwrap();
    jwt::decode(&new_token, &keys, &validation).unwrap();

    // The old key goes once every token it may have signed has expired: the rotation
    // time plus the longest token lifetime (an hour).
    km.advance(Duration::from_secs(3599));
    assert_eq!(kids(&jwks(&km).await), [old_kid.clone(), new_kid.clone()]);
    km.advance(Duration::from_secs(1));
    assert_eq!(kids(&jwks(&km).await), std::slice::from_ref(&new_kid));

    // A restart (or another node) signs with the new key and publishes only it.
    let other = km.second_node(settings(TokenPersistence::Plain)).await;
    assert_eq!(
        other
            .jwks()
            .keys
            .iter()
            .filter_map(|k| k.kid.clone())
            .collect::<Vec<_>>(),
        [new_kid]
    );
}

#[tokio::test]
async fn rotation_waits_for_the_longest_client_lifetime() {
    let km = Km::start().await;
    let mut long = client("long", TokenEndpointAuthMethod::ClientSecretBasic, GRANTS);
    long.lifetimes.application_access_token_ms = Some(7_200_000);
    km.register(long).await;
    let old_kid = kids(&jwks(&km).await).remove(0);
    km.km.rotate_signing_key().await.unwrap();
    km.advance(Duration::from_secs(3600));
    assert!(kids(&jwks(&km).await).contains(&old_kid));
    km.advance(Duration::from_secs(3600));
    assert!(!kids(&jwks(&km).await).contains(&old_kid));
}

#[tokio::test]
async fn nodes_on_one_database_agree_on_keys_and_secrets() {
    let km = Km::start().await;
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    let second = km.second_node(settings(TokenPersistence::Plain)).await;
    assert_eq!(second.jwks(), km.km.jwks());
    // A secret sealed by one node verifies on the other (same pepper).
    let stored = km
        .stores
        .clients()
        .client("app")
        .await
        .unwrap()
        .unwrap()
        .secret_digest
        .unwrap();
    assert!(second.verify_client_secret(&stored, &keygate_model::Secret::new("app-secret")));
    assert!(!second.verify_client_secret(&stored, &keygate_model::Secret::new("app-secreT")));
}

#[tokio::test]
async fn es256_and_eddsa_keys_can_be_chosen() {
    for (alg, kty) in [(JwsAlgorithm::Es256, "EC"), (JwsAlgorithm::EdDsa, "OKP")] {
        let mut chosen = settings(TokenPersistence::Plain);
        chosen.signing_algorithm = alg;
        let km = Km::start_with(chosen).await;
        km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
            .await;
        let token = km
            .client_credentials("app", "app-secret", None)
            .await
            .ok()
            .field("access_token");
        assert_eq!(jwt_header(&token)["alg"], alg.name());
        let set = jwks(&km).await;
        assert_eq!(serde_json::to_value(&set.keys[0]).unwrap()["kty"], kty);
        let (keys, _) = VerifyingKeySet::from_jwk_set(&set);
        jwt::decode(&token, &keys, &Validation::new(START)).unwrap();
    }
}

#[tokio::test]
async fn keystore_keys_cannot_be_rotated_here() {
    let generated = Km::start().await;
    assert!(format!("{:?}", generated.km).contains(&format!("{:?}", KeySource::Database)));
    let dir = tempfile::tempdir().unwrap();
    // A P-256 key: it signs ES256 whatever the configured default, which fits RSA only.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["km.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    let file = dir.path().join("primary.pem");
    std::fs::write(&file, pem).unwrap();
    let mut with_keystore = settings(TokenPersistence::Plain);
    with_keystore.primary_keystore = Some(keygate_config::KeystoreRef {
        file,
        kind: keygate_config::KeystoreKind::Pem,
        password: keygate_model::Secret::default(),
        alias: Some("wso2carbon".into()),
        key_password: None,
    });
    let km = Km::start_with(with_keystore).await;
    let set = jwks(&km).await;
    assert_eq!(set.keys.len(), 1);
    let jwk = &set.keys[0];
    assert_eq!(jwk.alg.as_deref(), Some("ES256"));
    assert_eq!(jwk.kid.as_deref(), Some(jwk.thumbprint().as_str()));
    assert_eq!(
        jwk.x5c.as_ref().map(Vec::len),
        Some(1),
        "x5c carries the certificate"
    );
    assert_eq!(
        jwk.x5t_s256.as_deref(),
        Some(keygate_jose::x5t_s256(cert.der()).as_str())
    );
    assert!(matches!(
        km.km.rotate_signing_key().await,
        Err(KmError::RotationUnavailable)
    ));
    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    let token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    let (keys, _) = VerifyingKeySet::from_jwk_set(&set);
    jwt::decode(&token, &keys, &Validation::new(START)).unwrap();
}

#[tokio::test]
async fn discovery_lists_every_endpoint_and_only_s256() {
    let km = Km::start().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oauth2/token/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/oauth2/token",
    ] {
        let reply = km.get(path, None).await.ok();
        let m = &reply.json;
        assert_eq!(m["issuer"], ISSUER, "{path}");
        assert_eq!(m["token_endpoint"], format!("{BASE}/oauth2/token"));
        assert_eq!(
            m["authorization_endpoint"],
            format!("{BASE}/oauth2/authorize")
        );
        assert_eq!(m["jwks_uri"], format!("{BASE}/oauth2/jwks"));
        assert_eq!(
            m["introspection_endpoint"],
            format!("{BASE}/oauth2/introspect")
        );
        assert_eq!(m["revocation_endpoint"], format!("{BASE}/oauth2/revoke"));
        assert_eq!(m["userinfo_endpoint"], format!("{BASE}/oauth2/userinfo"));
        assert_eq!(m["end_session_endpoint"], format!("{BASE}/oidc/logout"));
        assert_eq!(
            m["registration_endpoint"],
            format!("{BASE}/client-registration/v1/register")
        );
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        let grants = m["grant_types_supported"].to_string();
        for grant in [
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
            "jwt-bearer",
        ] {
            assert!(grants.contains(grant), "{grant}");
        }
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
    }
}

#[tokio::test]
async fn userinfo_returns_the_claims_the_scopes_allow() {
    let km = Km::start().await;
    km.secret_client("web", "web-secret", GRANTS, TokenType::Oauth)
        .await;
    let token = km
        .password(
            "web",
            "web-secret",
            "alice",
            "alice-password",
            "openid profile email",
        )
        .await
        .ok()
        .field("access_token");
    let reply = km.get("/oauth2/userinfo", Some(&token)).await.ok();
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(
        reply.json,
        serde_json::json!({
            "sub": "alice",
            "preferred_username": "alice",
            "given_name": "Alice",
            "family_name": "Liddell",
            "email": "alice@example.com",
        })
    );
    let narrow = km
        .password("web", "web-secret", "alice", "alice-password", "openid")
        .await
        .ok()
        .field("access_token");
    assert_eq!(
        km.get("/oauth2/userinfo", Some(&narrow)).await.ok().json,
        serde_json::json!({ "sub": "alice" })
    );

    let no_openid = km
        .password("web", "web-secret", "alice", "alice-password", "read")
        .await
        .ok()
        .field("access_token");
    let refused = km.get("/oauth2/userinfo", Some(&no_openid)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error(), "insufficient_scope");
    let app = km
        .client_credentials("web", "web-secret", Some("openid"))
        .await
        .ok()
        .field("access_token");
    assert_eq!(
        km.get("/oauth2/userinfo", Some(&app)).await.status,
        StatusCode::FORBIDDEN
    );
    let none = km.get("/oauth2/userinfo", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    km.advance(Duration::from_secs(3600));
    let expired = km.get("/oauth2/userinfo", Some(&token)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error(), "invalid_token");
}

#[tokio::test]
async fn bound_tokens_need_their_certificate_at_userinfo() {
    let mut enabled = settings(TokenPersistence::Plain);
    enabled.mutual_tls_enabled = true;
    let km = Km::start_with(enabled).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["device".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let chain = ClientCertificates::new(vec![cert.der().clone()]);
    let mut registered = client(
        "device",
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
        GRANTS,
    );
    let jwk = keygate_jose::Jwk::from_certificate(cert.der()).unwrap();
    registered.jwks = Some(serde_json::json!({ "keys": [jwk] }).to_string());
    km.register(registered).await;
    let token = km
        .post_with_certificate(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", "device"),
                ("username", "alice"),
                ("password", "alice-password"),
                ("scope", "openid"),
            ],
            chain.clone(),
        )
        .await
        .ok()
        .field("access_token");
    let without = km.get("/oauth2/userinfo", Some(&token)).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED);
    assert_eq!(without.error(), "invalid_token");
    let mut request = axum::http::Request::get("/oauth2/userinfo")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(chain);
    let with = km.send(request).await.ok();
    assert_eq!(with.json["sub"], "alice");
}

#[tokio::test]
async fn other_nodes_pick_up_a_rotation_within_the_reload_interval() {
    let km = Km::start().await;
    let other = km.second_node(settings(TokenPersistence::Plain)).await;
    let old_kid = kids(&jwks(&km).await).remove(0);
    let new_kid = km.km.rotate_signing_key().await.unwrap();
    let jwks_of = |node: &keygate_km::KeyManager| {
        let router = node.router();
        async move {
            use tower::ServiceExt;
            let response = router
                .oneshot(
                    axum::http::Request::get("/oauth2/jwks")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            kids(&serde_json::from_slice(&bytes).unwrap())
        }
    };
    assert_eq!(
        jwks_of(&other).await,
        std::slice::from_ref(&old_kid),
        "not yet reloaded"
    );
    km.advance(keygate_km::signing::RELOAD_INTERVAL);
    assert_eq!(jwks_of(&other).await, [old_kid, new_kid]);
}

/// WSO2's own keystore, made the way WSO2 ships `wso2carbon.jks`: RSA 2048 under the
/// alias `wso2carbon`, by the JDK's `keytool`.
#[tokio::test]
async fn wso2carbon_jks_signs_rs256_and_keys_token_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wso2carbon.jks");
    let made = std::process::Command::new("keytool")
        .args([
            "-genkeypair",
            "-alias",
            "wso2carbon",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-validity",
            "365",
            "-dname",
            "CN=localhost, O=WSO2",
            "-storetype",
            "JKS",
            "-storepass",
            "wso2carbon",
            "-keypass",
            "wso2carbon",
            "-keystore",
        ])
        .arg(&file)
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("keytool failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => {
            eprintln!("SKIPPED: keytool not available");
            return;
        }
    }
    let keystore = keygate_config::KeystoreRef {
        file,
        kind: keygate_config::KeystoreKind::Jks,
        password: keygate_model::Secret::new("wso2carbon"),
        alias: Some("wso2carbon".into()),
        key_password: None,
    };
    let mut configured = settings(TokenPersistence::Encrypt);
    configured.primary_keystore = Some(keystore.clone());
    configured.internal_keystore = Some(keystore);
    let km = Km::start_with(configured).await;
    let set = jwks(&km).await;
    let jwk = &set.keys[0];
    assert_eq!(serde_json::to_value(jwk).unwrap()["kty"], "RSA");
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.kid.as_deref(), Some(jwk.thumbprint().as_str()));
    assert!(jwk.x5c.is_some() && jwk.x5t_s256.is_some());

    km.secret_client("app", "app-secret", GRANTS, TokenType::Jwt)
        .await;
    let token = km
        .client_credentials("app", "app-secret", None)
        .await
        .ok()
        .field("access_token");
    let (keys, _) = VerifyingKeySet::from_jwk_set(&set);
    jwt::decode(&token, &keys, &Validation::new(START)).unwrap();
    let record = km
        .stores
        .tokens()
        .token(jwt_claims(&token)["jti"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored = record.token_value.unwrap();
    assert!(
        stored.starts_with("ks-"),
        "encrypted under the keystore-derived key"
    );
    assert!(!stored.contains(&token));
}
