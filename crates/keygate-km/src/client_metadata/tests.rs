//! Client metadata: reading members, defaults, and every refusal of RFC 7591 §3.2.2.

use super::*;
use keygate_model::Tenant;
use serde_json::json;

const STRICT: MetadataRules = MetadataRules {
    strict_redirects: true,
    mutual_tls: false,
};
const LENIENT: MetadataRules = MetadataRules {
    strict_redirects: false,
    mutual_tls: false,
};
const WITH_MTLS: MetadataRules = MetadataRules {
    strict_redirects: true,
    mutual_tls: true,
};

fn fresh() -> OAuthClient {
    OAuthClient {
        client_id: "c1".into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: "c1".into(),
        owner: "bob".into(),
        redirect_uris: Vec::new(),
        grant_types: vec![grant_types::AUTHORIZATION_CODE.into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        pkce_mandatory: false,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes::default(),
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

fn apply(body: Value, rules: &MetadataRules) -> Result<OAuthClient, OAuthError> {
    let Value::Object(map) = body else {
        panic!("not an object")
    };
    ClientMetadata::read(&map)?.apply(fresh(), rules)
}

fn error_of(body: Value, rules: &MetadataRules) -> (String, String) {
    let e = apply(body, rules).unwrap_err();
    (
        e.as_str().to_owned(),
        e.description().unwrap_or_default().to_owned(),
    )
}

/// An EC P-256 public JWK (RFC 7517 Appendix A.1).
fn ec_jwks() -> Value {
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "1", "use": "sig",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
    }]})
}

