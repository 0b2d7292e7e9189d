//! Access and refresh tokens (`kg_access_token`) and authorization codes
//! (`kg_authorization_code`). Tokens are found by the digest the key manager computed;
//! there is deliberately no uniqueness rule over client, user and scope (WSO2's
//! `CON_APP_KEY`), so concurrent token requests for one client and user all succeed.
//! State changes that must happen once — consuming a code, rotating a refresh token — are
//! single conditional updates, so exactly one of many concurrent callers wins.

use crate::SqlApim;
use crate::db::{Columns, Db, Page, bounded, limit, page_args, words};
use crate::error::{StoreError, StoreResult};
use crate::revocations::{self, RevokedSubjectKind, SubjectRevocation};
use async_trait::async_trait;
use keygate_model::{AccessToken, AuthorizationCode, CodeState, Tenant, TokenState};
use sqlx::Any;
use sqlx::any::AnyRow;
use std::sync::LazyLock;

/// Access tokens with their refresh tokens.
#[async_trait]
pub trait AccessTokenRepository: Send + Sync {
    /// Stores a new token. [`crate::StoreError::Conflict`] when its id, digest or refresh digest
    /// exists; [`crate::StoreError::Invalid`] when its client does not.
    async fn insert_token(&self, token: &AccessToken) -> StoreResult<()>;

    /// The token by record id (`jti`).
    async fn token(&self, token_id: &str) -> StoreResult<Option<AccessToken>>;

    /// The token whose access-token digest this is.
    async fn token_by_digest(&self, token_digest: &str) -> StoreResult<Option<AccessToken>>;

    /// The token whose refresh-token digest this is.
    async fn token_by_refresh_digest(
        &self,
        refresh_token_digest: &str,
    ) -> StoreResult<Option<AccessToken>>;

    /// Tokens of one client for one user, newest first.
    async fn list_tokens_for(
        &self,
        client_id: &str,
        subject: &str,
        page: Page,
    ) -> StoreResult<Vec<AccessToken>>;

    /// Tokens of one client for one user, newest first, in `state` only.
    async fn list_tokens_in_state(
        &self,
        client_id: &str,
        subject: &str,
        state: TokenState,
        page: Page,
    ) -> StoreResult<Vec<AccessToken>>;

    /// How many tokens one client holds for one user, whatever their state.
    async fn count_tokens_for(&self, client_id: &str, subject: &str) -> StoreResult<u64>;

    /// Moves a token from state `from` to `to`; whether this call made the change (false
    /// when the token is missing or in another state).
    async fn set_token_state(
        &self,
        token_id: &str,
        from: TokenState,
        to: TokenState,
    ) -> StoreResult<bool>;

    /// Refresh-token rotation in one transaction: the active token `old_token_id` becomes
    /// `INACTIVE` and `successor` is stored. Returns false, storing nothing, when the old
    /// token is no longer active — a concurrent refresh won, or the refresh token is
    /// being replayed.
    async fn rotate_token(&self, old_token_id: &str, successor: &AccessToken) -> StoreResult<bool>;

    /// Revokes one token; whether it was not revoked before.
    async fn revoke_token(&self, token_id: &str) -> StoreResult<bool>;

    /// Revokes every live token descending from one grant; how many.
    async fn revoke_family(&self, refresh_family_id: &str) -> StoreResult<u64>;

    /// Revokes every live token of a client and records the revoke-all (see
    /// [`crate::SubjectRevocationRepository`]); how many.
    async fn revoke_by_client(&self, client_id: &str) -> StoreResult<u64>;

    /// Revokes every live token of a user, in every client, and records the revoke-all
    /// (see [`crate::SubjectRevocationRepository`]); how many.
    async fn revoke_by_subject(&self, tenant: &Tenant, subject: &str) -> StoreResult<u64>;

    /// Deletes tokens whose access and refresh tokens both expired before `now_ms`; how
    /// many.
    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64>;
}

/// What happened to an authorization code presented at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeConsumption {
    /// This call consumed the code; it is now `INACTIVE`. Exactly one caller sees this.
    Consumed(AuthorizationCode),
    /// The code was consumed before: a replay. RFC 6749 §4.1.2 says to revoke the tokens
    /// issued from it (`token_id`).
    AlreadyUsed(AuthorizationCode),
    /// The code's lifetime is over.
    Expired(AuthorizationCode),
    /// The code was revoked.
    Revoked(AuthorizationCode),
    /// No such code.
    Unknown,
}

