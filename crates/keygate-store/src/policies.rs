//! Throttling policies of the four WSO2 kinds: subscription (`kg_subscription_policy`),
//! application (`kg_application_policy`), advanced API/resource (`kg_api_policy`, its
//! condition groups kept as one JSON document) and global (`kg_global_policy`). A name is
//! unique per kind and tenant; a global policy's key template is unique too.

use crate::SqlApim;
use crate::db::{Columns, Page, Statement, bounded, flag, json, limit, page_args};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::{
    ApiPolicy, ApplicationPolicy, GlobalPolicy, Quota, QuotaLimit, SpikeArrest, SubscriptionPolicy,
    Tenant,
};
use sqlx::any::AnyRow;

/// Subscription policies (tiers such as Gold, Silver, Bronze, Unlimited).
#[async_trait]
pub trait SubscriptionPolicyRepository: Send + Sync {
    /// Stores a new policy; [`StoreError::Conflict`] when the name is taken.
    async fn create_subscription_policy(&self, policy: &SubscriptionPolicy) -> StoreResult<()>;
    /// The policy by name.
    async fn subscription_policy(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> StoreResult<Option<SubscriptionPolicy>>;
    /// Policies ordered by name.
    async fn list_subscription_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<SubscriptionPolicy>>;
    /// Replaces a policy found by uuid.
    async fn update_subscription_policy(&self, policy: &SubscriptionPolicy) -> StoreResult<()>;
    /// Deletes a policy by name; whether it existed.
    async fn delete_subscription_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool>;
}

/// Application policies (10PerMin, 20PerMin, 50PerMin, Unlimited, …).
#[async_trait]
pub trait ApplicationPolicyRepository: Send + Sync {
    /// Stores a new policy; [`StoreError::Conflict`] when the name is taken.
    async fn create_application_policy(&self, policy: &ApplicationPolicy) -> StoreResult<()>;
    /// The policy by name.
    async fn application_policy(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> StoreResult<Option<ApplicationPolicy>>;
    /// Policies ordered by name.
    async fn list_application_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<ApplicationPolicy>>;
    /// Replaces a policy found by uuid.
    async fn update_application_policy(&self, policy: &ApplicationPolicy) -> StoreResult<()>;
    /// Deletes a policy by name; whether it existed.
    async fn delete_application_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool>;
}

/// Advanced policies with condition groups.
#[async_trait]
pub trait ApiPolicyRepository: Send + Sync {
    /// Stores a new policy; [`StoreError::Conflict`] when the name is taken.
    async fn create_api_policy(&self, policy: &ApiPolicy) -> StoreResult<()>;
    /// The policy by name.
    async fn api_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<ApiPolicy>>;
    /// Policies ordered by name.
    async fn list_api_policies(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<ApiPolicy>>;
    /// Replaces a policy found by uuid.
    async fn update_api_policy(&self, policy: &ApiPolicy) -> StoreResult<()>;
    /// Deletes a policy by name; whether it existed.
    async fn delete_api_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool>;
}

/// Global (custom) policies with their key templates.
#[async_trait]
pub trait GlobalPolicyRepository: Send + Sync {
    /// Stores a new policy; [`StoreError::Conflict`] when the name or key template is
    /// taken.
    async fn create_global_policy(&self, policy: &GlobalPolicy) -> StoreResult<()>;
    /// The policy by name.
    async fn global_policy(&self, tenant: &Tenant, name: &str)
    -> StoreResult<Option<GlobalPolicy>>;
    /// Policies ordered by name.
    async fn list_global_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<GlobalPolicy>>;
    /// Replaces a policy found by uuid.
    async fn update_global_policy(&self, policy: &GlobalPolicy) -> StoreResult<()>;
    /// Deletes a policy by name; whether it existed.
    async fn delete_global_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool>;
}

const QUOTA_COLUMNS: &str =
    "quota_type, request_count, data_amount, data_unit, unit_time, time_unit";
const QUOTA_SET: &str = "quota_type = ?, request_count = ?, data_amount = ?, data_unit = ?, \
     unit_time = ?, time_unit = ?";

fn bind_quota(query: Statement, limit: &QuotaLimit) -> Statement {
    let (quota_type, request_count, data_amount, data_unit) = match limit.quota {
        Quota::RequestCount { request_count } => ("requestCount", Some(request_count), None, None),
        Quota::Bandwidth {
            data_amount,
            data_unit,
        } => (
            "bandwidthVolume",
            None,
            Some(data_amount),
            Some(data_unit.as_str()),
        ),
    };
    query
        .bind(quota_type)
        .bind(request_count)
        .bind(data_amount)
        .bind(data_unit)
        .bind(limit.unit_time)
        .bind(limit.time_unit.as_str())
}

fn quota_from_row(row: &AnyRow) -> StoreResult<QuotaLimit> {
    let quota = match row.text("quota_type")?.as_str() {
        "requestCount" => Quota::RequestCount {
            request_count: row.int("request_count")?,
        },
        "bandwidthVolume" => Quota::Bandwidth {
            data_amount: row.int("data_amount")?,
            data_unit: row.parsed("data_unit")?,
        },
        other => {
            return Err(StoreError::Corrupt {
                field: "quota_type",
                reason: format!("unknown quota type {other:?}"),
            });
        }
    };
    Ok(QuotaLimit {
        quota,
        unit_time: row.int("unit_time")?,
        time_unit: row.parsed("time_unit")?,
    })
}

fn names(uuid: &str, tenant: &Tenant, name: &str) -> StoreResult<()> {
    bounded("policy uuid", uuid, limit::ID)?;
    bounded("tenant", tenant.domain(), limit::TENANT)?;
    bounded("policy name", name, limit::NAME)
}

fn subscription_policy_from_row(row: &AnyRow) -> StoreResult<SubscriptionPolicy> {
    let spike_arrest = match row.opt_int("spike_arrest_limit")? {
        Some(limit) => Some(SpikeArrest {
            limit,
            time_unit: row.parsed("spike_arrest_unit")?,
        }),
        None => None,
    };
    Ok(SubscriptionPolicy {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        name: row.text("name")?,
        display_name: row.text("display_name")?,
        description: row.opt_text("description")?,
        limit: quota_from_row(row)?,
        spike_arrest,
        stop_on_quota_reach: row.flag("stop_on_quota_reach")?,
        billing_plan: row.parsed("billing_plan")?,
    })
}

fn application_policy_from_row(row: &AnyRow) -> StoreResult<ApplicationPolicy> {
    Ok(ApplicationPolicy {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        name: row.text("name")?,
        display_name: row.text("display_name")?,
        description: row.opt_text("description")?,
        limit: quota_from_row(row)?,
    })
}

fn api_policy_from_row(row: &AnyRow) -> StoreResult<ApiPolicy> {
    Ok(ApiPolicy {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        name: row.text("name")?,
        display_name: row.text("display_name")?,
        description: row.opt_text("description")?,
        level: row.parsed("policy_level")?,
        default_limit: quota_from_row(row)?,
        condition_groups: row.json("condition_groups")?,
    })
}

fn global_policy_from_row(row: &AnyRow) -> StoreResult<GlobalPolicy> {
    Ok(GlobalPolicy {
        uuid: row.text("uuid")?,
        tenant: Tenant::new(row.text("tenant")?),
        name: row.text("name")?,
        description: row.opt_text("description")?,
        key_template: row.text("key_template")?,
        siddhi_query: row.text("siddhi_query")?,
        is_deployed: row.flag("is_deployed")?,
    })
}

impl SqlApim {
    async fn policy_rows(
        &self,
        table: &str,
        columns: &str,
        tenant: &Tenant,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Vec<AnyRow>> {
        let (limit, offset) = page_args(page);
        let filter = if name.is_some() {
            "tenant = ? AND name = ?"
        } else {
            "tenant = ?"
        };
        let mut query = self
            .db
            .query(&format!(
                "SELECT {columns} FROM {table} WHERE {filter} ORDER BY name LIMIT ? OFFSET ?"
            ))
            .bind(tenant.domain().to_owned());
        if let Some(name) = name {
            query = query.bind(name.to_owned());
        }
        query
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, table))
    }

