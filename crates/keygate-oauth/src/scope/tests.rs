//! Tests of scope parsing (RFC 6749 §3.3), the role-based issuer and refresh narrowing.

use super::*;
use keygate_model::Tenant;
use proptest::prelude::*;

fn set(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap()
}

fn scope(name: &str, roles: &[&str]) -> Scope {
    Scope {
        tenant: Tenant::default(),
        name: name.into(),
        display_name: name.into(),
        description: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

#[test]
fn parses_sorts_and_deduplicates() {
    let s = set("write openid read write");
    assert_eq!(s.to_vec(), ["openid", "read", "write"]);
    assert_eq!(s.to_string(), "openid read write");
    assert_eq!(s.len(), 3);
    assert!(s.contains("read"));
    assert!(!s.contains("admin"));
    assert_eq!(set("  a   b "), set("b a"));
    assert!(set("").is_empty());
    assert_eq!("apim:subscribe x".parse::<ScopeSet>().unwrap().len(), 2);
}

#[test]
fn scope_token_charset() {
    // Every allowed character, and the three excluded ASCII printables.
    assert!(is_scope_token(
        "!#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~"
    ));
    for bad in ["a\"b", "a\\b", "a\tb", "a\nb", "caf\u{e9}", ""] {
        assert!(!is_scope_token(bad), "{bad:?}");
    }
    for bad in ["read \"write\"", "a\tb", "r\u{e9}ad", "x\\y"] {
        let e = ScopeSet::parse(bad).unwrap_err();
        assert_eq!(e.as_str(), "invalid_scope", "{bad:?}");
    }
    let e = ScopeSet::parse(&"a".repeat(MAX_SCOPE_LEN + 1)).unwrap_err();
    assert_eq!(e.description(), Some("scope too long"));
}

#[test]
fn building_from_tokens() {
    let s = ScopeSet::from_tokens(["b", "a", "b"]).unwrap();
    assert_eq!(s.to_string(), "a b");
    assert!(ScopeSet::from_tokens(["a b"]).is_err());
    let mut s = ScopeSet::new();
    s.insert("x").unwrap();
    assert!(s.insert("bad scope").is_err());
    assert_eq!(s.to_vec(), ["x"]);
}

#[test]
fn role_based_issuer_follows_wso2() {
    let known = [
        scope("apim:subscribe", &["Internal/subscriber", "admin"]),
        scope("apim:api_create", &["Internal/creator"]),
        scope("read", &[]),
    ];
    let issuer = RoleBasedScopeIssuer::new(&known, true);
    let requested = set("apim:subscribe apim:api_create read unknown openid");

    let subscriber = issuer.issue(&requested, &["Internal/subscriber", "Internal/everyone"]);
    assert_eq!(subscriber.to_string(), "apim:subscribe openid read");

    let creator = issuer.issue(&requested, &["Internal/creator"]);
    assert_eq!(creator.to_string(), "apim:api_create openid read");

    let nobody: [&str; 0] = [];
    assert_eq!(issuer.issue(&requested, &nobody).to_string(), "openid read");
    // Role names compare exactly.
    assert_eq!(
        issuer
            .issue(&set("apim:subscribe"), &["internal/subscriber"])
            .to_string(),
        DEFAULT_SCOPE
    );
}

#[test]
fn default_when_nothing_remains() {
    let known = [scope("admin", &["admin"])];
    let issuer = RoleBasedScopeIssuer::new(&known, false);
    assert_eq!(
        issuer.issue(&set("admin unknown"), &["user"]).to_string(),
        "default"
    );
    assert_eq!(
        issuer.issue(&ScopeSet::new(), &["admin"]).to_string(),
        "default"
    );
    assert_eq!(issuer.issue(&set("admin"), &["admin"]).to_string(), "admin");
}

#[test]
fn openid_only_when_requested_and_allowed() {
    let known = [scope("read", &[])];
    let oidc = RoleBasedScopeIssuer::new(&known, true);
    let plain = RoleBasedScopeIssuer::new(&known, false);
    let roles: [&str; 0] = [];
    assert_eq!(oidc.issue(&set("openid"), &roles).to_string(), "openid");
    assert_eq!(oidc.issue(&set("read"), &roles).to_string(), "read");
    assert_eq!(plain.issue(&set("openid read"), &roles).to_string(), "read");
    assert_eq!(plain.issue(&set("openid"), &roles).to_string(), "default");
    // Even a scope table that binds openid to a role does not take it away.
    let bound = [scope(OPENID, &["admin"])];
    assert_eq!(
        RoleBasedScopeIssuer::new(&bound, true)
            .issue(&set("openid"), &roles)
            .to_string(),
        "openid"
    );
}

#[test]
fn refresh_may_narrow_but_not_widen() {
    let original = set("openid read write");
    assert_eq!(narrow_for_refresh(&original, None).unwrap(), original);
    assert_eq!(
        narrow_for_refresh(&original, Some(&set("read"))).unwrap(),
        set("read")
    );
    assert_eq!(
        narrow_for_refresh(&original, Some(&original)).unwrap(),
        original
    );
    let e = narrow_for_refresh(&original, Some(&set("read admin"))).unwrap_err();
    assert_eq!(e.as_str(), "invalid_scope");
    assert_eq!(
        e.description(),
        Some("scope exceeds the original grant: admin")
    );
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = ScopeSet::parse(&text);
    }

    #[test]
    fn round_trip(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..12)) {
        let joined = tokens.join(" ");
        let parsed = ScopeSet::parse(&joined).unwrap();
        let distinct: BTreeSet<&String> = tokens.iter().collect();
        prop_assert_eq!(parsed.len(), distinct.len());
        for t in &tokens {
            prop_assert!(parsed.contains(t));
        }
        prop_assert_eq!(ScopeSet::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn issued_scopes_are_requested_or_default(
        requested in proptest::collection::vec("[a-e]", 0..5),
        bound in proptest::collection::vec(("[a-e]", proptest::collection::vec("[xyz]", 0..2)), 0..5),
        roles in proptest::collection::vec("[xyz]", 0..3),
    ) {
        let known: Vec<Scope> = bound
            .iter()
            .map(|(n, rs)| scope(n, &rs.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        let requested = ScopeSet::from_tokens(&requested).unwrap();
        let granted = RoleBasedScopeIssuer::new(&known, true).issue(&requested, &roles);
        prop_assert!(!granted.is_empty());
        for t in granted.iter() {
            prop_assert!(requested.contains(t) || t == DEFAULT_SCOPE);
        }
    }
}
