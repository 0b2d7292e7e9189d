//! Schema migrations. One migration set per backend (`migrations/<backend>/`), embedded
//! in the binary, carries the whole keygate schema — `apim_db` tables and `shared_db`
//! tables alike — and is applied to every keygate database. Table names are disjoint and
//! the history lives in one table (`kg_schema_migrations`), so `apim_db` and `shared_db`
//! may be one database: applying the set a second time is a no-op. In a deployment with
//! two databases, the user tables of `apim_db` and the API tables of `shared_db` simply
//! stay empty.
//!
//! A database migrated by a newer keygate (a version this binary does not carry) is left
//! untouched and reported as [`StoreError::SchemaTooNew`].

use crate::backend::MIGRATIONS_TABLE;
use crate::db::{Db, StoreOptions};
use crate::error::{StoreError, StoreResult};
use sqlx::{AnyConnection, Row};

/// Whether opening a store may change the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateMode {
    /// Apply pending migrations (the default at server start).
    Apply,
    /// Only check that the schema is current; fail with [`StoreError::SchemaOutdated`]
    /// otherwise.
    VerifyOnly,
}

/// What a migration run did to one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// `sqlite`, `postgres` or `mysql`.
    pub backend: &'static str,
    /// The database, without credentials.
    pub database: String,
    /// Schema version before the run (0 for an empty database).
    pub from_version: i64,
    /// Schema version after the run.
    pub to_version: i64,
    /// Versions applied by this run, in order; empty when the schema was current.
    pub applied: Vec<i64>,
}

/// Applies every pending migration to the database `options` names (`keygate migrate`).
pub async fn migrate(options: &StoreOptions) -> StoreResult<MigrationReport> {
    let db = Db::connect(options).await?;
    let report = apply(&db, None).await;
    db.close().await;
    report
}

/// Applies pending migrations up to and including `target` only: for staged upgrades and
/// for upgrade tests that need a database as an older keygate left it.
pub async fn migrate_to(options: &StoreOptions, target: i64) -> StoreResult<MigrationReport> {
    let db = Db::connect(options).await?;
    let report = apply(&db, Some(target)).await;
    db.close().await;
    report
}

/// The latest schema version this binary carries.
pub fn latest_schema_version() -> i64 {
    // Every backend carries the same versions (tested), so any one answers.
    known_version(crate::backend::Backend::Sqlite)
}

fn known_version(backend: crate::backend::Backend) -> i64 {
    backend
        .migrator()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// The versions recorded as applied, ascending; empty when the database has no history.
pub(crate) async fn applied_versions(db: &Db) -> StoreResult<Vec<i64>> {
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(|e| db.fail(e, "schema history"))?;
    applied_versions_on(db, &mut conn).await
}

/// [`applied_versions`], read on `conn`.
async fn applied_versions_on(db: &Db, conn: &mut AnyConnection) -> StoreResult<Vec<i64>> {
    let exists: i64 = db
        .query(db.backend().table_exists_sql())
        .bind(MIGRATIONS_TABLE)
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| db.fail(e, "schema history"))?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT version FROM {MIGRATIONS_TABLE} WHERE success ORDER BY version");
    db.query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db.fail(e, "schema history"))?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| db.fail(e, "schema history"))
}

/// The current schema version (0 for an empty database).
pub(crate) async fn schema_version(db: &Db) -> StoreResult<i64> {
    Ok(applied_versions(db).await?.last().copied().unwrap_or(0))
}

fn refuse_newer(found: &[i64], known: i64) -> StoreResult<()> {
    match found.iter().copied().max() {
        Some(found) if found > known => Err(StoreError::SchemaTooNew { found, known }),
        _ => Ok(()),
    }
}

/// Applies pending migrations (up to `target` when given), one migrator at a time. Where
/// the lock is a database session (MySQL, MariaDB) the migrations run on that session,
/// so a pool of one connection (`maxActive = 1`) can migrate.
pub(crate) async fn apply(db: &Db, target: Option<i64>) -> StoreResult<MigrationReport> {
    let mut lock = db.lock_migrations().await?;
    let report = match lock.session() {
        Some(session) => apply_locked(db, target, session).await,
        None => match db.pool().acquire().await {
            Ok(mut conn) => apply_locked(db, target, &mut conn).await,
            Err(e) => Err(db.fail(e, "schema history")),
        },
    };
    lock.release().await;
    report
}

async fn apply_locked(
    db: &Db,
    target: Option<i64>,
    conn: &mut AnyConnection,
) -> StoreResult<MigrationReport> {
    let backend = db.backend();
    let known = known_version(backend);
    let before = applied_versions_on(db, conn).await?;
    refuse_newer(&before, known)?;
    let migrator = backend.migrator();
    // On one connection (`run_direct`: sqlx's `run` over a borrowed connection does not
    // give a `Send` future).
    migrator
        .run_direct(target, conn, false)
        .await
        .map_err(StoreError::Migration)?;
    let after = applied_versions_on(db, conn).await?;
    let applied: Vec<i64> = after
        .iter()
        .copied()
        .filter(|v| !before.contains(v))
        .collect();
    if !applied.is_empty() {
        tracing::info!(
            backend = backend.name(),
            database = db.addr(),
            ?applied,
            "applied schema migrations"
        );
    }
    Ok(MigrationReport {
        backend: backend.name(),
        database: db.addr().to_owned(),
        from_version: before.last().copied().unwrap_or(0),
        to_version: after.last().copied().unwrap_or(0),
        applied,
    })
}

/// Checks that the schema is exactly what this binary knows, changing nothing.
pub(crate) async fn verify(db: &Db) -> StoreResult<()> {
    let known = known_version(db.backend());
    let found = applied_versions(db).await?;
    refuse_newer(&found, known)?;
    let current = found.last().copied().unwrap_or(0);
    if current < known {
        return Err(StoreError::SchemaOutdated {
            found: current,
            known,
        });
    }
    Ok(())
}

/// Brings the schema to this binary's version as `mode` allows.
pub(crate) async fn prepare(db: &Db, mode: MigrateMode) -> StoreResult<()> {
    match mode {
        MigrateMode::Apply => apply(db, None).await.map(|_| ()),
        MigrateMode::VerifyOnly => verify(db).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_are_refused() {
        assert!(refuse_newer(&[], 2).is_ok());
        assert!(refuse_newer(&[1, 2], 2).is_ok());
        assert!(matches!(
            refuse_newer(&[1, 2, 3], 2),
            Err(StoreError::SchemaTooNew { found: 3, known: 2 })
        ));
        assert!(latest_schema_version() >= 2);
    }
}
