use super::*;
use crate::window::Limit;
use proptest::prelude::*;
use std::sync::Arc;

const T0: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;

fn event(time_ms: i64, size: u64, keys: &[(&str, Limit)]) -> RequestEvent {
    RequestEvent {
        time_ms,
        message_size: size,
        keys: keys
            .iter()
            .map(|(key, limit)| CountedKey {
                key: Arc::from(*key),
                limit: *limit,
            })
            .collect(),
    }
}

fn feed(counter: &GlobalCounter, events: &[RequestEvent]) -> Vec<ThrottleDecision> {
    let mut decisions = Vec::new();
    for event in events {
        counter.ingest(event, &mut decisions);
    }
    decisions
}

#[test]
fn a_key_reaching_its_limit_is_throttled_until_the_window_ends() {
    let limit = Limit::requests(3, 60_000);
    let counter = GlobalCounter::new();
    let decisions = feed(
        &counter,
        &[
            event(T0 + 1, 0, &[("sub", limit)]),
            event(T0 + 2, 0, &[("sub", limit)]),
        ],
    );
    assert!(decisions.is_empty());
    let decisions = feed(&counter, &[event(T0 + 30_000, 0, &[("sub", limit)])]);
    assert_eq!(
        decisions,
        [ThrottleDecision {
            key: "sub".into(),
            throttled: true,
            expiry_ms: T0 + MINUTE
        }]
    );
    // Late events from other gateways in the same window decide nothing more.
    assert!(feed(&counter, &[event(T0 + 40_000, 0, &[("sub", limit)])]).is_empty());
    assert_eq!(counter.used("sub"), Some(4));
}

#[test]
fn a_new_window_releases_the_key_and_counts_afresh() {
    let limit = Limit::requests(1, 60_000);
    let counter = GlobalCounter::new();
    let first = feed(&counter, &[event(T0, 0, &[("k", limit)])]);
    assert_eq!(first.len(), 1);
    let next = feed(&counter, &[event(T0 + MINUTE + 5, 0, &[("k", limit)])]);
    assert_eq!(
        next,
        [
            ThrottleDecision {
                key: "k".into(),
                throttled: false,
                expiry_ms: T0 + MINUTE
            },
            ThrottleDecision {
                key: "k".into(),
                throttled: true,
                expiry_ms: T0 + 2 * MINUTE
            },
        ]
    );
    // An event from a window already left behind is not counted.
    assert!(feed(&counter, &[event(T0 + 10, 0, &[("k", limit)])]).is_empty());
    assert_eq!(counter.used("k"), Some(1));
}

#[test]
fn every_key_of_an_event_is_counted_against_its_own_limit() {
    let counter = GlobalCounter::new();
    let app = Limit::requests(2, 60_000);
    let bytes = Limit::bytes(1_000, 3_600_000);
    let decisions = feed(
        &counter,
        &[
            event(T0, 600, &[("app", app), ("api", bytes)]),
            event(T0 + 1, 500, &[("app", app), ("api", bytes)]),
        ],
    );
    let keys: Vec<_> = decisions
        .iter()
        .map(|d| (d.key.as_str(), d.expiry_ms))
        .collect();
    assert_eq!(keys, [("app", T0 + MINUTE), ("api", T0 + 3_600_000)]);
    assert_eq!(counter.used("api"), Some(1_100));
    assert_eq!(counter.len(), 2);
}

#[test]
fn release_ended_forgets_windows_and_releases_throttled_keys() {
    let counter = GlobalCounter::new();
    let limit = Limit::requests(1, 60_000);
    feed(
        &counter,
        &[
            event(T0, 0, &[("b", limit), ("a", limit)]),
            event(T0, 0, &[("idle", Limit::requests(5, 60_000))]),
            event(T0, 0, &[("hour", Limit::requests(1, 3_600_000))]),
        ],
    );
    assert_eq!(counter.throttled(T0).len(), 3);
    let mut decisions = Vec::new();
    assert_eq!(counter.release_ended(T0 + MINUTE - 1, &mut decisions), 0);
    assert_eq!(counter.release_ended(T0 + MINUTE, &mut decisions), 3);
    let released: Vec<_> = decisions
        .iter()
        .map(|d| (d.key.as_str(), d.throttled, d.expiry_ms))
        .collect();
    assert_eq!(
        released,
        [("a", false, T0 + MINUTE), ("b", false, T0 + MINUTE)]
    );
    assert_eq!(counter.len(), 1);
    assert_eq!(
        counter.throttled(T0 + MINUTE),
        [ThrottleDecision {
            key: "hour".into(),
            throttled: true,
            expiry_ms: T0 + 3_600_000
        }]
    );
    assert!(!counter.is_empty());
}

