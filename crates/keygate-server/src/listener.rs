//! Listeners: which ports a node opens for its roles (with `[server] offset` already in
//! `Config::ports`), and the accept loop that serves them, with or without TLS, until
//! shutdown — then drains open connections. A TLS client's certificate chain, when it
//! presented one, travels with each request: as the key manager's [`ClientCertificates`]
//! and the gateway's [`ClientCertificate`] (its leaf), for RFC 8705.
//!
//! The management listener serves an axum router over HTTP/1.1 and HTTP/2 (by ALPN, or
//! the HTTP/2 preface in clear). The gateway listeners serve a [`GatewayListener`] as a
//! plain hyper service: API calls go to the gateway directly, with what the listener knows
//! of the connection, and only `/token`, `/revoke`, health and metrics through a router.
//! 8243 speaks HTTP/2 when the client chose `h2` by ALPN and HTTP/1.1 otherwise; 8280
//! speaks HTTP/1.1, and HTTP/2 to a client that opens with its preface (prior knowledge).

use crate::ServerError;
use crate::gateway::GatewayListener;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use keygate_config::{Config, Role};
use keygate_gateway::{ClientCertificate, ClientConnection};
use keygate_km::ClientCertificates;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a TLS handshake may take before the connection is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may take to finish after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// One kind of listener a node can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// 9443 + offset: key manager, control plane, health and metrics (every node has it).
    Management,
    /// 8243 + offset: the gateway over TLS.
    GatewayHttps,
    /// 8280 + offset: the gateway in clear.
    GatewayHttp,
}

impl ListenerKind {
    /// The name used in logs, metrics and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Management => "management",
            Self::GatewayHttps => "gateway-https",
            Self::GatewayHttp => "gateway-http",
        }
    }

    /// Whether the listener speaks TLS.
    pub fn tls(self) -> bool {
        !matches!(self, Self::GatewayHttp)
    }

    /// The URL scheme clients use.
    pub fn scheme(self) -> &'static str {
        if self.tls() { "https" } else { "http" }
    }
}

/// A listener to open: its kind and the address to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerPlan {
    pub kind: ListenerKind,
    pub addr: SocketAddr,
}

impl ListenerPlan {
    /// The listeners a node opens for its roles. Every node has the management listener
    /// (health and metrics live there, as WSO2 nodes all have 9443); the gateway role
    /// adds 8243 and 8280. The traffic manager's ingestion ports belong to that role.
    pub fn for_config(config: &Config, bind_ip: IpAddr) -> Vec<ListenerPlan> {
        let mut plans = vec![ListenerPlan {
            kind: ListenerKind::Management,
            addr: SocketAddr::new(bind_ip, config.ports.management_https),
        }];
        if config.server.roles.contains(&Role::Gateway) {
            plans.push(ListenerPlan {
                kind: ListenerKind::GatewayHttps,
                addr: SocketAddr::new(bind_ip, config.ports.gateway_https),
            });
            plans.push(ListenerPlan {
                kind: ListenerKind::GatewayHttp,
                addr: SocketAddr::new(bind_ip, config.ports.gateway_http),
            });
        }
        plans
    }
}

/// Binds a planned listener, naming it and the port's origin when that fails.
pub(crate) async fn bind(plan: &ListenerPlan) -> Result<TcpListener, ServerError> {
    TcpListener::bind(plan.addr)
        .await
        .map_err(|source| ServerError::Bind {
            listener: plan.kind.name(),
            addr: plan.addr,
            hint: match source.kind() {
                std::io::ErrorKind::AddrInUse => {
                    " (another process holds this port: stop it, or set [server] offset)".to_owned()
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (ports below 1024 need privileges: use a higher port or [server] offset)"
                        .to_owned()
                }
                _ => String::new(),
            },
            source,
        })
}

/// What a listener serves.
#[derive(Clone)]
pub(crate) enum Service {
    /// An axum router (the management listener, or a gateway listener of a node without
    /// the gateway role).
    Router(Router),
    /// The gateway.
    Gateway(Arc<GatewayListener>),
}

