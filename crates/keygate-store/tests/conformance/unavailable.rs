//! Databases that cannot be reached or named: the errors say where, never with the
//! password of the URL.

use keygate_store::{MigrateMode, StoreError, StoreOptions, Stores, migrate};
use std::time::Duration;

fn options(url: &str) -> StoreOptions {
    StoreOptions {
        acquire_timeout: Duration::from_secs(2),
        ..StoreOptions::new(url)
    }
}

#[tokio::test]
async fn unreachable_servers_are_unavailable_without_the_password() {
    for (url, backend) in [
        ("postgres://kg:hunter2@127.0.0.1:1/apim_db", "postgres"),
        ("mysql://kg:hunter2@127.0.0.1:1/apim_db", "mysql"),
        ("mariadb://kg:hunter2@127.0.0.1:1/apim_db", "mysql"),
    ] {
        let opts = options(url);
        let err = Stores::open(&opts, &opts, MigrateMode::Apply)
            .await
            .unwrap_err();
        match &err {
            StoreError::Unavailable {
                backend: b, addr, ..
            } => {
                assert_eq!(*b, backend);
                assert_eq!(addr, "127.0.0.1:1/apim_db");
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(matches!(
            migrate(&opts).await.unwrap_err(),
            StoreError::Unavailable { .. }
        ));
    }
}

#[tokio::test]
async fn unknown_schemes_are_refused_by_name() {
    let opts = options("oracle://kg:hunter2@db:1521/apim");
    let err = Stores::open(&opts, &opts, MigrateMode::Apply)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "database url",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"));
}

#[tokio::test]
async fn sqlite_creates_its_directory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data/nested/apim.db");
    let opts = options(&format!("sqlite://{}", file.display()));
    let stores = Stores::open(&opts, &opts, MigrateMode::Apply)
        .await
        .unwrap();
    assert!(file.is_file());
    assert_eq!(stores.backends(), ("sqlite", "sqlite"));
    stores.ping().await.unwrap();
    stores.close().await;
}
