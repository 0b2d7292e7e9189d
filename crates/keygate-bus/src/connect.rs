//! Choosing the transport: [`connect`] opens the bus a node's
//! `[apim.throttling] throttle_decision_endpoints` name — RabbitMQ for `tcp://`, `amqp://`
//! and `amqps://`, NATS for `nats://` and `tls://` — or the in-process bus when the list is
//! empty. [`BusSettings`] is plain data; [`BusSettings::from_config`] reads it from a loaded
//! `deployment.toml`. Broker passwords never appear in logs or errors: every URL shown is
//! [`BrokerEndpoint::display_url`], which leaves the password out.

use crate::amqp::AmqpBus;
use crate::backoff::ReconnectBackoff;
use crate::nats::NatsBus;
use crate::{BusError, EventBus, InProcessBus, SubjectPrefix};
use keygate_config::{BrokerEndpoint, Config};
use rustls_pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;

/// How long `publish` waits for a broker that is away before it reports
/// [`BusError::Unavailable`].
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Certificates a TLS broker connection (`amqps://`, `tls://`) accepts: the Mozilla root set
/// shipped with keygate, plus `extra_roots` (a private CA, or the certificates of the
/// node's `[truststore]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerTrust {
    /// DER certificates trusted in addition to the public roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// Everything [`connect`] needs.
#[derive(Debug, Clone)]
pub struct BusSettings {
    /// The brokers, all of one protocol; the first reachable one is used and the others
    /// are tried in turn after a lost connection. Empty: in-process.
    pub brokers: Vec<BrokerEndpoint>,
    /// The subject prefix; AMQP's exchange is named after it (`<prefix>.events`).
    pub prefix: SubjectPrefix,
    /// How long a publish waits for an unreachable broker.
    pub publish_timeout: Duration,
    /// Delays between reconnect attempts.
    pub backoff: ReconnectBackoff,
    /// Trust anchors for TLS brokers.
    pub trust: BrokerTrust,
    /// Connection name shown in the broker's own tools (the node's host name).
    pub client_name: String,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            brokers: Vec::new(),
            prefix: SubjectPrefix::default(),
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
            backoff: ReconnectBackoff::default(),
            trust: BrokerTrust::default(),
            client_name: "keygate".to_owned(),
        }
    }
}

impl BusSettings {
    /// The brokers of `[apim.throttling] throttle_decision_endpoints`. A URL without
    /// credentials uses `[apim.throttling] username` and `password` (by default the super
    /// admin's, as WSO2 does); a URL naming that same user without a password takes its
    /// password. TLS trust anchors are left empty: the server adds its truststore's
    /// certificates to [`BusSettings::trust`].
    pub fn from_config(config: &Config) -> Self {
        let throttling = &config.throttling;
        let brokers = throttling
            .decision_endpoints
            .iter()
            .map(|endpoint| {
                let mut endpoint = endpoint.clone();
                if endpoint.username.is_none() {
                    endpoint.username = Some(throttling.username.clone());
                }
                if endpoint.password.is_none()
                    && endpoint.username.as_deref() == Some(throttling.username.as_str())
                {
                    endpoint.password = throttling.password.clone();
                }
                endpoint
            })
            .collect();
        Self {
            brokers,
            prefix: SubjectPrefix::new(&throttling.subject_prefix),
            client_name: format!("keygate {}", config.server.hostname),
            ..Self::default()
        }
    }

    /// The brokers as shown in logs, passwords left out.
    pub fn display_brokers(&self) -> String {
        let urls: Vec<String> = self.brokers.iter().map(|b| b.display_url()).collect();
        urls.join(", ")
    }
}

/// The bus `settings` describe: [`InProcessBus`] with no broker, [`AmqpBus`] for AMQP
/// URLs, [`NatsBus`] for NATS URLs. Returns without waiting for the broker: a transport
/// connects (and reconnects) in the background, subscribers hear
/// [`crate::BusMessage::Resync`] once it is up, and publishes wait up to
/// [`BusSettings::publish_timeout`] for it. Mixing AMQP and NATS URLs is an error.
pub async fn connect(settings: &BusSettings) -> Result<Arc<dyn EventBus>, BusError> {
    let Some(first) = settings.brokers.first() else {
        return Ok(Arc::new(InProcessBus::default()));
    };
    let amqp = first.transport.is_amqp();
    if settings
        .brokers
        .iter()
        .any(|b| b.transport.is_amqp() != amqp)
    {
        return Err(BusError::Settings(format!(
            "`apim.throttling.throttle_decision_endpoints` mixes AMQP and NATS brokers ({}); \
             list brokers of one kind",
            settings.display_brokers()
        )));
    }
    if amqp {
        Ok(Arc::new(AmqpBus::start(settings)?))
    } else {
        Ok(Arc::new(NatsBus::start(settings).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_config::{BrokerTransport, Config};
    use keygate_model::Secret;

    fn endpoint(
        transport: BrokerTransport,
        user: Option<&str>,
        pass: Option<&str>,
    ) -> BrokerEndpoint {
        BrokerEndpoint {
            transport,
            host: "localhost".into(),
            port: 5672,
            username: user.map(str::to_owned),
            password: pass.map(Secret::new),
            virtual_host: None,
        }
    }

    fn config_with(endpoints: Vec<BrokerEndpoint>) -> Config {
        let mut config = Config::embedded_default();
        config.throttling.username = "tm-user".into();
        config.throttling.password = Some(Secret::new("tm-secret"));
        config.throttling.decision_endpoints = endpoints;
        config
    }

    #[test]
    fn urls_without_credentials_take_the_throttling_ones() {
        let settings = BusSettings::from_config(&config_with(vec![
            endpoint(BrokerTransport::Amqp, None, None),
            endpoint(BrokerTransport::Amqp, Some("tm-user"), None),
            endpoint(BrokerTransport::Amqp, Some("guest"), Some("guest")),
            endpoint(BrokerTransport::Amqp, Some("other"), None),
        ]));
        let creds: Vec<(Option<&str>, Option<&str>)> = settings
            .brokers
            .iter()
            .map(|b| {
                (
                    b.username.as_deref(),
                    b.password.as_ref().map(Secret::expose),
                )
            })
            .collect();
        assert_eq!(
            creds,
            [
                (Some("tm-user"), Some("tm-secret")),
                (Some("tm-user"), Some("tm-secret")),
                (Some("guest"), Some("guest")),
                (Some("other"), None),
            ]
        );
        assert_eq!(settings.prefix, SubjectPrefix::default());
    }

    #[test]
    fn shown_urls_leave_passwords_out() {
        let settings = BusSettings::from_config(&config_with(vec![endpoint(
            BrokerTransport::Amqp,
            None,
            None,
        )]));
        let shown = settings.display_brokers();
        assert_eq!(shown, "amqp://tm-user@localhost:5672");
        assert!(!format!("{settings:?}").contains("tm-secret"));
    }

    #[tokio::test]
    async fn no_broker_means_in_process_and_mixed_kinds_are_refused() {
        let bus = connect(&BusSettings::default()).await.unwrap();
        assert_eq!(bus.transport(), "in-process");
        let mixed = BusSettings {
            brokers: vec![
                endpoint(BrokerTransport::Amqp, Some("u"), Some("hunter2")),
                endpoint(BrokerTransport::Nats, None, None),
            ],
            ..BusSettings::default()
        };
        let err = connect(&mixed).await.err().unwrap().to_string();
        assert!(err.contains("mixes AMQP and NATS"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
