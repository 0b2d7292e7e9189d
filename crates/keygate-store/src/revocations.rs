//! Revoke-all records (`kg_subject_revocation`): every token of an OAuth client (consumer
//! key) or of a user issued before a time is refused. The token store writes one when it
//! revokes all of a client's or a user's tokens, in the same transaction; gateways load
//! them with their snapshot, so a gateway started after the revocation refuses those
//! tokens too. A record is kept until the last token it covers would have expired.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, limit, page_args};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::Tenant;
use sqlx::Any;
use sqlx::any::AnyRow;

/// Whose tokens a revoke-all covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokedSubjectKind {
    /// Every token issued to an OAuth client (consumer key).
    ConsumerKey,
    /// Every token issued to a user, in every client.
    User,
}

impl RevokedSubjectKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsumerKey => "CONSUMER_KEY",
            Self::User => "USER",
        }
    }

    fn parse(value: &str) -> StoreResult<Self> {
        match value {
            "CONSUMER_KEY" => Ok(Self::ConsumerKey),
            "USER" => Ok(Self::User),
            other => Err(StoreError::Corrupt {
                field: "subject_type",
                reason: format!("unknown revoke-all subject type {other:?}"),
            }),
        }
    }
}

/// One revoke-all in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRevocation {
    /// The tenant of the tokens.
    pub tenant: Tenant,
    /// Whether `subject` is a consumer key or a user.
    pub kind: RevokedSubjectKind,
    /// The consumer key or the user name, as the tokens carry it.
    pub subject: String,
    /// Tokens issued before this time, unix milliseconds, are revoked.
    pub revoked_before_ms: i64,
    /// When the last token covered expires; the record is useless afterwards.
    pub expiry_time_ms: i64,
}

/// Revoke-all records; written by [`crate::AccessTokenRepository::revoke_by_client`] and
/// [`crate::AccessTokenRepository::revoke_by_subject`].
#[async_trait]
pub trait SubjectRevocationRepository: Send + Sync {
    /// Revoke-alls still in force at `now_ms`, soonest expiry first.
    async fn list_subject_revocations(
        &self,
        now_ms: i64,
        page: Page,
    ) -> StoreResult<Vec<SubjectRevocation>>;
    /// Deletes revoke-alls whose tokens all expired before `now_ms`; how many.
    async fn purge_expired_subject_revocations(&self, now_ms: i64) -> StoreResult<u64>;
}

const COLUMNS: &str = "tenant, subject_type, subject, revoked_before_ms, expiry_time_ms";

fn from_row(row: &AnyRow) -> StoreResult<SubjectRevocation> {
    Ok(SubjectRevocation {
        tenant: Tenant::new(row.text("tenant")?),
        kind: RevokedSubjectKind::parse(&row.text("subject_type")?)?,
        subject: row.text("subject")?,
        revoked_before_ms: row.int("revoked_before_ms")?,
        expiry_time_ms: row.int("expiry_time_ms")?,
    })
}

/// Inside `tx`, records (or widens) the revoke-all of `record`: the later of the two
/// `revoked_before_ms` and `expiry_time_ms` are kept.
pub(crate) async fn record_in(
    apim: &SqlApim,
    tx: &mut sqlx::Transaction<'static, Any>,
    record: &SubjectRevocation,
) -> StoreResult<()> {
    bounded("tenant", record.tenant.domain(), limit::TENANT)?;
    bounded("subject", &record.subject, limit::NAME)?;
    let db = &apim.db;
    let kind = record.kind.as_str();
    let existing = db
        .query(
            "SELECT revoked_before_ms, expiry_time_ms FROM kg_subject_revocation \
             WHERE tenant = ? AND subject_type = ? AND subject = ?",
        )
        .bind(record.tenant.domain().to_owned())
        .bind(kind)
        .bind(record.subject.clone())
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| db.fail(e, "revoke-all"))?;
    let statement = match existing {
        Some(row) => db
            .query(
                "UPDATE kg_subject_revocation SET revoked_before_ms = ?, expiry_time_ms = ? \
                 WHERE tenant = ? AND subject_type = ? AND subject = ?",
            )
            .bind(record.revoked_before_ms.max(row.int("revoked_before_ms")?))
            .bind(record.expiry_time_ms.max(row.int("expiry_time_ms")?)),
        None => db
            .query(
                "INSERT INTO kg_subject_revocation (revoked_before_ms, expiry_time_ms, \
                 tenant, subject_type, subject) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(record.revoked_before_ms)
            .bind(record.expiry_time_ms),
    };
    statement
        .bind(record.tenant.domain().to_owned())
        .bind(kind)
        .bind(record.subject.clone())
        .execute(&mut **tx)
        .await
        .map_err(|e| db.fail(e, "revoke-all"))?;
    Ok(())
}

#[async_trait]
impl SubjectRevocationRepository for SqlApim {
    async fn list_subject_revocations(
        &self,
        now_ms: i64,
        page: Page,
    ) -> StoreResult<Vec<SubjectRevocation>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {COLUMNS} FROM kg_subject_revocation WHERE expiry_time_ms > ? \
                 ORDER BY expiry_time_ms, tenant, subject_type, subject LIMIT ? OFFSET ?"
            ))
            .bind(now_ms)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoke-alls"))?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn purge_expired_subject_revocations(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query("DELETE FROM kg_subject_revocation WHERE expiry_time_ms <= ?")
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoke-alls"))?;
        Ok(done.rows_affected())
    }
}
