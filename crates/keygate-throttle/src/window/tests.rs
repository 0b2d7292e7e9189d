use super::*;
use proptest::prelude::*;

const MINUTE: i64 = 60_000;
/// 2024-01-01T00:00:00Z, a minute boundary.
const T0: i64 = 1_704_067_200_000;

fn admitted(outcome: &Acquisition) -> bool {
    matches!(outcome, Acquisition::Admitted(_))
}

#[test]
fn quotas_become_limits_in_every_unit() {
    let per = |count, unit_time, unit| {
        Limit::from_quota("p", &QuotaLimit::requests(count, unit_time, unit)).unwrap()
    };
    assert_eq!(
        per(5000, 1, TimeUnit::Minute),
        Limit::requests(5000, 60_000)
    );
    assert_eq!(per(10, 2, TimeUnit::Hour), Limit::requests(10, 7_200_000));
    assert_eq!(per(1, 1, TimeUnit::Day), Limit::requests(1, 86_400_000));
    assert_eq!(per(3, 5, TimeUnit::Second), Limit::requests(3, 5_000));
    assert_eq!(per(3, 1, TimeUnit::Month).window_ms, 30 * 86_400_000);
    let bandwidth = |amount, data_unit| QuotaLimit {
        quota: Quota::Bandwidth {
            data_amount: amount,
            data_unit,
        },
        unit_time: 1,
        time_unit: TimeUnit::Minute,
    };
    let kb = Limit::from_quota("p", &bandwidth(10, DataUnit::Kb)).unwrap();
    assert_eq!(kb, Limit::bytes(10 * 1024, 60_000));
    let mb = Limit::from_quota("p", &bandwidth(2, DataUnit::Mb)).unwrap();
    assert_eq!(mb.max, 2 * 1024 * 1024);
    assert_eq!(mb.cost(700), 700);
    assert_eq!(kb.cost(0), 0);
    assert_eq!(Limit::requests(1, 1).cost(700), 1);
}

#[test]
fn impossible_quotas_are_refused_with_the_policy_name() {
    let zero_time = QuotaLimit::requests(5, 0, TimeUnit::Minute);
    let err = Limit::from_quota("Gold", &zero_time).unwrap_err();
    assert!(err.to_string().contains("Gold"), "{err}");
    assert!(Limit::from_quota("p", &QuotaLimit::requests(-1, 1, TimeUnit::Minute)).is_err());
    assert!(Limit::from_quota("p", &QuotaLimit::requests(1, -1, TimeUnit::Minute)).is_err());
    assert!(Limit::from_quota("p", &QuotaLimit::requests(1, i64::MAX, TimeUnit::Year)).is_err());
    let huge = QuotaLimit {
        quota: Quota::Bandwidth {
            data_amount: i64::MAX,
            data_unit: DataUnit::Gb,
        },
        unit_time: 1,
        time_unit: TimeUnit::Minute,
    };
    assert!(Limit::from_quota("p", &huge).is_err());
}

#[test]
fn windows_are_aligned_to_the_epoch() {
    let limit = Limit::requests(1, 60_000);
    assert_eq!(limit.window_start(T0 + 59_999), T0);
    assert_eq!(limit.window_end(T0 + 59_999), T0 + MINUTE);
    assert_eq!(limit.window_start(T0 + MINUTE), T0 + MINUTE);
    assert_eq!(limit.window_start(-1), -60_000, "before the epoch too");
}

