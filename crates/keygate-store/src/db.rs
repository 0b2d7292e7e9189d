//! The generic SQL layer every repository is written against: one `sqlx::Any` pool with
//! its [`Backend`], statement building in the backend's placeholder style, transactions,
//! the mapping of driver errors to [`StoreError`], and typed reading of row columns.
//! Values cross this layer only as `i64`, `String`, `Vec<u8>` and their `Option`s; flags
//! are stored as 0/1 integers and lists as JSON or space-separated text.

use crate::backend::{Backend, ErrorClass, MigrationLock};
use crate::error::{StoreError, StoreResult, redact_url};
use keygate_model::{Secret, UnknownValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};
use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

/// How to reach one database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Native URL: `sqlite://path?mode=rwc`, `postgres://user:pw@host:5432/db` or
    /// `mysql://user:pw@host:3306/db` (`mariadb://` too). Kept secret: it may hold a
    /// password.
    pub url: Secret,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Connections the pool keeps open when idle.
    pub min_connections: u32,
    /// How long a caller waits for a free connection before the database counts as
    /// unavailable.
    pub acquire_timeout: Duration,
}

/// Default [`StoreOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default [`StoreOptions::acquire_timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl StoreOptions {
    /// Options for `url` with the default pool settings.
    pub fn new(url: impl Into<Secret>) -> Self {
        Self {
            url: url.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            min_connections: 0,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// A window of a list: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Most rows returned.
    pub limit: u32,
    /// Rows skipped first.
    pub offset: u32,
}

impl Page {
    /// A window of `limit` rows after `offset`.
    pub const fn new(limit: u32, offset: u32) -> Self {
        Self { limit, offset }
    }

    /// The first `limit` rows.
    pub const fn first(limit: u32) -> Self {
        Self { limit, offset: 0 }
    }

    /// Every row (up to `u32::MAX`), for snapshots.
    pub const ALL: Page = Page {
        limit: u32::MAX,
        offset: 0,
    };
}

/// A statement ready for binding.
pub(crate) type Statement = sqlx::query::Query<'static, Any, AnyArguments>;

/// One connection pool and what it connects to.
#[derive(Clone)]
pub(crate) struct Db {
    pool: AnyPool,
    backend: Backend,
    addr: Arc<str>,
    migration_lock_file: Option<Arc<std::path::Path>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("addr", &self.addr)
            .finish()
    }
}

static DRIVERS: Once = Once::new();

impl Db {
    /// Opens a pool to the database `options` names.
    pub(crate) async fn connect(options: &StoreOptions) -> StoreResult<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let url = options.url.expose();
        let backend = Backend::from_url(url)?;
        let addr: Arc<str> = redact_url(url).into();
        let driver_url = backend.prepare_url(url)?;
        let migration_lock_file = backend.migration_lock_file(url).map(Arc::from);
        let statements = backend.after_connect_statements();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for statement in statements {
                        sqlx::query(*statement).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&driver_url)
            .await
            .map_err(|source| StoreError::Unavailable {
                backend: backend.name(),
                addr: addr.to_string(),
                source,
            })?;
        Ok(Self {
            pool,
            backend,
            addr,
            migration_lock_file,
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Waits until this caller alone may migrate the database.
    pub(crate) async fn lock_migrations(&self) -> StoreResult<MigrationLock> {
        self.backend
            .lock_migrations(&self.pool, self.migration_lock_file.as_deref())
            .await
            .map_err(StoreError::MigrationLock)
    }

    /// A statement from SQL written with `?` placeholders.
    pub(crate) fn query(&self, sql: &str) -> Statement {
        sqlx::query(AssertSqlSafe(self.backend.sql(sql).into_owned()))
    }

    /// Deletes the row of `table` whose `column` equals `key`; whether there was one.
    /// `table` and `column` are the store's own constant names, never caller input.
    pub(crate) async fn delete_one(
        &self,
        table: &str,
        column: &str,
        key: &str,
        what: &str,
    ) -> StoreResult<bool> {
        let done = self
            .query(&format!("DELETE FROM {table} WHERE {column} = ?"))
            .bind(key.to_owned())
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e, what))?;
        Ok(done.rows_affected() > 0)
    }

    /// Starts a read-write transaction.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        self.pool
            .begin_with(self.backend.begin_statement())
            .await
            .map_err(|e| self.fail(e, "transaction"))
    }

    /// Checks that the database answers.
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        self.query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.fail(e, "ping"))
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// The store error for a driver error met while working on `what`.
    pub(crate) fn fail(&self, error: sqlx::Error, what: &str) -> StoreError {
        match self.backend.classify(&error) {
            ErrorClass::UniqueViolation => StoreError::conflict(what),
            ErrorClass::ForeignKeyViolation => StoreError::Invalid {
                field: "reference",
                reason: format!("{what} refers to a row that does not exist"),
            },
            ErrorClass::Transient | ErrorClass::Other => match error {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed => StoreError::Unavailable {
                    backend: self.backend.name(),
                    addr: self.addr.to_string(),
                    source: error,
                },
                other => StoreError::Backend {
                    backend: self.backend.name(),
                    source: other,
                },
            },
        }
    }
}

