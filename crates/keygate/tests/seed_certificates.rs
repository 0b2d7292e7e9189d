//! The seed's certificate setup (step 6.2 and its troubleshooting) with the real binary, on
//! host names other than `localhost`: `km.keygate.test` (127.0.0.2) and `apim.keygate.test`
//! (127.0.0.3) from `/etc/hosts`, certificates made for them by `deploy/seed/certs.sh`
//! with the JDK's keytool, a key manager node and an API-M node (control plane and
//! gateway) as processes sharing SQLite databases.
//!
//! - The control plane makes an application's keys through the key manager over TLS
//!   verified by its `client-truststore.jks`; the gateway verifies the key manager's JWTs
//!   with the certificate under `gateway_certificate_alias`, not its JWK Set — it accepts
//!   them with the key manager stopped.
//! - An API-M node whose truststore lacks the key manager's certificate refuses to start,
//!   naming the host, the certificate's subject and the truststore to import it into.
//! - A key manager certificate made for `localhost`, served as `km.keygate.test`, is a
//!   hostname mismatch, said so.
//!
//! Without those names in `/etc/hosts` (`.ci/run` adds them) or without keytool, each test
//! prints `SKIPPED:` and passes, unless `KEYGATE_TEST_REQUIRE_SERVICES=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod piped;

use piped::{Piped, free_offset, keygate_server};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a node gets to start, or to refuse to.
const START_WAIT: Duration = Duration::from_secs(90);

const KM_HOST: &str = "km.keygate.test";
const APIM_HOST: &str = "apim.keygate.test";

fn skip(what: &str) {
    eprintln!("SKIPPED: {what}");
    assert!(
        std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{what} and KEYGATE_TEST_REQUIRE_SERVICES=1"
    );
}

