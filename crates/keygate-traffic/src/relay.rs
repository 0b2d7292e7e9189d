//! Applying ingested events: request events are counted and their decisions published on
//! `keygate.throttle.data`; revocations, blocking conditions, key templates, notifications
//! and cache invalidations are republished on their subject. Every event is applied once
//! per id.
//!
//! With leases on ([`TrafficSettings::leases`]) the traffic manager also takes part in
//! electing the one that grants quota leases ([`Election`]): it sends a heartbeat every
//! tick, the lowest instance heard from in the last [`TAKEOVER_MS`] leads, and a traffic
//! manager leads only after [`TAKEOVER_MS`] of listening, so that two never grant at once
//! for long. The leader publishes the leases its counting causes, one batch per ingested
//! batch; followers mirror them. A gateway's catch-up request (on its (re)connection) is
//! answered with every throttle decision in force and, by the leader, that gateway's
//! leases. A gateway in the same process hands its request events over as they are
//! ([`Relay::count_events`]), without an envelope.

use crate::clock::Clock;
use crate::dedup::{MAX_EVENT_ID_BYTES, RecentIds};
use crate::engine::{DecisionEngine, RequestReport};
use crate::policy::PolicySource;
use crate::settings::TrafficSettings;
use keygate_bus::ingest::{IngestEvent, Topic};
use keygate_bus::{BusError, Envelope, EventBus, Subject};
use keygate_throttle::lease::{
    CatchUp, Heartbeat, LeaseBatch, THROTTLE_CATCH_UP, THROTTLE_LEASE, TRAFFIC_MANAGER_HEARTBEAT,
};
use keygate_throttle::{QuotaLease, RequestEvent, ThrottleDecision};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How long a traffic manager listens before it may lead, and how long a leader's silence
/// lasts before the next one takes over (milliseconds).
pub const TAKEOVER_MS: i64 = 1_000;

/// Most leases kept for a retry when the broker refuses them.
const MAX_UNSENT_LEASES: usize = 65_536;

/// Who grants leases: the lowest instance heard from in the last [`TAKEOVER_MS`], once this
/// one has listened that long.
#[derive(Debug)]
pub(crate) struct Election {
    pub(crate) instance: String,
    started_ms: i64,
    peers: Mutex<HashMap<String, i64>>,
    leading: AtomicBool,
}

impl Election {
    fn new(instance: String, started_ms: i64) -> Self {
        Self {
            instance,
            started_ms,
            peers: Mutex::new(HashMap::new()),
            leading: AtomicBool::new(false),
        }
    }

    fn peers(&self) -> MutexGuard<'_, HashMap<String, i64>> {
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Another instance's heartbeat at `now_ms`.
    pub(crate) fn heard(&self, instance: &str, now_ms: i64) {
        if instance != self.instance {
            self.peers().insert(instance.to_owned(), now_ms);
        }
    }

    /// Re-decides at `now_ms`; answers whether this instance has just started leading.
    pub(crate) fn update(&self, now_ms: i64) -> bool {
        let mut peers = self.peers();
        peers.retain(|_, seen| now_ms.saturating_sub(*seen) < 10 * TAKEOVER_MS);
        let lead = now_ms.saturating_sub(self.started_ms) >= TAKEOVER_MS
            && peers.iter().all(|(instance, seen)| {
                *instance > self.instance || now_ms.saturating_sub(*seen) >= TAKEOVER_MS
            });
        drop(peers);
        let was = self.leading.swap(lead, Ordering::Relaxed);
        lead && !was
    }

