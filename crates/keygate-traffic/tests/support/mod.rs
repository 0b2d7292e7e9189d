//! Helpers shared by the traffic manager's integration tests: traffic managers on
//! ephemeral ports over an in-process bus, producers, events and a raw protocol client.

#![allow(dead_code, reason = "each test file uses a part")]

pub mod tls;

use keygate_bus::ingest::wire::{self, Frame, PROTOCOL_VERSION};
use keygate_bus::ingest::{Balance, Receiver, ReceiverGroup};
use keygate_bus::{
    BusMessage, Envelope, EventBus, InProcessBus, Producer, ProducerSettings, Subject,
    SubjectPrefix, Subscription,
};
use keygate_model::Secret;
use keygate_traffic::{
    IngestListeners, ManualClock, PolicySource, RunningTrafficManager, StaticPolicies,
    TrafficManager, TrafficSettings,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "tm-secret";
pub const T0: i64 = 1_704_067_200_000;
pub const MINUTE: i64 = 60_000;
pub const WAIT: Duration = Duration::from_secs(10);

pub fn settings(node: &str) -> TrafficSettings {
    TrafficSettings::new(node, USER, Some(Secret::new(PASSWORD)))
}

pub async fn start_on(
    node: &str,
    bus: &InProcessBus,
    clock: &ManualClock,
    listener: TcpListener,
    policies: Option<Arc<dyn PolicySource>>,
) -> RunningTrafficManager {
    let bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    TrafficManager::new(settings(node), bus)
        .with_clock(Arc::new(clock.clone()))
        .with_policies(policies.unwrap_or_else(|| Arc::new(StaticPolicies::default())))
        .start(IngestListeners {
            plain: Some(listener),
            tls: None,
        })
        .await
}

pub async fn start(node: &str, bus: &InProcessBus, clock: &ManualClock) -> RunningTrafficManager {
    start_on(node, bus, clock, ephemeral().await, None).await
}

pub async fn ephemeral() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub fn receiver(addr: SocketAddr) -> Receiver {
    Receiver {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: false,
    }
}

pub fn group(balance: Balance, addrs: &[SocketAddr]) -> ReceiverGroup {
    ReceiverGroup {
        balance,
        receivers: addrs.iter().copied().map(receiver).collect(),
    }
}

pub fn producer_settings(node: &str, groups: Vec<ReceiverGroup>) -> ProducerSettings {
    let mut settings = ProducerSettings::new(node, groups, USER, Secret::new(PASSWORD));
    settings.backoff_min = Duration::from_millis(10);
    settings.backoff_max = Duration::from_millis(100);
    settings.linger = Duration::from_millis(1);
    settings
}

pub fn producer(node: &str, groups: Vec<ReceiverGroup>) -> Producer {
    Producer::start(producer_settings(node, groups))
}

pub fn revocation(id: &str) -> Envelope {
    Envelope {
        id: id.into(),
        event_type: "TOKEN_REVOKED".into(),
        revision: 1,
        time: T0,
        origin_node: "km-1".into(),
        payload: serde_json::json!({"jti": id, "expiry": T0 + 3_600_000}),
    }
}

/// A request event counting `key` against `max` per minute at `time_ms`.
pub fn request(id: &str, time_ms: i64, key: &str, max: u64) -> Envelope {
    Envelope {
        id: id.into(),
        event_type: "REQUEST".into(),
        revision: 1,
        time: time_ms,
        origin_node: "gw-1".into(),
        payload: serde_json::json!({
            "time_ms": time_ms,
            "message_size": 10,
            "keys": [{"key": key, "limit": {"max": max, "window_ms": MINUTE, "measure": "requests"}}],
        }),
    }
}

pub async fn subscribe(bus: &InProcessBus, subject: Subject) -> Subscription {
    let mut sub = bus.subscribe(&subject).await.unwrap();
    assert!(matches!(sub.next().await, Some(BusMessage::Resync { .. })));
    sub
}

pub fn revocations() -> Subject {
    Subject::token_revocation(&SubjectPrefix::default())
}

pub fn throttle_data() -> Subject {
    Subject::throttle_data(&SubjectPrefix::default())
}

/// The next event on `sub`, failing after [`WAIT`].
pub async fn next_event(sub: &mut Subscription) -> Envelope {
    loop {
        match tokio::time::timeout(WAIT, sub.next()).await {
            Ok(Some(BusMessage::Event(event))) => return event,
            Ok(Some(BusMessage::Resync { .. })) => continue,
            Ok(None) => panic!("bus closed"),
            Err(_) => panic!("no event within {WAIT:?}"),
        }
    }
}

/// Every event already delivered to `sub`, without waiting for more.
pub async fn drain(sub: &mut Subscription) -> Vec<Envelope> {
    let mut events = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
        if let BusMessage::Event(event) = message {
            events.push(event);
        }
    }
    events
}

/// Waits until `done` holds, polling every millisecond, failing after [`WAIT`].
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A producer speaking the protocol by hand.
pub struct RawClient {
    pub stream: TcpStream,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    pub async fn hello(&mut self, password: &str) -> Option<Frame> {
        let hello = Frame::Hello {
            protocol: PROTOCOL_VERSION,
            node: "raw".into(),
            username: USER.into(),
            password: Secret::new(password),
        };
        wire::write_frame(&mut self.stream, &hello).await.unwrap();
        self.read().await
    }

    pub async fn send(&mut self, frame: &Frame) {
        wire::write_frame(&mut self.stream, frame).await.unwrap();
    }

    /// The next frame; `None` once the traffic manager closed the connection.
    pub async fn read(&mut self) -> Option<Frame> {
        tokio::time::timeout(WAIT, wire::read_frame(&mut self.stream))
            .await
            .expect("no answer from the traffic manager")
            .ok()
            .flatten()
    }
}
