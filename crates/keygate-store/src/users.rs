//! The user store of `shared_db`: users with Argon2id password hashes, roles, user-role
//! assignments and claims. [`UserStore`] is the trait the key manager and the control
//! plane hold (`Arc<dyn UserStore>`), so that an LDAP or Active Directory store can take
//! the database's place. As in WSO2, a user store serves one tenant.

use crate::db::{Columns, Db, Page, bounded, limit, page_args};
use crate::error::{StoreError, StoreResult};
use crate::passwords;
use async_trait::async_trait;
use keygate_model::{Role, Secret, Tenant, User, UserId, roles};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Login name, unique within the tenant.
    pub username: String,
    /// Initial password.
    pub password: Secret,
    /// Roles to assign; each must exist.
    pub roles: Vec<String>,
    /// Claims keyed by claim URI.
    pub claims: BTreeMap<String, String>,
}

/// Users, roles and claims of one tenant.
#[async_trait]
pub trait UserStore: Send + Sync + std::fmt::Debug {
    /// The tenant this store serves.
    fn tenant(&self) -> &Tenant;

    /// The user whose name and password these are, or `None` when either is wrong. Both
    /// cases take the same time: an unknown user still costs one hash verification. A
    /// locked user is returned too; callers check [`User::is_locked`].
    async fn authenticate(&self, username: &str, password: &Secret) -> StoreResult<Option<User>>;

    /// Creates a user; [`StoreError::Conflict`] when the name is taken,
    /// [`StoreError::NotFound`] when a role does not exist.
    async fn add_user(&self, user: &NewUser, now_ms: i64) -> StoreResult<User>;

    /// The user by login name.
    async fn user(&self, username: &str) -> StoreResult<Option<User>>;

    /// The user by id.
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>>;

    /// Users ordered by name.
    async fn list_users(&self, page: Page) -> StoreResult<Vec<User>>;

    /// Deletes a user with its roles and claims; whether it existed.
    async fn delete_user(&self, username: &str) -> StoreResult<bool>;

    /// Replaces a user's password.
    async fn set_password(&self, username: &str, password: &Secret, now_ms: i64)
    -> StoreResult<()>;

    /// Creates a role; [`StoreError::Conflict`] when it exists.
    async fn add_role(&self, name: &str) -> StoreResult<Role>;

    /// Whether a role exists.
    async fn role_exists(&self, name: &str) -> StoreResult<bool>;

    /// Roles ordered by name.
    async fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>>;

    /// Deletes a role and every assignment of it; whether it existed.
    async fn delete_role(&self, name: &str) -> StoreResult<bool>;

