//! Calls through a running gateway to a mock backend: what the backend receives, what the
//! caller gets back, and how changes to the replica take effect on the next call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use keygate_gateway::{ApplyOutcome, ReplicaChange};
use keygate_jose::{JwsAlgorithm, verify_compact};
use keygate_model::{RevokedToken, RevokedTokenType, SubscriptionStatus, Tenant};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_backend_gets_path_query_headers_and_a_backend_jwt() {
    let h = Harness::start().await;
    let token = user_token("read");
    let response = h
        .client
        .get(h.url("/pets/1.0.0/items/42?color=red&size=2"))
        .bearer_auth(&token)
        .header("x-custom", "kept")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-backend"], "mock");
    assert!(
        response.headers().get("x-hop").is_none(),
        "hop-by-hop removed on the way back"
    );
    let seen = h.backend.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path_and_query, "/base/items/42?color=red&size=2");
    assert_eq!(seen.headers["x-custom"], "kept");
    assert!(
        seen.headers.get("authorization").is_none(),
        "credentials stay at the gateway"
    );
    assert!(seen.headers.get("x-hop").is_none());
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(
        seen.headers["x-forwarded-host"],
        h.base.trim_start_matches("http://")
    );
    assert_eq!(seen.headers["host"], h.backend.addr.to_string());

    let assertion = seen.headers["x-jwt-assertion"].to_str().unwrap();
    let verifier = gateway_key().verifying_key().unwrap();
    let verified = verify_compact(assertion, &verifier, &[JwsAlgorithm::Rs256]).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&verified.payload_bytes).unwrap();
    let claim = |name: &str| claims[format!("http://wso2.org/claims/{name}")].clone();
    assert_eq!(claims["iss"], "wso2.org/products/am");
    assert_eq!(claim("subscriber"), "alice");
    assert_eq!(claim("applicationid"), "1");
    assert_eq!(claim("applicationname"), "app1");
    assert_eq!(claim("applicationUUId"), APP);
    assert_eq!(claim("apicontext"), "/pets/1.0.0");
    assert_eq!(claim("version"), "1.0.0");
    assert_eq!(claim("tier"), "Unlimited");
    assert_eq!(claim("keytype"), "PRODUCTION");
    assert_eq!(claim("usertype"), "APPLICATION_USER");
    assert_eq!(claim("enduser"), "bob@carbon.super");
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (exp - now_s() - 960).abs() <= 5,
        "exp = now + cache expiry + 60 s"
    );
}

#[tokio::test]
async fn the_default_version_and_the_sandbox_key_take_their_routes() {
    let h = Harness::start().await;
    let response = h.get("/pets/items", Some(&user_token(""))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(h.backend.last().path_and_query, "/base/items");

    let mut claims = user_claims("bob", "");
    claims.client_id = Some(SANDBOX_CLIENT.into());
    let response = h.get("/pets/1.0.0/items/7", Some(&sign(&claims))).await;
    assert_eq!(response.status(), 200);
    let seen = h.backend.last();
    assert_eq!(seen.path_and_query, "/sandbox/items/7");
    let assertion = seen.headers["x-jwt-assertion"].to_str().unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(assertion.split('.').nth(1).unwrap())
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["http://wso2.org/claims/keytype"], "SANDBOX");
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let h = Harness::start().await;
    let body: Vec<u8> = (0..(3 << 20)).map(|i| (i % 251) as u8).collect();
    let response = h
        .client
        .post(h.url("/pets/1.0.0/orders"))
        .bearer_auth(user_token(""))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().await.unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body);
    assert_eq!(h.backend.last().body.len(), body.len());
}

#[tokio::test]
async fn a_resource_without_authentication_needs_no_token() {
    let h = Harness::start().await;
    let response = h.get("/pets/1.0.0/public", None).await;
    assert_eq!(response.status(), 200);
    let seen = h.backend.last();
    assert!(seen.headers.get("x-jwt-assertion").is_none());
}

