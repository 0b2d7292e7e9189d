//! A mock API backend for gateway tests: a small HTTP server on an ephemeral loopback
//! port that answers every request with `200` and a JSON echo, and records what it
//! received (method, path, query, headers, body) so a test can assert what the gateway
//! sent. It can be made slow, to provoke the gateway's response timeout.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Largest request body the backend reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ReceivedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Default)]
struct Shared {
    received: Mutex<Vec<ReceivedRequest>>,
    delay: Mutex<Duration>,
}

/// A running mock backend; stops when dropped.
#[derive(Debug)]
pub struct MockBackend {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request<Body>) -> (StatusCode, String) {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let received = ReceivedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    shared
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    let delay = *shared.delay.lock().unwrap_or_else(PoisonError::into_inner);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (
        StatusCode::OK,
        format!(
            r#"{{"backend":"mock","path":"{}"}}"#,
            parts.uri.path().escape_default()
        ),
    )
}

impl MockBackend {
    /// Starts a backend on `127.0.0.1` with an ephemeral port.
    pub async fn start() -> std::io::Result<MockBackend> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockBackend { addr, shared, task })
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Makes every later answer wait `delay` after the request is recorded.
    pub fn set_delay(&self, delay: Duration) {
        *self
            .shared
            .delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last request received.
    pub fn last(&self) -> Option<ReceivedRequest> {
        self.received().pop()
    }
}

impl Drop for MockBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}
