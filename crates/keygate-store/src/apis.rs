//! APIs and their resources (URL templates): `kg_api` and `kg_api_resource`. An API is
//! written together with its resources in one transaction; every update raises its
//! revision by one and succeeds only against the revision the caller read, so two
//! publishers cannot overwrite each other unseen.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, flag, json, limit, page_args, words};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::{Api, ApiStatus, Tenant, UrlTemplate};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// APIs of the Publisher, as gateways and the key manager look them up.
#[async_trait]
pub trait ApiRepository: Send + Sync {
    /// Stores a new API with its resources at revision 1 and returns it as stored.
    /// [`StoreError::Conflict`] when its uuid, its name and version for the provider, or
    /// its context and version are taken. A default version takes the default flag from
    /// the other versions of its context.
    async fn create_api(&self, api: &Api) -> StoreResult<Api>;

    /// The API by uuid.
    async fn api(&self, uuid: &str) -> StoreResult<Option<Api>>;

    /// The API at `context` and `version`.
    async fn api_by_context(
        &self,
        tenant: &Tenant,
        context: &str,
        version: &str,
    ) -> StoreResult<Option<Api>>;

    /// The default version of the API at `context`, if one is marked.
    async fn default_api_version(&self, tenant: &Tenant, context: &str)
    -> StoreResult<Option<Api>>;

    /// APIs ordered by name and version.
    async fn list_apis(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<Api>>;

    /// APIs in `status`, ordered by name and version.
    async fn list_apis_by_status(
        &self,
        tenant: &Tenant,
        status: ApiStatus,
        page: Page,
    ) -> StoreResult<Vec<Api>>;

    /// Replaces an API and its resources. `api.revision` must be the stored revision; the
    /// stored API comes back with the next one. [`StoreError::Conflict`] when another
    /// update came first, [`StoreError::NotFound`] when the API is gone.
    async fn update_api(&self, api: &Api, now_ms: i64) -> StoreResult<Api>;

    /// Moves an API through its lifecycle, raising its revision; whether it exists.
    async fn set_api_status(&self, uuid: &str, status: ApiStatus, now_ms: i64)
    -> StoreResult<bool>;

    /// Records which revision gateways run; whether the API exists.
    async fn set_deployed_revision(&self, uuid: &str, revision: Option<i64>) -> StoreResult<bool>;

    /// Deletes an API with its resources and subscriptions; whether it existed.
    async fn delete_api(&self, uuid: &str) -> StoreResult<bool>;
}

const API_COLUMNS: &str = "uuid, tenant, provider, name, version, context, is_default_version, \
     description, production_endpoint, sandbox_endpoint, status, api_tier, subscription_tiers, \
     revision, deployed_revision, created_at_ms, updated_at_ms";

fn validate(api: &Api) -> StoreResult<()> {
    bounded("api uuid", &api.uuid, limit::ID)?;
    bounded("tenant", api.tenant.domain(), limit::TENANT)?;
    bounded("api provider", &api.provider, limit::NAME)?;
    bounded("api name", &api.name, limit::NAME)?;
    bounded("api version", &api.version, limit::VERSION)?;
    bounded("api context", &api.context, limit::NAME)?;
    for template in &api.url_templates {
        bounded("url pattern", &template.url_pattern, limit::URL_PATTERN)?;
        bounded("http verb", &template.http_verb, limit::VERB)?;
    }
    Ok(())
}

/// How many APIs' resources one query fetches; far below every backend's parameter limit.
const RESOURCE_BATCH: usize = 500;

/// An API from its `kg_api` row, resources still empty.
fn api_from_row(row: &AnyRow) -> StoreResult<Api> {
    Ok(Api {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        provider: row.text("provider")?,
        name: row.text("name")?,
        version: row.text("version")?,
        context: row.text("context")?,
        is_default_version: row.flag("is_default_version")?,
        description: row.opt_text("description")?,
        production_endpoint: row.opt_text("production_endpoint")?,
        sandbox_endpoint: row.opt_text("sandbox_endpoint")?,
        status: row.parsed("status")?,
        api_tier: row.opt_text("api_tier")?,
        subscription_tiers: row.json("subscription_tiers")?,
        url_templates: Vec::new(),
        revision: row.int("revision")?,
        deployed_revision: row.opt_int("deployed_revision")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
    })
}

impl SqlApim {
    /// The resources of the given APIs, in order, fetched a few hundred APIs per query.
    async fn resources_of(
        &self,
        uuids: &[String],
    ) -> StoreResult<HashMap<String, Vec<UrlTemplate>>> {
        let mut resources: HashMap<String, Vec<UrlTemplate>> = HashMap::new();
        for chunk in uuids.chunks(RESOURCE_BATCH) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut query = self.db.query(&format!(
                "SELECT api_uuid, url_pattern, http_verb, auth_scheme, throttling_tier, scopes \
                 FROM kg_api_resource WHERE api_uuid IN ({marks}) ORDER BY api_uuid, ordinal"
            ));
            for uuid in chunk {
                query = query.bind(uuid.clone());
            }
            let rows = query
                .fetch_all(self.db.pool())
                .await
                .map_err(|e| self.db.fail(e, "api resources"))?;
            for r in &rows {
                resources
                    .entry(r.text("api_uuid")?)
                    .or_default()
                    .push(UrlTemplate {
                        url_pattern: r.text("url_pattern")?,
                        http_verb: r.text("http_verb")?,
                        auth_scheme: r.parsed("auth_scheme")?,
                        throttling_tier: r.text("throttling_tier")?,
                        scopes: r.words("scopes")?,
                    });
            }
        }
        Ok(resources)
    }

