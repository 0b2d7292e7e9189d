//! What the key manager remembers about people signing in through a browser, kept in
//! `apim_db` so that every key-manager node behind one load balancer sees the same thing:
//! login sessions (`kg_login_session`) and the consents users gave to clients
//! (`kg_user_consent`).
//!
//! A login session is found by the digest of its cookie — the key manager hashes the
//! cookie before it reaches the store, so a copy of the table opens no session. It ends at
//! an absolute expiry or after an idle period, whichever comes first; using it pushes the
//! idle expiry forward, never past the absolute one. A consent is one row per user and
//! client holding every scope the user approved for that client; it goes with the client.

use crate::SqlApim;
use crate::db::{Columns, bounded, limit, words};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::Tenant;
use sqlx::any::AnyRow;

/// A browser's login session at the key manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// Lookup key: the digest of the session cookie; unique.
    pub session_digest: String,
    /// Tenant of the user.
    pub tenant: Tenant,
    /// The user signed in.
    pub subject: String,
    /// When the user authenticated, unix milliseconds (OIDC `auth_time`).
    pub auth_time_ms: i64,
    /// When the session began, unix milliseconds.
    pub created_at_ms: i64,
    /// When the session ends unless it is used before, unix milliseconds.
    pub idle_expires_at_ms: i64,
    /// When the session ends whatever happens, unix milliseconds.
    pub expires_at_ms: i64,
}

impl LoginSession {
    /// Whether the session is still open at `now_ms`.
    pub fn is_open_at(&self, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms && now_ms < self.idle_expires_at_ms
    }
}

/// What a user approved for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConsent {
    /// Tenant of the user.
    pub tenant: Tenant,
    /// The user.
    pub subject: String,
    /// The client.
    pub client_id: String,
    /// Every scope approved, sorted.
    pub scopes: Vec<String>,
    /// When the consent was last given, unix milliseconds.
    pub granted_at_ms: i64,
}

/// Login sessions.
#[async_trait]
pub trait LoginSessionRepository: Send + Sync {
    /// Stores a new session; [`StoreError::Conflict`] when its digest exists.
    async fn insert_session(&self, session: &LoginSession) -> StoreResult<()>;

    /// The session whose cookie digest this is, open or not.
    async fn session(&self, session_digest: &str) -> StoreResult<Option<LoginSession>>;

