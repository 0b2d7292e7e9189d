//! `[apim.throttling]`: the switches, the message brokers a node subscribes to
//! (`throttle_decision_endpoints`: `tcp://`/`amqp://` RabbitMQ, `amqps://` its TLS form,
//! `nats://` NATS, `tls://` its TLS form), and the traffic-manager groups that receive
//! every event (`[[apim.throttling.url_group]]`, `tcp://` on 9611, `ssl://` on 9711).
//! No broker and no group means everything runs in-process.

use keygate_model::Secret;

use crate::assemble::Assembler;
use crate::config::SuperAdmin;
use crate::defaults;
use crate::file::{ThrottlingFile, UrlGroupFile};
use crate::jdbc::{percent_decode, percent_encode};

/// The protocol of a message broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrokerTransport {
    /// AMQP 0-9-1 (RabbitMQ): `tcp://`, `amqp://`.
    Amqp,
    /// AMQP over TLS: `amqps://`.
    AmqpTls,
    /// NATS: `nats://`.
    Nats,
    /// NATS over TLS: `tls://`.
    NatsTls,
}

impl BrokerTransport {
    fn scheme(self) -> &'static str {
        match self {
            BrokerTransport::Amqp => "amqp",
            BrokerTransport::AmqpTls => "amqps",
            BrokerTransport::Nats => "nats",
            BrokerTransport::NatsTls => "tls",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            BrokerTransport::Amqp => defaults::AMQP_PORT,
            BrokerTransport::AmqpTls => defaults::AMQPS_PORT,
            BrokerTransport::Nats | BrokerTransport::NatsTls => defaults::NATS_PORT,
        }
    }

    /// Whether this is an AMQP broker.
    pub fn is_amqp(self) -> bool {
        matches!(self, BrokerTransport::Amqp | BrokerTransport::AmqpTls)
    }
}

/// A message broker, from `throttle_decision_endpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    /// Its protocol.
    pub transport: BrokerTransport,
    /// Host name or address.
    pub host: String,
    /// Port (default 5672 AMQP, 5671 AMQPS, 4222 NATS).
    pub port: u16,
    /// User, when the URL names one; otherwise the client's default (AMQP: guest).
    pub username: Option<String>,
    /// Password, when the URL gives one.
    pub password: Option<Secret>,
    /// AMQP virtual host, when the URL has a path.
    pub virtual_host: Option<String>,
}

impl BrokerEndpoint {
    /// The URL a client library opens (`amqp://…`, `nats://…`), credentials included.
    pub fn connect_url(&self) -> Secret {
        Secret::new(self.url(true))
    }

    /// The same URL without the password, for logs.
    pub fn display_url(&self) -> String {
        self.url(false)
    }

    fn url(&self, with_password: bool) -> String {
        let mut userinfo = String::new();
        if let Some(user) = &self.username {
            userinfo.push_str(&percent_encode(user));
            if let (true, Some(password)) = (with_password, &self.password) {
                userinfo.push(':');
                userinfo.push_str(&percent_encode(password.expose()));
            }
            userinfo.push('@');
        }
        let vhost = self
            .virtual_host
            .as_ref()
            .map(|v| format!("/{}", percent_encode(v)))
            .unwrap_or_default();
        format!(
            "{}://{userinfo}{}:{}{vhost}",
            self.transport.scheme(),
            self.host,
            self.port
        )
    }
}

/// A traffic manager's event receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficManagerEndpoint {
    /// `ssl://` (authenticated, TLS) rather than `tcp://`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (default 9611 TCP, 9711 TLS).
    pub port: u16,
}

/// How events are spread over the URLs of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlGroupType {
    /// Round robin over the group's receivers.
    #[default]
    LoadBalance,
    /// The first reachable receiver.
    Failover,
}

/// One `[[apim.throttling.url_group]]`; every group receives every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficManagerGroup {
    /// `traffic_manager_urls` (`tcp://`).
    pub receiver_urls: Vec<TrafficManagerEndpoint>,
    /// `traffic_manager_auth_urls` (`ssl://`).
    pub auth_urls: Vec<TrafficManagerEndpoint>,
    /// `type`.
    pub group_type: UrlGroupType,
}

