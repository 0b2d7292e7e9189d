#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The intake of a gateway in the same process: typed request events counted once each,
//! their decisions published on the bus like those of ingested events.

mod support;

use keygate_bus::InProcessBus;
use keygate_throttle::window::{CountedKey, Limit};
use keygate_throttle::{RequestEvent, ThrottleDecision};
use keygate_traffic::ManualClock;
use std::sync::Arc;
use support::*;

const KEY: &str = "12:/pizzashack/1.0.0:1.0.0";

fn event(time_ms: i64, max: u64) -> RequestEvent {
    RequestEvent {
        time_ms,
        message_size: 0,
        keys: vec![CountedKey {
            key: Arc::from(KEY),
            limit: Limit::requests(max, MINUTE as u64),
        }],
    }
}

#[tokio::test]
async fn a_batch_is_counted_once_and_its_decision_published() {
    let bus = InProcessBus::default();
    let clock = ManualClock::at(T0);
    let tm = start("tm", &bus, &clock).await;
    let mut decisions = subscribe(&bus, throttle_data()).await;
    let intake = tm.request_intake();

    intake.count(&[event(T0, 3), event(T0 + 1, 3)]).await;
    assert_eq!(tm.used(KEY), Some(2));
    assert_eq!(tm.stats().requests, 2);
    assert!(drain(&mut decisions).await.is_empty(), "below the limit");

    intake.count(&[event(T0 + 2, 3)]).await;
    assert_eq!(tm.used(KEY), Some(3), "each event counted once");
    assert_eq!(tm.stats().requests, 3);
    let decision = next_event(&mut decisions).await;
    assert_eq!(decision.event_type, keygate_traffic::THROTTLE_DECISION);
    assert_eq!(
        serde_json::from_value::<ThrottleDecision>(decision.payload).unwrap(),
        ThrottleDecision {
            key: KEY.into(),
            throttled: true,
            expiry_ms: T0 + MINUTE,
        }
    );
    assert_eq!(tm.throttled().len(), 1);
    tm.shutdown().await;
}
