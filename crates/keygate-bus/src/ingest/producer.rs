//! [`Producer`]: one per node, sending its events to every traffic-manager group. Each
//! group has its own buffers and sender task, so a group whose traffic managers are away
//! holds back only its own copy of the stream.

use super::link::GroupLinks;
use super::queue::{Delivery, DeliveryState, GroupQueue, Pending, ProducerCounters, ProducerStats};
use super::wire::{self, IngestEvent, LENGTH_PREFIX_BYTES, MAX_FRAME_BYTES, Topic};
use crate::Envelope;
use keygate_model::Secret;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How a group spreads batches over its receivers (`[[apim.throttling.url_group]] type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// Round robin, batch by batch.
    #[default]
    LoadBalance,
    /// The first receiver that is up, in order.
    Failover,
}

/// A traffic manager's ingestion endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// Host name or address (IPv6 in brackets or not).
    pub host: String,
    /// Port: 9611 plain, 9711 TLS, plus the traffic manager's offset.
    pub port: u16,
    /// TLS, verified with [`ProducerSettings::tls`].
    pub tls: bool,
}

impl fmt::Display for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "ssl" } else { "tcp" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// One `[[apim.throttling.url_group]]`: every group receives every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverGroup {
    /// How batches are spread over the receivers.
    pub balance: Balance,
    /// The group's traffic managers.
    pub receivers: Vec<Receiver>,
}

/// Default per-group buffer of request events.
pub const DEFAULT_REQUEST_BUFFER: usize = 65_536;
/// Default per-group buffer of reliable events.
pub const DEFAULT_RELIABLE_BUFFER: usize = 16_384;
/// Default largest batch, in events.
pub const DEFAULT_BATCH_EVENTS: usize = 512;
/// Default largest batch, in encoded bytes.
pub const DEFAULT_BATCH_BYTES: usize = 512 * 1024;
/// Default time a request event waits for company before its batch leaves.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);

/// What a [`Producer`] needs.
#[derive(Clone)]
pub struct ProducerSettings {
    /// This node's name, sent in the hello.
    pub node: String,
    /// The traffic-manager groups; none: every send succeeds at once and goes nowhere.
    pub groups: Vec<ReceiverGroup>,
    /// `[apim.throttling] username`.
    pub username: String,
    /// `[apim.throttling] password`.
    pub password: Secret,
    /// Client configuration for `ssl://` receivers.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `enable_data_publishing`: request events are sent; otherwise discarded here.
    pub publish_requests: bool,
    /// Request events buffered per group before the oldest is dropped.
    pub request_buffer: usize,
    /// Reliable events buffered per group before senders wait.
    pub reliable_buffer: usize,
    /// Largest batch, in events.
    pub batch_events: usize,
    /// Largest batch, in encoded bytes (at most [`MAX_FRAME_BYTES`]).
    pub batch_bytes: usize,
    /// How long request events wait for company; reliable events never wait.
    pub linger: Duration,
    /// Connecting, TLS and hello, each.
    pub connect_timeout: Duration,
    /// Waiting for a batch's acknowledgement.
    pub ack_timeout: Duration,
    /// First wait before retrying a receiver that failed.
    pub backoff_min: Duration,
    /// Longest wait before retrying it.
    pub backoff_max: Duration,
}

impl ProducerSettings {
    /// Defaults for `node` sending to `groups` with the given credentials.
    pub fn new(
        node: impl Into<String>,
        groups: Vec<ReceiverGroup>,
        username: impl Into<String>,
        password: Secret,
    ) -> Self {
        Self {
            node: node.into(),
            groups,
            username: username.into(),
            password,
            tls: None,
            publish_requests: true,
            request_buffer: DEFAULT_REQUEST_BUFFER,
            reliable_buffer: DEFAULT_RELIABLE_BUFFER,
            batch_events: DEFAULT_BATCH_EVENTS,
            batch_bytes: DEFAULT_BATCH_BYTES,
            linger: DEFAULT_LINGER,
            connect_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for ProducerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerSettings")
            .field("node", &self.node)
            .field("groups", &self.groups)
            .field("username", &self.username)
            .field("tls", &self.tls.is_some())
            .field("publish_requests", &self.publish_requests)
            .finish_non_exhaustive()
    }
}

/// Why an event was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// The producer has been shut down.
    #[error("event producer shut down")]
    Closed,
}

