#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Global limit accuracy: two gateways sharing one policy of N requests per minute, load
//! spread 80/20 and well above the limit, admit N within 2 % — also when one of two traffic
//! managers dies halfway — and a policy change announced on the bus re-decides a key. The
//! clock is manual: every request falls in one window, which then ends by moving the clock.
//!
//! Each gateway obeys the decisions it has received; after every step of ten requests
//! (eight at one gateway, two at the other) the test waits until the traffic managers have
//! counted them and the gateways have applied what was decided, so at most one step of
//! requests is in flight, as a gateway's batch would be.

mod support;

use async_trait::async_trait;
use keygate_bus::ingest::Balance;
use keygate_bus::{EventBus, InProcessBus, Producer, Subject, SubjectPrefix, Subscription};
use keygate_throttle::window::Limit;
use keygate_throttle::{DecisionTable, ThrottleDecision};
use keygate_traffic::{
    Clock, ManualClock, PolicySource, PolicySourceError, RunningTrafficManager, TrafficPolicies,
};
use std::sync::{Arc, Mutex};
use support::*;

const N: u64 = 1_000;
const KEY: &str = "12:/pizzashack/1.0.0:1.0.0";

struct Gateway {
    producer: Producer,
    decisions: Subscription,
    table: DecisionTable,
    admitted: u64,
    sent: u64,
}

impl Gateway {
    async fn apply_decisions(&mut self, now: i64) -> Vec<ThrottleDecision> {
        let mut applied = Vec::new();
        for event in drain(&mut self.decisions).await {
            let decision: ThrottleDecision = serde_json::from_value(event.payload).unwrap();
            self.table.apply(&decision, now);
            applied.push(decision);
        }
        applied
    }

    fn offer(&mut self, id: &str, now: i64) {
        if self.table.throttled_until(KEY, now).is_some() {
            return;
        }
        self.admitted += 1;
        self.sent += 1;
        self.producer.send_request(request(id, now, KEY, N));
    }
}

async fn gateway(name: &str, bus: &InProcessBus, tms: &[&RunningTrafficManager]) -> Gateway {
    let groups = tms
        .iter()
        .map(|tm| group(Balance::Failover, &[tm.plain_addr().unwrap()]))
        .collect();
    Gateway {
        producer: producer(name, groups),
        decisions: subscribe(bus, throttle_data()).await,
        table: DecisionTable::new(),
        admitted: 0,
        sent: 0,
    }
}

/// Offers 3 N requests 80/20 over two gateways; kills `doomed` after a third of them.
async fn offer_load(
    clock: &ManualClock,
    gateways: &mut [Gateway; 2],
    survivor: &RunningTrafficManager,
    mut doomed: Option<RunningTrafficManager>,
) -> u64 {
    let offered = 3 * N;
    for step in 0..offered / 10 {
        let now = clock.now_ms() + i64::try_from(step).unwrap();
        for i in 0..10 {
            let id = format!("q-{step}-{i}");
            gateways[usize::from(i >= 8)].offer(&id, now);
        }
        let sent = gateways[0].sent + gateways[1].sent;
        until("the step to be counted", || {
            survivor.stats().requests == sent
        })
        .await;
        if step == offered / 30
            && let Some(tm) = doomed.take()
        {
            tm.shutdown().await;
        }
        for gateway in gateways.iter_mut() {
            gateway.apply_decisions(now).await;
        }
    }
    gateways[0].admitted + gateways[1].admitted
}

fn assert_within_two_percent(admitted: u64) {
    let (low, high) = (N * 98 / 100, N * 102 / 100);
    println!(
        "admitted {admitted} of a global limit of {N} (80/20 over two gateways; a local limit per gateway would admit up to {})",
        2 * N
    );
    assert!(
        (low..=high).contains(&admitted),
        "admitted {admitted}, expected {low}..={high}"
    );
}

#[tokio::test]
async fn two_gateways_with_uneven_load_admit_the_global_limit_within_two_percent() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let tm = start("tm-1", &bus, &clock).await;
    let mut gateways = [
        gateway("gw-a", &bus, &[&tm]).await,
        gateway("gw-b", &bus, &[&tm]).await,
    ];
    let admitted = offer_load(&clock, &mut gateways, &tm, None).await;
    assert_within_two_percent(admitted);
    assert!(gateways[0].admitted > 3 * gateways[1].admitted);

    // The window ends: the traffic manager releases the key at both gateways.
    clock.set(T0 + MINUTE);
    tm.tick().await;
    for gateway in &mut gateways {
        let released = gateway.apply_decisions(T0 + MINUTE).await;
        assert_eq!(
            released,
            [ThrottleDecision {
                key: KEY.into(),
                throttled: false,
                expiry_ms: T0 + MINUTE
            }]
        );
        assert_eq!(gateway.table.throttled_until(KEY, T0 + MINUTE), None);
    }
    for gateway in &gateways {
        gateway.producer.shutdown().await;
    }
    tm.shutdown().await;
}

#[tokio::test]
async fn the_limit_holds_when_one_of_two_traffic_managers_dies_under_load() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let doomed = start("tm-1", &bus, &clock).await;
    let survivor = start("tm-2", &bus, &clock).await;
    let mut gateways = [
        gateway("gw-a", &bus, &[&doomed, &survivor]).await,
        gateway("gw-b", &bus, &[&doomed, &survivor]).await,
    ];
    let admitted = offer_load(&clock, &mut gateways, &survivor, Some(doomed)).await;
    assert_within_two_percent(admitted);
    for gateway in &gateways {
        gateway.producer.shutdown().await;
    }
    survivor.shutdown().await;
}

#[derive(Debug, Default)]
struct EditablePolicies(Mutex<TrafficPolicies>);

#[async_trait]
impl PolicySource for EditablePolicies {
    async fn load(&self) -> Result<TrafficPolicies, PolicySourceError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn a_policy_change_announced_on_the_bus_re_decides_its_keys() {
    let gold =
        |max| TrafficPolicies::new().with_limit("subscription:Gold", Limit::requests(max, 60_000));
    let policies = Arc::new(EditablePolicies(Mutex::new(gold(10))));
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let tm = start_on(
        "tm-1",
        &bus,
        &clock,
        ephemeral().await,
        Some(policies.clone()),
    )
    .await;
    let mut data = subscribe(&bus, throttle_data()).await;
    let producer = producer(
        "gw-1",
        vec![group(Balance::Failover, &[tm.plain_addr().unwrap()])],
    );
    for i in 0..4 {
        let mut event = request(&format!("q-{i}"), T0 + i, KEY, 1_000);
        event.payload["keys"][0]["policy"] = "subscription:Gold".into();
        producer.send_request(event);
    }
    until("four requests", || tm.stats().requests == 4).await;
    assert!(drain(&mut data).await.is_empty());

    *policies.0.lock().unwrap() = gold(3);
    let mut announcement = revocation("policy-1");
    announcement.event_type = "SUBSCRIPTION_POLICY_UPDATE".into();
    bus.publish(
        &Subject::notification(&SubjectPrefix::default()),
        &announcement,
    )
    .await
    .unwrap();
    let decision = next_event(&mut data).await;
    assert_eq!(
        decision.payload,
        serde_json::json!({"key": KEY, "throttled": true, "expiry": T0 + MINUTE})
    );
    assert_eq!(tm.throttled().len(), 1);
    producer.shutdown().await;
    tm.shutdown().await;
}
