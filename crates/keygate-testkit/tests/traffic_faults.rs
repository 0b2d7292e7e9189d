//! Faults of the event transport at node level, with the real RabbitMQ:
//!
//! - one of two traffic managers (two `[[apim.throttling.url_group]]`s) stopped under load:
//!   the global limit still holds within N ± 2 % and the other one carries on granting;
//! - the broker away for more than 10 s while tokens are revoked and a throttle's window
//!   ends: no throttle is obeyed past its expiry, and after the reconnection every revoked
//!   token is refused at both gateways.
//!
//! The broker is shared by everything running on this machine and cannot be stopped by a
//! test, so the nodes reach it through a TCP proxy the test cuts (every connection closed,
//! new ones refused) and restores: to the nodes that is the broker going away and coming
//! back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod gateway_support;

use gateway_support::{Fixture, call_on};
use keygate_testkit::{ServiceAddr, TestNode};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const RABBITMQ: &str = "127.0.0.1:5672";
const LIMIT: usize = 50;

/// A TCP proxy to the broker that the test cuts and restores.
struct CutProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl CutProxy {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let open = open.clone();
            let links = links.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Self {
            addr,
            open,
            links,
            acceptor,
        }
    }

    fn broker_url(&self) -> String {
        format!("amqp://guest:guest@{}", self.addr)
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Waits until the current minute is at least `from_ms` and less than `to_ms` in.
async fn into_minute(from_ms: u64, to_ms: u64) {
    let into = now_ms() % 60_000;
    let wait = if into < from_ms {
        from_ms - into
    } else if into >= to_ms {
        60_000 - into + from_ms
    } else {
        0
    };
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// A subject prefix no other test (here or in another process on this broker) uses: the
/// traffic managers' election and every event stay among the nodes of one test.
fn own_prefix(test: &str) -> String {
    format!("kgtest-{test}-{}-{}", std::process::id(), now_ms())
}

/// A traffic-manager node on `broker`, under `prefix`.
async fn traffic_manager(broker: &str, prefix: &str) -> Fixture {
    let (mut config, dir) = Fixture::config("[server]\nroles = [\"traffic-manager\"]\n");
    config.throttling.decision_endpoints = Fixture::brokers(broker);
    config.throttling.subject_prefix = prefix.to_owned();
    Fixture::start_with(config, dir).await
}

/// Two gateway nodes (with key manager and control plane, on one database) on `broker`,
/// sending their events to every traffic manager of `tms`, one url group each.
async fn gateways(broker: &str, prefix: &str, tms: &[&Fixture]) -> (Fixture, Fixture) {
    let mut producers =
        String::from("[server]\nroles = [\"key-manager\", \"control-plane\", \"gateway\"]\n");
    for tm in tms {
        let (plain, _) = tm.node.node.traffic_manager_addrs().unwrap();
        producers.push_str(&format!(
            "[[apim.throttling.url_group]]\ntraffic_manager_urls = [\"tcp://127.0.0.1:{}\"]\n",
            plain.unwrap().port()
        ));
    }
    let (mut config_a, dir_a) = Fixture::config(&producers);
    config_a.throttling.decision_endpoints = Fixture::brokers(broker);
    config_a.throttling.subject_prefix = prefix.to_owned();
    let (mut config_b, dir_b) = Fixture::config(&producers);
    config_b.throttling.decision_endpoints = Fixture::brokers(broker);
    config_b.throttling.subject_prefix = prefix.to_owned();
    config_b.apim_db = config_a.apim_db.clone();
    config_b.shared_db = config_a.shared_db.clone();
    let a = Fixture::start_with(config_a, dir_a).await;
    let b = Fixture::start_with(config_b, dir_b).await;
    (a, b)
}

/// The status of one call of `path` with `token`.
async fn status(node: &Fixture, path: &str, token: &str) -> u16 {
    node.call(path, Some(token)).await.0.as_u16()
}

#[tokio::test]
async fn one_of_two_traffic_managers_stopped_under_load_the_other_carries_on() {
    if !ServiceAddr::RABBITMQ.available_or_skip("traffic_faults::traffic_manager_stopped") {
        return;
    }
    let broker = format!("amqp://guest:guest@{RABBITMQ}");
    let prefix = own_prefix("tm-stopped");
    let tm1 = traffic_manager(&broker, &prefix).await;
    let tm2 = traffic_manager(&broker, &prefix).await;
    let (a, b) = gateways(&broker, &prefix, &[&tm1, &tm2]).await;
    let (_, keys) = a
        .subscribed_as(
            "/tmfault",
            serde_json::json!([{"target": "/*", "verb": "GET"}]),
            "OAUTH",
            "50PerMin",
            serde_json::json!({}),
        )
        .await;
    // The load (about 4 s) must not straddle a window's end.
    into_minute(0, 50_000).await;
    let token = b.token(&keys).await;
    let path = "/tmfault/1.0.0/x";
    let mut admitted = 0;
    for node in [&a, &b] {
        node.call_until(path, Some(&token), 200).await;
        admitted += 1;
    }
    let (mut tm1, mut tm2) = (Some(tm1), Some(tm2));
    let mut survivor_leases_at_stop = None;
    for i in 0..(3 * LIMIT) {
        if i == 20 {
            // Stop the one granting leases; the other must take over.
            let leading_first = tm1.as_ref().unwrap().node.node.traffic_manager_stats();
            let stopped = if leading_first.is_some_and(|s| s.leading) {
                tm1.take()
            } else {
                tm2.take()
            };
            let stopped = stopped.unwrap();
            assert!(
                stopped
                    .node
                    .node
                    .traffic_manager_stats()
                    .is_some_and(|s| s.leading),
                "one of the traffic managers leads"
            );
            stopped.node.stop().await;
            let survivor = tm1.as_ref().or(tm2.as_ref()).unwrap();
            survivor_leases_at_stop = survivor.node.node.traffic_manager_stats().map(|s| s.leases);
        }
        let node = if i % 5 == 4 { &b } else { &a };
        match status(node, path, &token).await {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let survivor = tm1.or(tm2).unwrap();
    let stats = survivor.node.node.traffic_manager_stats().unwrap();
    eprintln!(
        "admitted {admitted} of {} with a limit of {LIMIT}; survivor {stats:?}",
        3 * LIMIT
    );
    assert!(
        admitted * 100 >= LIMIT * 98 && admitted * 100 <= LIMIT * 102,
        "admitted {admitted}, limit {LIMIT}: more than 2 % off"
    );
    // The election spans the subject prefix, this test's own: the survivor leads now.
    assert!(
        stats.leading,
        "the surviving traffic manager leads: {stats:?}"
    );
    assert!(
        stats.leases > survivor_leases_at_stop.unwrap(),
        "the other traffic manager granted leases after the stop"
    );
    a.node.stop().await;
    b.node.stop().await;
    survivor.node.stop().await;
}

/// A GET through a gateway-only node.
async fn status_on(gateway: &TestNode, path: &str, token: &str) -> u16 {
    call_on(gateway, path, token).await.0
}

/// Calls through a gateway-only node until the answer is `expected`; fails after ten
/// seconds.
async fn until_on(gateway: &TestNode, path: &str, token: &str, expected: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = status_on(gateway, path, token).await;
        if got == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: still {got}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn broker_away_for_ten_seconds_then_revocations_hold_and_no_throttle_outlives_its_window() {
    if !ServiceAddr::RABBITMQ.available_or_skip("traffic_faults::broker_away") {
        return;
    }
    let proxy = CutProxy::start(RABBITMQ).await;
    let broker = proxy.broker_url();
    let prefix = own_prefix("broker-away");
    let tm = traffic_manager(&broker, &prefix).await;
    let (plain, _) = tm.node.node.traffic_manager_addrs().unwrap();
    let group = format!(
        "[[apim.throttling.url_group]]\ntraffic_manager_urls = [\"tcp://127.0.0.1:{}\"]\n",
        plain.unwrap().port()
    );
    // A: key manager, control plane and gateway; B: a gateway alone, reaching A over HTTPS.
    let (mut config_a, dir_a) = Fixture::config(&format!(
        "[server]\nroles = [\"key-manager\", \"control-plane\", \"gateway\"]\n{group}"
    ));
    config_a.throttling.decision_endpoints = Fixture::brokers(&broker);
    config_a.throttling.subject_prefix = prefix.clone();
    let a = Fixture::start_with(config_a, dir_a).await;
    let b_dir = tempfile::tempdir().unwrap();
    let b = a
        .gateway_node(
            b_dir.path(),
            &format!(
                "[apim.throttling]\nenable_data_publishing = true\n\
                 subject_prefix = \"{prefix}\"\n\
                 throttle_decision_endpoints = [\"{broker}\"]\n{group}"
            ),
        )
        .await;
    assert_ne!(a.node.node.bus().transport(), "in-process");

    // JWTs of an unlimited application, accepted at both gateways before the outage.
    let (_, keys, first) = a.ready("/outage", "JWT").await;
    let path = "/outage/1.0.0/x";
    let mut tokens = vec![first];
    for _ in 0..5 {
        tokens.push(a.token(&keys).await);
    }
    for token in &tokens {
        a.call_until(path, Some(token), 200).await;
        until_on(&b, path, token, 200).await;
    }
    // Opaque tokens too, which gateway B knows only from the key manager's answer it
    // caches (and by their SHA-256 in revocations).
    let (_, opaque_keys, opaque) = a.ready("/outage-opaque", "OAUTH").await;
    let opaque_path = "/outage-opaque/1.0.0/x";
    let kept_opaque = a.token(&opaque_keys).await;
    for token in [&opaque, &kept_opaque] {
        a.call_until(opaque_path, Some(token), 200).await;
        until_on(&b, opaque_path, token, 200).await;
    }
    // An application limited to 10 a minute.
    let (_, limited) = a
        .subscribed_as(
            "/outage-limited",
            serde_json::json!([{"target": "/*", "verb": "GET"}]),
            "JWT",
            "10PerMin",
            serde_json::json!({}),
        )
        .await;
    let limited_token = a.token(&limited).await;
    let limited_path = "/outage-limited/1.0.0/x";

    // Throttle it late in a minute, so that its window ends while the broker is away.
    into_minute(40_000, 47_000).await;
    until_on(&b, limited_path, &limited_token, 200).await;
    a.call_until(limited_path, Some(&limited_token), 429).await;
    until_on(&b, limited_path, &limited_token, 429).await;
    let window_end = now_ms() / 60_000 * 60_000 + 60_000;

    proxy.cut();
    let cut = std::time::Instant::now();
    // Revocations while the broker is away: they reach the traffic manager, which cannot
    // publish them yet.
    let revoked: Vec<String> = tokens.drain(..3).collect();
    for token in &revoked {
        a.revoke(&keys, token).await;
    }
    a.revoke(&opaque_keys, &opaque).await;
    // The throttle's window ends with the broker still away: both gateways admit again,
    // no release having reached them.
    let wait = window_end.saturating_sub(now_ms()) + 200;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert_eq!(status(&a, limited_path, &limited_token).await, 200);
    assert_eq!(status_on(&b, limited_path, &limited_token).await, 200);
    let away = cut.elapsed().max(Duration::from_secs(10));
    tokio::time::sleep(away.saturating_sub(cut.elapsed())).await;
    eprintln!("broker away for {:?}", cut.elapsed());
    proxy.restore();

    // After the reconnection every revoked token is refused at both gateways, the others
    // still accepted.
    let restored = std::time::Instant::now();
    for token in &revoked {
        a.call_until(path, Some(token), 401).await;
        until_on(&b, path, token, 401).await;
    }
    a.call_until(opaque_path, Some(&opaque), 401).await;
    until_on(&b, opaque_path, &opaque, 401).await;
    assert_eq!(status_on(&b, opaque_path, &kept_opaque).await, 200);
    eprintln!(
        "every revoked token refused at both gateways {:?} after the restore",
        restored.elapsed()
    );
    for token in &tokens {
        assert_eq!(status(&a, path, token).await, 200);
        assert_eq!(status_on(&b, path, token).await, 200);
    }
    a.node.stop().await;
    b.stop().await;
    tm.node.stop().await;
}
