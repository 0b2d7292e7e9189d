//! Tests of redirect URI registration and matching (RFC 6749 §3.1.2, RFC 8252 §7.3, WSO2
//! `regexp=`) and of building authorization responses (RFC 6749 §4.1.2, RFC 9207).

use super::*;
use crate::form::Form;
use proptest::prelude::*;

fn registered(values: &[&str]) -> RegisteredRedirects {
    RegisteredRedirects::parse(values).unwrap()
}

#[test]
fn exact_match_only() {
    let r = registered(&["https://client.example.com/cb"]);
    assert!(r.matches("https://client.example.com/cb"));
    for other in [
        "https://client.example.com/cb/",
        "https://client.example.com/cb?x=1",
        "https://CLIENT.example.com/cb",
        "https://client.example.com:443/cb",
        "https://client.example.com/Cb",
        "http://client.example.com/cb",
        "https://client.example.com/cb#frag",
    ] {
        assert!(!r.matches(other), "{other}");
        assert!(r.resolve(Some(other)).is_err(), "{other}");
    }
    assert_eq!(
        r.resolve(Some("https://client.example.com/cb")).unwrap(),
        "https://client.example.com/cb"
    );
}

#[test]
fn resolve_without_redirect_uri() {
    let one = registered(&["https://a.example/cb"]);
    assert_eq!(one.resolve(None).unwrap(), "https://a.example/cb");
    let two = registered(&["https://a.example/cb", "https://b.example/cb"]);
    let e = two.resolve(None).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
    assert_eq!(e.description(), Some("missing parameter: redirect_uri"));
    // A pattern is not a URI to redirect to by itself.
    let pattern = registered(&["regexp=https://a\\.example/cb"]);
    assert!(pattern.resolve(None).is_err());
    let none = registered(&[]);
    assert_eq!(
        none.resolve(None).unwrap_err().description(),
        Some("the client has no registered redirect URI")
    );
    assert!(none.resolve(Some("https://a.example/cb")).is_err());
}

#[test]
fn wso2_regexp_callbacks_are_anchored() {
    let r = registered(&["regexp=(https://a\\.example/cb|https://b\\.example/cb)"]);
    assert!(r.matches("https://a.example/cb"));
    assert!(r.matches("https://b.example/cb"));
    for other in [
        "https://a.example/cb/evil",
        "https://evil.example/?https://a.example/cb",
        "https://c.example/cb",
        "https://a.example/cbx",
    ] {
        assert!(!r.matches(other), "{other}");
    }
    assert_eq!(
        r.resolve(Some("https://b.example/cb")).unwrap(),
        "https://b.example/cb"
    );
    // Unescaped dots are the registrant's choice, but the anchors still hold.
    let loose = registered(&["regexp=https://app.example/.*"]);
    assert!(loose.matches("https://app.example/anything?x=1"));
    assert!(!loose.matches("https://evil.example/https://app.example/"));
    // A pattern never admits what no redirect URI may be.
    let any = registered(&["regexp=.*"]);
    assert!(any.matches("https://x.example/cb"));
    assert!(!any.matches("javascript:alert(1)"));
    assert!(!any.matches("https://x.example/cb#f"));
    assert!(!any.matches("relative/path"));
}

#[test]
fn registrations_are_validated() {
    for (value, why) in [
        ("regexp=(unclosed", "invalid regexp redirect URI"),
        ("/relative/cb", "redirect_uri is not a valid absolute URI"),
        (
            "https://a.example/cb#x",
            "redirect_uri must not contain a fragment",
        ),
        ("javascript:alert(1)", "redirect_uri scheme is not allowed"),
        ("data:text/html,hi", "redirect_uri scheme is not allowed"),
        (
            "https://a.example/c b",
            "redirect_uri is not a valid absolute URI",
        ),
    ] {
        let e = RegisteredRedirect::parse(value).unwrap_err();
        assert_eq!(e.as_str(), "invalid_redirect_uri", "{value}");
        assert_eq!(e.description(), Some(why), "{value}");
    }
    let long = format!("https://a.example/{}", "x".repeat(MAX_REDIRECT_URI_LEN));
    assert_eq!(
        RegisteredRedirect::parse(&long).unwrap_err().description(),
        Some("redirect URI too long")
    );
    // A pattern that would compile to something huge is refused, not built.
    let huge = "regexp=(a{1000}){1000}";
    assert!(RegisteredRedirect::parse(huge).is_err());
    // Native app custom schemes are URIs too.
    assert!(RegisteredRedirect::parse("com.example.app:/oauth2redirect").is_ok());
    assert!(RegisteredRedirects::parse(&["https://ok.example/cb", "regexp=("]).is_err());
    assert_eq!(registered(&["https://a/cb", "regexp=x"]).entries().len(), 2);
}

#[test]
fn loopback_port_may_vary() {
    let r = registered(&["http://127.0.0.1/callback", "http://[::1]:8000/cb?x=1"]);
    assert!(r.matches("http://127.0.0.1/callback"));
    assert!(r.matches("http://127.0.0.1:51004/callback"));
    assert!(r.matches("http://[::1]:1/cb?x=1"));
    assert!(r.matches("http://[::1]/cb?x=1"));
    for other in [
        "http://127.0.0.1:51004/other",
        "http://127.0.0.1:0/callback",
        "http://127.0.0.1:70000/callback",
        "http://127.0.0.1:51004/callback/",
        "http://127.0.0.1.evil.example/callback",
        "http://127.0.0.1:80@evil.example/callback",
        "http://[::1]:1/cb?x=2",
        "http://[::1]:1/callback",
        "https://127.0.0.1:443/callback",
        "http://localhost:8080/callback",
    ] {
        assert!(!r.matches(other), "{other}");
    }
    // Non-loopback registrations get no port flexibility.
    let web = registered(&["http://app.example/cb"]);
    assert!(!web.matches("http://app.example:8080/cb"));
}

