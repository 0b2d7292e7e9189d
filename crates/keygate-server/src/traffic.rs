//! The node's event transport and its traffic manager (DESIGN §1, §5):
//!
//! - the bus every role subscribes on is the one `[apim.throttling]
//!   throttle_decision_endpoints` names (RabbitMQ, NATS), in-process when it names none;
//! - with `[[apim.throttling.url_group]]`s, what the roles publish (gateways' request
//!   events, key managers' revocations and cache invalidations, the control plane's
//!   blocking conditions, key templates and notifications) goes through one ingestion
//!   [`Producer`] to every group's traffic managers, which count and relay it onto the
//!   broker; without url groups it goes straight onto the bus;
//! - the `traffic-manager` role listens on 9611/9711 plus offset (port 0 for tests), TLS
//!   with the node's own certificate.

use crate::ServerError;
use async_trait::async_trait;
use keygate_bus::ingest::Topic;
use keygate_bus::{
    BrokerTrust, BusError, BusSettings, Envelope, EventBus, Producer, ProducerSettings, Subject,
    SubjectPrefix, Subscription,
};
use keygate_config::{Config, Role};
use keygate_gateway::feed::TrafficLink;
use keygate_traffic::THROTTLE_CATCH_UP;
use keygate_traffic::{
    IngestListeners, ProducerAccounts, RunningTrafficManager, TrafficManager, TrafficSettings,
};
use rustls_pki_types::CertificateDer;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;

/// The bus of `[apim.throttling] throttle_decision_endpoints`; TLS brokers also trust
/// `trusted` (the node's own certificate and truststore).
pub(crate) async fn open_bus(
    config: &Config,
    trusted: &[CertificateDer<'static>],
) -> Result<Arc<dyn EventBus>, ServerError> {
    let mut settings = BusSettings::from_config(config);
    settings.trust = BrokerTrust {
        extra_roots: trusted.to_vec(),
    };
    let bus = keygate_bus::connect(&settings)
        .await
        .map_err(|e| ServerError::Config(format!("[apim.throttling] event bus: {e}")))?;
    if !settings.brokers.is_empty() {
        tracing::info!(brokers = %settings.display_brokers(), transport = bus.transport(), "event bus");
    }
    Ok(bus)
}

/// A client for `ssl://` traffic managers trusting `trusted`.
fn producer_tls(trusted: &[CertificateDer<'static>]) -> Option<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in trusted {
        if let Err(error) = roots.add(certificate.clone()) {
            tracing::warn!(%error, "a trusted certificate is unusable for traffic managers");
        }
    }
    if roots.is_empty() {
        return None;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()
        .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
}

/// The bus the roles publish through: `bus` itself, or — with url groups — a
/// [`ProducerBus`] sending to the traffic managers (subscriptions stay on `bus`).
pub(crate) fn publishing_bus(
    config: &Config,
    bus: Arc<dyn EventBus>,
    trusted: &[CertificateDer<'static>],
) -> (Arc<dyn EventBus>, Option<Arc<Producer>>) {
    let throttling = &config.throttling;
    if throttling.url_groups.is_empty() {
        return (bus, None);
    }
    let tls = producer_tls(trusted);
    let groups = keygate_traffic::receiver_groups(throttling, tls.is_some());
    let password = throttling.password.clone().unwrap_or_default();
    let mut settings = ProducerSettings::new(
        config.server.hostname.clone(),
        groups,
        throttling.username.clone(),
        password,
    );
    settings.tls = tls;
    settings.publish_requests = throttling.enable_data_publishing;
    let producer = Arc::new(Producer::start(settings));
    let publishing = Arc::new(ProducerBus {
        bus,
        producer: producer.clone(),
        prefix: SubjectPrefix::new(&config.throttling.subject_prefix),
    });
    (publishing, Some(producer))
}

/// Publishes through the ingestion producer, subscribes on the broker.
pub(crate) struct ProducerBus {
    bus: Arc<dyn EventBus>,
    producer: Arc<Producer>,
    prefix: SubjectPrefix,
}

impl ProducerBus {
    /// The ingestion topic of a subject of this bus's prefix.
    fn topic(&self, subject: &Subject) -> Option<Topic> {
        let name = subject
            .as_str()
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?;
        Topic::parse(name)
    }
}

#[async_trait]
impl EventBus for ProducerBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        let Some(topic) = self.topic(subject) else {
            // Subjects traffic managers do not relay go straight to the broker.
            return self.bus.publish(subject, event).await;
        };
        if topic == Topic::ThrottleRequest && event.event_type != THROTTLE_CATCH_UP {
            // A traffic manager counts one request per event: a gateway's batch is split.
            for (i, request) in request_batch(event).into_iter().enumerate() {
                self.producer.send_request(Envelope {
                    id: format!("{}.{i}", event.id),
                    payload: request,
                    ..event.clone()
                });
            }
            return Ok(());
        }
        // Queued for every group and retried until acknowledged; the publisher does not
        // wait for the round trip.
        self.producer
            .send(topic, event.clone())
            .await
            .map(drop)
            .map_err(|_| BusError::Closed)
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        self.bus.subscribe(subject).await
    }

    fn transport(&self) -> &'static str {
        self.bus.transport()
    }
}

