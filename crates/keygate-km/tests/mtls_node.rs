//! RFC 8705 over a real TLS connection: a node started by the test kit, a client
//! certificate presented through reqwest's `Identity`. With `mutual_tls_authenticator`
//! off, certificate clients are refused; on, a self-signed certificate registered as a
//! JWK and a CA-issued one matching the registered subject both authenticate, and the
//! token is bound to the certificate (`cnf.x5t#S256`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keygate_config::{Config, KeystoreKind, KeystoreRef};
use keygate_jose::{Jwk, x5t_s256};
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Secret, Tenant, TokenEndpointAuthMethod, TokenType,
};
use keygate_testkit::TestNode;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::Value;

/// A client certificate: its DER, and the PEM identity reqwest presents.
struct ClientCert {
    der: rustls_pki_types::CertificateDer<'static>,
    identity_pem: String,
}

fn self_signed(name: &str) -> ClientCert {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    ClientCert {
        der: cert.der().clone(),
        identity_pem: format!("{}{}", cert.pem(), key.serialize_pem()),
    }
}

/// A CA (its PEM) and a client certificate it issued for `CN=partner,O=Example`.
fn ca_issued() -> (String, ClientCert) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Partner CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "partner");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        ca.pem(),
        ClientCert {
            der: cert.der().clone(),
            identity_pem: format!("{}{}", cert.pem(), key.serialize_pem()),
        },
    )
}

fn registration(client_id: &str, method: TokenEndpointAuthMethod) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: client_id.into(),
        owner: "admin".into(),
        redirect_uris: vec![],
        grant_types: vec!["client_credentials".into()],
        token_endpoint_auth_method: method,
        pkce_mandatory: false,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes::default(),
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 1,
        updated_at_ms: 1,
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

async fn token(node: &TestNode, http: &reqwest::Client, client_id: &str) -> (u16, Value) {
    let response = http
        .post(node.management("/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn node(mutual_tls: bool, truststore: Option<KeystoreRef>) -> (TestNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().join("data"));
    config.mutual_tls_enabled = mutual_tls;
    config.keystores.truststore = truststore;
    (TestNode::start_with(config).await.unwrap(), dir)
}

#[tokio::test]
async fn mtls_client_auth_is_refused_when_disabled() {
    let (node, _dir) = node(false, None).await;
    let cert = self_signed("device.example");
    let mut device = registration("device", TokenEndpointAuthMethod::SelfSignedTlsClientAuth);
    let jwk = Jwk::from_certificate(&cert.der).unwrap();
    device.jwks = Some(serde_json::json!({ "keys": [jwk] }).to_string());
    node.node
        .stores()
        .clients()
        .create_client(&device)
        .await
        .unwrap();

    let (status, body) = token(&node, &client_with(Some(&cert)), "device").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    node.stop().await;
}

#[tokio::test]
async fn mtls_client_auth_works_when_enabled_and_binds_tokens() {
    let (ca_pem, partner_cert) = ca_issued();
    let trust_dir = tempfile::tempdir().unwrap();
    let ca_file = trust_dir.path().join("client-truststore.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let truststore = KeystoreRef {
        file: ca_file,
        kind: KeystoreKind::Pem,
        password: Secret::default(),
        alias: Some("partner-ca".into()),
        key_password: None,
    };
    let (node, _dir) = node(true, Some(truststore)).await;
    let stores = node.node.stores();
    assert!(node.node.key_manager().is_some());

    // self_signed_tls_client_auth: the certificate's key is registered.
    let device_cert = self_signed("device.example");
    let mut device = registration("device", TokenEndpointAuthMethod::SelfSignedTlsClientAuth);
    let jwk = Jwk::from_certificate(&device_cert.der).unwrap();
    device.jwks = Some(serde_json::json!({ "keys": [jwk] }).to_string());
    stores.clients().create_client(&device).await.unwrap();
    let device_http = client_with(Some(&device_cert));
    let (status, body) = token(&node, &device_http, "device").await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(&access)["cnf"]["x5t#S256"],
        x5t_s256(&device_cert.der)
    );

    // tls_client_auth: a CA of the truststore issued it, for the registered subject.
    let mut partner = registration("partner", TokenEndpointAuthMethod::TlsClientAuth);
    partner.tls_client_auth_subject_dn = Some("CN=partner,O=Example".into());
    stores.clients().create_client(&partner).await.unwrap();
    let (status, body) = token(&node, &client_with(Some(&partner_cert)), "partner").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["x5t#S256"],
        x5t_s256(&partner_cert.der)
    );

    // Without its certificate, or with the other client's, a client is refused.
    let (status, _) = token(&node, &client_with(None), "device").await;
    assert_eq!(status, 401);
    let (status, _) = token(&node, &device_http, "partner").await;
    assert_eq!(status, 401);
    let (status, _) = token(&node, &client_with(Some(&self_signed("x"))), "device").await;
    assert_eq!(status, 401);

    // The discovery document says so.
    let metadata: Value = device_http
        .get(
            node.management("/.well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["tls_client_certificate_bound_access_tokens"], true);
    let port = node
        .node
        .addr(keygate_server::ListenerKind::Management)
        .unwrap()
        .port();
    assert_eq!(
        metadata["issuer"],
        format!("https://localhost:{port}/oauth2/token"),
        "a test node advertises the port it bound"
    );
    node.stop().await;
}
