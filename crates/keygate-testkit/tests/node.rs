//! A node started with embedded defaults: health, readiness, metrics, TLS, the super
//! admin's one-time password, restarts over the same data directory, and ports in use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use keygate_config::Config;
use keygate_server::{ListenerKind, ServerError, ServerOptions};
use keygate_testkit::TestNode;
use std::net::{IpAddr, Ipv4Addr};

#[tokio::test]
async fn every_listener_answers_health_and_metrics() {
    let node = TestNode::start().await.unwrap();
    for kind in [
        ListenerKind::Management,
        ListenerKind::GatewayHttps,
        ListenerKind::GatewayHttp,
    ] {
        let live = node
            .client
            .get(node.url(kind, "/health/live").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200, "{kind:?} live");
        let ready = node
            .client
            .get(node.url(kind, "/health/ready").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200, "{kind:?} ready");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["storage"], "UP");
    }
    let metrics = node
        .client
        .get(node.management("/metrics").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("keygate_http_requests_total"),
        "metrics lacked the request counter:\n{metrics}"
    );
    node.stop().await;
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let node = TestNode::start().await.unwrap();
    let response = node
        .client
        .get(node.management("/no/such/thing").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Not Found");
    node.stop().await;
}

#[tokio::test]
async fn management_listener_speaks_tls_and_http2() {
    let node = TestNode::start().await.unwrap();
    let response = node
        .client
        .get(node.management("/health/live").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    // The same port refuses clear HTTP: the listener is TLS only.
    let clear = node
        .management("/health/live")
        .unwrap()
        .replace("https://", "http://");
    let outcome = node.client.get(clear).send().await;
    assert!(
        outcome.is_err() || !outcome.unwrap().status().is_success(),
        "management listener answered clear HTTP"
    );
    node.stop().await;
}

#[tokio::test]
async fn admin_password_is_generated_once_and_works() {
    let mut first = TestNode::start().await.unwrap();
    let admin = first.node.admin.clone().expect("admin bootstrap");
    assert_eq!(admin.username, "admin");
    assert!(admin.created);
    let password = admin.generated_password.expect("a generated password");
    assert!(password.expose().len() >= 20);
    let users = first.node.stores().users();
    let user = users
        .authenticate("admin", &password)
        .await
        .unwrap()
        .expect("admin authenticates with the printed password");
    assert_eq!(user.username, "admin");
    assert!(
        users
            .authenticate("admin", &keygate_model::Secret::new("wrong"))
            .await
            .unwrap()
            .is_none()
    );
    let dir = first.keep_data_dir().unwrap();
    first.stop().await;

    // Second start over the same data: nothing created, nothing printed.
    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().to_path_buf());
    let second = TestNode::start_with(config).await.unwrap();
    let admin = second.node.admin.clone().expect("admin bootstrap");
    assert!(!admin.created);
    assert!(admin.generated_password.is_none());
    second.stop().await;
}

#[tokio::test]
async fn self_signed_certificate_is_made_once_and_reused() {
    let mut first = TestNode::start().await.unwrap();
    let dir = first.keep_data_dir().unwrap();
    let (cert, _) = keygate_server::tls::self_signed_paths(dir.path(), "localhost");
    let before = std::fs::read(&cert).unwrap();
    first.stop().await;
    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().to_path_buf());
    let second = TestNode::start_with(config).await.unwrap();
    assert_eq!(std::fs::read(&cert).unwrap(), before);
    second.stop().await;
}

#[tokio::test]
async fn a_port_in_use_fails_start_with_the_listener_named() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().to_path_buf());
    config.ports.gateway_http = port;
    // Keep the other listeners off well-known ports.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    config.ports.management_https = free();
    config.ports.gateway_https = free();
    let management = config.ports.management_https;
    let options = ServerOptions {
        config,
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ephemeral_ports: false,
    };
    let error = match keygate_server::start(options).await {
        Ok(_) => panic!("start succeeded with its port taken"),
        Err(error) => error,
    };
    assert!(
        matches!(
            error,
            ServerError::Bind {
                listener: "gateway-http",
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(&port.to_string()), "{message}");
    assert!(message.contains("gateway-http"), "{message}");
    // No partial start: the management port bound before the failure is free again.
    std::net::TcpListener::bind(("127.0.0.1", management)).expect("management port released");
}

#[tokio::test]
async fn shutdown_drains_and_releases_ports() {
    let node = TestNode::start().await.unwrap();
    let addr = node.node.addr(ListenerKind::GatewayHttp).unwrap();
    node.stop().await;
    std::net::TcpListener::bind(addr).expect("port released after shutdown");
}

#[tokio::test]
async fn a_database_from_a_newer_keygate_is_refused_unchanged() {
    use sqlx::Connection;
    let mut first = TestNode::start().await.unwrap();
    let dir = first.keep_data_dir().unwrap();
    first.stop().await;
    let db = dir.path().join("apim.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO kg_schema_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let schema = "SELECT group_concat(sql, ';') FROM sqlite_master";
    let before: String = sqlx::query_scalar(schema)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().to_path_buf());
    let message = match TestNode::start_with(config).await {
        Ok(_) => panic!("started on a database from a newer keygate"),
        Err(error) => format!("{error:#}"),
    };
    assert!(message.contains("9999"), "{message}");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let after: String = sqlx::query_scalar(schema)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(after, before, "schema changed");
}
