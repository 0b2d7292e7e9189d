//! Tests of refresh token rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2).

use super::*;
use crate::random::{BrokenRandom, CountingRandom};
use keygate_model::Tenant;

const NOW: Duration = Duration::from_secs(1_700_000_000);
const DAY: Duration = Duration::from_secs(86_400);

fn record() -> AccessToken {
    AccessToken {
        token_id: "t1".into(),
        tenant: Tenant::default(),
        token_digest: "at-digest".into(),
        token_value: None,
        refresh_token_digest: Some("rt-digest".into()),
        refresh_token_value: None,
        refresh_family_id: "fam-1".into(),
        client_id: "app1".into(),
        subject: "alice".into(),
        grant_type: "authorization_code".into(),
        scopes: vec!["openid".into(), "read".into(), "write".into()],
        issued_at_ms: 1_700_000_000_000,
        validity_ms: 3_600_000,
        refresh_issued_at_ms: Some(1_700_000_000_000),
        refresh_validity_ms: Some(86_400_000),
        state: TokenState::Active,
        binding_thumbprint: None,
    }
}

fn request(scope: Option<&ScopeSet>) -> RefreshRequest<'_> {
    RefreshRequest {
        client_id: "app1",
        scope,
        refresh_lifetime: DAY,
    }
}

fn refused(token: &AccessToken, req: &RefreshRequest<'_>, now: Duration) -> OAuthError {
    match rotate(token, req, now, &mut CountingRandom(1)).unwrap_err() {
        RefreshError::Refused(e) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn rotation_issues_a_new_token_and_supersedes_the_old() {
    let presented = record();
    let later = NOW + Duration::from_secs(7200);
    let r = rotate(&presented, &request(None), later, &mut CountingRandom(1)).unwrap();
    assert_eq!(r.superseded.state, TokenState::Inactive);
    assert_eq!(r.superseded.token_id, "t1");
    assert_eq!(r.refresh_token.expose().len(), 43);
    assert_eq!(r.refresh_expires_at, later + DAY);
    assert_eq!(r.refresh_lifetime, DAY);
    assert_eq!(r.family_id, "fam-1");
    assert_eq!(r.subject, "alice");
    assert_eq!(r.grant_type, "authorization_code");
    assert_eq!(r.access_scopes.to_string(), "openid read write");
    assert_eq!(r.refresh_scopes, r.access_scopes);
    assert!(!format!("{r:?}").contains(r.refresh_token.expose()));

    // Two rotations draw different tokens.
    let other = rotate(&presented, &request(None), later, &mut CountingRandom(99)).unwrap();
    assert_ne!(other.refresh_token, r.refresh_token);
}

#[test]
fn a_rotated_token_presented_again_revokes_the_family() {
    let presented = record();
    let r = rotate(&presented, &request(None), NOW, &mut CountingRandom(1)).unwrap();
    // Whoever presents it, the superseded token is a reuse.
    for client in ["app1", "app2"] {
        let req = RefreshRequest {
            client_id: client,
            ..request(None)
        };
        let err = rotate(&r.superseded, &req, NOW, &mut CountingRandom(1)).unwrap_err();
        assert_eq!(
            err,
            RefreshError::ReuseDetected {
                family_id: "fam-1".into()
            }
        );
        assert_eq!(err.oauth_error().as_str(), "invalid_grant");
    }
}

#[test]
fn narrowing_is_allowed_and_escalation_is_not() {
    let presented = record();
    let read = ScopeSet::parse("read").unwrap();
    let r = rotate(
        &presented,
        &request(Some(&read)),
        NOW,
        &mut CountingRandom(1),
    )
    .unwrap();
    assert_eq!(r.access_scopes.to_string(), "read");
    assert_eq!(r.refresh_scopes.to_string(), "openid read write");

    let more = ScopeSet::parse("read admin").unwrap();
    let e = refused(&presented, &request(Some(&more)), NOW);
    assert_eq!(e.as_str(), "invalid_scope");
    assert_eq!(
        e.description(),
        Some("scope exceeds the original grant: admin")
    );
}

#[test]
fn refusals() {
    let mut revoked = record();
    revoked.state = TokenState::Revoked;
    assert_eq!(
        refused(&revoked, &request(None), NOW).description(),
        Some("refresh token revoked")
    );
    let mut expired_state = record();
    expired_state.state = TokenState::Expired;
    assert_eq!(
        refused(&expired_state, &request(None), NOW).description(),
        Some("refresh token expired")
    );
    let other_client = RefreshRequest {
        client_id: "app2",
        ..request(None)
    };
    assert_eq!(
        refused(&record(), &other_client, NOW).description(),
        Some("refresh token was issued to another client")
    );
    let mut no_refresh = record();
    no_refresh.refresh_token_digest = None;
    assert_eq!(
        refused(&no_refresh, &request(None), NOW).description(),
        Some("no refresh token was issued")
    );
    let mut no_validity = record();
    no_validity.refresh_validity_ms = None;
    assert_eq!(
        refused(&no_validity, &request(None), NOW).description(),
        Some("no refresh token was issued")
    );
    let mut bad_scope = record();
    bad_scope.scopes = vec!["a b".into()];
    assert_eq!(
        refused(&bad_scope, &request(None), NOW).as_str(),
        "server_error"
    );
    let e = rotate(&record(), &request(None), NOW, &mut BrokenRandom).unwrap_err();
    assert_eq!(e.oauth_error().as_str(), "server_error");
}

#[test]
fn refresh_expiry_is_checked_against_now() {
    let presented = record();
    let expiry = NOW + DAY;
    assert!(
        rotate(
            &presented,
            &request(None),
            expiry - Duration::from_millis(1),
            &mut CountingRandom(1)
        )
        .is_ok()
    );
    let e = refused(&presented, &request(None), expiry);
    assert_eq!(e.as_str(), "invalid_grant");
    assert_eq!(e.description(), Some("refresh token expired"));
    // The access token's own expiry does not matter to a refresh.
    assert!(
        rotate(
            &presented,
            &request(None),
            NOW + Duration::from_secs(3601),
            &mut CountingRandom(1)
        )
        .is_ok()
    );
}
