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
//! its versioned context (`none` when no API matched), an application by its id.

use crate::route::DeployedApi;
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
    /// The calling application's id.
    pub application: Option<Box<str>>,
}

/// One finished call.
pub(crate) struct Finished<'a> {
    pub method: &'a http::Method,
    pub path: &'a str,
    pub status: u16,
    /// The WSO2 code of a refusal.
    pub code: Option<u32>,
    pub client_ip: Option<IpAddr>,
    pub started: Instant,
}

/// Records a call's metrics and writes its access-log line.
pub(crate) fn record(call: &Finished<'_>, observation: &Observation) {
    let elapsed = call.started.elapsed();
    let api: Arc<str> = observation
        .api
        .as_ref()
        .map_or_else(|| Arc::from("none"), |a| Arc::from(&*a.versioned_context));
    let status = call.status.to_string();
    let code = call.code.map_or_else(String::new, |c| c.to_string());
    metrics::counter!(
        "keygate_gateway_requests_total",
        "api" => api.to_string(),
        "method" => call.method.as_str().to_owned(),
        "status" => status,
        "code" => code,
    )
    .increment(1);
    metrics::histogram!("keygate_gateway_request_duration_seconds", "api" => api.to_string())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        method = call.method.as_str(),
        path = call.path,
        status = call.status,
        code = call.code,
        api = &*api,
        application = observation.application.as_deref(),
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
