//! Applications, their subscriptions to APIs and their key mappings: `kg_application`,
//! `kg_subscription`, `kg_key_mapping`. Deleting an application removes its
//! subscriptions and key mappings with it; an application name is unique per owner, a
//! subscription per application and API, a consumer key everywhere.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, limit, page_args};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::{
    Application, KeyMapping, KeyMappingState, Subscription, SubscriptionStatus, Tenant,
};
use sqlx::any::AnyRow;

/// Applications of the Developer Portal.
#[async_trait]
pub trait ApplicationRepository: Send + Sync {
    /// Stores a new application; the numeric id is assigned by the store and returned.
    /// [`StoreError::Conflict`] when the owner already has an application of that name.
    async fn create_application(&self, application: &Application) -> StoreResult<Application>;

    /// The application by uuid.
    async fn application(&self, uuid: &str) -> StoreResult<Option<Application>>;

    /// The application by numeric id.
    async fn application_by_id(&self, id: i64) -> StoreResult<Option<Application>>;

    /// The application `name` of `owner`.
    async fn application_by_name(
        &self,
        tenant: &Tenant,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<Application>>;

    /// Applications of one owner, ordered by name.
    async fn list_applications_by_owner(
        &self,
        tenant: &Tenant,
        owner: &str,
        page: Page,
    ) -> StoreResult<Vec<Application>>;

    /// All applications of a tenant, ordered by id.
    async fn list_applications(&self, tenant: &Tenant, page: Page)
    -> StoreResult<Vec<Application>>;

    /// Replaces an application's fields (not its ids or creation time).
    async fn update_application(
        &self,
        application: &Application,
        now_ms: i64,
    ) -> StoreResult<Application>;

    /// Deletes an application with its subscriptions and key mappings; whether it existed.
    async fn delete_application(&self, uuid: &str) -> StoreResult<bool>;
}

/// Subscriptions of applications to APIs.
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// Stores a new subscription. [`StoreError::Conflict`] when the application is already
    /// subscribed to the API; [`StoreError::Invalid`] when either does not exist.
    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<Subscription>;

    /// The subscription by uuid.
    async fn subscription(&self, uuid: &str) -> StoreResult<Option<Subscription>>;

    /// The subscription of an application to an API, as key validation needs it.
    async fn subscription_for(
        &self,
        application_uuid: &str,
        api_uuid: &str,
    ) -> StoreResult<Option<Subscription>>;

    /// Subscriptions of an application, oldest first.
    async fn list_subscriptions_by_application(
        &self,
        application_uuid: &str,
        page: Page,
    ) -> StoreResult<Vec<Subscription>>;

    /// Subscriptions to an API, oldest first.
    async fn list_subscriptions_by_api(
        &self,
        api_uuid: &str,
        page: Page,
    ) -> StoreResult<Vec<Subscription>>;