/// Authorization codes.
#[async_trait]
pub trait AuthorizationCodeRepository: Send + Sync {
    /// Stores a new code. [`crate::StoreError::Conflict`] when its id or digest exists.
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;

    /// The code by digest, without consuming it.
    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthorizationCode>>;

    /// Consumes an active, unexpired code at most once, atomically.
    async fn consume_code(&self, code_digest: &str, now_ms: i64) -> StoreResult<CodeConsumption>;

    /// Records the token issued from a consumed code; whether the code exists.
    async fn record_code_token(&self, code_id: &str, token_id: &str) -> StoreResult<bool>;

    /// Revokes a code; whether it was not revoked before.
    async fn revoke_code(&self, code_digest: &str) -> StoreResult<bool>;

    /// Deletes codes that expired before `now_ms`; how many.
    async fn purge_expired_codes(&self, now_ms: i64) -> StoreResult<u64>;
}

const TOKEN_COLUMNS: &str = "token_id, tenant, token_digest, token_value, refresh_token_digest, \
     refresh_token_value, refresh_family_id, client_id, subject, grant_type, scopes, \
     issued_at_ms, validity_ms, refresh_issued_at_ms, refresh_validity_ms, state, \
     binding_thumbprint";

/// Most tokens one `INSERT` statement writes (17 parameters each, far below every
/// backend's parameter limit).
pub(crate) const MAX_ROWS_PER_INSERT: usize = 64;

/// `INSERT` statements of 1, 2, 3, … [`MAX_ROWS_PER_INSERT`] tokens: a batch up to that
/// size is one statement — one round trip to the database (on SQLite, one hand-off to the
/// connection's thread) and its own commit — and larger ones are a few in a transaction.
static INSERT_TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let row = format!("({})", vec!["?"; 17].join(", "));
    (1..=MAX_ROWS_PER_INSERT)
        .map(|n| {
            format!(
                "INSERT INTO kg_access_token ({TOKEN_COLUMNS}) VALUES {}",
                vec![row.as_str(); n].join(", ")
            )
        })
        .collect()
});

const CODE_COLUMNS: &str = "code_id, tenant, code_digest, client_id, subject, redirect_uri, \
     scopes, pkce_challenge, pkce_method, nonce, issued_at_ms, validity_ms, state, token_id, \
     auth_time_ms";

/// Tokens that revocation still changes.
const LIVE: &str = "state IN ('ACTIVE', 'INACTIVE')";

fn token_from_row(row: &AnyRow) -> StoreResult<AccessToken> {
    Ok(AccessToken {
        token_id: row.text("token_id")?,
        tenant: Tenant::new(row.text("tenant")?),
        token_digest: row.text("token_digest")?,
        token_value: row.opt_text("token_value")?,
        refresh_token_digest: row.opt_text("refresh_token_digest")?,
        refresh_token_value: row.opt_text("refresh_token_value")?,
        refresh_family_id: row.text("refresh_family_id")?,
        client_id: row.text("client_id")?,
        subject: row.text("subject")?,
        grant_type: row.text("grant_type")?,
        scopes: row.words("scopes")?,
        issued_at_ms: row.int("issued_at_ms")?,
        validity_ms: row.int("validity_ms")?,
        refresh_issued_at_ms: row.opt_int("refresh_issued_at_ms")?,
        refresh_validity_ms: row.opt_int("refresh_validity_ms")?,
        state: row.parsed("state")?,
        binding_thumbprint: row.opt_text("binding_thumbprint")?,
    })
}

fn code_from_row(row: &AnyRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_id: row.text("code_id")?,
        tenant: Tenant::new(row.text("tenant")?),
        code_digest: row.text("code_digest")?,
        client_id: row.text("client_id")?,
        subject: row.text("subject")?,
        redirect_uri: row.opt_text("redirect_uri")?,
        scopes: row.words("scopes")?,
        pkce_challenge: row.opt_text("pkce_challenge")?,
        pkce_method: row.opt_parsed("pkce_method")?,
        nonce: row.opt_text("nonce")?,
        issued_at_ms: row.int("issued_at_ms")?,
        validity_ms: row.int("validity_ms")?,
        state: row.parsed("state")?,
        token_id: row.opt_text("token_id")?,
        auth_time_ms: row.opt_int("auth_time_ms")?,
    })
}

