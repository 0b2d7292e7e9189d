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
//! are shared or static strings, and each worker thread keeps the metric handles of the
//! label sets it has seen: recording an answered call copies no text and looks nothing
//! up in the recorder's registry. Label values a client chooses are bounded: a method
//! other than the nine of RFC 9110 is `OTHER`, and a thread keeps at most
//! [`MAX_HANDLES`] label sets (it starts afresh when full, which costs a registry lookup
//! per label set, never a lost count).

use crate::replica::ApplicationEntry;
use crate::route::DeployedApi;
use metrics::{Counter, Histogram, SharedString};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The tracing target of access-log lines.
pub const ACCESS_LOG_TARGET: &str = "keygate::access";

/// The most label sets a worker thread keeps handles for.
pub const MAX_HANDLES: usize = 4096;

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

/// The name of a method of RFC 9110, or `None` for an extension method.
fn standard_method(method: &http::Method) -> Option<&'static str> {
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
    STANDARD
        .iter()
        .find(|(m, _)| m == method)
        .map(|(_, name)| *name)
}

/// A method as a label: the standard ones by name, any other as `OTHER`, so that a client
/// cannot make a series per made-up method.
fn method_label(method: &http::Method) -> SharedString {
    SharedString::const_str(standard_method(method).unwrap_or("OTHER"))
}

/// The method a label set is kept under: itself when standard, `None` for the rest.
fn method_key(method: &http::Method) -> Option<http::Method> {
    standard_method(method).map(|_| method.clone())
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

/// The label set of a call's metrics. The API is told by its label's address, which
/// cannot be reused while [`CallHandles`] holds the label.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CallKey {
    api: usize,
    method: Option<http::Method>,
    status: u16,
    code: Option<u32>,
}

/// A label set's metric handles.
struct CallHandles {
    _api: Option<Arc<str>>,
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// This thread's handles, by label set.
    static HANDLES: RefCell<HashMap<CallKey, CallHandles, foldhash::fast::RandomState>> =
        RefCell::new(HashMap::default());
}

/// Counts a call and records its latency, through the handles of its label set
/// (registered the first time this thread records it).
fn count(call: &Finished<'_>, api: Option<&Arc<str>>, seconds: f64) {
    let key = CallKey {
        api: api.map_or(0, |label| Arc::as_ptr(label).cast::<u8>() as usize),
        method: method_key(call.method),
        status: call.status,
        code: call.code,
    };
    HANDLES.with(|table| {
        let mut table = table.borrow_mut();
        if table.len() >= MAX_HANDLES && !table.contains_key(&key) {
            table.clear();
        }
        let handles = table.entry(key).or_insert_with(|| {
            let label = api.map_or(SharedString::const_str("none"), |label| {
                SharedString::from_shared(label.clone())
            });
            let code = call.code.map_or(SharedString::const_str(""), |c| {
                SharedString::from_owned(c.to_string())
            });
            CallHandles {
                _api: api.cloned(),
                requests: metrics::counter!(
                    "keygate_gateway_requests_total",
                    "api" => label.clone(),
                    "method" => method_label(call.method),
                    "status" => status_label(call.status),
                    "code" => code,
                ),
                duration: metrics::histogram!(
                    "keygate_gateway_request_duration_seconds",
                    "api" => label,
                ),
            }
        });
        handles.requests.increment(1);
        handles.duration.record(seconds);
    });
}

/// Records a call's metrics and writes its access-log line.
pub(crate) fn record(call: &Finished<'_>, observation: &Observation) {
    let elapsed = call.started.elapsed();
    let label = observation.api.as_ref().map(|a| &a.label);
    count(call, label, elapsed.as_secs_f64());
    let api: &str = label.map_or("none", |label| label);
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        method = call.method.as_str(),
        path = call.path,
        status = call.status,
        code = call.code,
        api,
        application = observation.application.as_ref().map(|a| &*a.id_text),
        client_ip = call.client_ip.map(tracing::field::display),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "access"
    );
}

thread_local! {
    /// This thread's cache-lookup counters, by cache and result.
    static LOOKUPS: RefCell<Vec<(&'static str, bool, Counter)>> = const { RefCell::new(Vec::new()) };
}

/// Counts one cache lookup.
pub(crate) fn cache_lookup(cache: &'static str, hit: bool) {
    LOOKUPS.with(|lookups| {
        let mut lookups = lookups.borrow_mut();
        if let Some((_, _, counter)) = lookups
            .iter()
            .find(|(name, result, _)| *name == cache && *result == hit)
        {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(
            "keygate_gateway_cache_lookups_total",
            "cache" => cache,
            "result" => if hit { "hit" } else { "miss" },
        );
        counter.increment(1);
        lookups.push((cache, hit, counter));
    });
}

/// Label sets this thread keeps handles for.
#[cfg(test)]
fn handles_len() -> usize {
    HANDLES.with(|table| table.borrow().len())
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
