//! What the gateway answers when a call cannot go through, on a node running every role:
//! DESIGN §7's codes provoked through real APIs, applications and tokens, bad tokens of
//! every kind answered 401 (never 500), limits on headers and bodies, a backend that is
//! down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway_support::Fixture;
use keygate_model::{BlockCondition, BlockConditionType, SubscriptionStatus, Tenant};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn assert_code(status: reqwest::StatusCode, body: &Value, want_status: u16, code: u32) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].is_string() && body["description"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn design_codes_are_answered_for_tokens_subscriptions_scopes_and_routes() {
    let f = Fixture::start("").await;
    let (_, keys) = f
        .subscribed(
            "/shop",
            json!([
                {"target": "/items", "verb": "GET"},
                {"target": "/orders", "verb": "GET", "authType": "Application User"},
                {"target": "/admin", "verb": "GET", "scopes": ["shop:admin"]},
                {"target": "/open", "verb": "GET", "authType": "None"},
            ]),
            "JWT",
        )
        .await;
    let other = f
        .publish_api("other", "/other", json!([{"target": "/*", "verb": "GET"}]))
        .await;
    let token = f.token(&keys).await;
    f.call_until("/shop/1.0.0/items", Some(&token), 200).await;
    f.call_until("/other/1.0.0/x", Some(&token), 403).await;
    let _ = other;

    let (status, body) = f.call("/shop/1.0.0/items", None).await;
    assert_code(status, &body, 401, 900_902);
    let (status, body) = f.call("/shop/1.0.0/items", Some("not-a-token")).await;
    assert_code(status, &body, 401, 900_901);
    let (status, body) = f.call("/shop/1.0.0/orders", Some(&token)).await;
    assert_code(status, &body, 401, 900_905);
    let (status, body) = f.call("/shop/1.0.0/nothing-here", Some(&token)).await;
    assert_code(status, &body, 403, 900_906);
    let (status, body) = f.call("/other/1.0.0/x", Some(&token)).await;
    assert_code(status, &body, 403, 900_908);
    let (status, body) = f.call("/shop/1.0.0/admin", Some(&token)).await;
    assert_code(status, &body, 403, 900_910);
    let (status, body) = f.call("/nowhere/1.0.0/x", Some(&token)).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = f.call("/shop/1.0.0/open", None).await;
    assert_eq!(
        status, 200,
        "a resource without authentication needs no token"
    );

    // A 401 tells the client how to authenticate.
    let response = f
        .node
        .client
        .get(f.gateway("/shop/1.0.0/items"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    f.node.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_never_500() {
    let f = Fixture::start("").await;
    let (_, _, token) = f.ready("/safe", "JWT").await;
    let parts: Vec<&str> = token.split('.').collect();
    let header = |alg: &str| URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#));
    let bad = [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        token[..token.len() - 12].to_owned(),
        format!("{}.{}.", header("none"), parts[1]),
        format!(
            "{}.{}.{}",
            header("HS256"),
            parts[1],
            URL_SAFE_NO_PAD.encode([7u8; 32])
        ),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode([0u8; 256])
        ),
        format!("{}.{}", parts[0], parts[1]),
        "é".repeat(40),
    ];
    for candidate in bad {
        let (status, body) = f.call("/safe/1.0.0/x", Some(&candidate)).await;
        assert_eq!(status, 401, "{candidate}: {body}");
        assert!(
            matches!(body["code"].as_u64(), Some(900_901 | 900_902)),
            "{body}"
        );
    }
    f.node.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_900903() {
    let f = Fixture::start("").await;
    let (_, keys) = f
        .subscribed_as(
            "/brief",
            json!([{"target": "/*", "verb": "GET"}]),
            "JWT",
            "Unlimited",
            json!({"ext_application_token_lifetime": 1}),
        )
        .await;
    let token = f.token(&keys).await;
    let claims = gateway_support::jwt_claims(&token);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime <= 1, "{claims}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = f.call("/brief/1.0.0/x", Some(&token)).await;
    assert_code(status, &body, 401, 900_903);
    f.node.stop().await;
}

#[tokio::test]
async fn an_application_over_its_quota_gets_429_with_retry_after() {
    let f = Fixture::start("").await;
    let (_, keys) = f
        .subscribed_as(
            "/quota",
            json!([{"target": "/*", "verb": "GET"}]),
            "JWT",
            "10PerMin",
            json!({}),
        )
        .await;
    let token = f.token(&keys).await;
    f.call_until("/quota/1.0.0/x", Some(&token), 200).await;
    let mut throttled = None;
    for _ in 0..20 {
        let response = f
            .node
            .client
            .get(f.gateway("/quota/1.0.0/x"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            let retry = response.headers().get("retry-after").cloned();
            throttled = Some((retry, response.json::<Value>().await.unwrap()));
            break;
        }
    }
    let (retry, body) = throttled.expect("throttled within 20 calls of a 10 per minute tier");
    assert!(retry.is_some());
    let code = body["code"].as_u64().unwrap();
    assert!((900_800..=900_806).contains(&code), "{body}");
    f.node.stop().await;
}

#[tokio::test]
async fn oversized_requests_and_a_dead_backend_have_their_answers() {
    let f = Fixture::start("").await;
    let (_, keys) = f
        .subscribed(
            "/big",
            json!([{"target": "/*", "verb": "POST"}, {"target": "/*", "verb": "GET"}]),
            "JWT",
        )
        .await;
    let token = f.token(&keys).await;
    f.call_until("/big/1.0.0/x", Some(&token), 200).await;

    let response = f
        .node
        .client
        .get(f.gateway("/big/1.0.0/x"))
        .bearer_auth(&token)
        .header("X-Padding", "p".repeat(70 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);

    // A body announced larger than the limit is refused before it is read.
    let addr = f.gateway("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /big/1.0.0/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A backend nobody listens on: 502 with WSO2's code for a refused connection.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let api = f
        .publish_api_to(
            "dead",
            "/dead",
            &dead,
            json!([{"target": "/*", "verb": "GET"}]),
        )
        .await;
    f.subscribe(&keys.application, &api).await;
    let body = f.call_until("/dead/1.0.0/x", Some(&token), 502).await;
    assert_eq!(body["code"], 101_503, "{body}");
    f.node.stop().await;
}

#[tokio::test]
async fn an_inactive_subscription_and_a_deny_condition_reach_the_gateway() {
    let f = Fixture::start("").await;
    let (api, _, token) = f.ready("/held", "JWT").await;
    let stores = f.node.node.stores();

    // Subscription put on hold (an approval workflow would), through the store: the
    // change outbox carries it to the gateway like any other write.
    let subscription = stores
        .subscriptions()
        .list_subscriptions(&Tenant::default(), keygate_store::Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.api_uuid == api)
        .unwrap();
    stores
        .subscriptions()
        .set_subscription_status(&subscription.uuid, SubscriptionStatus::OnHold, 1)
        .await
        .unwrap();
    let body = f.call_until("/held/1.0.0/x", Some(&token), 401).await;
    assert_eq!(body["code"], 900_909, "{body}");
    stores
        .subscriptions()
        .set_subscription_status(&subscription.uuid, SubscriptionStatus::Unblocked, 2)
        .await
        .unwrap();
    f.call_until("/held/1.0.0/x", Some(&token), 200).await;

    // A deny condition on the API's context.
    stores
        .block_conditions()
        .create_block_condition(&BlockCondition {
            uuid: "deny-held".into(),
            tenant: Tenant::default(),
            condition_type: BlockConditionType::Api,
            value: "/held/1.0.0".into(),
            enabled: true,
        })
        .await
        .unwrap();
    let body = f.call_until("/held/1.0.0/x", Some(&token), 403).await;
    assert_eq!(body["code"], 900_805, "{body}");
    f.node.stop().await;
}

#[tokio::test]
async fn a_slow_backend_is_504_within_the_configured_timeout() {
    let f = Fixture::start("[gateway]\nbackend_response_timeout = \"500ms\"\n").await;
    let (_, _, token) = f.ready("/slow", "JWT").await;
    f.backend.set_delay(Duration::from_secs(5));
    let started = std::time::Instant::now();
    let (status, body) = f.call("/slow/1.0.0/x", Some(&token)).await;
    let waited = started.elapsed();
    assert_code(status, &body, 504, 101_504);
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "answered after {waited:?}"
    );
    f.node.stop().await;
}
