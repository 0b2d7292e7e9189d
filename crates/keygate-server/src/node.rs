//! Starting and stopping a node: bootstrap, TLS, bind every planned listener (all or
//! nothing), serve, and shut down gracefully on request.

use crate::bootstrap::{self, AdminBootstrap};
use crate::gateway::{GatewayRole, Peers};
use crate::listener::{self, ListenerKind, ListenerPlan, Service};
use crate::{ServerError, cache_sync, control, handshake, health, metrics, tls, traffic};
use axum::Router;
use keygate_bus::{EventBus, Producer};
use keygate_config::{Config, Role};
use keygate_control::ControlPlane;
use keygate_km::{KeyManager, KmSettings, SystemClock, SystemEntropy};
use keygate_store::{MigrateMode, Stores};
use keygate_traffic::RunningTrafficManager;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How a node is started, beyond its configuration.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The configuration, roles and data directory already applied.
    pub config: Config,
    /// The address every listener binds (all interfaces by default, as WSO2 does).
    pub bind_ip: IpAddr,
    /// Bind every listener to an ephemeral port instead of its configured one (tests).
    pub ephemeral_ports: bool,
}

impl ServerOptions {
    /// Options for a configuration, on all interfaces and the configured ports.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ephemeral_ports: false,
        }
    }
}

/// A listener that is serving.
#[derive(Debug, Clone, Copy)]
pub struct BoundListener {
    pub kind: ListenerKind,
    pub addr: SocketAddr,
}

/// A node that is serving, until [`RunningNode::shutdown`].
pub struct RunningNode {
    /// Every listener and the address it actually bound.
    pub listeners: Vec<BoundListener>,
    /// What start-up did about the super admin.
    pub admin: Option<AdminBootstrap>,
    /// How long start-up took, from [`start`] to every listener accepting.
    pub startup: Duration,
    /// Where the TLS identity came from.
    pub tls_source: String,
    /// The roles this node runs.
    pub roles: Vec<Role>,
    stores: Arc<Stores>,
    bus: Arc<dyn EventBus>,
    producer: Option<Arc<Producer>>,
    traffic_manager: Option<RunningTrafficManager>,
    key_manager: Option<KeyManager>,
    control_plane: Option<ControlPlane>,
    gateway: Option<GatewayRole>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Tasks that run until shutdown (metrics upkeep, the control plane's outbox relay).
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Why the node stopped on its own, if it did.
    failure: handshake::NodeFailure,
}

impl RunningNode {
    /// The bound address of a listener kind, if this node has one.
    pub fn addr(&self, kind: ListenerKind) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.addr)
    }

    /// The node's databases.
    pub fn stores(&self) -> Arc<Stores> {
        self.stores.clone()
    }

    /// The node's event bus.
    pub fn bus(&self) -> Arc<dyn EventBus> {
        self.bus.clone()
    }

    /// The traffic manager's ingestion addresses (plain, TLS), when this node runs that
    /// role.
    pub fn traffic_manager_addrs(&self) -> Option<(Option<SocketAddr>, Option<SocketAddr>)> {
        self.traffic_manager
            .as_ref()
            .map(|tm| (tm.plain_addr(), tm.tls_addr()))
    }

    /// What the traffic manager has done so far, when this node runs that role.
    pub fn traffic_manager_stats(&self) -> Option<keygate_traffic::TrafficStats> {
        self.traffic_manager
            .as_ref()
            .map(RunningTrafficManager::stats)
    }

    /// The key manager, when this node runs that role.
    pub fn key_manager(&self) -> Option<&KeyManager> {
        self.key_manager.as_ref()
    }

    /// The control plane, when this node runs that role.
    pub fn control_plane(&self) -> Option<&ControlPlane> {
        self.control_plane.as_ref()
    }

    /// The gateway, when this node runs that role.
    pub fn gateway(&self) -> Option<&keygate_gateway::Gateway> {
        self.gateway.as_ref().map(GatewayRole::gateway)
    }

    /// Why the node stopped on its own (a key manager found incompatible after start), to
    /// be read once [`RunningNode::wait`] returns.
    pub fn failure(&self) -> handshake::NodeFailure {
        self.failure.clone()
    }

    /// A handle that starts shutdown when sent `true`.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }

    /// Serves until a shutdown is requested through [`RunningNode::shutdown_handle`], then
    /// drains and closes storage.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
        for task in self.background.drain(..) {
            task.abort();
        }
        if let Some(producer) = self.producer.take() {
            producer.shutdown().await;
        }
        if let Some(traffic_manager) = self.traffic_manager.take() {
            traffic_manager.shutdown().await;
        }
        self.stores.close().await;
        crate::telemetry::flush();
    }

    /// Stops accepting, drains open connections, closes storage.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.wait().await;
    }
}

