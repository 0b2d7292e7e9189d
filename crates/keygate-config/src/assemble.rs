//! The one conversion from the file-facing tables to [`Config`]: defaults applied,
//! values checked and typed, every problem recorded with its key path and the conversion
//! carrying on, so that one pass reports them all.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::apim;
use crate::config::{Config, GatewayTimeouts, Ports, Role, ServerSettings, SuperAdmin};
use crate::database::database_settings;
use crate::defaults;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::duration::{BareUnit, duration_from_file};
use crate::file::{DeploymentFile, DurationFile, ServerFile, SuperAdminFile, TransportFile};
use crate::placeholder::EnvLookup;
use crate::security;

/// Collects problems while converting.
pub(crate) struct Assembler<'a> {
    /// Directory of the file: relative keystore paths are resolved against it.
    pub(crate) config_dir: PathBuf,
    pub(crate) env: EnvLookup<'a>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Assembler<'a> {
    pub(crate) fn new(config_dir: PathBuf, env: EnvLookup<'a>) -> Self {
        Self {
            config_dir,
            env,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(path, message));
    }

    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(path, message));
    }

    /// A duration key, or `default` when absent or wrong (the error is recorded).
    pub(crate) fn duration(
        &mut self,
        path: &str,
        value: Option<&DurationFile>,
        bare: BareUnit,
        default: Duration,
    ) -> Duration {
        self.optional_duration(path, value, bare).unwrap_or(default)
    }

    pub(crate) fn optional_duration(
        &mut self,
        path: &str,
        value: Option<&DurationFile>,
        bare: BareUnit,
    ) -> Option<Duration> {
        match duration_from_file(value?, bare) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(path, e.to_string());
                None
            }
        }
    }

    /// An `http://` or `https://` URL with a host; `None` (and an error) otherwise.
    pub(crate) fn http_url(&mut self, path: &str, text: &str) -> Option<String> {
        let text = text.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
        match host {
            Some(h) if !h.is_empty() && !h.starts_with(':') && !h.contains(char::is_whitespace) => {
                Some(text.to_owned())
            }
            _ => {
                self.error(path, "expected an http:// or https:// URL with a host");
                None
            }
        }
    }
}

/// Builds the configuration from the file's tables.
pub(crate) fn assemble(file: DeploymentFile, source: PathBuf, a: &mut Assembler<'_>) -> Config {
    let mut server = server_settings(a, file.server.unwrap_or_default());
    server.proxy_port = proxy_port(a, file.transport.as_ref());
    let ports = match Ports::with_offset(server.offset) {
        Ok(ports) => ports,
        Err(overflow) => {
            a.error("server.offset", overflow.to_string());
            Ports::default()
        }
    };
    let super_admin = super_admin(file.super_admin.unwrap_or_default());
    let databases = file.database.unwrap_or_default();
    let apim_db = database_settings(
        a,
        "apim_db",
        databases.apim_db,
        &server.data_dir,
        defaults::APIM_DB_FILE,
    );
    let shared_db = database_settings(
        a,
        "shared_db",
        databases.shared_db,
        &server.data_dir,
        defaults::SHARED_DB_FILE,
    );
    let user_store = security::user_store(a, file.user_store.unwrap_or_default());
    let keystores = security::keystores(a, file.keystore.unwrap_or_default(), file.truststore);
    let event_listeners = security::event_listeners(a, file.event_listener.unwrap_or_default());
    let mutual_tls_enabled = event_listeners
        .iter()
        .any(|l| l.id == security::MUTUAL_TLS_AUTHENTICATOR && l.enabled);
    let resource_access = security::resource_access(
        a,
        file.resource_access_control.unwrap_or_default(),
        file.resource.unwrap_or_default(),
    );
    let apim_file = file.apim.unwrap_or_default();
    let key_manager = apim::key_manager(
        a,
        apim_file.key_manager.unwrap_or_default(),
        &server.hostname,
        &ports,
        &super_admin,
    );
    let event_hub = apim::event_hub(a, apim_file.event_hub.unwrap_or_default());
    let throttling = apim::throttling(a, apim_file.throttling.unwrap_or_default(), &super_admin);
    let cache_invalidation =
        apim::cache_invalidation(apim_file.cache_invalidation.unwrap_or_default());
    let caches = apim::caches(a, apim_file.cache.unwrap_or_default());
    let jwt = apim::jwt(a, apim_file.jwt.unwrap_or_default());
    let oauth = apim::oauth(
        a,
        apim_file.oauth_config.unwrap_or_default(),
        file.oauth.unwrap_or_default(),
    );
    let gateway = gateway_timeouts(a, file.gateway.unwrap_or_default());
    Config {
        source: Some(source),
        server,
        ports,
        super_admin,
        apim_db,
        shared_db,
        user_store,
        keystores,
        key_manager,
        event_hub,
        throttling,
        cache_invalidation,
        caches,
        jwt,
        oauth,
        mutual_tls_enabled,
        event_listeners,
        resource_access,
        gateway,
    }
}

