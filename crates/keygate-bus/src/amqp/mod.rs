//! The RabbitMQ transport (AMQP 0-9-1, lapin): one durable topic exchange per subject
//! prefix (`<prefix>.events`), the subject as routing key, and for every subscription its
//! own exclusive, auto-deleted queue bound to that subject.
//!
//! - **Publishing** uses publisher confirms: [`EventBus::publish`] returns once the broker
//!   has acknowledged the event, i.e. routed it to every bound queue. While the broker is
//!   away a publish waits for the reconnect, up to [`BusSettings::publish_timeout`], and
//!   then reports [`BusError::Unavailable`]; an event whose confirmation was lost with the
//!   connection is sent again on the next one (at-least-once: consumers are idempotent).
//! - **Connections** belong to one background task (`link`): it connects, declares the
//!   exchange, re-creates every live subscription's queue and consumer, and on loss
//!   reconnects with capped, jittered exponential backoff, trying the listed brokers in
//!   turn. Each subscriber hears `Resync { Connected }` once its queue is bound again —
//!   after that it can miss nothing, so its snapshot is taken at the right moment.
//! - **Consuming** acknowledges an event once it is in the subscriber's buffer; the
//!   broker holds back the rest (a bounded prefetch), so a slow subscriber slows its own
//!   queue, never the others. A delivery that is not a keygate envelope is logged and
//!   skipped. Dropping a [`crate::Subscription`] closes its channel, which deletes its
//!   queue.

mod consumer;
mod link;

use crate::backoff::Jitter;
use crate::connect::BusSettings;
use crate::{BusError, Envelope, EventBus, Subject, Subscription};
use async_trait::async_trait;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Confirmation};
use link::{Command, Link, Session, Supervisor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout_at};

/// Events a subscriber may have waiting before its queue stops being drained.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// An [`EventBus`] over a RabbitMQ broker.
#[derive(Clone)]
pub struct AmqpBus {
    shared: Arc<Shared>,
}

struct Shared {
    exchange: String,
    brokers: String,
    publish_timeout: Duration,
    link: watch::Receiver<Link>,
    commands: mpsc::Sender<Command>,
    lost: mpsc::UnboundedSender<u64>,
}

impl AmqpBus {
    /// Starts the connection task for the AMQP brokers of `settings` and returns at once;
    /// the task connects in the background. Needs a Tokio runtime.
    pub fn start(settings: &BusSettings) -> Result<Self, BusError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| BusError::Settings("the AMQP bus needs a Tokio runtime".to_owned()))?;
        if settings.brokers.is_empty() {
            return Err(BusError::Settings("no AMQP broker configured".to_owned()));
        }
        let exchange = exchange_name(settings);
        let (link_tx, link_rx) = watch::channel(Link::Down {
            reason: "not connected yet".to_owned(),
        });
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            endpoints: settings.brokers.clone(),
            exchange: exchange.clone(),
            tls_roots_pem: crate::tls::extra_roots_pem(&settings.trust),
            client_name: settings.client_name.clone(),
            backoff: settings.backoff,
            jitter: Jitter::default(),
            link: link_tx,
            commands: commands_rx,
            lost: lost_rx,
            lost_tx: lost_tx.clone(),
            subscriptions: Vec::new(),
            generation: 0,
        };
        runtime.spawn(supervisor.run());
        Ok(Self {
            shared: Arc::new(Shared {
                exchange,
                brokers: settings.display_brokers(),
                publish_timeout: settings.publish_timeout,
                link: link_rx,
                commands: commands_tx,
                lost: lost_tx,
            }),
        })
    }

    /// The exchange this bus publishes to.
    pub fn exchange(&self) -> &str {
        &self.shared.exchange
    }

    fn unavailable(&self, reason: impl Into<String>) -> BusError {
        BusError::Unavailable {
            broker: self.shared.brokers.clone(),
            reason: reason.into(),
        }
    }

    /// The current session, or the first one newer than `failed` when that one broke.
    async fn session_after(
        link: &mut watch::Receiver<Link>,
        failed: Option<u64>,
    ) -> Option<Arc<Session>> {
        loop {
            let current = match &*link.borrow_and_update() {
                Link::Up(session) if failed.is_none_or(|g| session.generation > g) => {
                    Some(session.clone())
                }
                _ => None,
            };
            if current.is_some() {
                return current;
            }
            link.changed().await.ok()?;
        }
    }

    fn last_down_reason(&self) -> String {
        match &*self.shared.link.borrow() {
            Link::Down { reason } => reason.clone(),
            Link::Up(_) => "connection lost".to_owned(),
        }
    }
}

/// `<prefix>.events`, the one exchange of a bus.
pub fn exchange_name(settings: &BusSettings) -> String {
    format!("{}.events", settings.prefix.as_str())
}

#[async_trait]
impl EventBus for AmqpBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        let body = event.encode()?;
        let deadline = Instant::now() + self.shared.publish_timeout;
        let mut link = self.shared.link.clone();
        let mut failed = None;
        loop {
            let session = match timeout_at(deadline, Self::session_after(&mut link, failed)).await {
                Ok(Some(session)) => session,
                Ok(None) => return Err(BusError::Closed),
                Err(_) => {
                    return Err(self.unavailable(format!(
                        "not connected within {:?}: {}",
                        self.shared.publish_timeout,
                        self.last_down_reason()
                    )));
                }
            };
            let sent = timeout_at(
                deadline,
                publish_confirmed(&session, &self.shared.exchange, subject, &body),
            )
            .await;
            match sent {
                Err(_) => {
                    return Err(self.unavailable(format!(
                        "no confirmation within {:?}",
                        self.shared.publish_timeout
                    )));
                }
                Ok(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => return Ok(()),
                Ok(Ok(Confirmation::Nack(_))) => {
                    tracing::warn!(%subject, "the AMQP broker refused an event; sending it again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(%subject, %error, "publish failed with the connection; retrying on the next one");
                    let _ = self.shared.lost.send(session.generation);
                    failed = Some(session.generation);
                }
            }
        }
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        let (sink, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let (bound_tx, bound_rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Subscribe {
                subject: subject.clone(),
                sink,
                bound: bound_tx,
            })
            .await
            .map_err(|_| BusError::Closed)?;
        // Returns once the queue is bound, so an event published after this call reaches the
        // subscriber; while the broker is away it returns at once and `Resync` follows the
        // reconnect.
        let _ = tokio::time::timeout(self.shared.publish_timeout, bound_rx).await;
        Ok(Subscription::new(consumer::AmqpStream::new(rx)))
    }

    fn transport(&self) -> &'static str {
        "amqp"
    }
}

async fn publish_confirmed(
    session: &Session,
    exchange: &str,
    subject: &Subject,
    body: &[u8],
) -> lapin::Result<Confirmation> {
    session
        .publisher
        .basic_publish(
            exchange.into(),
            subject.as_str().into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await?
        .await
}
