//! The outbox relay: publishes the change outbox on `keygate.notification`, in revision
//! order, each entry as an [`Envelope`] whose payload is the [`CatalogChange`] and whose
//! revision is the entry's, then marks what went out as published. It resumes after the
//! last published entry when the process restarts; an entry whose publication failed is
//! retried on the next pass, so delivery is at-least-once and never out of order.
//!
//! Writers wake the relay right after a change ([`OutboxRelay::wake`]); a periodic pass
//! also picks up changes made by other nodes and other roles (the key manager's revoked
//! tokens).

use crate::changes::{self, CatalogChange};
use keygate_bus::{BusError, Envelope, EventBus, Subject, SubjectPrefix};
use keygate_store::{StoreError, Stores};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

/// Entries read per query.
const BATCH: u32 = 256;

/// Published entries kept behind the newest, for inspection; older ones are purged.
pub const RETAINED_PUBLISHED: u64 = 10_000;

/// Default interval of the periodic pass.
pub const DEFAULT_RELAY_INTERVAL: Duration = Duration::from_millis(500);

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus refused an event.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A change could not be encoded.
    #[error("change could not be encoded: {0}")]
    Encode(String),
}

/// Publishes the change outbox.
pub struct OutboxRelay {
    stores: Arc<Stores>,
    bus: Arc<dyn EventBus>,
    subject: Subject,
    origin_node: String,
    /// The last revision published by this relay; `None` until resumed from the store.
    cursor: Mutex<Option<u64>>,
    wake: Notify,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("subject", &self.subject)
            .field("origin_node", &self.origin_node)
            .finish_non_exhaustive()
    }
}

/// Now, unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl OutboxRelay {
    /// A relay publishing on `{prefix}.notification` as `origin_node`.
    pub fn new(
        stores: Arc<Stores>,
        bus: Arc<dyn EventBus>,
        prefix: &SubjectPrefix,
        origin_node: impl Into<String>,
    ) -> Self {
        Self {
            stores,
            bus,
            subject: Subject::notification(prefix),
            origin_node: origin_node.into(),
            cursor: Mutex::new(None),
            wake: Notify::new(),
        }
    }

    /// Asks the running relay task for a pass now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes every unpublished entry, oldest first; answers how many went out. Stops
    /// at the first failure, leaving that entry and the later ones for the next pass.
    pub async fn publish_pending(&self) -> Result<usize, RelayError> {
        let mut cursor = self.cursor.lock().await;
        let mut last = match *cursor {
            Some(last) => last,
            None => {
                self.stores
                    .change_outbox()
                    .last_published_revision()
                    .await?
            }
        };
        *cursor = Some(last);
        let mut sent = 0;
        loop {
            let entries = self
                .stores
                .change_outbox()
                .entries_after(last, BATCH)
                .await?;
            let full = entries.len() == BATCH as usize;
            let mut outcome = Ok(());
            for entry in &entries {
                let change = match changes::resolve(&self.stores, entry).await {
                    Ok(change) => change,
                    Err(e) => {
                        outcome = Err(RelayError::from(e));
                        break;
                    }
                };
                let envelope = match self.envelope(entry, &change) {
                    Ok(envelope) => envelope,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                };
                if let Err(e) = self.bus.publish(&self.subject, &envelope).await {
                    outcome = Err(RelayError::from(e));
                    break;
                }
                last = entry.revision;
                *cursor = Some(last);
                sent += 1;
            }
            if sent > 0 {
                let outbox = self.stores.change_outbox();
                outbox.mark_published(last).await?;
                if last > RETAINED_PUBLISHED {
                    outbox.purge_published(last - RETAINED_PUBLISHED).await?;
                }
            }
            outcome?;
            if !full {
                return Ok(sent);
            }
        }
    }

    fn envelope(
        &self,
        entry: &keygate_store::OutboxEntry,
        change: &CatalogChange,
    ) -> Result<Envelope, RelayError> {
        Ok(Envelope {
            id: uuid::Uuid::new_v4().to_string(),
            event_type: changes::event_type(entry),
            revision: entry.revision,
            time: now_ms(),
            origin_node: self.origin_node.clone(),
            payload: serde_json::to_value(change).map_err(|e| RelayError::Encode(e.to_string()))?,
        })
    }

    /// Runs passes until the task is aborted: when woken, and every `interval`.
    pub fn spawn(self: Arc<Self>, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.publish_pending().await {
                    tracing::warn!(%error, "change relay pass failed; retrying");
                }
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}
