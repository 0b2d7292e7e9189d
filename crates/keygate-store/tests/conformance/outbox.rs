//! The change outbox: every replicated write leaves one entry in its own transaction, at
//! gapless revisions in commit order; rejected writes leave none; a policy renamed away
//! from its name is recorded as deleted under the old one; relays resume after the last
//! published entry.

use crate::samples::{self, NOW};
use keygate_model::*;
use keygate_store::{ChangeOperation, ChangedEntity, OutboxEntry, Stores};
use std::sync::Arc;

async fn all_entries(stores: &Stores) -> Vec<OutboxEntry> {
    stores
        .change_outbox()
        .entries_after(0, 10_000)
        .await
        .unwrap()
}

fn summary(entries: &[OutboxEntry]) -> Vec<(u64, ChangedEntity, String, ChangeOperation)> {
    entries
        .iter()
        .map(|e| (e.revision, e.entity, e.key.clone(), e.operation))
        .collect()
}

pub async fn writes_are_recorded_in_order(stores: Arc<Stores>) {
    let outbox = stores.change_outbox();
    let start = outbox.current_revision().await.unwrap();
    let base = all_entries(&stores).await.len();
    assert_eq!(base as u64, start, "every earlier revision has its entry");

    let api = samples::api("Pets", "1.0.0");
    stores.apis().create_api(&api).await.unwrap();
    // A duplicate is refused and leaves no entry behind.
    let mut duplicate = samples::api("Pets", "1.0.0");
    duplicate.context = api.context.clone();
    assert!(stores.apis().create_api(&duplicate).await.is_err());
    let app = samples::application("alice", "shop");
    let app = stores
        .applications()
        .create_application(&app)
        .await
        .unwrap();
    let sub = samples::subscription(&app, &api);
    stores
        .subscriptions()
        .create_subscription(&sub)
        .await
        .unwrap();
    let mapping = samples::key_mapping(&app, KeyType::Production, "ck-outbox");
    stores
        .key_mappings()
        .create_key_mapping(&mapping)
        .await
        .unwrap();
    stores
        .apis()
        .set_api_status(&api.uuid, ApiStatus::Published, NOW + 1)
        .await
        .unwrap();
    stores
        .subscriptions()
        .delete_subscription(&sub.uuid)
        .await
        .unwrap();

    let entries = outbox.entries_after(start, 100).await.unwrap();
    assert_eq!(
        summary(&entries),
        vec![
            (
                start + 1,
                ChangedEntity::Api,
                api.uuid.clone(),
                ChangeOperation::Insert
            ),
            (
                start + 2,
                ChangedEntity::Application,
                app.uuid.clone(),
                ChangeOperation::Insert
            ),
            (
                start + 3,
                ChangedEntity::Subscription,
                sub.uuid.clone(),
                ChangeOperation::Insert
            ),
            (
                start + 4,
                ChangedEntity::KeyMapping,
                "ck-outbox".into(),
                ChangeOperation::Insert
            ),
            (
                start + 5,
                ChangedEntity::Api,
                api.uuid.clone(),
                ChangeOperation::Update
            ),
            (
                start + 6,
                ChangedEntity::Subscription,
                sub.uuid.clone(),
                ChangeOperation::Delete
            ),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.tenant == Tenant::default() && !e.published)
    );
    assert_eq!(outbox.current_revision().await.unwrap(), start + 6);
    assert_eq!(outbox.entries_after(start + 4, 1).await.unwrap().len(), 1);

    // Publishing and resuming.
    assert_eq!(outbox.last_published_revision().await.unwrap(), 0);
    assert_eq!(
        outbox.mark_published(start + 4).await.unwrap(),
        base as u64 + 4
    );
    assert_eq!(outbox.last_published_revision().await.unwrap(), start + 4);
    assert_eq!(outbox.mark_published(start + 4).await.unwrap(), 0);
    let purged = outbox.purge_published(start + 100).await.unwrap();
    assert_eq!(purged, base as u64 + 3, "the latest published entry stays");
    assert_eq!(outbox.last_published_revision().await.unwrap(), start + 4);
    let left = all_entries(&stores).await;
    assert_eq!(left.first().map(|e| e.revision), Some(start + 4));
    assert_eq!(left.len(), 3);
}

pub async fn policies_conditions_and_revocations_are_recorded(stores: Arc<Stores>) {
    let outbox = stores.change_outbox();
    let start = outbox.current_revision().await.unwrap();
    let mut policy = ApplicationPolicy {
        uuid: samples::id(),
        tenant: Tenant::default(),
        name: "7PerMin".into(),
        display_name: "7PerMin".into(),
        description: None,
        limit: QuotaLimit::requests(7, 1, TimeUnit::Minute),
    };
    stores
        .application_policies()
        .create_application_policy(&policy)
        .await
        .unwrap();
    policy.name = "8PerMin".into();
    stores
        .application_policies()
        .update_application_policy(&policy)
        .await
        .unwrap();
    let condition = BlockCondition {
        uuid: samples::id(),
        tenant: Tenant::default(),
        condition_type: BlockConditionType::Ip,
        value: "10.0.0.9".into(),
        enabled: true,
    };
    stores
        .block_conditions()
        .create_block_condition(&condition)
        .await
        .unwrap();
    stores
        .block_conditions()
        .delete_block_condition(&condition.uuid)
        .await
        .unwrap();
    let token = RevokedToken {
        signature: "sig-outbox".into(),
        tenant: Tenant::default(),
        token_type: RevokedTokenType::JwtSignature,
        expiry_time_ms: NOW + 60_000,
        revoked_at_ms: NOW,
    };
    stores
        .revoked_tokens()
        .insert_revoked_token(&token)
        .await
        .unwrap();
    // Purging expired revocations is not a change gateways replay.
    stores
        .revoked_tokens()
        .purge_expired_revocations(NOW + 120_000)
        .await
        .unwrap();

    let entries = outbox.entries_after(start, 100).await.unwrap();
    assert_eq!(
        summary(&entries),
        vec![
            (
                start + 1,
                ChangedEntity::ApplicationPolicy,
                "7PerMin".into(),
                ChangeOperation::Insert
            ),
            (
                start + 2,
                ChangedEntity::ApplicationPolicy,
                "7PerMin".into(),
                ChangeOperation::Delete
            ),
            (
                start + 3,
                ChangedEntity::ApplicationPolicy,
                "8PerMin".into(),
                ChangeOperation::Update
            ),
            (
                start + 4,
                ChangedEntity::BlockCondition,
                condition.uuid.clone(),
                ChangeOperation::Insert
            ),
            (
                start + 5,
                ChangedEntity::BlockCondition,
                condition.uuid.clone(),
                ChangeOperation::Delete
            ),
            (
                start + 6,
                ChangedEntity::RevokedToken,
                "sig-outbox".into(),
                ChangeOperation::Insert
            ),
        ]
    );
    assert_eq!(outbox.current_revision().await.unwrap(), start + 6);
}

pub async fn concurrent_writers_get_gapless_revisions(stores: Arc<Stores>) {
    let start = stores.change_outbox().current_revision().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let stores = stores.clone();
        tasks.push(tokio::spawn(async move {
            let app = samples::application("carol", &format!("app-{i}"));
            stores
                .applications()
                .create_application(&app)
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let entries = stores
        .change_outbox()
        .entries_after(start, 100)
        .await
        .unwrap();
    let revisions: Vec<u64> = entries.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (start + 1..=start + 8).collect::<Vec<_>>());
    assert!(
        entries
            .iter()
            .all(|e| e.entity == ChangedEntity::Application)
    );
}