    async fn run_policy_write(
        &self,
        query: Statement,
        what: &str,
        update: bool,
    ) -> StoreResult<()> {
        let done = query
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, what))?;
        if update && done.rows_affected() == 0 {
            return Err(StoreError::not_found(what));
        }
        Ok(())
    }

    async fn delete_policy(&self, table: &str, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        let done = self
            .db
            .query(&format!(
                "DELETE FROM {table} WHERE tenant = ? AND name = ?"
            ))
            .bind(tenant.domain().to_owned())
            .bind(name.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, table))?;
        Ok(done.rows_affected() > 0)
    }
}

const SUBSCRIPTION_POLICY_COLUMNS: &str = "uuid, tenant, name, display_name, description, \
     quota_type, request_count, data_amount, data_unit, unit_time, time_unit, \
     spike_arrest_limit, spike_arrest_unit, stop_on_quota_reach, billing_plan";
const APPLICATION_POLICY_COLUMNS: &str = "uuid, tenant, name, display_name, description, \
     quota_type, request_count, data_amount, data_unit, unit_time, time_unit";
const API_POLICY_COLUMNS: &str = "uuid, tenant, name, display_name, description, policy_level, \
     quota_type, request_count, data_amount, data_unit, unit_time, time_unit, condition_groups";
const GLOBAL_POLICY_COLUMNS: &str =
    "uuid, tenant, name, description, key_template, siddhi_query, is_deployed";

