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
//!   with the node's own certificate;
//! - a gateway's request events take the cheapest road to the traffic managers
//!   ([`PublishingBus::request_events`]): with url groups one ingestion event per request,
//!   serialised from the typed event; on a broker one envelope per batch; in-process
//!   the batch itself to the node's own traffic manager ([`RequestIntake`]), and an
//!   envelope on `keygate.throttle.request` only while a subscriber of the node listens
//!   there (nobody else can).

use crate::ServerError;
use crate::gateway::REQUEST_EVENTS_TYPE;
use async_trait::async_trait;
use keygate_bus::ingest::Topic;
use keygate_bus::{
    BrokerTrust, BusError, BusMessage, BusSettings, Envelope, EventBus, Producer, ProducerSettings,
    Subject, SubjectPrefix, Subscription, SubscriptionStream,
};
use keygate_config::{Config, Role};
use keygate_gateway::feed::TrafficLink;
use keygate_gateway::{RequestEvent, RequestEventError, RequestEventSink};
use keygate_traffic::THROTTLE_CATCH_UP;
use keygate_traffic::{
    IngestListeners, ProducerAccounts, RequestIntake, RunningTrafficManager, TrafficManager,
    TrafficSettings,
};
use rustls_pki_types::CertificateDer;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// The bus of `[apim.throttling] throttle_decision_endpoints`; TLS brokers also trust
/// `trusted` (the node's own certificate and truststore).
pub(crate) async fn open_bus(
    config: &Config,
    trusted: &[CertificateDer<'static>],
) -> Result<Arc<NodeBus>, ServerError> {
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
    let prefix = SubjectPrefix::new(&config.throttling.subject_prefix);
    Ok(Arc::new(NodeBus::new(
        bus,
        settings.brokers.is_empty(),
        &prefix,
    )))
}

/// The bus every role of the node subscribes on: a broker, or the in-process bus. On the
/// in-process bus it also knows whether anyone listens on `keygate.throttle.request` and
/// holds the node's own traffic manager's [`RequestIntake`], so that request events need
/// no envelope when nobody but that traffic manager takes them.
pub(crate) struct NodeBus {
    bus: Arc<dyn EventBus>,
    local: Option<LocalRequests>,
}

/// Who takes request events on the in-process bus.
struct LocalRequests {
    subject: Subject,
    /// Live subscriptions to `subject`.
    listeners: Arc<AtomicUsize>,
    /// The node's traffic manager, once started.
    intake: OnceLock<RequestIntake>,
}

impl NodeBus {
    /// `bus`, in-process or a broker's, of a node whose subjects start with `prefix`.
    pub(crate) fn new(bus: Arc<dyn EventBus>, in_process: bool, prefix: &SubjectPrefix) -> Self {
        Self {
            bus,
            local: in_process.then(|| LocalRequests {
                subject: Subject::throttle_request(prefix),
                listeners: Arc::new(AtomicUsize::new(0)),
                intake: OnceLock::new(),
            }),
        }
    }

    /// Hands the request events of the node's gateway to its traffic manager (in-process
    /// bus only; a broker's traffic managers are reached through it or the url groups).
    fn attach(&self, intake: RequestIntake) {
        if let Some(local) = &self.local {
            let _ = local.intake.set(intake);
        }
    }
}

#[async_trait]
impl EventBus for NodeBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        self.bus.publish(subject, event).await
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        let subscription = self.bus.subscribe(subject).await?;
        match &self.local {
            Some(local) if &local.subject == subject => Ok(Subscription::new(Listening {
                inner: subscription,
                _listener: Listener::new(&local.listeners),
            })),
            _ => Ok(subscription),
        }
    }

    fn transport(&self) -> &'static str {
        self.bus.transport()
    }
}

/// A subscription counted among the listeners of its subject while it lives.
struct Listening {
    inner: Subscription,
    _listener: Listener,
}

#[async_trait]
impl SubscriptionStream for Listening {
    async fn next(&mut self) -> Option<BusMessage> {
        self.inner.next().await
    }
}

/// One in a count of listeners, until dropped.
struct Listener(Arc<AtomicUsize>);

impl Listener {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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

/// The bus the roles publish through: the node's bus itself, or — with url groups — a
/// [`ProducerBus`] sending to the traffic managers (subscriptions stay on the node's bus).
pub(crate) struct PublishingBus {
    publish: Arc<dyn EventBus>,
    node: Arc<NodeBus>,
    producer: Option<Arc<Producer>>,
}

#[async_trait]
impl EventBus for PublishingBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        self.publish.publish(subject, event).await
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        self.publish.subscribe(subject).await
    }

    fn transport(&self) -> &'static str {
        self.publish.transport()
    }
}

impl PublishingBus {
    /// Where a gateway called `origin_node` sends its batches of request events, published
    /// as `subject` (`keygate.throttle.request` under the node's prefix).
    pub(crate) fn request_events(
        &self,
        subject: Subject,
        origin_node: String,
    ) -> Arc<dyn RequestEventSink> {
        let route = match &self.producer {
            Some(producer) => RequestRoute::Producer(Arc::clone(producer)),
            None => RequestRoute::Node(Arc::clone(&self.node)),
        };
        Arc::new(RequestEventPublisher {
            route,
            subject,
            origin_node,
            revision: AtomicU64::new(u64::try_from(now_ms()).unwrap_or(0)),
        })
    }
}

