//! Database URLs as WSO2 users write them — JDBC (`jdbc:mysql://…`, `jdbc:postgresql://…`,
//! `jdbc:h2:./repository/database/WSO2AM_DB;…`, `jdbc:sqlite:…`) or native
//! (`postgres://`, `mysql://`, `mariadb://`, `sqlite://`) — turned into the native URLs sqlx
//! opens. H2 files become SQLite files of the same path with `.db` appended. JDBC
//! parameters are mapped to sqlx's where one exists (`useSSL=false` → `ssl-mode=disabled`,
//! `ssl=true` → `sslmode=require`), dropped silently where they only tune the Java driver,
//! and dropped with a note otherwise. Errors never repeat the URL: it may hold a password.

use std::path::PathBuf;

/// The database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatabaseBackend {
    /// SQLite, embedded (also what `h2` means in keygate).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl DatabaseBackend {
    /// The engine's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            DatabaseBackend::Sqlite => "SQLite",
            DatabaseBackend::Postgres => "PostgreSQL",
            DatabaseBackend::MySql => "MySQL",
        }
    }
}

impl std::fmt::Display for DatabaseBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Server {
        host: String,
        port: Option<u16>,
        database: String,
    },
    SqliteFile(PathBuf),
    SqliteMemory,
}

/// A database URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatabaseUrl {
    pub(crate) backend: DatabaseBackend,
    pub(crate) location: Location,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// Parameters in sqlx's names, in order.
    pub(crate) params: Vec<(String, String)>,
    /// Things dropped on the way, worth a warning.
    pub(crate) notes: Vec<String>,
}

/// Why a URL could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error(
        "unsupported database url: expected jdbc:mysql://, jdbc:mariadb://, jdbc:postgresql://, jdbc:h2:, jdbc:sqlite:, postgres://, mysql://, mariadb:// or sqlite://"
    )]
    UnknownScheme,
    #[error("the url names no host")]
    NoHost,
    #[error("the url's port is not a number from 1 to 65535")]
    BadPort,
    #[error("the url names no database")]
    NoDatabase,
    #[error(
        "H2 in server or in-archive mode (jdbc:h2:tcp:, ssl:, zip:) has no embedded equivalent; use a file path, or MySQL/PostgreSQL"
    )]
    H2Server,
    #[error("the url names no file")]
    NoFile,
    #[error("a home-relative path (~) needs HOME to be set")]
    NoHome,
    #[error(
        "MySQL Connector/J load-balancing and replication urls are not supported; give one host"
    )]
    MySqlMultiMode,
}

/// Reads a JDBC or native URL. `home` expands a leading `~` in H2 paths.
pub(crate) fn parse_database_url(url: &str, home: Option<&str>) -> Result<DatabaseUrl, UrlError> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let after = |prefix: &str| url.get(prefix.len()..).unwrap_or_default();
    if lower.starts_with("jdbc:mysql:loadbalance:") || lower.starts_with("jdbc:mysql:replication:")
    {
        return Err(UrlError::MySqlMultiMode);
    }
    if lower.starts_with("jdbc:mysql://") {
        server_url(DatabaseBackend::MySql, after("jdbc:mysql://"), true)
    } else if lower.starts_with("jdbc:mariadb://") {
        server_url(DatabaseBackend::MySql, after("jdbc:mariadb://"), true)
    } else if lower.starts_with("jdbc:postgresql://") {
        server_url(DatabaseBackend::Postgres, after("jdbc:postgresql://"), true)
    } else if lower.starts_with("jdbc:postgresql:") {
        let rest = after("jdbc:postgresql:");
        server_url(
            DatabaseBackend::Postgres,
            &format!("localhost/{rest}"),
            true,
        )
    } else if lower.starts_with("jdbc:h2:") {
        h2_url(after("jdbc:h2:"), home)
    } else if lower.starts_with("jdbc:sqlite:") {
        sqlite_url(after("jdbc:sqlite:"))
    } else if lower.starts_with("postgres://") {
        server_url(DatabaseBackend::Postgres, after("postgres://"), false)
    } else if lower.starts_with("postgresql://") {
        server_url(DatabaseBackend::Postgres, after("postgresql://"), false)
    } else if lower.starts_with("mysql://") {
        server_url(DatabaseBackend::MySql, after("mysql://"), false)
    } else if lower.starts_with("mariadb://") {
        server_url(DatabaseBackend::MySql, after("mariadb://"), false)
    } else if lower.starts_with("sqlite://") {
        sqlite_url(after("sqlite://"))
    } else if lower.starts_with("sqlite:") {
        sqlite_url(after("sqlite:"))
    } else {
        Err(UrlError::UnknownScheme)
    }
}

fn split_once_or(text: &str, sep: char) -> (&str, Option<&str>) {
    match text.split_once(sep) {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    }
}

