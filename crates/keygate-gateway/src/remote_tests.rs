//! The remote clients against a small local service.

use super::*;
use crate::proxy::ProxySettings;
use axum::Json;
use axum::routing::{get, post};
use serde_json::{Value, json};

const EXPECTED_AUTH: &str = "Basic Z2F0ZXdheTpzM2NyZXQ="; // gateway:s3cret

async fn service() -> String {
    let app = axum::Router::new()
        .route(
            "/services/key-validation/v1/validate",
            post(
                |headers: http::HeaderMap, Json(body): Json<Value>| async move {
                    if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
                        != Some(EXPECTED_AUTH)
                    {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    let authorized = body["token"] == "good-token";
                    (
                        StatusCode::OK,
                        Json(json!({
                            "authorized": authorized,
                            "validation_status": if authorized { 0 } else { 900_901 },
                            "key_type": "PRODUCTION",
                            "consumer_key": "ck",
                            "application_name": body["context"],
                        })),
                    )
                },
            ),
        )
        .route(
            "/keymanager-operations/user-info/claims",
            post(
                |headers: http::HeaderMap, Json(body): Json<Value>| async move {
                    if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
                        != Some(EXPECTED_AUTH)
                    {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    if body["username"] != "alice@carbon.super" {
                        return (StatusCode::NOT_FOUND, Json(json!({})));
                    }
                    (
                        StatusCode::OK,
                        Json(json!({"count": 2, "list": [
                            {"uri": "http://wso2.org/claims/emailaddress", "value": "alice@example.com"},
                            {"uri": "http://wso2.org/claims/role", "value": "admin,shop"},
                        ]})),
                    )
                },
            ),
        )
        .route(
            "/internal/data/v1/snapshot",
            get(|| async { Json(json!({"revision": 42, "apis": []})) }),
        )
        .route(
            "/oauth2/token",
            post(|headers: http::HeaderMap, body: String| async move {
                let auth = headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                Json(json!({"body": body, "authorization": auth}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/services/")
}

fn remote(url: &str, password: Option<&str>) -> RemoteService {
    let client = UpstreamClient::new(&ProxySettings::default(), &[]).unwrap();
    let secret = password.map(Secret::new);
    RemoteService::new(client, url, "gateway", secret.as_ref()).unwrap()
}

fn question(token: &str) -> KeyValidationRequest {
    KeyValidationRequest {
        context: "/pets/1.0.0".into(),
        version: "1.0.0".into(),
        token: Secret::new(token),
        required_auth_level: "Any".into(),
        matching_resource: "/*".into(),
        http_verb: "GET".into(),
        client_ip: None,
    }
}

#[tokio::test]
async fn key_validation_is_asked_with_basic_auth_and_read() {
    let url = service().await;
    let validator = HttpKeyValidator::new(remote(&url, Some("s3cret")));
    let info = validator.validate(&question("good-token")).await.unwrap();
    assert!(info.authorized);
    assert_eq!(info.consumer_key.as_deref(), Some("ck"));
    assert_eq!(info.application_name.as_deref(), Some("/pets/1.0.0"));
    let refused = validator.validate(&question("bad")).await.unwrap();
    assert!(!refused.authorized);
    assert_eq!(refused.validation_status, 900_901);

    let wrong = HttpKeyValidator::new(remote(&url, Some("nope")));
    let error = wrong.validate(&question("good-token")).await.unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert!(!error.to_string().contains("nope"));
}

#[tokio::test]
async fn an_unreachable_key_manager_is_an_error_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let validator = HttpKeyValidator::new(remote(&format!("http://{addr}/services/"), None));
    assert!(validator.validate(&question("t")).await.is_err());
}

#[tokio::test]
async fn snapshots_are_read_from_the_origin() {
    let url = service().await;
    let source = HttpSnapshotSource::new(remote(&url, Some("s3cret")));
    assert_eq!(source.snapshot().await.unwrap().revision, 42);
}

#[tokio::test]
async fn user_claims_are_asked_of_the_key_manager_with_basic_auth() {
    let url = service().await;
    let source = HttpUserClaims::new(remote(&url, Some("s3cret")));
    let claims = source.claims("alice@carbon.super").await.unwrap();
    assert_eq!(
        claims
            .get("http://wso2.org/claims/emailaddress")
            .map(String::as_str),
        Some("alice@example.com")
    );
    assert_eq!(
        claims
            .get("http://wso2.org/claims/role")
            .map(String::as_str),
        Some("admin,shop")
    );
    let unknown = source.claims("bob@carbon.super").await.unwrap_err();
    assert!(unknown.to_string().contains("404"), "{unknown}");
    let wrong = HttpUserClaims::new(remote(&url, Some("nope")));
    let error = wrong.claims("alice@carbon.super").await.unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert!(!error.to_string().contains("nope"));
}

#[tokio::test]
async fn forwarding_keeps_headers_body_and_query() {
    let url = service().await;
    let service = remote(&url, None);
    let request = Request::post("http://gateway.example/token?x=1")
        .header(AUTHORIZATION, "Basic Y2s6Y3M=")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("connection", "close")
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    let response = service.forward(request, "/oauth2/token").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["body"], "grant_type=client_credentials");
    assert_eq!(body["authorization"], "Basic Y2s6Y3M=");
}

#[test]
fn service_urls_must_be_http() {
    let client = UpstreamClient::new(&ProxySettings::default(), &[]).unwrap();
    assert!(RemoteService::new(client.clone(), "ftp://x/", "u", None).is_err());
    assert!(RemoteService::new(client.clone(), "not a url", "u", None).is_err());
    let ok = RemoteService::new(client, "https://km:9443/services", "u", None).unwrap();
    assert_eq!(ok.origin(), "https://km:9443");
}