/// Serves `service` on `listener` until `shutdown` turns true, then stops accepting and
/// waits up to [`DRAIN_TIMEOUT`] for open connections to finish.
pub(crate) async fn serve(
    kind: ListenerKind,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: Service,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let builder = ConnBuilder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(listener = kind.name(), %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let outcome = match acceptor {
                        Some(acceptor) => {
                            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => {
                                    let session = tls.get_ref().1;
                                    let certificates = session
                                        .peer_certificates()
                                        .filter(|chain| !chain.is_empty())
                                        .map(|chain| ClientCertificates::new(chain.to_vec()));
                                    let h2 = session.alpn_protocol() == Some(b"h2");
                                    let io = TokioIo::new(tls);
                                    match service {
                                        Service::Router(router) => serve_connection(&builder, io, router, peer, certificates, watcher).await,
                                        Service::Gateway(gateway) => {
                                            let protocol = if h2 { Protocol::Http2 } else { Protocol::Http1 };
                                            serve_gateway(&builder, io, gateway, peer, certificates, protocol, watcher).await
                                        }
                                    }
                                }
                                Ok(Err(error)) => {
                                    tracing::debug!(listener = kind.name(), %peer, %error, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(listener = kind.name(), %peer, "TLS handshake timed out");
                                    return;
                                }
                            }
                        }
                        None => {
                            let io = TokioIo::new(stream);
                            match service {
                                Service::Router(router) => serve_connection(&builder, io, router, peer, None, watcher).await,
                                Service::Gateway(gateway) => serve_gateway(&builder, io, gateway, peer, None, Protocol::Sniffed, watcher).await,
                            }
                        }
                    };
                    if let Err(error) = outcome {
                        tracing::debug!(listener = kind.name(), %peer, %error, "connection ended with an error");
                    }
                });
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = kind.name(),
            "connections still open after the drain timeout; closing them"
        );
    }
}

/// Serves one connection: every request carries the peer's address and, when the client
/// presented a TLS certificate, its chain ([`ClientCertificates`]) and its leaf
/// ([`ClientCertificate`]), for RFC 8705.
async fn serve_connection<I>(
    builder: &ConnBuilder<TokioExecutor>,
    io: I,
    router: Router,
    peer: SocketAddr,
    certificates: Option<ClientCertificates>,
    watcher: Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let leaf = certificates
        .as_ref()
        .and_then(|chain| chain.0.first())
        .map(|leaf| ClientCertificate(leaf.clone()));
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            if let Some(chain) = &certificates {
                request.extensions_mut().insert(chain.clone());
            }
            if let Some(leaf) = &leaf {
                request.extensions_mut().insert(leaf.clone());
            }
            router.clone().oneshot(request)
        });
    let conn = builder.serve_connection_with_upgrades(io, service);
    watcher.watch(conn.into_owned()).await
}

/// The HTTP version of a gateway connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// TLS without `h2` by ALPN.
    Http1,
    /// TLS with `h2` by ALPN.
    Http2,
    /// In clear: HTTP/2 when the client opens with its preface, else HTTP/1.1.
    Sniffed,
}

/// Serves one gateway connection with hyper's HTTP/1.1 or HTTP/2 server: API calls go to
/// the gateway with the connection's description; the other paths get the same request
/// extensions as on any listener.
async fn serve_gateway<I>(
    builder: &ConnBuilder<TokioExecutor>,
    io: I,
    gateway: Arc<GatewayListener>,
    peer: SocketAddr,
    certificates: Option<ClientCertificates>,
    protocol: Protocol,
    watcher: Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let connection = Arc::new(ClientConnection {
        peer: Some(peer),
        tls: protocol != Protocol::Sniffed,
        certificate: certificates
            .as_ref()
            .and_then(|chain| chain.0.first())
            .map(|leaf| ClientCertificate(leaf.clone())),
    });
    let service = hyper::service::service_fn(
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            let gateway = gateway.clone();
            let connection = connection.clone();
            if !gateway.is_api_call(request.uri().path()) {
                request.extensions_mut().insert(ConnectInfo(peer));
                if let Some(chain) = &certificates {
                    request.extensions_mut().insert(chain.clone());
                }
                if let Some(leaf) = &connection.certificate {
                    request.extensions_mut().insert(leaf.clone());
                }
            }
            async move { Ok::<_, std::convert::Infallible>(gateway.call(request, &connection).await) }
        },
    );
    match protocol {
        Protocol::Http1 => {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            watcher.watch(conn).await.map_err(Into::into)
        }
        Protocol::Http2 => {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, service);
            watcher.watch(conn).await.map_err(Into::into)
        }
        Protocol::Sniffed => {
            let conn = builder.serve_connection(io, service);
            watcher.watch(conn.into_owned()).await
        }
    }
}
