//! What each table turns into: placeholders, defaults, databases, stores, rules and
//! lifetimes, loaded from small inline files.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use keygate_config::{
    Config, DatabaseBackend, HttpMethods, KeystoreKind, Loaded, Report, Role, Severity,
    TokenPersistence, UserStoreKind, check_str_with_env, load_str_with_env,
};

const ORIGIN: &str = "/etc/keygate/deployment.toml";

fn load_with(text: &str, env: &[(&str, &str)]) -> Loaded {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    load_str_with_env(text, Path::new(ORIGIN), &lookup)
        .unwrap_or_else(|report| panic!("failed to load:\n{report}"))
}

fn load(text: &str) -> Config {
    let loaded = load_with(text, &[]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.config
}

fn check(text: &str) -> Report {
    check_str_with_env(text, Path::new(ORIGIN), &|_| None)
}

#[test]
fn an_empty_file_is_the_embedded_default() {
    let config = load("");
    let default = Config::embedded_default();
    assert_eq!(config.server, default.server);
    assert_eq!(config.ports, default.ports);
    assert_eq!(config.apim_db, default.apim_db);
    assert_eq!(config.shared_db, default.shared_db);
    assert!(config.apim_db.defaulted);
    assert_eq!(config.key_manager, default.key_manager);
    assert_eq!(config.caches, default.caches);
    assert_eq!(config.jwt, default.jwt);
    assert_eq!(config.oauth, default.oauth);
    assert_eq!(config.source.as_deref(), Some(Path::new(ORIGIN)));
}

#[test]
fn placeholders_resolve_from_the_file_and_the_environment() {
    let loaded = load_with(
        r#"
[server]
hostname = "$env{KG_TEST_HOST}"
offset = "$env{KG_TEST_OFFSET}"

[super_admin]
username = "root"
password = "$env{KG_TEST_ADMIN_PASSWORD}"

[apim.key_manager]
service_url = "https://${carbon.host}:${carbon.management.port}/services"
username = "$ref{super_admin.username}"
password = "${admin.password}"

[apim.cache_invalidation]
enabled = "$ref{apim.jwt.enable}"
domain = "${KG_TEST_DOMAIN}-domain"

[apim.jwt]
enable = true
"#,
        &[
            ("KG_TEST_HOST", "km.example.org"),
            ("KG_TEST_OFFSET", "2"),
            ("KG_TEST_ADMIN_PASSWORD", "from-env"),
            ("KG_TEST_DOMAIN", "km"),
        ],
    );
    let config = loaded.config;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(config.server.hostname, "km.example.org");
    assert_eq!(config.server.offset, 2);
    assert_eq!(config.ports.management_https, 9445);
    assert_eq!(
        config.key_manager.service_url,
        "https://km.example.org:9445/services/"
    );
    assert_eq!(config.key_manager.username, "root");
    assert_eq!(
        config.key_manager.password.as_ref().map(|p| p.expose()),
        Some("from-env")
    );
    assert!(config.cache_invalidation.enabled);
    assert_eq!(config.cache_invalidation.domain, "km-domain");
}

#[test]
fn server_settings_and_roles() {
    let config = load(
        r#"
[server]
hostname = "gw1"
node_ip = "10.0.0.7"
offset = 10
roles = ["gateway", "traffic-manager"]
data_dir = "/var/lib/keygate"
worker_threads = 4
"#,
    );
    assert_eq!(
        config.server.roles,
        [Role::Gateway, Role::TrafficManager].into_iter().collect()
    );
    assert_eq!(config.server.node_ip, Some("10.0.0.7".parse().unwrap()));
    assert_eq!(config.server.worker_threads, Some(4));
    assert_eq!(config.ports.gateway_https, 8253);
    assert_eq!(config.ports.gateway_http, 8290);
    assert_eq!(config.ports.tm_binary_tls, 9721);
    assert_eq!(
        config.apim_db.url.expose(),
        "sqlite:///var/lib/keygate/apim.db?mode=rwc"
    );
    assert_eq!(
        config.shared_db.sqlite_file.as_deref(),
        Some(Path::new("/var/lib/keygate/shared.db"))
    );
}

#[test]
fn h2_databases_become_sqlite_files_that_stay_put() {
    let mut config = load(
        r#"
[database.apim_db]
type = "h2"
url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"
username = "wso2carbon"
password = "wso2carbon"
driver = "org.h2.Driver"
"#,
    );
    assert_eq!(config.apim_db.backend, DatabaseBackend::Sqlite);
    assert_eq!(
        config.apim_db.url.expose(),
        "sqlite://./repository/database/WSO2AM_DB.db?mode=rwc"
    );
    assert!(!config.apim_db.defaulted);
    config.set_data_dir(PathBuf::from("/tmp/kg"));
    assert_eq!(
        config.apim_db.sqlite_file.as_deref(),
        Some(Path::new("./repository/database/WSO2AM_DB.db"))
    );
    assert_eq!(
        config.shared_db.url.expose(),
        "sqlite:///tmp/kg/shared.db?mode=rwc"
    );
}

#[test]
fn credentials_go_into_the_url_percent_encoded() {
    let config = load(
        r#"
[database.shared_db]
type = "mariadb"
url = "mysql://db.internal/shared_db"
username = "reg admin"
password = "p@ss:w/rd"

[database.shared_db.pool_options]
maxActive = 20
minIdle = 2
maxWait = 5000
testOnBorrow = false
"#,
    );
    assert_eq!(
        config.shared_db.url.expose(),
        "mysql://reg%20admin:p%40ss%3Aw%2Frd@db.internal/shared_db"
    );
    assert_eq!(
        config.shared_db.display_url,
        "mysql://reg%20admin@db.internal/shared_db"
    );
    assert!(!format!("{:?}", config.shared_db).contains("p%40ss"));
    assert_eq!(config.shared_db.pool.max_connections, 20);
    assert_eq!(config.shared_db.pool.min_connections, 2);
    assert_eq!(
        config.shared_db.pool.acquire_timeout,
        Duration::from_secs(5)
    );
    assert!(!config.shared_db.pool.test_before_acquire);
}

#[test]
fn unused_wso2_data_sources_and_tables_are_warnings() {
    let report = check(
        r#"
[database.identity_db]
type = "mysql"
url = "jdbc:mysql://localhost:3306/identity_db"

[database.bps]
url = "jdbc:h2:./x"

[identity_mgt.password_policy]
enable = true

[apim.publisher]
enable_portal_configuration_only_mode = false
"#,
    );
    assert!(!report.has_errors(), "{report}");
    let warned: Vec<&str> = report.warnings().map(|d| d.key_path.as_str()).collect();
    assert_eq!(
        warned,
        [
            "database.identity_db",
            "database.bps",
            "identity_mgt",
            "apim.publisher"
        ],
        "{report}"
    );
    assert!(report.warnings().all(|d| d.severity == Severity::Warning));
}

#[test]
fn near_misses_of_known_tables_are_errors_and_scalars_at_the_top_are_too() {
    let report = check(
        r#"
hostname = "oops"

[database.apim-db]
url = "jdbc:h2:./x"

[apim.throttle]
enable_data_publishing = false
"#,
    );
    let errors: Vec<String> = report.errors().map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 3, "{report}");
    assert!(
        errors[0].contains("hostname: a key outside any table"),
        "{report}"
    );
    assert!(errors[1].contains("did you mean `apim_db`?"), "{report}");
    assert!(errors[2].contains("did you mean `throttling`?"), "{report}");
}