/// How the gateway role reaches the traffic managers: its name on request events (the
/// host name, `#gateway-` and a random suffix, so that leases reach this one gateway even
/// when several share a host name), catch-up requests through `publishing`, and leases
/// followed when its request events reach traffic managers and it hears their decisions.
pub(crate) fn gateway_link(config: &Config, publishing: Arc<dyn EventBus>) -> TrafficLink {
    let throttling = &config.throttling;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    TrafficLink {
        publisher: publishing,
        prefix: SubjectPrefix::new(&config.throttling.subject_prefix),
        node: format!(
            "{}#gateway-{}",
            config.server.hostname,
            suffix.get(..12).unwrap_or(&suffix)
        ),
        follow_leases: throttling.enable_data_publishing
            && throttling.enable_decision_connection
            && !throttling.url_groups.is_empty(),
    }
}

/// The requests of a gateway's batch (`{"events": [...]}`), or the event itself when it
/// carries one request.
fn request_batch(event: &Envelope) -> Vec<serde_json::Value> {
    match event
        .payload
        .get("events")
        .and_then(serde_json::Value::as_array)
    {
        Some(events) => events.clone(),
        None => vec![event.payload.clone()],
    }
}

/// Producers' accounts from the user store: a user the store authenticates who holds the
/// administrators' role, as WSO2's traffic manager accepts its receivers' users. A node
/// whose file names no super admin password sends as the internal account, which has it.
struct StoreAccounts {
    stores: Arc<keygate_store::Stores>,
    admin_role: String,
}

#[async_trait]
impl ProducerAccounts for StoreAccounts {
    async fn accepts(&self, username: &str, password: &keygate_model::Secret) -> bool {
        match self.stores.users().authenticate(username, password).await {
            Ok(Some(user)) => user.roles.iter().any(|role| role == &self.admin_role),
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "the user store could not check a producer's account");
                false
            }
        }
    }
}

/// The traffic-manager role: its ingestion listeners bound (all interfaces' `bind_ip`, the
/// configured ports or ephemeral ones) and serving, publishing on `bus`; producers are
/// accepted with the `[apim.throttling]` credentials or an administrator's account.
pub(crate) async fn start_traffic_manager(
    config: &Config,
    stores: Arc<keygate_store::Stores>,
    bus: Arc<dyn EventBus>,
    bind_ip: IpAddr,
    ephemeral_ports: bool,
    tls: Arc<rustls::ServerConfig>,
) -> Result<Option<RunningTrafficManager>, ServerError> {
    if !config.runs(Role::TrafficManager) {
        return Ok(None);
    }
    let port = |configured: u16| if ephemeral_ports { 0 } else { configured };
    let bind = |name: &'static str, configured: u16| async move {
        let addr = SocketAddr::new(bind_ip, port(configured));
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                listener: name,
                addr,
                hint: String::new(),
                source,
            })
    };
    let plain = bind("traffic-manager", config.ports.tm_binary).await?;
    let secure = bind("traffic-manager-tls", config.ports.tm_binary_tls).await?;
    let settings = TrafficSettings::from_config(
        format!("{}#traffic-manager", config.server.hostname),
        &config.throttling,
        SubjectPrefix::new(&config.throttling.subject_prefix),
    );
    let accounts = Arc::new(StoreAccounts {
        stores,
        admin_role: config.super_admin.admin_role.clone(),
    });
    let running = TrafficManager::new(settings, bus)
        .with_accounts(accounts)
        .start(IngestListeners {
            plain: Some(plain),
            tls: Some((secure, tls)),
        })
        .await;
    tracing::info!(plain = ?running.plain_addr(), tls = ?running.tls_addr(), "traffic manager");
    Ok(Some(running))
}
