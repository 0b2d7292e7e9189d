//! The key manager's own keys and secrets, kept in `apim_db` so that every key-manager
//! node on one database, and every restart, agrees on them: signing keys with their
//! rotation state (`kg_signing_key`), named server secrets such as the client-secret
//! pepper and the token-encryption key (`kg_server_secret`), and the JWT ids of assertions
//! already accepted, so that a replayed assertion is refused on any node
//! (`kg_assertion_id`).
//!
//! Signing keys are numbered by generation per tenant; the highest is current. Rotation is
//! one transaction that retires the current key — recording until when it stays published
//! — and stores its successor, so of two nodes rotating at once exactly one wins. First
//! writes race safely too: a server secret is created once and every later caller reads
//! the value that won.

use crate::SqlApim;
use crate::db::{Columns, bounded, limit};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::Tenant;
use sqlx::any::AnyRow;
use std::fmt;

/// A signing key as stored. `Debug` shows no key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Tenant whose tokens it signs.
    pub tenant: Tenant,
    /// 1 for the first key, one more at each rotation; the highest is current.
    pub generation: i64,
    /// Key id (`kid`), unique per tenant.
    pub kid: String,
    /// JWS algorithm it signs with, e.g. `RS256`.
    pub algorithm: String,
    /// PKCS#8 DER private key.
    pub private_key: Vec<u8>,
    /// When it was created, unix milliseconds.
    pub created_at_ms: i64,
    /// When a successor replaced it, unix milliseconds; `None` while current.
    pub retired_at_ms: Option<i64>,
    /// Until when a retired key stays in the JWK Set (every token it signed has expired
    /// by then), unix milliseconds.
    pub published_until_ms: Option<i64>,
}

impl fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("tenant", &self.tenant)
            .field("generation", &self.generation)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"***")
            .field("created_at_ms", &self.created_at_ms)
            .field("retired_at_ms", &self.retired_at_ms)
            .field("published_until_ms", &self.published_until_ms)
            .finish()
    }
}

