//! Request events (DESIGN §5, `keygate.throttle.request`): one [`RequestEvent`] per
//! admitted request, with the throttle keys it was counted under, for the traffic
//! managers that count globally. Published only when `[apim.throttling]
//! enable_data_publishing` is on.
//!
//! Nothing here is on the request path but a push into a bounded in-memory queue
//! ([`RequestEventQueue::push`]): a background task ([`RequestEventQueue::spawn`]) takes
//! events off in batches and hands them, typed, to a [`RequestEventSink`] — the node picks
//! it: its own traffic manager in one process, the ingestion producer of the url groups,
//! or the broker. When the sink cannot keep up the queue drops
//! its oldest events, counted in `keygate_gateway_request_events_dropped_total`, rather
//! than slow requests down or grow without bound: a global limit then counts a little
//! low for a moment, which is what WSO2's gateways do under the same pressure.

use async_trait::async_trait;
pub use keygate_throttle::RequestEvent;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Default largest number of events waiting to be published.
pub const DEFAULT_QUEUE_CAPACITY: usize = 65_536;
/// Default largest number of events handed to the sink at once.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default longest time an event waits before its batch goes out: short, because the
/// traffic managers' leases follow what they have counted (the ingestion producer
/// batches again, also for 5 ms at most).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(5);

/// Why a sink could not take a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request events not published: {0}")]
pub struct RequestEventError(pub String);

/// Where batches of request events go.
#[async_trait]
pub trait RequestEventSink: Send + Sync + fmt::Debug {
    /// Publishes one batch, oldest event first.
    async fn publish(&self, batch: Vec<RequestEvent>) -> Result<(), RequestEventError>;
}

/// How events are queued and batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestEventSettings {
    /// Largest number of events waiting; beyond it the oldest are dropped.
    pub capacity: usize,
    /// Largest batch handed to the sink.
    pub batch_size: usize,
    /// Longest time an event waits for its batch to fill.
    pub flush_interval: Duration,
}

