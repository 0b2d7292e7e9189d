use super::*;
use std::time::Instant;

#[test]
fn endpoints_join_base_path_remainder_and_query() {
    let endpoint = BackendEndpoint::parse("http://127.0.0.1:8080/v1/").unwrap();
    assert_eq!(endpoint.base_path(), "/v1");
    let uri = endpoint.uri_for("/items/3", Some("a=1&b=2")).unwrap();
    assert_eq!(uri.to_string(), "http://127.0.0.1:8080/v1/items/3?a=1&b=2");
    assert_eq!(endpoint.uri_for("/", None).unwrap().path(), "/v1");
    let root = BackendEndpoint::parse("https://backend.example").unwrap();
    assert_eq!(
        root.uri_for("/", None).unwrap().to_string(),
        "https://backend.example/"
    );
    assert_eq!(root.uri_for("/x", None).unwrap().path(), "/x");
    for bad in ["ftp://host/", "/relative", "not a url", "http://"] {
        assert!(BackendEndpoint::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn hop_by_hop_headers_never_cross_the_gateway() {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, "keep-alive, x-private".parse().unwrap());
    headers.insert("keep-alive", "timeout=5".parse().unwrap());
    headers.insert("x-private", "1".parse().unwrap());
    headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
    headers.insert(header::UPGRADE, "h2c".parse().unwrap());
    headers.insert("proxy-authorization", "Basic x".parse().unwrap());
    headers.insert("x-kept", "yes".parse().unwrap());
    remove_hop_by_hop(&mut headers);
    let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["x-kept"]);
}

#[test]
fn forwarded_headers_are_set_and_credentials_dropped() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, "gw.example:8243".parse().unwrap());
    headers.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
    headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
    let host = headers.get(header::HOST).cloned();
    upstream_headers(
        &mut headers,
        host,
        Forwarded {
            client_ip: "192.0.2.1".parse().ok(),
            tls: true,
        },
        Some(&header::AUTHORIZATION),
    );
    assert!(headers.get(header::AUTHORIZATION).is_none());
    assert!(headers.get(header::HOST).is_none());
    assert_eq!(headers["x-forwarded-for"], "198.51.100.7, 192.0.2.1");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-host"], "gw.example:8243");

    let mut kept = HeaderMap::new();
    kept.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
    upstream_headers(
        &mut kept,
        None,
        Forwarded {
            client_ip: None,
            tls: false,
        },
        None,
    );
    assert_eq!(kept[header::AUTHORIZATION], "Bearer t");
    assert_eq!(kept["x-forwarded-proto"], "http");
    assert!(kept.get("x-forwarded-for").is_none());
}

fn client(response_timeout: Duration) -> UpstreamClient {
    UpstreamClient::new(
        &ProxySettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout,
            ..ProxySettings::default()
        },
        &[],
    )
    .unwrap()
}

fn request(method: Method, uri: String) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_502_and_safe_to_retry() {
    // Bind and drop, so the port is almost surely closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = client(Duration::from_secs(5))
        .send(request(Method::POST, format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err();
    assert_eq!(error.failure, UpstreamFailure::ConnectFailed);
    assert!(error.retry_safe, "nothing was sent");
    assert_eq!(
        GatewayError::from(error).status(),
        http::StatusCode::BAD_GATEWAY
    );
}

#[tokio::test]
async fn a_silent_backend_is_504_within_the_response_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let started = Instant::now();
    let error = client(Duration::from_millis(300))
        .send(request(Method::GET, format!("http://{addr}/slow")))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(error.failure, UpstreamFailure::ResponseTimeout);
    assert!(error.retry_safe, "GET without a body may be sent again");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let error = client(Duration::from_millis(100))
        .send(request(Method::POST, format!("http://{addr}/slow")))
        .await
        .unwrap_err();
    assert!(!error.retry_safe, "a POST may have been acted on");
    assert_eq!(
        GatewayError::from(error).status(),
        http::StatusCode::GATEWAY_TIMEOUT
    );
    held.abort();
}

#[tokio::test]
async fn a_backend_that_hangs_up_is_101505() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            drop(stream);
        }
    });
    let error = client(Duration::from_secs(5))
        .send(request(Method::GET, format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert_eq!(error.failure, UpstreamFailure::ConnectionClosed);
    assert_eq!(GatewayError::from(error).code(), 101_505);
    closer.abort();
}

#[test]
fn tls_configuration_accepts_truststore_certificates() {
    let cert = rcgen::generate_simple_self_signed(vec!["backend.example".into()]).unwrap();
    assert!(client_tls_config(&[cert.cert.der().clone()]).is_ok());
}
