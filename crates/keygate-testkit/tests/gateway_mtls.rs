//! Certificate-bound access tokens (RFC 8705 §3) through the gateway's HTTPS listener:
//! the listener asks every client for a certificate without requiring one, and a token
//! whose `cnf.x5t#S256` names a certificate is accepted only on a connection that
//! presented that certificate — 401 900911 with another one or none.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway_support::{Fixture, jwt_claims};
use keygate_model::TokenEndpointAuthMethod;
use keygate_server::ListenerKind;
use rcgen::{CertificateParams, KeyPair};
use serde_json::{Value, json};

/// A self-signed client certificate: the PEM identity reqwest presents, and the public
/// key as a JWK (P-256) for a `self_signed_tls_client_auth` registration.
struct ClientCert {
    identity_pem: String,
    jwk: Value,
}

fn self_signed(name: &str) -> ClientCert {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    // An uncompressed P-256 point: 0x04, x, y.
    let point = key.public_key_raw();
    assert_eq!(point.len(), 65);
    ClientCert {
        identity_pem: format!("{}{}", cert.pem(), key.serialize_pem()),
        jwk: json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }),
    }
}

fn client_with(cert: Option<&ClientCert>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy();
    if let Some(cert) = cert {
        builder =
            builder.identity(reqwest::Identity::from_pem(cert.identity_pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn call(fixture: &Fixture, http: &reqwest::Client, token: &str) -> (u16, Value) {
    let url = fixture
        .node
        .url(ListenerKind::GatewayHttps, "/bound/1.0.0/x")
        .unwrap();
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate_at_the_gateway() {
    let (mut config, dir) = Fixture::config("");
    config.mutual_tls_enabled = true;
    let fixture = Fixture::start_with(config, dir).await;
    let (_, keys) = fixture
        .subscribed("/bound", json!([{"target": "/*", "verb": "GET"}]), "JWT")
        .await;

    // The application's client authenticates with its certificate.
    let device = self_signed("device.example");
    let stores = fixture.node.node.stores();
    let clients = stores.clients();
    let mut client = clients.client(&keys.client_id).await.unwrap().unwrap();
    client.token_endpoint_auth_method = TokenEndpointAuthMethod::SelfSignedTlsClientAuth;
    client.jwks = Some(json!({ "keys": [device.jwk] }).to_string());
    clients.update_client(&client, 2).await.unwrap();

    let device_http = client_with(Some(&device));
    let response = device_http
        .post(fixture.node.management("/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", keys.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(
        jwt_claims(&token)["cnf"]["x5t#S256"].is_string(),
        "the token is bound to the certificate"
    );

    // The key mapping reaches the gateway's replica through the change outbox.
    let mut answer = call(&fixture, &device_http, &token).await;
    for _ in 0..100 {
        if answer.0 != 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = call(&fixture, &device_http, &token).await;
    }
    let (status, body) = answer;
    assert_eq!(status, 200, "with the bound certificate: {body}");
    assert_eq!(fixture.backend.last().unwrap().path, "/backend/x");

    let stranger = self_signed("stranger.example");
    let (status, body) = call(&fixture, &client_with(Some(&stranger)), &token).await;
    assert_eq!(status, 401, "with another certificate: {body}");
    assert_eq!(body["code"], 900_911);

    let (status, body) = call(&fixture, &client_with(None), &token).await;
    assert_eq!(status, 401, "without a certificate: {body}");
    assert_eq!(body["code"], 900_911);
    fixture.node.stop().await;
}
