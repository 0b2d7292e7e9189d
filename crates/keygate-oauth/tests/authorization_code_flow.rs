//! The authorization code flow through the public API, as the key manager drives it:
//! authorization request, code, token request with client authentication and PKCE, then
//! refresh rotation and reuse detection; with the clock moved forward by hand.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keygate_model::{
    AccessToken, ClientTokenLifetimes, CodeState, OAuthClient, Scope, Secret, Tenant,
    TokenEndpointAuthMethod, TokenState, TokenType,
};
use keygate_oauth::client_auth::verify_client_secret;
use keygate_oauth::code::{self, CodeExchange, CodeIssue};
use keygate_oauth::lifetime::{AccessTokenKind, millis};
use keygate_oauth::pkce::s256_challenge;
use keygate_oauth::refresh::{self, RefreshRequest};
use keygate_oauth::{
    AuthorizeClient, AuthorizeRequest, ClientCredentials, ClientSecretDigest, CodeRedeemError,
    Form, PkcePolicy, RandomSource, RandomUnavailable, RefreshError, RoleBasedScopeIssuer,
    TokenLifetimes, TokenRequest,
};
use std::time::Duration;

const PEPPER: &[u8] = b"server-pepper";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const ISSUER: &str = "https://km.example/oauth2/token";

struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(31);
        }
        Ok(())
    }
}