/// `[apim.throttling]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlingSettings {
    /// Gateways publish request events.
    pub enable_data_publishing: bool,
    /// Policies are deployed to traffic managers.
    pub enable_policy_deploy: bool,
    /// Blocking conditions are enforced.
    pub enable_blacklist_condition: bool,
    /// The node subscribes to throttle decisions.
    pub enable_decision_connection: bool,
    /// The `Unlimited` tier exists.
    pub enable_unlimited_tier: bool,
    /// Advanced policies may match headers.
    pub enable_header_based_throttling: bool,
    /// Advanced policies may match JWT claims.
    pub enable_jwt_claim_based_throttling: bool,
    /// Advanced policies may match query parameters.
    pub enable_query_param_based_throttling: bool,
    /// Message brokers to subscribe to, duplicates removed; empty: in-process.
    pub decision_endpoints: Vec<BrokerEndpoint>,
    /// Traffic-manager groups; empty: in-process.
    pub url_groups: Vec<TrafficManagerGroup>,
    /// User for the authenticated (`ssl://`) receivers (default: the super admin).
    pub username: String,
    /// Its password (default: the super admin's).
    pub password: Option<Secret>,
    /// The first part of every event subject (`keygate`: `keygate.notification`, …) and of
    /// the AMQP exchange's name. Deployments sharing one broker keep apart by it; the nodes
    /// of one deployment must agree on it.
    pub subject_prefix: String,
}

impl ThrottlingSettings {
    /// The defaults, with the super admin's credentials.
    pub fn new(admin: &SuperAdmin) -> Self {
        ThrottlingSettings {
            enable_data_publishing: true,
            enable_policy_deploy: true,
            enable_blacklist_condition: true,
            enable_decision_connection: true,
            enable_unlimited_tier: true,
            enable_header_based_throttling: false,
            enable_jwt_claim_based_throttling: false,
            enable_query_param_based_throttling: false,
            decision_endpoints: Vec::new(),
            url_groups: Vec::new(),
            username: admin.username.clone(),
            password: admin.password.clone(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
        }
    }
}

/// The default `[apim.throttling] subject_prefix`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "keygate";

/// A subject prefix: dot-separated words of letters, digits, `-` and `_`, so that no
/// broker reads a wildcard (`*`, `>`, `#`) or an empty word in it.
fn subject_prefix(a: &mut Assembler<'_>, prefix: Option<String>) -> String {
    let Some(prefix) = prefix else {
        return DEFAULT_SUBJECT_PREFIX.to_owned();
    };
    let valid = !prefix.is_empty()
        && prefix.len() <= 100
        && prefix.split('.').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        prefix
    } else {
        a.error(
            "apim.throttling.subject_prefix",
            "expected dot-separated words of letters, digits, `-` and `_` (at most 100 \
             characters), such as `keygate` or `keygate.staging`",
        );
        DEFAULT_SUBJECT_PREFIX.to_owned()
    }
}

/// `[apim.throttling]` into settings.
pub(crate) fn throttling(
    a: &mut Assembler<'_>,
    file: ThrottlingFile,
    admin: &SuperAdmin,
) -> ThrottlingSettings {
    let d = ThrottlingSettings::new(admin);
    let mut decision_endpoints: Vec<BrokerEndpoint> = Vec::new();
    for (i, url) in file
        .throttle_decision_endpoints
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("apim.throttling.throttle_decision_endpoints[{i}]");
        match parse_broker_url(url) {
            Ok(endpoint) => {
                if !decision_endpoints.contains(&endpoint) {
                    decision_endpoints.push(endpoint);
                }
            }
            Err(reason) => a.error(path, reason),
        }
    }
    let url_groups = file
        .url_group
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, group)| url_group(a, &format!("apim.throttling.url_group[{i}]"), group))
        .collect();
    ThrottlingSettings {
        enable_data_publishing: file
            .enable_data_publishing
            .unwrap_or(d.enable_data_publishing),
        enable_policy_deploy: file.enable_policy_deploy.unwrap_or(d.enable_policy_deploy),
        enable_blacklist_condition: file
            .enable_blacklist_condition
            .unwrap_or(d.enable_blacklist_condition),
        enable_decision_connection: file
            .enable_decision_connection
            .unwrap_or(d.enable_decision_connection),
        enable_unlimited_tier: file
            .enable_unlimited_tier
            .unwrap_or(d.enable_unlimited_tier),
        enable_header_based_throttling: file
            .enable_header_based_throttling
            .unwrap_or(d.enable_header_based_throttling),
        enable_jwt_claim_based_throttling: file
            .enable_jwt_claim_based_throttling
            .unwrap_or(d.enable_jwt_claim_based_throttling),
        enable_query_param_based_throttling: file
            .enable_query_param_based_throttling
            .unwrap_or(d.enable_query_param_based_throttling),
        decision_endpoints,
        url_groups,
        username: file.username.unwrap_or(d.username),
        password: file.password.or(d.password),
        subject_prefix: subject_prefix(a, file.subject_prefix),
    }
}

