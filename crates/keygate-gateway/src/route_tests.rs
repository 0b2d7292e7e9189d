use super::*;
use crate::replica::{Replica, ReplicaChange};
use crate::test_fixtures::{api, template};
use keygate_model::AuthScheme;
use proptest::prelude::*;

fn table(patterns: &[(&str, &str)]) -> ResourceTable {
    let templates: Vec<UrlTemplate> = patterns
        .iter()
        .map(|(p, v)| template(p, v, AuthScheme::Any, &[]))
        .collect();
    ResourceTable::compile(&templates)
}

fn found<'t>(table: &'t ResourceTable, verb: &str, path: &str) -> Option<&'t str> {
    table
        .find(verb, path)
        .map(|r| r.template.url_pattern.as_str())
}

#[test]
fn exact_beats_template_beats_wildcard() {
    let t = table(&[
        ("/*", "GET"),
        ("/orders/*", "GET"),
        ("/orders/{id}", "GET"),
        ("/orders/latest", "GET"),
    ]);
    assert_eq!(found(&t, "GET", "/orders/latest"), Some("/orders/latest"));
    assert_eq!(found(&t, "GET", "/orders/42"), Some("/orders/{id}"));
    assert_eq!(found(&t, "GET", "/orders/42/lines"), Some("/orders/*"));
    assert_eq!(found(&t, "GET", "/orders"), Some("/orders/*"));
    assert_eq!(found(&t, "GET", "/customers"), Some("/*"));
    assert_eq!(found(&t, "GET", "/"), Some("/*"));
}

#[test]
fn more_literal_templates_win_and_earlier_literals_break_ties() {
    let t = table(&[
        ("/{a}/{b}", "GET"),
        ("/{a}/items", "GET"),
        ("/orders/{b}", "GET"),
        ("/{a}/{b}.json", "GET"),
    ]);
    assert_eq!(found(&t, "GET", "/x/items"), Some("/{a}/items"));
    assert_eq!(found(&t, "GET", "/orders/items"), Some("/orders/{b}"));
    assert_eq!(found(&t, "GET", "/x/y"), Some("/{a}/{b}"));
    assert_eq!(found(&t, "GET", "/x/y.json"), Some("/{a}/{b}.json"));
    // `{b}.json` needs something before the suffix.
    assert_eq!(found(&t, "GET", "/x/.json"), Some("/{a}/{b}"));
}

#[test]
fn longer_wildcards_win_and_reserved_expansion_needs_a_segment() {
    let t = table(&[
        ("/*", "GET"),
        ("/a/*", "GET"),
        ("/a/b/*", "GET"),
        ("/files/{+path}", "GET"),
    ]);
    assert_eq!(found(&t, "GET", "/a/b/c"), Some("/a/b/*"));
    assert_eq!(found(&t, "GET", "/a/c"), Some("/a/*"));
    assert_eq!(found(&t, "GET", "/files/x/y/z"), Some("/files/{+path}"));
    assert_eq!(found(&t, "GET", "/files"), Some("/*"));
}

#[test]
fn verbs_are_separate_and_unknown_verbs_match_nothing() {
    let t = table(&[
        ("/items", "GET"),
        ("/items", "post"),
        ("/items/{id}", "DELETE"),
    ]);
    assert_eq!(found(&t, "POST", "/items"), Some("/items"));
    assert_eq!(found(&t, "DELETE", "/items"), None);
    assert_eq!(found(&t, "DELETE", "/items/3"), Some("/items/{id}"));
    assert_eq!(found(&t, "PATCH", "/items"), None);
    assert_eq!(found(&t, "GET", "/items/3"), None);
}

#[test]
fn trailing_slashes_empty_segments_and_template_queries_do_not_matter() {
    let t = table(&[
        ("/menu?category={c}", "GET"),
        ("/items/", "GET"),
        ("/", "GET"),
    ]);
    assert_eq!(found(&t, "GET", "/menu"), Some("/menu?category={c}"));
    assert_eq!(found(&t, "GET", "/items"), Some("/items/"));
    assert_eq!(found(&t, "GET", "//items//"), Some("/items/"));
    assert_eq!(found(&t, "GET", "/"), Some("/"));
    assert_eq!(found(&t, "GET", "/other"), None);
}

#[test]
fn the_first_listed_resource_keeps_a_duplicated_path() {
    let templates = vec![
        template("/dup", "GET", AuthScheme::None, &[]),
        template("/dup", "GET", AuthScheme::Any, &[]),
    ];
    let t = ResourceTable::compile(&templates);
    assert_eq!(
        t.find("GET", "/dup").unwrap().template.auth_scheme,
        AuthScheme::None
    );
}

