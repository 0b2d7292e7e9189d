//! `/health/live` (the process answers) and `/health/ready` (storage answers and its
//! schema is current), on every listener, as load balancers and orchestrators expect.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use keygate_store::Stores;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long readiness waits for the databases before answering "down".
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes, over the node's stores.
pub fn routes(stores: Arc<Stores>) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(stores)
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "UP" }))
}

async fn ready(State(stores): State<Arc<Stores>>) -> (StatusCode, Json<serde_json::Value>) {
    match tokio::time::timeout(READY_TIMEOUT, stores.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({ "status": "UP", "storage": "UP" })),
        ),
        Ok(Err(error)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "DOWN", "storage": "DOWN", "reason": error.to_string() })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "DOWN", "storage": "DOWN", "reason": "storage did not answer in time" }),
            ),
        ),
    }
}
