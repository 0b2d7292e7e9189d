//! The file-facing model: one struct per `deployment.toml` table, keys named as WSO2 users
//! write them (with WSO2's alternative spellings as aliases). Every key is optional here;
//! defaults and validation happen once, in `assemble`. Keys keygate accepts but does not
//! use are [`Unsupported`] (a warning naming them) or `IgnoredAny` (silently accepted).
//!
//! The tables listed in [`OPEN_TABLES`] are namespaces WSO2 fills with many more tables
//! than keygate knows: an unknown table there is a warning, unless its name is a near miss
//! of a known one.

#![allow(
    dead_code,
    reason = "accepted-but-unused keys are never read: deserializing them is what notes their presence"
)]

use std::collections::BTreeMap;
use std::fmt;

use keygate_model::Secret;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::de::Unsupported;

/// Tables in which an unknown sub-table is a warning rather than an error.
pub(crate) const OPEN_TABLES: &[&str] =
    &["", "apim", "apim.cache", "database", "keystore", "oauth"];

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeploymentFile {
    pub server: Option<ServerFile>,
    pub super_admin: Option<SuperAdminFile>,
    pub database: Option<DatabasesFile>,
    pub user_store: Option<UserStoreFile>,
    pub keystore: Option<KeystoresFile>,
    pub truststore: Option<KeystoreFile>,
    pub apim: Option<ApimFile>,
    pub oauth: Option<OAuthFile>,
    pub event_listener: Option<Vec<EventListenerFile>>,
    pub resource_access_control: Option<ResourceAccessControlFile>,
    pub resource: Option<ResourceFile>,
    pub gateway: Option<GatewayFile>,
    // WSO2 tables keygate accepts and ignores.
    pub event_handler: Option<Unsupported>,
    pub service_provider: Option<Unsupported>,
    pub config_data: Option<Unsupported>,
    pub tenant_context: Option<Unsupported>,
    pub account_recovery: Option<Unsupported>,
    pub identity: Option<Unsupported>,
    pub recaptcha: Option<Unsupported>,
    pub output_adapter: Option<Unsupported>,
    pub transport: Option<TransportFile>,
    pub authentication: Option<Unsupported>,
    pub identity_mgt: Option<Unsupported>,
    pub system_applications: Option<Unsupported>,
    pub admin_service: Option<Unsupported>,
    pub passthru_http: Option<Unsupported>,
    pub synapse_properties: Option<Unsupported>,
    pub tenant_mgt: Option<Unsupported>,
}

/// `[transport]`: WSO2's transports. keygate reads `[transport.https.properties]
/// proxyPort`; the transports it knows of are warned about, others accepted silently.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TransportFile {
    pub https: Option<TransportHttpsFile>,
    pub http: Option<Unsupported>,
    pub passthru_http: Option<Unsupported>,
    pub passthru_https: Option<Unsupported>,
    pub receiver: Option<Unsupported>,
    pub ws: Option<Unsupported>,
    pub wss: Option<Unsupported>,
    pub jms: Option<Unsupported>,
}

/// `[transport.https]`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TransportHttpsFile {
    pub properties: Option<TransportHttpsPropertiesFile>,
}

/// `[transport.https.properties]`: of Tomcat's connector properties, the port a load
/// balancer in front of the node receives on. The others (`maxThreads`, `ciphers`,
/// `proxyName`, …) are warned about by name, as other tables keygate ignores are.
#[derive(Debug, Default)]
pub(crate) struct TransportHttpsPropertiesFile {
    pub proxy_port: Option<i64>,
}

impl<'de> Deserialize<'de> for TransportHttpsPropertiesFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Properties;
        impl<'de> serde::de::Visitor<'de> for Properties {
            type Value = TransportHttpsPropertiesFile;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of connector properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut properties = TransportHttpsPropertiesFile::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "proxyPort" {
                        properties.proxy_port = Some(map.next_value()?);
                    } else {
                        map.next_value::<Unsupported>()?;
                    }
                }
                Ok(properties)
            }
        }
        deserializer.deserialize_map(Properties)
    }
}

/// `[gateway]` (keygate's): how long the gateway waits for backends.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GatewayFile {
    pub backend_connect_timeout: Option<DurationFile>,
    pub backend_response_timeout: Option<DurationFile>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerFile {
    pub hostname: Option<String>,
    pub node_ip: Option<String>,
    pub offset: Option<i64>,
    pub roles: Option<Vec<String>>,
    pub data_dir: Option<String>,
    pub worker_threads: Option<i64>,
    /// WSO2's deployment profile; keygate runs `roles` instead.
    pub server_role: Option<String>,
    pub base_path: Option<Unsupported>,
    pub proxy_context_path: Option<Unsupported>,
}