#[test]
fn contexts_with_and_without_a_version_template() {
    let plain = DeployedApi::compile(api("a", "pets/", "1.0.0", vec![])).unwrap();
    assert_eq!(&*plain.versioned_context, "/pets/1.0.0");
    assert_eq!(plain.default_context, None);

    let mut templated = api("b", "/{version}/shop", "2.0", vec![]);
    templated.is_default_version = true;
    let templated = DeployedApi::compile(templated).unwrap();
    assert_eq!(&*templated.versioned_context, "/2.0/shop");
    assert_eq!(templated.default_context.as_deref(), Some("/shop"));

    assert!(DeployedApi::compile(api("c", "/", "1", vec![])).is_err());
    let deep = "/x".repeat(MAX_CONTEXT_SEGMENTS);
    assert!(DeployedApi::compile(api("d", &deep, "1", vec![])).is_err());
}

#[test]
fn endpoints_are_parsed_once_and_bad_ones_left_out() {
    let mut record = api("a", "/pets", "1", vec![]);
    record.production_endpoint = Some("https://backend.example:8443/v1/".into());
    record.sandbox_endpoint = Some("ftp://nope".into());
    let deployed = DeployedApi::compile(record).unwrap();
    assert_eq!(deployed.production.as_ref().unwrap().base_path(), "/v1");
    assert!(deployed.sandbox.is_none());
}

#[test]
fn prefix_ends_marks_segment_boundaries() {
    let (ends, count) = prefix_ends("/a/bb//c/");
    assert_eq!(&ends[..count], &[2, 5, 8]);
    assert_eq!(prefix_ends("/").1, 0);
    assert_eq!(prefix_ends("").1, 0);
    let long = "/s".repeat(100);
    assert_eq!(prefix_ends(&long).1, MAX_CONTEXT_SEGMENTS);
}

#[test]
fn remainder_after_the_context() {
    let replica = Replica::new();
    replica
        .apply(ReplicaChange::ApiUpserted(api(
            "a",
            "/pets",
            "1.0.0",
            vec![template("/*", "GET", AuthScheme::Any, &[])],
        )))
        .unwrap();
    let snapshot = replica.snapshot();
    let hit = snapshot.route("GET", "/pets/1.0.0/items/3").unwrap();
    assert_eq!(hit.remainder("/pets/1.0.0/items/3"), "/items/3");
    let root = snapshot.route("GET", "/pets/1.0.0").unwrap();
    assert_eq!(root.remainder("/pets/1.0.0"), "/");
    // A context is matched on whole segments only.
    assert_eq!(
        snapshot.route("GET", "/pets/1.0.0x").unwrap_err(),
        RouteError::NoApi
    );
}

fn proptest_replica() -> Replica {
    let replica = Replica::new();
    let templates = vec![
        template("/*", "GET", AuthScheme::Any, &[]),
        template("/orders/{id}", "GET", AuthScheme::Any, &[]),
        template("/a/{x}.json", "POST", AuthScheme::Any, &[]),
        template("/files/{+rest}", "PUT", AuthScheme::Any, &[]),
        template("/exact", "DELETE", AuthScheme::Any, &[]),
    ];
    let mut default = api("d", "/{version}/pets", "1", templates.clone());
    default.is_default_version = true;
    for record in [
        api("a", "/pets", "1.0.0", templates.clone()),
        default,
        api("b", "/a/b/c", "v", templates),
    ] {
        replica.apply(ReplicaChange::ApiUpserted(record)).unwrap();
    }
    replica
}

proptest! {
    #[test]
    fn arbitrary_paths_never_panic_the_router(
        path in "(/[a-z0-9.{}*+%é-]{0,6}){0,40}/?",
        raw in ".{0,200}",
        verb in "(GET|POST|PUT|DELETE|PATCH|get|[A-Z]{0,8})",
    ) {
        let replica = proptest_replica();
        let snapshot = replica.snapshot();
        for candidate in [path.as_str(), raw.as_str()] {
            if let Ok(hit) = snapshot.route(&verb, candidate) {
                // A hit's remainder is a suffix of the path and starts with `/`.
                let rest = hit.remainder(candidate);
                prop_assert!(rest.starts_with('/'));
                prop_assert!(hit.prefix_len <= candidate.len());
                prop_assert!(hit.resource().is_some());
            }
        }
    }

    #[test]
    fn arbitrary_templates_compile_and_match_without_panicking(
        pattern in ".{0,60}",
        path in ".{0,60}",
    ) {
        let compiled = CompiledTemplate::compile(&pattern);
        let _ = compiled.matches(&path);
        let t = table(&[(pattern.as_str(), "GET")]);
        let _ = t.find("GET", &path);
    }
}