struct Shared {
    groups: Vec<Arc<GroupQueue>>,
    counters: Arc<ProducerCounters>,
    publish_requests: bool,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The node's ingestion client. Cheap to clone; every clone feeds the same buffers.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Shared>,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("groups", &self.shared.groups.len())
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// Starts one sender task per group; must be called inside a Tokio runtime.
    pub fn start(settings: ProducerSettings) -> Self {
        let settings = Arc::new(settings);
        let counters = Arc::new(ProducerCounters::default());
        let (shutdown, _) = watch::channel(false);
        let mut groups = Vec::new();
        let mut tasks = Vec::new();
        for group in &settings.groups {
            let queue = Arc::new(GroupQueue::new(
                settings.request_buffer,
                settings.reliable_buffer,
            ));
            let links = GroupLinks::new(
                group.balance,
                group.receivers.clone(),
                Arc::clone(&settings),
                Arc::clone(&counters),
            );
            let sender = GroupSender {
                queue: Arc::clone(&queue),
                links,
                settings: Arc::clone(&settings),
                counters: Arc::clone(&counters),
                shutdown: shutdown.subscribe(),
                carry: None,
                batch: 0,
            };
            tasks.push(tokio::spawn(sender.run()));
            groups.push(queue);
        }
        Self {
            shared: Arc::new(Shared {
                groups,
                counters,
                publish_requests: settings.publish_requests,
                shutdown,
                tasks: Mutex::new(tasks),
            }),
        }
    }

    /// Queues a request event (`keygate.throttle.request`) for every group without waiting:
    /// when a group's buffer is full its oldest request event is dropped and counted.
    pub fn send_request(&self, event: Envelope) {
        if !self.shared.publish_requests {
            return;
        }
        let item = IngestEvent {
            topic: Topic::ThrottleRequest,
            event,
        };
        for queue in &self.shared.groups {
            if queue.push_request(item.clone()) {
                ProducerCounters::add(&self.shared.counters.requests_dropped, 1);
            }
        }
    }

    /// Queues a reliable event for every group, waiting while a group's buffer is full. It is
    /// retried until acknowledged; the [`Delivery`] tells when.
    pub async fn send(&self, topic: Topic, event: Envelope) -> Result<Delivery, ProducerError> {
        if topic == Topic::ThrottleRequest {
            self.send_request(event);
            // Request events are never acknowledged one by one.
            return Ok(Delivery::new(&DeliveryState::new(), 0));
        }
        let state = DeliveryState::new();
        let delivery = Delivery::new(&state, self.shared.groups.len());
        let item = IngestEvent { topic, event };
        for queue in &self.shared.groups {
            let pending = Pending {
                event: item.clone(),
                delivery: Arc::clone(&state),
            };
            if !queue.push_reliable(pending).await {
                return Err(ProducerError::Closed);
            }
        }
        Ok(delivery)
    }

    /// Queues a token revocation (`keygate.token.revocation`); never dropped.
    pub async fn send_revocation(&self, event: Envelope) -> Result<Delivery, ProducerError> {
        self.send(Topic::TokenRevocation, event).await
    }

    /// The counters so far.
    pub fn stats(&self) -> ProducerStats {
        self.shared.counters.snapshot()
    }

