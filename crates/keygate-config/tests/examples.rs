//! The example files of the project load unchanged: the seed's with no problem at all,
//! the WSO2-style one with warnings only, one per table or key keygate ignores.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use keygate_config::{
    BrokerTransport, Config, DatabaseBackend, JwtEncoding, JwtSigningAlgorithm, Report, Role,
    TokenPersistence, UrlGroupType, check_file, load_file, load_str_with_env,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Loads a fixture with an empty environment, so the machine's variables cannot matter.
fn load(name: &str) -> (Config, Report) {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let no_env = |_: &str| None;
    match load_str_with_env(&text, &path, &no_env) {
        Ok(loaded) => (loaded.config, Report::new(path, loaded.warnings)),
        Err(report) => panic!("{name} failed to load:\n{report}"),
    }
}

#[test]
fn seed_key_manager_loads_without_a_word() {
    let (config, report) = load("seed-key-manager.toml");
    assert!(report.diagnostics.is_empty(), "{report}");
    assert_eq!(config.server.offset, 1);
    assert_eq!(config.ports.management_https, 9444);
    assert_eq!(config.ports.gateway_https, 8244);
    assert_eq!(config.ports.tm_binary, 9612);
    assert_eq!(config.server.roles, Role::all());
    assert_eq!(config.super_admin.username, "admin");
    assert_eq!(
        config.super_admin.password.as_ref().map(|p| p.expose()),
        Some("admin")
    );
    assert_eq!(config.apim_db.backend, DatabaseBackend::MySql);
    assert_eq!(
        config.apim_db.url.expose(),
        "mysql://apimadmin:apimadmin@localhost:3306/apim_db"
    );
    assert_eq!(
        config.apim_db.display_url,
        "mysql://apimadmin@localhost:3306/apim_db"
    );
    assert_eq!(
        config.shared_db.url.expose(),
        "mysql://regadmin:regadmin@localhost:3306/shared_db"
    );
    assert!(config.cache_invalidation.enabled);
    assert_eq!(config.cache_invalidation.domain, "keymanager-domain");
    assert!(!config.throttling.enable_data_publishing);
    assert!(!config.throttling.enable_policy_deploy);
    assert!(!config.throttling.enable_blacklist_condition);
    assert!(!config.throttling.enable_decision_connection);
    assert_eq!(config.throttling.decision_endpoints.len(), 1);
    assert_eq!(
        config.throttling.decision_endpoints[0].transport,
        BrokerTransport::Amqp
    );
    assert_eq!(config.throttling.decision_endpoints[0].port, 5672);
    let group = &config.throttling.url_groups[0];
    assert_eq!(group.receiver_urls[0].port, 9611);
    assert!(!group.receiver_urls[0].tls);
    assert_eq!(group.auth_urls[0].port, 9711);
    assert!(group.auth_urls[0].tls);
    assert!(config.resource_access.default_access_allow);
    assert!(config.jwt.enabled);
    assert!(config.jwt.enable_user_claims);
    assert_eq!(config.oauth.token_persistence, TokenPersistence::Encrypt);
    // Step 5.2 removes the mutual TLS authenticator: it is commented out.
    assert!(!config.mutual_tls_enabled);
}

#[test]
fn seed_api_manager_loads_without_a_word() {
    let (config, report) = load("seed-api-manager.toml");
    assert!(report.diagnostics.is_empty(), "{report}");
    assert_eq!(config.ports.management_https, 9443);
    assert_eq!(
        config.key_manager.service_url,
        "https://localhost:9444/services/"
    );
    assert_eq!(config.key_manager.username, "admin");
    assert_eq!(
        config.key_manager.password.as_ref().map(|p| p.expose()),
        Some("admin")
    );
    assert_eq!(config.throttling.url_groups.len(), 1);
    assert!(config.throttling.enable_data_publishing, "WSO2's default");
    assert!(config.jwt.enabled);
    assert_eq!(config.jwt.header, "X-JWT-Assertion");
    assert_eq!(config.oauth.token_persistence, TokenPersistence::Encrypt);
}