    /// Whether this instance grants leases.
    pub(crate) fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }
}

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
    pub(crate) leases: AtomicU64,
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
    /// Quota leases published.
    pub leases: u64,
    /// Whether this traffic manager grants quota leases now.
    pub leading: bool,
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
            leases: get(&self.leases),
            leading: false,
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
    pub(crate) election: Election,
    /// Leases a broker error kept from going out, re-sent on the next tick.
    unsent: Mutex<Vec<QuotaLease>>,
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
        let now = clock.now_ms();
        let start = u64::try_from(now).unwrap_or(0);
        Self {
            election: Election::new(settings.instance.clone(), now),
            unsent: Mutex::new(Vec::new()),
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
        let mut leases = Vec::new();
        let applied = self.apply_each(events, &mut leases).await;
        self.publish_leases(leases).await;
        applied
    }

    async fn apply_each(
        &self,
        events: Vec<IngestEvent>,
        leases: &mut Vec<QuotaLease>,
    ) -> Result<(), BusError> {
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
                Topic::ThrottleRequest if event.event_type == THROTTLE_CATCH_UP => {
                    self.catch_up(&event).await;
                }
                Topic::ThrottleRequest => self.count(&event, leases).await,
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

    async fn count(&self, event: &Envelope, leases: &mut Vec<QuotaLease>) {
        match RequestReport::from_payload(&event.payload) {
            Ok(report) => {
                let mut decisions = Vec::new();
                if self.settings.leases {
                    self.engine.ingest_from(
                        &event.origin_node,
                        &report,
                        self.clock.now_ms(),
                        self.election.leading(),
                        &mut decisions,
                        leases,
                    );
                } else {
                    self.engine.ingest(&report, &mut decisions);
                }
                Counters::add(&self.counters.requests, 1);
                self.publish(decisions).await;
            }
            Err(error) => {
                Counters::add(&self.counters.malformed, 1);
                tracing::warn!(origin = %event.origin_node, event_id = %event.id, %error, "request event ignored");
            }
        }
    }

    /// Counts request events a gateway of this process hands over as they are (no envelope,
    /// no id: nothing to apply twice) and publishes the decisions they cause. No leases: a
    /// gateway that reaches its traffic manager in-process follows none.
    pub(crate) async fn count_events(&self, events: &[RequestEvent]) {
        let mut decisions = Vec::new();
        for event in events {
            self.engine.ingest_event(event, &mut decisions);
        }
        Counters::add(&self.counters.requests, events.len() as u64);
        self.publish(decisions).await;
    }

    /// Answers a gateway's catch-up: every decision in force, and its leases when this
    /// traffic manager leads.
    async fn catch_up(&self, event: &Envelope) {
        let now = self.clock.now_ms();
        let node = serde_json::from_value::<CatchUp>(event.payload.clone())
            .map(|c| c.node)
            .unwrap_or_else(|_| event.origin_node.clone());
        self.publish(self.engine.throttled(now)).await;
        if self.settings.leases {
            self.engine.leases().register(&node, now);
            if self.election.leading() {
                self.publish_leases(self.engine.leases().leases_of(&node, now))
                    .await;
            }
        }
        tracing::debug!(%node, "gateway caught up");
    }

    fn envelope(&self, event_type: &str, payload: serde_json::Value) -> Envelope {
        let revision = self.revision.fetch_add(1, Ordering::Relaxed) + 1;
        Envelope {
            id: format!("{}:{revision}", self.settings.instance),
            event_type: event_type.to_owned(),
            revision,
            time: self.clock.now_ms(),
            origin_node: self.settings.node.clone(),
            payload,
        }
    }

    /// Publishes leases as one [`THROTTLE_LEASE`] event; one that cannot be published is
    /// logged (the gateway then stops at its previous cap until a later grant).
    pub(crate) async fn publish_leases(&self, leases: Vec<QuotaLease>) {
        if leases.is_empty() {
            return;
        }
        let count = leases.len();
        let batch = LeaseBatch {
            instance: self.settings.instance.clone(),
            leases,
        };
        let Ok(payload) = serde_json::to_value(&batch) else {
            return;
        };
        let subject = Subject::throttle_data(&self.settings.prefix);
        let envelope = self.envelope(THROTTLE_LEASE, payload);
        match self.bus.publish(&subject, &envelope).await {
            Ok(()) => Counters::add(&self.counters.leases, count as u64),
            Err(error) => {
                tracing::warn!(%error, leases = count, "quota leases not published; retried");
                let mut unsent = self
                    .unsent
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if unsent.len() < MAX_UNSENT_LEASES {
                    unsent.extend(batch.leases);
                }
            }
        }
    }

    /// Publishes again every lease in force and every throttle: after this traffic
    /// manager's broker connection came back, what it published meanwhile may be lost.
    pub(crate) async fn republish(&self) {
        let now = self.clock.now_ms();
        self.publish(self.engine.throttled(now)).await;
        if self.settings.leases && self.election.leading() {
            self.publish_leases(self.engine.leases().all(now)).await;
        }
    }

    /// Sends this instance's heartbeat; a traffic manager that has just taken the lead
    /// grants every gateway whose lease runs low.
    async fn heartbeat(&self) {
        let now = self.clock.now_ms();
        if self.election.update(now) {
            tracing::info!(instance = %self.settings.instance, "traffic manager grants quota leases");
            let mut leases = Vec::new();
            self.engine.leases().grant_all(&mut leases);
            self.publish_leases(leases).await;
        }
        let beat = Heartbeat {
            instance: self.settings.instance.clone(),
            leader: self.election.leading(),
        };
        let Ok(payload) = serde_json::to_value(&beat) else {
            return;
        };
        let envelope = self.envelope(TRAFFIC_MANAGER_HEARTBEAT, payload);
        let subject = Subject::throttle_data(&self.settings.prefix);
        if let Err(error) = self.bus.publish(&subject, &envelope).await {
            tracing::debug!(%error, "traffic manager heartbeat not published");
        }
    }

    /// Takes in what another traffic manager published on `keygate.throttle.data`: its
    /// heartbeat, its leases.
    pub(crate) fn peer_event(&self, event: &Envelope) {
        let now = self.clock.now_ms();
        match event.event_type.as_str() {
            TRAFFIC_MANAGER_HEARTBEAT => {
                if let Ok(beat) = serde_json::from_value::<Heartbeat>(event.payload.clone()) {
                    self.election.heard(&beat.instance, now);
                }
            }
            THROTTLE_LEASE => {
                if let Ok(batch) = serde_json::from_value::<LeaseBatch>(event.payload.clone())
                    && batch.instance != self.settings.instance
                {
                    self.election.heard(&batch.instance, now);
                    for lease in &batch.leases {
                        self.engine.leases().mirror(lease);
                    }
                }
            }
            _ => {}
        }
    }

    /// Publishes decisions on `keygate.throttle.data`. A decision that cannot be published
    /// is logged: gateways still obey their own limits, and the next one supersedes it.
    pub(crate) async fn publish(&self, decisions: Vec<ThrottleDecision>) {
        if decisions.is_empty() {
            return;
        }
        let subject = Subject::throttle_data(&self.settings.prefix);
        for decision in decisions {
            let payload = match serde_json::to_value(&decision) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(%error, "throttle decision not encodable");
                    continue;
                }
            };
            let envelope = self.envelope(THROTTLE_DECISION, payload);
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
        if self.settings.leases {
            self.heartbeat().await;
            let unsent = std::mem::take(
                &mut *self
                    .unsent
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            let now = self.clock.now_ms();
            let live: Vec<QuotaLease> = unsent.into_iter().filter(|l| l.expiry_ms > now).collect();
            self.publish_leases(live).await;
        }
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