#[test]
fn a_zero_window_from_the_wire_counts_as_one_millisecond() {
    let limit: Limit =
        serde_json::from_str(r#"{"max":1,"window_ms":0,"measure":"requests"}"#).unwrap();
    assert_eq!(limit.window_start(T0 + 7), T0 + 7);
    assert_eq!(limit.window_end(T0 + 7), T0 + 8);
    assert_eq!(Limit::requests(1, 0).window_ms, 1);
    assert_eq!(Limit::bytes(1, 0).window_ms, 1);
}

#[test]
fn extreme_times_do_not_overflow() {
    let limit = Limit::requests(1, 3);
    assert_eq!(limit.window_start(i64::MIN), i64::MIN);
    assert_eq!(limit.window_end(i64::MAX), i64::MAX);
    let counters = WindowCounters::new();
    assert!(admitted(&counters.try_acquire("k", &limit, 1, i64::MIN)));
    assert!(admitted(&counters.try_acquire("k", &limit, 1, i64::MAX)));
}

#[test]
fn a_window_admits_its_limit_then_refuses_until_it_rolls_over() {
    let counters = WindowCounters::new();
    let limit = Limit::requests(3, 60_000);
    for i in 0..3 {
        assert!(admitted(&counters.try_acquire("k", &limit, 1, T0 + i)));
    }
    assert_eq!(
        counters.try_acquire("k", &limit, 1, T0 + 59_999),
        Acquisition::Refused {
            retry_at_ms: T0 + MINUTE
        }
    );
    assert_eq!(counters.used("k", &limit, T0 + 1), 3);
    // The next window starts empty.
    let outcome = counters.try_acquire("k", &limit, 1, T0 + MINUTE);
    match outcome {
        Acquisition::Admitted(counted) => {
            assert_eq!(&*counted.key, "k");
            assert_eq!(counted.window_start, T0 + MINUTE);
            assert!(!counted.over_quota);
        }
        refused => panic!("expected admission, got {refused:?}"),
    }
    assert_eq!(counters.used("k", &limit, T0 + MINUTE), 1);
    assert_eq!(counters.used("k", &limit, T0), 0, "the old window is gone");
    assert_eq!(counters.used("other", &limit, T0), 0);
}

#[test]
fn keys_are_counted_apart() {
    let counters = WindowCounters::new();
    let limit = Limit::requests(1, 60_000);
    assert!(admitted(&counters.try_acquire("a", &limit, 1, T0)));
    assert!(admitted(&counters.try_acquire("b", &limit, 1, T0)));
    assert!(!admitted(&counters.try_acquire("a", &limit, 1, T0)));
    assert_eq!(counters.len(), 2);
}

#[test]
fn bandwidth_admits_until_the_bytes_are_used() {
    let counters = WindowCounters::new();
    let limit = Limit::bytes(1000, 60_000);
    assert!(admitted(&counters.try_acquire("k", &limit, 600, T0)));
    // Below the limit before this request: admitted, as WSO2 admits until the sum reaches it.
    assert!(admitted(&counters.try_acquire("k", &limit, 600, T0)));
    assert!(!admitted(&counters.try_acquire("k", &limit, 1, T0)));
    assert_eq!(counters.used("k", &limit, T0), 1200);
}

#[test]
fn count_never_refuses_but_reports_over_quota() {
    let counters = WindowCounters::new();
    let limit = Limit::requests(2, 60_000);
    let flags: Vec<bool> = (0..4)
        .map(|_| counters.count("k", &limit, 1, T0).over_quota)
        .collect();
    assert_eq!(flags, [false, false, true, true]);
    assert_eq!(counters.used("k", &limit, T0), 4);
}

#[test]
fn release_gives_back_only_within_the_same_window() {
    let counters = WindowCounters::new();
    let limit = Limit::requests(1, 60_000);
    let Acquisition::Admitted(counted) = counters.try_acquire("k", &limit, 1, T0) else {
        panic!("first request refused");
    };
    counters.release("k", counted.window_start, 1);
    assert!(admitted(&counters.try_acquire("k", &limit, 1, T0 + 5)));
    // A release for a past window does not touch the current one.
    assert!(admitted(&counters.try_acquire("k", &limit, 1, T0 + MINUTE)));
    counters.release("k", T0, 1);
    assert_eq!(counters.used("k", &limit, T0 + MINUTE), 1);
    counters.release("missing", T0, 1);
    assert_eq!(counters.len(), 1);
}

#[test]
fn purge_forgets_ended_windows() {
    let counters = WindowCounters::new();
    counters.try_acquire("minute", &Limit::requests(5, 60_000), 1, T0);
    counters.try_acquire("hour", &Limit::requests(5, 3_600_000), 1, T0);
    assert_eq!(counters.purge_ended(T0 + MINUTE - 1), 0);
    assert_eq!(counters.purge_ended(T0 + MINUTE), 1);
    assert_eq!(counters.len(), 1);
    assert!(!counters.is_empty());
}

#[test]
fn spike_arrest_divides_the_limit_into_sub_windows() {
    let spike =
        |limit, time_unit| Limit::spike_arrest("p", &SpikeArrest { limit, time_unit }).unwrap();
    assert_eq!(spike(10, TimeUnit::Minute), Some(Limit::requests(1, 6_000)));
    assert_eq!(spike(60, TimeUnit::Minute), Some(Limit::requests(1, 1_000)));
    assert_eq!(spike(4, TimeUnit::Second), Some(Limit::requests(1, 250)));
    assert_eq!(spike(5000, TimeUnit::Second), Some(Limit::requests(5, 1)));
    assert_eq!(spike(0, TimeUnit::Second), None);
    assert_eq!(spike(-3, TimeUnit::Minute), None);
    assert!(
        Limit::spike_arrest(
            "p",
            &SpikeArrest {
                limit: 5,
                time_unit: TimeUnit::Hour
            }
        )
        .is_err()
    );
}

#[test]
fn spike_arrest_smooths_a_burst() {
    // 10 per minute: one request per 6 s sub-window, even though 10 fit in the minute.
    let limit = Limit::spike_arrest(
        "p",
        &SpikeArrest {
            limit: 10,
            time_unit: TimeUnit::Minute,
        },
    )
    .unwrap()
    .unwrap();
    let counters = WindowCounters::new();
    assert!(admitted(&counters.try_acquire("s", &limit, 1, T0)));
    assert_eq!(
        counters.try_acquire("s", &limit, 1, T0 + 1_000),
        Acquisition::Refused {
            retry_at_ms: T0 + 6_000
        }
    );
    assert!(admitted(&counters.try_acquire("s", &limit, 1, T0 + 6_000)));
    let admitted_in_minute = (0..60)
        .filter(|s| admitted(&counters.try_acquire("t", &limit, 1, T0 + s * 1_000)))
        .count();
    assert_eq!(
        admitted_in_minute, 10,
        "one a second for a minute admits the limit"
    );
}

#[test]
fn threads_hammering_one_key_admit_exactly_the_limit() {
    let counters = WindowCounters::new();
    let limit = Limit::requests(1_000, 60_000);
    let admitted_total: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..500)
                        .filter(|i| admitted(&counters.try_acquire("hot", &limit, 1, T0 + i)))
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(admitted_total, 1_000);
    assert_eq!(counters.used("hot", &limit, T0), 1_000);
}

proptest! {
    #[test]
    fn admitted_requests_never_exceed_the_limit_in_any_window(
        max in 0u64..20,
        window_ms in 1u64..5_000,
        steps in proptest::collection::vec((0i64..3_000, 0usize..3), 1..200),
    ) {
        let counters = WindowCounters::new();
        let limit = Limit::requests(max, window_ms);
        let keys = ["a", "b", "c"];
        let mut now = T0;
        let mut per_window = std::collections::HashMap::new();
        for (advance, key) in steps {
            now += advance;
            if let Acquisition::Admitted(counted) = counters.try_acquire(keys[key], &limit, 1, now) {
                prop_assert_eq!(counted.window_start, limit.window_start(now));
                *per_window.entry((key, counted.window_start)).or_insert(0u64) += 1;
            }
        }
        for ((_, _), admitted) in per_window {
            prop_assert!(admitted <= max);
        }
    }
}
