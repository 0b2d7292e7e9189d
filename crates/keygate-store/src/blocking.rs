//! Deny conditions (`kg_block_condition`) and revoked tokens (`kg_revoked_token`): the two
//! lists every gateway replicates to refuse requests without asking anyone. A revoked
//! token is kept until it would have expired anyway, then purged.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, flag, limit, page_args};
use crate::error::StoreResult;
use async_trait::async_trait;
use keygate_model::{BlockCondition, RevokedToken, Tenant};
use sqlx::any::AnyRow;

/// Deny conditions of the Admin Portal.
#[async_trait]
pub trait BlockConditionRepository: Send + Sync {
    /// Stores a new condition; [`crate::StoreError::Conflict`] when the same type and
    /// value exist.
    async fn create_block_condition(&self, condition: &BlockCondition) -> StoreResult<()>;
    /// The condition by uuid.
    async fn block_condition(&self, uuid: &str) -> StoreResult<Option<BlockCondition>>;
    /// Conditions of a tenant, ordered by type and value.
    async fn list_block_conditions(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<BlockCondition>>;
    /// Turns a condition on or off; whether it exists.
    async fn set_block_condition_enabled(&self, uuid: &str, enabled: bool) -> StoreResult<bool>;
    /// Deletes a condition; whether it existed.
    async fn delete_block_condition(&self, uuid: &str) -> StoreResult<bool>;
}

/// Tokens revoked before their expiry.
#[async_trait]
pub trait RevokedTokenRepository: Send + Sync {
    /// Records a revocation; false when the token was recorded already (revocation is
    /// idempotent).
    async fn insert_revoked_token(&self, token: &RevokedToken) -> StoreResult<bool>;
    /// The revocation of a signature, `jti` or digest, if recorded.
    async fn revoked_token(&self, signature: &str) -> StoreResult<Option<RevokedToken>>;
    /// Revocations still in force at `now_ms`, soonest expiry first.
    async fn list_revoked_tokens(&self, now_ms: i64, page: Page) -> StoreResult<Vec<RevokedToken>>;
    /// Deletes revocations of tokens that expired before `now_ms`; how many.
    async fn purge_expired_revocations(&self, now_ms: i64) -> StoreResult<u64>;
}

const BLOCK_COLUMNS: &str = "uuid, tenant, condition_type, condition_value, enabled";
const REVOKED_COLUMNS: &str = "signature, tenant, token_type, expiry_time_ms, revoked_at_ms";

fn block_from_row(row: &AnyRow) -> StoreResult<BlockCondition> {
    Ok(BlockCondition {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        condition_type: row.parsed("condition_type")?,
        value: row.text("condition_value")?,
        enabled: row.flag("enabled")?,
    })
}

fn revoked_from_row(row: &AnyRow) -> StoreResult<RevokedToken> {
    Ok(RevokedToken {
        signature: row.text("signature")?,
        tenant: Tenant::new(row.text("tenant")?),
        token_type: row.parsed("token_type")?,
        expiry_time_ms: row.int("expiry_time_ms")?,
        revoked_at_ms: row.int("revoked_at_ms")?,
    })
}

#[async_trait]
impl BlockConditionRepository for SqlApim {
    async fn create_block_condition(&self, c: &BlockCondition) -> StoreResult<()> {
        bounded("block condition uuid", &c.uuid, limit::ID)?;
        bounded("tenant", c.tenant.domain(), limit::TENANT)?;
        bounded("block condition value", &c.value, limit::DIGEST)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_block_condition ({BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            ))
            .bind(c.uuid.clone())
            .bind(c.tenant.domain().to_owned())
            .bind(c.condition_type.as_str())
            .bind(c.value.clone())
            .bind(flag(c.enabled))
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                self.db.fail(
                    e,
                    &format!("{} block condition {:?}", c.condition_type, c.value),
                )
            })?;
        Ok(())
    }

    async fn block_condition(&self, uuid: &str) -> StoreResult<Option<BlockCondition>> {
        self.db
            .query(&format!(
                "SELECT {BLOCK_COLUMNS} FROM kg_block_condition WHERE uuid = ?"
            ))
            .bind(uuid.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "block condition"))?
            .map(|row| block_from_row(&row))
            .transpose()
    }

    async fn list_block_conditions(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<BlockCondition>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {BLOCK_COLUMNS} FROM kg_block_condition WHERE tenant = ? \
                 ORDER BY condition_type, condition_value LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "block conditions"))?
            .iter()
            .map(block_from_row)
            .collect()
    }

    async fn set_block_condition_enabled(&self, uuid: &str, enabled: bool) -> StoreResult<bool> {
        let done = self
            .db
            .query("UPDATE kg_block_condition SET enabled = ? WHERE uuid = ?")
            .bind(flag(enabled))
            .bind(uuid.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "block condition"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_block_condition(&self, uuid: &str) -> StoreResult<bool> {
        self.db
            .delete_one("kg_block_condition", "uuid", uuid, "block condition")
            .await
    }
}

#[async_trait]
impl RevokedTokenRepository for SqlApim {
    async fn insert_revoked_token(&self, t: &RevokedToken) -> StoreResult<bool> {
        bounded("revoked token signature", &t.signature, limit::DIGEST)?;
        bounded("tenant", t.tenant.domain(), limit::TENANT)?;
        let inserted = self
            .db
            .query(&format!(
                "INSERT INTO kg_revoked_token ({REVOKED_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            ))
            .bind(t.signature.clone())
            .bind(t.tenant.domain().to_owned())
            .bind(t.token_type.as_str())
            .bind(t.expiry_time_ms)
            .bind(t.revoked_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoked token"));
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn revoked_token(&self, signature: &str) -> StoreResult<Option<RevokedToken>> {
        self.db
            .query(&format!(
                "SELECT {REVOKED_COLUMNS} FROM kg_revoked_token WHERE signature = ?"
            ))
            .bind(signature.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoked token"))?
            .map(|row| revoked_from_row(&row))
            .transpose()
    }

    async fn list_revoked_tokens(&self, now_ms: i64, page: Page) -> StoreResult<Vec<RevokedToken>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {REVOKED_COLUMNS} FROM kg_revoked_token WHERE expiry_time_ms > ? \
                 ORDER BY expiry_time_ms, signature LIMIT ? OFFSET ?"
            ))
            .bind(now_ms)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoked tokens"))?
            .iter()
            .map(revoked_from_row)
            .collect()
    }

    async fn purge_expired_revocations(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query("DELETE FROM kg_revoked_token WHERE expiry_time_ms <= ?")
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "revoked tokens"))?;
        Ok(done.rows_affected())
    }
}