#[test]
fn keystores_resolve_against_the_config_directory() {
    let config = load(
        r#"
[keystore.primary]
file_name = "wso2carbon.jks"
type = "jks"
password = "wso2carbon"
alias = "wso2carbon"
key_password = "wso2carbon"

[keystore.tls]
file_name = "/etc/ssl/keygate.p12"
type = "pkcs12"
password = "changeit"

[truststore]
file_name = "security/client-truststore.pem"
"#,
    );
    let primary = config.keystores.primary.as_ref().unwrap();
    assert_eq!(primary.file, PathBuf::from("/etc/keygate/wso2carbon.jks"));
    assert_eq!(primary.kind, KeystoreKind::Jks);
    assert_eq!(primary.alias.as_deref(), Some("wso2carbon"));
    let tls = config.keystores.tls.as_ref().unwrap();
    assert_eq!(tls.kind, KeystoreKind::Pkcs12);
    assert_eq!(tls.file, PathBuf::from("/etc/ssl/keygate.p12"));
    // `internal` falls back to `primary`, as in WSO2.
    assert_eq!(config.keystores.internal.as_ref(), Some(primary));
    let trust = config.keystores.truststore.as_ref().unwrap();
    assert_eq!(trust.kind, KeystoreKind::Pem);
    assert_eq!(
        trust.file,
        PathBuf::from("/etc/keygate/security/client-truststore.pem")
    );
    assert!(!format!("{:?}", config.keystores).contains("changeit"));
}

