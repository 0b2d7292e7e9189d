//! JDBC and native database URLs.

use super::*;
use proptest::prelude::*;

fn native(url: &str) -> String {
    parse_database_url(url, Some("/home/u"))
        .unwrap()
        .native(true)
}

#[test]
fn mysql_jdbc_urls_become_native_with_xml_ampersands_understood() {
    let parsed = parse_database_url(
        "jdbc:mysql://localhost:3306/apim_db?autoReconnect=true&amp;useSSL=false",
        None,
    )
    .unwrap();
    assert_eq!(parsed.backend, DatabaseBackend::MySql);
    assert_eq!(parsed.params, vec![("ssl-mode".into(), "disabled".into())]);
    assert!(parsed.notes.is_empty(), "autoReconnect is dropped silently");
    assert_eq!(
        parsed.native(true),
        "mysql://localhost:3306/apim_db?ssl-mode=disabled"
    );
    assert_eq!(
        native("jdbc:mariadb://db.example/shared_db"),
        "mysql://db.example/shared_db"
    );
}

#[test]
fn unknown_jdbc_parameters_leave_a_note() {
    let parsed = parse_database_url(
        "jdbc:mysql://h/db?fancyOption=1&characterEncoding=UTF-8",
        None,
    )
    .unwrap();
    assert_eq!(parsed.params, vec![("charset".into(), "utf8mb4".into())]);
    assert_eq!(parsed.notes.len(), 1);
    assert!(parsed.notes[0].contains("fancyOption"));
}

#[test]
fn postgres_jdbc_urls_map_ssl_and_schema() {
    assert_eq!(
        native(
            "jdbc:postgresql://localhost:5432/apim_db?ssl=true&currentSchema=am&prepareThreshold=0"
        ),
        "postgres://localhost:5432/apim_db?sslmode=require&options=-c%20search_path%3Dam"
    );
    assert_eq!(
        native("jdbc:postgresql:apim_db"),
        "postgres://localhost/apim_db"
    );
}

#[test]
fn jdbc_credentials_in_the_query_are_lifted_out() {
    let parsed =
        parse_database_url("jdbc:postgresql://h/db?user=am&password=p%40ss", None).unwrap();
    assert_eq!(parsed.username.as_deref(), Some("am"));
    assert_eq!(parsed.password.as_deref(), Some("p@ss"));
    assert_eq!(parsed.native(true), "postgres://am:p%40ss@h/db");
    assert_eq!(parsed.native(false), "postgres://am@h/db");
}

#[test]
fn h2_paths_become_sqlite_files() {
    let parsed = parse_database_url(
        "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE;MVCC=TRUE",
        None,
    )
    .unwrap();
    assert_eq!(
        parsed.location,
        Location::SqliteFile(PathBuf::from("./repository/database/WSO2AM_DB.db"))
    );
    assert_eq!(
        parsed.native(true),
        "sqlite://./repository/database/WSO2AM_DB.db?mode=rwc"
    );
    assert_eq!(
        native("jdbc:h2:file:/var/am/DB"),
        "sqlite:///var/am/DB.db?mode=rwc"
    );
    assert_eq!(
        native("jdbc:h2:~/wso2/DB"),
        "sqlite:///home/u/wso2/DB.db?mode=rwc"
    );
    assert_eq!(native("jdbc:h2:mem:test"), "sqlite::memory:");
    assert_eq!(
        parse_database_url("jdbc:h2:tcp://localhost/~/test", None),
        Err(UrlError::H2Server)
    );
    assert_eq!(
        parse_database_url("jdbc:h2:~/x", None),
        Err(UrlError::NoHome)
    );
}

#[test]
fn sqlite_urls_in_every_spelling() {
    assert_eq!(
        native("jdbc:sqlite:data/am.db"),
        "sqlite://data/am.db?mode=rwc"
    );
    assert_eq!(
        native("sqlite://data/am.db"),
        "sqlite://data/am.db?mode=rwc"
    );
    assert_eq!(
        native("sqlite:data/am.db?mode=ro"),
        "sqlite://data/am.db?mode=ro"
    );
    assert_eq!(native("sqlite::memory:"), "sqlite::memory:");
    assert_eq!(native("jdbc:sqlite::memory:"), "sqlite::memory:");
}