#[async_trait]
impl SubscriptionPolicyRepository for SqlApim {
    async fn create_subscription_policy(&self, p: &SubscriptionPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "INSERT INTO kg_subscription_policy (uuid, tenant, name, display_name, \
                 description, {QUOTA_COLUMNS}, spike_arrest_limit, spike_arrest_unit, \
                 stop_on_quota_reach, billing_plan) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(p.uuid.clone())
            .bind(p.tenant.domain().to_owned())
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone());
        let query = bind_quota(query, &p.limit)
            .bind(p.spike_arrest.map(|s| s.limit))
            .bind(p.spike_arrest.map(|s| s.time_unit.as_str()))
            .bind(flag(p.stop_on_quota_reach))
            .bind(p.billing_plan.as_str());
        self.run_policy_write(query, &format!("subscription policy {}", p.name), false)
            .await
    }

    async fn subscription_policy(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> StoreResult<Option<SubscriptionPolicy>> {
        let rows = self
            .policy_rows(
                "kg_subscription_policy",
                SUBSCRIPTION_POLICY_COLUMNS,
                tenant,
                Some(name),
                Page::first(1),
            )
            .await?;
        rows.first().map(subscription_policy_from_row).transpose()
    }

    async fn list_subscription_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<SubscriptionPolicy>> {
        self.policy_rows(
            "kg_subscription_policy",
            SUBSCRIPTION_POLICY_COLUMNS,
            tenant,
            None,
            page,
        )
        .await?
        .iter()
        .map(subscription_policy_from_row)
        .collect()
    }

    async fn update_subscription_policy(&self, p: &SubscriptionPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "UPDATE kg_subscription_policy SET name = ?, display_name = ?, description = ?, \
                 {QUOTA_SET}, spike_arrest_limit = ?, spike_arrest_unit = ?, \
                 stop_on_quota_reach = ?, billing_plan = ? WHERE uuid = ?"
            ))
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone());
        let query = bind_quota(query, &p.limit)
            .bind(p.spike_arrest.map(|s| s.limit))
            .bind(p.spike_arrest.map(|s| s.time_unit.as_str()))
            .bind(flag(p.stop_on_quota_reach))
            .bind(p.billing_plan.as_str())
            .bind(p.uuid.clone());
        self.run_policy_write(query, &format!("subscription policy {}", p.name), true)
            .await
    }

    async fn delete_subscription_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        self.delete_policy("kg_subscription_policy", tenant, name)
            .await
    }
}

#[async_trait]
impl ApplicationPolicyRepository for SqlApim {
    async fn create_application_policy(&self, p: &ApplicationPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "INSERT INTO kg_application_policy ({APPLICATION_POLICY_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(p.uuid.clone())
            .bind(p.tenant.domain().to_owned())
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone());
        let query = bind_quota(query, &p.limit);
        self.run_policy_write(query, &format!("application policy {}", p.name), false)
            .await
    }

    async fn application_policy(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> StoreResult<Option<ApplicationPolicy>> {
        let rows = self
            .policy_rows(
                "kg_application_policy",
                APPLICATION_POLICY_COLUMNS,
                tenant,
                Some(name),
                Page::first(1),
            )
            .await?;
        rows.first().map(application_policy_from_row).transpose()
    }

    async fn list_application_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<ApplicationPolicy>> {
        self.policy_rows(
            "kg_application_policy",
            APPLICATION_POLICY_COLUMNS,
            tenant,
            None,
            page,
        )
        .await?
        .iter()
        .map(application_policy_from_row)
        .collect()
    }

    async fn update_application_policy(&self, p: &ApplicationPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "UPDATE kg_application_policy SET name = ?, display_name = ?, description = ?, \
                 {QUOTA_SET} WHERE uuid = ?"
            ))
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone());
        let query = bind_quota(query, &p.limit).bind(p.uuid.clone());
        self.run_policy_write(query, &format!("application policy {}", p.name), true)
            .await
    }

    async fn delete_application_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        self.delete_policy("kg_application_policy", tenant, name)
            .await
    }
}