fn gateway_timeouts(a: &mut Assembler<'_>, file: crate::file::GatewayFile) -> GatewayTimeouts {
    let default = GatewayTimeouts::default();
    GatewayTimeouts {
        backend_connect: a.duration(
            "gateway.backend_connect_timeout",
            file.backend_connect_timeout.as_ref(),
            BareUnit::Seconds,
            default.backend_connect,
        ),
        backend_response: a.duration(
            "gateway.backend_response_timeout",
            file.backend_response_timeout.as_ref(),
            BareUnit::Seconds,
            default.backend_response,
        ),
    }
}

fn server_settings(a: &mut Assembler<'_>, file: ServerFile) -> ServerSettings {
    let hostname = match file.hostname {
        Some(h) if h.trim().is_empty() || h.contains(char::is_whitespace) => {
            a.error("server.hostname", "expected a host name without spaces");
            defaults::HOSTNAME.to_owned()
        }
        Some(h) => h.trim().to_owned(),
        None => defaults::HOSTNAME.to_owned(),
    };
    let node_ip = file
        .node_ip
        .and_then(|ip| match ip.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                a.error("server.node_ip", "expected an IPv4 or IPv6 address");
                None
            }
        });
    let offset = match file.offset.map(u16::try_from) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => {
            a.error("server.offset", "expected an offset from 0 to 65535");
            0
        }
    };
    let roles = match file.roles {
        None => Role::all(),
        Some(names) => roles(a, &names),
    };
    let worker_threads = file.worker_threads.and_then(|n| match usize::try_from(n) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            a.error("server.worker_threads", "expected one or more threads");
            None
        }
    });
    if let Some(role) = &file.server_role
        && !role.eq_ignore_ascii_case("default")
    {
        a.warning(
            "server.server_role",
            "WSO2's server profile is not used by keygate; `server.roles` chooses what runs",
        );
    }
    ServerSettings {
        hostname,
        node_ip,
        offset,
        roles,
        data_dir: PathBuf::from(
            file.data_dir
                .unwrap_or_else(|| defaults::DATA_DIR.to_owned()),
        ),
        worker_threads,
        server_role: file.server_role,
        proxy_port: None,
    }
}

/// `[transport.https.properties] proxyPort`: the port clients reach the management
/// listener at through a load balancer.
fn proxy_port(a: &mut Assembler<'_>, transport: Option<&TransportFile>) -> Option<u16> {
    let port = transport?.https.as_ref()?.properties.as_ref()?.proxy_port?;
    match u16::try_from(port) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            a.error(
                "transport.https.properties.proxyPort",
                "expected a port from 1 to 65535",
            );
            None
        }
    }
}

fn roles(a: &mut Assembler<'_>, names: &[String]) -> BTreeSet<Role> {
    let mut roles = BTreeSet::new();
    if names.is_empty() {
        a.error("server.roles", "list at least one role");
    }
    for (i, name) in names.iter().enumerate() {
        let path = format!("server.roles[{i}]");
        match name.parse::<Role>() {
            Ok(role) => {
                if !roles.insert(role) {
                    a.error(path, format!("role `{role}` is listed twice"));
                }
            }
            Err(unknown) => {
                let mut message = unknown.to_string();
                if let Some(close) = did_you_mean(name, Role::ALL.iter().map(|r| r.as_str())) {
                    message = format!("unknown role `{name}`, did you mean `{close}`?");
                }
                a.error(path, message);
            }
        }
    }
    if roles.is_empty() { Role::all() } else { roles }
}

fn super_admin(file: SuperAdminFile) -> SuperAdmin {
    let default = SuperAdmin::default();
    SuperAdmin {
        username: file.username.unwrap_or(default.username),
        password: file.password.filter(|p| !p.is_empty()),
        create_admin_account: file
            .create_admin_account
            .unwrap_or(default.create_admin_account),
        admin_role: file.admin_role.unwrap_or(default.admin_role),
    }
}
