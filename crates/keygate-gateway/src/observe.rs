//! What the gateway tells operators about each call: Prometheus metrics through the
//! `metrics` facade (the server installs the recorder and serves `/metrics`) and one
//! access-log line per request under the tracing target `keygate::access`.
//!
//! Metrics: `keygate_gateway_requests_total{api, method, status, code}`,
//! `keygate_gateway_request_duration_seconds{api}`, and
//! `keygate_gateway_cache_lookups_total{cache, result}` for the verified-token,
//! refused-token and opaque-token caches (their hit ratio). The feed adds the replica's
//! revision and lag ([`crate::feed`]), the request-event queue its drops
//! ([`crate::events`]).
//!
//! Neither carries a token, a credential header or a query string: an API is named by
//! its versioned context (`none` when no API matched), an application by its id. Labels
//! are shared or static strings: recording an answered call copies no text.

use crate::replica::ApplicationEntry;
use crate::route::DeployedApi;
use metrics::SharedString;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The tracing target of access-log lines.
pub const ACCESS_LOG_TARGET: &str = "keygate::access";

/// What the pipeline learnt about a call, for its metrics and log line.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    /// The API the call was routed to.
    pub api: Option<Arc<DeployedApi>>,
    /// The calling application.
    pub application: Option<Arc<ApplicationEntry>>,
}

/// One finished call.
pub(crate) struct Finished<'a> {
    pub method: &'a http::Method,
    /// The request path, when the access log is on.
    pub path: Option<&'a str>,
    pub status: u16,
    /// The WSO2 code of a refusal.
    pub code: Option<u32>,
    pub client_ip: Option<IpAddr>,
    pub started: Instant,
}

/// Whether access-log lines are written (the filter may turn them off).
pub(crate) fn access_log_enabled() -> bool {
    tracing::enabled!(target: ACCESS_LOG_TARGET, tracing::Level::INFO)
}

/// A method as a label; the standard ones without a copy.
fn method_label(method: &http::Method) -> SharedString {
    const STANDARD: [(http::Method, &str); 9] = [
        (http::Method::GET, "GET"),
        (http::Method::POST, "POST"),
        (http::Method::PUT, "PUT"),
        (http::Method::DELETE, "DELETE"),
        (http::Method::PATCH, "PATCH"),
        (http::Method::HEAD, "HEAD"),
        (http::Method::OPTIONS, "OPTIONS"),
        (http::Method::CONNECT, "CONNECT"),
        (http::Method::TRACE, "TRACE"),
    ];
    STANDARD.iter().find(|(m, _)| m == method).map_or_else(
        || SharedString::from_owned(method.as_str().to_owned()),
        |(_, name)| SharedString::const_str(name),
    )
}

/// A status as a label; the common ones without a copy.
fn status_label(status: u16) -> SharedString {
    let common = match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        431 => "431",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return SharedString::from_owned(status.to_string()),
    };
    SharedString::const_str(common)
}

/// Records a call's metrics and writes its access-log line.
pub(crate) fn record(call: &Finished<'_>, observation: &Observation) {
    let elapsed = call.started.elapsed();
    let api = observation
        .api
        .as_ref()
        .map_or(SharedString::const_str("none"), |a| {
            SharedString::from_shared(a.label.clone())
        });
    let code = call.code.map_or(SharedString::const_str(""), |c| {
        SharedString::from_owned(c.to_string())
    });
    metrics::counter!(
        "keygate_gateway_requests_total",
        "api" => api.clone(),
        "method" => method_label(call.method),
        "status" => status_label(call.status),
        "code" => code,
    )
    .increment(1);
    metrics::histogram!("keygate_gateway_request_duration_seconds", "api" => api.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        method = call.method.as_str(),
        path = call.path,
        status = call.status,
        code = call.code,
        api = &*api,
        application = observation.application.as_ref().map(|a| &*a.id_text),
        client_ip = call.client_ip.map(tracing::field::display),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "access"
    );
}

/// Counts one cache lookup.
pub(crate) fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!(
        "keygate_gateway_cache_lookups_total",
        "cache" => cache,
        "result" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
}
