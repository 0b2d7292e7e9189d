//! The scenarios every broker transport must pass against a real broker: `connect` choosing
//! it, and outages survived with one bus connected directly and one through a [`CutProxy`].

use super::proxy::CutProxy;
use keygate_bus::conformance::event;
use keygate_bus::{
    BusError, BusMessage, EventBus, ResyncReason, Subject, SubjectPrefix, Subscription,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How long the proxy stays cut.
pub const OUTAGE: Duration = Duration::from_secs(3);
/// How long a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(30);

async fn next(sub: &mut Subscription, what: &str) -> BusMessage {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("subscription closed waiting for {what}"))
}

async fn expect_connected(sub: &mut Subscription, what: &str) {
    assert_eq!(
        next(sub, what).await,
        BusMessage::Resync {
            reason: ResyncReason::Connected
        },
        "{what}"
    );
}

/// Reads until an event with `revision` arrives, skipping anything else.
async fn until_revision(sub: &mut Subscription, revision: u64, what: &str) {
    loop {
        if let BusMessage::Event(e) = next(sub, what).await
            && e.revision == revision
        {
            return;
        }
    }
}

/// Reads until `Resync { Connected }`, skipping anything else.
async fn until_reconnected(sub: &mut Subscription) {
    while next(sub, "Resync after the reconnect").await
        != (BusMessage::Resync {
            reason: ResyncReason::Connected,
        })
    {}
}

/// `connect` picks the transport `settings` name, and an event makes the round trip.
pub async fn connect_picks(settings: &keygate_bus::BusSettings, transport: &str) {
    let bus = keygate_bus::connect(settings).await.unwrap();
    assert_eq!(bus.transport(), transport);
    let subject = Subject::notification(&settings.prefix);
    let mut sub = bus.subscribe(&subject).await.unwrap();
    bus.publish(&subject, &event(7)).await.unwrap();
    expect_connected(&mut sub, "greeting").await;
    assert_eq!(next(&mut sub, "event 7").await, BusMessage::Event(event(7)));
}

/// The proxied bus loses its broker for [`OUTAGE`] while it publishes: every publish made
/// during the outage succeeds once the connection is back (publish timeout well above the
/// outage) and reaches a subscriber that stayed connected; the proxied subscriber is told
/// `Resync { Connected }` after the reconnect; events flow both ways afterwards.
pub async fn outage_loses_nothing(
    direct: Arc<dyn EventBus>,
    proxied: Arc<dyn EventBus>,
    proxy: &CutProxy,
    prefix: &SubjectPrefix,
) {
    let subject = Subject::token_revocation(prefix);
    let mut steady = direct.subscribe(&subject).await.unwrap();
    expect_connected(&mut steady, "direct subscriber's greeting").await;
    let mut cut = proxied.subscribe(&subject).await.unwrap();
    expect_connected(&mut cut, "proxied subscriber's greeting").await;
    proxied.publish(&subject, &event(0)).await.unwrap();
    until_revision(&mut steady, 0, "event 0 at the direct subscriber").await;
    until_revision(&mut cut, 0, "event 0 at the proxied subscriber").await;

    proxy.cut();
    let publisher = {
        let proxied = proxied.clone();
        let subject = subject.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for revision in 1..=5 {
                outcomes.push((revision, proxied.publish(&subject, &event(revision)).await));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            outcomes
        })
    };
    tokio::time::sleep(OUTAGE).await;
    proxy.restore();
    let outcomes = publisher.await.unwrap();
    for (revision, outcome) in &outcomes {
        assert!(
            outcome.is_ok(),
            "{}: publish of {revision} during the outage failed: {outcome:?}",
            proxied.transport()
        );
    }

    let mut missing: BTreeSet<u64> = (1..=5).collect();
    while !missing.is_empty() {
        if let BusMessage::Event(e) = next(&mut steady, "events published during the outage").await
        {
            missing.remove(&e.revision);
        }
    }

    until_reconnected(&mut cut).await;
    direct.publish(&subject, &event(100)).await.unwrap();
    until_revision(
        &mut cut,
        100,
        "an event after recovery at the proxied subscriber",
    )
    .await;
    proxied.publish(&subject, &event(101)).await.unwrap();
    until_revision(
        &mut steady,
        101,
        "an event after recovery from the proxied bus",
    )
    .await;
}

/// With a publish timeout shorter than the outage, a publish reports `Unavailable` rather
/// than vanishing, and the bus works again once the broker is back.
pub async fn publish_during_outage_is_unavailable(
    proxied: Arc<dyn EventBus>,
    proxy: &CutProxy,
    prefix: &SubjectPrefix,
    publish_timeout: Duration,
) {
    let subject = Subject::notification(prefix);
    let mut sub = proxied.subscribe(&subject).await.unwrap();
    expect_connected(&mut sub, "greeting").await;

    proxy.cut();
    let started = tokio::time::Instant::now();
    let outcome = proxied.publish(&subject, &event(1)).await;
    let waited = started.elapsed();
    assert!(
        matches!(outcome, Err(BusError::Unavailable { .. })),
        "{}: expected Unavailable, got {outcome:?}",
        proxied.transport()
    );
    assert!(
        waited >= publish_timeout && waited < publish_timeout + Duration::from_secs(3),
        "{}: gave up after {waited:?}, timeout {publish_timeout:?}",
        proxied.transport()
    );

    proxy.restore();
    until_reconnected(&mut sub).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match proxied.publish(&subject, &event(2)).await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("retrying after {e}");
            }
            Err(e) => panic!("{}: no recovery: {e}", proxied.transport()),
        }
    }
    until_revision(&mut sub, 2, "an event after recovery").await;
}