/// `[user[:password]@]host[:port][,more hosts]/database[?params]`.
fn server_url(backend: DatabaseBackend, rest: &str, jdbc: bool) -> Result<DatabaseUrl, UrlError> {
    let (before_query, query) = split_once_or(rest, '?');
    let (authority, path) = split_once_or(before_query, '/');
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut notes = Vec::new();
    let mut host_list = hosts.split(',');
    let first = host_list.next().unwrap_or_default();
    if host_list.next().is_some() {
        notes.push("the url lists several hosts; keygate connects to the first".to_owned());
    }
    let (host, port) = host_and_port(first)?;
    let database = percent_decode(path.unwrap_or_default().trim_end_matches('/'));
    if database.is_empty() {
        return Err(UrlError::NoDatabase);
    }
    let (mut username, mut password) = match userinfo {
        Some(info) => {
            let (u, p) = split_once_or(info, ':');
            (
                Some(percent_decode(u)).filter(|u| !u.is_empty()),
                p.map(percent_decode),
            )
        }
        None => (None, None),
    };
    let mut params = Vec::new();
    for (key, value) in query_pairs(query.unwrap_or_default()) {
        match key.as_str() {
            "user" if jdbc => username = Some(value),
            "password" if jdbc => password = Some(value),
            _ if jdbc => map_jdbc_param(backend, &key, value, &mut params, &mut notes),
            _ => params.push((key, value)),
        }
    }
    Ok(DatabaseUrl {
        backend,
        location: Location::Server {
            host,
            port,
            database,
        },
        username,
        password,
        params,
        notes,
    })
}

fn host_and_port(text: &str) -> Result<(String, Option<u16>), UrlError> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UrlError::NoHost)?;
        (format!("[{host}]"), after.strip_prefix(':'))
    } else {
        let (h, p) = split_once_or(text, ':');
        (h.to_owned(), p)
    };
    if host.is_empty() || host == "[]" {
        return Err(UrlError::NoHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(UrlError::BadPort)?,
        ),
    };
    Ok((host, port))
}

/// JDBC parameters that only tune the Java driver: dropped without a word.
const JAVA_ONLY_MYSQL: &[&str] = &[
    "autoReconnect",
    "autoReconnectForPools",
    "useUnicode",
    "allowPublicKeyRetrieval",
    "serverTimezone",
    "zeroDateTimeBehavior",
    "useLegacyDatetimeCode",
    "useJDBCCompliantTimezoneShift",
    "cachePrepStmts",
    "prepStmtCacheSize",
    "prepStmtCacheSqlLimit",
    "useServerPrepStmts",
    "rewriteBatchedStatements",
    "verifyServerCertificate",
    "connectTimeout",
    "socketTimeout",
    "maxReconnects",
    "failOverReadOnly",
    "relaxAutoCommit",
    "nullCatalogMeansCurrent",
    "tinyInt1isBit",
];
const JAVA_ONLY_POSTGRES: &[&str] = &[
    "prepareThreshold",
    "loginTimeout",
    "connectTimeout",
    "socketTimeout",
    "tcpKeepAlive",
    "reWriteBatchedInserts",
    "stringtype",
    "sslfactory",
    "sslfactoryarg",
    "targetServerType",
    "loadBalanceHosts",
    "autosave",
    "binaryTransfer",
    "defaultRowFetchSize",
];
/// Parameters sqlx reads under the same name.
const SQLX_MYSQL: &[&str] = &[
    "ssl-mode",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
    "charset",
    "collation",
    "statement-cache-capacity",
    "socket",
    "timezone",
];
const SQLX_POSTGRES: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "options",
    "statement-cache-capacity",
];

fn map_jdbc_param(
    backend: DatabaseBackend,
    key: &str,
    value: String,
    params: &mut Vec<(String, String)>,
    notes: &mut Vec<String>,
) {
    let truthy = value.eq_ignore_ascii_case("true");
    let mapped: Option<(&str, String)> = match (backend, key) {
        (DatabaseBackend::MySql, "useSSL" | "useSsl") => Some((
            "ssl-mode",
            if truthy { "required" } else { "disabled" }.to_owned(),
        )),
        (DatabaseBackend::MySql, "requireSSL") if truthy => {
            Some(("ssl-mode", "required".to_owned()))
        }
        (DatabaseBackend::MySql, "requireSSL") => return,
        (DatabaseBackend::MySql, "sslMode" | "sslmode") => {
            Some(("ssl-mode", value.to_ascii_lowercase()))
        }
        (DatabaseBackend::MySql, "characterEncoding") => {
            let v = value.to_ascii_lowercase().replace('-', "");
            if v == "utf8" || v == "utf8mb4" {
                Some(("charset", "utf8mb4".to_owned()))
            } else {
                notes.push(format!(
                    "JDBC parameter `{key}` has no keygate equivalent for this encoding, ignored"
                ));
                return;
            }
        }
        (DatabaseBackend::MySql, "connectionCollation") => Some(("collation", value)),
        (DatabaseBackend::MySql, k) if JAVA_ONLY_MYSQL.contains(&k) => return,
        (DatabaseBackend::MySql, k) if SQLX_MYSQL.contains(&k) => Some((k, value)),
        (DatabaseBackend::Postgres, "ssl") => {
            if truthy {
                Some(("sslmode", "require".to_owned()))
            } else {
                Some(("sslmode", "disable".to_owned()))
            }
        }
        (DatabaseBackend::Postgres, "ApplicationName") => Some(("application_name", value)),
        (DatabaseBackend::Postgres, "currentSchema") => {
            Some(("options", format!("-c search_path={value}")))
        }
        (DatabaseBackend::Postgres, k) if JAVA_ONLY_POSTGRES.contains(&k) => return,
        (DatabaseBackend::Postgres, k) if SQLX_POSTGRES.contains(&k) => Some((k, value)),
        _ => None,
    };
    match mapped {
        Some((name, value)) => {
            // A later parameter of the same meaning wins, as in the JDBC driver.
            params.retain(|(k, _)| k != name);
            params.push((name.to_owned(), value));
        }
        None => notes.push(format!(
            "JDBC parameter `{key}` has no keygate equivalent, ignored"
        )),
    }
}