#[test]
fn response_mode_values() {
    assert_eq!(ResponseMode::parse(None).unwrap(), ResponseMode::Query);
    assert_eq!(
        ResponseMode::parse(Some("query")).unwrap(),
        ResponseMode::Query
    );
    assert_eq!(
        ResponseMode::parse(Some("fragment")).unwrap(),
        ResponseMode::Fragment
    );
    assert_eq!(
        ResponseMode::parse(Some("form_post")).unwrap(),
        ResponseMode::FormPost
    );
    let e = ResponseMode::parse(Some("jwt")).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
    for m in [
        ResponseMode::Query,
        ResponseMode::Fragment,
        ResponseMode::FormPost,
    ] {
        assert_eq!(ResponseMode::parse(Some(m.as_str())).unwrap(), m);
    }
}

#[test]
fn success_redirect_in_query_keeps_existing_query() {
    let r = AuthorizationRedirect::success(
        "https://client.example.com/cb",
        ResponseMode::Query,
        "SplxlOBeZQQYbYS6WxSbIA",
        Some("xyz"),
        Some("https://km.example/oauth2/token"),
    );
    assert_eq!(
        r.location().unwrap(),
        "https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz&iss=https%3A%2F%2Fkm.example%2Foauth2%2Ftoken"
    );
    let with_query = AuthorizationRedirect::success(
        "https://client.example.com/cb?tenant=a",
        ResponseMode::Query,
        "c",
        None,
        None,
    );
    assert_eq!(
        with_query.location().unwrap(),
        "https://client.example.com/cb?tenant=a&code=c"
    );
    let trailing = AuthorizationRedirect::success(
        "https://c.example/cb?",
        ResponseMode::Query,
        "c",
        None,
        None,
    );
    assert_eq!(trailing.location().unwrap(), "https://c.example/cb?code=c");
}

#[test]
fn error_redirect_and_fragment_and_form_post() {
    let e = OAuthError::access_denied("the user denied the request");
    let r = AuthorizationRedirect::error(
        "https://c.example/cb",
        ResponseMode::Fragment,
        &e,
        Some("s t"),
        Some("https://km.example"),
    );
    let location = r.location().unwrap();
    assert_eq!(
        location,
        "https://c.example/cb#error=access_denied&error_description=the+user+denied+the+request&state=s+t&iss=https%3A%2F%2Fkm.example"
    );
    // What the client parses back is what was sent.
    let (_, fragment) = location.split_once('#').unwrap();
    let parsed = Form::parse(fragment.as_bytes()).unwrap();
    assert_eq!(parsed.get("state"), Some("s t"));
    assert_eq!(parsed.get("error"), Some("access_denied"));

    let post = AuthorizationRedirect::error(
        "https://c.example/cb",
        ResponseMode::FormPost,
        &e,
        None,
        None,
    );
    assert_eq!(post.location(), None);
    assert_eq!(post.redirect_uri(), "https://c.example/cb");
    assert_eq!(post.mode(), ResponseMode::FormPost);
    assert_eq!(
        post.params(),
        [
            ("error", "access_denied".to_owned()),
            (
                "error_description",
                "the user denied the request".to_owned()
            )
        ]
    );
}

#[test]
fn debug_hides_the_code() {
    let r = AuthorizationRedirect::success(
        "https://c.example/cb",
        ResponseMode::Query,
        "secretcode",
        Some("st"),
        None,
    );
    let shown = format!("{r:?}");
    assert!(!shown.contains("secretcode"));
    assert!(shown.contains("st"));
}

proptest! {
    #[test]
    fn arbitrary_registrations_and_requests_never_panic(reg in "\\PC{0,80}", req in "\\PC{0,80}") {
        if let Ok(r) = RegisteredRedirects::parse(&[reg.as_str()]) {
            let _ = r.matches(&req);
            let _ = r.resolve(Some(&req));
        }
        let _ = check_uri(&req);
    }

    #[test]
    fn any_loopback_port_matches(port in 1u16.., path in "(/[a-z0-9]{0,8}){0,3}") {
        let r = registered(&[&format!("http://127.0.0.1{path}")]);
        let requested = format!("http://127.0.0.1:{port}{path}");
        prop_assert!(r.matches(&requested));
        let other = format!("http://127.0.0.1:{port}{path}x");
        prop_assert!(!r.matches(&other));
    }

    #[test]
    fn query_parameters_round_trip(code in "[A-Za-z0-9_-]{1,40}", state in "\\PC{1,40}") {
        let r = AuthorizationRedirect::success("https://c.example/cb?a=1", ResponseMode::Query, &code, Some(&state), Some("https://km.example"));
        let location = r.location().unwrap();
        let parsed_url = url::Url::parse(&location).unwrap();
        let query = parsed_url.query().unwrap();
        let form = Form::parse(query.as_bytes()).unwrap();
        prop_assert_eq!(form.get("a"), Some("1"));
        prop_assert_eq!(form.get("code"), Some(code.as_str()));
        prop_assert_eq!(form.get("state"), Some(state.as_str()));
        prop_assert_eq!(form.get("iss"), Some("https://km.example"));
    }
}