    /// All subscriptions of a tenant, oldest first.
    async fn list_subscriptions(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<Subscription>>;

    /// Replaces tier, status and create state.
    async fn update_subscription(
        &self,
        subscription: &Subscription,
        now_ms: i64,
    ) -> StoreResult<Subscription>;

    /// Blocks, unblocks or otherwise changes the state; whether the subscription exists.
    async fn set_subscription_status(
        &self,
        uuid: &str,
        status: SubscriptionStatus,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes a subscription; whether it existed.
    async fn delete_subscription(&self, uuid: &str) -> StoreResult<bool>;
}

/// Which OAuth client (consumer key) serves which application and key type.
#[async_trait]
pub trait KeyMappingRepository: Send + Sync {
    /// Stores a mapping. [`StoreError::Conflict`] when the consumer key is mapped already
    /// or the application has keys of that type from that key manager.
    async fn create_key_mapping(&self, mapping: &KeyMapping) -> StoreResult<KeyMapping>;

    /// The mapping of a consumer key: which application a token's client belongs to.
    async fn key_mapping_by_consumer_key(
        &self,
        consumer_key: &str,
    ) -> StoreResult<Option<KeyMapping>>;

    /// Mappings of an application.
    async fn key_mappings_for_application(
        &self,
        application_uuid: &str,
    ) -> StoreResult<Vec<KeyMapping>>;

    /// All mappings of a tenant, oldest first.
    async fn list_key_mappings(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<KeyMapping>>;

    /// Changes the state of key generation; whether the mapping exists.
    async fn set_key_mapping_state(&self, uuid: &str, state: KeyMappingState) -> StoreResult<bool>;

    /// Deletes a mapping; whether it existed.
    async fn delete_key_mapping(&self, uuid: &str) -> StoreResult<bool>;
}

const APPLICATION_COLUMNS: &str = "id, uuid, tenant, name, owner, tier, callback_url, description, \
     status, group_id, token_type, created_at_ms, updated_at_ms";

const SUBSCRIPTION_COLUMNS: &str = "uuid, tenant, application_uuid, api_uuid, tier, status, \
     create_state, created_at_ms, updated_at_ms";

const KEY_MAPPING_COLUMNS: &str = "uuid, tenant, application_uuid, consumer_key, key_type, state, \
     key_manager, created_at_ms";

fn application_from_row(row: &AnyRow) -> StoreResult<Application> {
    Ok(Application {
        uuid: row.text("uuid")?,
        id: row.int("id")?,
        tenant: Tenant::new(row.text("tenant")?),
        name: row.text("name")?,
        owner: row.text("owner")?,
        tier: row.text("tier")?,
        callback_url: row.opt_text("callback_url")?,
        description: row.opt_text("description")?,
        status: row.parsed("status")?,
        group_id: row.opt_text("group_id")?,
        token_type: row.parsed("token_type")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
    })
}

fn subscription_from_row(row: &AnyRow) -> StoreResult<Subscription> {
    Ok(Subscription {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        application_uuid: row.text("application_uuid")?,
        api_uuid: row.text("api_uuid")?,
        tier: row.text("tier")?,
        status: row.parsed("status")?,
        create_state: row.parsed("create_state")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
    })
}

fn key_mapping_from_row(row: &AnyRow) -> StoreResult<KeyMapping> {
    Ok(KeyMapping {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        application_uuid: row.text("application_uuid")?,
        consumer_key: row.text("consumer_key")?,
        key_type: row.parsed("key_type")?,
        state: row.parsed("state")?,
        key_manager: row.text("key_manager")?,
        created_at_ms: row.int("created_at_ms")?,
    })
}

fn validate_application(app: &Application) -> StoreResult<()> {
    bounded("application uuid", &app.uuid, limit::ID)?;
    bounded("tenant", app.tenant.domain(), limit::TENANT)?;
    bounded("application name", &app.name, limit::NAME)?;
    bounded("application owner", &app.owner, limit::NAME)?;
    if let Some(group) = &app.group_id {
        bounded("group id", group, limit::NAME)?;
    }
    Ok(())
}

impl SqlApim {
    async fn one_application(
        &self,
        filter: &str,
        args: Vec<String>,
    ) -> StoreResult<Option<Application>> {
        let mut query = self.db.query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM kg_application WHERE {filter}"
        ));
        for arg in args {
            query = query.bind(arg);
        }
        query
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "application"))?
            .map(|row| application_from_row(&row))
            .transpose()
    }

    async fn some_subscriptions(
        &self,
        filter: &str,
        key: String,
        page: Page,
    ) -> StoreResult<Vec<Subscription>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM kg_subscription WHERE {filter} \
                 ORDER BY created_at_ms, uuid LIMIT ? OFFSET ?"
            ))
            .bind(key)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "subscriptions"))?
            .iter()
            .map(subscription_from_row)
            .collect()
    }
}

