//! What every interoperability test needs: a real keygate node (the test kit's, on
//! ephemeral loopback ports, embedded SQLite) seeded with users, scopes and clients; the
//! PEM of its self-signed TLS certificate, handed to the clients as their only extra
//! trusted CA; and a runner for the client scripts under `interop/` that passes the
//! node's URLs and credentials in environment variables and reads back the one JSON
//! object the script prints.
//!
//! When the clients are not installed (`interop/node_modules`, or the Python packages of
//! `interop/requirements.txt`), a test prints a loud `SKIPPED:` line and returns — or
//! fails when `KEYGATE_TEST_REQUIRE_SERVICES=1`, as CI sets it.

use keygate_config::Config;
use keygate_jose::Jwk;
use keygate_km::KeyManager;
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Scope, Secret, Tenant, TokenEndpointAuthMethod, TokenType,
};
use keygate_store::NewUser;
use keygate_testkit::{TestNode, require_services};
use rcgen::KeyPair;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The user every user-token flow signs in as: a subscriber, with claims.
pub const USER: &str = "carol";
/// Her password.
pub const USER_PASSWORD: &str = "carol-Passw0rd!";
/// A user with the administrator role, who may introspect any token.
pub const AUDITOR: &str = "auditor";
/// His password.
pub const AUDITOR_PASSWORD: &str = "auditor-Passw0rd!";
/// Every grant the key manager implements.
pub const ALL_GRANTS: &[&str] = &[
    "client_credentials",
    "password",
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];
/// How long one client script may run before it is killed.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(90);

/// The repository's `interop/` folder, where the client scripts live.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// A running node and what the clients need to reach it.
pub struct InteropNode {
    /// The node.
    pub node: TestNode,
    /// Its TLS certificate, PEM: the CA file the clients trust.
    pub ca_file: PathBuf,
    /// `https://localhost:{port}/oauth2/token`, the issuer it advertises.
    pub issuer: String,
    _dir: tempfile::TempDir,
}

impl InteropNode {
    /// A node on the embedded defaults.
    pub async fn start() -> InteropNode {
        Self::start_with(|_, _| {}).await
    }

