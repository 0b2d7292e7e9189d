//! The traffic manager's settings, and the conversion of `[apim.throttling]` into them and
//! into the ingestion client's receiver groups.

use keygate_bus::SubjectPrefix;
use keygate_bus::ingest::{Balance, Receiver, ReceiverGroup};
use keygate_config::{ThrottlingSettings, TrafficManagerEndpoint, UrlGroupType};
use keygate_model::Secret;
use std::fmt;
use std::time::Duration;

/// What a traffic manager needs beyond its listeners.
#[derive(Clone)]
pub struct TrafficSettings {
    /// This node's name: the origin of the decisions it publishes.
    pub node: String,
    /// User producers must present (`[apim.throttling] username`).
    pub username: String,
    /// Its password; without one every producer is refused.
    pub password: Option<Secret>,
    /// Subject prefix on the message broker.
    pub prefix: SubjectPrefix,
    /// `enable_policy_deploy`: the policy source's limits override those gateways report,
    /// and a policy change re-decides its keys.
    pub deploy_policies: bool,
    /// `enable_blacklist_condition`: blocking conditions are relayed.
    pub relay_blocking_conditions: bool,
    /// How often keys whose window has ended are released.
    pub tick: Duration,
    /// Time a producer has for TLS and its hello.
    pub handshake_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Event ids remembered to apply duplicates once.
    pub remembered_ids: usize,
    /// Grant quota leases to gateways and take part in electing who grants them
    /// ([`keygate_throttle::lease`]); off, the traffic manager only publishes decisions.
    pub leases: bool,
    /// This start's unique name, among traffic managers electing who grants leases
    /// (empty: drawn at start).
    pub instance: String,
}

impl TrafficSettings {
    /// Defaults for `node` accepting producers with these credentials.
    pub fn new(
        node: impl Into<String>,
        username: impl Into<String>,
        password: Option<Secret>,
    ) -> Self {
        Self {
            node: node.into(),
            username: username.into(),
            password,
            prefix: SubjectPrefix::default(),
            deploy_policies: true,
            relay_blocking_conditions: true,
            tick: Duration::from_millis(250),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            remembered_ids: crate::dedup::DEFAULT_REMEMBERED,
            leases: false,
            instance: String::new(),
        }
    }

    /// The settings `[apim.throttling]` gives a traffic manager called `node`.
    pub fn from_config(
        node: impl Into<String>,
        throttling: &ThrottlingSettings,
        prefix: SubjectPrefix,
    ) -> Self {
        Self {
            prefix,
            deploy_policies: throttling.enable_policy_deploy,
            relay_blocking_conditions: throttling.enable_blacklist_condition,
            leases: true,
            ..Self::new(
                node,
                throttling.username.clone(),
                throttling.password.clone(),
            )
        }
    }
}

impl fmt::Debug for TrafficSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrafficSettings")
            .field("node", &self.node)
            .field("username", &self.username)
            .field("prefix", &self.prefix)
            .field("deploy_policies", &self.deploy_policies)
            .field("relay_blocking_conditions", &self.relay_blocking_conditions)
            .field("leases", &self.leases)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// The receiver groups of `[[apim.throttling.url_group]]` for a producer: each group's
/// `ssl://` receivers when the producer has a TLS client configuration (`tls_available`),
/// its `tcp://` receivers otherwise, falling back to the other kind when a group has only
/// that one.
pub fn receiver_groups(throttling: &ThrottlingSettings, tls_available: bool) -> Vec<ReceiverGroup> {
    let receiver = |e: &TrafficManagerEndpoint| Receiver {
        host: e.host.clone(),
        port: e.port,
        tls: e.tls,
    };
    throttling
        .url_groups
        .iter()
        .map(|group| {
            let (preferred, other) = if tls_available {
                (&group.auth_urls, &group.receiver_urls)
            } else {
                (&group.receiver_urls, &group.auth_urls)
            };
            let chosen = if preferred.is_empty() {
                other
            } else {
                preferred
            };
            ReceiverGroup {
                balance: match group.group_type {
                    UrlGroupType::LoadBalance => Balance::LoadBalance,
                    UrlGroupType::Failover => Balance::Failover,
                },
                receivers: chosen.iter().map(receiver).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_config::TrafficManagerGroup;

    fn endpoint(port: u16, tls: bool) -> TrafficManagerEndpoint {
        TrafficManagerEndpoint {
            tls,
            host: "tm.example".into(),
            port,
        }
    }

    #[test]
    fn groups_use_tls_receivers_when_the_producer_can() {
        let mut throttling = ThrottlingSettings::new(&Default::default());
        throttling.url_groups = vec![
            TrafficManagerGroup {
                receiver_urls: vec![endpoint(9611, false)],
                auth_urls: vec![endpoint(9711, true)],
                group_type: UrlGroupType::Failover,
            },
            TrafficManagerGroup {
                receiver_urls: vec![endpoint(9612, false)],
                auth_urls: vec![],
                group_type: UrlGroupType::LoadBalance,
            },
        ];
        let tls = receiver_groups(&throttling, true);
        assert_eq!(tls[0].balance, Balance::Failover);
        assert_eq!(tls[0].receivers[0].port, 9711);
        assert!(tls[0].receivers[0].tls);
        assert_eq!(tls[1].receivers[0].port, 9612);
        let plain = receiver_groups(&throttling, false);
        assert_eq!(plain[0].receivers[0].port, 9611);
        assert!(!plain[0].receivers[0].tls);
        assert_eq!(plain[1].balance, Balance::LoadBalance);
    }

    #[test]
    fn switches_come_from_the_config() {
        let mut throttling = ThrottlingSettings::new(&Default::default());
        throttling.enable_policy_deploy = false;
        throttling.enable_blacklist_condition = false;
        throttling.username = "tm-user".into();
        let settings = TrafficSettings::from_config("tm-1", &throttling, SubjectPrefix::default());
        assert!(!settings.deploy_policies);
        assert!(!settings.relay_blocking_conditions);
        assert_eq!(settings.username, "tm-user");
    }
}
