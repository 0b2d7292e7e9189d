//! The change outbox (`kg_change_outbox`, `kg_change_counter`): which replicated row
//! changed at which revision. The rows are written by database triggers in the same
//! transaction as the change itself — whichever repository or node made it — so there is
//! no change without its entry and no entry for a rolled-back change. Revisions come from
//! one counter that every writer takes in turn: they are gapless, and they become visible
//! in order.
//!
//! A relay reads the entries after the last one it published, publishes each with the
//! current state of the row it names, and marks them published; a snapshot reader reads
//! [`ChangeOutboxRepository::current_revision`] before and after reading the data, and
//! keeps the data when both agree.

use crate::SqlApim;
use crate::db::Columns;
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::Tenant;
use sqlx::any::AnyRow;

/// What kind of row an outbox entry names; the strings are those the triggers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangedEntity {
    /// An API (`kg_api`), by uuid.
    Api,
    /// An application, by uuid.
    Application,
    /// A subscription, by uuid.
    Subscription,
    /// A key mapping, by consumer key.
    KeyMapping,
    /// A subscription policy, by name.
    SubscriptionPolicy,
    /// An application policy, by name.
    ApplicationPolicy,
    /// An advanced (API) policy, by name.
    ApiPolicy,
    /// A global policy, by name.
    GlobalPolicy,
    /// A deny condition, by uuid.
    BlockCondition,
    /// A revoked token, by signature.
    RevokedToken,
}

impl ChangedEntity {
    /// Every kind, in declaration order.
    pub const ALL: [ChangedEntity; 10] = [
        Self::Api,
        Self::Application,
        Self::Subscription,
        Self::KeyMapping,
        Self::SubscriptionPolicy,
        Self::ApplicationPolicy,
        Self::ApiPolicy,
        Self::GlobalPolicy,
        Self::BlockCondition,
        Self::RevokedToken,
    ];

    /// The name the triggers store.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Application => "application",
            Self::Subscription => "subscription",
            Self::KeyMapping => "key_mapping",
            Self::SubscriptionPolicy => "subscription_policy",
            Self::ApplicationPolicy => "application_policy",
            Self::ApiPolicy => "api_policy",
            Self::GlobalPolicy => "global_policy",
            Self::BlockCondition => "block_condition",
            Self::RevokedToken => "revoked_token",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// What happened to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeOperation {
    /// Inserted.
    Insert,
    /// Updated.
    Update,
    /// Deleted (or renamed away from this key).
    Delete,
}

impl ChangeOperation {
    /// `INSERT`, `UPDATE` or `DELETE`, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "INSERT" => Some(Self::Insert),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// One outbox entry: a row that changed, at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The revision of the change; the first change of a database is 1.
    pub revision: u64,
    /// The kind of row.
    pub entity: ChangedEntity,
    /// The row's key: uuid, consumer key, policy name or token signature.
    pub key: String,
    /// The row's tenant.
    pub tenant: Tenant,
    /// What happened.
    pub operation: ChangeOperation,
    /// Whether a relay has published it.
    pub published: bool,
}

/// The change outbox.
#[async_trait]
pub trait ChangeOutboxRepository: Send + Sync {
    /// The revision of the latest committed change; 0 before the first.
    async fn current_revision(&self) -> StoreResult<u64>;

    /// Entries after `after_revision`, oldest first, at most `limit`.
    async fn entries_after(&self, after_revision: u64, limit: u32)
    -> StoreResult<Vec<OutboxEntry>>;

    /// The revision of the latest published entry; 0 when none is.
    async fn last_published_revision(&self) -> StoreResult<u64>;

    /// Marks every entry up to and including `revision` published; how many changed.
    async fn mark_published(&self, up_to_revision: u64) -> StoreResult<u64>;

    /// Deletes published entries older than `before_revision`, always keeping the latest
    /// published one (a relay resumes after it); how many went.
    async fn purge_published(&self, before_revision: u64) -> StoreResult<u64>;
}

fn revision_of(value: i64, column: &'static str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        field: column,
        reason: format!("negative revision {value}"),
    })
}

fn as_db_revision(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

fn entry_from_row(row: &AnyRow) -> StoreResult<OutboxEntry> {
    let entity = row.text("entity")?;
    let operation = row.text("operation")?;
    Ok(OutboxEntry {
        revision: revision_of(row.int("revision")?, "revision")?,
        entity: ChangedEntity::parse(&entity).ok_or_else(|| StoreError::Corrupt {
            field: "entity",
            reason: format!("unknown entity {entity:?}"),
        })?,
        key: row.text("entity_key")?,
        tenant: Tenant::new(row.text("tenant")?),
        operation: ChangeOperation::parse(&operation).ok_or_else(|| StoreError::Corrupt {
            field: "operation",
            reason: format!("unknown operation {operation:?}"),
        })?,
        published: row.flag("published")?,
    })
}

#[async_trait]
impl ChangeOutboxRepository for SqlApim {
    async fn current_revision(&self) -> StoreResult<u64> {
        let row = self
            .db
            .query("SELECT revision FROM kg_change_counter WHERE id = 1")
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "change counter"))?;
        match row {
            Some(row) => revision_of(row.int("revision")?, "revision"),
            None => Err(StoreError::Corrupt {
                field: "kg_change_counter",
                reason: "the counter row is missing".into(),
            }),
        }
    }

    async fn entries_after(
        &self,
        after_revision: u64,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let rows = self
            .db
            .query(
                "SELECT revision, entity, entity_key, tenant, operation, published \
                 FROM kg_change_outbox WHERE revision > ? ORDER BY revision LIMIT ?",
            )
            .bind(as_db_revision(after_revision))
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "change outbox"))?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn last_published_revision(&self) -> StoreResult<u64> {
        let row = self
            .db
            .query(
                "SELECT COALESCE(MAX(revision), 0) AS revision FROM kg_change_outbox \
                 WHERE published = 1",
            )
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "change outbox"))?;
        revision_of(row.int("revision")?, "revision")
    }

    async fn mark_published(&self, up_to_revision: u64) -> StoreResult<u64> {
        let done = self
            .db
            .query(
                "UPDATE kg_change_outbox SET published = 1 WHERE published = 0 AND revision <= ?",
            )
            .bind(as_db_revision(up_to_revision))
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "change outbox"))?;
        Ok(done.rows_affected())
    }

    async fn purge_published(&self, before_revision: u64) -> StoreResult<u64> {
        let keep = self.last_published_revision().await?;
        let bound = before_revision.min(keep);
        let done = self
            .db
            .query("DELETE FROM kg_change_outbox WHERE published = 1 AND revision < ?")
            .bind(as_db_revision(bound))
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "change outbox"))?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_and_operation_names_round_trip() {
        for entity in ChangedEntity::ALL {
            assert_eq!(ChangedEntity::parse(entity.as_str()), Some(entity));
        }
        assert_eq!(ChangedEntity::parse("token"), None);
        for op in [
            ChangeOperation::Insert,
            ChangeOperation::Update,
            ChangeOperation::Delete,
        ] {
            assert_eq!(ChangeOperation::parse(op.as_str()), Some(op));
        }
        assert_eq!(ChangeOperation::parse("insert"), None);
    }

    #[test]
    fn revisions_refuse_negative_values() {
        assert_eq!(revision_of(7, "revision").unwrap(), 7);
        assert!(revision_of(-1, "revision").is_err());
        assert_eq!(as_db_revision(u64::MAX), i64::MAX);
    }
}
