#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use super::*;
use keygate_bus::InProcessBus;
use serde_json::json;
use std::time::Duration;

const KEY: &str = "12:/pizzashack/1.0.0:1.0.0";
/// A window no test outlasts: the traffic manager forgets a key once its window has ended
/// by the system clock.
const WINDOW_MS: u64 = 10 * 365 * 86_400_000;

fn event(time_ms: i64) -> RequestEvent {
    serde_json::from_value(json!({
        "time_ms": time_ms,
        "message_size": 0,
        "keys": [{"key": KEY, "limit": {"max": 1000, "window_ms": WINDOW_MS, "measure": "requests"}}],
    }))
    .unwrap()
}

fn subject() -> Subject {
    Subject::throttle_request(&SubjectPrefix::default())
}

/// The node bus of a node without a broker, its traffic manager attached, and the sink of
/// its gateway.
async fn in_process_node(
    inner: &InProcessBus,
) -> (
    Arc<NodeBus>,
    RunningTrafficManager,
    Arc<dyn RequestEventSink>,
) {
    let node = Arc::new(NodeBus::new(
        Arc::new(inner.clone()),
        true,
        &SubjectPrefix::default(),
    ));
    let tm = TrafficManager::new(TrafficSettings::new("tm", "admin", None), node.clone())
        .start(IngestListeners::default())
        .await;
    node.attach(tm.request_intake());
    let publishing = PublishingBus {
        publish: node.clone(),
        node: node.clone(),
        producer: None,
    };
    let sink = publishing.request_events(subject(), "gw#gateway-1".into());
    (node, tm, sink)
}

/// The next event on `subscription` within a second, skipping resyncs.
async fn next_event(subscription: &mut Subscription) -> Option<Envelope> {
    loop {
        match tokio::time::timeout(Duration::from_secs(1), subscription.next()).await {
            Ok(Some(BusMessage::Event(event))) => return Some(event),
            Ok(Some(BusMessage::Resync { .. })) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn in_process_batches_reach_the_node_traffic_manager_once() {
    let inner = InProcessBus::default();
    // Not through the node's bus: a subscriber it does not know of, to see what is published.
    let mut observer = inner.subscribe(&subject()).await.unwrap();
    let (node, tm, sink) = in_process_node(&inner).await;
    // Events of now, in a window that has not ended by the traffic manager's clock.
    let base = now_ms();
    let event = |i: i64| event(base + i);

    sink.publish(vec![event(1), event(2), event(3)])
        .await
        .unwrap();
    assert_eq!(tm.used(KEY), Some(3));
    assert_eq!(tm.stats().requests, 3);
    assert_eq!(
        next_event(&mut observer).await,
        None,
        "no envelope while nobody on the node listens"
    );

    // A subscriber of the node (a test, a tool) gets the batch envelope as before; the
    // traffic manager still counts each request once.
    let mut listener = node.subscribe(&subject()).await.unwrap();
    sink.publish(vec![event(4), event(5)]).await.unwrap();
    assert_eq!(tm.used(KEY), Some(5));
    assert_eq!(tm.stats().requests, 5);
    let batch = next_event(&mut listener).await.expect("the batch envelope");
    assert_eq!(batch.event_type, REQUEST_EVENTS_TYPE);
    assert_eq!(batch.origin_node, "gw#gateway-1");
    assert_eq!(batch.payload, json!({"events": [event(4), event(5)]}));
    assert_eq!(next_event(&mut observer).await, Some(batch));

    drop(listener);
    sink.publish(vec![event(6)]).await.unwrap();
    assert_eq!(tm.used(KEY), Some(6));
    assert_eq!(next_event(&mut observer).await, None, "the listener left");
    tm.shutdown().await;
}

#[tokio::test]
async fn on_a_broker_every_batch_goes_out_as_one_envelope() {
    let inner = InProcessBus::default();
    let mut observer = inner.subscribe(&subject()).await.unwrap();
    let node = Arc::new(NodeBus::new(
        Arc::new(inner.clone()),
        false,
        &SubjectPrefix::default(),
    ));
    let publishing = PublishingBus {
        publish: node.clone(),
        node,
        producer: None,
    };
    let sink = publishing.request_events(subject(), "gw#gateway-1".into());
    sink.publish(vec![event(1), event(2)]).await.unwrap();
    sink.publish(vec![event(3)]).await.unwrap();
    let first = next_event(&mut observer).await.expect("first batch");
    let second = next_event(&mut observer).await.expect("second batch");
    assert_eq!(first.event_type, REQUEST_EVENTS_TYPE);
    assert_eq!(first.payload, json!({"events": [event(1), event(2)]}));
    assert_eq!(second.payload, json!({"events": [event(3)]}));
    assert_eq!(second.revision, first.revision + 1);
    assert_ne!(first.id, second.id);
}

#[test]
fn per_request_envelopes_are_the_bytes_of_a_split_batch() {
    let header = BatchHeader {
        id: "b7".into(),
        revision: 42,
        time: 1_704_067_200_123,
        origin_node: "gw#gateway-1".into(),
    };
    let batch = vec![event(1_704_067_200_000), event(1_704_067_200_001)];
    // What the gateway published before: `{"events": batch}`, split by the producer bus.
    let before =
        split_batch(&header.envelope(header.id.clone(), serde_json::json!({ "events": batch })));
    let now = header.requests(&batch).unwrap();
    assert_eq!(now.len(), 2);
    let bytes = |envelopes: &[Envelope]| -> Vec<Vec<u8>> {
        envelopes.iter().map(|e| e.encode().unwrap()).collect()
    };
    assert_eq!(bytes(&now), bytes(&before));
    assert_eq!(split_batch(&header.batch(&batch).unwrap()), now);
    assert_eq!(
        String::from_utf8(now[1].encode().unwrap()).unwrap(),
        concat!(
            r#"{"id":"b7.1","type":"REQUEST_EVENTS","revision":42,"time":1704067200123,"#,
            r#""origin_node":"gw#gateway-1","payload":{"keys":[{"key":"12:/pizzashack/1.0.0:1.0.0","#,
            r#""limit":{"max":1000,"measure":"requests","window_ms":315360000000}}],"#,
            r#""message_size":0,"time_ms":1704067200001}}"#
        )
    );
}

#[test]
fn a_single_request_envelope_is_sent_as_it_is() {
    let header = BatchHeader {
        id: "one".into(),
        revision: 1,
        time: 5,
        origin_node: "gw".into(),
    };
    let single = header.envelope("one".into(), serde_json::to_value(event(5)).unwrap());
    assert_eq!(split_batch(&single), vec![single.clone()]);
}
