//! The proxy phase: forwarding an admitted request to its backend and the answer back.
//!
//! Plain (`http://`) backends get HTTP/1.1 over kept-alive connections pooled per worker
//! thread ([`crate::pool`]: no lock and no extra task per call); TLS backends get
//! HTTP/1.1 or HTTP/2 (by ALPN) through hyper-util's pooled client over hyper-rustls, their
//! certificates checked against the WebPKI roots plus the `[truststore]` certificates.
//! Bodies stream both ways; nothing is buffered.
//!
//! The request to the backend keeps method, headers and query; its path is the
//! endpoint's base path followed by what came after the API's context. Hop-by-hop headers
//! (RFC 9110 §7.6.1) are removed both ways, `X-Forwarded-For`, `-Proto` and `-Host` are
//! set, and the caller's credentials header is dropped as WSO2 does unless
//! `enable_outbound_auth_header` keeps it.
//!
//! Failures are classified as pingora does: a connection that could not be made
//! (refused: 502, 101503; not within the connect timeout: 504, 101504) sent nothing, so it
//! is safe to retry on any method; a response that did not come within the response
//! timeout (504, 101504) or a connection that broke (502, 101505) may have been acted on,
//! so only idempotent methods without a body are safe to retry.

use crate::errors::{GatewayError, UpstreamFailure};
use crate::pool::{self, PlainPool};
use axum::body::Body;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::{Method, Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Default time allowed to open a connection to a backend.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a backend's response head after the request was sent.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time an idle pooled connection is kept.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default number of idle connections kept per backend: as many as a busy listener has
/// requests in flight to one backend, so that a burst that ends does not close connections
/// the next burst must open again.
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 512;

/// How the gateway talks to backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxySettings {
    /// Time allowed to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time allowed for the response head once the request is sent.
    pub response_timeout: Duration,
    /// How long idle pooled connections are kept.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per backend.
    pub pool_max_idle_per_host: usize,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
        }
    }
}

/// Why an endpoint URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL with an `http` or `https` scheme and a host.
    #[error("backend endpoint is not an absolute http or https URL")]
    NotHttp,
}

/// A backend endpoint, parsed once: scheme, authority and base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendEndpoint {
    scheme: Scheme,
    authority: Authority,
    /// Without a trailing slash; empty for the root.
    base_path: Box<str>,
}

impl BackendEndpoint {
    /// Parses `http://host:port/base` or `https://…`.
    pub fn parse(url: &str) -> Result<BackendEndpoint, EndpointError> {
        let uri: Uri = url.trim().parse().map_err(|_| EndpointError::NotHttp)?;
        let scheme = uri.scheme().cloned().ok_or(EndpointError::NotHttp)?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(EndpointError::NotHttp);
        }
        let authority = uri.authority().cloned().ok_or(EndpointError::NotHttp)?;
        let base_path = uri.path().trim_end_matches('/').into();
        Ok(BackendEndpoint {
            scheme,
            authority,
            base_path,
        })
    }

    /// The base path, without a trailing slash.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The URI of a call: base path, then `remainder` (starting with `/`), then `query`.
    pub fn uri_for(&self, remainder: &str, query: Option<&str>) -> Result<Uri, GatewayError> {
        let remainder = if remainder == "/" && !self.base_path.is_empty() {
            ""
        } else {
            remainder
        };
        let mut path = String::with_capacity(
            self.base_path.len() + remainder.len() + query.map_or(0, |q| q.len() + 1),
        );
        path.push_str(&self.base_path);
        path.push_str(remainder);
        if path.is_empty() {
            path.push('/');
        }
        if let Some(query) = query {
            path.push('?');
            path.push_str(query);
        }
        let path_and_query =
            PathAndQuery::try_from(path).map_err(|_| GatewayError::BadRequest("invalid path"))?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| GatewayError::BadRequest("invalid path"))
    }
}

