//! The one task that owns the AMQP connection: connect, declare the exchange, bind every
//! live subscription, watch for loss, back off, reconnect — and tell subscribers each time.

use super::consumer;
use crate::backoff::{Jitter, ReconnectBackoff};
use crate::{BusMessage, Subject};
use futures_util::StreamExt;
use keygate_config::BrokerEndpoint;
use lapin::options::{ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Longest wait for a broker to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the connection's state is checked besides its events.
const HEALTH_CHECK: Duration = Duration::from_secs(1);

/// Whether a connection is usable.
#[derive(Clone)]
pub(crate) enum Link {
    Down { reason: String },
    Up(Arc<Session>),
}

/// One connection and its publishing channel (publisher confirms on).
pub(crate) struct Session {
    /// Increases with every connection; a failure names the session it happened on.
    pub generation: u64,
    pub connection: Connection,
    pub publisher: Channel,
}

/// What the bus asks of the connection task.
pub(crate) enum Command {
    /// Bind a queue for `subject` feeding `sink`; `bound` fires once it is bound (or at
    /// once while no broker is reachable).
    Subscribe {
        subject: Subject,
        sink: mpsc::Sender<BusMessage>,
        bound: oneshot::Sender<()>,
    },
}

/// A live subscription, re-bound on every connection.
pub(crate) struct Registered {
    pub subject: Subject,
    pub sink: mpsc::Sender<BusMessage>,
}

pub(crate) struct Supervisor {
    pub endpoints: Vec<BrokerEndpoint>,
    pub exchange: String,
    pub tls_roots_pem: Option<String>,
    pub client_name: String,
    pub backoff: ReconnectBackoff,
    pub jitter: Jitter,
    pub link: watch::Sender<Link>,
    pub commands: mpsc::Receiver<Command>,
    pub lost: mpsc::UnboundedReceiver<u64>,
    pub lost_tx: mpsc::UnboundedSender<u64>,
    pub subscriptions: Vec<Registered>,
    pub generation: u64,
}

enum Exit {
    Lost(String),
    Shutdown,
}

impl Supervisor {
    pub(crate) async fn run(mut self) {
        let mut attempt = 0u32;
        let mut endpoint_index = 0usize;
        loop {
            let endpoint = self.endpoints[endpoint_index % self.endpoints.len()].clone();
            let shown = endpoint.display_url();
            match self.open(&endpoint).await {
                Ok(session) => {
                    attempt = 0;
                    tracing::info!(broker = %shown, exchange = %self.exchange, "connected to the AMQP broker");
                    match self.serve(session).await {
                        Exit::Shutdown => return,
                        Exit::Lost(reason) => {
                            tracing::warn!(broker = %shown, %reason, "lost the AMQP broker; reconnecting");
                        }
                    }
                }
                Err(reason) => {
                    tracing::warn!(broker = %shown, %reason, attempt, "AMQP broker unreachable");
                    self.link.send_replace(Link::Down { reason });
                    endpoint_index = endpoint_index.wrapping_add(1);
                }
            }
            let delay = self.backoff.delay(attempt, self.jitter.next());
            attempt = attempt.saturating_add(1);
            if self.wait(delay).await.is_err() {
                return;
            }
        }
    }

    /// Waits out a backoff delay, registering subscriptions meanwhile. `Err` on shutdown.
    async fn wait(&mut self, delay: Duration) -> Result<(), ()> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Ok(()),
                command = self.commands.recv() => match command {
                    None => return Err(()),
                    Some(Command::Subscribe { subject, sink, bound }) => {
                        self.subscriptions.push(Registered { subject, sink });
                        let _ = bound.send(());
                    }
                },
                _ = self.lost.recv() => {}
            }
        }
    }

    async fn open(&mut self, endpoint: &BrokerEndpoint) -> Result<Arc<Session>, String> {
        let connect = async {
            let runtime = lapin::runtime::default_runtime()?;
            let properties = ConnectionProperties::default()
                .with_connection_name(self.client_name.as_str().into());
            let tls = OwnedTLSConfig {
                identity: None,
                cert_chain: self.tls_roots_pem.clone(),
            };
            let url = endpoint.connect_url();
            Connection::connect_with_config(url.expose(), properties, tls, runtime).await
        };
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        };
        match self.declare(&connection).await {
            Ok(publisher) => {
                self.generation += 1;
                Ok(Arc::new(Session {
                    generation: self.generation,
                    connection,
                    publisher,
                }))
            }
            Err(error) => {
                close(&connection).await;
                Err(error.to_string())
            }
        }
    }

    /// The exchange, and a publishing channel with confirms on.
    async fn declare(&self, connection: &Connection) -> lapin::Result<Channel> {
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    /// Binds every subscription, publishes the session, and serves until it is lost.
    async fn serve(&mut self, session: Arc<Session>) -> Exit {
        self.subscriptions.retain(|s| !s.sink.is_closed());
        for registered in &self.subscriptions {
            if let Err(error) = self.bind(&session, registered).await {
                return self.lose(&session, error.to_string()).await;
            }
        }
        self.link.send_replace(Link::Up(session.clone()));
        let mut events = session.connection.events_listener();
        let mut health = tokio::time::interval(HEALTH_CHECK);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => {
                        self.link.send_replace(Link::Down { reason: "bus closed".to_owned() });
                        close(&session.connection).await;
                        return Exit::Shutdown;
                    }
                    Some(Command::Subscribe { subject, sink, bound }) => {
                        let registered = Registered { subject, sink };
                        let result = self.bind(&session, &registered).await;
                        self.subscriptions.push(registered);
                        let _ = bound.send(());
                        if let Err(error) = result {
                            return self.lose(&session, error.to_string()).await;
                        }
                    }
                },
                generation = self.lost.recv() => {
                    if generation == Some(session.generation) {
                        return self.lose(&session, "a channel failed".to_owned()).await;
                    }
                }
                event = events.next() => match event {
                    Some(lapin::Event::Error(error)) => {
                        return self.lose(&session, error.to_string()).await;
                    }
                    Some(_) => {}
                    None => return self.lose(&session, "connection closed".to_owned()).await,
                },
                _ = health.tick() => {
                    if !session.connection.status().connected() {
                        return self.lose(&session, "connection closed".to_owned()).await;
                    }
                    self.subscriptions.retain(|s| !s.sink.is_closed());
                }
            }
        }
    }

    async fn bind(&self, session: &Session, registered: &Registered) -> lapin::Result<()> {
        consumer::bind(
            &session.connection,
            &self.exchange,
            registered,
            self.lost_tx.clone(),
            session.generation,
        )
        .await
    }

    async fn lose(&mut self, session: &Session, reason: String) -> Exit {
        self.link.send_replace(Link::Down {
            reason: reason.clone(),
        });
        close(&session.connection).await;
        Exit::Lost(reason)
    }
}

/// Closes a connection, not waiting long for a broker that may be gone.
async fn close(connection: &Connection) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        connection.close(200, "keygate closing".into()),
    )
    .await;
}