/// The bus the roles publish through ([`PublishingBus`]); with url groups also the
/// ingestion producer.
pub(crate) fn publishing_bus(
    config: &Config,
    bus: Arc<NodeBus>,
    trusted: &[CertificateDer<'static>],
) -> (Arc<PublishingBus>, Option<Arc<Producer>>) {
    let throttling = &config.throttling;
    if throttling.url_groups.is_empty() {
        let publishing = Arc::new(PublishingBus {
            publish: bus.clone(),
            node: bus,
            producer: None,
        });
        return (publishing, None);
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
    let publishing = Arc::new(PublishingBus {
        publish: Arc::new(ProducerBus {
            bus: bus.clone(),
            producer: producer.clone(),
            prefix: SubjectPrefix::new(&config.throttling.subject_prefix),
        }),
        node: bus,
        producer: Some(producer.clone()),
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
            // A traffic manager counts one request per event: a batch is split.
            for request in split_batch(event) {
                self.producer.send_request(request);
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

/// The requests of a batch envelope (`{"events": [...]}`) as one ingestion event each (id
/// `{batch id}.{index}`), or the event itself when it carries one request.
fn split_batch(event: &Envelope) -> Vec<Envelope> {
    match event
        .payload
        .get("events")
        .and_then(serde_json::Value::as_array)
    {
        Some(events) => events
            .iter()
            .enumerate()
            .map(|(i, request)| Envelope {
                id: format!("{}.{i}", event.id),
                event_type: event.event_type.clone(),
                revision: event.revision,
                time: event.time,
                origin_node: event.origin_node.clone(),
                payload: request.clone(),
            })
            .collect(),
        None => vec![event.clone()],
    }
}

/// Where a gateway's request events go.
enum RequestRoute {
    /// To every url group, one ingestion event per request.
    Producer(Arc<Producer>),
    /// Onto the node's bus: in-process to its traffic manager, else as a batch envelope.
    Node(Arc<NodeBus>),
}

/// A gateway's [`RequestEventSink`]: batches of typed request events sent the cheapest way
/// their [`RequestRoute`] allows, and the same envelopes, byte for byte, wherever they leave
/// the process (`keygate.throttle.request` on a broker, `REQUEST_EVENTS` on the ingestion
/// ports).
struct RequestEventPublisher {
    route: RequestRoute,
    subject: Subject,
    origin_node: String,
    revision: AtomicU64,
}

impl std::fmt::Debug for RequestEventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = match self.route {
            RequestRoute::Producer(_) => "url groups",
            RequestRoute::Node(_) => "node bus",
        };
        f.debug_struct("RequestEventPublisher")
            .field("subject", &self.subject)
            .field("route", &route)
            .finish_non_exhaustive()
    }
}

/// What every envelope of one batch shares.
#[derive(Debug, Clone, PartialEq)]
struct BatchHeader {
    id: String,
    revision: u64,
    time: i64,
    origin_node: String,
}

impl BatchHeader {
    fn envelope(&self, id: String, payload: serde_json::Value) -> Envelope {
        Envelope {
            id,
            event_type: REQUEST_EVENTS_TYPE.to_owned(),
            revision: self.revision,
            time: self.time,
            origin_node: self.origin_node.clone(),
            payload,
        }
    }

    /// The batch as one envelope, `{"events": [...]}`.
    fn batch(&self, batch: &[RequestEvent]) -> Result<Envelope, serde_json::Error> {
        let mut payload = serde_json::Map::new();
        payload.insert("events".to_owned(), serde_json::to_value(batch)?);
        Ok(self.envelope(self.id.clone(), serde_json::Value::Object(payload)))
    }

    /// The batch as one envelope per request, as [`split_batch`] makes of [`Self::batch`].
    fn requests(&self, batch: &[RequestEvent]) -> Result<Vec<Envelope>, serde_json::Error> {
        batch
            .iter()
            .enumerate()
            .map(|(i, event)| {
                Ok(self.envelope(format!("{}.{i}", self.id), serde_json::to_value(event)?))
            })
            .collect()
    }
}

impl RequestEventPublisher {
    fn header(&self) -> BatchHeader {
        BatchHeader {
            id: uuid::Uuid::new_v4().to_string(),
            revision: self.revision.fetch_add(1, Ordering::Relaxed) + 1,
            time: now_ms(),
            origin_node: self.origin_node.clone(),
        }
    }
}

fn unencodable(error: serde_json::Error) -> RequestEventError {
    RequestEventError(format!("not encodable: {error}"))
}

#[async_trait]
impl RequestEventSink for RequestEventPublisher {
    async fn publish(&self, batch: Vec<RequestEvent>) -> Result<(), RequestEventError> {
        match &self.route {
            RequestRoute::Producer(producer) => {
                for request in self.header().requests(&batch).map_err(unencodable)? {
                    producer.send_request(request);
                }
                Ok(())
            }
            RequestRoute::Node(node) => {
                if let Some(local) = &node.local {
                    if let Some(intake) = local.intake.get() {
                        intake.count(&batch).await;
                    }
                    if local.listeners.load(Ordering::SeqCst) == 0 {
                        // In-process, nobody else could hear it.
                        return Ok(());
                    }
                }
                let envelope = self.header().batch(&batch).map_err(unencodable)?;
                node.bus
                    .publish(&self.subject, &envelope)
                    .await
                    .map_err(|e| RequestEventError(e.to_string()))
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
    bus: Arc<NodeBus>,
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
    let running = TrafficManager::new(settings, bus.clone())
        .with_accounts(accounts)
        .start(IngestListeners {
            plain: Some(plain),
            tls: Some((secure, tls)),
        })
        .await;
    tracing::info!(plain = ?running.plain_addr(), tls = ?running.tls_addr(), "traffic manager");
    bus.attach(running.request_intake());
    Ok(Some(running))
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