#[test]
fn request_events_round_trip_as_json() {
    let original = event(
        T0,
        42,
        &[("5:admin@carbon.super", Limit::requests(10, 60_000))],
    );
    let json = serde_json::to_value(&original).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "time_ms": T0,
            "message_size": 42,
            "keys": [{"key": "5:admin@carbon.super",
                      "limit": {"max": 10, "window_ms": 60000, "measure": "requests"}}]
        })
    );
    assert_eq!(
        serde_json::from_value::<RequestEvent>(json).unwrap(),
        original
    );
}

fn arbitrary_events() -> impl Strategy<Value = Vec<RequestEvent>> {
    let keys = ["a", "b", "c", "d"];
    let steps = (
        0i64..20_000,
        0u64..500,
        proptest::collection::vec((0usize..4, 1u64..6), 1..4),
    );
    proptest::collection::vec(steps, 1..150).prop_map(move |steps| {
        let mut now = T0;
        steps
            .into_iter()
            .map(|(advance, size, picks)| {
                now += advance;
                let picked: Vec<_> = picks
                    .into_iter()
                    .map(|(key, max)| {
                        // Each key keeps one window length, as its policy gives.
                        let window_ms = [1_000, 10_000, 60_000][key % 3];
                        let limit = if key == 3 {
                            Limit::bytes(max * 300, window_ms)
                        } else {
                            Limit::requests(max, window_ms)
                        };
                        (keys[key], limit)
                    })
                    .collect();
                event(now, size, &picked)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn two_counters_fed_the_same_events_decide_the_same(events in arbitrary_events()) {
        let first = GlobalCounter::new();
        let second = GlobalCounter::new();
        let mut a = feed(&first, &events);
        let mut b = feed(&second, &events);
        let end = events.last().map_or(T0, |e| e.time_ms) + 120_000;
        first.release_ended(end, &mut a);
        second.release_ended(end, &mut b);
        prop_assert_eq!(&a, &b);
        // Every throttle is answered by exactly one release once all windows end.
        let throttles = a.iter().filter(|d| d.throttled).count();
        let releases = a.iter().filter(|d| !d.throttled).count();
        prop_assert_eq!(throttles, releases);
        prop_assert!(first.is_empty());
    }

    #[test]
    fn any_event_off_the_wire_is_counted_without_panicking(
        time_ms: i64,
        message_size: u64,
        max: u64,
        window_ms: u64,
        bytes: bool,
    ) {
        let measure = if bytes { crate::window::Measure::Bytes } else { crate::window::Measure::Requests };
        let limit = Limit { max, window_ms, measure };
        let counter = GlobalCounter::new();
        let events = [event(time_ms, message_size, &[("k", limit)]), event(time_ms.saturating_add(1), message_size, &[("k", limit)])];
        let mut decisions = feed(&counter, &events);
        counter.release_ended(i64::MAX, &mut decisions);
        prop_assert!(decisions.len() <= 4);
    }
}

#[test]
fn a_changed_limit_throttles_or_releases_a_counted_key() {
    let five = Limit::requests(5, MINUTE as u64);
    let counter = GlobalCounter::new();
    let events: Vec<_> = (1..=3).map(|i| event(T0 + i, 0, &[("k", five)])).collect();
    assert!(feed(&counter, &events).is_empty());

    let mut decisions = Vec::new();
    counter.relimit(
        "k",
        &Limit::requests(3, MINUTE as u64),
        T0 + 10,
        &mut decisions,
    );
    assert_eq!(
        decisions,
        [ThrottleDecision {
            key: "k".into(),
            throttled: true,
            expiry_ms: T0 + MINUTE
        }]
    );

    decisions.clear();
    counter.relimit("k", &five, T0 + 20, &mut decisions);
    assert_eq!(
        decisions,
        [ThrottleDecision {
            key: "k".into(),
            throttled: false,
            expiry_ms: T0 + MINUTE
        }]
    );
    assert_eq!(counter.used("k"), Some(3));

    decisions.clear();
    counter.relimit("k", &Limit::requests(1, 3_600_000), T0 + 30, &mut decisions);
    assert!(decisions.is_empty());
    assert_eq!(counter.used("k"), Some(0));
    counter.relimit("unknown", &five, T0, &mut decisions);
    assert!(decisions.is_empty());
}