impl Default for RequestEventSettings {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_QUEUE_CAPACITY,
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

/// The bounded queue between request handlers and the publishing task.
#[derive(Debug)]
pub struct RequestEventQueue {
    settings: RequestEventSettings,
    pending: Mutex<VecDeque<RequestEvent>>,
    ready: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl RequestEventQueue {
    /// An empty queue.
    pub fn new(settings: RequestEventSettings) -> Arc<Self> {
        let settings = RequestEventSettings {
            capacity: settings.capacity.max(1),
            batch_size: settings.batch_size.max(1),
            ..settings
        };
        Arc::new(Self {
            pending: Mutex::new(VecDeque::with_capacity(settings.capacity.min(4096))),
            settings,
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RequestEvent>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an event, dropping the oldest one when the queue is full.
    pub fn push(&self, event: RequestEvent) {
        let (dropped, full_batch) = {
            let mut pending = self.lock();
            let dropped = if pending.len() >= self.settings.capacity {
                pending.pop_front().is_some()
            } else {
                false
            };
            pending.push_back(event);
            let len = pending.len();
            (dropped, len == 1 || len >= self.settings.batch_size)
        };
        if dropped {
            self.count_dropped(1);
        }
        // The first event wakes the publishing task, which then waits out the flush
        // interval unless a full batch wakes it sooner.
        if full_batch {
            self.ready.notify_one();
        }
    }

    fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("keygate_gateway_request_events_dropped_total").increment(n);
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped so far (queue full, or the sink refused their batch).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn take_batch(&self) -> Vec<RequestEvent> {
        let mut pending = self.lock();
        let n = pending.len().min(self.settings.batch_size);
        pending.drain(..n).collect()
    }

    /// Publishes what waits, batch by batch.
    async fn flush(&self, sink: &dyn RequestEventSink) {
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                return;
            }
            let n = batch.len() as u64;
            match sink.publish(batch).await {
                Ok(()) => {
                    metrics::counter!("keygate_gateway_request_events_published_total")
                        .increment(n);
                }
                Err(error) => {
                    tracing::warn!(%error, events = n, "request events dropped");
                    self.count_dropped(n);
                    return;
                }
            }
        }
    }

    /// Stops the publishing task once it has published what waits.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.ready.notify_one();
    }

    /// Starts the task that publishes batches to `sink`: when a batch is full, and at
    /// most a flush interval after the first event of a batch arrived; idle, it sleeps
    /// until an event arrives. It ends after [`RequestEventQueue::close`].
    pub fn spawn(self: &Arc<Self>, sink: Arc<dyn RequestEventSink>) -> JoinHandle<()> {
        let queue = self.clone();
        tokio::spawn(async move {
            loop {
                if queue.is_empty() && !queue.closed.load(Ordering::SeqCst) {
                    queue.ready.notified().await;
                }
                if queue.len() < queue.settings.batch_size && !queue.closed.load(Ordering::SeqCst) {
                    tokio::select! {
                        () = queue.ready.notified() => {}
                        () = tokio::time::sleep(queue.settings.flush_interval) => {}
                    }
                }
                queue.flush(sink.as_ref()).await;
                if queue.closed.load(Ordering::SeqCst) {
                    queue.flush(sink.as_ref()).await;
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_throttle::{CountedKey, Limit, Measure};

    fn event(time_ms: i64) -> RequestEvent {
        RequestEvent {
            time_ms,
            message_size: 0,
            keys: vec![CountedKey {
                key: "1:/pets/1.0.0:1.0.0".into(),
                limit: Limit {
                    max: 10,
                    window_ms: 60_000,
                    measure: Measure::Requests,
                },
            }],
        }
    }

    #[derive(Debug, Default)]
    struct Recorder {
        batches: Mutex<Vec<Vec<i64>>>,
        refuse: AtomicBool,
    }

    #[async_trait]
    impl RequestEventSink for Recorder {
        async fn publish(&self, batch: Vec<RequestEvent>) -> Result<(), RequestEventError> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err(RequestEventError("broker down".into()));
            }
            self.batches
                .lock()
                .unwrap()
                .push(batch.iter().map(|e| e.time_ms).collect());
            Ok(())
        }
    }

    fn settings(capacity: usize, batch_size: usize) -> RequestEventSettings {
        RequestEventSettings {
            capacity,
            batch_size,
            flush_interval: Duration::from_secs(3600),
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_events() {
        let queue = RequestEventQueue::new(settings(3, 10));
        for t in 1..=5 {
            queue.push(event(t));
        }
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.dropped(), 2);
        let kept: Vec<i64> = queue.take_batch().iter().map(|e| e.time_ms).collect();
        assert_eq!(kept, vec![3, 4, 5]);
    }

    #[tokio::test]
    async fn full_batches_go_out_in_order_and_close_flushes_the_rest() {
        let queue = RequestEventQueue::new(settings(100, 2));
        let sink = Arc::new(Recorder::default());
        let task = queue.spawn(sink.clone());
        for t in 1..=5 {
            queue.push(event(t));
        }
        queue.close();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        let batches = sink.batches.lock().unwrap().clone();
        assert_eq!(batches.concat(), vec![1, 2, 3, 4, 5]);
        assert!(batches.iter().all(|b| b.len() <= 2), "{batches:?}");
        assert_eq!(queue.dropped(), 0);
    }

    #[tokio::test]
    async fn a_refused_batch_is_counted_as_dropped() {
        let queue = RequestEventQueue::new(settings(100, 10));
        let sink = Arc::new(Recorder::default());
        sink.refuse.store(true, Ordering::SeqCst);
        queue.push(event(1));
        queue.push(event(2));
        queue.flush(sink.as_ref()).await;
        assert_eq!(queue.dropped(), 2);
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn a_lone_event_goes_out_within_the_flush_interval() {
        let queue = RequestEventQueue::new(RequestEventSettings {
            capacity: 10,
            batch_size: 10,
            flush_interval: Duration::from_millis(20),
        });
        let sink = Arc::new(Recorder::default());
        let _task = queue.spawn(sink.clone());
        queue.push(event(7));
        let published = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if !sink.batches.lock().unwrap().is_empty() {
                    return sink.batches.lock().unwrap().clone();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(published, vec![vec![7]]);
    }
}