#[async_trait]
impl ApiPolicyRepository for SqlApim {
    async fn create_api_policy(&self, p: &ApiPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "INSERT INTO kg_api_policy ({API_POLICY_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(p.uuid.clone())
            .bind(p.tenant.domain().to_owned())
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone())
            .bind(p.level.as_str());
        let query = bind_quota(query, &p.default_limit)
            .bind(json("condition groups", &p.condition_groups)?);
        self.run_policy_write(query, &format!("api policy {}", p.name), false)
            .await
    }

    async fn api_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<Option<ApiPolicy>> {
        let rows = self
            .policy_rows(
                "kg_api_policy",
                API_POLICY_COLUMNS,
                tenant,
                Some(name),
                Page::first(1),
            )
            .await?;
        rows.first().map(api_policy_from_row).transpose()
    }

    async fn list_api_policies(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<ApiPolicy>> {
        self.policy_rows("kg_api_policy", API_POLICY_COLUMNS, tenant, None, page)
            .await?
            .iter()
            .map(api_policy_from_row)
            .collect()
    }

    async fn update_api_policy(&self, p: &ApiPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        let query = self
            .db
            .query(&format!(
                "UPDATE kg_api_policy SET name = ?, display_name = ?, description = ?, \
                 policy_level = ?, {QUOTA_SET}, condition_groups = ? WHERE uuid = ?"
            ))
            .bind(p.name.clone())
            .bind(p.display_name.clone())
            .bind(p.description.clone())
            .bind(p.level.as_str());
        let query = bind_quota(query, &p.default_limit)
            .bind(json("condition groups", &p.condition_groups)?)
            .bind(p.uuid.clone());
        self.run_policy_write(query, &format!("api policy {}", p.name), true)
            .await
    }

    async fn delete_api_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        self.delete_policy("kg_api_policy", tenant, name).await
    }
}

#[async_trait]
impl GlobalPolicyRepository for SqlApim {
    async fn create_global_policy(&self, p: &GlobalPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        bounded("key template", &p.key_template, limit::DIGEST)?;
        let query = self
            .db
            .query(&format!(
                "INSERT INTO kg_global_policy ({GLOBAL_POLICY_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(p.uuid.clone())
            .bind(p.tenant.domain().to_owned())
            .bind(p.name.clone())
            .bind(p.description.clone())
            .bind(p.key_template.clone())
            .bind(p.siddhi_query.clone())
            .bind(flag(p.is_deployed));
        self.run_policy_write(
            query,
            &format!("global policy {} or its key template", p.name),
            false,
        )
        .await
    }

    async fn global_policy(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> StoreResult<Option<GlobalPolicy>> {
        let rows = self
            .policy_rows(
                "kg_global_policy",
                GLOBAL_POLICY_COLUMNS,
                tenant,
                Some(name),
                Page::first(1),
            )
            .await?;
        rows.first().map(global_policy_from_row).transpose()
    }

    async fn list_global_policies(
        &self,
        tenant: &Tenant,
        page: Page,
    ) -> StoreResult<Vec<GlobalPolicy>> {
        self.policy_rows(
            "kg_global_policy",
            GLOBAL_POLICY_COLUMNS,
            tenant,
            None,
            page,
        )
        .await?
        .iter()
        .map(global_policy_from_row)
        .collect()
    }

    async fn update_global_policy(&self, p: &GlobalPolicy) -> StoreResult<()> {
        names(&p.uuid, &p.tenant, &p.name)?;
        bounded("key template", &p.key_template, limit::DIGEST)?;
        let query = self
            .db
            .query(
                "UPDATE kg_global_policy SET name = ?, description = ?, key_template = ?, \
                 siddhi_query = ?, is_deployed = ? WHERE uuid = ?",
            )
            .bind(p.name.clone())
            .bind(p.description.clone())
            .bind(p.key_template.clone())
            .bind(p.siddhi_query.clone())
            .bind(flag(p.is_deployed))
            .bind(p.uuid.clone());
        self.run_policy_write(query, &format!("global policy {}", p.name), true)
            .await
    }

    async fn delete_global_policy(&self, tenant: &Tenant, name: &str) -> StoreResult<bool> {
        self.delete_policy("kg_global_policy", tenant, name).await
    }
}
