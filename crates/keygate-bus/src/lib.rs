//! The event bus of DESIGN §5: one envelope for every event, subjects named after what they
//! carry, and an [`EventBus`] trait whose implementations all pass one conformance suite.
//!
//! Three implementations: [`InProcessBus`] when every role runs in one process and no broker
//! is configured, [`AmqpBus`] over RabbitMQ and [`NatsBus`] over NATS; [`connect`] picks one
//! from `[apim.throttling] throttle_decision_endpoints`. Delivery is at-least-once and consumers
//! are idempotent; when a subscriber falls behind or its transport reconnects it is told so
//! ([`BusMessage::Resync`]) and heals the gap from a snapshot instead of losing events.

#![forbid(unsafe_code)]

pub mod amqp;
mod backoff;
pub mod conformance;
mod connect;
mod envelope;
mod in_process;
pub mod ingest;
pub mod nats;
mod subject;
mod tls;

pub use amqp::AmqpBus;
pub use backoff::ReconnectBackoff;
pub use connect::{BrokerTrust, BusSettings, DEFAULT_PUBLISH_TIMEOUT, connect};
pub use envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_BYTES};
pub use in_process::InProcessBus;
pub use ingest::{Delivery, Producer, ProducerSettings, Topic};
pub use nats::NatsBus;
pub use subject::{Subject, SubjectPrefix};

use async_trait::async_trait;

/// Why the bus could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus has been closed; no more events flow.
    #[error("event bus closed")]
    Closed,
    /// The broker could not be reached or refused the operation.
    #[error("event broker {broker} unavailable: {reason}")]
    Unavailable { broker: String, reason: String },
    /// The bus settings cannot work (mixed broker kinds, unusable trust certificates).
    #[error("event bus settings: {0}")]
    Settings(String),
    /// The event could not be encoded or decoded.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum BusMessage {
    /// One event, in the order the bus delivered it.
    Event(Envelope),
    /// Events may have been missed (a reconnect, or this subscriber fell behind): the
    /// consumer must rebuild its state from a snapshot before applying further events.
    Resync { reason: ResyncReason },
}

/// Why a subscriber is asked to resynchronise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// The subscription has just been established (first connect or reconnect).
    Connected,
    /// The subscriber did not keep up and `missed` events were dropped for it.
    Lagged { missed: u64 },
}

/// A stream of messages for one subject.
pub struct Subscription {
    inner: Box<dyn SubscriptionStream>,
}

impl Subscription {
    /// Wraps a transport's stream.
    pub fn new(inner: impl SubscriptionStream + 'static) -> Self {
        Self {
            inner: Box::new(inner),
        }
    }

    /// The next message, or `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<BusMessage> {
        self.inner.next().await
    }
}

/// The transport side of a [`Subscription`].
#[async_trait]
pub trait SubscriptionStream: Send {
    /// The next message, or `None` once the bus is closed.
    async fn next(&mut self) -> Option<BusMessage>;
}

/// Publish/subscribe over subjects (DESIGN §5). Implementations: in-process, RabbitMQ, NATS.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes one event on a subject. Returns once the transport has accepted it.
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError>;

    /// Subscribes to one subject. The first message is always
    /// `Resync { reason: Connected }`, so a consumer takes its snapshot exactly when it
    /// can no longer miss events.
    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError>;

    /// A short name for logs and metrics (`in-process`, `amqp`, `nats`).
    fn transport(&self) -> &'static str;
}
