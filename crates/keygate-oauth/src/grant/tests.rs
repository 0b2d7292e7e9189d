//! Tests of token request parsing (RFC 6749 §4, §6; RFC 7523 §2.1) and grant permission.

use super::*;

fn request(body: &str) -> Result<TokenRequest, OAuthError> {
    TokenRequest::from_form(&Form::parse(body.as_bytes()).unwrap())
}

#[test]
fn authorization_code() {
    let r = request(
        "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&code_verifier=abc",
    )
    .unwrap();
    assert_eq!(
        r,
        TokenRequest::AuthorizationCode {
            code: Secret::new("SplxlOBeZQQYbYS6WxSbIA"),
            redirect_uri: Some("https://client.example.com/cb".into()),
            code_verifier: Some(Secret::new("abc")),
        }
    );
    assert_eq!(r.grant_type(), "authorization_code");
    assert_eq!(r.scope(), None);
    let bare = request("grant_type=authorization_code&code=c").unwrap();
    assert_eq!(
        bare,
        TokenRequest::AuthorizationCode {
            code: Secret::new("c"),
            redirect_uri: None,
            code_verifier: None,
        }
    );
}

#[test]
fn client_credentials_password_refresh_and_jwt_bearer() {
    let cc = request("grant_type=client_credentials&scope=read+write").unwrap();
    assert_eq!(cc.grant_type(), grant_types::CLIENT_CREDENTIALS);
    assert_eq!(
        cc.scope().map(ToString::to_string).as_deref(),
        Some("read write")
    );
    assert_eq!(
        request("grant_type=client_credentials").unwrap(),
        TokenRequest::ClientCredentials { scope: None }
    );

    let pw = request("grant_type=password&username=johndoe&password=A3ddj3w").unwrap();
    assert_eq!(
        pw,
        TokenRequest::Password {
            username: "johndoe".into(),
            password: Secret::new("A3ddj3w"),
            scope: None,
        }
    );
    assert!(!format!("{pw:?}").contains("A3ddj3w"));

    let rt = request("grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&scope=read")
        .unwrap();
    assert_eq!(rt.grant_type(), "refresh_token");
    assert_eq!(rt.scope().map(ToString::to_string).as_deref(), Some("read"));
    assert!(!format!("{rt:?}").contains("tGzv3JOkF0XG5Qx2TlKWIA"));

    let jwt = request(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJ.eyJ.sig",
    )
    .unwrap();
    assert_eq!(
        jwt,
        TokenRequest::JwtBearer {
            assertion: Secret::new("eyJ.eyJ.sig"),
            scope: None,
        }
    );
    assert_eq!(jwt.grant_type(), grant_types::JWT_BEARER);
}

#[test]
fn missing_parameters_are_named() {
    for (body, name) in [
        ("code=x", "grant_type"),
        ("grant_type=authorization_code", "code"),
        ("grant_type=password&password=p", "username"),
        ("grant_type=password&username=u", "password"),
        ("grant_type=refresh_token", "refresh_token"),
        (
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            "assertion",
        ),
        ("grant_type=authorization_code&code=", "code"),
    ] {
        let e = request(body).unwrap_err();
        assert_eq!(e.as_str(), "invalid_request", "{body}");
        assert_eq!(
            e.description(),
            Some(format!("missing parameter: {name}").as_str())
        );
    }
}

#[test]
fn unknown_grant_and_bad_scope() {
    for grant in [
        "implicit",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "CLIENT_CREDENTIALS",
    ] {
        let body = format!("grant_type={}", crate::form::encode_component(grant));
        let e = request(&body).unwrap_err();
        assert_eq!(e.as_str(), "unsupported_grant_type", "{grant}");
    }
    let e = request("grant_type=client_credentials&scope=a%22b").unwrap_err();
    assert_eq!(e.as_str(), "invalid_scope");
    let e = request("grant_type=password&username=u&password=p&scope=%5C").unwrap_err();
    assert_eq!(e.as_str(), "invalid_scope");
}

#[test]
fn grant_permission() {
    let allowed = ["authorization_code", "refresh_token", "client_credentials"];
    let cc = request("grant_type=client_credentials").unwrap();
    cc.check_client_allowed(&allowed, false).unwrap();
    let e = cc.check_client_allowed(&allowed, true).unwrap_err();
    assert_eq!(e.as_str(), "unauthorized_client");
    assert_eq!(
        e.description(),
        Some("client_credentials is for confidential clients only")
    );
    let pw = request("grant_type=password&username=u&password=p").unwrap();
    let e = pw.check_client_allowed(&allowed, false).unwrap_err();
    assert_eq!(e.as_str(), "unauthorized_client");
    assert_eq!(
        e.description(),
        Some("the client may not use this grant type")
    );
    let rt = request("grant_type=refresh_token&refresh_token=r").unwrap();
    rt.check_client_allowed(&allowed, true).unwrap();
    let none: [String; 0] = [];
    assert!(rt.check_client_allowed(&none, false).is_err());
}