fn validate_token(t: &AccessToken) -> StoreResult<()> {
    bounded("token id", &t.token_id, limit::ID)?;
    bounded("tenant", t.tenant.domain(), limit::TENANT)?;
    bounded("token digest", &t.token_digest, limit::DIGEST)?;
    if let Some(refresh) = &t.refresh_token_digest {
        bounded("refresh token digest", refresh, limit::DIGEST)?;
    }
    bounded("refresh family id", &t.refresh_family_id, limit::ID)?;
    bounded("subject", &t.subject, limit::NAME)?;
    Ok(())
}

/// Inserts one token through `executor` (the pool, or a transaction).
pub(crate) async fn write_token<'e, E>(db: &Db, executor: E, t: &AccessToken) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    write_tokens(db, executor, std::slice::from_ref(&t)).await
}

/// Inserts `tokens` — 1 to [`MAX_ROWS_PER_INSERT`] of them — in one statement, so all or
/// none of them.
pub(crate) async fn write_tokens<'e, E>(
    db: &Db,
    executor: E,
    tokens: &[&AccessToken],
) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = tokens
        .len()
        .checked_sub(1)
        .and_then(|i| INSERT_TOKENS.get(i))
        .ok_or_else(|| StoreError::Invalid {
            field: "access token batch",
            reason: format!("{} tokens do not make one statement", tokens.len()),
        })?;
    let mut query = db.query(sql);
    for t in tokens {
        validate_token(t)?;
        query = query
            .bind(t.token_id.clone())
            .bind(t.tenant.domain().to_owned())
            .bind(t.token_digest.clone())
            .bind(t.token_value.clone())
            .bind(t.refresh_token_digest.clone())
            .bind(t.refresh_token_value.clone())
            .bind(t.refresh_family_id.clone())
            .bind(t.client_id.clone())
            .bind(t.subject.clone())
            .bind(t.grant_type.clone())
            .bind(words("token scopes", &t.scopes)?)
            .bind(t.issued_at_ms)
            .bind(t.validity_ms)
            .bind(t.refresh_issued_at_ms)
            .bind(t.refresh_validity_ms)
            .bind(t.state.as_str())
            .bind(t.binding_thumbprint.clone());
    }
    query
        .execute(executor)
        .await
        .map_err(|e| db.fail(e, "access token with this id or digest"))?;
    Ok(())
}

