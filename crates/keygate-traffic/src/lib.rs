//! The `traffic-manager` role (DESIGN §1, §5): it receives every producer's events on the
//! ingestion ports (9611 plain, 9711 TLS, plus `[server] offset`; protocol in
//! [`keygate_bus::ingest`]), counts request events per throttle key in the policy's window
//! and publishes decisions `{key, throttled, expiry}` on `keygate.throttle.data` — a
//! throttle when a key reaches its limit, a release when its window rolls or a policy
//! change frees it — and republishes revocations, blocking conditions, key templates,
//! notifications and cache invalidations on their subjects.
//!
//! Two traffic managers fed the same events decide the same: decisions depend only on the
//! events and their times ([`engine`]). Time is injected ([`Clock`]), so tests end windows
//! by moving a clock.
//!
//! # Starting it from the server
//!
//! ```ignore
//! let settings = TrafficSettings::from_config(node_name, &config.apim.throttling, prefix);
//! let listeners = IngestListeners {
//!     plain: Some(TcpListener::bind((host, config.ports.tm_binary)).await?),
//!     tls: Some((TcpListener::bind((host, config.ports.tm_binary_tls)).await?, tls_server_config)),
//! };
//! let running = TrafficManager::new(settings, bus)
//!     .with_policies(store_backed_policy_source)   // optional; default: reported limits
//!     .start(listeners)
//!     .await;
//! // … on shutdown:
//! running.shutdown().await;
//! ```
//!
//! Producers (gateways, key managers, the control plane) start a
//! [`keygate_bus::Producer`] with the groups [`receiver_groups`] derives from the same
//! `[apim.throttling]`.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod clock;
pub mod dedup;
pub mod engine;
pub mod leases;
mod listener;
pub mod policy;
mod relay;
pub mod settings;

pub use accounts::ProducerAccounts;
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{DecisionEngine, ReportedKey, RequestReport};
pub use keygate_throttle::lease::{THROTTLE_CATCH_UP, THROTTLE_LEASE, TRAFFIC_MANAGER_HEARTBEAT};
pub use policy::{PolicySource, PolicySourceError, StaticPolicies, TrafficPolicies};
pub use relay::{TAKEOVER_MS, THROTTLE_DECISION, TrafficStats};
pub use settings::{TrafficSettings, receiver_groups};

use keygate_bus::{BusMessage, EventBus, Subject};
use keygate_throttle::{RequestEvent, ThrottleDecision};
use listener::{Credentials, Ingest};
use relay::Relay;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The ingestion listeners, bound by the caller (ports 9611/9711 plus offset, or port 0 in
/// tests).
#[derive(Default)]
pub struct IngestListeners {
    /// Plain TCP (`tcp://`).
    pub plain: Option<TcpListener>,
    /// TLS (`ssl://`), with the server configuration holding the node's certificate.
    pub tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
}

/// A traffic manager, before it starts.
pub struct TrafficManager {
    settings: TrafficSettings,
    bus: Arc<dyn EventBus>,
    policies: Arc<dyn PolicySource>,
    clock: Arc<dyn Clock>,
    accounts: Option<Arc<dyn ProducerAccounts>>,
}

impl TrafficManager {
    /// A traffic manager publishing on `bus`, with no policy source (the limits gateways
    /// report are used) and the system clock.
    pub fn new(settings: TrafficSettings, bus: Arc<dyn EventBus>) -> Self {
        Self {
            settings,
            bus,
            policies: Arc::new(StaticPolicies::default()),
            clock: Arc::new(SystemClock),
            accounts: None,
        }
    }

    /// Also accepts producers whose credentials `accounts` accepts (besides the
    /// configured `[apim.throttling]` user).
    pub fn with_accounts(mut self, accounts: Arc<dyn ProducerAccounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Takes limits from `policies` (with `deploy_policies`).
    pub fn with_policies(mut self, policies: Arc<dyn PolicySource>) -> Self {
        self.policies = policies;
        self
    }

    /// Takes time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Loads the policies (an unavailable source is logged and retried on the next policy
    /// notification), then serves the listeners, releases ended windows every
    /// [`TrafficSettings::tick`], and reloads policies on policy notifications.
    pub async fn start(mut self, listeners: IngestListeners) -> RunningTrafficManager {
        if self.settings.instance.is_empty() {
            self.settings.instance = draw_instance(&self.settings.node);
        }
        let initial = if self.settings.deploy_policies {
            match self.policies.load().await {
                Ok(policies) => policies,
                Err(error) => {
                    tracing::warn!(%error, "traffic manager starts with the limits gateways report");
                    TrafficPolicies::new()
                }
            }
        } else {
            TrafficPolicies::new()
        };
        if self.settings.password.is_none() && self.accounts.is_none() {
            tracing::warn!(
                "traffic manager has no password configured: every producer will be refused"
            );
        }
        let engine = DecisionEngine::new(initial, self.settings.deploy_policies);
        let credentials =
            Credentials::new(&self.settings.username, self.settings.password.as_ref());
        let permits = Arc::new(Semaphore::new(self.settings.max_connections.max(1)));
        let tick = self.settings.tick;
        let deploy_policies = self.settings.deploy_policies;
        let leases = self.settings.leases;
        let relay = Arc::new(Relay::new(
            self.settings,
            self.bus,
            engine,
            self.policies,
            self.clock,
        ));
        let ingest = Arc::new(Ingest {
            relay: Arc::clone(&relay),
            credentials,
            accounts: self.accounts,
            permits,
        });
        let (shutdown, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut plain_addr = None;
        let mut tls_addr = None;
        if let Some(listener) = listeners.plain {
            plain_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(listener::serve(
                Arc::clone(&ingest),
                listener,
                None,
                shutdown.subscribe(),
            )));
        }
        if let Some((listener, config)) = listeners.tls {
            tls_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(listener::serve(
                Arc::clone(&ingest),
                listener,
                Some(TlsAcceptor::from(config)),
                shutdown.subscribe(),
            )));
        }
        tasks.push(tokio::spawn(ticker(
            Arc::clone(&relay),
            tick,
            shutdown.subscribe(),
        )));
        if leases {
            tasks.push(tokio::spawn(peer_watch(
                Arc::clone(&relay),
                shutdown.subscribe(),
            )));
        }
        if deploy_policies {
            tasks.push(tokio::spawn(policy_watch(
                Arc::clone(&relay),
                shutdown.subscribe(),
            )));
        }
        RunningTrafficManager {
            relay,
            shutdown,
            tasks,
            plain_addr,
            tls_addr,
        }
    }
}

/// Resolves once `shutdown` says stop (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn ticker(
    relay: Arc<Relay>,
    every: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every.max(std::time::Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => relay.tick().await,
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// `node`, a dash and 64 random bits in hex: unique per start.
fn draw_instance(node: &str) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0_u8; 8];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes);
    format!("{node}-{:016x}", u64::from_be_bytes(bytes))
}

