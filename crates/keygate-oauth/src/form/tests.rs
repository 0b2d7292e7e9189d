//! Tests of strict form parsing: RFC 6749 §3.1 repetition, empty values, limits, escapes,
//! and round-trips through [`encode_pairs`].

use super::*;
use proptest::prelude::*;

fn code_of(result: Result<Form, OAuthError>) -> (String, String) {
    let e = result.unwrap_err();
    (
        e.as_str().to_owned(),
        e.description().unwrap_or("").to_owned(),
    )
}

#[test]
fn parses_a_token_request_body() {
    let form = Form::parse(
        b"grant_type=authorization_code&code=Spl%78Og&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb",
    )
    .unwrap();
    assert_eq!(form.get("grant_type"), Some("authorization_code"));
    assert_eq!(form.get("code"), Some("SplxOg"));
    assert_eq!(
        form.get("redirect_uri"),
        Some("https://client.example.com/cb")
    );
    assert_eq!(form.len(), 3);
    assert_eq!(form.require("code").unwrap(), "SplxOg");
}

#[test]
fn plus_is_space_and_escaped_plus_is_plus() {
    let form = Form::parse(b"scope=openid+profile&password=a%2Bb").unwrap();
    assert_eq!(form.get("scope"), Some("openid profile"));
    assert_eq!(form.get("password"), Some("a+b"));
}

#[test]
fn repeated_parameter_is_invalid_request_naming_it() {
    let (code, description) = code_of(Form::parse(b"scope=a&code=x&scope=b"));
    assert_eq!(code, "invalid_request");
    assert_eq!(description, "parameter repeated: scope");
    // Even the same value twice is a repetition.
    let (code, _) = code_of(Form::parse(b"code=x&code=x"));
    assert_eq!(code, "invalid_request");
}

#[test]
fn resource_may_repeat() {
    let form = Form::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
    assert_eq!(form.get_all("resource"), ["https://a", "https://b"]);
    assert_eq!(form.get("resource"), Some("https://a"));
    let strict = FormLimits {
        repeatable: &[],
        ..FormLimits::default()
    };
    assert!(Form::parse_with(b"resource=a&resource=b", &strict).is_err());
}

#[test]
fn empty_values_are_absent() {
    let form = Form::parse(b"scope=&state=xyz&nonce&&").unwrap();
    assert_eq!(form.get("scope"), None);
    assert!(!form.contains("nonce"));
    assert_eq!(form.get("state"), Some("xyz"));
    assert_eq!(form.len(), 1);
    // An empty value does not make a later one a repetition.
    let form = Form::parse(b"scope=&scope=openid").unwrap();
    assert_eq!(form.get("scope"), Some("openid"));
    let (code, description) = code_of(Form::parse(b"x=1").and_then(|f| {
        f.require("scope")?;
        Ok(f)
    }));
    assert_eq!(code, "invalid_request");
    assert_eq!(description, "missing parameter: scope");
}

#[test]
fn nameless_pairs() {
    assert!(Form::parse(b"=").unwrap().is_empty());
    let (code, description) = code_of(Form::parse(b"=value"));
    assert_eq!(code, "invalid_request");
    assert_eq!(description, "parameter without a name");
}

#[test]
fn size_limit() {
    let limits = FormLimits {
        max_bytes: 16,
        ..FormLimits::default()
    };
    assert!(Form::parse_with(b"a=0123456789abcde", &limits).is_err());
    assert!(Form::parse_with(b"a=0123456789abcd", &limits).is_ok());
    let big = vec![b'a'; MAX_FORM_BYTES + 1];
    let (code, description) = code_of(Form::parse(&big));
    assert_eq!(code, "invalid_request");
    assert_eq!(description, "request body too large");
}

#[test]
fn parameter_count_limit_counts_empty_values() {
    let limits = FormLimits {
        max_parameters: 3,
        ..FormLimits::default()
    };
    assert!(Form::parse_with(b"a=1&b=&c=3", &limits).is_ok());
    let (code, description) = code_of(Form::parse_with(b"a=1&b=&c=3&d=4", &limits));
    assert_eq!(code, "invalid_request");
    assert_eq!(description, "too many parameters");
}

#[test]
fn malformed_escapes_and_bad_utf8_are_refused() {
    for body in [
        &b"a=%"[..],
        b"a=%4",
        b"a=%zz",
        b"a%g1=x",
        b"a=%C3%28",
        b"a=\xff",
    ] {
        let (code, _) = code_of(Form::parse(body));
        assert_eq!(code, "invalid_request", "{body:?}");
    }
    assert_eq!(Form::parse(b"a=%C3%A9").unwrap().get("a"), Some("\u{e9}"));
}

#[test]
fn debug_shows_names_not_values() {
    let form = Form::parse(b"client_secret=hunter2&password=swordfish").unwrap();
    let shown = format!("{form:?}");
    assert!(shown.contains("client_secret"));
    assert!(!shown.contains("hunter2"));
    assert!(!shown.contains("swordfish"));
}

#[test]
fn from_pairs_applies_the_same_rules() {
    let form = Form::from_pairs([("a", "1"), ("b", ""), ("r", "x"), ("r", "y")], &["r"]).unwrap();
    assert_eq!(form.get("a"), Some("1"));
    assert!(!form.contains("b"));
    assert_eq!(form.get_all("r"), ["x", "y"]);
    assert!(Form::from_pairs([("a", "1"), ("a", "2")], &[]).is_err());
    assert!(Form::from_pairs([("", "1")], &[]).is_err());
}

#[test]
fn encoding_escapes_reserved_characters() {
    assert_eq!(
        encode_component("a b+c/d?e=f&g~h"),
        "a+b%2Bc%2Fd%3Fe%3Df%26g~h"
    );
    assert_eq!(encode_pairs([("x", "1"), ("y", "\u{e9}")]), "x=1&y=%C3%A9");
    let form = Form::parse(b"b=2&a=1").unwrap();
    assert_eq!(form.encode(), "a=1&b=2");
}

fn name_strategy() -> impl Strategy<Value = String> {
    "[a-z_]{1,12}"
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Form::parse(&body);
    }

    #[test]
    fn arbitrary_text_never_panics(body in "[a-z=&%+0-9A-F]{0,200}") {
        let _ = Form::parse(body.as_bytes());
    }

    #[test]
    fn round_trip(map in proptest::collection::btree_map(name_strategy(), "\\PC{1,40}", 0..20)) {
        let encoded = encode_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let form = Form::parse(encoded.as_bytes()).unwrap();
        prop_assert_eq!(form.len(), map.len());
        for (k, v) in &map {
            prop_assert_eq!(form.get(k), Some(v.as_str()));
        }
        prop_assert_eq!(form.encode(), encoded);
    }

    #[test]
    fn any_component_decodes_to_itself(text in "\\PC{0,60}") {
        prop_assert_eq!(decode_component(encode_component(&text).as_bytes()).unwrap(), text);
    }
}