/// What the gateway knows of the client connection, for the `X-Forwarded-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address, when known.
    pub client_ip: Option<IpAddr>,
    /// Whether the client came in over TLS.
    pub tls: bool,
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// obsolete `Proxy-Connection`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Rewrites a client request's headers for the backend: hop-by-hop and `Host` out,
/// `credentials_header` out when given, `X-Forwarded-*` in.
pub fn upstream_headers(
    headers: &mut HeaderMap,
    original_host: Option<HeaderValue>,
    forwarded: Forwarded,
    credentials_header: Option<&HeaderName>,
) {
    remove_hop_by_hop(headers);
    headers.remove(header::HOST);
    if let Some(name) = credentials_header {
        headers.remove(name);
    }
    if let Some(ip) = forwarded.client_ip {
        let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(previous) => format!("{previous}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if forwarded.tls { "https" } else { "http" }),
    );
    if let Some(host) = original_host {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// A failed backend call, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyError {
    /// What went wrong.
    pub failure: UpstreamFailure,
    /// Whether the request may be sent again without risk of acting twice.
    pub retry_safe: bool,
}

impl From<ProxyError> for GatewayError {
    fn from(error: ProxyError) -> Self {
        GatewayError::Upstream(error.failure)
    }
}

/// Whether a method may be repeated without a different effect (RFC 9110 §9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Classifies a client error by walking its causes.
fn classify(error: &hyper_util::client::legacy::Error, replayable: bool) -> ProxyError {
    let mut timed_out = false;
    let mut tls = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            timed_out = true;
        }
        if cause.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        source = cause.source();
    }
    if error.is_connect() {
        let failure = if timed_out {
            UpstreamFailure::ConnectTimeout
        } else if tls {
            UpstreamFailure::Tls
        } else {
            UpstreamFailure::ConnectFailed
        };
        return ProxyError {
            failure,
            retry_safe: true,
        };
    }
    ProxyError {
        failure: UpstreamFailure::ConnectionClosed,
        retry_safe: replayable,
    }
}

/// Why the backend client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProxyBuildError {
    /// The TLS configuration was refused.
    #[error("backend TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The pooled client to backends.
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    plain: Arc<PlainPool>,
    response_timeout: Duration,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}

/// A rustls client configuration trusting the WebPKI roots and `extra_roots`; certificates
/// that are not CA certificates rustls can use are skipped.
pub fn client_tls_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let _ = roots.add_parsable_certificates(extra_roots.iter().cloned());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl UpstreamClient {
    /// A client with `settings`, trusting the WebPKI roots and `extra_roots` (the
    /// truststore's certificates).
    pub fn new(
        settings: &ProxySettings,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<UpstreamClient, ProxyBuildError> {
        let tls = client_tls_config(extra_roots)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .build(connector);
        Ok(UpstreamClient {
            client,
            plain: Arc::new(PlainPool::new(
                settings.connect_timeout,
                settings.pool_idle_timeout,
                settings.pool_max_idle_per_host,
            )),
            response_timeout: settings.response_timeout,
        })
    }

    /// Sends `request` (an absolute URI) and waits for the response head within the
    /// response timeout; the body streams.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Body>, ProxyError> {
        let replayable = idempotent(request.method())
            && request
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0")
            && !request.headers().contains_key(header::TRANSFER_ENCODING);
        let timed_out = ProxyError {
            failure: UpstreamFailure::ResponseTimeout,
            retry_safe: replayable,
        };
        if request.uri().scheme() == Some(&Scheme::HTTP) && request.uri().authority().is_some() {
            let (authority, request) = origin_form(request)?;
            return tokio::time::timeout(
                self.response_timeout,
                self.plain.send(&authority, request, replayable),
            )
            .await
            .unwrap_or(Err(timed_out));
        }
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response.map(Body::new)),
            Ok(Err(error)) => {
                let classified = classify(&error, replayable);
                tracing::debug!(failure = ?classified.failure, %error, "backend call failed");
                Err(classified)
            }
            Err(_) => Err(timed_out),
        }
    }
}

/// A request with an absolute URI as a plain HTTP/1.1 client sends it: its URI in
/// origin form (`/path?query`) and `Host` naming the authority, with the authority to
/// connect to.
fn origin_form(request: Request<Body>) -> Result<(Authority, Request<Body>), ProxyError> {
    let refused = ProxyError {
        failure: UpstreamFailure::ConnectFailed,
        retry_safe: true,
    };
    let (mut parts, body) = request.into_parts();
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    let authority = uri.authority.take().ok_or(refused)?;
    let host = pool::host_header(&authority).ok_or(refused)?;
    parts.uri = match uri.path_and_query.take() {
        Some(path) => Uri::from(path),
        None => Uri::from_static("/"),
    };
    let mut request = Request::from_parts(parts, body);
    pool::ensure_host(&mut request, &host);
    Ok((authority, request))
}

/// The backend's response as the client gets it: hop-by-hop headers out, body streamed.
pub fn downstream_response(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body)
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