#[async_trait]
impl ApplicationRepository for SqlApim {
    async fn create_application(&self, app: &Application) -> StoreResult<Application> {
        validate_application(app)?;
        self.db
            .query(
                "INSERT INTO kg_application (uuid, tenant, name, owner, tier, callback_url, \
                 description, status, group_id, token_type, created_at_ms, updated_at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(app.uuid.clone())
            .bind(app.tenant.domain().to_owned())
            .bind(app.name.clone())
            .bind(app.owner.clone())
            .bind(app.tier.clone())
            .bind(app.callback_url.clone())
            .bind(app.description.clone())
            .bind(app.status.as_str())
            .bind(app.group_id.clone())
            .bind(app.token_type.as_str())
            .bind(app.created_at_ms)
            .bind(app.updated_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                self.db
                    .fail(e, &format!("application {:?} of {:?}", app.name, app.owner))
            })?;
        self.application(&app.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("application {}", app.uuid)))
    }

    async fn application(&self, uuid: &str) -> StoreResult<Option<Application>> {
        self.one_application("uuid = ?", vec![uuid.to_owned()])
            .await
    }

    async fn application_by_id(&self, id: i64) -> StoreResult<Option<Application>> {
        self.db
            .query(&format!(
                "SELECT {APPLICATION_COLUMNS} FROM kg_application WHERE id = ?"
            ))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "application"))?
            .map(|row| application_from_row(&row))
            .transpose()
    }

    async fn application_by_name(
        &self,
        tenant: &Tenant,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<Application>> {
        self.one_application(
            "tenant = ? AND owner = ? AND name = ?",
            vec![
                tenant.domain().to_owned(),
                owner.to_owned(),
                name.to_owned(),
            ],
        )
        .await
    }

    async fn list_applications_by_owner(
        &self,
        tenant: &Tenant,
        owner: &str,
        page: Page,
    ) -> StoreResult<Vec<Application>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {APPLICATION_COLUMNS} FROM kg_application WHERE tenant = ? AND owner = ? \
                 ORDER BY name LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(owner.to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "applications"))?
            .iter()
            .map(application_from_row)
            .collect()
    }

    async fn list_applications(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<Application>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {APPLICATION_COLUMNS} FROM kg_application WHERE tenant = ? \
                 ORDER BY id LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "applications"))?
            .iter()
            .map(application_from_row)
            .collect()
    }

    async fn update_application(&self, app: &Application, now_ms: i64) -> StoreResult<Application> {
        validate_application(app)?;
        let done = self
            .db
            .query(
                "UPDATE kg_application SET name = ?, owner = ?, tier = ?, callback_url = ?, \
                 description = ?, status = ?, group_id = ?, token_type = ?, updated_at_ms = ? \
                 WHERE uuid = ?",
            )
            .bind(app.name.clone())
            .bind(app.owner.clone())
            .bind(app.tier.clone())
            .bind(app.callback_url.clone())
            .bind(app.description.clone())
            .bind(app.status.as_str())
            .bind(app.group_id.clone())
            .bind(app.token_type.as_str())
            .bind(now_ms)
            .bind(app.uuid.clone())
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                self.db
                    .fail(e, &format!("application {:?} of {:?}", app.name, app.owner))
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("application {}", app.uuid)));
        }
        self.application(&app.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("application {}", app.uuid)))
    }

    async fn delete_application(&self, uuid: &str) -> StoreResult<bool> {
        self.db
            .delete_one("kg_application", "uuid", uuid, "application")
            .await
    }
}

#[async_trait]
impl SubscriptionRepository for SqlApim {
    async fn create_subscription(&self, sub: &Subscription) -> StoreResult<Subscription> {
        bounded("subscription uuid", &sub.uuid, limit::ID)?;
        bounded("tenant", sub.tenant.domain(), limit::TENANT)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_subscription ({SUBSCRIPTION_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(sub.uuid.clone())
            .bind(sub.tenant.domain().to_owned())
            .bind(sub.application_uuid.clone())
            .bind(sub.api_uuid.clone())
            .bind(sub.tier.clone())
            .bind(sub.status.as_str())
            .bind(sub.create_state.as_str())
            .bind(sub.created_at_ms)
            .bind(sub.updated_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                self.db
                    .fail(e, "subscription of this application to this api")
            })?;
        self.subscription(&sub.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("subscription {}", sub.uuid)))
    }

