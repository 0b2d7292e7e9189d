//! The buffers between a node and one traffic-manager group: request events in a ring that
//! drops its oldest entry when full (counted), and reliable events (revocations and every
//! other relayed event) in a bounded queue whose senders wait for room, each carrying a
//! [`Delivery`] that completes when a traffic manager acknowledges it.

use super::wire::IngestEvent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, watch};

/// Counters of one producer, over all its groups.
#[derive(Debug, Default)]
pub struct ProducerCounters {
    /// Request events dropped because a group's buffer was full.
    pub requests_dropped: AtomicU64,
    /// Events a group refused to send because one alone exceeds a frame.
    pub events_rejected: AtomicU64,
    /// Events acknowledged, summed over groups.
    pub events_acked: AtomicU64,
    /// Batches acknowledged, summed over groups.
    pub batches_acked: AtomicU64,
    /// Connections opened to traffic managers.
    pub connections: AtomicU64,
    /// Connection attempts or exchanges that failed.
    pub failures: AtomicU64,
    /// Hellos a traffic manager refused.
    pub refusals: AtomicU64,
}

impl ProducerCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A snapshot of [`ProducerCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Request events dropped because a group's buffer was full.
    pub requests_dropped: u64,
    /// Events refused because one alone exceeds a frame.
    pub events_rejected: u64,
    /// Events acknowledged, summed over groups.
    pub events_acked: u64,
    /// Batches acknowledged, summed over groups.
    pub batches_acked: u64,
    /// Connections opened.
    pub connections: u64,
    /// Failed connection attempts or exchanges.
    pub failures: u64,
    /// Refused hellos.
    pub refusals: u64,
}

impl ProducerCounters {
    /// The counters now.
    pub fn snapshot(&self) -> ProducerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProducerStats {
            requests_dropped: get(&self.requests_dropped),
            events_rejected: get(&self.events_rejected),
            events_acked: get(&self.events_acked),
            batches_acked: get(&self.batches_acked),
            connections: get(&self.connections),
            failures: get(&self.failures),
            refusals: get(&self.refusals),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DeliveryStatus {
    acked_groups: usize,
    rejected: bool,
}

/// Shared by a reliable event's copies in every group.
#[derive(Debug)]
pub(crate) struct DeliveryState {
    status: watch::Sender<DeliveryStatus>,
}

impl DeliveryState {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            status: watch::Sender::new(DeliveryStatus::default()),
        })
    }

    pub(crate) fn acked(&self) {
        self.status.send_modify(|s| s.acked_groups += 1);
    }

    pub(crate) fn rejected(&self) {
        self.status.send_modify(|s| s.rejected = true);
    }
}

/// Why a reliable event will not be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The event alone is larger than a frame; no traffic manager can take it.
    #[error("event too large for the ingestion protocol")]
    TooLarge,
    /// The producer shut down before enough traffic managers acknowledged the event.
    #[error("producer shut down before the event was acknowledged")]
    Closed,
}

/// The acknowledgement of one reliable event. Dropping it does not cancel anything: the
/// event is still retried in the background until every group has acknowledged it.
#[derive(Debug, Clone)]
pub struct Delivery {
    status: watch::Receiver<DeliveryStatus>,
    groups: usize,
}

impl Delivery {
    pub(crate) fn new(state: &DeliveryState, groups: usize) -> Self {
        Self {
            status: state.status.subscribe(),
            groups,
        }
    }

    async fn wait_for(&mut self, groups: usize) -> Result<(), DeliveryError> {
        let result = self
            .status
            .wait_for(|s| s.rejected || s.acked_groups >= groups)
            .await
            .map(|s| *s);
        match result {
            Ok(s) if s.acked_groups >= groups => Ok(()),
            Ok(_) => Err(DeliveryError::TooLarge),
            Err(_) => Err(DeliveryError::Closed),
        }
    }

    /// Resolves once one group's traffic manager has acknowledged the event: it is then on
    /// the message broker, which is what every node subscribes to.
    pub async fn first(&mut self) -> Result<(), DeliveryError> {
        let groups = self.groups.min(1);
        self.wait_for(groups).await
    }

    /// Resolves once every group has acknowledged the event.
    pub async fn all(&mut self) -> Result<(), DeliveryError> {
        let groups = self.groups;
        self.wait_for(groups).await
    }

    /// Groups that have acknowledged the event so far.
    pub fn acknowledged_by(&self) -> usize {
        self.status.borrow().acked_groups
    }
}

/// A reliable event waiting for its group.
pub(crate) struct Pending {
    pub(crate) event: IngestEvent,
    pub(crate) delivery: Arc<DeliveryState>,
}

pub(crate) struct QueueState {
    pub(crate) requests: VecDeque<IngestEvent>,
    pub(crate) reliable: VecDeque<Pending>,
    pub(crate) closed: bool,
}

/// The buffers of one group, shared by the producer handle and the group's sender task.
pub(crate) struct GroupQueue {
    state: Mutex<QueueState>,
    request_capacity: usize,
    reliable_capacity: usize,
    /// Events arrived (or the queue closed): wakes the sender task.
    pub(crate) arrived: Notify,
    /// Reliable room freed (or the queue closed): wakes waiting senders.
    pub(crate) room: Notify,
}

impl GroupQueue {
    pub(crate) fn new(request_capacity: usize, reliable_capacity: usize) -> Self {
        Self {
            state: Mutex::new(QueueState {
                requests: VecDeque::new(),
                reliable: VecDeque::new(),
                closed: false,
            }),
            request_capacity: request_capacity.max(1),
            reliable_capacity: reliable_capacity.max(1),
            arrived: Notify::new(),
            room: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A poisoned lock only means a thread panicked while holding it; the queues are intact.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Buffers a request event, dropping the oldest when full; answers whether one was
    /// dropped.
    pub(crate) fn push_request(&self, event: IngestEvent) -> bool {
        let dropped = {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            let dropped = if state.requests.len() >= self.request_capacity {
                state.requests.pop_front().is_some()
            } else {
                false
            };
            state.requests.push_back(event);
            dropped
        };
        self.arrived.notify_one();
        dropped
    }

    /// Buffers a reliable event, waiting while the queue is full; `false` once closed.
    pub(crate) async fn push_reliable(&self, pending: Pending) -> bool {
        let mut pending = Some(pending);
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return false;
                }
                if state.reliable.len() < self.reliable_capacity {
                    if let Some(p) = pending.take() {
                        state.reliable.push_back(p);
                    }
                    drop(state);
                    self.arrived.notify_one();
                    return true;
                }
            }
            room.await;
        }
    }

    /// Wakes everyone waiting on the queue; nothing more is accepted.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.arrived.notify_one();
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Envelope;
    use crate::ingest::wire::Topic;

    fn event(id: &str) -> IngestEvent {
        IngestEvent {
            topic: Topic::ThrottleRequest,
            event: Envelope {
                id: id.into(),
                event_type: "REQUEST".into(),
                revision: 1,
                time: 0,
                origin_node: "gw".into(),
                payload: serde_json::Value::Null,
            },
        }
    }

    #[test]
    fn a_full_request_ring_drops_its_oldest_event() {
        let queue = GroupQueue::new(2, 1);
        assert!(!queue.push_request(event("a")));
        assert!(!queue.push_request(event("b")));
        assert!(queue.push_request(event("c")));
        let ids: Vec<_> = queue
            .lock()
            .requests
            .iter()
            .map(|e| e.event.id.clone())
            .collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[tokio::test]
    async fn a_full_reliable_queue_makes_its_sender_wait() {
        let queue = Arc::new(GroupQueue::new(1, 1));
        let state = DeliveryState::new();
        let pending = |id| Pending {
            event: event(id),
            delivery: Arc::clone(&state),
        };
        assert!(queue.push_reliable(pending("a")).await);
        let waiting = {
            let queue = Arc::clone(&queue);
            let second = pending("b");
            tokio::spawn(async move { queue.push_reliable(second).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(queue.lock().reliable.len(), 1);
        queue.lock().reliable.pop_front();
        queue.room.notify_waiters();
        assert!(waiting.await.unwrap());
        assert_eq!(queue.lock().reliable.len(), 1);
    }

    #[tokio::test]
    async fn a_delivery_resolves_on_the_first_and_on_every_group() {
        let state = DeliveryState::new();
        let mut delivery = Delivery::new(&state, 2);
        state.acked();
        delivery.first().await.unwrap();
        let mut all = delivery.clone();
        let waiting = tokio::spawn(async move { all.all().await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        state.acked();
        waiting.await.unwrap().unwrap();

        let state = DeliveryState::new();
        let mut delivery = Delivery::new(&state, 1);
        state.rejected();
        assert_eq!(delivery.first().await, Err(DeliveryError::TooLarge));
        let mut delivery = Delivery::new(&DeliveryState::new(), 1);
        assert_eq!(delivery.first().await, Err(DeliveryError::Closed));
    }
}
