//! The typed configuration every role reads: [`Config`], built once from the file (or from
//! nothing, [`Config::embedded_default`]), with listeners already offset, databases as
//! native URLs, durations as `Duration` and secrets as [`Secret`].

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use keygate_model::Secret;

use crate::apim::{
    CacheInvalidationSettings, CacheSettings, EventHubSettings, JwtSettings, KeyManagerSettings,
    OAuthSettings, ThrottlingSettings,
};
use crate::database::DatabaseSettings;
use crate::defaults;
use crate::security::{EventListener, Keystores, ResourceAccessSettings, UserStoreSettings};

/// What a keygate process runs; see DESIGN §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// OAuth2/OIDC server, key validation, user store, signing keys.
    KeyManager,
    /// Publisher, Developer Portal and Admin APIs, internal data service.
    ControlPlane,
    /// The API gateway.
    Gateway,
    /// Global throttling and the relay of events to the broker.
    TrafficManager,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 4] = [
        Role::KeyManager,
        Role::ControlPlane,
        Role::Gateway,
        Role::TrafficManager,
    ];

    /// The name used in files and on the command line: `key-manager`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Role::KeyManager => "key-manager",
            Role::ControlPlane => "control-plane",
            Role::Gateway => "gateway",
            Role::TrafficManager => "traffic-manager",
        }
    }

    /// Every role, as a set.
    pub fn all() -> BTreeSet<Role> {
        Role::ALL.into_iter().collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of keygate's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role `{0}`, expected `key-manager`, `control-plane`, `gateway` or `traffic-manager`"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The name clients use to reach this node; also the certificate's name.
    pub hostname: String,
    /// The address to advertise to other nodes, when set.
    pub node_ip: Option<IpAddr>,
    /// Added to every listener port.
    pub offset: u16,
    /// Roles this process runs.
    pub roles: BTreeSet<Role>,
    /// Embedded databases and generated keys, relative to the working directory.
    pub data_dir: PathBuf,
    /// Async runtime worker threads; `None` means one per core.
    pub worker_threads: Option<usize>,
    /// WSO2's `server_role`, kept for display only.
    pub server_role: Option<String>,
    /// The port clients reach the management listener at when a load balancer fronts
    /// the node (`[transport.https.properties] proxyPort`); `None`: the listener's own.
    pub proxy_port: Option<u16>,
}

/// Listener ports, `[server] offset` already added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Portals, REST APIs and key manager (9443).
    pub management_https: u16,
    /// Plain-HTTP management listener (9763).
    pub management_http: u16,
    /// Gateway HTTPS (8243).
    pub gateway_https: u16,
    /// Gateway HTTP (8280).
    pub gateway_http: u16,
    /// Traffic-manager event ingestion over TCP (9611).
    pub tm_binary: u16,
    /// Traffic-manager event ingestion over TLS (9711).
    pub tm_binary_tls: u16,
}

/// A listener port pushed past 65535 by the offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset} moves the {listener} port {base} past 65535")]
pub struct PortOverflow {
    /// The listener.
    pub listener: &'static str,
    /// Its port before the offset.
    pub base: u16,
    /// The offset.
    pub offset: u16,
}

impl Ports {
    /// The default ports moved by `offset`.
    pub fn with_offset(offset: u16) -> Result<Ports, PortOverflow> {
        let shift = |listener: &'static str, base: u16| {
            base.checked_add(offset).ok_or(PortOverflow {
                listener,
                base,
                offset,
            })
        };
        Ok(Ports {
            management_https: shift("management https", defaults::MANAGEMENT_HTTPS_PORT)?,
            management_http: shift("management http", defaults::MANAGEMENT_HTTP_PORT)?,
            gateway_https: shift("gateway https", defaults::GATEWAY_HTTPS_PORT)?,
            gateway_http: shift("gateway http", defaults::GATEWAY_HTTP_PORT)?,
            tm_binary: shift("traffic-manager binary", defaults::TM_BINARY_PORT)?,
            tm_binary_tls: shift("traffic-manager binary TLS", defaults::TM_BINARY_TLS_PORT)?,
        })
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            management_https: defaults::MANAGEMENT_HTTPS_PORT,
            management_http: defaults::MANAGEMENT_HTTP_PORT,
            gateway_https: defaults::GATEWAY_HTTPS_PORT,
            gateway_http: defaults::GATEWAY_HTTP_PORT,
            tm_binary: defaults::TM_BINARY_PORT,
            tm_binary_tls: defaults::TM_BINARY_TLS_PORT,
        }
    }
}

