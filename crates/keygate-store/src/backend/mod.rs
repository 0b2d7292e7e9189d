//! The three database backends behind one generic SQL implementation. Everything that
//! really differs between SQLite, PostgreSQL and MySQL/MariaDB — connection setup,
//! placeholder style, error codes, transaction start, catalog queries and the migration
//! set — is reached through [`Backend`]; repository code never asks which backend it runs
//! on.

mod mysql;
mod postgres;
mod sqlite;

use crate::error::{StoreError, StoreResult, redact_url};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A database engine keygate can store into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

/// What a database error means to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// A unique key or primary key already holds the value.
    UniqueViolation,
    /// A referenced row does not exist.
    ForeignKeyViolation,
    /// Lock contention or deadlock; the statement may succeed if tried again.
    Transient,
    /// Anything else.
    Other,
}

/// The table holding the migration history, in every keygate database.
pub(crate) const MIGRATIONS_TABLE: &str = "kg_schema_migrations";

impl Backend {
    /// The backend a native URL names: `sqlite:`, `postgres://`/`postgresql://`,
    /// `mysql://`/`mariadb://`.
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(StoreError::Invalid {
                field: "database url",
                reason: format!(
                    "unsupported scheme {scheme:?} in {}; use sqlite:, postgres:// or mysql://",
                    redact_url(url)
                ),
            }),
        }
    }

    /// `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    /// The URL handed to the driver, after backend-specific preparation (for SQLite the
    /// file and its directory are created).
    pub(crate) fn prepare_url(self, url: &str) -> StoreResult<String> {
        match self {
            Self::Sqlite => sqlite::prepare_url(url),
            Self::Postgres => Ok(url.to_owned()),
            Self::MySql => Ok(mysql::prepare_url(url)),
        }
    }

    /// Statements run on every new connection.
    pub(crate) fn after_connect_statements(self) -> &'static [&'static str] {
        match self {
            Self::Sqlite => sqlite::AFTER_CONNECT,
            Self::Postgres => postgres::AFTER_CONNECT,
            Self::MySql => mysql::AFTER_CONNECT,
        }
    }

    /// `sql`, written with `?` placeholders, in this backend's placeholder style.
    pub(crate) fn sql(self, sql: &str) -> Cow<'_, str> {
        match self {
            Self::Postgres => Cow::Owned(postgres::numbered_placeholders(sql)),
            Self::Sqlite | Self::MySql => Cow::Borrowed(sql),
        }
    }

    /// The statement that starts a read-write transaction.
    pub(crate) fn begin_statement(self) -> &'static str {
        match self {
            Self::Sqlite => sqlite::BEGIN_WRITE,
            Self::Postgres | Self::MySql => "BEGIN",
        }
    }

    /// A query counting tables named by its one `?` parameter in the current database.
    pub(crate) fn table_exists_sql(self) -> &'static str {
        match self {
            Self::Sqlite => sqlite::TABLE_EXISTS,
            Self::Postgres => postgres::TABLE_EXISTS,
            Self::MySql => mysql::TABLE_EXISTS,
        }
    }

    /// What a driver error means.
    pub(crate) fn classify(self, error: &sqlx::Error) -> ErrorClass {
        let sqlx::Error::Database(db) = error else {
            return ErrorClass::Other;
        };
        match self {
            Self::Sqlite => sqlite::classify(db.as_ref()),
            Self::Postgres => postgres::classify(db.as_ref()),
            Self::MySql => mysql::classify(db.as_ref()),
        }
    }

    /// The embedded migrations for this backend, recorded in [`MIGRATIONS_TABLE`].
    pub(crate) fn migrator(self) -> Migrator {
        let mut migrator = match self {
            Self::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Self::Postgres => sqlx::migrate!("migrations/postgres"),
            Self::MySql => sqlx::migrate!("migrations/mysql"),
        };
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
    }
}

/// Held while migrations run, so that keygate processes starting together against one
/// database migrate it one after the other.
#[derive(Debug)]
pub(crate) enum MigrationLock {
    /// The driver's own migration lock suffices (PostgreSQL advisory lock), or there is
    /// nothing to share (in-memory SQLite).
    Driver,
    /// An exclusive lock on a file beside the SQLite database.
    File(std::fs::File),
    /// A named lock held by this pooled MySQL session.
    Session(PoolConnection<Any>),
}

impl Backend {
    /// The file whose lock guards migrations, for file-based backends.
    pub(crate) fn migration_lock_file(self, url: &str) -> Option<PathBuf> {
        match self {
            Self::Sqlite => sqlite::migration_lock_file(url),
            Self::Postgres | Self::MySql => None,
        }
    }

    /// Waits for the migration lock of the database behind `pool`.
    pub(crate) async fn lock_migrations(
        self,
        pool: &AnyPool,
        lock_file: Option<&Path>,
    ) -> Result<MigrationLock, String> {
        match (self, lock_file) {
            (Self::Sqlite, Some(path)) => {
                let path = path.to_owned();
                tokio::task::spawn_blocking(move || sqlite::lock_file(&path))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(MigrationLock::File)
                    .map_err(|e| format!("cannot lock the migration lock file: {e}"))
            }
            (Self::MySql, _) => {
                let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
                let taken: Option<i64> = sqlx::query(mysql::LOCK_MIGRATIONS)
                    .fetch_one(&mut *conn)
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(|e| e.to_string())?;
                match taken {
                    Some(1) => Ok(MigrationLock::Session(conn)),
                    _ => Err("timed out waiting for another keygate to finish migrating".into()),
                }
            }
            _ => Ok(MigrationLock::Driver),
        }
    }
}

impl MigrationLock {
    /// The session holding the lock, when it is one: migrations must run on it.
    pub(crate) fn session(&mut self) -> Option<&mut AnyConnection> {
        match self {
            Self::Session(conn) => Some(&mut **conn),
            Self::File(_) | Self::Driver => None,
        }
    }

    /// Lets the next migrator in.
    pub(crate) async fn release(self) {
        match self {
            Self::Session(mut conn) => {
                if let Err(e) = sqlx::query(mysql::UNLOCK_MIGRATIONS)
                    .execute(&mut *conn)
                    .await
                {
                    tracing::warn!(error = %e, "cannot release the migration lock; closing");
                    // Closing the session releases its named locks.
                    drop(conn.detach());
                }
            }
            Self::File(file) => drop(file),
            Self::Driver => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_backends() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("sqlite::memory:").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(Backend::from_url("MariaDB://h/db").unwrap(), Backend::MySql);
        let err = Backend::from_url("oracle://u:pw@h/db").unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }));
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn only_postgres_rewrites_placeholders() {
        let sql = "SELECT a FROM t WHERE b = ? AND c = ?";
        assert_eq!(Backend::Sqlite.sql(sql), sql);
        assert_eq!(Backend::MySql.sql(sql), sql);
        assert_eq!(
            Backend::Postgres.sql(sql),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
    }

    #[test]
    fn every_backend_carries_the_same_migration_versions() {
        let versions =
            |b: Backend| -> Vec<i64> { b.migrator().iter().map(|m| m.version).collect() };
        let sqlite = versions(Backend::Sqlite);
        assert!(sqlite.len() >= 2, "{sqlite:?}");
        assert_eq!(sqlite, versions(Backend::Postgres));
        assert_eq!(sqlite, versions(Backend::MySql));
        assert_eq!(Backend::Sqlite.migrator().table_name, MIGRATIONS_TABLE);
    }
}