#[test]
fn native_urls_keep_their_parts() {
    let parsed =
        parse_database_url("postgresql://u:p@[::1]:5433/am?sslmode=disable", None).unwrap();
    assert_eq!(parsed.backend, DatabaseBackend::Postgres);
    assert_eq!(
        parsed.location,
        Location::Server {
            host: "[::1]".into(),
            port: Some(5433),
            database: "am".into()
        }
    );
    assert_eq!(
        parsed.native(true),
        "postgres://u:p@[::1]:5433/am?sslmode=disable"
    );
    assert_eq!(native("mariadb://h/am"), "mysql://h/am");
}

#[test]
fn broken_urls_are_refused_without_echoing_them() {
    for (url, error) in [
        ("oracle:thin:@h:1521/x", UrlError::UnknownScheme),
        ("jdbc:mysql:///db", UrlError::NoHost),
        ("jdbc:mysql://h:99999/db", UrlError::BadPort),
        ("jdbc:mysql://h:3306/", UrlError::NoDatabase),
        ("jdbc:mysql:loadbalance://a,b/db", UrlError::MySqlMultiMode),
    ] {
        assert_eq!(parse_database_url(url, None), Err(error.clone()), "{url}");
        assert!(!error.to_string().contains(url));
    }
}

#[test]
fn several_hosts_keep_the_first_with_a_note() {
    let parsed = parse_database_url("jdbc:mysql://a:3306,b:3306/db", None).unwrap();
    assert!(matches!(&parsed.location, Location::Server { host, .. } if host == "a"));
    assert_eq!(parsed.notes.len(), 1);
}

fn host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,6}){0,2}"
}

fn credential() -> impl Strategy<Value = String> {
    "[ -~]{1,16}"
}

proptest! {
    #[test]
    fn jdbc_to_native_round_trips(
        mysql in any::<bool>(),
        host in host(),
        port in proptest::option::of(1u16..),
        database in "[A-Za-z_][A-Za-z0-9_]{0,12}",
        user in proptest::option::of("[A-Za-z0-9_.-]{1,10}"),
        password in proptest::option::of(credential()),
    ) {
        let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
        let scheme = if mysql { "jdbc:mysql" } else { "jdbc:postgresql" };
        let jdbc = format!("{scheme}://{host}{port_text}/{database}");
        let mut parsed = parse_database_url(&jdbc, None).unwrap();
        parsed.username = user.clone();
        parsed.password = password.clone();
        let native = parsed.native(true);
        let reparsed = parse_database_url(&native, None).unwrap();
        prop_assert_eq!(reparsed.backend, parsed.backend);
        prop_assert_eq!(&reparsed.location, &parsed.location);
        prop_assert_eq!(reparsed.username, user.clone());
        prop_assert_eq!(reparsed.password, if user.is_some() { password.clone() } else { None });
        if let (Some(_), Some(p)) = (&user, &password) {
            let display = parsed.native(false);
            let encoded = format!(":{}@", percent_encode(p));
            prop_assert!(!display.contains(&encoded));
            prop_assert!(native.contains(&encoded));
        }
    }

    #[test]
    fn percent_encoding_round_trips(text in "\\PC{0,24}") {
        prop_assert_eq!(percent_decode(&percent_encode(&text)), text);
    }

    #[test]
    fn h2_paths_map_to_db_files(path in "[a-zA-Z0-9_./-]{1,30}") {
        prop_assume!(!path.ends_with(".db"));
        let parsed = parse_database_url(&format!("jdbc:h2:{path};DB_CLOSE_ON_EXIT=FALSE"), None).unwrap();
        prop_assert_eq!(parsed.location, Location::SqliteFile(PathBuf::from(format!("{path}.db"))));
    }
}