#[test]
fn seed_key_manager_ha_loads_without_a_word() {
    let (config, report) = load("seed-key-manager-ha-tm.toml");
    assert!(report.diagnostics.is_empty(), "{report}");
    assert_eq!(config.apim_db.backend, DatabaseBackend::Postgres);
    assert_eq!(
        config.apim_db.url.expose(),
        "postgres://apimadmin:apimadmin@localhost:5432/apim_db"
    );
    assert_eq!(
        config.shared_db.display_url,
        "postgres://regadmin@localhost:5432/shared_db"
    );
    // The same NATS server listed twice is subscribed to once.
    assert_eq!(config.throttling.decision_endpoints.len(), 1);
    assert_eq!(
        config.throttling.decision_endpoints[0].transport,
        BrokerTransport::Nats
    );
    assert_eq!(config.throttling.decision_endpoints[0].port, 4222);
    let ports: Vec<u16> = config
        .throttling
        .url_groups
        .iter()
        .map(|g| g.receiver_urls[0].port)
        .collect();
    assert_eq!(ports, [9611, 9612]);
    let auth_ports: Vec<u16> = config
        .throttling
        .url_groups
        .iter()
        .map(|g| g.auth_urls[0].port)
        .collect();
    assert_eq!(auth_ports, [9711, 9712]);
    // No [super_admin]: the server generates the password.
    assert!(config.super_admin.password.is_none());
}

#[test]
fn wso2_style_file_loads_with_one_warning_per_ignored_table() {
    let (config, report) = load("wso2-style-api-manager.toml");
    assert!(!report.has_errors(), "{report}");
    let warned: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.key_path.as_str())
        .collect();
    let expected = [
        "server.base_path",
        "database.local",
        "apim.gateway",
        "apim.sync_runtime_artifacts",
        "apim.analytics",
        "apim.devportal",
        "apim.cors",
        "apim.token.revocation",
        "event_handler",
        "service_provider",
        "oauth.grant_type",
        "config_data",
        "transport.passthru_https",
    ];
    for key in expected {
        assert_eq!(
            warned.iter().filter(|w| **w == key).count(),
            1,
            "one warning for {key}:\n{report}"
        );
    }
    assert_eq!(warned.len(), expected.len(), "{report}");
    for d in &report.diagnostics {
        assert!(d.line.is_some(), "{d}");
        assert!(d.message.contains("not supported by keygate"), "{d}");
    }

    assert_eq!(config.server.node_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(config.server.server_role.as_deref(), Some("default"));
    assert_eq!(
        config.apim_db.url.expose(),
        "mysql://apimadmin:apimadmin@localhost:3306/apim_db?ssl-mode=disabled"
    );
    assert_eq!(
        config.shared_db.display_url,
        "mysql://regadmin@localhost:3306/shared_db?ssl-mode=disabled"
    );
    assert_eq!(config.caches.gateway_token.expiry, Duration::from_secs(900));
    assert_eq!(config.caches.jwt_claim.expiry, Duration::from_secs(900));
    assert!(config.caches.resource.enabled);
    assert!(!config.caches.km_token.enabled);
    // `$ref{super_admin.*}` reached the key manager's credentials.
    assert_eq!(config.key_manager.username, "admin");
    assert_eq!(
        config.key_manager.password.as_ref().map(|p| p.expose()),
        Some("admin")
    );
    assert_eq!(config.key_manager.key_manager_type, "WSO2-IS");
    assert_eq!(config.jwt.encoding, JwtEncoding::Base64);
    assert_eq!(
        config.jwt.signing_algorithm,
        JwtSigningAlgorithm::Sha256WithRsa
    );
    assert_eq!(config.oauth.token_persistence, TokenPersistence::Plain);
    assert_eq!(
        config.oauth.revoke_endpoint.as_deref(),
        Some("https://localhost:8243/revoke")
    );
    assert_eq!(config.oauth.auth_header, "Authorization");
    assert_eq!(
        config.throttling.url_groups[0].group_type,
        UrlGroupType::LoadBalance
    );
    let listener = &config.event_listeners[0];
    assert_eq!(listener.id, "token_revocation");
    assert_eq!(listener.order, Some(1));
    assert!(listener.enabled);
    assert_eq!(
        listener.properties.get("notification_endpoint"),
        Some("https://localhost:9443/internal/data/v1/notify")
    );
    assert_eq!(
        listener.properties.get("header.X-WSO2-KEY-MANAGER"),
        Some("WSO2-IS")
    );
    assert_eq!(listener.properties.get("password"), Some("admin"));
    assert!(format!("{:?}", listener.properties).contains("\"password\": \"***\""));
    assert!(!config.mutual_tls_enabled);
}

#[test]
fn config_check_on_the_files_agrees() {
    for name in [
        "seed-key-manager.toml",
        "seed-api-manager.toml",
        "seed-key-manager-ha-tm.toml",
    ] {
        let report = check_file(&fixture(name));
        assert!(report.diagnostics.is_empty(), "{report}");
    }
    let report = check_file(&fixture("wso2-style-api-manager.toml"));
    assert!(!report.has_errors(), "{report}");
    assert!(report.warnings().count() > 0);
    let loaded = load_file(&fixture("seed-key-manager.toml")).unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.config.source.as_deref(),
        Some(fixture("seed-key-manager.toml").as_path())
    );
}
