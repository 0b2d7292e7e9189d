//! MySQL and MariaDB: `mariadb://` URLs, strict SQL mode, and server error numbers (1062
//! duplicate entry, 1452 missing parent row, 1213 deadlock, 1205 lock wait timeout).

use super::ErrorClass;
use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;

/// Strict mode, so that over-long or invalid values are errors instead of silent
/// truncation, the same as on the other backends.
pub(super) const AFTER_CONNECT: &[&str] = &[
    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), \
     'STRICT_TRANS_TABLES', 'NO_ZERO_DATE', 'NO_ENGINE_SUBSTITUTION')",
];

pub(super) const TABLE_EXISTS: &str = "SELECT COUNT(*) FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_name = ?";

/// Takes the server-wide named lock that serializes keygate migrations of the current
/// database, waiting up to ten minutes; 1 when taken. (The driver's own migration lock
/// asks MariaDB for an infinite wait with `-1`, which MariaDB answers with NULL at once,
/// so it does not lock there.)
pub(super) const LOCK_MIGRATIONS: &str =
    "SELECT GET_LOCK(CONCAT('keygate.migrate.', MD5(DATABASE())), 600)";

/// Releases [`LOCK_MIGRATIONS`].
pub(super) const UNLOCK_MIGRATIONS: &str =
    "SELECT RELEASE_LOCK(CONCAT('keygate.migrate.', MD5(DATABASE())))";

/// The driver speaks `mysql://` to MariaDB as well.
pub(super) fn prepare_url(url: &str) -> String {
    match url.get(..10) {
        Some(prefix) if prefix.eq_ignore_ascii_case("mariadb://") => {
            format!("mysql://{}", &url[10..])
        }
        _ => url.to_owned(),
    }
}

/// By server error number, which is finer than SQLSTATE on MySQL.
pub(super) fn classify(error: &dyn DatabaseError) -> ErrorClass {
    let Some(mysql) = error.try_downcast_ref::<MySqlDatabaseError>() else {
        return ErrorClass::Other;
    };
    match mysql.number() {
        1062 | 1586 => ErrorClass::UniqueViolation,
        1452 | 1216 => ErrorClass::ForeignKeyViolation,
        1213 | 1205 => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::prepare_url;

    #[test]
    fn mariadb_scheme_becomes_mysql() {
        assert_eq!(
            prepare_url("mariadb://root@127.0.0.1:3306/apim_db"),
            "mysql://root@127.0.0.1:3306/apim_db"
        );
        assert_eq!(prepare_url("mysql://h/db"), "mysql://h/db");
        assert_eq!(prepare_url("mysql:"), "mysql:");
    }
}