    async fn subscription(&self, uuid: &str) -> StoreResult<Option<Subscription>> {
        self.db
            .query(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM kg_subscription WHERE uuid = ?"
            ))
            .bind(uuid.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "subscription"))?
            .map(|row| subscription_from_row(&row))
            .transpose()
    }

    async fn subscription_for(
        &self,
        application_uuid: &str,
        api_uuid: &str,
    ) -> StoreResult<Option<Subscription>> {
        self.db
            .query(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM kg_subscription \
                 WHERE application_uuid = ? AND api_uuid = ?"
            ))
            .bind(application_uuid.to_owned())
            .bind(api_uuid.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "subscription"))?
            .map(|row| subscription_from_row(&row))
            .transpose()
    }

    async fn list_subscriptions_by_application(
        &self,
        application_uuid: &str,
        page: Page,
    ) -> StoreResult<Vec<Subscription>> {
        self.some_subscriptions("application_uuid = ?", application_uuid.to_owned(), page)
            .await
    }

    async fn list_subscriptions_by_api(
        &self,
        api_uuid: &str,
        page: Page,
    ) -> StoreResult<Vec<Subscription>> {
        self.some_subscriptions("api_uuid = ?", api_uuid.to_owned(), page)
            .await
    }

    async fn list_subscriptions(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<Subscription>> {
        self.some_subscriptions("tenant = ?", tenant.domain().to_owned(), page)
            .await
    }

    async fn update_subscription(
        &self,
        sub: &Subscription,
        now_ms: i64,
    ) -> StoreResult<Subscription> {
        let done = self
            .db
            .query(
                "UPDATE kg_subscription SET tier = ?, status = ?, create_state = ?, \
                 updated_at_ms = ? WHERE uuid = ?",
            )
            .bind(sub.tier.clone())
            .bind(sub.status.as_str())
            .bind(sub.create_state.as_str())
            .bind(now_ms)
            .bind(sub.uuid.clone())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "subscription"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("subscription {}", sub.uuid)));
        }
        self.subscription(&sub.uuid)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("subscription {}", sub.uuid)))
    }

    async fn set_subscription_status(
        &self,
        uuid: &str,
        status: SubscriptionStatus,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query("UPDATE kg_subscription SET status = ?, updated_at_ms = ? WHERE uuid = ?")
            .bind(status.as_str())
            .bind(now_ms)
            .bind(uuid.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "subscription"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_subscription(&self, uuid: &str) -> StoreResult<bool> {
        self.db
            .delete_one("kg_subscription", "uuid", uuid, "subscription")
            .await
    }
}

#[async_trait]
impl KeyMappingRepository for SqlApim {
    async fn create_key_mapping(&self, m: &KeyMapping) -> StoreResult<KeyMapping> {
        bounded("key mapping uuid", &m.uuid, limit::ID)?;
        bounded("tenant", m.tenant.domain(), limit::TENANT)?;
        bounded("consumer key", &m.consumer_key, limit::NAME)?;
        bounded("key manager", &m.key_manager, limit::NAME)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_key_mapping ({KEY_MAPPING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(m.uuid.clone())
            .bind(m.tenant.domain().to_owned())
            .bind(m.application_uuid.clone())
            .bind(m.consumer_key.clone())
            .bind(m.key_type.as_str())
            .bind(m.state.as_str())
            .bind(m.key_manager.clone())
            .bind(m.created_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                self.db.fail(
                    e,
                    &format!(
                        "{} keys of this application, or consumer key mapping",
                        m.key_type
                    ),
                )
            })?;
        Ok(m.clone())
    }

    async fn key_mapping_by_consumer_key(
        &self,
        consumer_key: &str,
    ) -> StoreResult<Option<KeyMapping>> {
        self.db
            .query(&format!(
                "SELECT {KEY_MAPPING_COLUMNS} FROM kg_key_mapping WHERE consumer_key = ?"
            ))
            .bind(consumer_key.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "key mapping"))?
            .map(|row| key_mapping_from_row(&row))
            .transpose()
    }

    async fn key_mappings_for_application(
        &self,
        application_uuid: &str,
    ) -> StoreResult<Vec<KeyMapping>> {
        self.db
            .query(&format!(
                "SELECT {KEY_MAPPING_COLUMNS} FROM kg_key_mapping WHERE application_uuid = ? \
                 ORDER BY key_type, key_manager"
            ))
            .bind(application_uuid.to_owned())
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "key mappings"))?
            .iter()
            .map(key_mapping_from_row)
            .collect()
    }

    async fn list_key_mappings(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<KeyMapping>> {
        let (limit, offset) = page_args(page);
        self.db
            .query(&format!(
                "SELECT {KEY_MAPPING_COLUMNS} FROM kg_key_mapping WHERE tenant = ? \
                 ORDER BY created_at_ms, uuid LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "key mappings"))?
            .iter()
            .map(key_mapping_from_row)
            .collect()
    }

    async fn set_key_mapping_state(&self, uuid: &str, state: KeyMappingState) -> StoreResult<bool> {
        let done = self
            .db
            .query("UPDATE kg_key_mapping SET state = ? WHERE uuid = ?")
            .bind(state.as_str())
            .bind(uuid.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "key mapping"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_key_mapping(&self, uuid: &str) -> StoreResult<bool> {
        self.db
            .delete_one("kg_key_mapping", "uuid", uuid, "key mapping")
            .await
    }
}