/// `[super_admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuperAdminFile {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub create_admin_account: Option<bool>,
    pub admin_role: Option<String>,
}

/// `[database]`: one table per data source.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabasesFile {
    pub apim_db: Option<DatabaseFile>,
    pub shared_db: Option<DatabaseFile>,
    // WSO2 data sources keygate has no use for.
    pub identity_db: Option<Unsupported>,
    pub local: Option<Unsupported>,
    pub config: Option<Unsupported>,
    pub user: Option<Unsupported>,
    pub carbon_db: Option<Unsupported>,
    pub consent: Option<Unsupported>,
    pub bps_db: Option<Unsupported>,
    pub mb_store: Option<Unsupported>,
}

/// `[database.apim_db]`, `[database.shared_db]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseFile {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// A JDBC driver class: meaningless here, accepted as WSO2 files carry it.
    pub driver: Option<IgnoredAny>,
    #[serde(alias = "pool")]
    pub pool_options: Option<PoolFile>,
}

/// `[database.*.pool_options]` (also `pool`): Tomcat JDBC pool properties, in WSO2's
/// camelCase or in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoolFile {
    #[serde(alias = "maxActive")]
    pub max_active: Option<i64>,
    #[serde(alias = "minIdle")]
    pub min_idle: Option<i64>,
    #[serde(alias = "maxWait")]
    pub max_wait: Option<DurationFile>,
    #[serde(alias = "minEvictableIdleTimeMillis")]
    pub min_evictable_idle_time_millis: Option<DurationFile>,
    #[serde(alias = "maxAge")]
    pub max_age: Option<DurationFile>,
    #[serde(alias = "testOnBorrow")]
    pub test_on_borrow: Option<bool>,
    // Pool properties sqlx has no counterpart for.
    #[serde(alias = "maxIdle")]
    pub max_idle: Option<Unsupported>,
    #[serde(alias = "initialSize")]
    pub initial_size: Option<Unsupported>,
    #[serde(alias = "validationQuery")]
    pub validation_query: Option<Unsupported>,
    #[serde(alias = "validationInterval")]
    pub validation_interval: Option<Unsupported>,
    #[serde(alias = "validationQueryTimeout")]
    pub validation_query_timeout: Option<Unsupported>,
    #[serde(alias = "testWhileIdle")]
    pub test_while_idle: Option<Unsupported>,
    #[serde(alias = "testOnReturn")]
    pub test_on_return: Option<Unsupported>,
    #[serde(alias = "timeBetweenEvictionRunsMillis")]
    pub time_between_eviction_runs_millis: Option<Unsupported>,
    #[serde(alias = "defaultAutoCommit")]
    pub default_auto_commit: Option<Unsupported>,
    #[serde(alias = "commitOnReturn")]
    pub commit_on_return: Option<Unsupported>,
    #[serde(alias = "rollbackOnReturn")]
    pub rollback_on_return: Option<Unsupported>,
    #[serde(alias = "removeAbandoned")]
    pub remove_abandoned: Option<Unsupported>,
    #[serde(alias = "removeAbandonedTimeout")]
    pub remove_abandoned_timeout: Option<Unsupported>,
    #[serde(alias = "logAbandoned")]
    pub log_abandoned: Option<Unsupported>,
    #[serde(alias = "jdbcInterceptors")]
    pub jdbc_interceptors: Option<Unsupported>,
}