#[test]
fn ldap_user_stores_get_wso2_defaults() {
    let config = load(
        r#"
[user_store]
type = "read_only_ldap_unique_id"
connection_url = "ldap://127.0.0.1:3890"
connection_name = "cn=admin,dc=example,dc=org"
connection_password = "secret"
base_dn = "dc=example,dc=org"
user_search_base = "ou=Users,dc=example,dc=org"
"#,
    );
    assert_eq!(config.user_store.kind, UserStoreKind::ReadOnlyLdap);
    let ldap = config.user_store.ldap.as_ref().unwrap();
    assert_eq!(ldap.user_search_base, "ou=Users,dc=example,dc=org");
    assert_eq!(ldap.group_search_base, "dc=example,dc=org");
    assert_eq!(ldap.user_name_attribute, "uid");
    assert_eq!(
        ldap.user_name_search_filter,
        "(&(objectClass=identityPerson)(uid=?))"
    );
    assert!(!ldap.write_groups);
    assert!(!format!("{:?}", config.user_store).contains("secret"));
}

#[test]
fn mutual_tls_follows_its_event_listener() {
    let listener = |enable: &str| {
        format!(
            "[[event_listener]]\nid = \"mutual_tls_authenticator\"\ntype = \"org.wso2.carbon.identity.core.handler.AbstractIdentityHandler\"\nname = \"org.wso2.carbon.identity.oauth2.token.handler.clientauth.mutualtls.MutualTLSClientAuthenticator\"\norder = \"158\"\n{enable}\n"
        )
    };
    assert!(load(&listener("")).mutual_tls_enabled);
    assert!(load(&listener("enable = true")).mutual_tls_enabled);
    let off = load(&listener("enable = false"));
    assert!(!off.mutual_tls_enabled);
    assert_eq!(off.event_listeners[0].order, Some(158));
    assert!(!load("").mutual_tls_enabled);
}

#[test]
fn resource_access_rules_match_whole_paths() {
    let config = load(
        r#"
[resource_access_control]
default_access_allow = false

[[resource.access_control]]
context = "(.*)/api/identity/user/v1.0/me(.*)"
secure = true
http_method = "GET,POST"
permissions = "/permission/admin/login"
scopes = ["internal_login"]

[[resource.access_control]]
context = "/keymanager-operations/(.*)"
http_method = "all"
"#,
    );
    let rules = &config.resource_access.rules;
    assert!(!config.resource_access.default_access_allow);
    assert!(rules[0].matches_context("/t/carbon.super/api/identity/user/v1.0/me"));
    assert!(!rules[1].matches_context("/x/keymanager-operations/dcr"));
    assert!(rules[1].matches_context("/keymanager-operations/dcr/register"));
    assert!(rules[0].http_methods.covers("post"));
    assert!(!rules[0].http_methods.covers("DELETE"));
    assert_eq!(rules[1].http_methods, HttpMethods::All);
    assert_eq!(rules[0].permissions, ["/permission/admin/login"]);
    assert_eq!(rules[0].scopes, ["internal_login"]);
    assert!(rules[1].secure);
}

