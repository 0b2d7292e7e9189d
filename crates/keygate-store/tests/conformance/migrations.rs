//! Schema migrations: idempotence, upgrades that keep every row, refusal of a newer
//! schema, verification without change, and one database serving as both `apim_db` and
//! `shared_db`.

use crate::harness::{Kind, TestDb};
use crate::samples::{self, NOW};
use keygate_model::*;
use keygate_store::{
    MigrateMode, Page, StoreError, Stores, latest_schema_version, migrate, migrate_to,
};
use std::sync::Arc;

fn fixture(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => include_str!("../fixtures/v1/sqlite.sql"),
        Kind::Postgres => include_str!("../fixtures/v1/postgres.sql"),
        Kind::MySql => include_str!("../fixtures/v1/mysql.sql"),
    }
}

async fn history_rows(db: &TestDb) -> i64 {
    db.scalar("SELECT COUNT(*) FROM kg_schema_migrations").await
}

pub async fn migrating_twice_is_a_no_op(db: Arc<TestDb>) {
    let latest = latest_schema_version();
    let first = migrate(&db.options()).await.unwrap();
    assert_eq!(first.from_version, 0);
    assert_eq!(first.to_version, latest);
    assert_eq!(first.applied, (1..=latest).collect::<Vec<_>>());
    assert!(!first.database.contains('@'));
    let second = migrate(&db.options()).await.unwrap();
    assert_eq!((second.from_version, second.to_version), (latest, latest));
    assert!(second.applied.is_empty());
    assert_eq!(history_rows(&db).await, latest);

    let stores = Stores::open(&db.options(), &db.options(), MigrateMode::Apply)
        .await
        .unwrap();
    let versions = stores.schema_version().await.unwrap();
    assert_eq!((versions.apim, versions.shared), (latest, latest));
    stores.ping().await.unwrap();
    stores.close().await;
    assert_eq!(history_rows(&db).await, latest);
}

