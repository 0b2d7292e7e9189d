//! Fresh databases for each test on each backend: a temporary SQLite file, or a database
//! `kg_t_<random>` created on the PostgreSQL or MariaDB server of this machine and dropped
//! afterwards. An unreachable server skips the test with a loud line on stderr, unless
//! `KEYGATE_TEST_REQUIRE_SERVICES=1` makes that a failure.

use keygate_store::{MigrateMode, StoreOptions, Stores};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The backends every conformance test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

impl Kind {
    fn server_url(self) -> Option<String> {
        match self {
            Kind::Sqlite => None,
            Kind::Postgres => Some(
                std::env::var("KEYGATE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned()),
            ),
            Kind::MySql => Some(
                std::env::var("KEYGATE_TEST_MYSQL_URL")
                    .unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned()),
            ),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
            Kind::MySql => "MariaDB",
        }
    }
}

/// `url` with its database path replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

fn host_port(url: &str) -> String {
    keygate_store::redact_url(url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One fresh, empty database.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new database, or `None` (after printing `SKIPPED: …`) when the server is down.
    pub async fn create(kind: Kind) -> Option<TestDb> {
        let Some(server_url) = kind.server_url() else {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
            return Some(TestDb {
                kind,
                url,
                server: None,
                _dir: Some(dir),
            });
        };
        let name = format!("kg_t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let created = match kind {
            Kind::Postgres => match PgConnection::connect(&server_url).await {
                Ok(mut conn) => {
                    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .await
                        .expect("create test database");
                    // A throwaway database need not wait for the disk at every commit.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "ALTER DATABASE {name} SET synchronous_commit = off"
                    )))
                    .await
                    .expect("tune test database");
                    conn.close().await.ok();
                    true
                }
                Err(_) => false,
            },
            Kind::MySql => match MySqlConnection::connect(&server_url).await {
                Ok(mut conn) => {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    )))
                    .await
                    .expect("create test database");
                    conn.close().await.ok();
                    true
                }
                Err(_) => false,
            },
            Kind::Sqlite => true,
        };
        if !created {
            let addr = host_port(&server_url);
            if std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{} not reachable at {addr}", kind.label());
            }
            eprintln!("SKIPPED: {} not reachable at {addr}", kind.label());
            return None;
        }
        Some(TestDb {
            kind,
            url: with_database(&server_url, &name),
            server: Some((server_url, name)),
            _dir: None,
        })
    }

    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(60),
            ..StoreOptions::new(self.url.clone())
        }
    }

    /// Drops the server database (the SQLite file goes with its directory).
    pub async fn drop_database(self) {
        let Some((server_url, name)) = &self.server else {
            return;
        };
        match self.kind {
            Kind::Postgres => {
                if let Ok(mut conn) = PgConnection::connect(server_url).await {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await
                    .ok();
                    conn.close().await.ok();
                }
            }
            Kind::MySql => {
                if let Ok(mut conn) = MySqlConnection::connect(server_url).await {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name}"
                    )))
                    .await
                    .ok();
                    conn.close().await.ok();
                }
            }
            Kind::Sqlite => {}
        }
    }

    /// Runs one SQL script (several statements) against the database.
    pub async fn execute_script(&self, script: &str) {
        match self.kind {
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned())))
                    .await
                    .unwrap();
            }
            Kind::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned())))
                    .await
                    .unwrap();
            }
            Kind::MySql => {
                let mut conn = MySqlConnection::connect(&self.url).await.unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned())))
                    .await
                    .unwrap();
            }
        }
    }

    /// The single integer a query returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.kind {
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Kind::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Kind::MySql => {
                let mut conn = MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }
}

/// Runs `body` to completion, cleans up with `cleanup`, then passes on a failure of
/// `body`.
async fn guarded<F, C>(body: F, cleanup: C)
where
    F: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// Runs a test against [`Stores`] over two fresh databases (`apim_db` and `shared_db`).
pub async fn run_with_stores<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Arc<Stores>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(apim) = TestDb::create(kind).await else {
        return;
    };
    let Some(shared) = TestDb::create(kind).await else {
        apim.drop_database().await;
        return;
    };
    let stores = Stores::open(&apim.options(), &shared.options(), MigrateMode::Apply)
        .await
        .map(Arc::new);
    let stores = match stores {
        Ok(stores) => stores,
        Err(e) => {
            apim.drop_database().await;
            shared.drop_database().await;
            panic!("opening {kind:?} stores failed: {e}");
        }
    };
    let body = test(stores.clone());
    guarded(body, async {
        stores.close().await;
        apim.drop_database().await;
        shared.drop_database().await;
    })
    .await;
}

/// Runs a test against one fresh, unmigrated database.
pub async fn run_with_database<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create(kind).await else {
        return;
    };
    let db = Arc::new(db);
    guarded(test(db.clone()), async {
        match Arc::try_unwrap(db) {
            Ok(db) => db.drop_database().await,
            Err(_) => eprintln!("test database of {kind:?} still in use; not dropped"),
        }
    })
    .await;
}

/// Declares each listed test once per backend, as `<test>::sqlite`, `<test>::postgres` and
/// `<test>::mysql`. `stores:` tests get opened [`Stores`], `database:` tests an empty
/// [`TestDb`].
#[macro_export]
macro_rules! conformance {
    (stores: $($module:ident :: $name:ident),* $(,)?) => {
        $( $crate::conformance!(@test run_with_stores, $module, $name); )*
    };
    (database: $($module:ident :: $name:ident),* $(,)?) => {
        $( $crate::conformance!(@test run_with_database, $module, $name); )*
    };
    (@test $runner:ident, $module:ident, $name:ident) => {
        mod $name {
            use $crate::harness::{Kind, $runner};

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $runner(Kind::Sqlite, $crate::$module::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $runner(Kind::Postgres, $crate::$module::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() {
                $runner(Kind::MySql, $crate::$module::$name).await;
            }
        }
    };
}