/// `[super_admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperAdmin {
    /// The super administrator's user name.
    pub username: String,
    /// Its password; `None` lets the server generate one and print it once.
    pub password: Option<Secret>,
    /// Whether to create the account at first start.
    pub create_admin_account: bool,
    /// The role that grants every permission.
    pub admin_role: String,
}

impl Default for SuperAdmin {
    fn default() -> Self {
        SuperAdmin {
            username: defaults::ADMIN_USERNAME.to_owned(),
            password: None,
            create_admin_account: true,
            admin_role: defaults::ADMIN_ROLE.to_owned(),
        }
    }
}

/// Everything a keygate process is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from, when there was one.
    pub source: Option<PathBuf>,
    /// `[server]`.
    pub server: ServerSettings,
    /// Listener ports, offset applied.
    pub ports: Ports,
    /// `[super_admin]`.
    pub super_admin: SuperAdmin,
    /// `[database.apim_db]`.
    pub apim_db: DatabaseSettings,
    /// `[database.shared_db]`.
    pub shared_db: DatabaseSettings,
    /// `[user_store]`.
    pub user_store: UserStoreSettings,
    /// `[keystore.*]` and `[truststore]`.
    pub keystores: Keystores,
    /// `[apim.key_manager]`.
    pub key_manager: KeyManagerSettings,
    /// `[apim.event_hub]`.
    pub event_hub: EventHubSettings,
    /// `[apim.throttling]`.
    pub throttling: ThrottlingSettings,
    /// `[apim.cache_invalidation]`.
    pub cache_invalidation: CacheInvalidationSettings,
    /// `[apim.cache.*]`.
    pub caches: CacheSettings,
    /// `[apim.jwt]`.
    pub jwt: JwtSettings,
    /// `[apim.oauth_config]` and `[oauth.token_validity]`.
    pub oauth: OAuthSettings,
    /// Whether RFC 8705 mutual-TLS client authentication is on: a `[[event_listener]]`
    /// with id `mutual_tls_authenticator` is present and not `enable = false`.
    pub mutual_tls_enabled: bool,
    /// `[[event_listener]]`, as written.
    pub event_listeners: Vec<EventListener>,
    /// `[resource_access_control]` and `[[resource.access_control]]`.
    pub resource_access: ResourceAccessSettings,
    /// `[gateway]`.
    pub gateway: GatewayTimeouts,
}

/// `[gateway]` (keygate's): how long the gateway waits for a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayTimeouts {
    /// `backend_connect_timeout`: to open a connection (TCP and TLS).
    pub backend_connect: std::time::Duration,
    /// `backend_response_timeout`: for the response head once the request is sent.
    pub backend_response: std::time::Duration,
}

impl Default for GatewayTimeouts {
    fn default() -> Self {
        Self {
            backend_connect: defaults::GATEWAY_BACKEND_CONNECT_TIMEOUT,
            backend_response: defaults::GATEWAY_BACKEND_RESPONSE_TIMEOUT,
        }
    }
}

impl Config {
    /// The management port this node's URLs advertise: `[transport.https.properties]
    /// proxyPort` when a load balancer fronts it, else the listener's own.
    pub fn advertised_management_port(&self) -> u16 {
        self.server
            .proxy_port
            .unwrap_or(self.ports.management_https)
    }