/// A duration as WSO2 writes them: bare seconds (`900`), or text with a unit (`"900s"`,
/// `"15m"`, `"1h"`). Pool keys named `*Millis`/`maxWait`/`maxAge` read bare numbers as
/// milliseconds, as the JDBC pool does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationFile {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for DurationFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = DurationFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds, or a duration such as \"900s\", \"15m\" or \"1h\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationFile, E> {
                Ok(DurationFile::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationFile, E> {
                i64::try_from(v)
                    .map(DurationFile::Number)
                    .map_err(|_| E::custom("duration too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationFile, E> {
                Ok(DurationFile::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// `[user_store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserStoreFile {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub connection_url: Option<String>,
    pub connection_name: Option<String>,
    pub connection_password: Option<Secret>,
    pub base_dn: Option<String>,
    pub user_search_base: Option<String>,
    pub user_name_attribute: Option<String>,
    pub user_name_search_filter: Option<String>,
    pub user_name_list_filter: Option<String>,
    pub user_entry_object_class: Option<String>,
    pub user_id_attribute: Option<String>,
    pub group_search_base: Option<String>,
    pub group_name_attribute: Option<String>,
    pub group_name_search_filter: Option<String>,
    pub group_name_list_filter: Option<String>,
    pub group_entry_object_class: Option<String>,
    pub membership_attribute: Option<String>,
    pub read_groups: Option<bool>,
    pub write_groups: Option<bool>,
    pub anonymous_bind: Option<bool>,
    pub properties: Option<BTreeMap<String, PropertyFile>>,
    /// A Java user-store manager class: keygate has its own.
    pub class: Option<Unsupported>,
}

/// A free-form property value: text, a number or a boolean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PropertyFile {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl PropertyFile {
    /// The value as text, the way WSO2 hands properties to its handlers.
    pub(crate) fn into_text(self) -> String {
        match self {
            PropertyFile::Text(s) => s,
            PropertyFile::Integer(n) => n.to_string(),
            PropertyFile::Float(f) => f.to_string(),
            PropertyFile::Boolean(b) => b.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for PropertyFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PropertyVisitor;
        impl Visitor<'_> for PropertyVisitor {
            type Value = PropertyFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PropertyFile, E> {
                Ok(PropertyFile::Integer(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PropertyFile, E> {
                Ok(PropertyFile::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PropertyFile, E> {
                Ok(PropertyFile::Boolean(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropertyFile, E> {
                Ok(PropertyFile::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(PropertyVisitor)
    }
}

/// `[keystore]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeystoresFile {
    pub primary: Option<KeystoreFile>,
    pub tls: Option<KeystoreFile>,
    pub internal: Option<KeystoreFile>,
}

/// `[keystore.primary]`, `[keystore.tls]`, `[keystore.internal]`, `[truststore]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeystoreFile {
    pub file_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub password: Option<Secret>,
    pub alias: Option<String>,
    pub key_password: Option<Secret>,
}

/// `[apim]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApimFile {
    pub key_manager: Option<KeyManagerFile>,
    pub throttling: Option<ThrottlingFile>,
    pub cache_invalidation: Option<CacheInvalidationFile>,
    pub cache: Option<CachesFile>,
    pub jwt: Option<JwtFile>,
    pub oauth_config: Option<OAuthConfigFile>,
    pub token: Option<ApimTokenFile>,
    pub event_hub: Option<EventHubFile>,
    // API-M tables keygate accepts and ignores.
    pub gateway: Option<Unsupported>,
    pub sync_runtime_artifacts: Option<Unsupported>,
    pub analytics: Option<Unsupported>,
    pub idp: Option<Unsupported>,
    pub devportal: Option<Unsupported>,
    pub cors: Option<Unsupported>,
    pub workflow: Option<Unsupported>,
    pub notification: Option<Unsupported>,
    pub publisher: Option<Unsupported>,
    pub monetization: Option<Unsupported>,
    pub open_tracer: Option<Unsupported>,
}

/// `[apim.token]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApimTokenFile {
    /// keygate always propagates revocations in real time.
    pub revocation: Option<Unsupported>,
}

/// `[apim.key_manager]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyManagerFile {
    pub service_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub pool: Option<Unsupported>,
    pub key_validation_handler_type: Option<Unsupported>,
    pub enable_lightweight_apikey_generation: Option<Unsupported>,
}

/// `[apim.event_hub]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventHubFile {
    pub service_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub enable: Option<Unsupported>,
    pub event_listening_endpoints: Option<Unsupported>,
    pub event_duplicate_url: Option<Unsupported>,
    pub publish: Option<Unsupported>,
}

/// `[apim.throttling]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThrottlingFile {
    pub enable_data_publishing: Option<bool>,
    pub enable_policy_deploy: Option<bool>,
    pub enable_blacklist_condition: Option<bool>,
    pub enable_decision_connection: Option<bool>,
    pub enable_unlimited_tier: Option<bool>,
    pub enable_header_based_throttling: Option<bool>,
    pub enable_jwt_claim_based_throttling: Option<bool>,
    pub enable_query_param_based_throttling: Option<bool>,
    pub throttle_decision_endpoints: Option<Vec<String>>,
    pub url_group: Option<Vec<UrlGroupFile>>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub subject_prefix: Option<String>,
    pub service_url: Option<Unsupported>,
    pub enable_persistence: Option<Unsupported>,
    pub skip_redeploying_policies: Option<Unsupported>,
    pub jms: Option<Unsupported>,
    pub policy_deploy: Option<Unsupported>,
}

/// `[[apim.throttling.url_group]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UrlGroupFile {
    pub traffic_manager_urls: Option<Vec<String>>,
    pub traffic_manager_auth_urls: Option<Vec<String>>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `[apim.cache_invalidation]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheInvalidationFile {
    pub enabled: Option<bool>,
    pub domain: Option<String>,
}

/// `[apim.cache]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CachesFile {
    pub gateway_token: Option<CacheFile>,
    pub resource: Option<CacheFile>,
    pub km_token: Option<CacheFile>,
    pub jwt_claim: Option<CacheFile>,
    pub recent_apis: Option<Unsupported>,
    pub scopes: Option<Unsupported>,
    pub publisher_roles: Option<Unsupported>,
    pub tags: Option<Unsupported>,
}

/// `[apim.cache.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheFile {
    pub enable: Option<bool>,
    pub expiry_time: Option<DurationFile>,
}

/// `[apim.jwt]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtFile {
    pub enable: Option<bool>,
    pub header: Option<String>,
    pub encoding: Option<String>,
    pub claim_dialect: Option<String>,
    pub signing_algorithm: Option<String>,
    pub enable_user_claims: Option<bool>,
    pub issuer: Option<Vec<JwtIssuerFile>>,
    /// Java claim-generator classes: keygate builds the claims itself.
    pub claims_extractor_impl: Option<Unsupported>,
    pub generator_impl: Option<Unsupported>,
    pub gateway_generator: Option<Unsupported>,
    pub convert_dialect: Option<Unsupported>,
}

/// `[[apim.jwt.issuer]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtIssuerFile {
    #[serde(alias = "issuer")]
    pub name: Option<String>,
    pub certificate_alias: Option<String>,
    pub jwks: Option<JwksFile>,
    pub consumer_key_claim: Option<String>,
    pub scopes_claim: Option<String>,
    pub claim_mapping: Option<Vec<ClaimMappingFile>>,
}

/// `[apim.jwt.issuer.jwks]`, usually written `jwks.url = "..."`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwksFile {
    pub url: Option<String>,
}

/// `[[apim.jwt.issuer.claim_mapping]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimMappingFile {
    pub remote_claim: Option<String>,
    pub local_claim: Option<String>,
}

/// `[apim.oauth_config]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthConfigFile {
    pub enable_token_encryption: Option<bool>,
    pub enable_token_hashing: Option<bool>,
    pub enable_outbound_auth_header: Option<bool>,
    pub auth_header: Option<String>,
    pub revoke_endpoint: Option<String>,
    pub white_listed_scopes: Option<Vec<String>>,
}

/// `[oauth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthFile {
    /// keygate's own names.
    pub token_validity: Option<TokenValidityFile>,
    /// WSO2's names.
    pub token_validation: Option<TokenValidationFile>,
    pub grant_type: Option<Unsupported>,
    pub token_generation: Option<Unsupported>,
    pub endpoints: Option<Unsupported>,
    pub extensions: Option<Unsupported>,
}

