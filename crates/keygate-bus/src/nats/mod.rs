//! The NATS transport (async-nats): subjects are the [`Subject`] strings themselves.
//!
//! **Core NATS, not JetStream.** Every consumer of the bus heals gaps from a snapshot
//! (DESIGN §2): it re-snapshots on `Resync`, which it hears after every (re)connect. What
//! JetStream would add — replaying what a subscriber missed — is therefore already covered,
//! while it would cost a stream per prefix, consumer state on the server and a second
//! delivery path to keep right. Core NATS with `Resync` on reconnect is the smaller system
//! with the same guarantee.
//!
//! - **Connections**: async-nats reconnects by itself; the bus sets its delay schedule
//!   ([`crate::ReconnectBackoff`], jittered), never gives up, and turns its connection
//!   events into [`BusMessage::Resync`]. After a reconnect the client re-subscribes; the bus
//!   waits until the server has those subscriptions (a confirm round trip, see
//!   `confirm`) and only then tells every live subscription `Resync { Connected }`.
//!   A slow-consumer report (the client or server dropped messages for this connection)
//!   becomes `Resync { Lagged { missed: 1 } }` for every subscription: at least one event
//!   was lost, and NATS does not say which subscription or how many.
//! - **Publishing**: [`EventBus::publish`] returns once the server has taken the event
//!   (its confirm token came back). While the server is away it waits for the reconnect, up
//!   to [`crate::BusSettings::publish_timeout`], then reports [`BusError::Unavailable`]; an
//!   event whose confirmation was lost with the connection is published again
//!   (at-least-once).
//! - **Subscribing** returns once the server has the subscription; a payload that is not
//!   a keygate envelope is logged and skipped. Dropping a [`Subscription`] unsubscribes.

mod confirm;

use crate::backoff::Jitter;
use crate::connect::BusSettings;
use crate::{BusError, BusMessage, Envelope, EventBus, ResyncReason, Subject, Subscription};
use crate::{SubscriptionStream, tls};
use async_nats::{Client, ConnectOptions, ServerAddr};
use async_trait::async_trait;
use confirm::Confirms;
use futures_util::StreamExt;
use keygate_config::BrokerTransport;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

/// `Resync` notices a subscription may have pending before older ones are folded into one.
const RESYNC_BUFFER: usize = 16;
/// How long one confirm round trip after a connect may take before it is asked again.
const CONFIRM_ATTEMPT: Duration = Duration::from_secs(5);

/// The connection as the bus sees it: `generation` grows with every confirmed connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    generation: u64,
    up: bool,
}

/// An [`EventBus`] over a NATS server.
#[derive(Clone)]
pub struct NatsBus {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    brokers: String,
    publish_timeout: Duration,
    confirm_subject: String,
    confirms: Arc<Confirms>,
    link: watch::Receiver<Link>,
    resyncs: broadcast::Sender<ResyncReason>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Ends every subscription and closes the connection once pending messages are out.
        let client = self.client.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.drain().await;
            });
        }
    }
}