/// The key manager's signing keys, server secrets and used assertion ids.
#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores a signing key; [`StoreError::Conflict`] when its generation or `kid` exists
    /// for the tenant (another node stored one first).
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;

    /// The tenant's signing keys still published at `now_ms` — the current one and
    /// retired ones whose `published_until_ms` is later — by generation.
    async fn signing_keys(
        &self,
        tenant: &Tenant,
        now_ms: i64,
    ) -> StoreResult<Vec<StoredSigningKey>>;

    /// Rotation in one transaction: the key of `current_generation`, if still current,
    /// retires at `successor.created_at_ms` and stays published until
    /// `published_until_ms`, and `successor` is stored. Returns false, changing nothing,
    /// when that key is no longer current (a concurrent rotation won).
    async fn rotate_signing_key(
        &self,
        current_generation: i64,
        successor: &StoredSigningKey,
        published_until_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes the tenant's retired keys that are no longer published at `now_ms`; how
    /// many.
    async fn purge_retired_signing_keys(&self, tenant: &Tenant, now_ms: i64) -> StoreResult<u64>;

    /// The server secret stored under `name`, if any.
    async fn server_secret(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Stores `value` under `name` unless a secret of that name exists, and returns the
    /// value stored — the existing one when another caller created it first.
    async fn ensure_server_secret(
        &self,
        tenant: &Tenant,
        name: &str,
        value: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<u8>>;

    /// Records the use of assertion `jti` from `issuer`, remembered until
    /// `expires_at_ms`. Returns false when it was recorded before and has not expired
    /// at `now_ms`: a replay.
    async fn record_assertion_id(
        &self,
        issuer: &str,
        jti: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes assertion ids that expired before `now_ms`; how many.
    async fn purge_assertion_ids(&self, now_ms: i64) -> StoreResult<u64>;
}

const KEY_COLUMNS: &str = "tenant, generation, kid, algorithm, private_key, created_at_ms, \
     retired_at_ms, published_until_ms";

/// Longest JWS algorithm name stored.
const ALGORITHM_LEN: usize = 16;

fn key_from_row(row: &AnyRow) -> StoreResult<StoredSigningKey> {
    Ok(StoredSigningKey {
        tenant: Tenant::new(row.text("tenant")?),
        generation: row.int("generation")?,
        kid: row.text("kid")?,
        algorithm: row.text("algorithm")?,
        private_key: row
            .opt_bytes("private_key")?
            .ok_or_else(|| StoreError::Corrupt {
                field: "private_key",
                reason: "empty".into(),
            })?,
        created_at_ms: row.int("created_at_ms")?,
        retired_at_ms: row.opt_int("retired_at_ms")?,
        published_until_ms: row.opt_int("published_until_ms")?,
    })
}

fn validate_key(key: &StoredSigningKey) -> StoreResult<()> {
    bounded("tenant", key.tenant.domain(), limit::TENANT)?;
    bounded("key id", &key.kid, limit::NAME)?;
    bounded("signing algorithm", &key.algorithm, ALGORITHM_LEN)?;
    if key.private_key.is_empty() {
        return Err(StoreError::Invalid {
            field: "private key",
            reason: "is empty".into(),
        });
    }
    if key.generation < 1 {
        return Err(StoreError::Invalid {
            field: "key generation",
            reason: "must be 1 or more".into(),
        });
    }
    Ok(())
}

impl SqlApim {
    async fn write_signing_key<'e, E>(&self, executor: E, k: &StoredSigningKey) -> StoreResult<()>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        validate_key(k)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_signing_key ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(k.tenant.domain().to_owned())
            .bind(k.generation)
            .bind(k.kid.clone())
            .bind(k.algorithm.clone())
            .bind(k.private_key.clone())
            .bind(k.created_at_ms)
            .bind(k.retired_at_ms)
            .bind(k.published_until_ms)
            .execute(executor)
            .await
            .map_err(|e| self.db.fail(e, "signing key with this generation or kid"))?;
        Ok(())
    }
}

#[async_trait]
impl KeyRepository for SqlApim {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
        self.write_signing_key(self.db.pool(), key).await
    }

    async fn signing_keys(
        &self,
        tenant: &Tenant,
        now_ms: i64,
    ) -> StoreResult<Vec<StoredSigningKey>> {
        self.db
            .query(&format!(
                "SELECT {KEY_COLUMNS} FROM kg_signing_key WHERE tenant = ? \
                 AND (retired_at_ms IS NULL OR published_until_ms > ?) ORDER BY generation"
            ))
            .bind(tenant.domain().to_owned())
            .bind(now_ms)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "signing keys"))?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn rotate_signing_key(
        &self,
        current_generation: i64,
        successor: &StoredSigningKey,
        published_until_ms: i64,
    ) -> StoreResult<bool> {
        validate_key(successor)?;
        let mut tx = self.db.begin().await?;
        let retired = self
            .db
            .query(
                "UPDATE kg_signing_key SET retired_at_ms = ?, published_until_ms = ? \
                 WHERE tenant = ? AND generation = ? AND retired_at_ms IS NULL",
            )
            .bind(successor.created_at_ms)
            .bind(published_until_ms)
            .bind(successor.tenant.domain().to_owned())
            .bind(current_generation)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "signing key"))?;
        if retired.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(|e| self.db.fail(e, "signing key"))?;
            return Ok(false);
        }
        match self.write_signing_key(&mut *tx, successor).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                tx.rollback()
                    .await
                    .map_err(|e| self.db.fail(e, "signing key"))?;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        tx.commit()
            .await
            .map_err(|e| self.db.fail(e, "signing key"))?;
        Ok(true)
    }

    async fn purge_retired_signing_keys(&self, tenant: &Tenant, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query(
                "DELETE FROM kg_signing_key WHERE tenant = ? AND retired_at_ms IS NOT NULL \
                 AND published_until_ms <= ?",
            )
            .bind(tenant.domain().to_owned())
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "signing keys"))?;
        Ok(done.rows_affected())
    }

    async fn server_secret(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let row = self
            .db
            .query("SELECT secret_value FROM kg_server_secret WHERE tenant = ? AND name = ?")
            .bind(tenant.domain().to_owned())
            .bind(name.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "server secret"))?;
        match row {
            Some(row) => Ok(Some(row.opt_bytes("secret_value")?.ok_or_else(|| {
                StoreError::Corrupt {
                    field: "secret_value",
                    reason: "empty".into(),
                }
            })?)),
            None => Ok(None),
        }
    }

    async fn ensure_server_secret(
        &self,
        tenant: &Tenant,
        name: &str,
        value: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<u8>> {
        bounded("tenant", tenant.domain(), limit::TENANT)?;
        bounded("server secret name", name, limit::NAME)?;
        if value.is_empty() {
            return Err(StoreError::Invalid {
                field: "server secret",
                reason: "is empty".into(),
            });
        }
        if let Some(existing) = self.server_secret(tenant, name).await? {
            return Ok(existing);
        }
        let inserted = self
            .db
            .query(
                "INSERT INTO kg_server_secret (tenant, name, secret_value, created_at_ms) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(tenant.domain().to_owned())
            .bind(name.to_owned())
            .bind(value.to_vec())
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "server secret"));
        match inserted {
            Ok(_) => Ok(value.to_vec()),
            Err(StoreError::Conflict { .. }) => self
                .server_secret(tenant, name)
                .await?
                .ok_or_else(|| StoreError::not_found(format!("server secret {name}"))),
            Err(e) => Err(e),
        }
    }

    async fn record_assertion_id(
        &self,
        issuer: &str,
        jti: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        bounded("assertion issuer", issuer, limit::NAME)?;
        bounded("assertion id", jti, limit::NAME)?;
        let inserted = self
            .db
            .query("INSERT INTO kg_assertion_id (issuer, jti, expires_at_ms) VALUES (?, ?, ?)")
            .bind(issuer.to_owned())
            .bind(jti.to_owned())
            .bind(expires_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "assertion id"));
        match inserted {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => {
                // Recorded before: a replay, unless that record has expired and only
                // awaits purging, in which case this use takes its place.
                let renewed = self
                    .db
                    .query(
                        "UPDATE kg_assertion_id SET expires_at_ms = ? \
                         WHERE issuer = ? AND jti = ? AND expires_at_ms <= ?",
                    )
                    .bind(expires_at_ms)
                    .bind(issuer.to_owned())
                    .bind(jti.to_owned())
                    .bind(now_ms)
                    .execute(self.db.pool())
                    .await
                    .map_err(|e| self.db.fail(e, "assertion id"))?;
                Ok(renewed.rows_affected() > 0)
            }
            Err(e) => Err(e),
        }
    }

    async fn purge_assertion_ids(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query("DELETE FROM kg_assertion_id WHERE expires_at_ms < ?")
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "assertion ids"))?;
        Ok(done.rows_affected())
    }
}