fn url_group(
    a: &mut Assembler<'_>,
    table: &str,
    file: UrlGroupFile,
) -> Option<TrafficManagerGroup> {
    let group_type = match file.kind.as_deref().map(|k| k.trim().to_ascii_lowercase()) {
        None => UrlGroupType::LoadBalance,
        Some(k) if k == "loadbalance" => UrlGroupType::LoadBalance,
        Some(k) if k == "failover" => UrlGroupType::Failover,
        Some(k) => {
            a.error(
                format!("{table}.type"),
                format!("unknown group type `{k}`, expected `loadbalance` or `failover`"),
            );
            UrlGroupType::LoadBalance
        }
    };
    let mut endpoints = |key: &str, urls: Vec<String>, tls: bool| {
        let mut out = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            let path = format!("{table}.{key}[{i}]");
            // WSO2 also accepts "{tcp://a:9611,tcp://b:9611}" in one string.
            let inner = url.trim().trim_start_matches('{').trim_end_matches('}');
            for one in inner.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                match parse_receiver_url(one, tls) {
                    Ok(endpoint) => out.push(endpoint),
                    Err(reason) => a.error(path.clone(), reason),
                }
            }
        }
        out
    };
    let receiver_files = file.traffic_manager_urls.unwrap_or_default();
    let auth_files = file.traffic_manager_auth_urls.unwrap_or_default();
    if receiver_files.is_empty() && auth_files.is_empty() {
        a.error(
            format!("{table}.traffic_manager_urls"),
            "a url group needs `traffic_manager_urls` or `traffic_manager_auth_urls`",
        );
        return None;
    }
    let receiver_urls = endpoints("traffic_manager_urls", receiver_files, false);
    let auth_urls = endpoints("traffic_manager_auth_urls", auth_files, true);
    if receiver_urls.is_empty() && auth_urls.is_empty() {
        return None;
    }
    Some(TrafficManagerGroup {
        receiver_urls,
        auth_urls,
        group_type,
    })
}

/// `scheme://[user[:password]@]host[:port][/vhost]`, as `(scheme, userinfo, host, port,
/// path)`.
type UrlParts<'t> = (
    String,
    Option<&'t str>,
    String,
    Option<u16>,
    Option<&'t str>,
);

fn split_url(url: &str) -> Result<UrlParts<'_>, String> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "expected a URL such as tcp://host:port".to_owned())?;
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p).filter(|p| !p.is_empty())),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "the URL's IPv6 address is not closed".to_owned())?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".to_owned());
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| "the URL's port is not a number from 1 to 65535".to_owned())?,
        ),
    };
    Ok((scheme.to_ascii_lowercase(), userinfo, host, port, path))
}

/// Reads a `throttle_decision_endpoints` entry.
pub(crate) fn parse_broker_url(url: &str) -> Result<BrokerEndpoint, String> {
    let (scheme, userinfo, host, port, path) = split_url(url)?;
    let transport = match scheme.as_str() {
        "tcp" | "amqp" => BrokerTransport::Amqp,
        "amqps" => BrokerTransport::AmqpTls,
        "nats" => BrokerTransport::Nats,
        "tls" => BrokerTransport::NatsTls,
        _ => {
            return Err(
                "unsupported broker: expected tcp:// or amqp:// (RabbitMQ), amqps://, nats:// or tls:// (NATS)"
                    .to_owned(),
            );
        }
    };
    let (username, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (
                Some(percent_decode(u)),
                Some(Secret::new(percent_decode(p))),
            ),
            None => (Some(percent_decode(info)), None),
        },
        None => (None, None),
    };
    Ok(BrokerEndpoint {
        transport,
        host,
        port: port.unwrap_or(transport.default_port()),
        username,
        password,
        virtual_host: path.map(percent_decode),
    })
}

