//! Prometheus metrics: one process-wide recorder, `/metrics` on every listener, a
//! middleware counting requests and their latency per listener and status, and the upkeep
//! that drains histogram samples into their buckets whether or not anyone scrapes.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often histogram samples are folded into their buckets. Until then every sample is
/// kept, so an unscraped node would grow, and pay more per request, without bound.
pub(crate) const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

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

/// Runs the recorder's upkeep every `every` until the handle is aborted; nothing when another
/// recorder is installed.
pub(crate) fn spawn_upkeep(every: Duration) -> Option<JoinHandle<()>> {
    let handle = handle()?;
    Some(tokio::spawn(every_interval(every, move || {
        handle.run_upkeep()
    })))
}

/// Calls `upkeep` once per `every`, forever (the first call after one interval).
async fn every_interval(every: Duration, upkeep: impl Fn()) {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        upkeep();
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn upkeep_runs_on_its_interval_without_a_scrape() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = tokio::spawn(every_interval(Duration::from_millis(20), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }));
        let deadline = Instant::now() + Duration::from_secs(5);
        while runs.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
        assert!(runs.load(Ordering::SeqCst) >= 3);
    }
}
