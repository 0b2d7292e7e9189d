//! Kept-alive HTTP/1.1 connections to plain (`http://`) backends, pooled per worker
//! thread.
//!
//! Each worker thread keeps its own idle connections per backend, so taking one and giving
//! it back takes no lock and spawns nothing. A connection goes back to the pool of the
//! thread that finishes reading its response, once the body has been read to the end; a
//! response dropped before that closes its connection (HTTP/1.1 cannot abandon a response
//! half read). Idle connections older than the idle timeout, or closed by the backend,
//! are dropped when met; at most `max_idle` are kept per backend and thread.
//!
//! A request sent on a reused connection that turns out to be closed before anything was
//! written is sent again on a new connection (nothing reached the backend, so any method
//! may be repeated), as hyper-util's pooled client does.

use crate::errors::UpstreamFailure;
use crate::proxy::ProxyError;
use axum::body::Body;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{Request, Response};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// The longest a request waits for an idle connection to finish its last response before
/// taking another.
const READY_WAIT: Duration = Duration::from_millis(50);

/// Tells pools apart in the per-thread tables.
static NEXT_POOL: AtomicUsize = AtomicUsize::new(0);

/// A backend in one pool.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    pool: usize,
    authority: Authority,
}

/// A connection waiting for its next request.
struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
}

thread_local! {
    /// This thread's idle connections, per pool and backend, the most recent last.
    static IDLE: RefCell<HashMap<Key, Vec<Idle>, foldhash::fast::RandomState>> =
        RefCell::new(HashMap::default());
}

/// The pool's settings.
#[derive(Debug)]
pub(crate) struct PlainPool {
    id: usize,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
}

/// A connection taken from the pool or newly made.
struct Taken {
    sender: http1::SendRequest<Body>,
    reused: bool,
}

impl PlainPool {
    pub(crate) fn new(connect_timeout: Duration, idle_timeout: Duration, max_idle: usize) -> Self {
        Self {
            id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
            connect_timeout,
            idle_timeout,
            max_idle,
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) to `authority`, on a pooled
    /// connection when one is idle. `replayable` says whether a request that may have
    /// reached the backend may be sent again (for the error's `retry_safe`).
    pub(crate) async fn send(
        self: &Arc<Self>,
        authority: &Authority,
        mut request: Request<Body>,
        replayable: bool,
    ) -> Result<Response<Body>, ProxyError> {
        let key = Key {
            pool: self.id,
            authority: authority.clone(),
        };
        loop {
            let mut taken = match self.checkout(&key).await {
                Some(taken) => taken,
                None => self.connect(authority).await?,
            };
            match taken.sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = PooledBody {
                        body,
                        give_back: Some((self.clone(), key, taken.sender)),
                    };
                    return Ok(Response::from_parts(parts, Body::new(body)));
                }
                Err(mut error) => match error.take_message() {
                    // Not written: a reused connection the backend had closed.
                    Some(unsent) if taken.reused => request = unsent,
                    unsent => {
                        tracing::debug!(error = %error.error(), "backend call failed");
                        return Err(ProxyError {
                            failure: UpstreamFailure::ConnectionClosed,
                            retry_safe: unsent.is_some() || replayable,
                        });
                    }
                },
            }
        }
    }

    /// An idle connection of this thread that is still open, the most recent first.
    async fn checkout(&self, key: &Key) -> Option<Taken> {
        loop {
            let idle = IDLE.with(|idle| idle.borrow_mut().get_mut(key)?.pop())?;
            if idle.since.elapsed() >= self.idle_timeout {
                // Every older one is older still.
                IDLE.with(|table| table.borrow_mut().remove(key));
                return None;
            }
            let mut sender = idle.sender;
            // Ready at once unless the connection is still finishing its last response;
            // one that stays busy is let go rather than waited for.
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                return Some(Taken {
                    sender,
                    reused: true,
                });
            }
        }
    }

    /// A new connection, its task spawned.
    async fn connect(&self, authority: &Authority) -> Result<Taken, ProxyError> {
        let failed = |failure| ProxyError {
            failure,
            retry_safe: true,
        };
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        // `[::1]` in a URL is `::1` to the resolver.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((host, port)),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%authority, %error, "backend connection failed");
                return Err(failed(if error.kind() == std::io::ErrorKind::TimedOut {
                    UpstreamFailure::ConnectTimeout
                } else {
                    UpstreamFailure::ConnectFailed
                }));
            }
            Err(_) => return Err(failed(UpstreamFailure::ConnectTimeout)),
        };
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| failed(UpstreamFailure::ConnectFailed))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "backend connection ended with an error");
            }
        });
        Ok(Taken {
            sender,
            reused: false,
        })
    }

    /// Gives a connection whose response was read to the end back to this thread's pool.
    fn give_back(&self, key: Key, sender: http1::SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        IDLE.with(|table| {
            let mut table = table.borrow_mut();
            let idle = table.entry(key).or_default();
            if idle.len() < self.max_idle {
                idle.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
        });
    }
}

/// The `Host` header for a backend authority, as a client sends it: host and port, never
/// the credentials of an endpoint URL's userinfo (RFC 9110 §7.2).
pub(crate) fn host_header(authority: &Authority) -> Option<HeaderValue> {
    let text = authority.as_str();
    let host = text.rsplit_once('@').map_or(text, |(_, host)| host);
    HeaderValue::from_str(host).ok()
}

/// Sets `Host` unless the request has one.
pub(crate) fn ensure_host(request: &mut Request<Body>, host: &HeaderValue) {
    if !request.headers().contains_key(header::HOST) {
        request.headers_mut().insert(header::HOST, host.clone());
    }
}

/// A backend response's body that gives its connection back to the pool once read to the
/// end.
struct PooledBody {
    body: Incoming,
    give_back: Option<(Arc<PlainPool>, Key, http1::SendRequest<Body>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((pool, key, sender)) = self.give_back.take() {
            pool.give_back(key, sender);
        }
    }
}

impl hyper::body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.release(),
            // A broken body: the connection is not given back.
            Poll::Ready(Some(Err(_))) => self.give_back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A server that saw `is_end_stream` does not poll again.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