    /// Moves the idle expiry of an open session to `idle_expires_at_ms` (capped at its
    /// absolute expiry); whether the session was open at `now_ms`.
    async fn touch_session(
        &self,
        session_digest: &str,
        idle_expires_at_ms: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Ends one session; whether it existed.
    async fn delete_session(&self, session_digest: &str) -> StoreResult<bool>;

    /// Ends every session of a user; how many.
    async fn delete_sessions_of(&self, tenant: &Tenant, subject: &str) -> StoreResult<u64>;

    /// Deletes sessions that ended before `now_ms`; how many.
    async fn purge_expired_sessions(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Consents users gave to clients.
#[async_trait]
pub trait ConsentRepository: Send + Sync {
    /// The consent a user gave a client, if any.
    async fn consent(
        &self,
        tenant: &Tenant,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Option<UserConsent>>;

    /// Stores a consent, replacing the one the user gave the client before.
    /// [`StoreError::Invalid`] when the client does not exist.
    async fn save_consent(&self, consent: &UserConsent) -> StoreResult<()>;

    /// Withdraws a consent; whether there was one.
    async fn revoke_consent(
        &self,
        tenant: &Tenant,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<bool>;
}

const SESSION_COLUMNS: &str = "session_digest, tenant, subject, auth_time_ms, created_at_ms, \
     idle_expires_at_ms, expires_at_ms";

/// Longest session digest stored (hex SHA-256 is 64).
const SESSION_DIGEST_LEN: usize = 128;

fn session_from_row(row: &AnyRow) -> StoreResult<LoginSession> {
    Ok(LoginSession {
        session_digest: row.text("session_digest")?,
        tenant: Tenant::new(row.text("tenant")?),
        subject: row.text("subject")?,
        auth_time_ms: row.int("auth_time_ms")?,
        created_at_ms: row.int("created_at_ms")?,
        idle_expires_at_ms: row.int("idle_expires_at_ms")?,
        expires_at_ms: row.int("expires_at_ms")?,
    })
}

fn consent_from_row(row: &AnyRow) -> StoreResult<UserConsent> {
    Ok(UserConsent {
        tenant: Tenant::new(row.text("tenant")?),
        subject: row.text("subject")?,
        client_id: row.text("client_id")?,
        scopes: row.words("scopes")?,
        granted_at_ms: row.int("granted_at_ms")?,
    })
}

#[async_trait]
impl LoginSessionRepository for SqlApim {
    async fn insert_session(&self, s: &LoginSession) -> StoreResult<()> {
        bounded("session digest", &s.session_digest, SESSION_DIGEST_LEN)?;
        bounded("tenant", s.tenant.domain(), limit::TENANT)?;
        bounded("subject", &s.subject, limit::NAME)?;
        if s.idle_expires_at_ms > s.expires_at_ms {
            return Err(StoreError::Invalid {
                field: "session idle expiry",
                reason: "is after the session's expiry".into(),
            });
        }
        self.db
            .query(&format!(
                "INSERT INTO kg_login_session ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(s.session_digest.clone())
            .bind(s.tenant.domain().to_owned())
            .bind(s.subject.clone())
            .bind(s.auth_time_ms)
            .bind(s.created_at_ms)
            .bind(s.idle_expires_at_ms)
            .bind(s.expires_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "login session with this digest"))?;
        Ok(())
    }

    async fn session(&self, session_digest: &str) -> StoreResult<Option<LoginSession>> {
        self.db
            .query(&format!(
                "SELECT {SESSION_COLUMNS} FROM kg_login_session WHERE session_digest = ?"
            ))
            .bind(session_digest.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "login session"))?
            .map(|row| session_from_row(&row))
            .transpose()
    }

    async fn touch_session(
        &self,
        session_digest: &str,
        idle_expires_at_ms: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query(
                "UPDATE kg_login_session SET idle_expires_at_ms = \
                 CASE WHEN ? < expires_at_ms THEN ? ELSE expires_at_ms END \
                 WHERE session_digest = ? AND idle_expires_at_ms > ? AND expires_at_ms > ?",
            )
            .bind(idle_expires_at_ms)
            .bind(idle_expires_at_ms)
            .bind(session_digest.to_owned())
            .bind(now_ms)
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "login session"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, session_digest: &str) -> StoreResult<bool> {
        self.db
            .delete_one(
                "kg_login_session",
                "session_digest",
                session_digest,
                "login session",
            )
            .await
    }

    async fn delete_sessions_of(&self, tenant: &Tenant, subject: &str) -> StoreResult<u64> {
        let done = self
            .db
            .query("DELETE FROM kg_login_session WHERE tenant = ? AND subject = ?")
            .bind(tenant.domain().to_owned())
            .bind(subject.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "login sessions"))?;
        Ok(done.rows_affected())
    }

    async fn purge_expired_sessions(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .db
            .query(
                "DELETE FROM kg_login_session \
                 WHERE expires_at_ms <= ? OR idle_expires_at_ms <= ?",
            )
            .bind(now_ms)
            .bind(now_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "login sessions"))?;
        Ok(done.rows_affected())
    }
}

impl SqlApim {
    /// Overwrites an existing consent row; whether the statement changed one (MySQL
    /// counts a row whose values stay the same as unchanged).
    async fn update_consent(&self, c: &UserConsent, scopes: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query(
                "UPDATE kg_user_consent SET scopes = ?, granted_at_ms = ? \
                 WHERE tenant = ? AND subject = ? AND client_id = ?",
            )
            .bind(scopes.to_owned())
            .bind(c.granted_at_ms)
            .bind(c.tenant.domain().to_owned())
            .bind(c.subject.clone())
            .bind(c.client_id.clone())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "consent"))?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl ConsentRepository for SqlApim {
    async fn consent(
        &self,
        tenant: &Tenant,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Option<UserConsent>> {
        self.db
            .query(
                "SELECT tenant, subject, client_id, scopes, granted_at_ms FROM kg_user_consent \
                 WHERE tenant = ? AND subject = ? AND client_id = ?",
            )
            .bind(tenant.domain().to_owned())
            .bind(subject.to_owned())
            .bind(client_id.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "consent"))?
            .map(|row| consent_from_row(&row))
            .transpose()
    }

    async fn save_consent(&self, c: &UserConsent) -> StoreResult<()> {
        bounded("tenant", c.tenant.domain(), limit::TENANT)?;
        bounded("subject", &c.subject, limit::NAME)?;
        bounded("client id", &c.client_id, limit::NAME)?;
        let scopes = words("consented scopes", &c.scopes)?;
        // Update, else insert; an insert that loses to another node's becomes an update.
        // Single statements, so that concurrent savers neither deadlock nor duplicate.
        if self.update_consent(c, &scopes).await? {
            return Ok(());
        }
        let inserted = self
            .db
            .query(
                "INSERT INTO kg_user_consent (tenant, subject, client_id, scopes, granted_at_ms) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(c.tenant.domain().to_owned())
            .bind(c.subject.clone())
            .bind(c.client_id.clone())
            .bind(scopes.clone())
            .bind(c.granted_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "consent"));
        match inserted {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict { .. }) => self.update_consent(c, &scopes).await.map(|_| ()),
            Err(e) => Err(e),
        }
    }

    async fn revoke_consent(
        &self,
        tenant: &Tenant,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query("DELETE FROM kg_user_consent WHERE tenant = ? AND subject = ? AND client_id = ?")
            .bind(tenant.domain().to_owned())
            .bind(subject.to_owned())
            .bind(client_id.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "consent"))?;
        Ok(done.rows_affected() > 0)
    }
}
