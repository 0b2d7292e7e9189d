//! The management commands end to end: the real `keygate` binary against a node running
//! every role on ephemeral ports, with its own config directory. An API from an OpenAPI
//! file is published, an application gets keys, a subscription and a token; refusals
//! exit 1 with the server's message, usage errors exit 2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use keygate_model::{Secret, roles};
use keygate_store::NewUser;
use keygate_testkit::TestNode;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
[super_admin]
username = "admin"
password = "admin-secret-1"
create_admin_account = true

[apim.key_manager]
username = "admin"
password = "admin-secret-1"
"#;

const PETSTORE: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "Pet Store", "version": "2.0.0"},
  "servers": [{"url": "http://127.0.0.1:9/pets"}],
  "paths": {
    "/pets": {"get": {}, "post": {}},
    "/pets/{id}": {"get": {"security": []}, "delete": {}}
  }
}"#;

struct Fixture {
    node: TestNode,
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = keygate_config::load_str(CONFIG, Path::new("deployment.toml"))
            .unwrap()
            .config;
        config.set_data_dir(dir.path().join("data"));
        let node = TestNode::start_with(config).await.unwrap();
        Fixture { node, dir }
    }

    fn server(&self) -> String {
        self.node.management("").unwrap()
    }

    fn config_home(&self) -> PathBuf {
        self.dir.path().join("xdg")
    }

    /// Runs `keygate args…` with `stdin` and extra environment, off the runtime.
    async fn keygate(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keygate"));
        command
            .args(args)
            .env("XDG_CONFIG_HOME", self.config_home())
            .env_remove("KEYGATE_SERVER")
            .env_remove("KEYGATE_USERNAME")
            .env_remove("KEYGATE_PASSWORD")
            .env_remove("KEYGATE_CONSUMER_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .unwrap()
    }

    /// `keygate login` as admin with `password` on standard input.
    async fn login(&self, password: &str) -> Run {
        let server = self.server();
        let args = [
            "login",
            "--server",
            &server,
            "--insecure",
            "--username",
            "admin",
            "--password-stdin",
        ];
        self.keygate(&args, &format!("{password}\n"), &[]).await
    }

    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.keygate(args, "", &[]).await;
        assert_eq!(
            run.code, 0,
            "keygate {args:?}: {}{}",
            run.stdout, run.stderr
        );
        run
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_an_oauth_token_privately_and_logout_forgets_it() {
    let f = Fixture::start().await;
    let login = f.login("admin-secret-1").await;
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
    assert!(login.stdout.contains("OAuth token"), "{}", login.stdout);
    assert!(!login.stdout.contains("admin-secret-1"));
    let stored = f.config_home().join("keygate/cli.toml");
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&stored).unwrap();
    assert!(
        text.contains("access_token") && !text.contains("admin-secret-1"),
        "{text}"
    );

    let out = f.ok(&["logout"]).await;
    assert!(out.stdout.contains("logged out"));
    assert!(!stored.exists());
    let after = f.keygate(&["app", "list"], "", &[]).await;
    assert_eq!(after.code, 2, "{}", after.stderr);
    assert!(after.stderr.contains("keygate login"), "{}", after.stderr);
    f.node.stop().await;
}

