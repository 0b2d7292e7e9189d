use super::*;

#[test]
fn host_header_is_host_and_port_without_credentials() {
    let plain: Authority = "backend.example:8080".parse().unwrap();
    assert_eq!(host_header(&plain).unwrap(), "backend.example:8080");
    let with_userinfo: Authority = "svc:s3cret@backend.example:8080".parse().unwrap();
    assert_eq!(host_header(&with_userinfo).unwrap(), "backend.example:8080");
    let v6: Authority = "[::1]:9000".parse().unwrap();
    assert_eq!(host_header(&v6).unwrap(), "[::1]:9000");
}

#[test]
fn a_request_with_a_host_keeps_it() {
    let mut request = Request::new(Body::empty());
    request
        .headers_mut()
        .insert(header::HOST, HeaderValue::from_static("api.example"));
    ensure_host(&mut request, &HeaderValue::from_static("backend:80"));
    assert_eq!(request.headers()[header::HOST], "api.example");
    let mut bare = Request::new(Body::empty());
    ensure_host(&mut bare, &HeaderValue::from_static("backend:80"));
    assert_eq!(bare.headers()[header::HOST], "backend:80");
}
