//! The replica feed (DESIGN §2, §5): what keeps a gateway's [`Replica`] and throttle
//! decisions current while it runs.
//!
//! The feed subscribes to `keygate.notification` (the control plane's changes, in
//! revision order), `keygate.token.revocation` (the key manager's revocations) and
//! `keygate.throttle.data` (the traffic managers' decisions) *before* it takes its first
//! snapshot, so nothing published in between is missed. Every
//! [`BusMessage::Resync`] — the first message of a subscription, a reconnect, a consumer
//! that fell behind — and every revision gap means a fresh snapshot from the
//! [`SnapshotSource`]; resyncs that arrive together cost one snapshot. A failed snapshot
//! is retried with a growing pause until one succeeds.
//!
//! Throttle data carries the traffic managers' decisions, their quota leases
//! ([`keygate_throttle::lease`]) — of which the feed takes those granted to this gateway
//! (the origin node of its request events, [`TrafficLink::node`]) — and their heartbeats:
//! while a leading traffic manager's heartbeat is less than [`FOLLOW_LEASES_MS`] old, and
//! the gateway reports its requests to traffic managers, it stops at its leases. On every
//! (re)subscription to throttle data the gateway asks the traffic managers to catch it up
//! ([`THROTTLE_CATCH_UP`]): they answer the decisions in force and its leases, so a gateway
//! restarted mid-window obeys them at once. With `enable_decision_connection = false` the
//! gateway does not subscribe to throttle data at all ([`FeedSubscriptions::subscribe_with`])
//! and counts every limit alone.
//!
//! Revocations are applied the moment their event arrives, outside the notification
//! revision sequence (the key manager numbers its own events). They are also kept for a
//! while and laid again over each new snapshot, so a revoke-all that the data service
//! does not list is not forgotten when the replica is replaced.

use crate::gateway::Clock;
use crate::replica::{ApplyOutcome, Replica, ReplicaChange, ReplicaData, RevocationSubject};
use async_trait::async_trait;
use keygate_bus::{BusError, BusMessage, Envelope, EventBus, Subject, SubjectPrefix};
use keygate_model::{RevokedToken, RevokedTokenType, SUPER_TENANT_DOMAIN, Tenant};
use keygate_throttle::lease::{
    CatchUp, Heartbeat, LeaseBatch, THROTTLE_CATCH_UP, THROTTLE_LEASE, TRAFFIC_MANAGER_HEARTBEAT,
};
use keygate_throttle::{GatewayThrottle, ThrottleDecision};
use serde::Deserialize;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// First pause after a failed snapshot; it doubles up to [`SNAPSHOT_RETRY_MAX`].
pub const SNAPSHOT_RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest pause between two snapshot attempts.
pub const SNAPSHOT_RETRY_MAX: Duration = Duration::from_secs(30);
/// How often expired revocations and throttle windows are forgotten.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How long a revoke-all received from the bus is laid over new snapshots.
pub const SUBJECT_REVOCATION_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The most revocations kept to lay over new snapshots.
pub const MAX_RETAINED_REVOCATIONS: usize = 100_000;
/// How long a leading traffic manager's heartbeat keeps the gateway following leases
/// (traffic managers beat every 250 ms and take over from a silent leader after 1 s).
pub const FOLLOW_LEASES_MS: i64 = 3_000;
/// Messages waiting between the subscriptions and the feed task.
const CHANNEL_CAPACITY: usize = 4096;

/// Why a snapshot could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replica snapshot unavailable: {0}")]
pub struct SnapshotError(pub String);

/// Where full snapshots come from: the co-located control plane, or its internal data
/// service over HTTPS.
#[async_trait]
pub trait SnapshotSource: Send + Sync + fmt::Debug {
    /// Everything the gateway replicates, at one revision.
    async fn snapshot(&self) -> Result<ReplicaData, SnapshotError>;
}

/// The subject a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedSubject {
    /// `keygate.notification`.
    Notification,
    /// `keygate.token.revocation`.
    TokenRevocation,
    /// `keygate.throttle.data`.
    ThrottleData,
}

/// The three subscriptions, taken before the first snapshot.
pub struct FeedSubscriptions {
    receiver: mpsc::Receiver<(FeedSubject, BusMessage)>,
    pumps: Vec<JoinHandle<()>>,
}

impl FeedSubscriptions {
    /// Subscribes to the feed's subjects under `prefix`.
    pub async fn subscribe(
        bus: &dyn EventBus,
        prefix: &SubjectPrefix,
    ) -> Result<FeedSubscriptions, BusError> {
        Self::subscribe_with(bus, prefix, true).await
    }

