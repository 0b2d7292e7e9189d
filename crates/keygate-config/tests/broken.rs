//! Broken files: each gives the right message at the right key and line, all problems of a
//! file come back together, and no secret ever appears in a report.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use std::path::{Path, PathBuf};

use keygate_config::{Diagnostic, Report, Severity, check_str_with_env, load_str_with_env};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(name)
}

fn check(name: &str) -> Report {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let no_env = |_: &str| None;
    let report = check_str_with_env(&text, &path, &no_env);
    let loaded = load_str_with_env(&text, &path, &no_env);
    assert!(loaded.is_err(), "{name} must not load");
    assert_eq!(loaded.err().as_ref(), Some(&report), "load and check agree");
    report
}

fn at<'r>(report: &'r Report, key_path: &str) -> &'r Diagnostic {
    report
        .diagnostics
        .iter()
        .find(|d| d.key_path == key_path)
        .unwrap_or_else(|| panic!("no diagnostic at {key_path}:\n{report}"))
}

fn error_at<'r>(report: &'r Report, key_path: &str, line: usize, words: &str) -> &'r Diagnostic {
    let d = at(report, key_path);
    assert_eq!(d.severity, Severity::Error, "{d}");
    assert_eq!(d.line, Some(line), "{d}");
    assert!(d.message.contains(words), "`{words}` not in: {d}");
    d
}

#[test]
fn a_typo_gets_a_suggestion() {
    let report = check("typo_key.toml");
    error_at(&report, "database.apim_db.typ", 5, "did you mean `type`?");
    let line = report.to_string();
    assert!(
        line.ends_with("typo_key.toml:5: database.apim_db.typ: unknown key, did you mean `type`?"),
        "{line}"
    );
    assert!(line.starts_with("error: "));
}

#[test]
fn a_string_for_a_boolean_is_refused() {
    let report = check("wrong_type.toml");
    error_at(
        &report,
        "apim.jwt.enable",
        2,
        "expected a boolean, found a string",
    );
}

#[test]
fn an_unknown_database_type_is_named() {
    let report = check("bad_database_type.toml");
    error_at(
        &report,
        "database.shared_db.type",
        2,
        "unknown database type `oracle`",
    );
}

#[test]
fn a_type_that_contradicts_the_url_is_an_error_on_type() {
    let report = check("type_url_mismatch.toml");
    let d = error_at(&report, "database.apim_db.type", 2, "PostgreSQL");
    assert!(d.message.contains("MySQL"), "{d}");
}

#[test]
fn unresolvable_placeholders_name_their_key() {
    let report = check("unresolvable_placeholder.toml");
    error_at(
        &report,
        "server.hostname",
        2,
        "environment variable `KEYGATE_CONFIG_TEST_UNSET_HOST` is not set",
    );
    error_at(
        &report,
        "apim.key_manager.service_url",
        5,
        "`${no.such.property}`",
    );
    error_at(
        &report,
        "apim.key_manager.username",
        6,
        "no key `super_admin.name`",
    );
    assert_eq!(report.errors().count(), 3, "{report}");
}

#[test]
fn an_offset_past_the_last_port_is_refused() {
    let report = check("port_overflow.toml");
    error_at(&report, "server.offset", 2, "past 65535");
}

#[test]
fn malformed_toml_gives_line_and_column() {
    let report = check("malformed.toml");
    let d = report.errors().next().unwrap();
    assert!(d.message.starts_with("TOML syntax error"), "{d}");
    assert_eq!(d.line, Some(4), "{d}");
    assert!(d.column.is_some());
    assert!(report.to_string().contains("malformed.toml:4:"), "{report}");
}

#[test]
fn an_invalid_context_regex_is_refused() {
    let report = check("invalid_regex.toml");
    error_at(
        &report,
        "resource.access_control[0].context",
        2,
        "not a valid regular expression",
    );
}

#[test]
fn duplicate_and_unknown_roles_are_refused() {
    let report = check("bad_roles.toml");
    error_at(&report, "server.roles[2]", 2, "listed twice");
    error_at(&report, "server.roles[3]", 2, "did you mean `gateway`?");
}