    /// A node whose configuration `adjust` changes first; it gets the configuration and a
    /// directory for files the configuration names (truststores).
    pub async fn start_with(adjust: impl FnOnce(&mut Config, &Path)) -> InteropNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded_default();
        config.set_data_dir(dir.path().join("data"));
        adjust(&mut config, dir.path());
        let (ca_file, _) = keygate_server::tls::self_signed_paths(
            &config.server.data_dir,
            &config.server.hostname,
        );
        let node = TestNode::start_with(config).await.unwrap();
        assert!(ca_file.exists(), "no certificate at {}", ca_file.display());
        let metadata: Value = node
            .client
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
        let issuer = metadata["issuer"].as_str().unwrap().to_owned();
        let interop = InteropNode {
            node,
            ca_file,
            issuer,
            _dir: dir,
        };
        interop.seed().await;
        interop
    }

    /// The key manager of the node.
    pub fn km(&self) -> &KeyManager {
        self.node.node.key_manager().unwrap()
    }

    /// The absolute URL of a path on the key manager's listener, as it advertises it.
    pub fn endpoint(&self, path: &str) -> String {
        let base = self.issuer.strip_suffix("/oauth2/token").unwrap();
        format!("{base}{path}")
    }

    /// Roles, the users [`USER`] and [`AUDITOR`], and the scopes `read` (open to all) and
    /// `write` (subscribers only).
    async fn seed(&self) {
        let stores = self.node.node.stores();
        let users = stores.users();
        for role in ["Internal/subscriber", "Internal/everyone", "admin"] {
            if !users.role_exists(role).await.unwrap() {
                users.add_role(role).await.unwrap();
            }
        }
        let claims: BTreeMap<String, String> = [
            ("http://wso2.org/claims/emailaddress", "carol@example.com"),
            ("http://wso2.org/claims/givenname", "Carol"),
            ("http://wso2.org/claims/lastname", "Danvers"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (username, password, roles, claims) in [
            (
                USER,
                USER_PASSWORD,
                vec!["Internal/subscriber", "Internal/everyone"],
                claims,
            ),
            (
                AUDITOR,
                AUDITOR_PASSWORD,
                vec!["admin", "Internal/everyone"],
                BTreeMap::new(),
            ),
        ] {
            users
                .add_user(
                    &NewUser {
                        username: username.into(),
                        password: Secret::new(password),
                        roles: roles.into_iter().map(str::to_owned).collect(),
                        claims,
                    },
                    1,
                )
                .await
                .unwrap();
        }
        for (name, roles) in [
            ("read", vec![]),
            ("write", vec!["Internal/subscriber".to_owned()]),
        ] {
            stores
                .scopes()
                .create_scope(&Scope {
                    tenant: Tenant::default(),
                    name: name.into(),
                    display_name: name.into(),
                    description: None,
                    roles,
                })
                .await
                .unwrap();
        }
    }

    /// Registers a confidential client with `secret`, owned by [`USER`].
    pub async fn secret_client(&self, client_id: &str, secret: &str, token_type: TokenType) {
        let mut client = registration(client_id, TokenEndpointAuthMethod::ClientSecretBasic);
        client.token_type = token_type;
        client.secret_digest = Some(self.km().seal_client_secret(&Secret::new(secret)).unwrap());
        self.register(client).await;
    }

    /// Registers a `private_key_jwt` client whose key set holds `key`'s public half.
    pub async fn key_client(&self, client_id: &str, key: &ClientKey) {
        let mut client = registration(client_id, TokenEndpointAuthMethod::PrivateKeyJwt);
        client.jwks = Some(serde_json::json!({ "keys": [key.public_jwk()] }).to_string());
        self.register(client).await;
    }

    /// Stores a client registration as given.
    pub async fn register(&self, client: OAuthClient) {
        self.node
            .node
            .stores()
            .clients()
            .create_client(&client)
            .await
            .unwrap();
    }

    /// POSTs a form to the key manager, with Basic credentials, and reads the JSON reply.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: (&str, &str),
    ) -> (u16, Value) {
        let response = self
            .node
            .client
            .post(self.node.management(path).unwrap())
            .basic_auth(basic.0, Some(basic.1))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Introspects `token` as [`AUDITOR`], who may see every token.
    pub async fn introspect(&self, token: &str) -> Value {
        let (status, body) = self
            .post(
                "/oauth2/introspect",
                &[("token", token)],
                (AUDITOR, AUDITOR_PASSWORD),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A password-grant token response for [`USER`], asking for `scope`.
    pub async fn user_tokens(&self, client_id: &str, secret: &str, scope: &str) -> Value {
        let (status, body) = self
            .post(
                "/oauth2/token",
                &[
                    ("grant_type", "password"),
                    ("username", USER),
                    ("password", USER_PASSWORD),
                    ("scope", scope),
                ],
                (client_id, secret),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Environment every script gets: the issuer, the CA file, no proxy.
    pub fn base_env(&self) -> Vec<(String, String)> {
        [
            ("KEYGATE_ISSUER", self.issuer.clone()),
            ("KEYGATE_TOKEN_ENDPOINT", self.endpoint("/oauth2/token")),
            ("KEYGATE_JWKS_URI", self.endpoint("/oauth2/jwks")),
            ("KEYGATE_CA_FILE", self.ca_file.display().to_string()),
            ("NODE_EXTRA_CA_CERTS", self.ca_file.display().to_string()),
            ("NO_PROXY", "127.0.0.1,localhost,::1".to_owned()),
            ("no_proxy", "127.0.0.1,localhost,::1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A client registration with every grant, owned by [`USER`].
pub fn registration(client_id: &str, method: TokenEndpointAuthMethod) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: format!("{client_id} app"),
        owner: USER.into(),
        redirect_uris: vec!["https://app.example/callback".into()],
        grant_types: ALL_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
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

/// An EC P-256 key a client or an assertion issuer signs with.
pub struct ClientKey {
    /// Its key id.
    pub kid: String,
    pair: KeyPair,
}

impl ClientKey {
    /// A fresh key named `kid`.
    pub fn generate(kid: &str) -> ClientKey {
        ClientKey {
            kid: kid.into(),
            pair: KeyPair::generate().unwrap(),
        }
    }

    /// The private key, PKCS#8 PEM, as the scripts import it.
    pub fn private_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The public JWK, with `kid`.
    pub fn public_jwk(&self) -> Jwk {
        let der = PrivatePkcs8KeyDer::from(self.pair.serialize_der());
        Jwk::from_private_key(&der).unwrap().with_kid(&self.kid)
    }

    /// A self-signed certificate for the key, PEM, as a truststore holds it.
    pub fn certificate_pem(&self, name: &str) -> String {
        rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&self.pair)
            .unwrap()
            .pem()
    }
}

/// The interpreter a client script runs under.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// `node`, with the packages of `interop/package.json`.
    Node,
    /// `python3`, with the packages of `interop/requirements.txt`.
    Python,
}

impl Runtime {
    fn program(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::Python => "python3",
        }
    }

    /// Whether `package` is installed for this runtime; the reason when it is not.
    fn missing(self, package: &str) -> Option<String> {
        match self {
            Runtime::Node => {
                let manifest = interop_dir()
                    .join("node_modules")
                    .join(package)
                    .join("package.json");
                if !manifest.exists() {
                    return Some(format!("{package} not installed (run npm ci in interop/)"));
                }
            }
            Runtime::Python => {
                let imported = Command::new("python3")
                    .args(["-c", &format!("import {package}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if !imported.is_ok_and(|s| s.success()) {
                    return Some(format!(
                        "{package} not installed (run pip install -r interop/requirements.txt)"
                    ));
                }
            }
        }
        let runs = Command::new(self.program())
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !runs.is_ok_and(|s| s.success()) {
            return Some(format!("{} not found on PATH", self.program()));
        }
        None
    }
}

/// `true` when every one of `packages` is installed for `runtime`; otherwise prints the
/// SKIPPED line and returns `false`, or fails when services are required.
#[allow(clippy::panic)]
pub fn clients_installed(runtime: Runtime, packages: &[&str], test: &str) -> bool {
    let Some(reason) = packages.iter().find_map(|p| runtime.missing(p)) else {
        return true;
    };
    if require_services() {
        panic!("{test}: {reason} and KEYGATE_TEST_REQUIRE_SERVICES=1");
    }
    eprintln!("\n*** SKIPPED: {test}: {reason} ***\n");
    false
}

/// What a client script did.
#[derive(Debug)]
pub struct ScriptOutcome {
    /// Whether it exited with status 0.
    pub success: bool,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `interop/{script} {args}` under `runtime` with `env`, off the async runtime so
/// the node keeps serving, and returns what it did.
pub async fn run_script_outcome(
    runtime: Runtime,
    script: &str,
    args: &[&str],
    env: Vec<(String, String)>,
) -> ScriptOutcome {
    let mut command = Command::new(runtime.program());
    command
        .arg(script)
        .args(args)
        .current_dir(interop_dir())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || run_bounded(command))
        .await
        .unwrap()
}

/// Runs a client script as [`run_script_outcome`] does, asserts that it succeeded and
/// returns the JSON object it printed last.
pub async fn run_script(
    runtime: Runtime,
    script: &str,
    args: &[&str],
    env: Vec<(String, String)>,
) -> Value {
    let what = format!("{} {script} {}", runtime.program(), args.join(" "));
    let outcome = run_script_outcome(runtime, script, args, env).await;
    let ScriptOutcome {
        success,
        stdout,
        stderr,
    } = outcome;
    assert!(
        success,
        "{what} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("{what} printed no JSON ({e})\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    })
}

/// Runs a command to completion, killing it past [`SCRIPT_DEADLINE`].
fn run_bounded(mut command: Command) -> ScriptOutcome {
    let mut child = command.spawn().unwrap();
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let mut stderr = stderr.join().unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!("\n(killed after {SCRIPT_DEADLINE:?})"));
    }
    ScriptOutcome {
        success: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    }
}

/// The claims part of a JWT, unverified.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A string field of a JSON object.
pub fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{name}` in {value}"))
}
