//! The key manager's signing keys (with rotation), server secrets and used assertion ids.

use crate::samples::NOW;
use keygate_model::Tenant;
use keygate_store::{StoreError, StoredSigningKey, Stores};
use std::sync::Arc;

const HOUR: i64 = 3_600_000;

fn key(generation: i64, kid: &str, created_at_ms: i64) -> StoredSigningKey {
    StoredSigningKey {
        tenant: Tenant::default(),
        generation,
        kid: kid.into(),
        algorithm: "RS256".into(),
        private_key: vec![0x30, 0x82, 1, 2, 0, 255, generation as u8],
        created_at_ms,
        retired_at_ms: None,
        published_until_ms: None,
    }
}

pub async fn signing_keys_and_rotation(stores: Arc<Stores>) {
    let keys = stores.keys();
    let tenant = Tenant::default();
    assert!(keys.signing_keys(&tenant, NOW).await.unwrap().is_empty());

    let first = key(1, "kid-1", NOW);
    keys.insert_signing_key(&first).await.unwrap();
    assert_eq!(
        keys.signing_keys(&tenant, NOW).await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert!(
        !format!("{first:?}").contains("255"),
        "Debug shows key bytes"
    );
    // A second node starting at once loses the race for generation 1, or for the kid.
    assert!(matches!(
        keys.insert_signing_key(&key(1, "kid-other", NOW)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        keys.insert_signing_key(&key(2, "kid-1", NOW)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        keys.insert_signing_key(&key(0, "kid-zero", NOW)).await,
        Err(StoreError::Invalid { .. })
    ));

    // Rotation retires generation 1 and keeps it published for an hour.
    let second = key(2, "kid-2", NOW + 10);
    assert!(
        keys.rotate_signing_key(1, &second, NOW + 10 + HOUR)
            .await
            .unwrap()
    );
    let published = keys.signing_keys(&tenant, NOW + 20).await.unwrap();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0].kid, "kid-1");
    assert_eq!(published[0].retired_at_ms, Some(NOW + 10));
    assert_eq!(published[0].published_until_ms, Some(NOW + 10 + HOUR));
    assert_eq!(published[1], second);

    // A concurrent rotation from generation 1 lost: nothing changes.
    assert!(
        !keys
            .rotate_signing_key(1, &key(2, "kid-late", NOW + 30), NOW + HOUR)
            .await
            .unwrap()
    );
    assert!(
        !keys
            .rotate_signing_key(1, &key(3, "kid-late", NOW + 30), NOW + HOUR)
            .await
            .unwrap()
    );
    assert_eq!(keys.signing_keys(&tenant, NOW + 40).await.unwrap().len(), 2);

    // Once its tokens have expired the old key is no longer published, then purged.
    let later = NOW + 10 + HOUR;
    let published = keys.signing_keys(&tenant, later).await.unwrap();
    assert_eq!(published, std::slice::from_ref(&second));
    assert_eq!(
        keys.purge_retired_signing_keys(&tenant, later - 1)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        keys.purge_retired_signing_keys(&tenant, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        keys.signing_keys(&tenant, NOW).await.unwrap(),
        std::slice::from_ref(&second)
    );
    // Keys are per tenant.
    let other = Tenant::new("wso2.com");
    assert!(keys.signing_keys(&other, NOW).await.unwrap().is_empty());
    let mut theirs = key(1, "kid-1", NOW);
    theirs.tenant = other.clone();
    keys.insert_signing_key(&theirs).await.unwrap();
    assert_eq!(keys.signing_keys(&other, NOW).await.unwrap(), [theirs]);
}

pub async fn server_secrets_are_created_once(stores: Arc<Stores>) {
    let keys = stores.keys();
    let tenant = Tenant::default();
    assert_eq!(keys.server_secret(&tenant, "pepper").await.unwrap(), None);
    let first = keys
        .ensure_server_secret(&tenant, "pepper", &[1, 2, 3, 0, 255], NOW)
        .await
        .unwrap();
    assert_eq!(first, [1, 2, 3, 0, 255]);
    let second = keys
        .ensure_server_secret(&tenant, "pepper", &[9, 9, 9], NOW + 1)
        .await
        .unwrap();
    assert_eq!(second, first, "the first value wins");
    assert_eq!(
        keys.server_secret(&tenant, "pepper").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        keys.server_secret(&Tenant::new("wso2.com"), "pepper")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        keys.ensure_server_secret(&tenant, "empty", &[], NOW).await,
        Err(StoreError::Invalid { .. })
    ));

    // Nodes starting together agree on one value.
    let mut racers = Vec::new();
    for i in 0..8u8 {
        let stores = stores.clone();
        racers.push(tokio::spawn(async move {
            stores
                .keys()
                .ensure_server_secret(&Tenant::default(), "race", &[i; 32], NOW)
                .await
                .unwrap()
        }));
    }
    let mut values = Vec::new();
    for racer in racers {
        values.push(racer.await.unwrap());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "every node sees the same secret");
}

pub async fn assertion_ids_are_single_use(stores: Arc<Stores>) {
    let keys = stores.keys();
    assert!(
        keys.record_assertion_id("client-a", "jti-1", NOW + 60_000, NOW)
            .await
            .unwrap()
    );
    assert!(
        !keys
            .record_assertion_id("client-a", "jti-1", NOW + 60_000, NOW + 1)
            .await
            .unwrap(),
        "a replay is refused"
    );
    assert!(
        keys.record_assertion_id("client-b", "jti-1", NOW + 60_000, NOW)
            .await
            .unwrap(),
        "ids are per issuer"
    );
    // After the first record has expired, the id may be used again.
    assert!(
        keys.record_assertion_id("client-a", "jti-1", NOW + 200_000, NOW + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !keys
            .record_assertion_id("client-a", "jti-1", NOW + 200_000, NOW + 60_001)
            .await
            .unwrap()
    );
    keys.record_assertion_id("client-c", "jti-2", NOW + 10, NOW)
        .await
        .unwrap();
    assert_eq!(keys.purge_assertion_ids(NOW + 70_000).await.unwrap(), 2);
    assert_eq!(keys.purge_assertion_ids(NOW + 70_000).await.unwrap(), 0);

    // Of many concurrent uses of one id, exactly one is accepted.
    let mut racers = Vec::new();
    for _ in 0..8 {
        let stores = stores.clone();
        racers.push(tokio::spawn(async move {
            stores
                .keys()
                .record_assertion_id("client-r", "jti-r", NOW + 60_000, NOW)
                .await
                .unwrap()
        }));
    }
    let mut accepted = 0;
    for racer in racers {
        accepted += usize::from(racer.await.unwrap());
    }
    assert_eq!(accepted, 1);
}