#[test]
fn token_lifetimes_in_either_spelling() {
    let ours = load(
        "[oauth.token_validity]\nuser_access_token = 1800\napplication_access_token = \"2h\"\nrefresh_token = \"1d\"\nauthorization_code = 120\n",
    );
    let l = ours.oauth.lifetimes;
    assert_eq!(l.user_access_token, Duration::from_secs(1800));
    assert_eq!(l.application_access_token, Duration::from_secs(7200));
    assert_eq!(l.refresh_token, Duration::from_secs(86_400));
    assert_eq!(l.authorization_code, Duration::from_secs(120));
    assert_eq!(l.id_token, Duration::from_secs(3600));

    let wso2 = load(
        "[oauth.token_validation]\napp_access_token_validity = 2000\nuser_access_token_validity = 3000\nrefresh_token_validity = 86400\n",
    );
    assert_eq!(
        wso2.oauth.lifetimes.application_access_token,
        Duration::from_secs(2000)
    );
    assert_eq!(
        wso2.oauth.lifetimes.user_access_token,
        Duration::from_secs(3000)
    );

    let report = check(
        "[oauth.token_validity]\nrefresh_token = 100\n[oauth.token_validation]\nrefresh_token_validity = 200\n",
    );
    assert!(
        report
            .errors()
            .any(|d| d.key_path == "oauth.token_validity.refresh_token"),
        "{report}"
    );
}

#[test]
fn token_hashing_and_encryption_exclude_each_other() {
    assert_eq!(
        load("[apim.oauth_config]\nenable_token_hashing = true\n")
            .oauth
            .token_persistence,
        TokenPersistence::Hash
    );
    let report =
        check("[apim.oauth_config]\nenable_token_hashing = true\nenable_token_encryption = true\n");
    let d = report.errors().next().unwrap();
    assert_eq!(d.key_path, "apim.oauth_config.enable_token_hashing");
    assert_eq!(d.line, Some(2));
}

#[test]
fn jwt_issuers_with_jwks_and_claim_mappings() {
    let config = load(
        r#"
[apim.jwt]
enable = true
encoding = "base64url"
signing_algorithm = "NONE"

[[apim.jwt.issuer]]
name = "https://localhost:9444/oauth2/token"
certificate_alias = "gateway_certificate_alias"
jwks.url = "https://localhost:9444/oauth2/jwks"
consumer_key_claim = "azp"

[[apim.jwt.issuer.claim_mapping]]
remote_claim = "http://idp.org/username"
local_claim = "http://wso2.org/claims/username"
"#,
    );
    let issuer = &config.jwt.issuers[0];
    assert_eq!(issuer.issuer, "https://localhost:9444/oauth2/token");
    assert_eq!(
        issuer.certificate_alias.as_deref(),
        Some("gateway_certificate_alias")
    );
    assert_eq!(
        issuer.jwks_url.as_deref(),
        Some("https://localhost:9444/oauth2/jwks")
    );
    assert_eq!(
        issuer.claim_mappings[0].local_claim,
        "http://wso2.org/claims/username"
    );
    assert_eq!(config.jwt.encoding, keygate_config::JwtEncoding::Base64Url);
    assert_eq!(
        config.jwt.signing_algorithm,
        keygate_config::JwtSigningAlgorithm::None
    );
}

#[test]
fn accepted_wso2_keys_inside_known_tables_warn_by_name() {
    let loaded = load_with(
        r#"
[apim.key_manager]
service_url = "https://km:9443/services/"
key_validation_handler_type = "default"
pool.init_idle_capacity = 50

[database.apim_db]
url = "jdbc:mysql://localhost:3306/apim_db?autoReconnect=true&amp;verifyServerCertificate=false&amp;fancy=1"
username = "u"
[database.apim_db.pool_options]
validationQuery = "SELECT 1"
"#,
        &[],
    );
    let warned: Vec<&str> = loaded
        .warnings
        .iter()
        .map(|d| d.key_path.as_str())
        .collect();
    assert_eq!(
        warned,
        [
            "apim.key_manager.key_validation_handler_type",
            "apim.key_manager.pool",
            "database.apim_db.url",
            "database.apim_db.pool_options.validationQuery",
        ],
        "{:?}",
        loaded.warnings
    );
    assert!(loaded.warnings[2].message.contains("`fancy`"));
}