#[test]
fn a_full_registration_reads_every_member() {
    let client = apply(
        json!({
            "client_name": "Pet shop",
            "redirect_uris": ["https://shop.example/cb", "http://127.0.0.1:8080/cb"],
            "grant_types": ["authorization_code", "refresh_token", "authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "read write",
            "token_type_extension": "oauth",
            "ext_application_token_lifetime": 600,
            "ext_user_token_lifetime": "1200",
            "ext_refresh_token_lifetime": 0,
            "ext_pkce_mandatory": true,
            "software_id": "ignored",
        }),
        &STRICT,
    )
    .unwrap();
    assert_eq!(client.client_name, "Pet shop");
    assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(
        client.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretPost
    );
    assert_eq!(client.token_type, TokenType::Oauth);
    assert_eq!(client.lifetimes.application_access_token_ms, Some(600_000));
    assert_eq!(client.lifetimes.user_access_token_ms, Some(1_200_000));
    assert_eq!(client.lifetimes.refresh_token_ms, None);
    assert!(client.pkce_mandatory);
}

#[test]
fn defaults_are_rfc_7591s() {
    let client = apply(json!({"redirect_uris": ["https://a.example/cb"]}), &STRICT).unwrap();
    assert_eq!(client.grant_types, ["authorization_code"]);
    assert_eq!(
        client.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert_eq!(client.token_type, TokenType::Jwt);
    assert_eq!(response_types_for(&client.grant_types), ["code"]);
    assert!(response_types_for(&["client_credentials".to_owned()]).is_empty());
}

#[test]
fn redirect_uris_are_https_or_loopback_http_without_fragments() {
    for good in [
        "https://app.example/cb",
        "http://localhost:3000/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
    ] {
        assert!(
            apply(json!({"redirect_uris": [good]}), &STRICT).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "/relative/cb",
        "javascript:alert(1)",
        "regexp=https://a.example/.*",
        "com.example.app:/cb",
    ] {
        assert_eq!(
            error_of(json!({"redirect_uris": [bad]}), &STRICT).0,
            "invalid_redirect_uri",
            "{bad}"
        );
    }
    // The control plane may use WSO2's forms.
    let client = apply(
        json!({"callbackUrl": "regexp=(https://a.example/cb|http://b.example/cb)"}),
        &LENIENT,
    )
    .unwrap();
    assert_eq!(client.redirect_uris.len(), 1);
    assert!(apply(json!({"callbackUrl": "http://app.example/cb"}), &LENIENT).is_ok());
    // The code grant needs somewhere to send the code.
    assert_eq!(error_of(json!({}), &STRICT).0, "invalid_redirect_uri");
    assert!(apply(json!({"grant_types": ["client_credentials"]}), &STRICT).is_ok());
}

#[test]
fn grant_and_response_types_must_agree() {
    let cases = [
        json!({"grant_types": ["implicit"], "redirect_uris": ["https://a.example/cb"]}),
        json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
        json!({"redirect_uris": ["https://a.example/cb"], "response_types": []}),
        json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
        json!({"grant_types": []}),
    ];
    for body in cases {
        assert_eq!(
            error_of(body.clone(), &STRICT).0,
            "invalid_client_metadata",
            "{body}"
        );
    }
}

#[test]
fn public_clients_use_the_code_grant_with_pkce() {
    let client = apply(
        json!({
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://spa.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
        }),
        &STRICT,
    )
    .unwrap();
    assert!(client.is_public());
    assert!(client.pkce_mandatory, "PKCE is forced on public clients");
    let (code, text) = error_of(
        json!({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
        &STRICT,
    );
    assert_eq!(code, "invalid_client_metadata");
    assert!(text.contains("public clients"), "{text}");
    let via_extension = apply(
        json!({"ext_public_client": true, "redirect_uris": ["https://spa.example/cb"]}),
        &LENIENT,
    )
    .unwrap();
    assert!(via_extension.is_public());
    assert_eq!(
        error_of(
            json!({"ext_public_client": true, "token_endpoint_auth_method": "private_key_jwt"}),
            &LENIENT
        )
        .0,
        "invalid_client_metadata"
    );
}

#[test]
fn private_key_jwt_needs_exactly_one_key_source() {
    let base = |extra: Value| {
        let mut body = json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let client = apply(base(json!({"jwks": ec_jwks()})), &STRICT).unwrap();
    assert!(client.jwks.as_deref().unwrap().contains("P-256"));
    assert!(
        apply(
            base(json!({"jwks_uri": "https://keys.example/jwks"})),
            &STRICT
        )
        .is_ok()
    );
    for bad in [
        json!({}),
        json!({"jwks": ec_jwks(), "jwks_uri": "https://keys.example/jwks"}),
        json!({"jwks_uri": "http://keys.example/jwks"}),
        json!({"jwks": {"keys": []}}),
        json!({"jwks": {"keys": "nope"}}),
        json!({"jwks": "not an object"}),
    ] {
        assert_eq!(
            error_of(base(bad.clone()), &STRICT).0,
            "invalid_client_metadata",
            "{bad}"
        );
    }
}

#[test]
fn tls_methods_need_mutual_tls_and_their_binding() {
    let tls = json!({
        "token_endpoint_auth_method": "tls_client_auth",
        "grant_types": ["client_credentials"],
        "tls_client_auth_subject_dn": "CN=client,O=Example",
    });
    let (code, text) = error_of(tls.clone(), &STRICT);
    assert_eq!(code, "invalid_client_metadata");
    assert!(text.contains("mutual TLS"), "{text}");
    let client = apply(tls, &WITH_MTLS).unwrap();
    assert_eq!(
        client.tls_client_auth_subject_dn.as_deref(),
        Some("CN=client,O=Example")
    );
    assert_eq!(
        error_of(
            json!({"token_endpoint_auth_method": "tls_client_auth",
                   "grant_types": ["client_credentials"]}),
            &WITH_MTLS
        )
        .0,
        "invalid_client_metadata"
    );
    let self_signed = json!({
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "grant_types": ["client_credentials"],
    });
    assert!(apply(self_signed.clone(), &WITH_MTLS).is_err());
    let mut with_keys = self_signed;
    with_keys["jwks"] = ec_jwks();
    assert!(apply(with_keys.clone(), &WITH_MTLS).is_ok());
    assert!(apply(with_keys, &STRICT).is_err());
}

#[test]
fn names_scopes_types_and_lifetimes_are_checked() {
    let cc = |extra: Value| {
        let mut body = json!({"grant_types": ["client_credentials"]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for bad in [
        json!({"client_name": "x".repeat(256)}),
        json!({"client_name": "line\nbreak"}),
        json!({"client_name": 7}),
        json!({"scope": "read \"write\""}),
        json!({"token_type_extension": "SAML"}),
        json!({"ext_application_token_lifetime": -1}),
        json!({"ext_user_token_lifetime": "soon"}),
        json!({"ext_id_token_lifetime": 1.5}),
        json!({"ext_refresh_token_lifetime": 3_000_000_000i64}),
        json!({"grant_types": "client_credentials"}),
        json!({"redirect_uris": [1]}),
        json!({"ext_pkce_mandatory": "maybe"}),
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
    ] {
        assert_eq!(
            error_of(cc(bad.clone()), &STRICT).0,
            "invalid_client_metadata",
            "{bad}"
        );
    }
    assert!(apply(cc(json!({"client_name": "x".repeat(255)})), &STRICT).is_ok());
}

#[test]
fn partial_updates_keep_what_is_not_sent() {
    let mut current = fresh();
    current.grant_types = vec!["client_credentials".into(), "password".into()];
    current.lifetimes.application_access_token_ms = Some(5_000);
    current.token_type = TokenType::Oauth;
    let Value::Object(body) = json!({"client_name": "Renamed", "ext_user_token_lifetime": 60})
    else {
        unreachable!()
    };
    let updated = ClientMetadata::read(&body)
        .unwrap()
        .apply(current.clone(), &LENIENT)
        .unwrap();
    assert_eq!(updated.client_name, "Renamed");
    assert_eq!(updated.grant_types, current.grant_types);
    assert_eq!(updated.token_type, TokenType::Oauth);
    assert_eq!(updated.lifetimes.application_access_token_ms, Some(5_000));
    assert_eq!(updated.lifetimes.user_access_token_ms, Some(60_000));
}

#[test]
fn brought_along_credentials_are_printable() {
    let read = |body: Value| ClientMetadata::read(body.as_object().unwrap()).unwrap();
    let ok = read(json!({"ext_param_client_id": "abc-123", "ext_param_client_secret": "s3cr3t"}));
    assert_eq!(ok.provided_client_id().unwrap(), Some("abc-123"));
    assert_eq!(
        ok.provided_client_secret().unwrap().unwrap().expose(),
        "s3cr3t"
    );
    let bad = read(json!({"ext_param_client_id": "has space", "ext_param_client_secret": ""}));
    assert!(bad.provided_client_id().is_err());
    assert!(bad.provided_client_secret().is_err());
    assert!(!format!("{ok:?}").contains("s3cr3t"));
}