    /// Stops the sender tasks; events still buffered are abandoned (revocations are
    /// persisted before they are sent, and gateways re-read them on their next snapshot).
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        for queue in &self.shared.groups {
            queue.close();
        }
        let tasks = std::mem::take(
            &mut *self
                .shared
                .tasks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// An event encoded for a batch, with its delivery when it is reliable.
struct Encoded {
    bytes: Vec<u8>,
    delivery: Option<Arc<DeliveryState>>,
}

/// A batch ready to go: the sealed frame and the deliveries it completes.
struct Batch {
    frame: Vec<u8>,
    events: u64,
    deliveries: Vec<Arc<DeliveryState>>,
}

struct GroupSender {
    queue: Arc<GroupQueue>,
    links: GroupLinks,
    settings: Arc<ProducerSettings>,
    counters: Arc<ProducerCounters>,
    shutdown: watch::Receiver<bool>,
    carry: Option<Encoded>,
    batch: u64,
}

impl GroupSender {
    async fn run(mut self) {
        while let Some(batch) = self.next_batch().await {
            loop {
                if *self.shutdown.borrow() {
                    return;
                }
                match self.links.deliver(&batch.frame, self.batch).await {
                    Ok(()) => break,
                    Err(retry_at) => {
                        tokio::select! {
                            () = tokio::time::sleep_until(retry_at) => {}
                            _ = self.shutdown.changed() => return,
                        }
                    }
                }
            }
            ProducerCounters::add(&self.counters.batches_acked, 1);
            ProducerCounters::add(&self.counters.events_acked, batch.events);
            for delivery in batch.deliveries {
                delivery.acked();
            }
        }
    }

    /// Waits for events and cuts the next batch: at once when a reliable event waits or the
    /// batch is full, otherwise when the oldest request event has waited `linger`.
    async fn next_batch(&mut self) -> Option<Batch> {
        let mut first_request: Option<Instant> = None;
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            let queue = Arc::clone(&self.queue);
            let arrived = queue.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let deadline = {
                let state = queue.lock();
                if state.closed {
                    return None;
                }
                let urgent = self.carry.is_some()
                    || !state.reliable.is_empty()
                    || state.requests.len() >= self.settings.batch_events;
                let waiting = !state.requests.is_empty();
                drop(state);
                let since = waiting.then(|| *first_request.get_or_insert_with(Instant::now));
                let due = since.map(|since| since + self.settings.linger);
                if urgent || due.is_some_and(|due| Instant::now() >= due) {
                    if let Some(batch) = self.cut() {
                        return Some(batch);
                    }
                    first_request = None;
                    continue;
                }
                due
            };
            let linger = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut arrived => {}
                () = linger => {}
                changed = self.shutdown.changed() => {
                    // Every handle is gone, or shutdown was asked for.
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Takes reliable events first, then request events, up to the batch limits.
    fn cut(&mut self) -> Option<Batch> {
        self.batch += 1;
        let header = format!(r#"{{"frame":"batch","batch":{},"events":["#, self.batch);
        let max_bytes = self
            .settings
            .batch_bytes
            .clamp(1, MAX_FRAME_BYTES.saturating_sub(header.len() + 2));
        let mut frame = vec![0u8; LENGTH_PREFIX_BYTES];
        frame.extend_from_slice(header.as_bytes());
        let mut body_bytes = 0usize;
        let mut events = 0u64;
        let mut deliveries = Vec::new();
        let mut freed_reliable = false;
        loop {
            if events >= self.settings.batch_events.max(1) as u64 {
                break;
            }
            let next = match self.carry.take() {
                Some(encoded) => encoded,
                None => {
                    let mut state = self.queue.lock();
                    let (event, delivery) = if let Some(pending) = state.reliable.pop_front() {
                        freed_reliable = true;
                        (pending.event, Some(pending.delivery))
                    } else if let Some(event) = state.requests.pop_front() {
                        (event, None)
                    } else {
                        break;
                    };
                    drop(state);
                    match serde_json::to_vec(&event) {
                        Ok(bytes) if bytes.len() <= max_bytes => Encoded { bytes, delivery },
                        _ => {
                            tracing::error!(event_id = %event.event.id, topic = %event.topic, "event too large for the ingestion protocol, not sent");
                            ProducerCounters::add(&self.counters.events_rejected, 1);
                            if let Some(delivery) = delivery {
                                delivery.rejected();
                            }
                            continue;
                        }
                    }
                }
            };
            let separator = usize::from(events > 0);
            if events > 0 && body_bytes + separator + next.bytes.len() > max_bytes {
                self.carry = Some(next);
                break;
            }
            if separator == 1 {
                frame.push(b',');
            }
            frame.extend_from_slice(&next.bytes);
            body_bytes += separator + next.bytes.len();
            events += 1;
            if let Some(delivery) = next.delivery {
                deliveries.push(delivery);
            }
        }
        if freed_reliable {
            self.queue.room.notify_waiters();
        }
        frame.extend_from_slice(b"]}");
        if events == 0 {
            self.batch -= 1;
            return None;
        }
        match wire::seal_frame(frame) {
            Ok(frame) => Some(Batch {
                frame,
                events,
                deliveries,
            }),
            Err(error) => {
                // Unreachable with the limits above; the events cannot be sent as framed.
                tracing::error!(%error, "batch could not be framed");
                ProducerCounters::add(&self.counters.events_rejected, events);
                for delivery in deliveries {
                    delivery.rejected();
                }
                None
            }
        }
    }
}
