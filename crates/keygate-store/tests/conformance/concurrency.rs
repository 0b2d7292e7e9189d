//! Concurrent writers: no row is lost, no uniqueness rule is broken, and exactly one of
//! many callers wins a once-only state change.

use crate::samples::{self, NOW};
use keygate_store::{CodeConsumption, StoreError, Stores};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Outcomes of many concurrent calls: successes and conflicts; any other error fails.
async fn tally<T: Send + 'static>(mut tasks: JoinSet<Result<T, StoreError>>) -> (Vec<T>, usize) {
    let mut wins = Vec::new();
    let mut conflicts = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task panicked") {
            Ok(value) => wins.push(value),
            Err(e) if e.is_conflict() => conflicts += 1,
            Err(e) => panic!("a concurrent writer failed with something other than Conflict: {e}"),
        }
    }
    (wins, conflicts)
}

/// Registers `client-a`, owned by alice, whose tokens the tests insert.
async fn register_client_a(stores: &Stores) {
    stores
        .clients()
        .create_client(&samples::client("client-a", "alice"))
        .await
        .unwrap();
}

pub async fn concurrent_token_inserts(stores: Arc<Stores>) {
    register_client_a(&stores).await;
    let mut tasks = JoinSet::new();
    for _ in 0..200 {
        let stores = stores.clone();
        tasks.spawn(async move {
            // The same client, user, grant and scopes for all: WSO2's CON_APP_KEY clash.
            let token = samples::token("client-a", "alice", &samples::id());
            stores.tokens().insert_token(&token).await
        });
    }
    let (stored, conflicts) = tally(tasks).await;
    assert_eq!(stored.len() + conflicts, 200);
    assert_eq!(
        stores
            .tokens()
            .count_tokens_for("client-a", "alice")
            .await
            .unwrap(),
        u64::try_from(stored.len()).unwrap(),
        "every accepted insert is stored"
    );
    assert_eq!(stored.len(), 200, "distinct tokens never conflict");
}

/// Concurrent inserts are written together (group commit); one bad token among them
/// fails alone, with its own error, and every other one is stored.
pub async fn a_bad_token_among_concurrent_inserts_fails_alone(stores: Arc<Stores>) {
    register_client_a(&stores).await;
    let first = samples::token("client-a", "alice", &samples::id());
    stores.tokens().insert_token(&first).await.unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let stores = stores.clone();
        let mut token = samples::token("client-a", "alice", &samples::id());
        match i {
            37 => token.token_digest = first.token_digest.clone(),
            71 => token.client_id = "no-such-client".into(),
            _ => {}
        }
        tasks.spawn(async move { (i, stores.tokens().insert_token(&token).await) });
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task panicked") {
            (37, outcome) => assert!(
                outcome.as_ref().is_err_and(StoreError::is_conflict),
                "{outcome:?}"
            ),
            (71, outcome) => assert!(
                matches!(outcome, Err(StoreError::Invalid { .. })),
                "{outcome:?}"
            ),
            (_, outcome) => {
                outcome.unwrap();
                stored += 1;
            }
        }
    }
    assert_eq!(stored, 98);
    assert_eq!(
        stores
            .tokens()
            .count_tokens_for("client-a", "alice")
            .await
            .unwrap(),
        99,
        "the first token and every good one of the batch"
    );
}

pub async fn concurrent_same_application_name(stores: Arc<Stores>) {
    let mut tasks = JoinSet::new();
    for _ in 0..50 {
        let stores = stores.clone();
        tasks.spawn(async move {
            let app = samples::application("alice", "Shared Name");
            stores.applications().create_application(&app).await
        });
    }
    let (created, conflicts) = tally(tasks).await;
    assert_eq!(created.len(), 1, "exactly one creator wins");
    assert_eq!(conflicts, 49);
    let stored = stores
        .applications()
        .list_applications_by_owner(
            &keygate_model::Tenant::default(),
            "alice",
            keygate_store::Page::ALL,
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uuid, created[0].uuid);
}

pub async fn concurrent_code_consumption(stores: Arc<Stores>) {
    register_client_a(&stores).await;
    for round in 0..3 {
        let digest = format!("code-{round}");
        stores
            .codes()
            .insert_code(&samples::code("client-a", &digest))
            .await
            .unwrap();
        let mut tasks = JoinSet::new();
        for _ in 0..30 {
            let stores = stores.clone();
            let digest = digest.clone();
            tasks.spawn(async move { stores.codes().consume_code(&digest, NOW + 1).await });
        }
        let (outcomes, conflicts) = tally(tasks).await;
        assert_eq!(conflicts, 0);
        let consumed = outcomes
            .iter()
            .filter(|o| matches!(o, CodeConsumption::Consumed(_)))
            .count();
        let replays = outcomes
            .iter()
            .filter(|o| matches!(o, CodeConsumption::AlreadyUsed(_)))
            .count();
        assert_eq!((consumed, replays), (1, 29), "round {round}");
    }
}

pub async fn concurrent_refresh_rotation(stores: Arc<Stores>) {
    register_client_a(&stores).await;
    let parent = samples::token("client-a", "alice", "family");
    stores.tokens().insert_token(&parent).await.unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..30 {
        let stores = stores.clone();
        let parent_id = parent.token_id.clone();
        tasks.spawn(async move {
            let child = samples::token("client-a", "alice", "family");
            stores.tokens().rotate_token(&parent_id, &child).await
        });
    }
    let (outcomes, conflicts) = tally(tasks).await;
    assert_eq!(conflicts, 0);
    assert_eq!(
        outcomes.iter().filter(|won| **won).count(),
        1,
        "one rotation wins"
    );
    assert_eq!(
        stores
            .tokens()
            .count_tokens_for("client-a", "alice")
            .await
            .unwrap(),
        2,
        "the parent and exactly one child"
    );
}

/// A pool of one connection (`maxActive = 1`) opens (migrating an empty database) and
/// still serves every statement after a token was written: the token writer gives its
/// connection back instead of keeping it.
pub async fn a_one_connection_pool_is_not_starved_by_the_token_writer(
    db: std::sync::Arc<crate::harness::TestDb>,
) {
    // Migrated by the one-connection pool itself: on MySQL/MariaDB the migrations run on
    // the session that holds the migration lock.
    let options = keygate_store::StoreOptions {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(20),
        ..db.options()
    };
    let stores = Stores::open(&options, &options, keygate_store::MigrateMode::Apply)
        .await
        .unwrap();
    register_client_a(&stores).await;
    for _ in 0..3 {
        let token = samples::token("client-a", "alice", &samples::id());
        stores.tokens().insert_token(&token).await.unwrap();
        let found = stores
            .tokens()
            .count_tokens_for("client-a", "alice")
            .await
            .expect("a statement after a token write gets the pool's only connection");
        assert!(found >= 1);
    }
    assert_eq!(
        stores
            .tokens()
            .count_tokens_for("client-a", "alice")
            .await
            .unwrap(),
        3
    );
    stores.close().await;
}