    /// Replaces a user's roles.
    async fn set_user_roles(
        &self,
        username: &str,
        roles: &[String],
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Gives a user a role; no change when the user has it already.
    async fn add_user_role(&self, username: &str, role: &str) -> StoreResult<()>;

    /// Takes a role from a user; whether the user had it.
    async fn remove_user_role(&self, username: &str, role: &str) -> StoreResult<bool>;

    /// Names of the users who have `role`, ordered.
    async fn users_in_role(&self, role: &str, page: Page) -> StoreResult<Vec<String>>;

    /// Sets the given claims of a user, keeping the others.
    async fn set_claims(
        &self,
        username: &str,
        claims: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Removes one claim of a user; whether it was set.
    async fn remove_claim(&self, username: &str, claim_uri: &str) -> StoreResult<bool>;

    /// Creates the super administrator with the `admin` and `Internal/everyone` roles
    /// (creating the roles as needed) unless a user of that name exists; whether it
    /// created the user. An existing user's password is left alone.
    async fn ensure_super_admin(
        &self,
        username: &str,
        password: &Secret,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Checks that the store answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// [`UserStore`] over the `kg_user*` tables.
#[derive(Debug)]
pub struct SqlUserStore {
    db: Db,
    tenant: Tenant,
}

const USER_COLUMNS: &str = "id, tenant, username, created_at_ms, updated_at_ms";

impl SqlUserStore {
    pub(crate) async fn new(db: Db, tenant: Tenant) -> StoreResult<Self> {
        // Warm the unknown-user timing hash in the background: start-up does not wait for
        // an Argon2 computation, and the first login for an unknown user finds it ready.
        tokio::spawn(async {
            let _ = passwords::timing_hash().await;
        });
        Ok(Self { db, tenant })
    }

    fn t(&self) -> &str {
        self.tenant.domain()
    }

    async fn user_row_by_name(&self, username: &str) -> StoreResult<Option<AnyRow>> {
        self.db
            .query(
                "SELECT id, tenant, username, password_hash, created_at_ms, updated_at_ms \
                 FROM kg_user \
                 WHERE tenant = ? AND username = ?",
            )
            .bind(self.t().to_owned())
            .bind(username.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user"))
    }

    async fn user_id(&self, username: &str) -> StoreResult<String> {
        self.db
            .query("SELECT id FROM kg_user WHERE tenant = ? AND username = ?")
            .bind(self.t().to_owned())
            .bind(username.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user"))?
            .map(|row| row.text("id"))
            .transpose()?
            .ok_or_else(|| StoreError::not_found(format!("user {username:?}")))
    }

    /// The full user from its `kg_user` row: roles and claims are read alongside.
    async fn complete(&self, row: &AnyRow) -> StoreResult<User> {
        let id = row.text("id")?;
        let mut roles = self
            .db
            .query("SELECT role_name FROM kg_user_role WHERE user_id = ?")
            .bind(id.clone())
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user roles"))?
            .iter()
            .map(|r| r.text("role_name"))
            .collect::<StoreResult<Vec<_>>>()?;
        // Sorted here, not in SQL, so that every backend and collation gives one order.
        roles.sort();
        let claims = self
            .db
            .query("SELECT claim_uri, claim_value FROM kg_user_claim WHERE user_id = ?")
            .bind(id.clone())
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user claims"))?
            .iter()
            .map(|r| Ok((r.text("claim_uri")?, r.text("claim_value")?)))
            .collect::<StoreResult<BTreeMap<_, _>>>()?;
        Ok(User {
            id: UserId::new(id),
            tenant: Tenant::new(row.text("tenant")?),
            username: row.text("username")?,
            claims,
            roles,
            created_at_ms: row.int("created_at_ms")?,
            updated_at_ms: row.int("updated_at_ms")?,
        })
    }

    async fn touch(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.db
            .query("UPDATE kg_user SET updated_at_ms = ? WHERE id = ?")
            .bind(now_ms)
            .bind(user_id.to_owned())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db.fail(e, "user"))?;
        Ok(())
    }

    async fn insert_role_if_missing(&self, name: &str) -> StoreResult<()> {
        match self.add_role(name).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn role_missing(error: StoreError, role: &str) -> StoreError {
    match error {
        StoreError::Invalid {
            field: "reference", ..
        } => StoreError::not_found(format!("role {role:?}")),
        other => other,
    }
}

#[async_trait]
impl UserStore for SqlUserStore {
    fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    async fn authenticate(&self, username: &str, password: &Secret) -> StoreResult<Option<User>> {
        let Some(row) = self.user_row_by_name(username).await? else {
            passwords::verify(password, passwords::timing_hash().await?).await?;
            return Ok(None);
        };
        let stored = row.text("password_hash")?;
        if !passwords::verify(password, &stored).await? {
            return Ok(None);
        }
        self.complete(&row).await.map(Some)
    }

    async fn add_user(&self, user: &NewUser, now_ms: i64) -> StoreResult<User> {
        bounded("username", &user.username, limit::NAME)?;
        for uri in user.claims.keys() {
            bounded("claim uri", uri, limit::NAME)?;
        }
        let hash = passwords::hash(&user.password).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.db.begin().await?;
        self.db
            .query(
                "INSERT INTO kg_user \
                 (id, tenant, username, password_hash, created_at_ms, updated_at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(id.clone())
            .bind(self.t().to_owned())
            .bind(user.username.clone())
            .bind(hash)
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                self.db
                    .fail(e, format!("user {:?}", user.username).as_str())
            })?;
        for role in &user.roles {
            self.db
                .query("INSERT INTO kg_user_role (user_id, tenant, role_name) VALUES (?, ?, ?)")
                .bind(id.clone())
                .bind(self.t().to_owned())
                .bind(role.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| role_missing(self.db.fail(e, "user role"), role))?;
        }
        for (uri, value) in &user.claims {
            self.db
                .query(
                    "INSERT INTO kg_user_claim (user_id, claim_uri, claim_value) VALUES (?, ?, ?)",
                )
                .bind(id.clone())
                .bind(uri.clone())
                .bind(value.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db.fail(e, "user claim"))?;
        }
        tx.commit().await.map_err(|e| self.db.fail(e, "user"))?;
        self.user_by_id(&UserId::new(id))
            .await?
            .ok_or_else(|| StoreError::not_found(format!("user {:?}", user.username)))
    }

    async fn user(&self, username: &str) -> StoreResult<Option<User>> {
        match self.user_row_by_name(username).await? {
            Some(row) => self.complete(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        let row = self
            .db
            .query(&format!(
                "SELECT {USER_COLUMNS} FROM kg_user WHERE id = ? AND tenant = ?"
            ))
            .bind(id.as_str().to_owned())
            .bind(self.t().to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user"))?;
        match row {
            Some(row) => self.complete(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn list_users(&self, page: Page) -> StoreResult<Vec<User>> {
        let (limit, offset) = page_args(page);
        let rows = self
            .db
            .query(&format!(
                "SELECT {USER_COLUMNS} FROM kg_user \
                 WHERE tenant = ? ORDER BY username LIMIT ? OFFSET ?"
            ))
            .bind(self.t().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "users"))?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(self.complete(row).await?);
        }
        Ok(users)
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query("DELETE FROM kg_user WHERE tenant = ? AND username = ?")
            .bind(self.t().to_owned())
            .bind(username.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        now_ms: i64,
    ) -> StoreResult<()> {
        let hash = passwords::hash(password).await?;
        let done = self
            .db
            .query(
                "UPDATE kg_user SET password_hash = ?, updated_at_ms = ? \
                 WHERE tenant = ? AND username = ?",
            )
            .bind(hash)
            .bind(now_ms)
            .bind(self.t().to_owned())
            .bind(username.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("user {username:?}")));
        }
        Ok(())
    }

    async fn add_role(&self, name: &str) -> StoreResult<Role> {
        bounded("role name", name, limit::NAME)?;
        self.db
            .query("INSERT INTO kg_role (tenant, name) VALUES (?, ?)")
            .bind(self.t().to_owned())
            .bind(name.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, format!("role {name:?}").as_str()))?;
        Ok(Role {
            tenant: self.tenant.clone(),
            name: name.to_owned(),
        })
    }

    async fn role_exists(&self, name: &str) -> StoreResult<bool> {
        let row = self
            .db
            .query("SELECT name FROM kg_role WHERE tenant = ? AND name = ?")
            .bind(self.t().to_owned())
            .bind(name.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "role"))?;
        Ok(row.is_some())
    }

    async fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>> {
        let (limit, offset) = page_args(page);
        self.db
            .query("SELECT name FROM kg_role WHERE tenant = ? ORDER BY name LIMIT ? OFFSET ?")
            .bind(self.t().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "roles"))?
            .iter()
            .map(|row| {
                Ok(Role {
                    tenant: self.tenant.clone(),
                    name: row.text("name")?,
                })
            })
            .collect()
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query("DELETE FROM kg_role WHERE tenant = ? AND name = ?")
            .bind(self.t().to_owned())
            .bind(name.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "role"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_roles(
        &self,
        username: &str,
        roles: &[String],
        now_ms: i64,
    ) -> StoreResult<()> {
        let id = self.user_id(username).await?;
        let mut tx = self.db.begin().await?;
        self.db
            .query("DELETE FROM kg_user_role WHERE user_id = ?")
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "user roles"))?;
        let mut unique: Vec<&String> = roles.iter().collect();
        unique.sort();
        unique.dedup();
        for role in unique {
            self.db
                .query("INSERT INTO kg_user_role (user_id, tenant, role_name) VALUES (?, ?, ?)")
                .bind(id.clone())
                .bind(self.t().to_owned())
                .bind(role.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| role_missing(self.db.fail(e, "user role"), role))?;
        }
        self.touch(&mut tx, &id, now_ms).await?;
        tx.commit().await.map_err(|e| self.db.fail(e, "user roles"))
    }

    async fn add_user_role(&self, username: &str, role: &str) -> StoreResult<()> {
        let id = self.user_id(username).await?;
        let result = self
            .db
            .query("INSERT INTO kg_user_role (user_id, tenant, role_name) VALUES (?, ?, ?)")
            .bind(id)
            .bind(self.t().to_owned())
            .bind(role.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| role_missing(self.db.fail(e, "user role"), role));
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn remove_user_role(&self, username: &str, role: &str) -> StoreResult<bool> {
        let id = self.user_id(username).await?;
        let done = self
            .db
            .query("DELETE FROM kg_user_role WHERE user_id = ? AND role_name = ?")
            .bind(id)
            .bind(role.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user role"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn users_in_role(&self, role: &str, page: Page) -> StoreResult<Vec<String>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(
                "SELECT u.username \
                 FROM kg_user u JOIN kg_user_role r ON r.user_id = u.id \
                 WHERE r.tenant = ? AND r.role_name = ? \
                 ORDER BY u.username LIMIT ? OFFSET ?",
            )
            .bind(self.t().to_owned())
            .bind(role.to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "users in role"))?
            .iter()
            .map(|row| row.text("username"))
            .collect()
    }

    async fn set_claims(
        &self,
        username: &str,
        claims: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> StoreResult<()> {
        for uri in claims.keys() {
            bounded("claim uri", uri, limit::NAME)?;
        }
        let id = self.user_id(username).await?;
        let mut tx = self.db.begin().await?;
        for (uri, value) in claims {
            self.db
                .query("DELETE FROM kg_user_claim WHERE user_id = ? AND claim_uri = ?")
                .bind(id.clone())
                .bind(uri.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db.fail(e, "user claim"))?;
            self.db
                .query(
                    "INSERT INTO kg_user_claim (user_id, claim_uri, claim_value) VALUES (?, ?, ?)",
                )
                .bind(id.clone())
                .bind(uri.clone())
                .bind(value.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db.fail(e, "user claim"))?;
        }
        self.touch(&mut tx, &id, now_ms).await?;
        tx.commit()
            .await
            .map_err(|e| self.db.fail(e, "user claims"))
    }

    async fn remove_claim(&self, username: &str, claim_uri: &str) -> StoreResult<bool> {
        let id = self.user_id(username).await?;
        let done = self
            .db
            .query("DELETE FROM kg_user_claim WHERE user_id = ? AND claim_uri = ?")
            .bind(id)
            .bind(claim_uri.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "user claim"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn ensure_super_admin(
        &self,
        username: &str,
        password: &Secret,
        now_ms: i64,
    ) -> StoreResult<bool> {
        if self.user_row_by_name(username).await?.is_some() {
            return Ok(false);
        }
        for role in [roles::ADMIN, roles::EVERYONE] {
            self.insert_role_if_missing(role).await?;
        }
        let admin = NewUser {
            username: username.to_owned(),
            password: password.clone(),
            roles: vec![roles::ADMIN.to_owned(), roles::EVERYONE.to_owned()],
            claims: BTreeMap::new(),
        };
        match self.add_user(&admin, now_ms).await {
            Ok(_) => Ok(true),
            // Another node created it at the same moment.
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await
    }
}
