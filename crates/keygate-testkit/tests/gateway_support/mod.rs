//! A node running every role with a mock backend, and the Publisher, Developer Portal
//! and key manager calls that put an API behind the gateway: publish, create an
//! application, subscribe, register its OAuth client, get a token through the gateway.

#![allow(dead_code, reason = "each test file uses part of the fixture")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_model::{KeyMapping, KeyMappingState, KeyType, RESIDENT_KEY_MANAGER, Tenant};
use keygate_server::ListenerKind;
use keygate_testkit::{MockBackend, TestNode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The configuration every gateway test runs with, before its own additions.
pub const BASE_CONFIG: &str = r#"
[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[apim.key_manager]
username = "admin"
password = "admin"

[apim.jwt]
enable = true

[apim.throttling]
enable_data_publishing = true
"#;

/// A running node, its backend and its data directory.
pub struct Fixture {
    pub node: TestNode,
    pub backend: MockBackend,
    dir: tempfile::TempDir,
}

/// An application with keys.
pub struct Keys {
    pub application: String,
    pub client_id: String,
    pub client_secret: String,
}

/// A JWT's claims, read without verifying it (base64 or base64url segments, as
/// `[apim.jwt] encoding` has them).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let payload = payload
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

impl Fixture {
    /// Every role, SQLite, ephemeral ports, `BASE_CONFIG` plus `extra`.
    pub async fn start(extra: &str) -> Fixture {
        let (config, dir) = Self::config(extra);
        Self::start_with(config, dir).await
    }

    /// `BASE_CONFIG` plus `extra`, in a fresh data directory, for changes before
    /// [`Fixture::start_with`].
    pub fn config(extra: &str) -> (keygate_config::Config, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{BASE_CONFIG}\n{extra}");
        let mut config = keygate_config::load_str(&text, Path::new("deployment.toml"))
            .unwrap()
            .config;
        config.set_data_dir(dir.path().join("data"));
        (config, dir)
    }

    /// The brokers of `throttle_decision_endpoints = [url]`, as a loaded file has them.
    pub fn brokers(url: &str) -> Vec<keygate_config::BrokerEndpoint> {
        let text = format!("[apim.throttling]\nthrottle_decision_endpoints = [\"{url}\"]\n");
        keygate_config::load_str(&text, Path::new("deployment.toml"))
            .unwrap()
            .config
            .throttling
            .decision_endpoints
    }

    /// A node of `config`, whose data directory is `dir`.
    pub async fn start_with(config: keygate_config::Config, dir: tempfile::TempDir) -> Fixture {
        let node = TestNode::start_with(config).await.unwrap();
        let backend = MockBackend::start().await.unwrap();
        Fixture { node, backend, dir }
    }

    /// The node's self-signed TLS certificate (PEM), for another node's truststore.
    pub fn tls_certificate(&self) -> std::path::PathBuf {
        keygate_server::tls::self_signed_paths(&self.dir.path().join("data"), "localhost").0
    }

    /// A management REST call as the super admin.
    pub async fn rest(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .node
            .client
            .request(method, self.node.management(path).unwrap())
            .basic_auth("admin", Some("admin"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Creates and publishes an API whose production endpoint is the mock backend under
    /// `/backend`; answers its id.
    pub async fn publish_api(&self, name: &str, context: &str, operations: Value) -> String {
        self.publish_api_to(name, context, &self.backend.url("/backend"), operations)
            .await
    }

    /// Creates and publishes an API whose production endpoint is `endpoint`.
    pub async fn publish_api_to(
        &self,
        name: &str,
        context: &str,
        endpoint: &str,
        operations: Value,
    ) -> String {
        let (status, created) = self
            .rest(
                Method::POST,
                "/api/am/publisher/v1/apis",
                Some(json!({
                    "name": name, "context": context, "version": "1.0.0",
                    "endpointConfig": {"production_endpoints": {"url": endpoint}},
                    "policies": ["Unlimited", "Gold"],
                    "operations": operations,
                })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .rest(
                Method::POST,
                &format!("/api/am/publisher/v1/apis/change-lifecycle?apiId={id}&action=Publish"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// Creates an application (`JWT` or `OAUTH` tokens) with a throttling policy.
    pub async fn application(&self, name: &str, token_type: &str, policy: &str) -> String {
        let (status, created) = self
            .rest(
                Method::POST,
                "/api/am/devportal/v1/applications",
                Some(json!({"name": name, "throttlingPolicy": policy, "tokenType": token_type})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["applicationId"].as_str().unwrap().to_owned()
    }

    /// Subscribes an application to an API; answers the subscription id.
    pub async fn subscribe(&self, application: &str, api: &str) -> String {
        let (status, created) = self
            .rest(
                Method::POST,
                "/api/am/devportal/v1/subscriptions",
                Some(
                    json!({"applicationId": application, "apiId": api, "throttlingPolicy": "Gold"}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["subscriptionId"].as_str().unwrap().to_owned()
    }

    /// Production keys for an application: its OAuth client registered through the key
    /// manager's operations, and the key mapping stored for it.
    pub async fn keys(&self, application: &str, token_type: &str, extra: Value) -> Keys {
        let mut body = json!({
            "client_name": format!("admin_{application}_PRODUCTION"),
            "grant_types": ["client_credentials", "password", "refresh_token"],
            "ext_param_owner": "admin",
            "token_type_extension": token_type,
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, created) = self
            .rest(
                Method::POST,
                "/keymanager-operations/dcr/register",
                Some(body),
            )
            .await;
        assert!(status.is_success(), "{status} {created}");
        let client_id = created["client_id"].as_str().unwrap().to_owned();
        let client_secret = created["client_secret"].as_str().unwrap().to_owned();
        self.node
            .node
            .stores()
            .key_mappings()
            .create_key_mapping(&KeyMapping {
                uuid: uuid::Uuid::new_v4().to_string(),
                tenant: Tenant::default(),
                application_uuid: application.to_owned(),
                consumer_key: client_id.clone(),
                key_type: KeyType::Production,
                state: KeyMappingState::Completed,
                key_manager: RESIDENT_KEY_MANAGER.into(),
                created_at_ms: 1,
            })
            .await
            .unwrap();
        Keys {
            application: application.to_owned(),
            client_id,
            client_secret,
        }
    }

    /// A URL on the gateway's plain listener.
    pub fn gateway(&self, path: &str) -> String {
        self.node.url(ListenerKind::GatewayHttp, path).unwrap()
    }

    /// A client-credentials token, asked for at the gateway's `/token`.
    pub async fn token(&self, keys: &Keys) -> String {
        let response = self
            .node
            .client
            .post(self.gateway("/token"))
            .basic_auth(&keys.client_id, Some(&keys.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes a token at the gateway's `/revoke`.
    pub async fn revoke(&self, keys: &Keys, token: &str) {
        let response = self
            .node
            .client
            .post(self.gateway("/revoke"))
            .basic_auth(&keys.client_id, Some(&keys.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// `GET` through the gateway with a bearer token.
    pub async fn call(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.node.client.get(self.gateway(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Calls until the answer has `status` (the replica follows the control plane
    /// within milliseconds); fails after ten seconds.
    pub async fn call_until(&self, path: &str, token: Option<&str>, status: u16) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (got, body) = self.call(path, token).await;
            if got == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path}: still {got} {body}, expected {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything set up for one API: published, an application subscribed with keys.
    pub async fn subscribed(
        &self,
        context: &str,
        operations: Value,
        token_type: &str,
    ) -> (String, Keys) {
        self.subscribed_as(context, operations, token_type, "Unlimited", json!({}))
            .await
    }

    /// The same with an application policy and extra client metadata for its keys.
    pub async fn subscribed_as(
        &self,
        context: &str,
        operations: Value,
        token_type: &str,
        policy: &str,
        client: Value,
    ) -> (String, Keys) {
        let name = context.replace('/', "-");
        let api = self
            .publish_api(&format!("api{name}"), context, operations)
            .await;
        let app = self
            .application(&format!("app{name}"), token_type, policy)
            .await;
        self.subscribe(&app, &api).await;
        let keys = self.keys(&app, token_type, client).await;
        (api, keys)
    }

    /// An API at `context` with one `GET /*` resource, an application subscribed with
    /// `token_type` keys, and a token the gateway already accepts at `{context}/1.0.0/x`.
    pub async fn ready(&self, context: &str, token_type: &str) -> (String, Keys, String) {
        let (api, keys) = self
            .subscribed(
                context,
                json!([{"target": "/*", "verb": "GET"}]),
                token_type,
            )
            .await;
        let token = self.token(&keys).await;
        self.call_until(&format!("{context}/1.0.0/x"), Some(&token), 200)
            .await;
        (api, keys, token)
    }
}

impl Fixture {
    /// The port of the node's management listener (key manager, control plane).
    pub fn management_port(&self) -> u16 {
        self.node
            .node
            .addr(ListenerKind::Management)
            .unwrap()
            .port()
    }

    /// A node running the gateway role alone, reaching this fixture's key manager and
    /// control plane over HTTPS and trusting its certificate; `extra` is appended to its
    /// configuration.
    pub async fn gateway_node(&self, dir: &Path, extra: &str) -> TestNode {
        self.gateway_node_as(dir, ("admin", "admin"), extra).await
    }

    /// The same, calling the key manager with `credentials` (user, password).
    pub async fn gateway_node_as(
        &self,
        dir: &Path,
        credentials: (&str, &str),
        extra: &str,
    ) -> TestNode {
        let (username, password) = credentials;
        let port = self.management_port();
        let text = format!(
            r#"
[server]
roles = ["gateway"]

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[apim.key_manager]
service_url = "https://localhost:{port}/services/"
username = "{username}"
password = "{password}"

[truststore]
file_name = "{truststore}"
type = "PEM"
alias = "key-manager-tls"

[apim.jwt]
enable = true
{extra}
"#,
            truststore = self.tls_certificate().display(),
        );
        let mut config = keygate_config::load_str(&text, Path::new("deployment.toml"))
            .unwrap()
            .config;
        config.set_data_dir(dir.join("gateway-data"));
        TestNode::start_with(config).await.unwrap()
    }
}

/// A GET through `gateway`'s plain listener with a bearer token: status and JSON body.
pub async fn call_on(gateway: &TestNode, path: &str, token: &str) -> (u16, Value) {
    let response = gateway
        .client
        .get(gateway.url(ListenerKind::GatewayHttp, path).unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}