#[test]
fn a_bad_duration_is_refused() {
    let report = check("bad_duration.toml");
    error_at(
        &report,
        "apim.cache.gateway_token.expiry_time",
        3,
        "not a duration",
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let report = check("many_errors.toml");
    error_at(&report, "server.offset", 3, "expected an offset");
    error_at(&report, "server.roles[1]", 4, "unknown role `broker`");
    error_at(&report, "database.apim_db.ur", 8, "did you mean `url`?");
    // What the typo leaves missing is said too.
    error_at(&report, "database.apim_db.url", 6, "`url` is required");
    error_at(
        &report,
        "apim.throttling.enable_data_publishing",
        11,
        "expected a boolean",
    );
    error_at(
        &report,
        "apim.throttling.throttle_decision_endpoints[0]",
        12,
        "unsupported broker",
    );
    error_at(
        &report,
        "apim.throttling.url_group[0].traffic_manager_urls[0]",
        15,
        "tcp://",
    );
    error_at(
        &report,
        "apim.throttling.url_group[0].type",
        16,
        "`roundrobin`",
    );
    error_at(&report, "apim.cache.resource.expiry_time", 19, "negative");
    error_at(&report, "serverr", 21, "did you mean `server`?");
    assert_eq!(report.errors().count(), 10, "{report}");
    let lines: Vec<usize> = report.diagnostics.iter().filter_map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "reported in file order");
}

#[test]
fn no_secret_reaches_a_report() {
    let report = check("secrets.toml");
    let text = report.to_string();
    let debug = format!("{report:?}");
    assert!(report.errors().count() >= 8, "{text}");
    for shown in [&text, &debug] {
        assert!(!shown.contains("Zq9-SECRET"), "a secret leaked:\n{shown}");
        assert!(!shown.contains("12345"), "a secret leaked:\n{shown}");
    }
    // The problems themselves are still reported, by key.
    error_at(
        &report,
        "super_admin.pasword",
        4,
        "did you mean `password`?",
    );
    error_at(&report, "database.apim_db.url", 8, "port");
    error_at(
        &report,
        "database.apim_db.drvier",
        10,
        "did you mean `driver`?",
    );
    error_at(
        &report,
        "database.shared_db.password",
        15,
        "expected a string",
    );
    error_at(&report, "user_store.connection_url", 17, "connection_url");
    error_at(&report, "keystore.tls.type", 23, "`BOGUS`");
    error_at(
        &report,
        "apim.throttling.throttle_decision_endpoints[0]",
        29,
        "port",
    );
    error_at(
        &report,
        "apim.key_manager.password",
        32,
        "KEYGATE_CONFIG_TEST_SECRET_VAR",
    );
    error_at(&report, "apim.key_manager.service_url", 33, "http");
    error_at(
        &report,
        "event_listener[0].enable",
        37,
        "expected a boolean",
    );
    // Inside an ignored table, an unresolvable placeholder does not matter.
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.key_path.starts_with("apim.devportal.")),
        "{text}"
    );
    let syntax = report
        .errors()
        .find(|d| d.message.starts_with("TOML syntax error"))
        .unwrap_or_else(|| panic!("the unterminated string is reported:\n{text}"));
    assert_eq!(syntax.line, Some(46));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn wso2_style() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/wso2-style-api-manager.toml"),
        )
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any damage to a real file yields a report, never a panic, and errors carry a
        /// line whenever they name a key.
        #[test]
        fn damaged_files_still_give_a_report(cut in any::<prop::sample::Index>(), len in 0usize..40, insert in "[\\[\\]=\"{}$a-z.\n ]{0,6}") {
            let text = wso2_style();
            let mut start = cut.index(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let damaged = format!("{}{}{}", &text[..start], insert, &text[end..]);
            let report = check_str_with_env(&damaged, Path::new("d.toml"), &|_| None);
            for d in &report.diagnostics {
                prop_assert!(d.key_path.is_empty() || d.line.is_some(), "{}", d);
            }
        }

        #[test]
        fn arbitrary_text_gives_a_report(text in "[\\[\\]=\"{}$a-z_.,0-9\n ]{0,200}") {
            let _ = check_str_with_env(&text, Path::new("a.toml"), &|_| None);
        }
    }
}

/// References to references double a value at each step; found by the `config_load` fuzz
/// target, where a 600-byte file reached gigabytes. Each stays a bounded error now.
#[test]
fn exponential_references_are_refused_not_expanded() {
    for name in ["ref-string-doubling.toml", "ref-array-doubling.toml"] {
        let report = check(name);
        assert!(report.has_errors(), "{name}");
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.message.contains("expand this value past 64 KiB")),
            "{name}:\n{report}"
        );
    }
}