fn client() -> OAuthClient {
    OAuthClient {
        client_id: "app1".into(),
        tenant: Tenant::default(),
        secret_digest: Some(
            ClientSecretDigest::compute(PEPPER, &Secret::new("s3cret"))
                .as_bytes()
                .to_vec(),
        ),
        client_name: "App".into(),
        owner: "admin".into(),
        redirect_uris: vec!["regexp=(https://app\\.example/cb|https://app\\.example/alt)".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        pkce_mandatory: true,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes {
            refresh_token_ms: Some(3_600_000),
            ..ClientTokenLifetimes::default()
        },
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

fn scopes() -> Vec<Scope> {
    vec![Scope {
        tenant: Tenant::default(),
        name: "apim:subscribe".into(),
        display_name: "Subscribe".into(),
        description: None,
        roles: vec!["Internal/subscriber".into()],
    }]
}

#[test]
fn authorization_code_then_refresh_then_reuse() {
    let client = client();
    let lifetimes = TokenLifetimes::default().for_client(&client.lifetimes);
    let mut rng = Counter(3);
    let t0 = Duration::from_secs(1_700_000_000);

    // 1. Authorization request.
    let query = format!(
        "response_type=code&client_id=app1&redirect_uri=https%3A%2F%2Fapp.example%2Falt&scope=openid+apim%3Asubscribe+unknown&state=xyz&code_challenge={}&code_challenge_method=S256",
        s256_challenge(VERIFIER)
    );
    let form = Form::parse(query.as_bytes()).unwrap();
    assert_eq!(AuthorizeRequest::client_id_of(&form).unwrap(), "app1");
    let authorize_client = AuthorizeClient::from_client(&client).unwrap();
    let request = AuthorizeRequest::validate(&form, &authorize_client).unwrap();

    // 2. The user (a subscriber) signs in; scopes are issued by role.
    let known = scopes();
    let granted =
        RoleBasedScopeIssuer::new(&known, true).issue(&request.scope, &["Internal/subscriber"]);
    assert_eq!(granted.to_string(), "apim:subscribe openid");
    let tenant = Tenant::default();
    let new_code = code::issue(
        &CodeIssue {
            request: &request,
            subject: "alice",
            scopes: &granted,
            code_id: "code-1",
            tenant: &tenant,
            lifetime: lifetimes.authorization_code,
            auth_time: Some(t0),
        },
        t0,
        &mut rng,
        |c| s256_challenge(c.expose()),
    )
    .unwrap();
    let location = request
        .success(new_code.code.expose(), Some(ISSUER))
        .location()
        .unwrap();
    assert!(location.starts_with(&format!(
        "https://app.example/alt?code={}&state=xyz&iss=",
        new_code.code.expose()
    )));

    // 3. Token request, client_secret_basic.
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri=https%3A%2F%2Fapp.example%2Falt&code_verifier={VERIFIER}",
        new_code.code.expose()
    );
    let form = Form::parse(body.as_bytes()).unwrap();
    let header = format!("Basic {}", STANDARD.encode("app1:s3cret"));
    let credentials = ClientCredentials::from_request(Some(&header), &form).unwrap();
    assert!(credentials.is_allowed_for(client.token_endpoint_auth_method));
    let stored = client.secret_digest.as_deref().unwrap();
    assert!(verify_client_secret(
        stored,
        PEPPER,
        credentials.secret().unwrap()
    ));
    let token_request = TokenRequest::from_form(&form).unwrap();
    token_request
        .check_client_allowed(&client.grant_types, client.is_public())
        .unwrap();
    let TokenRequest::AuthorizationCode {
        code,
        redirect_uri,
        code_verifier,
    } = &token_request
    else {
        panic!("expected an authorization code request");
    };
    // The caller finds the record by the lookup key of the presented code.
    assert_eq!(new_code.record.code_digest, s256_challenge(code.expose()));
    let exchange = CodeExchange {
        client_id: credentials.client_id().unwrap(),
        redirect_uri: redirect_uri.as_deref(),
        code_verifier: code_verifier.as_ref().map(Secret::expose),
        pkce: PkcePolicy::for_client(&client),
    };
    let t1 = t0 + Duration::from_secs(20);
    let redeemed = code::redeem(&new_code.record, &exchange, t1).unwrap();
    assert_eq!(redeemed.consumed.state, CodeState::Inactive);
    assert_eq!(redeemed.scopes, granted);

    // The same code again is a replay.
    let mut consumed = redeemed.consumed.clone();
    consumed.token_id = Some("tok-1".into());
    assert!(matches!(
        code::redeem(&consumed, &exchange, t1),
        Err(CodeRedeemError::Replayed { token_id: Some(ref t), .. }) if t == "tok-1"
    ));

    // 4. The token record the caller stores.
    let access_lifetime =
        lifetimes.access_token(AccessTokenKind::for_grant(token_request.grant_type()));
    let token = AccessToken {
        token_id: "tok-1".into(),
        tenant: Tenant::default(),
        token_digest: "at-1".into(),
        token_value: None,
        refresh_token_digest: Some("rt-1".into()),
        refresh_token_value: None,
        refresh_family_id: "fam-1".into(),
        client_id: "app1".into(),
        subject: "alice".into(),
        grant_type: token_request.grant_type().into(),
        scopes: redeemed.scopes.to_vec(),
        issued_at_ms: millis(t1),
        validity_ms: millis(access_lifetime),
        refresh_issued_at_ms: Some(millis(t1)),
        refresh_validity_ms: Some(millis(lifetimes.refresh_token)),
        state: TokenState::Active,
        binding_thumbprint: None,
    };

    // 5. Refresh after the access token expired but within the client's 1 h refresh life.
    let t2 = t1 + Duration::from_secs(3500);
    let refresh_request = RefreshRequest {
        client_id: "app1",
        scope: None,
        refresh_lifetime: lifetimes.refresh_token,
    };
    let rotation = refresh::rotate(&token, &refresh_request, t2, &mut rng).unwrap();
    assert_eq!(rotation.superseded.state, TokenState::Inactive);
    assert_eq!(rotation.refresh_expires_at, t2 + Duration::from_secs(3600));
    assert_eq!(rotation.access_scopes.to_string(), "apim:subscribe openid");

    // 6. The old refresh token comes back: the family is to be revoked.
    let reuse = refresh::rotate(&rotation.superseded, &refresh_request, t2, &mut rng).unwrap_err();
    assert_eq!(
        reuse,
        RefreshError::ReuseDetected {
            family_id: "fam-1".into()
        }
    );

    // 7. Past the refresh lifetime, the original is refused as expired.
    let late = t1 + Duration::from_secs(3600);
    let expired = refresh::rotate(&token, &refresh_request, late, &mut rng).unwrap_err();
    assert_eq!(
        expired.oauth_error().description(),
        Some("refresh token expired")
    );
}