/// `[oauth.token_validity]`: lifetimes, in seconds or with a unit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenValidityFile {
    pub user_access_token: Option<DurationFile>,
    pub application_access_token: Option<DurationFile>,
    pub refresh_token: Option<DurationFile>,
    pub authorization_code: Option<DurationFile>,
    pub id_token: Option<DurationFile>,
}

/// `[oauth.token_validation]`: WSO2's spelling of the same lifetimes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenValidationFile {
    pub user_access_token_validity: Option<DurationFile>,
    pub app_access_token_validity: Option<DurationFile>,
    pub refresh_token_validity: Option<DurationFile>,
    pub authorization_code_validity: Option<DurationFile>,
    pub id_token_validity: Option<DurationFile>,
}

/// `[[event_listener]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventListenerFile {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub order: Option<PropertyFile>,
    pub enable: Option<bool>,
    pub properties: Option<BTreeMap<String, PropertyFile>>,
}

/// `[resource_access_control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceAccessControlFile {
    pub default_access_allow: Option<bool>,
}

/// `[resource]`: holds `[[resource.access_control]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceFile {
    pub access_control: Option<Vec<AccessControlFile>>,
}

/// `[[resource.access_control]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessControlFile {
    pub context: Option<String>,
    pub secure: Option<bool>,
    pub http_method: Option<OneOrMany>,
    pub permissions: Option<OneOrMany>,
    pub scopes: Option<OneOrMany>,
    pub cross_tenant: Option<Unsupported>,
    pub allowed_auth_handlers: Option<Unsupported>,
}

/// A string, or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
