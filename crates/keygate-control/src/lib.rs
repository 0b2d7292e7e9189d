//! The control-plane role (DESIGN §1): the Publisher's, the Developer Portal's and the
//! Admin portal's REST APIs with their OpenAPI 3 document, and the data gateways run on —
//! the internal data service they load a snapshot from, and the relay that publishes
//! every replicated change on `keygate.notification` in revision order.
//!
//! Callers authenticate with bearer tokens from keygate's key manager ([`bearer`]) or
//! HTTP Basic ([`auth`]) and need the scope WSO2 names for each operation ([`scopes`]).
//! Application keys are OAuth clients made at the key manager ([`key_manager`]).
//!
//! Changes reach gateways through the store's change outbox: each replicated write leaves
//! an outbox entry in its own transaction, whoever made it, and [`OutboxRelay`] publishes
//! the entries in order with the state of the row they name. The server builds one
//! [`ControlPlane`], mounts [`ControlPlane::router`] on the management listener and runs
//! [`ControlPlane::spawn_relay`] for as long as the role runs.

#![forbid(unsafe_code)]

pub mod admin_blocking;
pub mod admin_policies;
pub mod api_import;
pub mod app_keys;
pub mod auth;
pub mod bearer;
pub mod body;
pub mod changes;
pub mod data;
pub mod devportal;
pub mod devportal_apis;
pub mod errors;
pub mod key_manager;
pub mod lifecycle;
pub mod openapi;
pub mod policy_bodies;
pub mod publisher;
pub mod relay;
pub mod scopes;
pub mod seed;
pub mod subscription_admin;
pub mod tiers;

pub use auth::{Caller, Credential, ServiceAccount};
pub use bearer::{IntrospectionEndpoint, KeySource, TokenIdentity, TokenValidationSettings};
pub use changes::CatalogChange;
pub use data::{CatalogSnapshot, RevisionedList};
pub use errors::{ControlError, ControlResult, FieldError};
pub use key_manager::{HttpKeyManager, KeyManagerClient, KeyManagerError};
pub use relay::{DEFAULT_RELAY_INTERVAL, OutboxRelay, RelayError};
pub use scopes::Permission;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::MethodRouter;
use bearer::BearerVerifier;
use keygate_bus::{EventBus, SubjectPrefix};
use keygate_model::{Secret, Tenant, roles};
use keygate_store::{Stores, UserStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Longest wait for one key-manager call.
pub const KEY_MANAGER_TIMEOUT: Duration = Duration::from_secs(10);

/// The key manager application keys are made at, and the account that calls it.
#[derive(Debug, Clone)]
pub struct KeyManagerEndpoint {
    /// Its origin, e.g. `https://km.example.com:9443`.
    pub base_url: String,
    /// `[apim.key_manager] username`.
    pub username: String,
    /// `[apim.key_manager] password`.
    pub password: Secret,
}

/// Routes of one part of the role: path and what answers it.
pub(crate) type Routes = Vec<(String, MethodRouter<ControlPlane>)>;

/// Every route of the role, in the order they are mounted.
pub(crate) fn all_routes() -> Routes {
    [
        publisher::routes(),
        subscription_admin::routes(),
        devportal::routes(),
        devportal_apis::routes(),
        app_keys::routes(),
        admin_policies::routes(),
        admin_blocking::routes(),
        openapi::routes(),
        data::routes(),
    ]
    .concat()
}

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
    /// How bearer tokens are checked; the default accepts none (Basic only).
    pub token_validation: TokenValidationSettings,
    /// The key manager application keys are made at; `None` answers key generation
    /// with 502 unless a client is handed in ([`ControlPlane::with_key_manager`]).
    pub key_manager: Option<KeyManagerEndpoint>,
    /// DER certificates trusted for calls to the key manager besides the system's roots
    /// (a key manager with the node's own self-signed certificate).
    pub key_manager_trust: Vec<Vec<u8>>,
}

impl ControlSettings {
    /// Settings from `deployment.toml`: gateways read the data service with the
    /// `[apim.key_manager]` account, `[super_admin] admin_role` holds every permission,
    /// and events name this node by its hostname. The key manager is the origin of
    /// `[apim.key_manager] service_url`: application keys are made at its
    /// `/keymanager-operations/`, JWT access tokens verified against its
    /// `/oauth2/jwks`, opaque ones introspected at its `/oauth2/introspect`, each with the
    /// `[apim.key_manager]` account.
    pub fn from_config(config: &keygate_config::Config) -> Self {
        let key_manager = &config.key_manager;
        let origin = key_manager::origin_of(&key_manager.service_url);
        let endpoint = match (&origin, &key_manager.password) {
            (Some(origin), Some(password)) => Some(KeyManagerEndpoint {
                base_url: origin.clone(),
                username: key_manager.username.clone(),
                password: password.clone(),
            }),
            _ => None,
        };
        let token_validation = TokenValidationSettings {
            issuer: None,
            keys: origin
                .as_ref()
                .map(|o| KeySource::JwksUrl(format!("{o}{}", key_manager::JWKS_PATH))),
            introspection: endpoint.as_ref().map(|e| IntrospectionEndpoint {
                url: format!("{}{}", e.base_url, key_manager::INTROSPECT_PATH),
                username: e.username.clone(),
                password: e.password.clone(),
            }),
        };
        Self {
            token_validation,
            key_manager: endpoint,
            key_manager_trust: Vec::new(),
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
            subject_prefix: SubjectPrefix::new(&config.throttling.subject_prefix),
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
            token_validation: TokenValidationSettings::default(),
            key_manager: None,
            key_manager_trust: Vec::new(),
        }
    }
}

