//! The Developer Portal's API catalogue on SQLite, PostgreSQL and MariaDB: only APIs a
//! subscriber may subscribe to are listed or readable, deprecated ones only to their
//! existing subscribers, with the text filter, paging and bad input answered by field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::Fixture;
use serde_json::Value;

on_all_backends!(portal_lists_only_subscribable_apis);

const LIST: &str = "/api/am/devportal/v1/apis";

fn names(body: &Value) -> Vec<&str> {
    body["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|api| api["name"].as_str().unwrap())
        .collect()
}

async fn portal_lists_only_subscribable_apis(f: &Fixture) {
    let draft = f.create_api("Draft", "/draft").await;
    let pets = f.create_api("Pets", "/pets").await;
    let orders = f.create_api("Orders", "/orders").await;
    let old = f.create_api("Old", "/old").await;
    for api in [&pets, &orders, &old] {
        assert_eq!(f.lifecycle(api, "Publish").await.0, StatusCode::OK);
    }
    let bobs_app = f.create_app("bob", "bobs-app").await;
    let (status, body) = f.subscribe("bob", &bobs_app, &old, "Gold").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(f.lifecycle(&old, "Deprecate").await.0, StatusCode::OK);

    // A subscriber sees published APIs and the deprecated one they subscribe to.
    let (status, body) = f.call("bob", "GET", LIST, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["Old", "Orders", "Pets"]);
    let (_, body) = f.call("carol", "GET", LIST, None).await;
    assert_eq!(names(&body), ["Orders", "Pets"]);

    // The fields of WSO2's devportal API object.
    let (status, body) = f
        .call("carol", "GET", &format!("{LIST}/{pets}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], pets.as_str());
    assert_eq!(body["context"], "/pets");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["provider"], "alice");
    assert_eq!(body["lifeCycleStatus"], "PUBLISHED");
    assert_eq!(
        body["throttlingPolicies"],
        serde_json::json!(["Gold", "Unlimited"])
    );
    assert!(body["isDefaultVersion"].is_boolean());

    // Created, unknown and (for others) deprecated APIs are not found.
    for id in [draft.as_str(), "no-such-api"] {
        let (status, _) = f.call("bob", "GET", &format!("{LIST}/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    let (status, _) = f.call("carol", "GET", &format!("{LIST}/{old}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f.call("bob", "GET", &format!("{LIST}/{old}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lifeCycleStatus"], "DEPRECATED");

    // The text filter matches name or context; paging windows the sorted list.
    let (_, body) = f
        .call("carol", "GET", &format!("{LIST}?query=PET"), None)
        .await;
    assert_eq!(names(&body), ["Pets"]);
    let (_, body) = f
        .call("carol", "GET", &format!("{LIST}?query=/ord"), None)
        .await;
    assert_eq!(names(&body), ["Orders"]);
    let (_, body) = f
        .call("carol", "GET", &format!("{LIST}?limit=1&offset=1"), None)
        .await;
    assert_eq!(names(&body), ["Pets"]);
    assert_eq!(body["pagination"]["limit"], 1);

    // Bad paging names the field; no credentials are refused.
    let (status, body) = f
        .call("carol", "GET", &format!("{LIST}?limit=ten"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"][0]["field"], "limit", "{body}");
    let (status, _) = f.call_as(None, "GET", LIST, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