/// Starts a node. Nothing is left running when it returns an error.
pub async fn start(options: ServerOptions) -> Result<RunningNode, ServerError> {
    let started = Instant::now();
    // The recorder before any listener: the gateway keeps the handles it first gets.
    let _ = metrics::handle();
    // Who this node is and whether its key manager is one it works with, before anything
    // is written: a node refused by the handshake leaves the databases as they were.
    let identity = tls::server_identity(&options.config)?;
    let own_chain = identity.chain.clone();
    let pending_handshake = handshake::check_key_manager(&options.config, &own_chain).await?;
    let mut config = options.config.clone();
    let stores = Arc::new(bootstrap::open_stores(&config, MigrateMode::Apply).await?);
    let admin = bootstrap::ensure_admin(&config, &stores).await?;
    bootstrap::adopt_generated_password(&mut config, admin.as_ref());
    bootstrap::ensure_internal_account(&mut config, &stores, admin.as_ref()).await?;
    let config = &config;
    let tls_source = identity.source.clone();
    // RFC 8705: the key manager's listener asks clients for certificates when mutual-TLS
    // client authentication is on; the gateway's HTTPS listener always asks (not requires).
    let mutual_tls = config.mutual_tls_enabled && config.runs(Role::KeyManager);
    let management_tls = tls::server_config_with_client_auth(
        tls::ServerIdentity {
            chain: identity.chain.clone(),
            key: identity.key.clone_key(),
            source: identity.source.clone(),
        },
        mutual_tls,
    )?;
    // Calls to other nodes (key manager, traffic managers, brokers) trust the truststore
    // and the node's own certificate.
    let trusted = handshake::trusted_roots(config, &own_chain)?;
    let tls_config = tls::gateway_server_config(identity)?;

    let mut plans = ListenerPlan::for_config(config, options.bind_ip);
    if options.ephemeral_ports {
        for plan in &mut plans {
            plan.addr.set_port(0);
        }
    }
    let mut bound = Vec::with_capacity(plans.len());
    for plan in &plans {
        // Bind all before serving any: a port in use means no partial start.
        let tcp = listener::bind(plan).await?;
        let addr = tcp.local_addr().map_err(|source| ServerError::Bind {
            listener: plan.kind.name(),
            addr: plan.addr,
            hint: String::new(),
            source,
        })?;
        bound.push((plan.kind, tcp, addr));
    }

    // The broker every role subscribes on; what the roles publish goes through the
    // traffic managers when url groups are configured.
    let broker = traffic::open_bus(config, &trusted).await?;
    let traffic_manager = traffic::start_traffic_manager(
        config,
        stores.clone(),
        broker.clone(),
        options.bind_ip,
        options.ephemeral_ports,
        tls_config.clone(),
    )
    .await?;
    let (bus, producer) = traffic::publishing_bus(config, broker.clone(), &trusted);
    let key_manager = if config.runs(Role::KeyManager) {
        let mut settings = KmSettings::from_config(config)?;
        if options.ephemeral_ports
            && let Some((_, _, addr)) = bound
                .iter()
                .find(|(k, _, _)| *k == ListenerKind::Management)
        {
            // Advertise the port actually bound, so clients of a test node find it.
            settings = settings.with_public_base_url(&keygate_km::settings::base_url(
                &config.server.hostname,
                addr.port(),
            ));
        }
        Some(
            KeyManager::start_with(
                settings,
                stores.clone(),
                bus.clone(),
                Arc::new(SystemClock),
                Arc::new(SystemEntropy::new()),
            )
            .await?,
        )
    } else {
        None
    };

    let mut background = Vec::new();
    if let Some(km) = &key_manager {
        background.extend(cache_sync::start(config, km, bus.clone(), broker.clone()).await);
    }
    let control_plane = if config.runs(Role::ControlPlane) {
        let settings = control::settings(config, key_manager.as_ref(), &trusted);
        let (control, relay) = control::start(settings, stores.clone(), bus.clone()).await?;
        background.push(relay);
        Some(control)
    } else {
        None
    };

    let (shutdown, shutdown_rx) = watch::channel(false);
    let gateway = if config.runs(Role::Gateway) {
        let peers = Peers {
            key_manager: key_manager.as_ref(),
            control_plane: control_plane.as_ref(),
            bus: bus.clone(),
            own_chain,
        };
        Some(GatewayRole::start(config, peers, shutdown_rx.clone()).await?)
    } else {
        None
    };
    let mut tasks = JoinSet::new();
    let mut listeners = Vec::with_capacity(bound.len());
    for (kind, tcp, addr) in bound {
        let service = service_for(
            kind,
            stores.clone(),
            key_manager.as_ref(),
            control_plane.as_ref(),
            gateway.as_ref(),
        );
        let tls = match kind {
            ListenerKind::Management => Some(management_tls.clone()),
            _ => kind.tls().then(|| tls_config.clone()),
        };
        tasks.spawn(listener::serve(
            kind,
            tcp,
            tls,
            service,
            shutdown_rx.clone(),
        ));
        listeners.push(BoundListener { kind, addr });
    }
    background.extend(metrics::spawn_upkeep(metrics::UPKEEP_INTERVAL));
    let failure = handshake::NodeFailure::default();
    if let Some(pending) = pending_handshake {
        background.push(pending.spawn(failure.clone(), shutdown.clone()));
    }
    Ok(RunningNode {
        listeners,
        admin,
        startup: started.elapsed(),
        tls_source,
        roles: config.server.roles.iter().copied().collect(),
        stores,
        bus: broker,
        producer,
        traffic_manager,
        key_manager,
        control_plane,
        gateway,
        shutdown,
        tasks,
        background,
        failure,
    })
}