impl NatsBus {
    /// Connects to the NATS servers of `settings` in the background and returns at once.
    pub async fn start(settings: &BusSettings) -> Result<Self, BusError> {
        let brokers = settings.display_brokers();
        let servers = settings
            .brokers
            .iter()
            .map(|b| {
                b.connect_url().expose().parse::<ServerAddr>().map_err(|_| {
                    BusError::Settings(format!("not a NATS server URL: {}", b.display_url()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(BusError::Settings("no NATS server configured".to_owned()));
        }
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let backoff = settings.backoff;
        let jitter = Arc::new(Jitter::default());
        let mut options = ConnectOptions::new()
            .name(settings.client_name.clone())
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| {
                let attempt = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
                backoff.delay(attempt, jitter.next())
            })
            .event_callback(move |event| {
                let events = events_tx.clone();
                async move {
                    let _ = events.send(event);
                }
            });
        if settings
            .brokers
            .iter()
            .any(|b| b.transport == BrokerTransport::NatsTls)
        {
            options = options.tls_client_config(tls::client_config(&settings.trust)?);
        }
        let client = options
            .connect(servers)
            .await
            .map_err(|e| BusError::Unavailable {
                broker: brokers.clone(),
                reason: e.to_string(),
            })?;

        let confirm_subject = format!(
            "{}._confirm.{}",
            settings.prefix.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        let confirms = Arc::new(Confirms::default());
        let echoes = client
            .subscribe(confirm_subject.clone())
            .await
            .map_err(|e| BusError::Unavailable {
                broker: brokers.clone(),
                reason: e.to_string(),
            })?;
        let (link_tx, link_rx) = watch::channel(Link {
            generation: 0,
            up: false,
        });
        let (resyncs, _) = broadcast::channel(RESYNC_BUFFER);
        let monitor = Monitor {
            client: client.clone(),
            confirms: confirms.clone(),
            confirm_subject: confirm_subject.clone(),
            link: link_tx,
            resyncs: resyncs.clone(),
            brokers: brokers.clone(),
        };
        let tasks = vec![
            tokio::spawn(confirms.clone().serve(echoes)),
            tokio::spawn(monitor.run(events_rx)),
        ];
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                brokers,
                publish_timeout: settings.publish_timeout,
                confirm_subject,
                confirms,
                link: link_rx,
                resyncs,
                tasks,
            }),
        })
    }

    fn unavailable(&self, reason: impl Into<String>) -> BusError {
        BusError::Unavailable {
            broker: self.shared.brokers.clone(),
            reason: reason.into(),
        }
    }

    /// Waits until the connection is up; its generation.
    async fn up(link: &mut watch::Receiver<Link>) -> Option<u64> {
        loop {
            let now = *link.borrow_and_update();
            if now.up {
                return Some(now.generation);
            }
            link.changed().await.ok()?;
        }
    }

    /// Resolves when the connection of `generation` is no longer the current one.
    async fn superseded(link: &mut watch::Receiver<Link>, generation: u64) {
        loop {
            let now = *link.borrow_and_update();
            if !now.up || now.generation != generation {
                return;
            }
            if link.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        let body = bytes_of(event.encode()?);
        let deadline = Instant::now() + self.shared.publish_timeout;
        let mut link = self.shared.link.clone();
        loop {
            let generation = match timeout_at(deadline, Self::up(&mut link)).await {
                Ok(Some(generation)) => generation,
                Ok(None) => return Err(BusError::Closed),
                Err(_) => {
                    return Err(self.unavailable(format!(
                        "not connected within {:?}",
                        self.shared.publish_timeout
                    )));
                }
            };
            self.shared
                .client
                .publish(subject.as_str().to_owned(), body.clone())
                .await
                .map_err(|e| self.unavailable(e.to_string()))?;
            let confirmed = async {
                tokio::select! {
                    sent = self.shared.confirms.round_trip(&self.shared.client, &self.shared.confirm_subject) => sent.is_ok(),
                    () = Self::superseded(&mut link, generation) => false,
                }
            };
            match timeout_at(deadline, confirmed).await {
                Ok(true) => return Ok(()),
                // The connection changed under the event: send it again on the new one.
                Ok(false) => continue,
                Err(_) => {
                    return Err(self.unavailable(format!(
                        "no confirmation within {:?}",
                        self.shared.publish_timeout
                    )));
                }
            }
        }
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        let resyncs = self.shared.resyncs.subscribe();
        let subscriber = self
            .shared
            .client
            .subscribe(subject.as_str().to_owned())
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        // Wait until the server has the subscription, so nothing published after this call
        // is missed. While the server is away this gives up after the publish timeout and
        // the reconnect's Resync is the first message instead.
        let mut link = self.shared.link.clone();
        let confirmed = timeout(self.shared.publish_timeout, async {
            Self::up(&mut link).await?;
            self.shared
                .confirms
                .round_trip(&self.shared.client, &self.shared.confirm_subject)
                .await
                .ok()
        })
        .await;
        let greeting = (matches!(confirmed, Ok(Some(()))) || self.shared.link.borrow().up)
            .then_some(BusMessage::Resync {
                reason: ResyncReason::Connected,
            });
        let mut resyncs = resyncs;
        if greeting.is_some() {
            // Notices sent so far predate the caller's snapshot, which follows the greeting.
            while resyncs.try_recv().is_ok() {}
        }
        Ok(Subscription::new(NatsStream {
            subject: subject.clone(),
            subscriber,
            resyncs,
            greeting,
        }))
    }

    fn transport(&self) -> &'static str {
        "nats"
    }
}

fn bytes_of(body: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(body)
}

/// Turns the client's connection events into link states and `Resync` notices.
struct Monitor {
    client: Client,
    confirms: Arc<Confirms>,
    confirm_subject: String,
    link: watch::Sender<Link>,
    resyncs: broadcast::Sender<ResyncReason>,
    brokers: String,
}

impl Monitor {
    async fn run(self, mut events: mpsc::UnboundedReceiver<async_nats::Event>) {
        let mut generation = 0u64;
        while let Some(event) = events.recv().await {
            match event {
                async_nats::Event::Connected => {
                    if !self.confirm_subscriptions().await {
                        continue;
                    }
                    generation += 1;
                    tracing::info!(broker = %self.brokers, generation, "connected to NATS");
                    self.link.send_replace(Link {
                        generation,
                        up: true,
                    });
                    let _ = self.resyncs.send(ResyncReason::Connected);
                }
                async_nats::Event::Disconnected => {
                    tracing::warn!(broker = %self.brokers, "lost the NATS server; reconnecting");
                    self.link.send_replace(Link {
                        generation,
                        up: false,
                    });
                }
                async_nats::Event::SlowConsumer(_)
                | async_nats::Event::ServerError(async_nats::ServerError::SlowConsumer(_)) => {
                    tracing::warn!(broker = %self.brokers, "NATS dropped events for a slow subscriber");
                    let _ = self.resyncs.send(ResyncReason::Lagged { missed: 1 });
                }
                async_nats::Event::Closed => {
                    self.link.send_replace(Link {
                        generation,
                        up: false,
                    });
                }
                other => tracing::debug!(broker = %self.brokers, event = %other, "NATS event"),
            }
        }
    }
}

impl Monitor {
    /// After a connect the client re-subscribes; a round trip proves the server has every
    /// subscription before subscribers are told. Retried while the connection lasts; `false`
    /// when it dropped first (its next connect brings another event).
    async fn confirm_subscriptions(&self) -> bool {
        loop {
            let confirmed = timeout(
                CONFIRM_ATTEMPT,
                self.confirms
                    .round_trip(&self.client, &self.confirm_subject),
            )
            .await;
            if matches!(confirmed, Ok(Ok(()))) {
                return true;
            }
            if self.client.connection_state() != async_nats::connection::State::Connected {
                tracing::debug!(broker = %self.brokers, "NATS connection dropped before it confirmed its subscriptions");
                return false;
            }
            tracing::warn!(broker = %self.brokers, "NATS server slow to confirm subscriptions; asking again");
        }
    }
}

/// One subscription: its greeting, then reconnect notices and events as they come.
struct NatsStream {
    subject: Subject,
    subscriber: async_nats::Subscriber,
    resyncs: broadcast::Receiver<ResyncReason>,
    greeting: Option<BusMessage>,
}

#[async_trait]
impl SubscriptionStream for NatsStream {
    async fn next(&mut self) -> Option<BusMessage> {
        if let Some(greeting) = self.greeting.take() {
            return Some(greeting);
        }
        loop {
            tokio::select! {
                biased;
                notice = self.resyncs.recv() => match notice {
                    Ok(reason) => return Some(BusMessage::Resync { reason }),
                    // Several reconnects since the last look: one resync covers them all.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some(BusMessage::Resync { reason: ResyncReason::Connected });
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                message = self.subscriber.next() => match message {
                    Some(message) => match Envelope::decode(&message.payload) {
                        Ok(event) => return Some(BusMessage::Event(event)),
                        Err(error) => {
                            tracing::warn!(subject = %self.subject, %error, bytes = message.payload.len(), "skipping a message that is not a keygate event");
                        }
                    },
                    None => return None,
                },
            }
        }
    }
}
