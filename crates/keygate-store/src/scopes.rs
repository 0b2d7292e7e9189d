//! OAuth scopes and the roles bound to them (`kg_scope`, `kg_scope_role`): what the key
//! manager consults before granting a scope to a user, and what the Publisher attaches to
//! API resources.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, limit, page_args};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::{Scope, Tenant};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// Scopes with their role bindings.
#[async_trait]
pub trait ScopeRepository: Send + Sync {
    /// Stores a new scope with its role bindings; [`StoreError::Conflict`] when the name is
    /// taken in the tenant.
    async fn create_scope(&self, scope: &Scope) -> StoreResult<Scope>;

    /// The scope by name.
    async fn scope(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<Scope>>;

    /// Scopes ordered by name.
    async fn list_scopes(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<Scope>>;

    /// Names of the scopes bound to any of `roles`, ordered.
    async fn scopes_of_roles(&self, tenant: &Tenant, roles: &[String]) -> StoreResult<Vec<String>>;

    /// Replaces display name, description and role bindings.
    async fn update_scope(&self, scope: &Scope) -> StoreResult<Scope>;

    /// Deletes a scope with its bindings; whether it existed.
    async fn delete_scope(&self, tenant: &Tenant, name: &str) -> StoreResult<bool>;
}

impl SqlApim {
    async fn scope_from_row(&self, row: &AnyRow) -> StoreResult<Scope> {
        let tenant = row.text("tenant")?;
        let name = row.text("name")?;
        let mut roles = self
            .db
            .query("SELECT role_name FROM kg_scope_role WHERE tenant = ? AND scope_name = ?")
            .bind(tenant.clone())
            .bind(name.clone())
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "scope roles"))?
            .iter()
            .map(|r| r.text("role_name"))
            .collect::<StoreResult<Vec<_>>>()?;
        // Sorted here, not in SQL, so that every backend and collation gives one order.
        roles.sort();
        Ok(Scope {
            tenant: Tenant::new(tenant),
            name,
            display_name: row.text("display_name")?,
            description: row.opt_text("description")?,
            roles,
        })
    }

    async fn write_scope_roles(
        &self,
        tx: &mut Transaction<'static, Any>,
        scope: &Scope,
    ) -> StoreResult<()> {
        self.db
            .query("DELETE FROM kg_scope_role WHERE tenant = ? AND scope_name = ?")
            .bind(scope.tenant.domain().to_owned())
            .bind(scope.name.clone())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db.fail(e, "scope roles"))?;
        let mut roles: Vec<&String> = scope.roles.iter().collect();
        roles.sort();
        roles.dedup();
        for role in roles {
            bounded("role name", role, limit::NAME)?;
            self.db
                .query("INSERT INTO kg_scope_role (tenant, scope_name, role_name) VALUES (?, ?, ?)")
                .bind(scope.tenant.domain().to_owned())
                .bind(scope.name.clone())
                .bind(role.clone())
                .execute(&mut **tx)
                .await
                .map_err(|e| self.db.fail(e, "scope role"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl ScopeRepository for SqlApim {
    async fn create_scope(&self, scope: &Scope) -> StoreResult<Scope> {
        bounded("tenant", scope.tenant.domain(), limit::TENANT)?;
        bounded("scope name", &scope.name, limit::NAME)?;
        if scope.name.contains(char::is_whitespace) {
            return Err(StoreError::Invalid {
                field: "scope name",
                reason: "a scope token has no whitespace (RFC 6749 §3.3)".into(),
            });
        }
        let mut tx = self.db.begin().await?;
        self.db
            .query(
                "INSERT INTO kg_scope (tenant, name, display_name, description) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(scope.tenant.domain().to_owned())
            .bind(scope.name.clone())
            .bind(scope.display_name.clone())
            .bind(scope.description.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, &format!("scope {}", scope.name)))?;
        self.write_scope_roles(&mut tx, scope).await?;
        tx.commit().await.map_err(|e| self.db.fail(e, "scope"))?;
        self.scope(&scope.tenant, &scope.name)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("scope {}", scope.name)))
    }

    async fn scope(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<Scope>> {
        let row = self
            .db
            .query(
                "SELECT tenant, name, display_name, description FROM kg_scope \
                 WHERE tenant = ? AND name = ?",
            )
            .bind(tenant.domain().to_owned())
            .bind(name.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "scope"))?;
        match row {
            Some(row) => self.scope_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn list_scopes(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<Scope>> {
        let (limit, offset) = page_args(page);
        let rows = self
            .db
            .query(
                "SELECT tenant, name, display_name, description FROM kg_scope WHERE tenant = ? \
                 ORDER BY name LIMIT ? OFFSET ?",
            )
            .bind(tenant.domain().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "scopes"))?;
        let mut scopes = Vec::with_capacity(rows.len());
        for row in &rows {
            scopes.push(self.scope_from_row(row).await?);
        }
        Ok(scopes)
    }

    async fn scopes_of_roles(&self, tenant: &Tenant, roles: &[String]) -> StoreResult<Vec<String>> {
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; roles.len()].join(", ");
        let mut query = self
            .db
            .query(&format!(
                "SELECT DISTINCT scope_name FROM kg_scope_role \
                 WHERE tenant = ? AND role_name IN ({marks}) ORDER BY scope_name"
            ))
            .bind(tenant.domain().to_owned());
        for role in roles {
            query = query.bind(role.clone());
        }
        query
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "scopes"))?
            .iter()
            .map(|row| row.text("scope_name"))
            .collect()
    }

    async fn update_scope(&self, scope: &Scope) -> StoreResult<Scope> {
        let mut tx = self.db.begin().await?;
        let done = self
            .db
            .query(
                "UPDATE kg_scope SET display_name = ?, description = ? \
                 WHERE tenant = ? AND name = ?",
            )
            .bind(scope.display_name.clone())
            .bind(scope.description.clone())
            .bind(scope.tenant.domain().to_owned())
            .bind(scope.name.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db.fail(e, "scope"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("scope {}", scope.name)));
        }
        self.write_scope_roles(&mut tx, scope).await?;
        tx.commit().await.map_err(|e| self.db.fail(e, "scope"))?;
        self.scope(&scope.tenant, &scope.name)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("scope {}", scope.name)))
    }

    async fn delete_scope(&self, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query("DELETE FROM kg_scope WHERE tenant = ? AND name = ?")
            .bind(tenant.domain().to_owned())
            .bind(name.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "scope"))?;
        Ok(done.rows_affected() > 0)
    }
}