    /// The configuration without any file: every role in one process, data under
    /// `./data`, embedded SQLite, an `admin` super admin whose password the server
    /// generates.
    pub fn embedded_default() -> Config {
        let data_dir = PathBuf::from(defaults::DATA_DIR);
        let ports = Ports::default();
        let super_admin = SuperAdmin::default();
        Config {
            source: None,
            server: ServerSettings {
                hostname: defaults::HOSTNAME.to_owned(),
                node_ip: None,
                offset: 0,
                roles: Role::all(),
                data_dir: data_dir.clone(),
                worker_threads: None,
                server_role: None,
                proxy_port: None,
            },
            ports,
            apim_db: DatabaseSettings::embedded_default(&data_dir, defaults::APIM_DB_FILE),
            shared_db: DatabaseSettings::embedded_default(&data_dir, defaults::SHARED_DB_FILE),
            user_store: UserStoreSettings::default(),
            keystores: Keystores::default(),
            key_manager: KeyManagerSettings::local(defaults::HOSTNAME, &ports, &super_admin),
            event_hub: EventHubSettings::default(),
            throttling: ThrottlingSettings::new(&super_admin),
            cache_invalidation: CacheInvalidationSettings::default(),
            caches: CacheSettings::default(),
            jwt: JwtSettings::default(),
            oauth: OAuthSettings::default(),
            mutual_tls_enabled: false,
            event_listeners: Vec::new(),
            resource_access: ResourceAccessSettings::default(),
            gateway: GatewayTimeouts::default(),
            super_admin,
        }
    }

    /// Replaces the roles (from `--roles`).
    pub fn set_roles(&mut self, roles: BTreeSet<Role>) {
        self.server.roles = roles;
    }

    /// Replaces `[server] offset` and moves every listener with it, as WSO2's
    /// `-DportOffset` does at start-up; a defaulted `[apim.key_manager] service_url` (this
    /// node's management port) moves too.
    pub fn set_offset(&mut self, offset: u16) -> Result<(), PortOverflow> {
        let ports = Ports::with_offset(offset)?;
        let local = |ports: &Ports| {
            crate::apim::KeyManagerSettings::local(&self.server.hostname, ports, &self.super_admin)
                .service_url
        };
        if self.key_manager.service_url == local(&self.ports) {
            self.key_manager.service_url = local(&ports);
        }
        self.ports = ports;
        self.server.offset = offset;
        Ok(())
    }

    /// Replaces the data directory; embedded databases whose location was defaulted move
    /// under the new directory, ones the file placed stay where they are.
    pub fn set_data_dir(&mut self, dir: PathBuf) {
        if self.apim_db.defaulted {
            self.apim_db = DatabaseSettings::embedded_default(&dir, defaults::APIM_DB_FILE);
        }
        if self.shared_db.defaulted {
            self.shared_db = DatabaseSettings::embedded_default(&dir, defaults::SHARED_DB_FILE);
        }
        self.server.data_dir = dir;
    }

    /// Whether this process runs `role`.
    pub fn runs(&self, role: Role) -> bool {
        self.server.roles.contains(&role)
    }

    /// The directory relative file names in the file were resolved against.
    pub fn config_dir(&self) -> Option<&Path> {
        self.source.as_deref().and_then(Path::parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jdbc::DatabaseBackend;

    #[test]
    fn roles_parse_and_print_by_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(" Gateway ".parse::<Role>(), Ok(Role::Gateway));
        let err = "gatway".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("`gatway`"));
    }

    #[test]
    fn ports_move_with_the_offset_and_refuse_to_overflow() {
        let ports = Ports::with_offset(1).unwrap();
        assert_eq!(ports.management_https, 9444);
        assert_eq!(ports.management_http, 9764);
        assert_eq!(ports.gateway_https, 8244);
        assert_eq!(ports.gateway_http, 8281);
        assert_eq!(ports.tm_binary, 9612);
        assert_eq!(ports.tm_binary_tls, 9712);
        let err = Ports::with_offset(57_000).unwrap_err();
        assert_eq!(err.base, 9443);
        assert!(err.to_string().contains("past 65535"));
    }

