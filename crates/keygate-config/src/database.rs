//! `[database.apim_db]` and `[database.shared_db]`: which engine, the native URL sqlx
//! opens (credentials included, hence a [`Secret`]), a printable URL without the password,
//! and the connection pool. An absent table means embedded SQLite under `data_dir`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keygate_model::Secret;

use crate::assemble::Assembler;
use crate::defaults;
use crate::duration::BareUnit;
use crate::file::{DatabaseFile, PoolFile};
pub use crate::jdbc::DatabaseBackend;
use crate::jdbc::{DatabaseUrl, Location, parse_database_url};

/// One logical database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// The engine.
    pub backend: DatabaseBackend,
    /// Native sqlx URL, credentials included.
    pub url: Secret,
    /// The same URL without the password, for logs.
    pub display_url: String,
    /// Connection pool.
    pub pool: PoolSettings,
    /// The SQLite file, when the backend is SQLite on disk (its directory may need
    /// creating before the first connection).
    pub sqlite_file: Option<PathBuf>,
    /// Whether the location was defaulted from `data_dir` (no `url` in the file).
    pub defaulted: bool,
}

/// The connection pool, from WSO2's `pool_options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// `maxActive`.
    pub max_connections: u32,
    /// `minIdle`.
    pub min_connections: u32,
    /// `maxWait`: how long a caller waits for a connection.
    pub acquire_timeout: Duration,
    /// `minEvictableIdleTimeMillis`: idle connections older than this are closed.
    pub idle_timeout: Option<Duration>,
    /// `maxAge`: connections older than this are closed.
    pub max_lifetime: Option<Duration>,
    /// `testOnBorrow`: check a connection before handing it out.
    pub test_before_acquire: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: defaults::POOL_MAX_CONNECTIONS,
            min_connections: defaults::POOL_MIN_CONNECTIONS,
            acquire_timeout: defaults::POOL_ACQUIRE_TIMEOUT,
            idle_timeout: None,
            max_lifetime: None,
            test_before_acquire: true,
        }
    }
}

impl DatabaseSettings {
    /// Embedded SQLite in `file`.
    pub fn embedded_file(file: PathBuf, pool: PoolSettings) -> Self {
        let url = DatabaseUrl {
            backend: DatabaseBackend::Sqlite,
            location: Location::SqliteFile(file),
            username: None,
            password: None,
            params: vec![("mode".to_owned(), "rwc".to_owned())],
            notes: Vec::new(),
        };
        Self::from_url(&url, pool, false)
    }

    /// Embedded SQLite at `data_dir/file_name`, marked as defaulted.
    pub(crate) fn embedded_default(data_dir: &Path, file_name: &str) -> Self {
        let mut settings = Self::embedded_file(data_dir.join(file_name), PoolSettings::default());
        settings.defaulted = true;
        settings
    }

    fn from_url(url: &DatabaseUrl, pool: PoolSettings, defaulted: bool) -> Self {
        DatabaseSettings {
            backend: url.backend,
            url: Secret::new(url.native(true)),
            display_url: url.native(false),
            pool,
            sqlite_file: match &url.location {
                Location::SqliteFile(path) => Some(path.clone()),
                _ => None,
            },
            defaulted,
        }
    }
}

/// What `type` declares.
fn declared_backend(kind: &str) -> Option<DatabaseBackend> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "h2" | "sqlite" | "sqlite3" => Some(DatabaseBackend::Sqlite),
        "mysql" | "mariadb" => Some(DatabaseBackend::MySql),
        "postgre" | "postgres" | "postgresql" => Some(DatabaseBackend::Postgres),
        _ => None,
    }
}

const DATABASE_TYPES: &str =
    "`h2`, `sqlite`, `mysql`, `mariadb`, `postgre`, `postgres` or `postgresql`";

