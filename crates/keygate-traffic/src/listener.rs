//! The ingestion listeners (9611 plain, 9711 TLS, plus offset): accept producers, check
//! their hello in constant time, apply their batches and acknowledge them. A connection
//! that sends anything unexpected is closed and logged by peer and reason; the frame itself
//! is never logged, as a hello carries a password.

use crate::relay::{Counters, Relay};
use crate::stopped;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use keygate_bus::ingest::wire::{self, Frame, PROTOCOL_VERSION, WireError};
use keygate_model::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The credentials producers must present, kept as digests so that comparing them takes
/// the same time whatever their length.
pub(crate) struct Credentials {
    username: Vec<u8>,
    password: Option<Vec<u8>>,
}

impl Credentials {
    pub(crate) fn new(username: &str, password: Option<&Secret>) -> Self {
        Self {
            username: digest(&SHA256, username.as_bytes()).as_ref().to_vec(),
            password: password.map(|p| digest(&SHA256, p.expose().as_bytes()).as_ref().to_vec()),
        }
    }

    pub(crate) fn accepts(&self, username: &str, password: &Secret) -> bool {
        let Some(expected) = &self.password else {
            return false;
        };
        let user = digest(&SHA256, username.as_bytes());
        let pass = digest(&SHA256, password.expose().as_bytes());
        let user_ok = verify_slices_are_equal(user.as_ref(), &self.username).is_ok();
        let pass_ok = verify_slices_are_equal(pass.as_ref(), expected).is_ok();
        user_ok & pass_ok
    }
}

/// What one listener shares with its connections.
pub(crate) struct Ingest {
    pub(crate) relay: Arc<Relay>,
    pub(crate) credentials: Credentials,
    pub(crate) accounts: Option<Arc<dyn crate::ProducerAccounts>>,
    pub(crate) permits: Arc<Semaphore>,
}

/// Accepts connections until `shutdown`, then closes every connection it accepted.
pub(crate) async fn serve(
    ingest: Arc<Ingest>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = Arc::clone(&ingest.permits).acquire_owned() => permit,
            () = stopped(&mut shutdown) => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "ingestion accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let ingest = Arc::clone(&ingest);
        let tls = tls.clone();
        connections.spawn(async move {
            let _permit = permit;
            converse(&ingest, tcp, peer, tls).await;
        });
    }
    drop(listener);
    connections.shutdown().await;
}

async fn converse(ingest: &Ingest, tcp: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>) {
    let timeout = ingest.relay.settings.handshake_timeout;
    match tls {
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => conversation(ingest, stream, peer).await,
            Ok(Err(error)) => tracing::warn!(%peer, %error, "ingestion TLS handshake failed"),
            Err(_) => tracing::warn!(%peer, "ingestion TLS handshake timed out"),
        },
        None => conversation(ingest, tcp, peer).await,
    }
}

/// Whether the user store accepts the producer's account, when one is attached.
async fn account_accepted(ingest: &Ingest, username: &str, password: &Secret) -> bool {
    match &ingest.accounts {
        Some(accounts) => accounts.accepts(username, password).await,
        None => false,
    }
}

/// A description of a read failure that never quotes the frame.
fn describe(error: &WireError) -> String {
    match error {
        WireError::TooLarge { size, limit } => format!("oversized frame ({size} > {limit} bytes)"),
        WireError::Malformed(_) => "malformed frame".to_owned(),
        WireError::Truncated => "connection closed mid-frame".to_owned(),
        WireError::Io(error) => format!("i/o: {error}"),
    }
}

async fn conversation<S: AsyncRead + AsyncWrite + Unpin>(
    ingest: &Ingest,
    mut stream: S,
    peer: SocketAddr,
) {
    let relay = &ingest.relay;
    let hello = tokio::time::timeout(
        relay.settings.handshake_timeout,
        wire::read_frame(&mut stream),
    )
    .await;
    let producer = match hello {
        Ok(Ok(Some(Frame::Hello {
            protocol,
            node,
            username,
            password,
        }))) => {
            let refusal = if protocol != PROTOCOL_VERSION {
                Some("unsupported protocol version")
            } else if !ingest.credentials.accepts(&username, &password)
                && !account_accepted(ingest, &username, &password).await
            {
                Some("invalid credentials")
            } else {
                None
            };
            if let Some(reason) = refusal {
                Counters::add(&relay.counters.refused, 1);
                tracing::warn!(%peer, producer = %node, reason, "ingestion hello refused");
                let refused = Frame::Refused {
                    reason: reason.to_owned(),
                };
                let _ = wire::write_frame(&mut stream, &refused).await;
                return;
            }
            node
        }
        Ok(Ok(Some(_))) => {
            Counters::add(&relay.counters.broken, 1);
            tracing::warn!(%peer, "ingestion connection did not start with a hello");
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(error)) => {
            Counters::add(&relay.counters.broken, 1);
            tracing::warn!(%peer, reason = %describe(&error), "ingestion hello unreadable");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "ingestion hello timed out");
            return;
        }
    };
    let welcome = Frame::Welcome {
        node: relay.settings.node.clone(),
    };
    if wire::write_frame(&mut stream, &welcome).await.is_err() {
        return;
    }
    Counters::add(&relay.counters.connections, 1);
    tracing::debug!(%peer, %producer, "producer connected");
    loop {
        let frame = match wire::read_frame(&mut stream).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(error) => {
                Counters::add(&relay.counters.broken, 1);
                tracing::warn!(%peer, %producer, reason = %describe(&error), "ingestion connection closed");
                return;
            }
        };
        let Frame::Batch { batch, events } = frame else {
            Counters::add(&relay.counters.broken, 1);
            tracing::warn!(%peer, %producer, "unexpected ingestion frame, connection closed");
            return;
        };
        if let Err(error) = relay.apply(events).await {
            tracing::warn!(%peer, %producer, batch, %error, "batch not applied, connection closed for a resend");
            return;
        }
        if wire::write_frame(&mut stream, &Frame::Ack { batch })
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_accept_only_the_configured_pair() {
        let creds = Credentials::new("admin", Some(&Secret::new("s3cret")));
        assert!(creds.accepts("admin", &Secret::new("s3cret")));
        assert!(!creds.accepts("admin", &Secret::new("s3cret ")));
        assert!(!creds.accepts("Admin", &Secret::new("s3cret")));
        assert!(!creds.accepts("", &Secret::new("")));
        let none = Credentials::new("admin", None);
        assert!(!none.accepts("admin", &Secret::new("")));
    }
}