struct Inner {
    stores: Arc<Stores>,
    users: Arc<dyn UserStore>,
    settings: ControlSettings,
    relay: Arc<OutboxRelay>,
    bearer: BearerVerifier,
    key_manager: Option<Arc<dyn KeyManagerClient>>,
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
    /// The role over `stores`, publishing on `bus`, making keys at the key manager of
    /// `settings` (over HTTP).
    pub fn new(stores: Arc<Stores>, bus: Arc<dyn EventBus>, settings: ControlSettings) -> Self {
        Self::with_key_manager(stores, bus, settings, None)
    }

    /// The role with `key_manager` for application keys; `None` takes the key manager of
    /// `settings`, over HTTP.
    pub fn with_key_manager(
        stores: Arc<Stores>,
        bus: Arc<dyn EventBus>,
        settings: ControlSettings,
        key_manager: Option<Arc<dyn KeyManagerClient>>,
    ) -> Self {
        let relay = Arc::new(OutboxRelay::new(
            stores.clone(),
            bus,
            &settings.subject_prefix,
            settings.origin_node.clone(),
        ));
        let http = key_manager::http_client(KEY_MANAGER_TIMEOUT, &settings.key_manager_trust);
        let key_manager = key_manager.or_else(|| {
            settings.key_manager.as_ref().map(|e| {
                Arc::new(HttpKeyManager::new(
                    &e.base_url,
                    e.username.clone(),
                    e.password.clone(),
                    http.clone(),
                )) as Arc<dyn KeyManagerClient>
            })
        });
        let bearer = BearerVerifier::new(settings.token_validation.clone(), http);
        Self {
            inner: Arc::new(Inner {
                users: stores.users(),
                stores,
                settings,
                relay,
                bearer,
                key_manager,
            }),
        }
    }

    /// The paths the router serves, in mounting order.
    pub fn route_paths() -> Vec<String> {
        all_routes().into_iter().map(|(path, _)| path).collect()
    }

    /// Every route of the role: `/api/am/publisher/v1/…` (APIs, lifecycle, subscription
    /// blocking), `/api/am/devportal/v1/…` (applications, keys, subscriptions),
    /// `/api/am/admin/v1/…` (throttling policies, custom rules, deny conditions),
    /// `/api/am/openapi.json` and `/internal/data/v1/…`.
    pub fn router(&self) -> Router {
        all_routes()
            .into_iter()
            .fold(Router::new(), |router, (path, methods)| {
                router.route(&path, methods)
            })
            .with_state(self.clone())
    }

    /// Stores WSO2's default throttling policies and the management scopes with their
    /// role bindings where missing ([`seed`]). [`ControlPlane::spawn_relay`] does it
    /// first; call it directly to have it done before serving.
    pub async fn seed_defaults(&self) -> ControlResult<seed::Seeded> {
        let seeded = seed::seed_defaults(self.stores(), self.tenant()).await?;
        if seeded.policies > 0 {
            self.changed();
        }
        Ok(seeded)
    }

    /// Seeds the defaults ([`ControlPlane::seed_defaults`], retried until the store
    /// answers), then runs the relay; abort the handle to stop both.
    pub fn spawn_relay(&self, interval: Duration) -> JoinHandle<()> {
        let control = self.clone();
        tokio::spawn(async move {
            while let Err(error) = control.seed_defaults().await {
                tracing::warn!(%error, "seeding default policies and scopes failed; retrying");
                tokio::time::sleep(interval).await;
            }
            let relay = control.inner.relay.clone().spawn(interval);
            // The relay task stops with this one.
            let _guard = AbortOnDrop(relay);
            std::future::pending::<()>().await;
        })
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

    pub(crate) fn settings(&self) -> &ControlSettings {
        &self.inner.settings
    }

    pub(crate) fn tenant(&self) -> &Tenant {
        &self.inner.settings.tenant
    }

    /// The key manager application keys are made at; 502 when there is none.
    pub(crate) fn key_manager(&self) -> ControlResult<&Arc<dyn KeyManagerClient>> {
        self.inner
            .key_manager
            .as_ref()
            .ok_or_else(|| ControlError::KeyManager(KeyManagerError::NotConfigured.to_string()))
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
        let caller = self.authenticate(headers, None).await?;
        caller.require(permission, &self.inner.settings.admin_role)?;
        Ok(caller)
    }

    /// The authenticated caller, the service account included when `service` is given.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        service: Option<&ServiceAccount>,
    ) -> ControlResult<Caller> {
        auth::authenticate(
            headers,
            self.inner.users.as_ref(),
            service,
            &self.inner.bearer,
        )
        .await
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