#[tokio::test]
async fn a_revoked_token_is_refused_from_the_moment_the_replica_has_it() {
    let h = Harness::start().await;
    let token = user_token("");
    assert_eq!(h.get("/pets/1.0.0/items", Some(&token)).await.status(), 200);
    let signature = token.rsplit('.').next().unwrap();
    let outcome = h.replica.apply_event(
        101,
        ReplicaChange::TokenRevoked(RevokedToken {
            tenant: Tenant::default(),
            signature: signature.into(),
            token_type: RevokedTokenType::JwtSignature,
            expiry_time_ms: (now_s() + 3600) * 1000,
            revoked_at_ms: now_s() * 1000,
        }),
    );
    assert_eq!(outcome, ApplyOutcome::Applied);
    let response = h.get("/pets/1.0.0/items", Some(&token)).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(code_of(response).await, (401, 900_901));
    // Another token of the same client still works.
    assert_eq!(
        h.get("/pets/1.0.0/items", Some(&user_token("x")))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_blocked_subscription_refuses_the_next_call_and_a_gap_asks_for_a_snapshot() {
    let h = Harness::start().await;
    let token = user_token("");
    assert_eq!(h.get("/pets/1.0.0/items", Some(&token)).await.status(), 200);
    let blocked = subscription("sub-1", APP, PETS, "Unlimited", SubscriptionStatus::Blocked);
    assert_eq!(
        h.replica
            .apply_event(101, ReplicaChange::SubscriptionUpserted(blocked)),
        ApplyOutcome::Applied
    );
    assert_eq!(
        code_of(h.get("/pets/1.0.0/items", Some(&token)).await).await,
        (401, 900_907)
    );

    // An event is lost: the next one asks for a snapshot and changes nothing.
    let unblocked = subscription(
        "sub-1",
        APP,
        PETS,
        "Unlimited",
        SubscriptionStatus::Unblocked,
    );
    assert_eq!(
        h.replica
            .apply_event(103, ReplicaChange::SubscriptionUpserted(unblocked.clone())),
        ApplyOutcome::NeedSnapshot {
            expected: 102,
            received: 103
        }
    );
    assert_eq!(
        code_of(h.get("/pets/1.0.0/items", Some(&token)).await)
            .await
            .1,
        900_907
    );
    // The snapshot heals it.
    let mut fresh = replica_data(&h.backend);
    fresh.revision = 103;
    assert!(h.replica.load_snapshot(fresh).is_empty());
    assert_eq!(h.get("/pets/1.0.0/items", Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn a_backend_that_is_down_is_502() {
    let h = Harness::start().await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut down = api(PETS, "/pets", &h.backend);
    down.production_endpoint = Some(format!("http://127.0.0.1:{port}/base"));
    h.replica.apply(ReplicaChange::ApiUpserted(down)).unwrap();
    let response = h.get("/pets/1.0.0/items", Some(&user_token(""))).await;
    assert_eq!(code_of(response).await, (502, 101_503));
}

#[tokio::test]
async fn a_slow_backend_is_504_within_the_configured_timeout() {
    let h = Harness::with(Options {
        response_timeout: Duration::from_millis(400),
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    let response = h.get("/pets/1.0.0/slow", Some(&user_token(""))).await;
    let waited = started.elapsed();
    assert_eq!(code_of(response).await, (504, 101_504));
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn oversized_requests_are_refused_before_anything_else() {
    let h = Harness::with(Options {
        limits: Some(keygate_gateway::RequestLimits {
            max_header_bytes: 8 * 1024,
            max_body_bytes: 1024,
        }),
        ..Options::default()
    })
    .await;
    let response = h
        .client
        .get(h.url("/pets/1.0.0/items"))
        .bearer_auth(user_token(""))
        .header("x-padding", "p".repeat(9 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(response).await, (431, 431));
    let response = h
        .client
        .post(h.url("/pets/1.0.0/orders"))
        .bearer_auth(user_token(""))
        .body(vec![0u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(response).await, (413, 413));
    assert_eq!(h.backend.count(), 0, "nothing reached the backend");
}

#[tokio::test]
async fn a_body_within_the_limit_arrives_whole_and_a_streamed_one_past_it_does_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::with(Options {
        limits: Some(keygate_gateway::RequestLimits {
            max_header_bytes: 8 * 1024,
            max_body_bytes: 1024,
        }),
        ..Options::default()
    })
    .await;
    // An announced length within the limit is forwarded as it came.
    let response = h
        .client
        .post(h.url("/pets/1.0.0/orders"))
        .bearer_auth(user_token(""))
        .body(vec![7u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(h.backend.last().body.len(), 1000);

    // No length announced: counted as it streams, and cut once past the limit.
    let addr = h.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /pets/1.0.0/orders HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        user_token("")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = [b"400\r\n".as_slice(), &[9u8; 1024], b"\r\n"].concat();
    for _ in 0..4 {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        h.backend.last().body.len() <= 1024,
        "the backend got {} bytes",
        h.backend.last().body.len()
    );
}

#[tokio::test]
async fn bad_tokens_get_their_codes_and_the_gateway_stays_up() {
    let h = Harness::start().await;
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&serde_json::json!({
            "iss": ISSUER, "sub": "bob", "client_id": CLIENT, "exp": now_s() + 600
        }))
        .unwrap(),
    );
    let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    let hs256 = format!(
        "{}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#),
        URL_SAFE_NO_PAD.encode([7u8; 32])
    );
    let mut expired = user_claims("bob", "");
    expired.exp = Some(now_s() - 5);
    let truncated = {
        let token = user_token("");
        token[..token.len() - 20].to_owned()
    };
    let cases = [
        ("garbage", "%%%not-a-token%%%".to_owned(), 900_901),
        ("three garbage segments", "a.b.c".to_owned(), 900_901),
        ("alg none", none, 900_901),
        ("HS256", hs256, 900_901),
        ("truncated", truncated, 900_901),
        ("expired", sign(&expired), 900_903),
    ];
    for (name, token, code) in cases {
        let response = h.get("/pets/1.0.0/items", Some(&token)).await;
        assert_eq!(code_of(response).await, (401, code), "{name}");
    }
    assert_eq!(
        h.get("/pets/1.0.0/items", Some(&user_token("")))
            .await
            .status(),
        200
    );
    assert_eq!(h.backend.count(), 1);
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let h = Harness::start().await;
    let response = h.get("/nowhere/1.0.0/items", Some(&user_token(""))).await;
    assert_eq!(code_of(response).await, (404, 404));
}

#[tokio::test]
async fn a_callers_own_assertion_never_reaches_the_backend() {
    for backend_jwt in [false, true] {
        let h = Harness::with(Options {
            backend_jwt,
            ..Options::default()
        })
        .await;
        let response = h
            .client
            .get(h.url("/pets/1.0.0/public"))
            .header("x-jwt-assertion", "forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(h.backend.last().headers.get("x-jwt-assertion").is_none());
        let response = h
            .client
            .get(h.url("/pets/1.0.0/items"))
            .bearer_auth(user_token(""))
            .header("x-jwt-assertion", "forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let seen = h.backend.last();
        let forwarded = seen.headers.get("x-jwt-assertion");
        assert_eq!(forwarded.is_some(), backend_jwt);
        assert_ne!(forwarded.map(|v| v.as_bytes()), Some(&b"forged"[..]));
    }
}