impl SqlApim {
    async fn one_token(&self, column: &str, key: &str) -> StoreResult<Option<AccessToken>> {
        self.db
            .query(&format!(
                "SELECT {TOKEN_COLUMNS} FROM kg_access_token WHERE {column} = ?"
            ))
            .bind(key.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access token"))?
            .map(|row| token_from_row(&row))
            .transpose()
    }

    async fn revoke_where(&self, filter: &str, args: Vec<String>) -> StoreResult<u64> {
        let mut query = self.db.query(&format!(
            "UPDATE kg_access_token SET state = 'REVOKED' WHERE {filter} AND {LIVE}"
        ));
        for arg in args {
            query = query.bind(arg);
        }
        let done = query
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        Ok(done.rows_affected())
    }

    /// Revokes every live token `filter` selects and, in the same transaction, records a
    /// revoke-all of `subject` per tenant covering them: tokens issued up to the latest
    /// of them, kept until the last of them expires.
    async fn revoke_all_of(
        &self,
        kind: RevokedSubjectKind,
        subject: &str,
        filter: &str,
        args: Vec<String>,
    ) -> StoreResult<u64> {
        let mut tx = self.db.begin().await?;
        let mut covered = self.db.query(&format!(
            "SELECT tenant, MAX(issued_at_ms) AS last_issued_ms, \
             MAX(issued_at_ms + validity_ms) AS last_expiry_ms \
             FROM kg_access_token WHERE {filter} AND {LIVE} GROUP BY tenant"
        ));
        let mut revoke = self.db.query(&format!(
            "UPDATE kg_access_token SET state = 'REVOKED' WHERE {filter} AND {LIVE}"
        ));
        for arg in args {
            covered = covered.bind(arg.clone());
            revoke = revoke.bind(arg);
        }
        let covered = covered
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        let done = revoke
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        for row in &covered {
            let (Some(last_issued), Some(last_expiry)) = (
                row.opt_int("last_issued_ms")?,
                row.opt_int("last_expiry_ms")?,
            ) else {
                continue;
            };
            let record = SubjectRevocation {
                tenant: Tenant::new(row.text("tenant")?),
                kind,
                subject: subject.to_owned(),
                revoked_before_ms: last_issued.saturating_add(1),
                expiry_time_ms: last_expiry,
            };
            revocations::record_in(self, &mut tx, &record).await?;
        }
        tx.commit()
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl AccessTokenRepository for SqlApim {
    async fn insert_token(&self, token: &AccessToken) -> StoreResult<()> {
        validate_token(token)?;
        self.token_batch.insert(&self.db, token.clone()).await
    }

    async fn token(&self, token_id: &str) -> StoreResult<Option<AccessToken>> {
        self.one_token("token_id", token_id).await
    }

    async fn token_by_digest(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
        self.one_token("token_digest", token_digest).await
    }

    async fn token_by_refresh_digest(
        &self,
        refresh_token_digest: &str,
    ) -> StoreResult<Option<AccessToken>> {
        self.one_token("refresh_token_digest", refresh_token_digest)
            .await
    }

    async fn list_tokens_for(
        &self,
        client_id: &str,
        subject: &str,
        page: Page,
    ) -> StoreResult<Vec<AccessToken>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {TOKEN_COLUMNS} FROM kg_access_token WHERE client_id = ? AND subject = ? \
                 ORDER BY issued_at_ms DESC, token_id LIMIT ? OFFSET ?"
            ))
            .bind(client_id.to_owned())
            .bind(subject.to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn list_tokens_in_state(
        &self,
        client_id: &str,
        subject: &str,
        state: TokenState,
        page: Page,
    ) -> StoreResult<Vec<AccessToken>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {TOKEN_COLUMNS} FROM kg_access_token \
                 WHERE client_id = ? AND subject = ? AND state = ? \
                 ORDER BY issued_at_ms DESC, token_id LIMIT ? OFFSET ?"
            ))
            .bind(client_id.to_owned())
            .bind(subject.to_owned())
            .bind(state.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn count_tokens_for(&self, client_id: &str, subject: &str) -> StoreResult<u64> {
        let row = self
            .db
            .query("SELECT COUNT(*) AS n FROM kg_access_token WHERE client_id = ? AND subject = ?")
            .bind(client_id.to_owned())
            .bind(subject.to_owned())
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        Ok(u64::try_from(row.int("n")?).unwrap_or_default())
    }

    async fn set_token_state(
        &self,
        token_id: &str,
        from: TokenState,
        to: TokenState,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query("UPDATE kg_access_token SET state = ? WHERE token_id = ? AND state = ?")
            .bind(to.as_str())
            .bind(token_id.to_owned())
            .bind(from.as_str())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access token"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn rotate_token(&self, old_token_id: &str, successor: &AccessToken) -> StoreResult<bool> {
        validate_token(successor)?;
        let mut tx = self.db.begin().await?;
        let done = self
            .db
            .query(
                "UPDATE kg_access_token SET state = 'INACTIVE' \
                 WHERE token_id = ? AND state = 'ACTIVE'",
            )
            .bind(old_token_id.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "access token"))?;
        if done.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(|e| self.db.fail(e, "access token"))?;
            return Ok(false);
        }
        write_token(&self.db, &mut *tx, successor).await?;
        tx.commit()
            .await
            .map_err(|e| self.db.fail(e, "access token"))?;
        Ok(true)
    }

    async fn revoke_token(&self, token_id: &str) -> StoreResult<bool> {
        Ok(self
            .revoke_where("token_id = ?", vec![token_id.to_owned()])
            .await?
            > 0)
    }

    async fn revoke_family(&self, refresh_family_id: &str) -> StoreResult<u64> {
        self.revoke_where("refresh_family_id = ?", vec![refresh_family_id.to_owned()])
            .await
    }

    async fn revoke_by_client(&self, client_id: &str) -> StoreResult<u64> {
        self.revoke_all_of(
            RevokedSubjectKind::ConsumerKey,
            client_id,
            "client_id = ?",
            vec![client_id.to_owned()],
        )
        .await
    }

    async fn revoke_by_subject(&self, tenant: &Tenant, subject: &str) -> StoreResult<u64> {
        self.revoke_all_of(
            RevokedSubjectKind::User,
            subject,
            "tenant = ? AND subject = ?",
            vec![tenant.domain().to_owned(), subject.to_owned()],
        )
        .await
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query(
                "DELETE FROM kg_access_token WHERE issued_at_ms + validity_ms < ? \
                 AND (refresh_issued_at_ms IS NULL \
                      OR refresh_issued_at_ms + COALESCE(refresh_validity_ms, 0) < ?)",
            )
            .bind(now_ms)
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "access tokens"))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl AuthorizationCodeRepository for SqlApim {
    async fn insert_code(&self, c: &AuthorizationCode) -> StoreResult<()> {
        bounded("code id", &c.code_id, limit::ID)?;
        bounded("tenant", c.tenant.domain(), limit::TENANT)?;
        bounded("code digest", &c.code_digest, limit::DIGEST)?;
        bounded("subject", &c.subject, limit::NAME)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_authorization_code ({CODE_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(c.code_id.clone())
            .bind(c.tenant.domain().to_owned())
            .bind(c.code_digest.clone())
            .bind(c.client_id.clone())
            .bind(c.subject.clone())
            .bind(c.redirect_uri.clone())
            .bind(words("code scopes", &c.scopes)?)
            .bind(c.pkce_challenge.clone())
            .bind(c.pkce_method.map(|m| m.as_str()))
            .bind(c.nonce.clone())
            .bind(c.issued_at_ms)
            .bind(c.validity_ms)
            .bind(c.state.as_str())
            .bind(c.token_id.clone())
            .bind(c.auth_time_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization code with this id or digest"))?;
        Ok(())
    }

    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthorizationCode>> {
        self.db
            .query(&format!(
                "SELECT {CODE_COLUMNS} FROM kg_authorization_code WHERE code_digest = ?"
            ))
            .bind(code_digest.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization code"))?
            .map(|row| code_from_row(&row))
            .transpose()
    }

    async fn consume_code(&self, code_digest: &str, now_ms: i64) -> StoreResult<CodeConsumption> {
        let done = self
            .db
            .query(
                "UPDATE kg_authorization_code SET state = 'INACTIVE' \
                 WHERE code_digest = ? AND state = 'ACTIVE' AND issued_at_ms + validity_ms > ?",
            )
            .bind(code_digest.to_owned())
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization code"))?;
        let won = done.rows_affected() > 0;
        let Some(code) = self.code(code_digest).await? else {
            return Ok(CodeConsumption::Unknown);
        };
        Ok(match code.state {
            CodeState::Inactive if won => CodeConsumption::Consumed(code),
            CodeState::Inactive => CodeConsumption::AlreadyUsed(code),
            CodeState::Revoked => CodeConsumption::Revoked(code),
            CodeState::Expired => CodeConsumption::Expired(code),
            CodeState::Active => {
                // Still active although the update did not take it: its lifetime is over.
                self.db
                    .query(
                        "UPDATE kg_authorization_code SET state = 'EXPIRED' \
                         WHERE code_digest = ? AND state = 'ACTIVE'",
                    )
                    .bind(code_digest.to_owned())
                    .execute(self.db.pool())
                    .await
                    .map_err(|e| self.db.fail(e, "authorization code"))?;
                CodeConsumption::Expired(AuthorizationCode {
                    state: CodeState::Expired,
                    ..code
                })
            }
        })
    }

    async fn record_code_token(&self, code_id: &str, token_id: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query("UPDATE kg_authorization_code SET token_id = ? WHERE code_id = ?")
            .bind(token_id.to_owned())
            .bind(code_id.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization code"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_code(&self, code_digest: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query(
                "UPDATE kg_authorization_code SET state = 'REVOKED' \
                 WHERE code_digest = ? AND state <> 'REVOKED'",
            )
            .bind(code_digest.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization code"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_expired_codes(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query("DELETE FROM kg_authorization_code WHERE issued_at_ms + validity_ms < ?")
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "authorization codes"))?;
        Ok(done.rows_affected())
    }
}