/// `[file:]path[;PROPERTY=value...]`, or `mem:name`.
fn h2_url(rest: &str, home: Option<&str>) -> Result<DatabaseUrl, UrlError> {
    let (path, _properties) = split_once_or(rest, ';');
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("mem:") {
        return Ok(sqlite_memory());
    }
    if ["tcp:", "ssl:", "zip:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Err(UrlError::H2Server);
    }
    let path = path
        .strip_prefix("file:")
        .or_else(|| path.strip_prefix("nio:"))
        .unwrap_or(path);
    if path.is_empty() {
        return Err(UrlError::NoFile);
    }
    let path = match path.strip_prefix('~') {
        Some(tail) => {
            let home = home.ok_or(UrlError::NoHome)?;
            format!("{}{tail}", home.trim_end_matches('/'))
        }
        None => path.to_owned(),
    };
    let file = if path.ends_with(".db") {
        path
    } else {
        format!("{path}.db")
    };
    Ok(sqlite_file(PathBuf::from(file), Vec::new()))
}

/// `path[?params]` or `:memory:`.
fn sqlite_url(rest: &str) -> Result<DatabaseUrl, UrlError> {
    let (path, query) = split_once_or(rest, '?');
    if path == ":memory:" || (path.is_empty() && query.is_some_and(|q| q.contains("mode=memory"))) {
        return Ok(sqlite_memory());
    }
    if path.is_empty() {
        return Err(UrlError::NoFile);
    }
    let params = query_pairs(query.unwrap_or_default());
    Ok(sqlite_file(PathBuf::from(percent_decode(path)), params))
}

fn sqlite_file(path: PathBuf, mut params: Vec<(String, String)>) -> DatabaseUrl {
    if !params.iter().any(|(k, _)| k == "mode") {
        params.push(("mode".to_owned(), "rwc".to_owned()));
    }
    DatabaseUrl {
        backend: DatabaseBackend::Sqlite,
        location: Location::SqliteFile(path),
        username: None,
        password: None,
        params,
        notes: Vec::new(),
    }
}

fn sqlite_memory() -> DatabaseUrl {
    DatabaseUrl {
        backend: DatabaseBackend::Sqlite,
        location: Location::SqliteMemory,
        username: None,
        password: None,
        params: Vec::new(),
        notes: Vec::new(),
    }
}

/// `a=1&b=2`, also with the `&amp;` users copy from XML; values percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .replace("&amp;", "&")
        .split(['&', ';'])
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = split_once_or(pair, '=');
            (percent_decode(k), percent_decode(v.unwrap_or_default()))
        })
        .collect()
}

impl DatabaseUrl {
    /// The URL sqlx opens; with `with_password` false, the same without the password, for
    /// logs.
    pub(crate) fn native(&self, with_password: bool) -> String {
        let query = |params: &[(String, String)]| {
            if params.is_empty() {
                String::new()
            } else {
                let pairs: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                    .collect();
                format!("?{}", pairs.join("&"))
            }
        };
        match &self.location {
            Location::SqliteMemory => "sqlite::memory:".to_owned(),
            Location::SqliteFile(path) => format!(
                "sqlite://{}{}",
                percent_encode_path(&path.to_string_lossy()),
                query(&self.params)
            ),
            Location::Server {
                host,
                port,
                database,
            } => {
                let scheme = match self.backend {
                    DatabaseBackend::Postgres => "postgres",
                    _ => "mysql",
                };
                let mut userinfo = String::new();
                if let Some(user) = &self.username {
                    userinfo.push_str(&percent_encode(user));
                    if let (true, Some(password)) = (with_password, &self.password) {
                        userinfo.push(':');
                        userinfo.push_str(&percent_encode(password));
                    }
                    userinfo.push('@');
                }
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!(
                    "{scheme}://{userinfo}{host}{port}/{}{}",
                    percent_encode(database),
                    query(&self.params)
                )
            }
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    encode_except(text, is_unreserved)
}

/// Like [`percent_encode`], keeping `/` so a file path stays readable.
fn percent_encode_path(text: &str) -> String {
    encode_except(text, |b| is_unreserved(b) || b == b'/')
}

fn encode_except(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
