//! Connections from one group to its traffic managers: connect (TCP or TLS), say hello,
//! exchange a batch for its acknowledgement, and choose the receiver of the next batch —
//! round robin for `loadbalance`, the first healthy one for `failover`. A receiver that
//! fails is retried after an exponential backoff.

use super::producer::{Balance, ProducerSettings, Receiver};
use super::queue::ProducerCounters;
use super::wire::{self, Frame, PROTOCOL_VERSION, WireError};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A byte stream to a traffic manager, plain or TLS.
pub(crate) trait IngestStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IngestStream for T {}

/// Why a receiver could not take a batch.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("refused: {0}")]
    Refused(String),
    #[error("tls requested but no client configuration was given")]
    NoTls,
    #[error("invalid server name")]
    ServerName,
    #[error("unexpected frame from the traffic manager")]
    Protocol,
    #[error("connection closed")]
    Closed,
    #[error(transparent)]
    Wire(#[from] WireError),
}

struct Link {
    receiver: Receiver,
    stream: Option<Box<dyn IngestStream>>,
    retry_at: Instant,
    backoff: Duration,
}

/// The receivers of one group and which of them is next.
pub(crate) struct GroupLinks {
    balance: Balance,
    links: Vec<Link>,
    next: usize,
    settings: Arc<ProducerSettings>,
    counters: Arc<ProducerCounters>,
}

impl GroupLinks {
    pub(crate) fn new(
        balance: Balance,
        receivers: Vec<Receiver>,
        settings: Arc<ProducerSettings>,
        counters: Arc<ProducerCounters>,
    ) -> Self {
        let now = Instant::now();
        let backoff = settings.backoff_min;
        Self {
            balance,
            links: receivers
                .into_iter()
                .map(|receiver| Link {
                    receiver,
                    stream: None,
                    retry_at: now,
                    backoff,
                })
                .collect(),
            next: 0,
            settings,
            counters,
        }
    }

    /// Sends `frame` (batch `batch`) to one receiver and waits for its acknowledgement,
    /// trying every receiver that is not backing off. On failure, answers when the next
    /// receiver may be tried.
    pub(crate) async fn deliver(&mut self, frame: &[u8], batch: u64) -> Result<(), Instant> {
        let count = self.links.len();
        let start = match self.balance {
            Balance::LoadBalance => self.next,
            Balance::Failover => 0,
        };
        for step in 0..count {
            let index = (start + step) % count;
            let Some(link) = self.links.get_mut(index) else {
                continue;
            };
            if link.stream.is_none() {
                if Instant::now() < link.retry_at {
                    continue;
                }
                match connect(&link.receiver, &self.settings).await {
                    Ok(stream) => {
                        ProducerCounters::add(&self.counters.connections, 1);
                        tracing::debug!(receiver = %link.receiver, "connected to traffic manager");
                        link.stream = Some(stream);
                    }
                    Err(error) => {
                        self.failed(index, &error);
                        continue;
                    }
                }
            }
            let Some(stream) = link.stream.as_mut() else {
                continue;
            };
            let exchange = exchange(stream.as_mut(), frame, batch);
            match tokio::time::timeout(self.settings.ack_timeout, exchange).await {
                Ok(Ok(())) => {
                    link.backoff = self.settings.backoff_min;
                    self.next = (index + 1) % count.max(1);
                    return Ok(());
                }
                Ok(Err(error)) => self.failed(index, &error),
                Err(_) => self.failed(index, &LinkError::Timeout),
            }
        }
        Err(self
            .links
            .iter()
            .map(|l| l.retry_at)
            .min()
            .unwrap_or_else(|| Instant::now() + self.settings.backoff_max))
    }

    fn failed(&mut self, index: usize, error: &LinkError) {
        ProducerCounters::add(&self.counters.failures, 1);
        if matches!(error, LinkError::Refused(_)) {
            ProducerCounters::add(&self.counters.refusals, 1);
        }
        let max = self.settings.backoff_max;
        if let Some(link) = self.links.get_mut(index) {
            tracing::warn!(receiver = %link.receiver, %error, retry_in_ms = link.backoff.as_millis() as u64, "traffic manager unavailable");
            link.stream = None;
            link.retry_at = Instant::now() + link.backoff;
            link.backoff = link.backoff.saturating_mul(2).min(max);
        }
    }
}

async fn connect(
    receiver: &Receiver,
    settings: &ProducerSettings,
) -> Result<Box<dyn IngestStream>, LinkError> {
    let address = (
        receiver.host.trim_start_matches('[').trim_end_matches(']'),
        receiver.port,
    );
    let tcp = tokio::time::timeout(settings.connect_timeout, TcpStream::connect(address))
        .await
        .map_err(|_| LinkError::Timeout)?
        .map_err(LinkError::Connect)?;
    // Batches are written whole; waiting for more bytes only adds latency.
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn IngestStream> = if receiver.tls {
        let config = settings.tls.clone().ok_or(LinkError::NoTls)?;
        let name = ServerName::try_from(
            receiver
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
        )
        .map_err(|_| LinkError::ServerName)?;
        let tls = tokio::time::timeout(
            settings.connect_timeout,
            tokio_rustls::TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| LinkError::Timeout)?
        .map_err(LinkError::Connect)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let hello = Frame::Hello {
        protocol: PROTOCOL_VERSION,
        node: settings.node.clone(),
        username: settings.username.clone(),
        password: settings.password.clone(),
    };
    let greet = async {
        wire::write_frame(&mut stream, &hello).await?;
        match wire::read_frame(&mut stream).await? {
            Some(Frame::Welcome { .. }) => Ok(()),
            Some(Frame::Refused { reason }) => Err(LinkError::Refused(reason)),
            Some(_) => Err(LinkError::Protocol),
            None => Err(LinkError::Closed),
        }
    };
    tokio::time::timeout(settings.connect_timeout, greet)
        .await
        .map_err(|_| LinkError::Timeout)??;
    Ok(stream)
}

async fn exchange(
    stream: &mut dyn IngestStream,
    frame: &[u8],
    batch: u64,
) -> Result<(), LinkError> {
    let mut stream = stream;
    stream.write_all(frame).await.map_err(WireError::Io)?;
    stream.flush().await.map_err(WireError::Io)?;
    match wire::read_frame(&mut stream).await? {
        Some(Frame::Ack { batch: acked }) if acked == batch => Ok(()),
        Some(_) => Err(LinkError::Protocol),
        None => Err(LinkError::Closed),
    }
}
