//! The OpenAPI document against the router and the checked-in file: every documented
//! operation is routed, every route and method is documented, the document is served
//! without credentials, and `docs/openapi.json` is what the server serves
//! (`KEYGATE_UPDATE_OPENAPI=1` rewrites the file from the server).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::{Fixture, Kind, fixture};
use keygate_control::ControlPlane;
use keygate_control::openapi::{OPENAPI_PATH, OPERATIONS};
use serde_json::Value;
use std::path::PathBuf;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `path` with every parameter given a value.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{keyType}" => "PRODUCTION",
            "{name}" => "apis",
            s if s.starts_with('{') => "no-such-id",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a handler for `method` on `path`: it answers neither 405 nor
/// its own empty 404.
async fn routed(f: &Fixture, method: &str, path: &str) -> bool {
    let method = method.to_ascii_uppercase();
    let (status, body) = f.call_as(None, &method, &concrete(path), None).await;
    status != StatusCode::METHOD_NOT_ALLOWED && !(status == StatusCode::NOT_FOUND && body.is_null())
}

fn documented(method: &str, path: &str) -> bool {
    OPERATIONS
        .iter()
        .any(|o| o.path == path && o.method.eq_ignore_ascii_case(method))
}

#[tokio::test]
async fn the_document_and_the_router_agree_both_ways() {
    let f = fixture(Kind::Sqlite).await.unwrap();
    for o in OPERATIONS {
        assert!(
            routed(&f, o.method, o.path).await,
            "{} {} is documented but not routed",
            o.method,
            o.path
        );
    }
    let paths = ControlPlane::route_paths();
    for path in &paths {
        if path == OPENAPI_PATH {
            continue;
        }
        for method in METHODS {
            assert_eq!(
                routed(&f, method, path).await,
                documented(method, path),
                "{method} {path}: routed and documented disagree"
            );
        }
    }
    for o in OPERATIONS {
        assert!(paths.iter().any(|p| p == o.path), "{}", o.path);
    }
    f.finish().await;
}

#[tokio::test]
async fn the_checked_in_document_is_what_the_server_serves() {
    let f = fixture(Kind::Sqlite).await.unwrap();
    let (status, served) = f.call_as(None, "GET", OPENAPI_PATH, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["openapi"], "3.0.3");
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var("KEYGATE_UPDATE_OPENAPI").as_deref() == Ok("1") {
        let mut text = serde_json::to_string_pretty(&served).unwrap();
        text.push('\n');
        std::fs::write(&file, text).unwrap();
    }
    let text = std::fs::read_to_string(&file)
        .expect("docs/openapi.json exists (KEYGATE_UPDATE_OPENAPI=1 writes it)");
    let checked_in: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        checked_in, served,
        "docs/openapi.json is stale: rerun with KEYGATE_UPDATE_OPENAPI=1"
    );
    f.finish().await;
}
