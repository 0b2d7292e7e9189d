//! Prometheus metrics: one process-wide recorder, `/metrics` on every listener, and a
//! middleware counting requests and their latency per listener and status.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use. `None` when
/// another recorder was installed first (metrics then go there).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

/// `GET /metrics` in the Prometheus text format.
pub fn routes() -> Router {
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    match handle() {
        Some(handle) => {
            handle.run_upkeep();
            (
                [("content-type", "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "metrics are exported by another recorder",
        )
            .into_response(),
    }
}

/// Counts each request and records its latency, labelled by listener and status.
pub async fn track(listener: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("keygate_http_requests_total", "listener" => listener, "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("keygate_http_request_duration_seconds", "listener" => listener)
        .record(started.elapsed().as_secs_f64());
    response
}