    /// Subscribes to the feed's subjects under `prefix`, throttle data only with
    /// `decisions` (`enable_decision_connection`).
    pub async fn subscribe_with(
        bus: &dyn EventBus,
        prefix: &SubjectPrefix,
        decisions: bool,
    ) -> Result<FeedSubscriptions, BusError> {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let mut pumps = Vec::with_capacity(3);
        let mut subjects = vec![
            (FeedSubject::Notification, Subject::notification(prefix)),
            (
                FeedSubject::TokenRevocation,
                Subject::token_revocation(prefix),
            ),
        ];
        if decisions {
            subjects.push((FeedSubject::ThrottleData, Subject::throttle_data(prefix)));
        }
        for (feed, subject) in subjects {
            let mut subscription = match bus.subscribe(&subject).await {
                Ok(subscription) => subscription,
                Err(error) => {
                    pumps.iter().for_each(JoinHandle::abort);
                    return Err(error);
                }
            };
            let sender = sender.clone();
            pumps.push(tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    if sender.send((feed, message)).await.is_err() {
                        return;
                    }
                }
            }));
        }
        Ok(FeedSubscriptions { receiver, pumps })
    }
}

impl Drop for FeedSubscriptions {
    fn drop(&mut self) {
        self.pumps.iter().for_each(JoinHandle::abort);
    }
}

/// A `TOKEN_REVOKED` event of the key manager.
#[derive(Debug, Deserialize)]
struct TokenRevokedEvent {
    jti: Option<String>,
    token_digest: Option<String>,
    expiry_time_ms: i64,
    #[serde(default)]
    tenant: Option<String>,
}

/// A `TOKENS_REVOKED_FOR_CLIENT` or `TOKENS_REVOKED_FOR_USER` event.
#[derive(Debug, Deserialize)]
struct RevokedAllEvent {
    client_id: Option<String>,
    subject: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    revoked_before_ms: i64,
}

/// The replica changes a revocation event stands for.
pub fn revocation_changes(envelope: &Envelope) -> Vec<ReplicaChange> {
    let payload = envelope.payload.clone();
    match envelope.event_type.as_str() {
        "TOKEN_REVOKED" => {
            let Ok(event) = serde_json::from_value::<TokenRevokedEvent>(payload) else {
                return Vec::new();
            };
            let tenant = event
                .tenant
                .as_deref()
                .map_or_else(Tenant::super_tenant, Tenant::new);
            let record = |signature: String, token_type| {
                ReplicaChange::TokenRevoked(RevokedToken {
                    tenant: tenant.clone(),
                    signature,
                    token_type,
                    expiry_time_ms: event.expiry_time_ms,
                    revoked_at_ms: envelope.time,
                })
            };
            let mut changes = Vec::with_capacity(2);
            if let Some(jti) = event.jti.clone().filter(|j| !j.is_empty()) {
                changes.push(record(jti, RevokedTokenType::Jti));
            }
            if let Some(digest) = event.token_digest.clone().filter(|d| !d.is_empty()) {
                changes.push(record(digest, RevokedTokenType::Opaque));
            }
            changes
        }
        "TOKENS_REVOKED_FOR_CLIENT" | "TOKENS_REVOKED_FOR_USER" => {
            let Ok(event) = serde_json::from_value::<RevokedAllEvent>(payload) else {
                return Vec::new();
            };
            let subject = match (&event.client_id, &event.subject) {
                (Some(client), _) if envelope.event_type == "TOKENS_REVOKED_FOR_CLIENT" => {
                    RevocationSubject::ConsumerKey(client.clone())
                }
                (_, Some(user)) if user.contains('@') => RevocationSubject::User(user.clone()),
                (_, Some(user)) => RevocationSubject::User(format!(
                    "{user}@{}",
                    event.tenant.as_deref().unwrap_or(SUPER_TENANT_DOMAIN)
                )),
                _ => return Vec::new(),
            };
            vec![ReplicaChange::RevokedAll {
                subject,
                issued_before_ms: event.revoked_before_ms,
            }]
        }
        _ => Vec::new(),
    }
}

/// A revocation kept to lay over new snapshots, until `keep_until_ms`.
#[derive(Debug, Clone)]
struct Retained {
    change: ReplicaChange,
    keep_until_ms: i64,
}

/// How a gateway reaches the traffic managers beyond its request events.
#[derive(Clone)]
pub struct TrafficLink {
    /// Where catch-up requests are published (the node's publishing bus).
    pub publisher: Arc<dyn EventBus>,
    /// Subject prefix.
    pub prefix: SubjectPrefix,
    /// This gateway as its request events name it (their origin node).
    pub node: String,
    /// Whether it follows quota leases: it reports its requests to traffic managers.
    pub follow_leases: bool,
}

impl fmt::Debug for TrafficLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrafficLink")
            .field("node", &self.node)
            .field("follow_leases", &self.follow_leases)
            .finish_non_exhaustive()
    }
}