/// `[database.<name>]` into settings; `file_name` is the embedded default's file.
pub(crate) fn database_settings(
    a: &mut Assembler<'_>,
    name: &str,
    file: Option<DatabaseFile>,
    data_dir: &Path,
    file_name: &str,
) -> DatabaseSettings {
    let Some(file) = file else {
        return DatabaseSettings::embedded_default(data_dir, file_name);
    };
    let table = format!("database.{name}");
    let declared = file.kind.as_deref().and_then(|kind| {
        let backend = declared_backend(kind);
        if backend.is_none() {
            a.error(
                format!("{table}.type"),
                format!("unknown database type `{kind}`, expected {DATABASE_TYPES}"),
            );
        }
        backend
    });
    let pool = pool_settings(
        a,
        &format!("{table}.pool_options"),
        file.pool_options.as_ref(),
    );
    let Some(url) = &file.url else {
        return match declared {
            Some(DatabaseBackend::MySql | DatabaseBackend::Postgres) => {
                a.error(
                    format!("{table}.url"),
                    format!(
                        "`url` is required for a {} database",
                        declared.map_or("", |b| b.name())
                    ),
                );
                DatabaseSettings::embedded_default(data_dir, file_name)
            }
            _ => {
                let mut settings = DatabaseSettings::embedded_default(data_dir, file_name);
                settings.pool = pool;
                settings
            }
        };
    };
    let home = (a.env)("HOME");
    let mut parsed = match parse_database_url(url.expose(), home.as_deref()) {
        Ok(parsed) => parsed,
        Err(e) => {
            a.error(format!("{table}.url"), e.to_string());
            return DatabaseSettings::embedded_default(data_dir, file_name);
        }
    };
    for note in std::mem::take(&mut parsed.notes) {
        a.warning(format!("{table}.url"), note);
    }
    if let Some(declared) = declared
        && declared != parsed.backend
    {
        let kind = file.kind.as_deref().unwrap_or_default();
        a.error(
            format!("{table}.type"),
            format!(
                "type `{kind}` is {declared}, but `url` is a {} url",
                parsed.backend
            ),
        );
    }
    if parsed.backend != DatabaseBackend::Sqlite {
        if let Some(username) = &file.username {
            parsed.username = Some(username.clone());
        }
        if let Some(password) = &file.password {
            parsed.password = Some(password.expose().to_owned());
        }
        if parsed.password.is_some() && parsed.username.is_none() {
            a.error(
                format!("{table}.username"),
                "a password is given without a `username`",
            );
        }
    }
    DatabaseSettings::from_url(&parsed, pool, false)
}

fn pool_settings(a: &mut Assembler<'_>, table: &str, file: Option<&PoolFile>) -> PoolSettings {
    let mut pool = PoolSettings::default();
    let Some(file) = file else {
        return pool;
    };
    if let Some(max) = file.max_active {
        match u32::try_from(max) {
            Ok(max) if max > 0 => pool.max_connections = max,
            _ => a.error(
                format!("{table}.maxActive"),
                "expected a positive number of connections",
            ),
        }
    }
    if let Some(min) = file.min_idle {
        match u32::try_from(min) {
            Ok(min) => pool.min_connections = min,
            Err(_) => a.error(
                format!("{table}.minIdle"),
                "expected zero or more connections",
            ),
        }
    }
    if pool.min_connections > pool.max_connections {
        a.error(
            format!("{table}.minIdle"),
            format!(
                "minIdle {} is more than maxActive {}",
                pool.min_connections, pool.max_connections
            ),
        );
    }
    let path = format!("{table}.maxWait");
    pool.acquire_timeout = a.duration(
        &path,
        file.max_wait.as_ref(),
        BareUnit::Milliseconds,
        pool.acquire_timeout,
    );
    let path = format!("{table}.minEvictableIdleTimeMillis");
    pool.idle_timeout = a.optional_duration(
        &path,
        file.min_evictable_idle_time_millis.as_ref(),
        BareUnit::Milliseconds,
    );
    let path = format!("{table}.maxAge");
    pool.max_lifetime = a.optional_duration(&path, file.max_age.as_ref(), BareUnit::Milliseconds);
    if let Some(test) = file.test_on_borrow {
        pool.test_before_acquire = test;
    }
    pool
}
