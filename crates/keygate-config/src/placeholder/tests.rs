//! Placeholder parsing and resolution.

use super::*;
use crate::document::parse;
use proptest::prelude::*;

fn resolve_text(text: &str, env: &[(&str, &str)]) -> Resolution {
    let (tree, errors) = parse(text);
    assert!(errors.is_empty(), "{errors:?}");
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    resolve(&tree, &lookup)
}

fn string_at(resolution: &Resolution, dotted: &str) -> Option<String> {
    match &resolution.tree.get(&KeyPath::from_dotted(dotted))?.value {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn templates_split_into_text_and_placeholders() {
    assert_eq!(
        parse_template("https://${carbon.host}:$env{PORT}/x/$ref{a.b}").unwrap(),
        vec![
            Piece::Text("https://".into()),
            Piece::Property("carbon.host".into()),
            Piece::Text(":".into()),
            Piece::Env("PORT".into()),
            Piece::Text("/x/".into()),
            Piece::Ref("a.b".into()),
        ]
    );
    assert_eq!(
        parse_template("cost $5 and $$").unwrap(),
        vec![Piece::Text("cost $5 and $$".into())]
    );
    assert_eq!(
        parse_template("a ${b"),
        Err(TemplateError::Unterminated("${"))
    );
    assert_eq!(
        parse_template("$env{ }"),
        Err(TemplateError::Empty("$env{"))
    );
}

#[test]
fn wso2_properties_follow_the_offset() {
    let r = resolve_text(
        "[server]\nhostname = \"km.example\"\noffset = 1\nbase_path = \"${carbon.protocol}://${carbon.host}:${carbon.management.port}\"\n\
         [x]\nnio = \"${https.nio.port}/${http.nio.port}/${mgt.transport.http.port}/${Ports.EmbeddedLDAP.LDAPServerPort}${carbon.context}\"\n",
        &[],
    );
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(
        string_at(&r, "server.base_path").as_deref(),
        Some("https://km.example:9444")
    );
    assert_eq!(
        string_at(&r, "x.nio").as_deref(),
        Some("8244/8281/9764/10390/")
    );
}

#[test]
fn admin_properties_come_from_super_admin() {
    let r = resolve_text(
        "[super_admin]\nusername = \"root\"\npassword = \"pw\"\n[y]\nu = \"${admin.username}\"\np = \"${admin.password}\"\n",
        &[],
    );
    assert!(r.failures.is_empty());
    assert_eq!(string_at(&r, "y.u").as_deref(), Some("root"));
    assert_eq!(string_at(&r, "y.p").as_deref(), Some("pw"));
}

#[test]
fn references_keep_their_type_when_whole() {
    let r = resolve_text(
        "[server]\noffset = 3\n[a]\nn = \"$ref{server.offset}\"\ns = \"port-$ref{server.offset}\"\nl = \"$ref{b.list}\"\n[b]\nlist = [\"$env{ONE}\", \"two\"]\n",
        &[("ONE", "1")],
    );
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let n = r.tree.get(&KeyPath::from_dotted("a.n")).unwrap();
    assert_eq!(n.value, Value::Integer(3));
    assert_eq!(string_at(&r, "a.s").as_deref(), Some("port-3"));
    match &r.tree.get(&KeyPath::from_dotted("a.l")).unwrap().value {
        Value::Array(items) => {
            assert_eq!(items[0].value, Value::String("1".into()));
            assert_eq!(items[1].value, Value::String("two".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn properties_fall_back_to_the_environment() {
    let r = resolve_text(
        "[a]\nv = \"${KEYGATE_TEST_ONLY}\"\n",
        &[("KEYGATE_TEST_ONLY", "set")],
    );
    assert_eq!(string_at(&r, "a.v").as_deref(), Some("set"));
}

#[test]
fn failures_name_the_key_and_drop_it() {
    let r = resolve_text(
        "[a]\nmissing_env = \"$env{KEYGATE_NOT_SET_ANYWHERE}\"\nmissing_ref = \"$ref{a.nope}\"\nmissing_prop = \"x${no.such.prop}\"\nok = \"fine\"\n",
        &[],
    );
    let paths: Vec<String> = r.failures.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(paths, ["a.missing_env", "a.missing_prop", "a.missing_ref"]);
    assert!(r.tree.get(&KeyPath::from_dotted("a.missing_env")).is_none());
    assert_eq!(string_at(&r, "a.ok").as_deref(), Some("fine"));
    assert!(r.failures[0].1.contains("KEYGATE_NOT_SET_ANYWHERE"));
}

#[test]
fn cycles_are_reported_not_followed() {
    let r = resolve_text("[a]\nx = \"$ref{a.y}\"\ny = \"$ref{a.x}\"\n", &[]);
    assert!(!r.failures.is_empty());
    assert!(
        r.failures
            .iter()
            .any(|(_, m)| m.contains("refers back to itself"))
    );
    let r = resolve_text("[server]\nhostname = \"${carbon.host}\"\n", &[]);
    assert!(
        r.failures[0].1.contains("defined through itself"),
        "{:?}",
        r.failures
    );
}

#[test]
fn port_overflow_is_a_failure() {
    let r = resolve_text(
        "[server]\noffset = 60000\n[a]\np = \"${https.nio.port}\"\n",
        &[],
    );
    assert_eq!(r.failures.len(), 1);
    assert!(r.failures[0].1.contains("exceeds 65535"));
}

fn piece() -> impl Strategy<Value = Piece> {
    let name = "[A-Za-z_][A-Za-z0-9_.]{0,12}";
    prop_oneof![
        "[a-zA-Z0-9 :/._-]{1,10}".prop_map(Piece::Text),
        name.prop_map(Piece::Ref),
        name.prop_map(Piece::Env),
        name.prop_map(Piece::Property),
    ]
}

fn merge_text(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Text(prev)), Piece::Text(t)) => prev.push_str(&t),
            (_, p) => out.push(p),
        }
    }
    out
}

proptest! {
    #[test]
    fn render_then_parse_round_trips(pieces in proptest::collection::vec(piece(), 0..8)) {
        let pieces = merge_text(pieces);
        let text = render(&pieces);
        prop_assert_eq!(parse_template(&text).unwrap(), pieces);
    }

    #[test]
    fn text_without_openers_is_left_alone(text in "[^{}]{0,40}") {
        let parsed = parse_template(&text).unwrap();
        if text.is_empty() {
            prop_assert!(parsed.is_empty());
        } else {
            prop_assert_eq!(parsed, vec![Piece::Text(text.clone())]);
        }
    }
}
