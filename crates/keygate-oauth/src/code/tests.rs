//! Tests of authorization code issue and redemption: single use and replay, expiry,
//! client and redirect URI binding, PKCE (RFC 6749 §4.1.2, §4.1.3; RFC 7636 §4.6).

use super::*;
use crate::pkce::{PkceChallenge, s256_challenge};
use crate::random::{BrokenRandom, CountingRandom};
use crate::redirect::ResponseMode;
use keygate_model::PkceMethod;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const NOW: Duration = Duration::from_secs(1_700_000_000);
const CB: &str = "https://app.example/cb";

fn authorize_request(pkce: Option<PkceChallenge>, redirect_sent: bool) -> AuthorizeRequest {
    AuthorizeRequest {
        client_id: "app1".into(),
        redirect_uri: CB.into(),
        requested_redirect_uri: redirect_sent.then(|| CB.to_owned()),
        response_mode: ResponseMode::Query,
        scope: ScopeSet::parse("openid read").unwrap(),
        state: Some("st".into()),
        nonce: Some("n-0S6".into()),
        pkce,
        prompt: Default::default(),
        max_age: None,
    }
}

fn s256() -> Option<PkceChallenge> {
    Some(PkceChallenge {
        challenge: s256_challenge(VERIFIER),
        method: PkceMethod::S256,
    })
}

fn new_code(request: &AuthorizeRequest) -> NewCode {
    let scopes = ScopeSet::parse("openid read").unwrap();
    let tenant = Tenant::default();
    let issue_with = CodeIssue {
        request,
        subject: "alice",
        scopes: &scopes,
        code_id: "code-1",
        tenant: &tenant,
        lifetime: Duration::from_secs(300),
        auth_time: Some(NOW - Duration::from_secs(60)),
    };
    issue(&issue_with, NOW, &mut CountingRandom(7), |c| {
        format!("h:{}", s256_challenge(c.expose()))
    })
    .unwrap()
}

fn exchange<'a>(redirect_uri: Option<&'a str>, verifier: Option<&'a str>) -> CodeExchange<'a> {
    CodeExchange {
        client_id: "app1",
        redirect_uri,
        code_verifier: verifier,
        pkce: PkcePolicy::new(false, false, false),
    }
}