// CI use: no login, the server and HTTP Basic credentials from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_an_openapi_file_create_an_application_and_subscribe() {
    let f = Fixture::start().await;
    let server = f.server();
    let ci = [
        ("KEYGATE_SERVER", server.as_str()),
        ("KEYGATE_USERNAME", "admin"),
        ("KEYGATE_PASSWORD", "admin-secret-1"),
    ];
    let run = |args: Vec<&'static str>| {
        let f = &f;
        let ci = &ci;
        async move {
            let mut all = args;
            all.push("--insecure");
            let run = f.keygate(&all, "", ci).await;
            assert_eq!(run.code, 0, "keygate {all:?}: {}{}", run.stdout, run.stderr);
            run
        }
    };
    let file = f.dir.path().join("petstore.json");
    std::fs::write(&file, PETSTORE).unwrap();
    let file: &'static str = Box::leak(file.to_str().unwrap().to_owned().into_boxed_str());
    let created = run(vec![
        "api",
        "create",
        "--openapi",
        file,
        "--context",
        "/pets",
        "--version",
        "1.0.0",
        "--tiers",
        "Gold,Unlimited",
        "--output",
        "json",
    ])
    .await
    .json();
    assert_eq!(created["name"], "Pet Store");
    assert_eq!(created["context"], "/pets");
    assert_eq!(created["operations"].as_array().unwrap().len(), 4);
    assert_eq!(created["lifeCycleStatus"], "CREATED");

    let published = run(vec!["api", "publish", "Pet Store:1.0.0"]).await;
    assert!(
        published.stdout.contains("PUBLISHED"),
        "{}",
        published.stdout
    );
    let listed = run(vec!["api", "list", "--status", "PUBLISHED"]).await;
    assert!(
        listed.stdout.contains("Pet Store") && listed.stdout.contains("/pets"),
        "{}",
        listed.stdout
    );

    let app = run(vec![
        "app",
        "create",
        "shop",
        "--policy",
        "50PerMin",
        "--token-type",
        "JWT",
        "-o",
        "json",
    ])
    .await
    .json();
    assert_eq!(app["throttlingPolicy"], "50PerMin");
    assert_eq!(app["tokenType"], "JWT");

    let sub = run(vec![
        "sub",
        "create",
        "--app",
        "shop",
        "--api",
        "Pet Store:1.0.0",
        "--tier",
        "Gold",
        "-o",
        "json",
    ])
    .await
    .json();
    assert_eq!(sub["status"], "UNBLOCKED");
    assert_eq!(sub["apiId"], created["id"]);
    let subs = run(vec!["sub", "list", "--app", "shop", "-o", "json"])
        .await
        .json();
    assert_eq!(subs.as_array().unwrap().len(), 1);
    // A subscriber without apim:api_view cannot list the Publisher's APIs: the API is
    // named by its id, or by its name through the Developer Portal's listing.
    let users = f.node.node.stores().users();
    let _ = users.add_role(roles::SUBSCRIBER).await;
    users
        .add_user(
            &NewUser {
                username: "bob".into(),
                password: Secret::new("bob-secret-1"),
                roles: vec![roles::SUBSCRIBER.into()],
                claims: Default::default(),
            },
            1,
        )
        .await
        .unwrap();
    let bob = [
        ("KEYGATE_SERVER", server.as_str()),
        ("KEYGATE_USERNAME", "bob"),
        ("KEYGATE_PASSWORD", "bob-secret-1"),
    ];
    let as_bob = |args: Vec<&'static str>| {
        let mut all = args;
        all.push("--insecure");
        let f = &f;
        let bob = &bob;
        async move { f.keygate(&all, "", bob).await }
    };
    let listed = as_bob(vec!["api", "list"]).await;
    assert_eq!(listed.code, 1, "a subscriber lists APIs: {}", listed.stdout);
    let app = as_bob(vec!["app", "create", "bobs"]).await;
    assert_eq!(app.code, 0, "{}", app.stderr);
    let api_id: &'static str =
        Box::leak(created["id"].as_str().unwrap().to_owned().into_boxed_str());
    let bobs = as_bob(vec![
        "sub", "create", "--app", "bobs", "--api", api_id, "--tier", "Gold", "-o", "json",
    ])
    .await;
    assert_eq!(bobs.code, 0, "{}", bobs.stderr);
    assert_eq!(bobs.json()["apiId"], created["id"]);
    let second = as_bob(vec!["app", "create", "bobs-second"]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let by_name = as_bob(vec![
        "sub",
        "create",
        "--app",
        "bobs-second",
        "--api",
        "Pet Store:1.0.0",
        "--tier",
        "Gold",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(by_name.code, 0, "{}", by_name.stderr);
    assert_eq!(by_name.json()["apiId"], created["id"]);
    let unknown = as_bob(
        "sub create --app bobs --api no-such-api --tier Gold"
            .split(' ')
            .collect(),
    )
    .await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);

    let id: &'static str = Box::leak(
        sub["subscriptionId"]
            .as_str()
            .unwrap()
            .to_owned()
            .into_boxed_str(),
    );
    run(vec!["sub", "block", id]).await;
    let blocked = run(vec![
        "sub",
        "list",
        "--api",
        "Pet Store:1.0.0",
        "-o",
        "json",
    ])
    .await
    .json();
    assert_eq!(blocked[0]["status"], "BLOCKED");

    let retired = f
        .keygate(&["api", "retire", "Pet Store", "--insecure"], "", &ci)
        .await;
    assert_eq!(
        retired.code, 1,
        "PUBLISHED cannot be retired: {}",
        retired.stderr
    );
    f.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_stored_login_keys_are_made_and_an_application_token_issued() {
    let f = Fixture::start().await;
    let login = f.login("admin-secret-1").await;
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
    let file = f.dir.path().join("petstore.json");
    std::fs::write(&file, PETSTORE).unwrap();
    let file = file.to_str().unwrap();
    let created = f
        .ok(&[
            "api",
            "create",
            "--openapi",
            file,
            "--tiers",
            "Gold",
            "--publish",
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(created["context"], "/pet-store");
    assert_eq!(created["version"], "2.0.0");
    assert_eq!(created["lifeCycleStatus"], "PUBLISHED");
    f.ok(&["app", "create", "shop", "--token-type", "JWT"])
        .await;
    let keys = f
        .ok(&[
            "app",
            "keys",
            "generate",
            "shop",
            "--key-type",
            "PRODUCTION",
        ])
        .await;
    let secret = keys
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("consumer secret:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(!secret.is_empty(), "{}", keys.stdout);
    f.ok(&[
        "sub",
        "create",
        "--app",
        "shop",
        "--api",
        "Pet Store",
        "--tier",
        "Gold",
    ])
    .await;

    // The secret is never printed again: `app get` shows the key without it.
    let shown = f.ok(&["app", "get", "shop"]).await;
    assert!(shown.stdout.contains("PRODUCTION"), "{}", shown.stdout);
    assert!(!shown.stdout.contains(&secret));

    let token = f
        .keygate(
            &["app", "token", "shop"],
            "",
            &[("KEYGATE_CONSUMER_SECRET", &secret)],
        )
        .await;
    assert_eq!(token.code, 0, "{}", token.stderr);
    assert_eq!(
        token.stdout.trim().split('.').count(),
        3,
        "a JWT: {}",
        token.stdout
    );
    let wrong = f
        .keygate(
            &["app", "token", "shop", "--consumer-secret-stdin"],
            "not-the-secret\n",
            &[],
        )
        .await;
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    f.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_1_with_the_servers_message_and_usage_errors_exit_2() {
    let f = Fixture::start().await;
    let server = f.server();
    let wrong = f.login("wrong").await;
    assert_eq!(wrong.code, 1, "{}{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stderr.contains("401"), "{}", wrong.stderr);
    assert!(!f.config_home().join("keygate/cli.toml").exists());

    let ci = [
        ("KEYGATE_SERVER", server.as_str()),
        ("KEYGATE_USERNAME", "admin"),
        ("KEYGATE_PASSWORD", "admin-secret-1"),
    ];
    let missing = f.keygate(&["app", "create", "--insecure"], "", &ci).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("<NAME>"), "{}", missing.stderr);

    let refused = f
        .keygate(
            &[
                "app",
                "create",
                "shop",
                "--policy",
                "NoSuchPolicy",
                "--insecure",
            ],
            "",
            &ci,
        )
        .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("throttlingPolicy"),
        "{}",
        refused.stderr
    );

    let bad_file = f.dir.path().join("not-openapi.json");
    std::fs::write(&bad_file, r#"{"info": {"title": "x"}}"#).unwrap();
    let bad = f
        .keygate(
            &[
                "api",
                "create",
                "--openapi",
                bad_file.to_str().unwrap(),
                "--insecure",
            ],
            "",
            &ci,
        )
        .await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("definition.openapi"), "{}", bad.stderr);

    let unknown = f
        .keygate(&["api", "get", "Nothing", "--insecure"], "", &ci)
        .await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("not found"), "{}", unknown.stderr);
    f.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_credentials_with_the_servers_certificate_manage_policies_and_deny_conditions() {
    let f = Fixture::start().await;
    let certificate = keygate_server_certificate(&f);
    let server = f.server().replace("127.0.0.1", "localhost");
    let ca = certificate.to_str().unwrap();
    let ci = [
        ("KEYGATE_USERNAME", "admin"),
        ("KEYGATE_PASSWORD", "admin-secret-1"),
    ];
    let run = |args: Vec<&str>| {
        let mut all = args;
        all.extend(["--server", &server, "--ca", ca]);
        let owned: Vec<String> = all.iter().map(|s| (*s).to_owned()).collect();
        let f = &f;
        async move {
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            f.keygate(&refs, "", &ci).await
        }
    };
    let tiers = run(vec!["policy", "list", "subscription"]).await;
    assert_eq!(tiers.code, 0, "{}", tiers.stderr);
    assert!(
        tiers.stdout.contains("Gold") && tiers.stdout.contains("5000 req/1min"),
        "{}",
        tiers.stdout
    );

    let created = run(vec![
        "policy",
        "create",
        "application",
        "7PerMin",
        "--requests",
        "7",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(
        created.json()["defaultLimit"]["requestCount"]["requestCount"],
        7
    );
    let deleted = run(vec!["policy", "delete", "application", "7PerMin"]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let gone = run(vec!["policy", "list", "application"]).await;
    assert!(!gone.stdout.contains("7PerMin"), "{}", gone.stdout);

    let deny = run(vec![
        "deny", "create", "--type", "IP", "--value", "10.1.2.3", "-o", "json",
    ])
    .await;
    assert_eq!(deny.code, 0, "{}", deny.stderr);
    let id = deny.json()["conditionId"].as_str().unwrap().to_owned();
    let listed = run(vec!["deny", "list"]).await;
    assert!(listed.stdout.contains("10.1.2.3"), "{}", listed.stdout);
    assert_eq!(run(vec!["deny", "delete", &id]).await.code, 0);

    // Without --ca or --insecure the self-signed certificate is not trusted.
    let untrusted = f
        .keygate(
            &["policy", "list", "subscription", "--server", &server],
            "",
            &ci,
        )
        .await;
    assert_eq!(untrusted.code, 1, "{}", untrusted.stderr);
    f.node.stop().await;
}

fn keygate_server_certificate(f: &Fixture) -> PathBuf {
    keygate_server::tls::self_signed_paths(&f.dir.path().join("data"), "localhost").0
}