pub async fn upgrade_from_v1_keeps_every_row(db: Arc<TestDb>) {
    let v1 = migrate_to(&db.options(), 1).await.unwrap();
    assert_eq!(
        (v1.from_version, v1.to_version, v1.applied.clone()),
        (0, 1, vec![1])
    );
    db.execute_script(fixture(db.kind)).await;
    let before = row_counts(&db).await;
    assert!(
        before.iter().all(|(_, n)| *n > 0),
        "the fixture fills every table: {before:?}"
    );

    let upgrade = migrate(&db.options()).await.unwrap();
    assert_eq!(upgrade.from_version, 1);
    assert_eq!(upgrade.to_version, latest_schema_version());
    assert_eq!(
        upgrade.applied,
        (2..=latest_schema_version()).collect::<Vec<_>>()
    );
    assert_eq!(row_counts(&db).await, before, "no row lost");

    // Every row still reads back through the repositories.
    let stores = Stores::open(&db.options(), &db.options(), MigrateMode::VerifyOnly)
        .await
        .unwrap();
    let tenant = Tenant::default();
    let user = stores
        .users()
        .authenticate("fixture-user", &Secret::new("fixture-password"))
        .await
        .unwrap()
        .expect("the v1 password hash still verifies");
    assert_eq!(user.roles, ["fixture-role"]);
    assert_eq!(
        user.claim(claims::EMAIL_ADDRESS),
        Some("fixture@example.com")
    );
    let api = stores.apis().api("api-1").await.unwrap().unwrap();
    assert_eq!(
        api.description, None,
        "added by migration 2, empty for old rows"
    );
    assert_eq!(api.url_templates.len(), 1);
    assert_eq!(api.url_templates[0].scopes, ["items:read"]);
    let app = stores
        .applications()
        .application("app-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (app.id, app.name.as_str(), app.description.clone()),
        (1, "FixtureApp", None)
    );
    let created = stores
        .applications()
        .create_application(&samples::application("fixture-user", "AfterUpgrade"))
        .await
        .unwrap();
    assert!(created.id > 1, "ids continue after the fixture's");
    assert_eq!(
        stores
            .subscriptions()
            .subscription_for("app-1", "api-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriptionStatus::Unblocked
    );
    assert_eq!(
        stores
            .key_mappings()
            .key_mapping_by_consumer_key("ck-1")
            .await
            .unwrap()
            .unwrap()
            .key_type,
        KeyType::Production
    );
    let client = stores.clients().client("ck-1").await.unwrap().unwrap();
    assert_eq!(client.secret_digest, Some(vec![0xde, 0xad, 0xbe, 0xef]));
    assert!(client.pkce_mandatory);
    let token = stores
        .tokens()
        .token_by_digest("token-digest-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.scopes, ["openid", "items:read"]);
    assert_eq!(token.state, TokenState::Active);
    assert_eq!(stores.tokens().revoke_family("family-1").await.unwrap(), 1);
    assert_eq!(
        stores
            .codes()
            .code("code-digest-1")
            .await
            .unwrap()
            .unwrap()
            .pkce_method,
        Some(PkceMethod::S256)
    );
    assert_eq!(
        stores
            .scopes()
            .scope(&tenant, "items:read")
            .await
            .unwrap()
            .unwrap()
            .roles,
        ["fixture-role"]
    );
    assert_eq!(
        stores
            .subscription_policies()
            .subscription_policy(&tenant, "Gold")
            .await
            .unwrap()
            .unwrap()
            .limit,
        QuotaLimit::requests(5000, 1, TimeUnit::Minute)
    );
    assert_eq!(
        stores
            .application_policies()
            .list_application_policies(&tenant, Page::ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        stores
            .api_policies()
            .api_policy(&tenant, "50KPerMin")
            .await
            .unwrap()
            .unwrap()
            .condition_groups
            .len(),
        1
    );
    assert_eq!(
        stores
            .global_policies()
            .global_policy(&tenant, "per-user")
            .await
            .unwrap()
            .unwrap()
            .key_template,
        "$userId"
    );
    assert_eq!(
        stores
            .block_conditions()
            .list_block_conditions(&tenant, Page::ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        stores
            .revoked_tokens()
            .revoked_token("sig-1")
            .await
            .unwrap()
            .is_some()
    );
    stores.close().await;
}

const TABLES: &[&str] = &[
    "kg_user",
    "kg_role",
    "kg_user_role",
    "kg_user_claim",
    "kg_api",
    "kg_api_resource",
    "kg_application",
    "kg_subscription",
    "kg_key_mapping",
    "kg_oauth_client",
    "kg_access_token",
    "kg_authorization_code",
    "kg_scope",
    "kg_scope_role",
    "kg_subscription_policy",
    "kg_application_policy",
    "kg_api_policy",
    "kg_global_policy",
    "kg_block_condition",
    "kg_revoked_token",
];

async fn row_counts(db: &TestDb) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push((
            *table,
            db.scalar(&format!("SELECT COUNT(*) FROM {table}")).await,
        ));
    }
    counts
}

pub async fn newer_schema_is_refused_untouched(db: Arc<TestDb>) {
    migrate_to(&db.options(), 1).await.unwrap();
    let future = 9_999;
    let success = if db.kind == Kind::Postgres {
        "TRUE"
    } else {
        "1"
    };
    let checksum = if db.kind == Kind::Postgres {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    db.execute_script(&format!(
        "INSERT INTO kg_schema_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES ({future}, 'from a future keygate', {success}, {checksum}, 0)"
    ))
    .await;
    let known = latest_schema_version();
    for result in [
        migrate(&db.options()).await.map(|_| ()),
        Stores::open(&db.options(), &db.options(), MigrateMode::Apply)
            .await
            .map(|_| ()),
        Stores::open(&db.options(), &db.options(), MigrateMode::VerifyOnly)
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::SchemaTooNew { found, known: k }) => {
                assert_eq!((found, k), (future, known));
            }
            other => panic!("a newer schema must be refused: {other:?}"),
        }
    }
    assert_eq!(history_rows(&db).await, 2, "no migration ran");
    let description_columns = db
        .scalar(match db.kind {
            Kind::Sqlite => {
                "SELECT COUNT(*) FROM pragma_table_info('kg_api') WHERE name = 'description'"
            }
            Kind::Postgres => {
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() \
                 AND table_name = 'kg_api' AND column_name = 'description'"
            }
            Kind::MySql => {
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() \
                 AND table_name = 'kg_api' AND column_name = 'description'"
            }
        })
        .await;
    assert_eq!(description_columns, 0, "migration 2 was not applied");
}

pub async fn verify_only_refuses_an_outdated_schema(db: Arc<TestDb>) {
    let known = latest_schema_version();
    match Stores::open(&db.options(), &db.options(), MigrateMode::VerifyOnly).await {
        Err(StoreError::SchemaOutdated { found: 0, known: k }) => assert_eq!(k, known),
        other => panic!("an empty database must be refused: {other:?}"),
    }
    migrate_to(&db.options(), 1).await.unwrap();
    match Stores::open(&db.options(), &db.options(), MigrateMode::VerifyOnly).await {
        Err(StoreError::SchemaOutdated { found: 1, .. }) => {}
        other => panic!("a version 1 database must be refused: {other:?}"),
    }
    assert_eq!(history_rows(&db).await, 1, "verification changed nothing");
    migrate(&db.options()).await.unwrap();
    let stores = Stores::open(&db.options(), &db.options(), MigrateMode::VerifyOnly)
        .await
        .unwrap();
    stores.ping().await.unwrap();
    stores.close().await;
}

pub async fn apim_and_shared_in_one_database(db: Arc<TestDb>) {
    // Two nodes start at once against one database used as both apim_db and shared_db.
    let options = db.options();
    let (a, b) = tokio::join!(
        Stores::open(&options, &options, MigrateMode::Apply),
        Stores::open(&options, &options, MigrateMode::Apply),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(history_rows(&db).await, latest_schema_version());
    assert!(
        a.users()
            .ensure_super_admin("admin", &Secret::new("pw"), NOW)
            .await
            .unwrap()
    );
    let app = a
        .applications()
        .create_application(&samples::application("admin", "DefaultApplication"))
        .await
        .unwrap();
    assert!(
        b.users()
            .authenticate("admin", &Secret::new("pw"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        b.applications()
            .application(&app.uuid)
            .await
            .unwrap()
            .unwrap(),
        app
    );
    let versions = b.schema_version().await.unwrap();
    assert_eq!(versions.apim, versions.shared);
    a.close().await;
    b.close().await;
}