/// Whether the test's host names resolve to their loopback addresses and keytool exists.
fn ready() -> bool {
    for (host, ip) in [
        (KM_HOST, Ipv4Addr::new(127, 0, 0, 2)),
        (APIM_HOST, Ipv4Addr::new(127, 0, 0, 3)),
    ] {
        let resolved: Vec<IpAddr> = (host, 0)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .unwrap_or_default();
        if !resolved.contains(&IpAddr::V4(ip)) {
            skip(&format!(
                "{host} does not resolve to {ip} (tried /etc/hosts; .ci/run adds it)"
            ));
            return false;
        }
    }
    if Command::new("keytool").arg("-help").output().is_err() {
        skip("keytool not found (install a JDK)");
        return false;
    }
    true
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `deploy/seed/certs.sh OUT KM_HOSTS APIM_HOSTS`.
fn certs(out: &Path, km_hosts: &str, apim_hosts: &str) {
    let run = Command::new(repo().join("deploy/seed/certs.sh"))
        .env("KEYGATE_STORE_PASSWORD", STORE_PASSWORD)
        .arg(out)
        .args([km_hosts, apim_hosts])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "certs.sh: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The databases both nodes share (the seed's step 3, on SQLite files).
fn databases(shared: &Path) -> String {
    format!(
        r#"[database.apim_db]
type = "sqlite"
url = "sqlite://{apim}"

[database.shared_db]
type = "sqlite"
url = "sqlite://{shared_db}"
"#,
        apim = shared.join("apim.db").display(),
        shared_db = shared.join("shared.db").display()
    )
}

/// The password of every store `certs.sh` writes here: distinctive, so that a test can
/// tell it never reaches a log.
const STORE_PASSWORD: &str = "kg-store-pw-5e1c9a";

/// The key and trust stores `certs.sh` wrote into `dir`, as keygate reads them.
fn stores() -> String {
    format!(
        r#"[keystore.primary]
file_name = "wso2carbon.jks"
type = "JKS"
password = "{STORE_PASSWORD}"
alias = "wso2carbon"
key_password = "{STORE_PASSWORD}"

[truststore]
file_name = "client-truststore.jks"
type = "JKS"
password = "{STORE_PASSWORD}"
"#
    )
}

/// The key manager node's file, written beside its stores.
fn key_manager_config(dir: &Path, shared: &Path, offset: u16) -> PathBuf {
    let text = format!(
        r#"[server]
hostname = "{KM_HOST}"
offset = {offset}
roles = ["key-manager"]
data_dir = "{data}"

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

{databases}
{stores}
[apim.jwt]
enable = true
enable_user_claims = true
"#,
        data = dir.join("data").display(),
        databases = databases(shared),
        stores = stores(),
    );
    let file = dir.join("deployment.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The API-M node's file (control plane and gateway), written beside its stores.
fn api_manager_config(dir: &Path, shared: &Path, offset: u16, km_port: u16) -> PathBuf {
    let text = format!(
        r#"[server]
hostname = "{APIM_HOST}"
offset = {offset}
roles = ["control-plane", "gateway"]
data_dir = "{data}"

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

{databases}
{stores}
[apim.key_manager]
service_url = "https://{KM_HOST}:{km_port}/services/"
username = "admin"
password = "admin"

[apim.jwt]
enable = true
enable_user_claims = true
"#,
        data = dir.join("data").display(),
        databases = databases(shared),
        stores = stores(),
    );
    let file = dir.join("deployment.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `keygate ARGS` as the admin against the API-M node, trusting its certificate; stdout.
fn keygate(server: &str, ca: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .arg("--ca")
        .arg(ca)
        .env("XDG_CONFIG_HOME", home)
        .env("KEYGATE_SERVER", server)
        .env("KEYGATE_USERNAME", "admin")
        .env("KEYGATE_PASSWORD", "admin")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keygate {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `curl ARGS`: the status code and body, as a user checks a node by hand.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-w", "\\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_their_own_host_names_trust_each_other_through_keytool_stores() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let stranger = dir.path().join("stranger");
    certs(&good, KM_HOST, APIM_HOST);
    // Another pair of the same names: its trust store holds a key manager certificate
    // that is not the running key manager's.
    certs(&stranger, KM_HOST, APIM_HOST);
    let shared = dir.path().join("db");
    std::fs::create_dir_all(&shared).unwrap();

    let km_offset = free_offset();
    let km_port = 9443 + km_offset;
    let km_config = key_manager_config(&good.join("key-manager"), &shared, km_offset);
    let key_manager = Piped::start("key manager", keygate_server(&km_config), START_WAIT);

    // The troubleshooting case: the API-M node does not trust the key manager.
    let untrusting = api_manager_config(
        &stranger.join("api-manager"),
        &shared,
        free_offset(),
        km_port,
    );
    let (status, logs) =
        Piped::spawn("untrusting API-M node", keygate_server(&untrusting)).exit(START_WAIT);
    assert!(
        !status.success(),
        "an untrusting node exits non-zero; logs:\n{logs}"
    );
    let truststore = stranger.join("api-manager/client-truststore.jks");
    for needed in [
        "untrusted certificate",
        &format!("the key manager at {KM_HOST}"),
        &format!("CN={KM_HOST}"),
        "keytool -importcert",
        &truststore.display().to_string(),
    ] {
        assert!(logs.contains(needed), "{needed:?} missing from:\n{logs}");
    }
    assert!(
        !logs.contains(STORE_PASSWORD),
        "a store password in the logs:\n{logs}"
    );

    // The API-M node with the stores certs.sh made for it.
    let apim_offset = free_offset();
    let apim_config = api_manager_config(&good.join("api-manager"), &shared, apim_offset, km_port);
    let api_manager = Piped::start("API-M node", keygate_server(&apim_config), START_WAIT);

    let backend = keygate_testkit::MockBackend::start().await.unwrap();
    let openapi = dir.path().join("orders.json");
    std::fs::write(
        &openapi,
        serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "Orders", "version": "1.0.0"},
            "servers": [{"url": backend.url("/backend")}],
            "paths": {"/orders": {"get": {}}}
        })
        .to_string(),
    )
    .unwrap();
    let server = format!("https://{APIM_HOST}:{}/", 9443 + apim_offset);
    let ca = good.join("api-manager/wso2carbon.crt");
    let home = dir.path().join("xdg");
    let cli = |args: &[&str], env: &[(&str, &str)]| keygate(&server, &ca, &home, args, env);
    let openapi = openapi.display().to_string();
    cli(
        &[
            "api",
            "create",
            "--openapi",
            &openapi,
            "--context",
            "/orders",
            "--tiers",
            "Gold",
            "--publish",
        ],
        &[],
    );
    cli(&["app", "create", "shop", "--token-type", "JWT"], &[]);
    cli(
        &[
            "sub",
            "create",
            "--app",
            "shop",
            "--api",
            "Orders:1.0.0",
            "--tier",
            "Gold",
        ],
        &[],
    );
    // The control plane makes the OAuth client at the key manager, over TLS verified by
    // the API-M node's client-truststore.jks.
    let keys = json(&cli(
        &[
            "app",
            "keys",
            "generate",
            "shop",
            "--key-type",
            "PRODUCTION",
            "-o",
            "json",
        ],
        &[],
    ));
    let consumer_key = keys["consumerKey"].as_str().unwrap().to_owned();
    let consumer_secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    // ... and asks it for a token the same way.
    let through_control = cli(
        &["app", "token", "shop"],
        &[("KEYGATE_CONSUMER_SECRET", &consumer_secret)],
    );
    assert_eq!(through_control.trim().split('.').count(), 3, "a JWT");

    // A client of the key manager trusts its certificate, made for its host name.
    let km_ca = good
        .join("key-manager/wso2carbon.crt")
        .display()
        .to_string();
    let (status, token) = curl(&[
        "--cacert",
        &km_ca,
        "-u",
        &format!("{consumer_key}:{consumer_secret}"),
        "-d",
        "grant_type=client_credentials",
        &format!("https://{KM_HOST}:{km_port}/oauth2/token"),
    ]);
    assert_eq!(status, 200, "{token}");
    let jwt = json(&token)["access_token"].as_str().unwrap().to_owned();

    // With the key manager gone, its JWT is still verified: the gateway holds its
    // certificate (gateway_certificate_alias), it never needed the JWK Set.
    drop(key_manager);
    let url = format!(
        "http://{APIM_HOST}:{}/orders/1.0.0/orders",
        8280 + apim_offset
    );
    let bearer = format!("Authorization: Bearer {jwt}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body) = curl(&["-H", &bearer, &url]);
        if status == 200 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "{body}");
    let received = backend.last().unwrap();
    assert_eq!(received.path, "/backend/orders");
    assert!(received.header("x-jwt-assertion").is_some());
    drop(api_manager);
}

#[test]
fn a_certificate_made_for_localhost_under_another_host_name_is_a_hostname_mismatch() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    // WSO2's default: every certificate made for localhost, trusted both ways.
    certs(&local, "localhost", "localhost");
    let shared = dir.path().join("db");
    std::fs::create_dir_all(&shared).unwrap();
    let km_offset = free_offset();
    let km_config = key_manager_config(&local.join("key-manager"), &shared, km_offset);
    let _key_manager = Piped::start("key manager", keygate_server(&km_config), START_WAIT);

    let apim_config = api_manager_config(
        &local.join("api-manager"),
        &shared,
        free_offset(),
        9443 + km_offset,
    );
    let (status, logs) = Piped::spawn("API-M node", keygate_server(&apim_config)).exit(START_WAIT);
    assert!(!status.success(), "exits non-zero; logs:\n{logs}");
    for needed in [
        "hostname mismatch",
        "CN=localhost",
        "names: localhost",
        &format!("not valid for {KM_HOST}"),
        &format!("deploy/seed/certs.sh OUTDIR {KM_HOST}"),
    ] {
        assert!(logs.contains(needed), "{needed:?} missing from:\n{logs}");
    }
}