/// What a listener serves. On a gateway listener API calls skip the listener's request
/// metrics (`keygate_http_requests_total`): the gateway counts them once, in
/// `keygate_gateway_requests_total`.
fn service_for(
    kind: ListenerKind,
    stores: Arc<Stores>,
    key_manager: Option<&KeyManager>,
    control_plane: Option<&ControlPlane>,
    gateway: Option<&GatewayRole>,
) -> Service {
    let name = kind.name();
    let track = axum::middleware::from_fn(move |request, next| metrics::track(name, request, next));
    let shared = health::routes(stores.clone()).merge(metrics::routes());
    if let (Some(gateway), ListenerKind::GatewayHttps | ListenerKind::GatewayHttp) = (gateway, kind)
    {
        // Every path but health, metrics, /token and /revoke is an API call.
        return Service::Gateway(Arc::new(gateway.listener(kind.tls(), shared, track)));
    }
    let mut router = Router::new();
    if kind == ListenerKind::Management {
        if let Some(key_manager) = key_manager {
            router = router.merge(key_manager.router());
        }
        if let Some(control_plane) = control_plane {
            router = router.merge(control_plane.router());
        }
    }
    Service::Router(router.merge(shared).fallback(not_found).layer(track))
}

async fn not_found(
    uri: axum::http::Uri,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "code": 404,
            "message": "Not Found",
            "description": format!("no resource at {}", uri.path()),
        })),
    )
}

/// Opens both databases and applies every pending migration, for `keygate migrate`.
pub async fn migrate(config: &Config) -> Result<(), ServerError> {
    let stores = bootstrap::open_stores(config, MigrateMode::Apply).await?;
    stores.close().await;
    Ok(())
}
