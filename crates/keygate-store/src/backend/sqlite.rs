//! SQLite, the embedded default: the database file and its directory are created on open,
//! every connection runs in WAL mode with foreign keys on and a busy timeout, and write
//! transactions take the write lock up front (`BEGIN IMMEDIATE`) so that concurrent
//! writers queue instead of failing.

use super::ErrorClass;
use crate::error::{StoreError, StoreResult, redact_url};
use sqlx::error::DatabaseError;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Connection settings: write-ahead log (synced at checkpoints, not at every commit),
/// enforced foreign keys, up to 30 s of waiting for the write lock before `SQLITE_BUSY`,
/// and a page cache of up to 8 MiB (SQLite's default is 2 MiB), which the connection that
/// writes issued tokens keeps warm with the index pages it touches.
pub(super) const AFTER_CONNECT: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 30000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -8192",
];

/// Takes the write lock at the start, so a transaction never fails midway on an upgrade
/// from a read lock.
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub(super) const TABLE_EXISTS: &str =
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?";

/// The file path and query of a SQLite URL; no path for an in-memory database.
fn split_url(url: &str) -> (Option<&str>, Option<&str>) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let in_memory = path.is_empty()
        || path == ":memory:"
        || query.is_some_and(|q| q.split('&').any(|p| p == "mode=memory"));
    ((!in_memory).then_some(path), query)
}

/// Adds `mode=rwc` when no mode is given and creates the directory of the database file.
pub(super) fn prepare_url(url: &str) -> StoreResult<String> {
    let (path, query) = split_url(url);
    if let Some(dir) = path.and_then(|p| Path::new(p).parent())
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid {
            field: "database url",
            reason: format!("cannot create directory for {}: {e}", redact_url(url)),
        })?;
    }
    Ok(match query {
        Some(q) if q.split('&').any(|p| p.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None if path.is_none() => url.to_owned(),
        None => format!("{url}?mode=rwc"),
    })
}

/// The file whose exclusive lock serializes migrations of the database at `url`, across
/// processes: SQLite itself offers no lock that outlives the migrations' own transactions.
pub(super) fn migration_lock_file(url: &str) -> Option<PathBuf> {
    split_url(url)
        .0
        .map(|path| PathBuf::from(format!("{path}.migrate-lock")))
}

/// Blocks until this process holds the exclusive lock on `path`; released when the file
/// is dropped.
pub(super) fn lock_file(path: &Path) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// SQLite's extended result codes: 2067 `SQLITE_CONSTRAINT_UNIQUE`, 1555
/// `SQLITE_CONSTRAINT_PRIMARYKEY`, 787 `SQLITE_CONSTRAINT_FOREIGNKEY`, 5/517/6/262 busy and
/// locked.
pub(super) fn classify(error: &dyn DatabaseError) -> ErrorClass {
    match error.code().as_deref() {
        Some("2067" | "1555") => ErrorClass::UniqueViolation,
        Some("787") => ErrorClass::ForeignKeyViolation,
        Some("5" | "517" | "6" | "262") => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_get_rwc_mode_and_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/deeper/apim.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(prepare_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(file.parent().unwrap().is_dir());
        let with_query = format!("{url}?cache=shared");
        assert_eq!(
            prepare_url(&with_query).unwrap(),
            format!("{with_query}&mode=rwc")
        );
        let ro = format!("{url}?mode=ro");
        assert_eq!(prepare_url(&ro).unwrap(), ro);
        assert_eq!(prepare_url("sqlite::memory:").unwrap(), "sqlite::memory:");
        assert_eq!(
            migration_lock_file(&url),
            Some(PathBuf::from(format!("{}.migrate-lock", file.display())))
        );
        assert_eq!(migration_lock_file("sqlite::memory:"), None);
    }

    #[test]
    fn lock_file_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.migrate-lock");
        let held = lock_file(&path).unwrap();
        let other = File::options().write(true).open(&path).unwrap();
        assert!(other.try_lock().is_err(), "second holder refused");
        drop(held);
        assert!(other.try_lock().is_ok(), "free once dropped");
    }
}
