//! keygate's `deployment.toml`: the file WSO2 API Manager users already have, read as
//! written and turned once into typed settings ([`Config`]).
//!
//! Loading reports every problem of a file at once ([`Report`]), each with its key path
//! and line; tables and keys WSO2 has and keygate does not use are warnings naming them,
//! never a refusal to start. Placeholders (`$ref{a.b}`, `$env{VAR}`, `${carbon.host}`...)
//! are resolved at load. Secrets are [`keygate_model::Secret`]s and never appear in a
//! diagnostic. `docs/configuration.md` lists every key.
//!
//! This crate reads the file and nothing else: no network, no database, no runtime.

#![forbid(unsafe_code)]

mod apim;
mod assemble;
mod config;
mod database;
mod de;
pub mod defaults;
mod diagnostic;
mod document;
mod duration;
mod file;
mod jdbc;
mod load;
mod placeholder;
mod security;
mod throttling;

use std::path::Path;

pub use apim::{
    BrokerEndpoint, BrokerTransport, CacheInvalidationSettings, CacheSetting, CacheSettings,
    ClaimMapping, EventHubSettings, JwtEncoding, JwtIssuer, JwtSettings, JwtSigningAlgorithm,
    KeyManagerSettings, OAuthSettings, ThrottlingSettings, TokenLifetimes, TokenPersistence,
    TrafficManagerEndpoint, TrafficManagerGroup, UrlGroupType,
};
pub use config::{
    Config, GatewayTimeouts, PortOverflow, Ports, Role, ServerSettings, SuperAdmin, UnknownRole,
};
pub use database::{DatabaseBackend, DatabaseSettings, PoolSettings};
pub use diagnostic::{Diagnostic, Report, Severity};
pub use duration::format_duration;
pub use placeholder::EnvLookup;
pub use security::{
    EventListener, HttpMethods, KeystoreKind, KeystoreRef, Keystores, LdapSettings,
    MUTUAL_TLS_AUTHENTICATOR, Properties, ResourceAccessRule, ResourceAccessSettings,
    UserStoreKind, UserStoreSettings,
};

/// A configuration that loaded, with the warnings it gave.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Everything accepted but ignored, or otherwise worth a word.
    pub warnings: Vec<Diagnostic>,
}

/// Loads `path`, resolving `$env{}` and `${}` from the process environment.
pub fn load_file(path: &Path) -> Result<Loaded, Report> {
    let text = load::read(path).map_err(|d| Report::new(load::origin(path), vec![d]))?;
    load_str(&text, path)
}

/// Loads `text`; `origin` is the file's path, used in messages and to resolve relative
/// keystore paths. Placeholders use the process environment.
pub fn load_str(text: &str, origin: &Path) -> Result<Loaded, Report> {
    load_str_with_env(text, origin, &load::process_env)
}

/// Loads `text` with environment variables from `env`.
pub fn load_str_with_env(text: &str, origin: &Path, env: EnvLookup<'_>) -> Result<Loaded, Report> {
    let analysis = load::analyse(text, origin, env);
    let report = Report::new(load::origin(origin), analysis.diagnostics);
    match analysis.config {
        Some(config) if !report.has_errors() => Ok(Loaded {
            config,
            warnings: report.diagnostics,
        }),
        _ => Err(report),
    }
}

/// Every problem of the file at `path`, errors and warnings.
pub fn check_file(path: &Path) -> Report {
    match load::read(path) {
        Ok(text) => check_str_with_env(&text, path, &load::process_env),
        Err(d) => Report::new(load::origin(path), vec![d]),
    }
}

/// Every problem of `text`, with environment variables from `env`.
pub fn check_str_with_env(text: &str, origin: &Path, env: EnvLookup<'_>) -> Report {
    let analysis = load::analyse(text, origin, env);
    Report::new(load::origin(origin), analysis.diagnostics)
}