    async fn apis_from_rows(&self, rows: &[AnyRow]) -> StoreResult<Vec<Api>> {
        let mut apis = rows
            .iter()
            .map(api_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let uuids: Vec<String> = apis.iter().map(|a| a.uuid.clone()).collect();
        let mut resources = self.resources_of(&uuids).await?;
        for api in &mut apis {
            api.url_templates = resources.remove(&api.uuid).unwrap_or_default();
        }
        Ok(apis)
    }

    async fn one_api(&self, row: Option<AnyRow>) -> StoreResult<Option<Api>> {
        match row {
            Some(row) => Ok(self.apis_from_rows(&[row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn write_resources(
        &self,
        tx: &mut Transaction<'static, Any>,
        api: &Api,
    ) -> StoreResult<()> {
        self.db
            .query("DELETE FROM kg_api_resource WHERE api_uuid = ?")
            .bind(api.uuid.clone())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db.fail(e, "api resources"))?;
        for (ordinal, t) in (0_i64..).zip(&api.url_templates) {
            self.db
                .query(
                    "INSERT INTO kg_api_resource (api_uuid, ordinal, url_pattern, http_verb, \
                     auth_scheme, throttling_tier, scopes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(api.uuid.clone())
                .bind(ordinal)
                .bind(t.url_pattern.clone())
                .bind(t.http_verb.to_ascii_uppercase())
                .bind(t.auth_scheme.as_str())
                .bind(t.throttling_tier.clone())
                .bind(words("resource scopes", &t.scopes)?)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    self.db
                        .fail(e, "api resource with this url pattern and verb")
                })?;
        }
        Ok(())
    }

    /// Takes the default flag from the other versions at the API's context, raising their
    /// revisions.
    async fn clear_other_defaults(
        &self,
        tx: &mut Transaction<'static, Any>,
        api: &Api,
    ) -> StoreResult<()> {
        if api.is_default_version {
            self.db
                .query(
                    "UPDATE kg_api SET is_default_version = 0, revision = revision + 1 \
                     WHERE tenant = ? AND context = ? AND uuid <> ? AND is_default_version = 1",
                )
                .bind(api.tenant.domain().to_owned())
                .bind(api.context.clone())
                .bind(api.uuid.clone())
                .execute(&mut **tx)
                .await
                .map_err(|e| self.db.fail(e, "api"))?;
        }
        Ok(())
    }

    async fn api_exists(&self, uuid: &str) -> StoreResult<bool> {
        Ok(self
            .db
            .query("SELECT uuid FROM kg_api WHERE uuid = ?")
            .bind(uuid.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?
            .is_some())
    }
}

#[async_trait]
impl ApiRepository for SqlApim {
    async fn create_api(&self, api: &Api) -> StoreResult<Api> {
        validate(api)?;
        let mut tx = self.db.begin().await?;
        self.clear_other_defaults(&mut tx, api).await?;
        self.db
            .query(&format!(
                "INSERT INTO kg_api ({API_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
            ))
            .bind(api.uuid.clone())
            .bind(api.tenant.domain().to_owned())
            .bind(api.provider.clone())
            .bind(api.name.clone())
            .bind(api.version.clone())
            .bind(api.context.clone())
            .bind(flag(api.is_default_version))
            .bind(api.description.clone())
            .bind(api.production_endpoint.clone())
            .bind(api.sandbox_endpoint.clone())
            .bind(api.status.as_str())
            .bind(api.api_tier.clone())
            .bind(json("subscription tiers", &api.subscription_tiers)?)
            .bind(api.deployed_revision)
            .bind(api.created_at_ms)
            .bind(api.updated_at_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                self.db.fail(
                    e,
                    &format!(
                        "api {} {} or its context and version",
                        api.name, api.version
                    ),
                )
            })?;
        self.write_resources(&mut tx, api).await?;
        tx.commit().await.map_err(|e| self.db.fail(e, "api"))?;
        self.api(&api.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("api {}", api.uuid)))
    }

    async fn api(&self, uuid: &str) -> StoreResult<Option<Api>> {
        let row = self
            .db
            .query(&format!("SELECT {API_COLUMNS} FROM kg_api WHERE uuid = ?"))
            .bind(uuid.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?;
        self.one_api(row).await
    }

    async fn api_by_context(
        &self,
        tenant: &Tenant,
        context: &str,
        version: &str,
    ) -> StoreResult<Option<Api>> {
        let row = self
            .db
            .query(&format!(
                "SELECT {API_COLUMNS} FROM kg_api WHERE tenant = ? AND context = ? AND version = ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(context.to_owned())
            .bind(version.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?;
        self.one_api(row).await
    }

    async fn default_api_version(
        &self,
        tenant: &Tenant,
        context: &str,
    ) -> StoreResult<Option<Api>> {
        let row = self
            .db
            .query(&format!(
                "SELECT {API_COLUMNS} FROM kg_api \
                 WHERE tenant = ? AND context = ? AND is_default_version = 1"
            ))
            .bind(tenant.domain().to_owned())
            .bind(context.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?;
        self.one_api(row).await
    }

    async fn list_apis(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<Api>> {
        let (limit, offset) = page_args(page);
        let rows = self
            .db
            .query(&format!(
                "SELECT {API_COLUMNS} FROM kg_api WHERE tenant = ? \
                 ORDER BY name, version, provider LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "apis"))?;
        self.apis_from_rows(&rows).await
    }

    async fn list_apis_by_status(
        &self,
        tenant: &Tenant,
        status: ApiStatus,
        page: Page,
    ) -> StoreResult<Vec<Api>> {
        let (limit, offset) = page_args(page);
        let rows = self
            .db
            .query(&format!(
                "SELECT {API_COLUMNS} FROM kg_api WHERE tenant = ? AND status = ? \
                 ORDER BY name, version, provider LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(status.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "apis"))?;
        self.apis_from_rows(&rows).await
    }

    async fn update_api(&self, api: &Api, now_ms: i64) -> StoreResult<Api> {
        validate(api)?;
        let mut tx = self.db.begin().await?;
        let done = self
            .db
            .query(
                "UPDATE kg_api SET provider = ?, name = ?, version = ?, context = ?, \
                 is_default_version = ?, description = ?, production_endpoint = ?, \
                 sandbox_endpoint = ?, status = ?, api_tier = ?, subscription_tiers = ?, \
                 deployed_revision = ?, revision = revision + 1, updated_at_ms = ? \
                 WHERE uuid = ? AND revision = ?",
            )
            .bind(api.provider.clone())
            .bind(api.name.clone())
            .bind(api.version.clone())
            .bind(api.context.clone())
            .bind(flag(api.is_default_version))
            .bind(api.description.clone())
            .bind(api.production_endpoint.clone())
            .bind(api.sandbox_endpoint.clone())
            .bind(api.status.as_str())
            .bind(api.api_tier.clone())
            .bind(json("subscription tiers", &api.subscription_tiers)?)
            .bind(api.deployed_revision)
            .bind(now_ms)
            .bind(api.uuid.clone())
            .bind(api.revision)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                self.db.fail(
                    e,
                    &format!(
                        "api {} {} or its context and version",
                        api.name, api.version
                    ),
                )
            })?;
        if done.rows_affected() == 0 {
            drop(tx);
            return Err(if self.api_exists(&api.uuid).await? {
                StoreError::conflict(format!(
                    "a newer revision than {} of api {}",
                    api.revision, api.uuid
                ))
            } else {
                StoreError::not_found(format!("api {}", api.uuid))
            });
        }
        self.clear_other_defaults(&mut tx, api).await?;
        self.write_resources(&mut tx, api).await?;
        tx.commit().await.map_err(|e| self.db.fail(e, "api"))?;
        self.api(&api.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("api {}", api.uuid)))
    }

    async fn set_api_status(
        &self,
        uuid: &str,
        status: ApiStatus,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query(
                "UPDATE kg_api SET status = ?, revision = revision + 1, updated_at_ms = ? \
                 WHERE uuid = ?",
            )
            .bind(status.as_str())
            .bind(now_ms)
            .bind(uuid.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_deployed_revision(&self, uuid: &str, revision: Option<i64>) -> StoreResult<bool> {
        if !self.api_exists(uuid).await? {
            return Ok(false);
        }
        self.db
            .query("UPDATE kg_api SET deployed_revision = ? WHERE uuid = ?")
            .bind(revision)
            .bind(uuid.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "api"))?;
        Ok(true)
    }

    async fn delete_api(&self, uuid: &str) -> StoreResult<bool> {
        self.db.delete_one("kg_api", "uuid", uuid, "api").await
    }
}
