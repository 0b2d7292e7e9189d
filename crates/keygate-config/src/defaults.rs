//! Every default keygate applies when a key is absent, by name. `docs/configuration.md`
//! lists the same values; WSO2's own default is used wherever WSO2 has one.

use std::time::Duration;

/// `[server] hostname`.
pub const HOSTNAME: &str = "localhost";
/// `[server] data_dir`: where embedded databases and generated keys live.
pub const DATA_DIR: &str = "./data";
/// File of the embedded `apim_db` under `data_dir`.
pub const APIM_DB_FILE: &str = "apim.db";
/// File of the embedded `shared_db` under `data_dir`.
pub const SHARED_DB_FILE: &str = "shared.db";

/// Management HTTPS listener (portals, REST APIs, key manager), before `[server] offset`.
pub const MANAGEMENT_HTTPS_PORT: u16 = 9443;
/// Management HTTP listener, before `[server] offset`.
pub const MANAGEMENT_HTTP_PORT: u16 = 9763;
/// Gateway HTTPS listener, before `[server] offset`.
pub const GATEWAY_HTTPS_PORT: u16 = 8243;
/// Gateway HTTP listener, before `[server] offset`.
pub const GATEWAY_HTTP_PORT: u16 = 8280;
/// Traffic-manager event ingestion over TCP, before `[server] offset`.
pub const TM_BINARY_PORT: u16 = 9611;
/// Traffic-manager event ingestion over TLS, before `[server] offset`.
pub const TM_BINARY_TLS_PORT: u16 = 9711;
/// WSO2's embedded LDAP port; only `${Ports.EmbeddedLDAP.LDAPServerPort}` uses it.
pub const EMBEDDED_LDAP_PORT: u16 = 10389;

/// `[super_admin] username`.
pub const ADMIN_USERNAME: &str = "admin";
/// `[super_admin] admin_role`.
pub const ADMIN_ROLE: &str = "admin";

/// `pool_options.maxActive`.
pub const POOL_MAX_CONNECTIONS: u32 = 50;
/// `pool_options.minIdle`.
pub const POOL_MIN_CONNECTIONS: u32 = 0;
/// `pool_options.maxWait`.
pub const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// `[apim.key_manager] type`.
pub const KEY_MANAGER_TYPE: &str = "default";
/// Path appended to the management URL to form the default key-manager `service_url`.
pub const KEY_MANAGER_SERVICE_PATH: &str = "/services/";

/// `[apim.cache_invalidation] domain`.
pub const CACHE_INVALIDATION_DOMAIN: &str = "default";
/// `expiry_time` of every `[apim.cache.*]` table.
pub const CACHE_EXPIRY: Duration = Duration::from_secs(900);

/// `[gateway] backend_connect_timeout`.
pub const GATEWAY_BACKEND_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `[gateway] backend_response_timeout`.
pub const GATEWAY_BACKEND_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// `[apim.jwt] header`.
pub const JWT_HEADER: &str = "X-JWT-Assertion";
/// `[apim.jwt] claim_dialect`.
pub const JWT_CLAIM_DIALECT: &str = "http://wso2.org/claims";

/// `[apim.oauth_config] auth_header`.
pub const AUTH_HEADER: &str = "Authorization";

/// User (authorization code, password, ...) access-token lifetime.
pub const USER_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Application (client credentials) access-token lifetime.
pub const APPLICATION_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Refresh-token lifetime.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);
/// Authorization-code lifetime.
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(300);
/// OpenID Connect ID-token lifetime.
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Port of an AMQP 0-9-1 broker (`tcp://`, `amqp://`).
pub const AMQP_PORT: u16 = 5672;
/// Port of an AMQP 0-9-1 broker over TLS (`amqps://`).
pub const AMQPS_PORT: u16 = 5671;
/// Port of a NATS server (`nats://`, `tls://`).
pub const NATS_PORT: u16 = 4222;

/// `[user_store]` LDAP `user_name_attribute` (Active Directory: `sAMAccountName`).
pub const LDAP_USER_NAME_ATTRIBUTE: &str = "uid";
/// Active Directory `user_name_attribute`.
pub const AD_USER_NAME_ATTRIBUTE: &str = "sAMAccountName";
/// `[user_store]` LDAP `user_entry_object_class` (Active Directory: `user`).
pub const LDAP_USER_ENTRY_OBJECT_CLASS: &str = "identityPerson";
/// Active Directory `user_entry_object_class`.
pub const AD_USER_ENTRY_OBJECT_CLASS: &str = "user";
/// `[user_store]` LDAP `group_name_attribute`.
pub const LDAP_GROUP_NAME_ATTRIBUTE: &str = "cn";
/// `[user_store]` LDAP `group_entry_object_class` (Active Directory: `group`).
pub const LDAP_GROUP_ENTRY_OBJECT_CLASS: &str = "groupOfNames";
/// Active Directory `group_entry_object_class`.
pub const AD_GROUP_ENTRY_OBJECT_CLASS: &str = "group";
/// `[user_store]` LDAP `membership_attribute`.
pub const LDAP_MEMBERSHIP_ATTRIBUTE: &str = "member";