/// Follows the other traffic managers on `keygate.throttle.data`: their heartbeats (who
/// leads) and the leases the leader grants (mirrored, to take over from the same caps).
async fn peer_watch(relay: Arc<Relay>, mut shutdown: watch::Receiver<bool>) {
    let subject = Subject::throttle_data(&relay.settings.prefix);
    let mut subscription = match relay.bus.subscribe(&subject).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, "traffic manager cannot hear the other traffic managers");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            message = subscription.next() => message,
            () = stopped(&mut shutdown) => return,
        };
        match message {
            None => return,
            // Back on the broker: what was published meanwhile may be lost.
            Some(BusMessage::Resync { .. }) => relay.republish().await,
            Some(BusMessage::Event(event)) => relay.peer_event(&event),
        }
    }
}

/// Reloads policies when the control plane announces a policy change, and after every
/// (re)subscription, when changes may have been missed.
async fn policy_watch(relay: Arc<Relay>, mut shutdown: watch::Receiver<bool>) {
    let subject = Subject::notification(&relay.settings.prefix);
    let mut subscription = match relay.bus.subscribe(&subject).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, "traffic manager cannot follow policy changes");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            message = subscription.next() => message,
            () = stopped(&mut shutdown) => return,
        };
        let reload = match message {
            None => return,
            Some(BusMessage::Resync { .. }) => true,
            Some(BusMessage::Event(event)) => event.event_type.contains("POLICY"),
        };
        if reload && let Err(error) = relay.reload_policies().await {
            tracing::warn!(%error, "policy change not applied");
        }
    }
}

/// A traffic manager serving its listeners.
pub struct RunningTrafficManager {
    relay: Arc<Relay>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    plain_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
}

impl RunningTrafficManager {
    /// Address of the plain listener.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain_addr
    }

    /// Address of the TLS listener.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// What it has done so far.
    pub fn stats(&self) -> TrafficStats {
        TrafficStats {
            leading: self.relay.election.leading(),
            ..self.relay.counters.snapshot()
        }
    }

    /// Releases, now, the keys whose window has ended by the clock (the ticker does this
    /// every [`TrafficSettings::tick`]).
    pub async fn tick(&self) {
        self.relay.tick().await;
    }

    /// Reloads the policies now and re-decides the keys of those that changed.
    pub async fn reload_policies(&self) -> Result<(), PolicySourceError> {
        self.relay.reload_policies().await
    }

    /// The keys throttled now, sorted: what a gateway that has just connected needs.
    pub fn throttled(&self) -> Vec<ThrottleDecision> {
        self.relay.engine.throttled(self.relay.clock.now_ms())
    }

    /// What `key` has used in its current window.
    pub fn used(&self, key: &str) -> Option<u64> {
        self.relay.engine.used(key)
    }

    /// Where a gateway in the same process hands its request events.
    pub fn request_intake(&self) -> RequestIntake {
        RequestIntake {
            relay: Arc::clone(&self.relay),
        }
    }

    /// This start's instance name (who grants leases is elected among these).
    pub fn instance(&self) -> &str {
        &self.relay.settings.instance
    }

    /// Whether this traffic manager grants quota leases now.
    pub fn leading(&self) -> bool {
        self.relay.election.leading()
    }

    /// What the caps granted on `key` add up to in its current window.
    pub fn granted(&self, key: &str) -> u64 {
        self.relay.engine.leases().granted(key)
    }

    /// Stops accepting, closes every producer connection and waits for the tasks.
    pub async fn shutdown(self) {
        self.shutdown.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A traffic manager's intake for the request events of a gateway in the same process
/// (every role in one node, no broker, no url groups): batches are counted as the gateway
/// built them, without the JSON envelope of `keygate.throttle.request` or the ingestion
/// protocol, and the decisions they cause are published on the bus as usual. Cheap to
/// clone.
#[derive(Clone)]
pub struct RequestIntake {
    relay: Arc<Relay>,
}

impl RequestIntake {
    /// Counts a batch of request events, oldest first, once each.
    pub async fn count(&self, batch: &[RequestEvent]) {
        self.relay.count_events(batch).await;
    }
}

impl std::fmt::Debug for RequestIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestIntake")
            .field("node", &self.relay.settings.node)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RunningTrafficManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningTrafficManager")
            .field("node", &self.relay.settings.node)
            .field("plain", &self.plain_addr)
            .field("tls", &self.tls_addr)
            .finish_non_exhaustive()
    }
}
