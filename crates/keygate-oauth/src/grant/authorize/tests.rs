//! Tests of authorization request checks and of where their errors go (RFC 6749 §4.1.2.1).

use super::*;
use crate::pkce::s256_challenge;
use keygate_model::{ClientTokenLifetimes, PkceMethod, Tenant, TokenEndpointAuthMethod, TokenType};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CB: &str = "https%3A%2F%2Fapp.example%2Fcb";

fn oauth_client(public: bool) -> OAuthClient {
    OAuthClient {
        client_id: "app1".into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: "app".into(),
        owner: "admin".into(),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "https://app.example/other".into(),
        ],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        token_endpoint_auth_method: if public {
            TokenEndpointAuthMethod::None
        } else {
            TokenEndpointAuthMethod::ClientSecretBasic
        },
        pkce_mandatory: false,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes::default(),
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

fn client() -> AuthorizeClient {
    AuthorizeClient::from_client(&oauth_client(false)).unwrap()
}

fn validate(query: &str) -> Result<AuthorizeRequest, AuthorizeError> {
    AuthorizeRequest::validate(&Form::parse(query.as_bytes()).unwrap(), &client())
}

fn redirected(query: &str) -> (String, Option<String>) {
    match validate(query).unwrap_err() {
        AuthorizeError::Redirect {
            error,
            redirect_uri,
            state,
            ..
        } => {
            assert_eq!(redirect_uri, "https://app.example/cb", "{query}");
            (error.as_str().to_owned(), state)
        }
        other => panic!("expected a redirect for {query}, got {other:?}"),
    }
}

fn shown(query: &str) -> OAuthError {
    match validate(query).unwrap_err() {
        AuthorizeError::ShowToUser(e) => e,
        other => panic!("expected an error shown to the user for {query}, got {other:?}"),
    }
}

#[test]
fn a_complete_request() {
    let challenge = s256_challenge(VERIFIER);
    let query = format!(
        "response_type=code&client_id=app1&redirect_uri={CB}&scope=openid+read&state=af0ifjsldkj&nonce=n-0S6&code_challenge={challenge}&code_challenge_method=S256&prompt=login+consent&max_age=300&response_mode=form_post"
    );
    let r = validate(&query).unwrap();
    assert_eq!(r.client_id, "app1");
    assert_eq!(r.redirect_uri, "https://app.example/cb");
    assert_eq!(
        r.requested_redirect_uri.as_deref(),
        Some("https://app.example/cb")
    );
    assert_eq!(r.scope.to_string(), "openid read");
    assert_eq!(r.state.as_deref(), Some("af0ifjsldkj"));
    assert_eq!(r.nonce.as_deref(), Some("n-0S6"));
    let pkce = r.pkce.clone().unwrap();
    assert_eq!(pkce.method, PkceMethod::S256);
    assert_eq!(pkce.challenge, challenge);
    assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
    assert_eq!(r.max_age, Some(300));
    assert_eq!(r.response_mode, ResponseMode::FormPost);

    let ok = r.success("code123", Some("https://km.example"));
    assert_eq!(ok.location(), None);
    assert_eq!(
        ok.params(),
        [
            ("code", "code123".to_owned()),
            ("state", "af0ifjsldkj".to_owned()),
            ("iss", "https://km.example".to_owned()),
        ]
    );
    let denied = r.error_response(&OAuthError::access_denied("denied"), None);
    assert_eq!(denied.params()[0], ("error", "access_denied".to_owned()));
    assert_eq!(denied.params()[2], ("state", "af0ifjsldkj".to_owned()));
}

#[test]
fn minimal_request_uses_defaults() {
    let r = validate(&format!(
        "response_type=code&client_id=app1&redirect_uri={CB}"
    ))
    .unwrap();
    assert!(r.scope.is_empty());
    assert_eq!(r.response_mode, ResponseMode::Query);
    assert_eq!(r.pkce, None);
    assert_eq!(r.prompt, Prompt::default());
    assert_eq!(r.max_age, None);
    assert_eq!(
        r.success("c", None).location().unwrap(),
        "https://app.example/cb?code=c"
    );
}

#[test]
fn client_and_redirect_errors_are_never_redirected() {
    let e = shown(&format!("response_type=code&redirect_uri={CB}"));
    assert_eq!(e.description(), Some("missing parameter: client_id"));
    let e = shown(&format!(
        "response_type=code&client_id=other&redirect_uri={CB}"
    ));
    assert_eq!(e.as_str(), "invalid_request");
    let e = shown(
        "response_type=code&client_id=app1&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s",
    );
    assert_eq!(
        e.description(),
        Some("redirect_uri does not match a registered redirect URI")
    );
    // Two registered URIs and none requested: no way to know where to send anything.
    let e = shown("response_type=code&client_id=app1");
    assert_eq!(e.description(), Some("missing parameter: redirect_uri"));
    // Even with other defects, a bad redirect URI wins and nothing is redirected.
    let e =
        shown("response_type=token&client_id=app1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%23x");
    assert_eq!(e.as_str(), "invalid_request");

    let unknown = AuthorizeError::unknown_client();
    assert_eq!(unknown.error().as_str(), "invalid_client");
    assert!(unknown.redirect(Some("https://km.example")).is_none());
}

#[test]
fn errors_after_the_redirect_is_verified_are_redirected_with_state() {
    let base = format!("client_id=app1&redirect_uri={CB}&state=xyz");
    for (extra, code) in [
        ("", "invalid_request"),
        ("&response_type=token", "unsupported_response_type"),
        ("&response_type=code+id_token", "unsupported_response_type"),
        ("&response_type=code&response_mode=jwt", "invalid_request"),
        ("&response_type=code&scope=a%22b", "invalid_scope"),
        (
            "&response_type=code&code_challenge=short&code_challenge_method=S256",
            "invalid_request",
        ),
        (
            "&response_type=code&code_challenge_method=S256",
            "invalid_request",
        ),
        ("&response_type=code&prompt=none+login", "invalid_request"),
        ("&response_type=code&prompt=sometimes", "invalid_request"),
        ("&response_type=code&max_age=-1", "invalid_request"),
        ("&response_type=code&max_age=soon", "invalid_request"),
    ] {
        let (error, state) = redirected(&format!("{base}{extra}"));
        assert_eq!(error, code, "{extra}");
        assert_eq!(state.as_deref(), Some("xyz"), "{extra}");
    }
}

#[test]
fn redirect_error_carries_mode_state_and_issuer() {
    let err = validate(&format!(
        "client_id=app1&redirect_uri={CB}&state=s1&response_mode=fragment&response_type=token"
    ))
    .unwrap_err();
    let redirect = err.redirect(Some("https://km.example")).unwrap();
    assert_eq!(
        redirect.location().unwrap(),
        "https://app.example/cb#error=unsupported_response_type&error_description=only+response_type+code+is+supported&state=s1&iss=https%3A%2F%2Fkm.example"
    );
    assert_eq!(err.error().as_str(), "unsupported_response_type");
    // An invalid response_mode is reported through the default mode, the query.
    let err = validate(&format!(
        "client_id=app1&redirect_uri={CB}&response_mode=jwt"
    ))
    .unwrap_err();
    assert!(
        err.redirect(None)
            .unwrap()
            .location()
            .unwrap()
            .starts_with("https://app.example/cb?error=invalid_request")
    );
}

#[test]
fn client_without_code_grant_is_unauthorized() {
    let mut c = oauth_client(false);
    c.grant_types = vec!["client_credentials".into()];
    let client = AuthorizeClient::from_client(&c).unwrap();
    let form =
        Form::parse(format!("response_type=code&client_id=app1&redirect_uri={CB}").as_bytes())
            .unwrap();
    let err = AuthorizeRequest::validate(&form, &client).unwrap_err();
    assert_eq!(err.error().as_str(), "unauthorized_client");
    assert!(err.redirect(None).is_some());
}

#[test]
fn public_clients_need_s256() {
    let client = AuthorizeClient::from_client(&oauth_client(true)).unwrap();
    let run = |q: String| AuthorizeRequest::validate(&Form::parse(q.as_bytes()).unwrap(), &client);
    let err = run(format!(
        "response_type=code&client_id=app1&redirect_uri={CB}"
    ))
    .unwrap_err();
    assert_eq!(err.error().description(), Some("code_challenge required"));
    let plain = "a".repeat(43);
    let err = run(format!(
        "response_type=code&client_id=app1&redirect_uri={CB}&code_challenge={plain}&code_challenge_method=plain"
    ))
    .unwrap_err();
    assert_eq!(err.error().as_str(), "invalid_request");
    let ok = run(format!(
        "response_type=code&client_id=app1&redirect_uri={CB}&code_challenge={}&code_challenge_method=S256",
        s256_challenge(VERIFIER)
    ))
    .unwrap();
    assert_eq!(ok.pkce.unwrap().method, PkceMethod::S256);
}

#[test]
fn broken_registration_is_shown_to_the_user() {
    let mut c = oauth_client(false);
    c.redirect_uris = vec!["regexp=(".into()];
    match AuthorizeClient::from_client(&c).unwrap_err() {
        AuthorizeError::ShowToUser(e) => assert_eq!(e.as_str(), "invalid_redirect_uri"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn single_registered_uri_is_used_when_none_is_sent() {
    let mut c = oauth_client(false);
    c.redirect_uris = vec!["https://app.example/cb".into()];
    let client = AuthorizeClient::from_client(&c).unwrap();
    let form = Form::parse(b"response_type=code&client_id=app1").unwrap();
    let r = AuthorizeRequest::validate(&form, &client).unwrap();
    assert_eq!(r.redirect_uri, "https://app.example/cb");
    assert_eq!(r.requested_redirect_uri, None);
    assert_eq!(AuthorizeRequest::client_id_of(&form).unwrap(), "app1");
}

#[test]
fn prompt_values() {
    assert_eq!(Prompt::parse(None).unwrap(), Prompt::default());
    assert!(Prompt::parse(Some("none")).unwrap().none);
    assert!(
        Prompt::parse(Some("select_account"))
            .unwrap()
            .select_account
    );
    assert!(Prompt::parse(Some("none consent")).is_err());
    assert!(Prompt::parse(Some("Login")).is_err());
}
