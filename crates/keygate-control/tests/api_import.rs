//! `POST /api/am/publisher/v1/apis/import-openapi` through HTTP on SQLite, PostgreSQL and
//! MariaDB: a definition becomes an API with a resource per path and verb and the scopes
//! of its `security`; a bad definition is 400 naming the member; a subscriber may not
//! import; a taken context and version is 409.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::Fixture;
use serde_json::{Value, json};

on_all_backends!(an_openapi_definition_becomes_an_api);

const IMPORT: &str = "/api/am/publisher/v1/apis/import-openapi";

fn definition() -> Value {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "Pet Store", "version": "1.0.0"},
        "servers": [{"url": "https://pets.example/v1"}],
        "paths": {
            "/pets": {
                "get": {"security": [{"default": ["pets:read"]}]},
                "post": {"security": [{"default": ["pets:write"]}]}
            },
            "/pets/{petId}": {"get": {"security": []}, "delete": {}}
        }
    })
}

async fn an_openapi_definition_becomes_an_api(f: &Fixture) {
    let request = json!({
        "definition": definition(),
        // apictl sends the properties as JSON text.
        "additionalProperties": json!({"name": "Pets", "context": "/pets", "version": "2.0.0",
            "policies": ["Gold"]}).to_string(),
    });
    let (status, created) = f.call("alice", "POST", IMPORT, Some(request.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Pets");
    assert_eq!(created["context"], "/pets");
    assert_eq!(created["version"], "2.0.0");
    assert_eq!(created["policies"], json!(["Gold"]));
    assert_eq!(
        created["endpointConfig"]["production_endpoints"]["url"],
        "https://pets.example/v1"
    );
    let id = created["id"].as_str().unwrap();
    let (status, stored) = f
        .call(
            "alice",
            "GET",
            &format!("/api/am/publisher/v1/apis/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut resources: Vec<(String, String, String, String)> = stored["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["verb"].as_str().unwrap().to_owned(),
                o["target"].as_str().unwrap().to_owned(),
                o["authType"].as_str().unwrap().to_owned(),
                o["scopes"].to_string(),
            )
        })
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        vec![
            (
                "DELETE".into(),
                "/pets/{petId}".into(),
                "Any".into(),
                json!([]).to_string()
            ),
            (
                "GET".into(),
                "/pets".into(),
                "Any".into(),
                json!(["pets:read"]).to_string()
            ),
            (
                "GET".into(),
                "/pets/{petId}".into(),
                "None".into(),
                json!([]).to_string()
            ),
            (
                "POST".into(),
                "/pets".into(),
                "Any".into(),
                json!(["pets:write"]).to_string()
            ),
        ]
    );

    // The same context and version again: 409.
    let (status, _) = f.call("alice", "POST", IMPORT, Some(request)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Defaults from the definition, the definition as text.
    let (status, created) = f
        .call(
            "alice",
            "POST",
            IMPORT,
            Some(json!({"definition": definition().to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["context"], "/pet-store");
    assert_eq!(created["version"], "1.0.0");

    // A subscriber cannot create APIs.
    let (status, _) = f
        .call(
            "bob",
            "POST",
            IMPORT,
            Some(json!({"definition": definition()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad definitions name the member.
    let mut no_title = definition();
    no_title["info"].as_object_mut().unwrap().remove("title");
    let mut bad_path = definition();
    bad_path["paths"]["pets"] = json!({"get": {}});
    let mut unknown_tier = definition();
    unknown_tier["info"]["title"] = json!("Other");
    for (body, field) in [
        (json!({}), "definition"),
        (json!({"definition": {"info": {}}}), "definition.openapi"),
        (json!({"definition": no_title}), "definition.info.title"),
        (json!({"definition": bad_path}), "definition.paths.pets"),
        (json!({"definition": "title: yaml"}), "definition"),
        (
            json!({"definition": unknown_tier, "additionalProperties": {"policies": ["Nope"]}}),
            "policies[0]",
        ),
        (
            json!({"definition": definition(), "additionalProperties": {"context": "no-slash"}}),
            "context",
        ),
    ] {
        let (status, answer) = f.call("alice", "POST", IMPORT, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let fields: Vec<&str> = answer["error"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {answer}");
    }
}
