//! Cache invalidation between key manager nodes (`[apim.cache_invalidation]`): what this
//! node's key manager changes (a client, a user's roles) is announced on
//! `keygate.cache.invalidation.<domain>`, and what other nodes of the domain announce is
//! dropped from this node's caches. After a reconnect, when announcements may have been
//! missed, everything cached is dropped.

use keygate_bus::{BusMessage, Envelope, EventBus, Subject, SubjectPrefix};
use keygate_config::Config;
use keygate_km::KeyManager;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// The envelope type of one invalidation.
const CACHE_INVALIDATION_TYPE: &str = "CACHE_INVALIDATION";

/// Starts announcing and applying invalidations, when `[apim.cache_invalidation]` is
/// enabled; the tasks run until aborted.
pub(crate) async fn start(
    config: &Config,
    key_manager: &KeyManager,
    publish: Arc<dyn EventBus>,
    subscribe: Arc<dyn EventBus>,
) -> Vec<JoinHandle<()>> {
    let settings = &config.cache_invalidation;
    if !settings.enabled {
        return Vec::new();
    }
    let subject = Subject::cache_invalidation(
        &SubjectPrefix::new(&config.throttling.subject_prefix),
        &settings.domain,
    );
    let node = format!(
        "{}#key-manager#{}",
        config.server.hostname,
        uuid::Uuid::new_v4()
    );
    let mut tasks = Vec::new();
    match subscribe.subscribe(&subject).await {
        Ok(mut subscription) => {
            let km = key_manager.clone();
            let own = node.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    match message {
                        BusMessage::Resync { .. } => km.invalidate_all(),
                        BusMessage::Event(event) if event.origin_node != own => {
                            let cache = event.payload["cache"].as_str().unwrap_or_default();
                            let key = event.payload["key"].as_str().unwrap_or_default();
                            km.invalidate(cache, key);
                        }
                        BusMessage::Event(_) => {}
                    }
                }
            }));
        }
        Err(error) => {
            tracing::warn!(%error, "cache invalidations from other nodes are not followed")
        }
    }
    let mut changes = key_manager.cache_changes();
    tasks.push(tokio::spawn(async move {
        let mut revision = 0;
        loop {
            let (cache, key) = match changes.recv().await {
                Ok(change) => change,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "cache invalidations not announced");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            revision += 1;
            let envelope = Envelope {
                id: uuid::Uuid::new_v4().to_string(),
                event_type: CACHE_INVALIDATION_TYPE.to_owned(),
                revision,
                time: crate::bootstrap::now_ms(),
                origin_node: node.clone(),
                payload: serde_json::json!({ "cache": cache, "key": key }),
            };
            if let Err(error) = publish.publish(&subject, &envelope).await {
                tracing::warn!(%error, cache, "cache invalidation not announced");
            }
        }
    }));
    tasks
}
