//! [`StoreError`], the one error of every repository, and the redaction of database URLs so
//! that no password ever reaches an error message or a log line.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the connection.
    #[error("{backend} database at {addr} is unavailable: {source}")]
    Unavailable {
        /// `sqlite`, `postgres` or `mysql`.
        backend: &'static str,
        /// Where the database is, without credentials.
        addr: String,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },
    /// A row with the same unique key already exists, or a concurrent change won.
    #[error("{what} already exists")]
    Conflict {
        /// What clashed, e.g. `application name for owner`.
        what: String,
    },
    /// The row to change or refer to does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The database was migrated by a newer keygate; this one leaves it untouched.
    #[error(
        "database schema version {found} \
         is newer than the {known} this keygate knows; upgrade keygate"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Latest version this binary carries.
        known: i64,
    },
    /// The database lacks migrations and the store was opened without applying them.
    #[error(
        "database schema version {found} \
         is older than the {known} this keygate needs; run `keygate migrate`"
    )]
    SchemaOutdated {
        /// Version found in the database (0 for an empty database).
        found: i64,
        /// Latest version this binary carries.
        known: i64,
    },
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// Another process holds the migration lock for too long, or the lock cannot be taken.
    #[error("cannot take the migration lock: {0}")]
    MigrationLock(String),
    /// A value given to the store cannot be stored.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A stored value cannot be read back into the domain type.
    #[error("stored {field} is unreadable: {reason}")]
    Corrupt {
        /// The column.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Hashing or checking a password failed.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// Any other database error.
    #[error("{backend} database error: {source}")]
    Backend {
        /// `sqlite`, `postgres` or `mysql`.
        backend: &'static str,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// A conflict on `what`.
    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    /// A missing `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// Whether this is a [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether this is a [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where a database URL points, without scheme credentials or query: `host:port/database`
/// for a server, the file path for SQLite.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => match url.split_once(':') {
            Some((scheme, rest)) => (scheme, rest),
            None => return String::from("<unparsable url>"),
        },
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("sqlite") {
        return rest.to_owned();
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_credentials_and_query() {
        assert_eq!(
            redact_url("postgres://kg:s3cret@db.example:5432/apim_db?sslmode=require"),
            "db.example:5432/apim_db"
        );
        assert_eq!(
            redact_url("mysql://root:p%40ss@127.0.0.1:3306/shared_db"),
            "127.0.0.1:3306/shared_db"
        );
        assert_eq!(redact_url("mysql://root@127.0.0.1:3306"), "127.0.0.1:3306");
        assert_eq!(
            redact_url("sqlite://./data/apim.db?mode=rwc"),
            "./data/apim.db"
        );
        assert_eq!(redact_url("sqlite:data/x.db"), "data/x.db");
        assert_eq!(redact_url("nonsense"), "<unparsable url>");
    }

    proptest::proptest! {
        #[test]
        fn redaction_never_shows_a_password(
            password in "[^@/?#]{1,40}",
            scheme in "(postgres|postgresql|mysql|mariadb)",
            database in "[a-z_]{0,12}",
        ) {
            let url = format!("{scheme}://keygate:{password}@db.internal:5432/{database}?ssl=true");
            let redacted = redact_url(&url);
            proptest::prop_assert_eq!(redacted, format!("db.internal:5432/{database}"));
        }
    }

    #[test]
    fn errors_never_print_the_password() {
        let err = StoreError::Unavailable {
            backend: "postgres",
            addr: redact_url("postgres://kg:hunter2@127.0.0.1:1/apim"),
            source: sqlx::Error::PoolTimedOut,
        };
        let text = err.to_string();
        assert!(text.contains("127.0.0.1:1/apim"), "{text}");
        assert!(!text.contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}