/// Reading columns of a row into domain values.
pub(crate) trait Columns {
    fn text(&self, column: &'static str) -> StoreResult<String>;
    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>>;
    fn int(&self, column: &'static str) -> StoreResult<i64>;
    fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>>;
    fn opt_bytes(&self, column: &'static str) -> StoreResult<Option<Vec<u8>>>;

    /// A 0/1 flag.
    fn flag(&self, column: &'static str) -> StoreResult<bool> {
        Ok(self.int(column)? != 0)
    }

    /// A WSO2 enumeration value.
    fn parsed<T: FromStr<Err = UnknownValue>>(&self, column: &'static str) -> StoreResult<T> {
        self.text(column)?
            .parse()
            .map_err(|e: UnknownValue| corrupt(column, e))
    }

    /// An optional WSO2 enumeration value.
    fn opt_parsed<T: FromStr<Err = UnknownValue>>(
        &self,
        column: &'static str,
    ) -> StoreResult<Option<T>> {
        self.opt_text(column)?
            .map(|t| t.parse().map_err(|e: UnknownValue| corrupt(column, e)))
            .transpose()
    }

    /// Space-separated words (scopes).
    fn words(&self, column: &'static str) -> StoreResult<Vec<String>> {
        Ok(self
            .text(column)?
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// A JSON document.
    fn json<T: DeserializeOwned>(&self, column: &'static str) -> StoreResult<T> {
        serde_json::from_str(&self.text(column)?).map_err(|e| corrupt(column, e))
    }
}

fn corrupt(column: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        field: column,
        reason: reason.to_string(),
    }
}

fn decode<'r, T>(row: &'r AnyRow, column: &'static str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get::<T, _>(column).map_err(|e| corrupt(column, e))
}

impl Columns for AnyRow {
    fn text(&self, column: &'static str) -> StoreResult<String> {
        decode(self, column)
    }
    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
        decode(self, column)
    }
    fn int(&self, column: &'static str) -> StoreResult<i64> {
        decode(self, column)
    }
    fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>> {
        decode(self, column)
    }
    fn opt_bytes(&self, column: &'static str) -> StoreResult<Option<Vec<u8>>> {
        decode(self, column)
    }
}

/// A flag as stored.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Words joined by single spaces, refusing words that would not survive the round trip.
pub(crate) fn words(field: &'static str, values: &[String]) -> StoreResult<String> {
    if let Some(bad) = values
        .iter()
        .find(|v| v.is_empty() || v.contains(char::is_whitespace))
    {
        return Err(StoreError::Invalid {
            field,
            reason: format!("{bad:?} is empty or contains whitespace"),
        });
    }
    Ok(values.join(" "))
}

/// A value as JSON text.
pub(crate) fn json<T: Serialize + ?Sized>(field: &'static str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        field,
        reason: e.to_string(),
    })
}

/// Refuses an empty value or one longer than the column holds on every backend.
pub(crate) fn bounded(field: &'static str, value: &str, max_chars: usize) -> StoreResult<()> {
    let count = value.chars().count();
    if count == 0 || count > max_chars {
        return Err(StoreError::Invalid {
            field,
            reason: format!("must be 1 to {max_chars} characters, is {count}"),
        });
    }
    Ok(())
}

/// Length limits of key columns, the narrowest backend's (MySQL's index limits).
pub(crate) mod limit {
    /// Tenant domains.
    pub const TENANT: usize = 128;
    /// UUIDs and other generated ids.
    pub const ID: usize = 64;
    /// Names, owners, client ids, usernames, contexts.
    pub const NAME: usize = 255;
    /// Versions.
    pub const VERSION: usize = 64;
    /// Token and code digests, revoked-token signatures, condition values.
    pub const DIGEST: usize = 512;
    /// URL patterns of resources.
    pub const URL_PATTERN: usize = 512;
    /// HTTP verbs.
    pub const VERB: usize = 16;
}

/// The SQL `LIMIT ? OFFSET ?` values of a page.
pub(crate) fn page_args(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::from(page.offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_refuse_whitespace_and_empty() {
        assert_eq!(
            words("scopes", &["openid".into(), "apim:subscribe".into()]).unwrap(),
            "openid apim:subscribe"
        );
        assert_eq!(words("scopes", &[]).unwrap(), "");
        assert!(words("scopes", &["a b".into()]).is_err());
        assert!(words("scopes", &[String::new()]).is_err());
    }

    #[test]
    fn bounded_counts_characters() {
        assert!(bounded("name", "ä", 1).is_ok());
        assert!(bounded("name", "", 1).is_err());
        assert!(bounded("name", "ab", 1).is_err());
    }

    #[test]
    fn pages() {
        assert_eq!(page_args(Page::new(10, 20)), (10, 20));
        assert_eq!(page_args(Page::ALL), (i64::from(u32::MAX), 0));
        assert_eq!(Page::first(5), Page::new(5, 0));
    }
}