fn refused(code: &AuthorizationCode, ex: &CodeExchange<'_>, now: Duration) -> String {
    match redeem(code, ex, now).unwrap_err() {
        CodeRedeemError::Refused(e) => {
            assert_eq!(e.as_str(), "invalid_grant");
            e.description().unwrap_or("").to_owned()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn issue_records_the_request() {
    let request = authorize_request(s256(), true);
    let NewCode { code, record } = new_code(&request);
    assert_eq!(code.expose().len(), 43);
    assert_eq!(
        record.code_digest,
        format!("h:{}", s256_challenge(code.expose()))
    );
    assert_eq!(record.code_id, "code-1");
    assert_eq!(record.client_id, "app1");
    assert_eq!(record.subject, "alice");
    assert_eq!(record.redirect_uri.as_deref(), Some(CB));
    assert_eq!(record.scopes, ["openid", "read"]);
    assert_eq!(record.pkce_challenge, Some(s256_challenge(VERIFIER)));
    assert_eq!(record.pkce_method, Some(PkceMethod::S256));
    assert_eq!(record.nonce.as_deref(), Some("n-0S6"));
    assert_eq!(record.auth_time_ms, Some(1_699_999_940_000));
    assert_eq!(record.issued_at_ms, 1_700_000_000_000);
    assert_eq!(record.validity_ms, 300_000);
    assert_eq!(record.state, CodeState::Active);
    assert_eq!(record.token_id, None);
    // Printed, a new code shows its lookup key but never the code itself.
    assert!(!format!("{:?}", new_code(&request)).contains(code.expose()));

    let scopes = ScopeSet::new();
    let tenant = Tenant::default();
    let broken = CodeIssue {
        request: &request,
        subject: "alice",
        scopes: &scopes,
        code_id: "c",
        tenant: &tenant,
        lifetime: Duration::from_secs(1),
        auth_time: None,
    };
    assert_eq!(
        issue(&broken, NOW, &mut BrokenRandom, |c| c.expose().to_owned()),
        Err(RandomUnavailable)
    );
}

#[test]
fn redeem_once() {
    let record = new_code(&authorize_request(s256(), true)).record;
    let ok = redeem(
        &record,
        &exchange(Some(CB), Some(VERIFIER)),
        NOW + Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(ok.consumed.state, CodeState::Inactive);
    assert_eq!(ok.consumed.code_id, record.code_id);
    assert_eq!(ok.scopes.to_string(), "openid read");

    // The consumed record presented again is a replay, whoever presents it.
    let mut used = ok.consumed.clone();
    used.token_id = Some("tok-9".into());
    for client in ["app1", "someone-else"] {
        let ex = CodeExchange {
            client_id: client,
            ..exchange(Some(CB), Some(VERIFIER))
        };
        let err = redeem(&used, &ex, NOW).unwrap_err();
        assert_eq!(
            err,
            CodeRedeemError::Replayed {
                code_id: "code-1".into(),
                token_id: Some("tok-9".into()),
            }
        );
        assert_eq!(err.oauth_error().as_str(), "invalid_grant");
    }
}

#[test]
fn revoked_and_expired_states() {
    let mut record = new_code(&authorize_request(None, true)).record;
    record.state = CodeState::Revoked;
    assert_eq!(
        refused(&record, &exchange(Some(CB), None), NOW),
        "authorization code revoked"
    );
    record.state = CodeState::Expired;
    assert_eq!(
        refused(&record, &exchange(Some(CB), None), NOW),
        "authorization code expired"
    );
}

#[test]
fn expiry_is_checked_against_now() {
    let record = new_code(&authorize_request(None, true)).record;
    let ex = exchange(Some(CB), None);
    let last_moment = NOW + Duration::from_secs(300) - Duration::from_millis(1);
    assert!(redeem(&record, &ex, last_moment).is_ok());
    assert_eq!(
        refused(&record, &ex, NOW + Duration::from_secs(300)),
        "authorization code expired"
    );
    assert_eq!(
        refused(&record, &ex, NOW + Duration::from_secs(3600)),
        "authorization code expired"
    );
}

#[test]
fn another_client_is_refused() {
    let record = new_code(&authorize_request(None, true)).record;
    let ex = CodeExchange {
        client_id: "app2",
        ..exchange(Some(CB), None)
    };
    assert_eq!(
        refused(&record, &ex, NOW),
        "authorization code was issued to another client"
    );
}

#[test]
fn redirect_uri_must_repeat_the_authorization_request() {
    let record = new_code(&authorize_request(None, true)).record;
    assert_eq!(
        refused(&record, &exchange(None, None), NOW),
        "redirect_uri required: the authorization request had one"
    );
    assert_eq!(
        refused(
            &record,
            &exchange(Some("https://app.example/other"), None),
            NOW
        ),
        "redirect_uri does not match the authorization request"
    );
    // Not sent at authorization: not required at the token endpoint.
    let record = new_code(&authorize_request(None, false)).record;
    assert!(redeem(&record, &exchange(None, None), NOW).is_ok());
}

#[test]
fn pkce_is_enforced() {
    let with = new_code(&authorize_request(s256(), true)).record;
    assert_eq!(
        refused(&with, &exchange(Some(CB), None), NOW),
        "code_verifier required"
    );
    assert_eq!(
        refused(&with, &exchange(Some(CB), Some(&"x".repeat(43))), NOW),
        "code_verifier does not match"
    );
    // Downgrade: the S256 challenge itself offered as if the method were plain.
    let challenge = s256_challenge(VERIFIER);
    assert_eq!(
        refused(&with, &exchange(Some(CB), Some(&challenge)), NOW),
        "code_verifier does not match"
    );
    let without = new_code(&authorize_request(None, true)).record;
    assert_eq!(
        refused(&without, &exchange(Some(CB), Some(VERIFIER)), NOW),
        "code_verifier sent but the authorization request had no code_challenge"
    );
    let strict = CodeExchange {
        pkce: PkcePolicy::new(true, false, false),
        ..exchange(Some(CB), None)
    };
    assert_eq!(
        refused(&without, &strict, NOW),
        "code was issued without a code_challenge"
    );
}

#[test]
fn plain_codes_need_plain_still_allowed() {
    let plain = "p".repeat(50);
    let request = authorize_request(
        Some(PkceChallenge {
            challenge: plain.clone(),
            method: PkceMethod::Plain,
        }),
        true,
    );
    let record = new_code(&request).record;
    let allowed = CodeExchange {
        pkce: PkcePolicy::new(false, true, false),
        ..exchange(Some(CB), Some(&plain))
    };
    assert!(redeem(&record, &allowed, NOW).is_ok());
    assert_eq!(
        refused(&record, &exchange(Some(CB), Some(&plain)), NOW),
        "code_challenge_method plain is not allowed"
    );
}

#[test]
fn malformed_stored_scope_is_a_server_error() {
    let mut record = new_code(&authorize_request(None, true)).record;
    record.scopes = vec!["bad scope".into()];
    match redeem(&record, &exchange(Some(CB), None), NOW).unwrap_err() {
        CodeRedeemError::Refused(e) => assert_eq!(e.as_str(), "server_error"),
        other => panic!("unexpected {other:?}"),
    }
}
