//! Property-based fuzzing of the served OpenAPI document with schemathesis (PyPI), as CI
//! runs it: a control plane with a real key manager on SQLite, served on an ephemeral
//! port, every operation called with generated input as an administrator; no answer may
//! be a server error. Ignored by default (it takes minutes and needs `schemathesis` on
//! the PATH): `cargo test -p keygate-control --test schemathesis -- --ignored`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::key_manager::KmServer;
use common::{Kind, PASSWORD, fixture};
use keygate_control::openapi::OPENAPI_PATH;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs schemathesis for minutes"]
async fn schemathesis_finds_no_server_error() {
    let tool = std::env::var("KEYGATE_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    if std::process::Command::new(&tool)
        .arg("--version")
        .output()
        .is_err()
    {
        if std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{tool} is not installed");
        }
        eprintln!("SKIPPED: schemathesis not installed ({tool})");
        return;
    }
    let mut f = fixture(Kind::Sqlite).await.unwrap();
    let _km = KmServer::start_for(&mut f).await;
    let api = f.create_api("Pets", "/pets").await;
    f.lifecycle(&api, "Publish").await;
    let app = f.create_app("root", "Fuzzed").await;
    f.subscribe("root", &app, &api, "Gold").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = f.control.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    let examples = std::env::var("KEYGATE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let report = std::env::temp_dir().join(format!("keygate-schemathesis-{}", std::process::id()));
    let args = vec![
        "run".to_owned(),
        format!("{base}{OPENAPI_PATH}"),
        "--auth".to_owned(),
        format!("root:{PASSWORD}"),
        "--checks".to_owned(),
        "not_a_server_error".to_owned(),
        "--max-examples".to_owned(),
        examples,
        "--seed".to_owned(),
        "1".to_owned(),
        "--workers".to_owned(),
        "2".to_owned(),
        "--report-dir".to_owned(),
        report.display().to_string(),
    ];
    std::fs::create_dir_all(&report).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        // Its cache goes to the working directory: the report's, not the source tree.
        std::process::Command::new(tool)
            .args(&args)
            .current_dir(&report)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found failures");
    f.finish().await;
}