/// Reads a traffic-manager receiver URL; `tls` says whether it is an auth URL.
pub(crate) fn parse_receiver_url(url: &str, tls: bool) -> Result<TrafficManagerEndpoint, String> {
    let (scheme, userinfo, host, port, _) = split_url(url)?;
    if userinfo.is_some() {
        return Err(
            "receiver URLs carry no credentials; set `apim.throttling.username` and `password`"
                .to_owned(),
        );
    }
    let is_tls = match scheme.as_str() {
        "tcp" => false,
        "ssl" | "tls" => true,
        _ => return Err("expected tcp:// or ssl://".to_owned()),
    };
    if is_tls != tls {
        return Err(if tls {
            "`traffic_manager_auth_urls` take ssl:// URLs".to_owned()
        } else {
            "`traffic_manager_urls` take tcp:// URLs".to_owned()
        });
    }
    let default_port = if tls {
        defaults::TM_BINARY_TLS_PORT
    } else {
        defaults::TM_BINARY_PORT
    };
    Ok(TrafficManagerEndpoint {
        tls,
        host,
        port: port.unwrap_or(default_port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn broker_urls_name_their_protocol() {
        let amqp = parse_broker_url("tcp://localhost:5672").unwrap();
        assert_eq!(amqp.transport, BrokerTransport::Amqp);
        assert_eq!((amqp.host.as_str(), amqp.port), ("localhost", 5672));
        assert_eq!(parse_broker_url("nats://n").unwrap().port, 4222);
        assert_eq!(
            parse_broker_url("amqps://h").unwrap().transport,
            BrokerTransport::AmqpTls
        );
        assert_eq!(
            parse_broker_url("tls://h:4443").unwrap().transport,
            BrokerTransport::NatsTls
        );
        assert!(parse_broker_url("kafka://h:9092").is_err());
        assert!(parse_broker_url("localhost:5672").is_err());
    }

    #[test]
    fn broker_credentials_stay_out_of_the_display_url() {
        let b = parse_broker_url("amqp://guest:p%40ss@rabbit:5672/prod").unwrap();
        assert_eq!(b.username.as_deref(), Some("guest"));
        assert_eq!(b.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(b.virtual_host.as_deref(), Some("prod"));
        assert_eq!(b.display_url(), "amqp://guest@rabbit:5672/prod");
        assert_eq!(
            b.connect_url().expose(),
            "amqp://guest:p%40ss@rabbit:5672/prod"
        );
        assert!(!format!("{b:?}").contains("p@ss"));
    }

    #[test]
    fn receiver_urls_must_match_their_list() {
        assert_eq!(
            parse_receiver_url("tcp://localhost:9611", false),
            Ok(TrafficManagerEndpoint {
                tls: false,
                host: "localhost".into(),
                port: 9611
            })
        );
        assert_eq!(
            parse_receiver_url("ssl://tm", true).map(|e| e.port),
            Ok(9711)
        );
        assert!(parse_receiver_url("ssl://tm:9711", false).is_err());
        assert!(parse_receiver_url("tcp://tm:9611", true).is_err());
        assert!(parse_receiver_url("tcp://tm:0", false).is_err());
    }

    proptest! {
        #[test]
        fn broker_urls_round_trip(
            scheme in prop_oneof![Just("amqp"), Just("amqps"), Just("nats"), Just("tls")],
            host in "[a-z][a-z0-9.-]{0,20}",
            port in 1u16..,
            user in proptest::option::of("[ -~]{1,12}"),
            password in "[ -~]{1,12}",
        ) {
            let userinfo = user
                .as_ref()
                .map(|u| format!("{}:{}@", percent_encode(u), percent_encode(&password)))
                .unwrap_or_default();
            let url = format!("{scheme}://{userinfo}{host}:{port}");
            let parsed = parse_broker_url(&url).unwrap();
            let connect = parsed.connect_url();
            prop_assert_eq!(connect.expose(), url.as_str());
            let reparsed = parse_broker_url(connect.expose()).unwrap();
            prop_assert_eq!(reparsed, parsed);
        }
    }
}