    #[test]
    fn the_offset_moves_a_defaulted_key_manager_but_not_a_configured_one() {
        let mut config = Config::embedded_default();
        config.set_offset(3).unwrap();
        assert_eq!(config.ports.management_https, 9446);
        assert_eq!(
            config.key_manager.service_url,
            "https://localhost:9446/services/"
        );
        config.set_offset(0).unwrap();
        assert_eq!(
            config.key_manager.service_url,
            "https://localhost:9443/services/"
        );
        config.key_manager.service_url = "https://km.example.com:9443/services/".to_owned();
        config.set_offset(5).unwrap();
        assert_eq!(
            config.key_manager.service_url,
            "https://km.example.com:9443/services/"
        );
    }

    #[test]
    fn a_proxy_port_is_advertised_instead_of_the_listener_port() {
        let text = "[server]\noffset = 2\n\n[transport.https.properties]\nproxyPort = 9444\n";
        let loaded = crate::load_str(text, Path::new("deployment.toml")).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let config = loaded.config;
        assert_eq!(config.ports.management_https, 9445);
        assert_eq!(config.server.proxy_port, Some(9444));
        assert_eq!(config.advertised_management_port(), 9444);
        assert_eq!(
            Config::embedded_default().advertised_management_port(),
            9443
        );
        let tomcat = "[transport.https.properties]\nproxyPort = 443\nmaxThreads = 400\n";
        let loaded = crate::load_str(tomcat, Path::new("deployment.toml")).unwrap();
        assert_eq!(loaded.config.server.proxy_port, Some(443));
        let warned: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].contains("transport.https.properties.maxThreads"),
            "{warned:?}"
        );
        let bad = "[transport.https.properties]\nproxyPort = 70000\n";
        let report = crate::load_str(bad, Path::new("deployment.toml")).unwrap_err();
        assert!(
            report
                .to_string()
                .contains("transport.https.properties.proxyPort"),
            "{report}"
        );
    }

    #[test]
    fn embedded_default_runs_everything_on_sqlite() {
        let config = Config::embedded_default();
        assert_eq!(config.server.roles, Role::all());
        assert_eq!(config.apim_db.backend, DatabaseBackend::Sqlite);
        assert_eq!(
            config.apim_db.url.expose(),
            "sqlite://./data/apim.db?mode=rwc"
        );
        assert_eq!(
            config.shared_db.url.expose(),
            "sqlite://./data/shared.db?mode=rwc"
        );
        assert_eq!(config.super_admin.username, "admin");
        assert!(config.super_admin.password.is_none());
        assert_eq!(
            config.key_manager.service_url,
            "https://localhost:9443/services/"
        );
        assert!(!config.mutual_tls_enabled);
    }

    #[test]
    fn set_data_dir_moves_only_defaulted_databases() {
        let mut config = Config::embedded_default();
        config.shared_db =
            DatabaseSettings::embedded_file(PathBuf::from("/srv/shared.db"), Default::default());
        config.set_data_dir(PathBuf::from("/var/lib/keygate"));
        assert_eq!(
            config.apim_db.url.expose(),
            "sqlite:///var/lib/keygate/apim.db?mode=rwc"
        );
        assert_eq!(
            config.apim_db.sqlite_file.as_deref(),
            Some(Path::new("/var/lib/keygate/apim.db"))
        );
        assert_eq!(
            config.shared_db.url.expose(),
            "sqlite:///srv/shared.db?mode=rwc"
        );
        assert_eq!(config.server.data_dir, PathBuf::from("/var/lib/keygate"));
    }

    #[test]
    fn set_roles_replaces_them() {
        let mut config = Config::embedded_default();
        config.set_roles([Role::Gateway].into_iter().collect());
        assert!(config.runs(Role::Gateway));
        assert!(!config.runs(Role::KeyManager));
    }
}
