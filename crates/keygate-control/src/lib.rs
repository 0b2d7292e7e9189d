//! The control-plane role (DESIGN §1): the Publisher's and the Developer Portal's REST
//! APIs, and the data gateways run on — the internal data service they load a snapshot
//! from, and the relay that publishes every replicated change on `keygate.notification`
//! in revision order.
//!
//! Changes reach gateways through the store's change outbox: each replicated write leaves
//! an outbox entry in its own transaction, whoever made it, and [`OutboxRelay`] publishes
//! the entries in order with the state of the row they name. The server builds one
//! [`ControlPlane`], mounts [`ControlPlane::router`] on the management listener and runs
//! [`ControlPlane::spawn_relay`] for as long as the role runs.

#![forbid(unsafe_code)]

pub mod auth;
pub mod changes;
pub mod data;
pub mod devportal;
pub mod errors;
pub mod lifecycle;
pub mod publisher;
pub mod relay;
pub mod subscription_admin;
pub mod tiers;

pub use auth::{Caller, Credential, Permission, ServiceAccount};
pub use changes::CatalogChange;
pub use data::{CatalogSnapshot, RevisionedList};
pub use errors::{ControlError, ControlResult, FieldError};
pub use relay::{DEFAULT_RELAY_INTERVAL, OutboxRelay, RelayError};

use axum::Router;
use axum::http::HeaderMap;
use keygate_bus::{EventBus, SubjectPrefix};
use keygate_model::{Tenant, roles};
use keygate_store::{Stores, UserStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the control plane needs from the configuration.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// `[apim.key_manager] username`/`password`: the account gateways read the internal
    /// data service with; `None` leaves it to administrators.
    pub service_account: Option<ServiceAccount>,
    /// The role that holds every permission (`[super_admin] admin_role`).
    pub admin_role: String,
    /// The tenant requests run in.
    pub tenant: Tenant,
    /// This node's name in event envelopes.
    pub origin_node: String,
    /// Subject prefix on the bus.
    pub subject_prefix: SubjectPrefix,
}

impl ControlSettings {
    /// Settings from `deployment.toml`: gateways read the data service with the
    /// `[apim.key_manager]` account, `[super_admin] admin_role` holds every permission,
    /// and events name this node by its hostname.
    pub fn from_config(config: &keygate_config::Config) -> Self {
        let key_manager = &config.key_manager;
        Self {
            service_account: key_manager
                .password
                .as_ref()
                .map(|password| ServiceAccount {
                    username: key_manager.username.clone(),
                    password: password.clone(),
                }),
            admin_role: config.super_admin.admin_role.clone(),
            tenant: Tenant::super_tenant(),
            origin_node: format!("{}#control-plane", config.server.hostname),
            subject_prefix: SubjectPrefix::default(),
        }
    }
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self {
            service_account: None,
            admin_role: roles::ADMIN.to_owned(),
            tenant: Tenant::super_tenant(),
            origin_node: "control-plane".to_owned(),
            subject_prefix: SubjectPrefix::default(),
        }
    }
}

struct Inner {
    stores: Arc<Stores>,
    users: Arc<dyn UserStore>,
    settings: ControlSettings,
    relay: Arc<OutboxRelay>,
}

/// The control-plane role: shared state of its routes and its relay.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("tenant", &self.inner.settings.tenant)
            .field("origin_node", &self.inner.settings.origin_node)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// The role over `stores`, publishing on `bus`.
    pub fn new(stores: Arc<Stores>, bus: Arc<dyn EventBus>, settings: ControlSettings) -> Self {
        let relay = Arc::new(OutboxRelay::new(
            stores.clone(),
            bus,
            &settings.subject_prefix,
            settings.origin_node.clone(),
        ));
        Self {
            inner: Arc::new(Inner {
                users: stores.users(),
                stores,
                settings,
                relay,
            }),
        }
    }

    /// Every route of the role: `/api/am/publisher/v1/…` (APIs, lifecycle, subscription
    /// blocking), `/api/am/devportal/v1/…` and
    /// `/internal/data/v1/…`.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(publisher::routes())
            .merge(devportal::routes())
            .merge(subscription_admin::routes())
            .merge(data::routes())
            .with_state(self.clone())
    }

    /// Starts the relay task; abort the handle to stop it.
    pub fn spawn_relay(&self, interval: Duration) -> JoinHandle<()> {
        self.inner.relay.clone().spawn(interval)
    }

    /// The relay, for a pass on demand.
    pub fn relay(&self) -> &Arc<OutboxRelay> {
        &self.inner.relay
    }

    /// A snapshot of everything gateways replicate, at one revision.
    pub async fn snapshot(&self) -> ControlResult<CatalogSnapshot> {
        data::snapshot(&self.inner.stores, &self.inner.settings.tenant).await
    }

    pub(crate) fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    pub(crate) fn users(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    pub(crate) fn settings(&self) -> &ControlSettings {
        &self.inner.settings
    }

    pub(crate) fn tenant(&self) -> &Tenant {
        &self.inner.settings.tenant
    }

    /// Wakes the relay after a write.
    pub(crate) fn changed(&self) {
        self.inner.relay.wake();
    }

    /// The authenticated caller of a management request, holding `permission`.
    pub(crate) async fn caller(
        &self,
        headers: &HeaderMap,
        permission: Permission,
    ) -> ControlResult<Caller> {
        let caller = auth::authenticate(headers, self.inner.users.as_ref(), None).await?;
        caller.require(permission, &self.inner.settings.admin_role)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_the_key_manager_account_from_the_config() {
        let text = r#"
[server]
hostname = "apim.example.com"

[apim.key_manager]
service_url = "https://km.example.com:9443/services/"
username = "gateway-reader"
password = "reader-pw"
"#;
        let loaded =
            keygate_config::load_str(text, std::path::Path::new("deployment.toml")).unwrap();
        let settings = ControlSettings::from_config(&loaded.config);
        let account = settings.service_account.unwrap();
        assert_eq!(account.username, "gateway-reader");
        assert_eq!(account.password.expose(), "reader-pw");
        assert_eq!(settings.origin_node, "apim.example.com#control-plane");
        assert_eq!(settings.admin_role, loaded.config.super_admin.admin_role);
        assert_eq!(settings.tenant, Tenant::super_tenant());
    }
}