impl TrafficLink {
    /// Asks the traffic managers for the decisions in force and this gateway's leases.
    pub fn request_catch_up(&self) {
        let link = self.clone();
        tokio::spawn(async move {
            let now = crate::gateway::Clock::now_ms(&crate::gateway::SystemClock);
            let envelope = Envelope {
                id: format!("{}:catch-up:{now}", link.node),
                event_type: THROTTLE_CATCH_UP.to_owned(),
                revision: u64::try_from(now).unwrap_or(0),
                time: now,
                origin_node: link.node.clone(),
                payload: serde_json::json!(CatchUp {
                    node: link.node.clone()
                }),
            };
            let subject = Subject::throttle_request(&link.prefix);
            if let Err(error) = link.publisher.publish(&subject, &envelope).await {
                tracing::warn!(%error, "throttle catch-up not requested");
            }
        });
    }
}

/// Keeps a gateway's replica and throttle decisions current.
pub struct ReplicaFeed {
    replica: Arc<Replica>,
    throttle: Arc<GatewayThrottle>,
    source: Arc<dyn SnapshotSource>,
    clock: Arc<dyn Clock>,
    retained: VecDeque<Retained>,
    need_snapshot: bool,
    traffic: Option<TrafficLink>,
}

impl fmt::Debug for ReplicaFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicaFeed")
            .field("revision", &self.replica.revision())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ReplicaFeed {
    /// A feed into `replica` and `throttle`, taking snapshots from `source`.
    pub fn new(
        replica: Arc<Replica>,
        throttle: Arc<GatewayThrottle>,
        source: Arc<dyn SnapshotSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            replica,
            throttle,
            source,
            clock,
            retained: VecDeque::new(),
            need_snapshot: true,
            traffic: None,
        }
    }

    /// Asks `link`'s traffic managers to catch the gateway up on every (re)subscription to
    /// throttle data, and follows the leases granted to `link.node` (when
    /// `link.follow_leases`).
    pub fn with_traffic_link(mut self, link: TrafficLink) -> Self {
        self.traffic = Some(link);
        self
    }

    /// Takes one message; answers whether the replica now needs a snapshot.
    pub fn handle(&mut self, subject: FeedSubject, message: BusMessage) -> bool {
        let envelope = match message {
            BusMessage::Resync { reason } => {
                if subject != FeedSubject::ThrottleData {
                    tracing::debug!(?subject, ?reason, "replica resync requested");
                    return true;
                }
                // Decisions expire on their own; what is in force now comes from the
                // traffic managers.
                if let Some(link) = &self.traffic {
                    link.request_catch_up();
                }
                return false;
            }
            BusMessage::Event(envelope) => envelope,
        };
        match subject {
            FeedSubject::Notification => self.notification(&envelope),
            FeedSubject::TokenRevocation => {
                self.revocation(&envelope);
                false
            }
            FeedSubject::ThrottleData => {
                self.throttle_data(&envelope);
                false
            }
        }
    }

    fn notification(&mut self, envelope: &Envelope) -> bool {
        let change = match serde_json::from_value::<ReplicaChange>(envelope.payload.clone()) {
            Ok(change) => change,
            Err(error) => {
                // A change this gateway cannot read: the snapshot has its result.
                tracing::warn!(event = %envelope.event_type, revision = envelope.revision, %error, "notification not understood; taking a snapshot");
                return true;
            }
        };
        let outcome = self.replica.apply_event(envelope.revision, change);
        match outcome {
            ApplyOutcome::Applied | ApplyOutcome::Stale => {}
            ApplyOutcome::Skipped(error) => {
                tracing::warn!(revision = envelope.revision, %error, "change not applied");
            }
            ApplyOutcome::NeedSnapshot { expected, received } => {
                tracing::info!(expected, received, "revision gap; taking a snapshot");
                return true;
            }
        }
        let lag_ms = self.clock.now_ms().saturating_sub(envelope.time).max(0);
        metrics::gauge!("keygate_gateway_replica_lag_seconds").set(lag_ms as f64 / 1000.0);
        metrics::gauge!("keygate_gateway_replica_revision").set(self.replica.revision() as f64);
        false
    }

    fn revocation(&mut self, envelope: &Envelope) {
        let now_ms = self.clock.now_ms();
        for change in revocation_changes(envelope) {
            let keep_until_ms = match &change {
                ReplicaChange::TokenRevoked(token) => token.expiry_time_ms,
                _ => now_ms.saturating_add(
                    i64::try_from(SUBJECT_REVOCATION_RETENTION.as_millis()).unwrap_or(i64::MAX),
                ),
            };
            if let Err(error) = self.replica.apply(change.clone()) {
                tracing::warn!(%error, "revocation not applied");
                continue;
            }
            if self.retained.len() >= MAX_RETAINED_REVOCATIONS {
                self.retained.pop_front();
            }
            self.retained.push_back(Retained {
                change,
                keep_until_ms,
            });
        }
        metrics::counter!("keygate_gateway_revocations_received_total").increment(1);
    }

    fn throttle_data(&self, envelope: &Envelope) {
        let now_ms = self.clock.now_ms();
        match envelope.event_type.as_str() {
            THROTTLE_LEASE => {
                let Some(link) = self.traffic.as_ref().filter(|l| l.follow_leases) else {
                    return;
                };
                match serde_json::from_value::<LeaseBatch>(envelope.payload.clone()) {
                    Ok(batch) => {
                        let decisions = self.throttle.decisions();
                        for lease in batch.leases.iter().filter(|l| l.node == link.node) {
                            decisions.apply_lease(lease, now_ms);
                        }
                    }
                    Err(_) => tracing::debug!("quota leases not understood; ignored"),
                }
                return;
            }
            TRAFFIC_MANAGER_HEARTBEAT => {
                if self.traffic.as_ref().is_some_and(|l| l.follow_leases)
                    && let Ok(beat) = serde_json::from_value::<Heartbeat>(envelope.payload.clone())
                    && beat.leader
                {
                    self.throttle
                        .decisions()
                        .follow_leases_until(now_ms.saturating_add(FOLLOW_LEASES_MS));
                }
                return;
            }
            _ => {}
        }
        match serde_json::from_value::<ThrottleDecision>(envelope.payload.clone()) {
            Ok(decision) => {
                self.throttle
                    .decisions()
                    .apply(&decision, self.clock.now_ms());
            }
            Err(_) => {
                tracing::debug!(event = %envelope.event_type, "throttle data not a decision; ignored");
            }
        }
    }

    /// Loads a fresh snapshot and lays the retained revocations over it; answers its
    /// revision.
    pub async fn resync(&mut self) -> Result<u64, SnapshotError> {
        let data = self.source.snapshot().await?;
        let revision = data.revision;
        for error in self.replica.load_snapshot(data) {
            tracing::warn!(%error, "snapshot record not taken in");
        }
        let now_ms = self.clock.now_ms();
        self.retained.retain(|r| r.keep_until_ms > now_ms);
        for retained in &self.retained {
            let _ = self.replica.apply(retained.change.clone());
        }
        metrics::gauge!("keygate_gateway_replica_revision").set(revision as f64);
        metrics::counter!("keygate_gateway_replica_snapshots_total").increment(1);
        tracing::info!(revision, "replica loaded from a snapshot");
        Ok(revision)
    }

    /// Takes the first snapshot now, for a gateway that should not serve before it has
    /// one; the resyncs that announced the new subscriptions are then answered.
    pub async fn prime(
        &mut self,
        subscriptions: &mut FeedSubscriptions,
    ) -> Result<u64, SnapshotError> {
        let revision = self.resync().await?;
        self.need_snapshot = false;
        if let Some(link) = &self.traffic {
            link.request_catch_up();
        }
        while let Ok((subject, message)) = subscriptions.receiver.try_recv() {
            if matches!(message, BusMessage::Event(_)) {
                self.need_snapshot |= self.handle(subject, message);
            }
        }
        Ok(revision)
    }

    /// Forgets expired revocations and ended throttle windows.
    fn purge(&self) {
        let now_ms = self.clock.now_ms();
        self.replica.purge_expired_revocations(now_ms);
        self.throttle.purge(now_ms);
    }

    /// Runs the feed until `stop` turns true or the bus closes.
    pub fn spawn(
        mut self,
        mut subscriptions: FeedSubscriptions,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut need_snapshot = self.need_snapshot;
            let mut retry = SNAPSHOT_RETRY_MIN;
            let mut purge = tokio::time::interval(PURGE_INTERVAL);
            loop {
                // Take everything already waiting, so that resyncs arriving together
                // cost one snapshot.
                while let Ok((subject, message)) = subscriptions.receiver.try_recv() {
                    need_snapshot |= self.handle(subject, message);
                }
                if need_snapshot {
                    match self.resync().await {
                        Ok(_) => {
                            need_snapshot = false;
                            retry = SNAPSHOT_RETRY_MIN;
                        }
                        Err(error) => {
                            tracing::warn!(%error, retry_in = ?retry, "replica snapshot failed");
                            tokio::select! {
                                () = tokio::time::sleep(retry) => {}
                                _ = stop.changed() => return,
                            }
                            retry = (retry * 2).min(SNAPSHOT_RETRY_MAX);
                            continue;
                        }
                    }
                }
                tokio::select! {
                    received = subscriptions.receiver.recv() => match received {
                        Some((subject, message)) => {
                            need_snapshot |= self.handle(subject, message);
                        }
                        None => return,
                    },
                    _ = purge.tick() => self.purge(),
                    _ = stop.changed() => return,
                }
            }
        })
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
