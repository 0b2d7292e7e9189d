//! Applying ingested events: request events are counted and their decisions published on
//! `keygate.throttle.data`; revocations, blocking conditions, key templates, notifications
//! and cache invalidations are republished on their subject. Every event is applied once
//! per id.

use crate::clock::Clock;
use crate::dedup::{MAX_EVENT_ID_BYTES, RecentIds};
use crate::engine::{DecisionEngine, RequestReport};
use crate::policy::PolicySource;
use crate::settings::TrafficSettings;
use keygate_bus::ingest::{IngestEvent, Topic};
use keygate_bus::{BusError, Envelope, EventBus, Subject};
use keygate_throttle::ThrottleDecision;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Envelope type of a throttle decision on `keygate.throttle.data`.
pub const THROTTLE_DECISION: &str = "THROTTLE_DECISION";

/// Counters of one traffic manager.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) broken: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) relayed: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) decisions: AtomicU64,
}

/// What a traffic manager has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Producer connections accepted (hello included).
    pub connections: u64,
    /// Hellos refused.
    pub refused: u64,
    /// Connections closed for a malformed, oversized or unexpected frame.
    pub broken: u64,
    /// Batches acknowledged.
    pub batches: u64,
    /// Request events counted.
    pub requests: u64,
    /// Events republished.
    pub relayed: u64,
    /// Events skipped as already applied.
    pub duplicates: u64,
    /// Events skipped as malformed.
    pub malformed: u64,
    /// Decisions published.
    pub decisions: u64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TrafficStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TrafficStats {
            connections: get(&self.connections),
            refused: get(&self.refused),
            broken: get(&self.broken),
            batches: get(&self.batches),
            requests: get(&self.requests),
            relayed: get(&self.relayed),
            duplicates: get(&self.duplicates),
            malformed: get(&self.malformed),
            decisions: get(&self.decisions),
        }
    }
}

/// Everything a connection needs to apply what it receives.
pub(crate) struct Relay {
    pub(crate) settings: TrafficSettings,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) engine: DecisionEngine,
    pub(crate) policies: Arc<dyn PolicySource>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) counters: Counters,
    seen: Mutex<RecentIds>,
    revision: AtomicU64,
    /// Serialises policy reloads so that the last one loaded wins.
    reload: tokio::sync::Mutex<()>,
}

impl Relay {
    pub(crate) fn new(
        settings: TrafficSettings,
        bus: Arc<dyn EventBus>,
        engine: DecisionEngine,
        policies: Arc<dyn PolicySource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let start = u64::try_from(clock.now_ms()).unwrap_or(0);
        Self {
            seen: Mutex::new(RecentIds::new(settings.remembered_ids)),
            settings,
            bus,
            engine,
            policies,
            clock,
            counters: Counters::default(),
            revision: AtomicU64::new(start),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    fn seen(&self) -> MutexGuard<'_, RecentIds> {
        // A poisoned lock only means a thread panicked holding it; the set is intact.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies a batch in order. A failure to republish stops the batch: it is then not
    /// acknowledged, and the producer's resend skips what was already applied.
    pub(crate) async fn apply(&self, events: Vec<IngestEvent>) -> Result<(), BusError> {
        for IngestEvent { topic, event } in events {
            if event.id.is_empty() || event.id.len() > MAX_EVENT_ID_BYTES {
                Counters::add(&self.counters.malformed, 1);
                tracing::warn!(origin = %event.origin_node, %topic, "event without a usable id ignored");
                continue;
            }
            if self.seen().contains(&event.id) {
                Counters::add(&self.counters.duplicates, 1);
                continue;
            }
            match &topic {
                Topic::ThrottleRequest => self.count(&event).await,
                Topic::ThrottleData
                    if !self.settings.relay_blocking_conditions
                        && event.event_type.starts_with("BLOCK_CONDITION") => {}
                other => {
                    self.bus.publish(&self.subject(other), &event).await?;
                    Counters::add(&self.counters.relayed, 1);
                }
            }
            self.seen().insert(&event.id);
        }
        Counters::add(&self.counters.batches, 1);
        Ok(())
    }

    fn subject(&self, topic: &Topic) -> Subject {
        let prefix = &self.settings.prefix;
        match topic {
            Topic::ThrottleRequest => Subject::throttle_request(prefix),
            Topic::TokenRevocation => Subject::token_revocation(prefix),
            Topic::ThrottleData => Subject::throttle_data(prefix),
            Topic::Notification => Subject::notification(prefix),
            Topic::CacheInvalidation(domain) => Subject::cache_invalidation(prefix, domain),
        }
    }

    async fn count(&self, event: &Envelope) {
        match RequestReport::from_payload(&event.payload) {
            Ok(report) => {
                let mut decisions = Vec::new();
                self.engine.ingest(&report, &mut decisions);
                Counters::add(&self.counters.requests, 1);
                self.publish(decisions).await;
            }
            Err(error) => {
                Counters::add(&self.counters.malformed, 1);
                tracing::warn!(origin = %event.origin_node, event_id = %event.id, %error, "request event ignored");
            }
        }
    }

    /// Publishes decisions on `keygate.throttle.data`. A decision that cannot be published
    /// is logged: gateways still obey their own limits, and the next one supersedes it.
    pub(crate) async fn publish(&self, decisions: Vec<ThrottleDecision>) {
        if decisions.is_empty() {
            return;
        }
        let subject = Subject::throttle_data(&self.settings.prefix);
        let now = self.clock.now_ms();
        for decision in decisions {
            let revision = self.revision.fetch_add(1, Ordering::Relaxed) + 1;
            let payload = match serde_json::to_value(&decision) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(%error, "throttle decision not encodable");
                    continue;
                }
            };
            let envelope = Envelope {
                id: format!("{}:{revision}", self.settings.node),
                event_type: THROTTLE_DECISION.to_owned(),
                revision,
                time: now,
                origin_node: self.settings.node.clone(),
                payload,
            };
            match self.bus.publish(&subject, &envelope).await {
                Ok(()) => Counters::add(&self.counters.decisions, 1),
                Err(error) => {
                    tracing::warn!(key = %decision.key, %error, "throttle decision not published");
                }
            }
        }
    }

    /// Releases the keys whose window has ended now.
    pub(crate) async fn tick(&self) {
        let mut decisions = Vec::new();
        self.engine.tick(self.clock.now_ms(), &mut decisions);
        self.publish(decisions).await;
    }

    /// Loads the policies again and re-decides the keys of those that changed.
    pub(crate) async fn reload_policies(&self) -> Result<(), crate::policy::PolicySourceError> {
        let _one_at_a_time = self.reload.lock().await;
        let policies = self.policies.load().await?;
        let mut decisions = Vec::new();
        self.engine
            .replace_policies(policies, self.clock.now_ms(), &mut decisions);
        self.publish(decisions).await;
        Ok(())
    }
}