#[test]
fn debug_output_of_a_loaded_config_hides_every_secret() {
    let config = load(
        r#"
[super_admin]
password = "Xk7-admin"

[database.apim_db]
url = "jdbc:postgresql://localhost:5432/apim_db?password=Xk7-inurl"
username = "am"

[database.shared_db]
url = "mysql://reg@localhost/shared_db"
password = "Xk7-shared"

[user_store]
type = "active_directory_unique_id"
connection_url = "ldaps://ad.example:636"
connection_password = "Xk7-ldap"
base_dn = "dc=example,dc=org"

[keystore.primary]
file_name = "wso2carbon.jks"
password = "Xk7-keystore"
key_password = "Xk7-key"

[apim.key_manager]
password = "Xk7-km"

[apim.throttling]
password = "Xk7-tm"
throttle_decision_endpoints = ["amqp://guest:Xk7-broker@rabbit:5672"]

[[event_listener]]
id = "x"
[event_listener.properties]
client_secret = "Xk7-property"
"#,
    );
    let debug = format!("{config:?}");
    assert!(!debug.contains("Xk7"), "{debug}");
    assert_eq!(
        config.apim_db.url.expose(),
        "postgres://am:Xk7-inurl@localhost:5432/apim_db"
    );
    assert_eq!(
        config.throttling.decision_endpoints[0]
            .connect_url()
            .expose(),
        "amqp://guest:Xk7-broker@rabbit:5672"
    );
    assert_eq!(config.user_store.kind, UserStoreKind::ActiveDirectory);
    let ldap = config.user_store.ldap.as_ref().unwrap();
    assert_eq!(ldap.user_name_attribute, "sAMAccountName");
    assert_eq!(ldap.user_entry_object_class, "user");
}

#[test]
fn the_event_hub_defaults_to_the_key_manager() {
    let defaulted = load(
        r#"
[apim.key_manager]
service_url = "https://km.example.org:9443/services/"
username = "gw"
password = "gw-secret"
"#,
    );
    assert_eq!(
        defaulted.event_hub,
        keygate_config::EventHubSettings::default()
    );
    let (url, user, password) = defaulted.event_hub.resolve(&defaulted.key_manager);
    assert_eq!(url, "https://km.example.org:9443/services/");
    assert_eq!(user, "gw");
    assert_eq!(password.map(|p| p.expose()), Some("gw-secret"));

    let loaded = load_with(
        r#"
[apim.key_manager]
service_url = "https://km.example.org:9443/services/"
username = "gw"
password = "gw-secret"

[apim.event_hub]
enable = true
service_url = "https://cp.example.org:9443/services"
username = "hub"
password = "hub-secret"
event_listening_endpoints = ["tcp://cp.example.org:5672"]
"#,
        &[],
    );
    let warned = format!("{:?}", loaded.warnings);
    assert_eq!(loaded.warnings.len(), 2, "{warned}");
    assert!(
        warned.contains("apim.event_hub.event_listening_endpoints"),
        "{warned}"
    );
    let own = loaded.config;
    let (url, user, password) = own.event_hub.resolve(&own.key_manager);
    assert_eq!(url, "https://cp.example.org:9443/services/");
    assert_eq!(user, "hub");
    assert_eq!(password.map(|p| p.expose()), Some("hub-secret"));
    assert_eq!(
        own.key_manager.service_url,
        "https://km.example.org:9443/services/"
    );
}

#[test]
fn the_event_subject_prefix_is_keygate_unless_set_and_must_be_plain_words() {
    assert_eq!(load("").throttling.subject_prefix, "keygate");
    let config = load("[apim.throttling]\nsubject_prefix = \"keygate.staging-2\"\n");
    assert_eq!(config.throttling.subject_prefix, "keygate.staging-2");
    for bad in ["", "keygate.*", "a..b", "events.>", "has space", "x.#"] {
        let report = check(&format!("[apim.throttling]\nsubject_prefix = \"{bad}\"\n"));
        let errors: Vec<String> = report.errors().map(|d| d.to_string()).collect();
        assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
        assert!(
            errors[0].contains("apim.throttling.subject_prefix"),
            "{bad:?}: {errors:?}"
        );
    }
}
