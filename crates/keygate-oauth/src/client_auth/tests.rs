//! Tests of client authentication parsing (RFC 6749 §2.3) and of the client secret digest,
//! with the RFC 4231 HMAC-SHA256 vectors.

use super::*;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

fn form(body: &str) -> Form {
    Form::parse(body.as_bytes()).unwrap()
}

fn basic(id_secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(id_secret))
}

fn err(authorization: Option<&str>, body: &str) -> OAuthError {
    ClientCredentials::from_request(authorization, &form(body)).unwrap_err()
}

#[test]
fn basic_header_with_form_urlencoded_parts() {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    let header = basic("s6BhdRkqt3:gX1fBat3bV");
    let creds = ClientCredentials::from_request(Some(&header), &form("grant_type=x")).unwrap();
    assert_eq!(
        creds,
        ClientCredentials::SecretBasic {
            client_id: "s6BhdRkqt3".into(),
            secret: Secret::new("gX1fBat3bV"),
        }
    );
    assert!(creds.used_basic());
    assert_eq!(creds.client_id(), Some("s6BhdRkqt3"));
    assert_eq!(creds.secret().map(Secret::expose), Some("gX1fBat3bV"));

    let header = basic("my%3Aclient:p%40ss+word%3A");
    let creds = ClientCredentials::from_request(Some(&header), &Form::default()).unwrap();
    assert_eq!(creds.client_id(), Some("my:client"));
    assert_eq!(creds.secret().map(Secret::expose), Some("p@ss word:"));
}

#[test]
fn basic_scheme_is_case_insensitive_and_padding_optional() {
    let encoded = STANDARD.encode("client:secret1");
    for header in [
        format!("basic {encoded}"),
        format!("BASIC {encoded}"),
        format!("  Basic   {encoded} "),
        format!("Basic {}", encoded.trim_end_matches('=')),
    ] {
        let creds = ClientCredentials::from_request(Some(&header), &Form::default()).unwrap();
        assert_eq!(
            creds.secret().map(Secret::expose),
            Some("secret1"),
            "{header}"
        );
    }
}

#[test]
fn malformed_basic_is_invalid_client_with_challenge() {
    let cases = [
        ("Basic", "malformed Authorization header"),
        ("Bearer abc", "unsupported authentication scheme"),
        ("Basic !!!notbase64", "malformed Basic credentials"),
        (&*basic("no-colon"), "malformed Basic credentials"),
        (&*basic(":secret"), "empty client id"),
        (&*basic("client:"), "empty client secret"),
        (&*basic("cli%zzent:secret"), "malformed Basic credentials"),
        (&*basic("client:sec%zz"), "malformed Basic credentials"),
        (
            &*format!("Basic {}", STANDARD.encode(b"c:\xff\xfe")),
            "malformed Basic credentials",
        ),
    ];
    for (header, why) in cases {
        let e = err(Some(header), "");
        assert_eq!(e.as_str(), "invalid_client", "{header}");
        assert_eq!(e.description(), Some(why), "{header}");
        assert_eq!(e.status(), 401);
        assert!(e.www_authenticate("keygate").is_some(), "{header}");
    }
}

#[test]
fn client_secret_post() {
    let creds =
        ClientCredentials::from_request(None, &form("client_id=abc&client_secret=xyz")).unwrap();
    assert_eq!(
        creds,
        ClientCredentials::SecretPost {
            client_id: "abc".into(),
            secret: Secret::new("xyz"),
        }
    );
    assert!(!creds.used_basic());
    let e = err(None, "client_secret=xyz");
    assert_eq!(e.as_str(), "invalid_request");
    assert_eq!(e.description(), Some("missing parameter: client_id"));
}

#[test]
fn jwt_client_assertion() {
    let body = format!(
        "client_assertion_type={}&client_assertion=eyJhbGciOiJSUzI1NiJ9.e30.sig",
        crate::form::encode_component(CLIENT_ASSERTION_TYPE_JWT_BEARER)
    );
    let creds = ClientCredentials::from_request(None, &form(&body)).unwrap();
    assert_eq!(
        creds,
        ClientCredentials::JwtAssertion {
            client_id: None,
            assertion: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.sig"),
        }
    );
    assert_eq!(creds.client_id(), None);
    assert!(creds.secret().is_none());
    let with_id =
        ClientCredentials::from_request(None, &form(&format!("{body}&client_id=c1"))).unwrap();
    assert_eq!(with_id.client_id(), Some("c1"));

    let e = err(None, "client_assertion=abc");
    assert_eq!(
        e.description(),
        Some("missing parameter: client_assertion_type")
    );
    let e = err(
        None,
        &format!(
            "client_assertion_type={}",
            crate::form::encode_component(CLIENT_ASSERTION_TYPE_JWT_BEARER)
        ),
    );
    assert_eq!(e.description(), Some("missing parameter: client_assertion"));
    let e = err(
        None,
        "client_assertion=abc&client_assertion_type=urn%3Aother",
    );
    assert_eq!(e.as_str(), "invalid_client");
    assert_eq!(e.description(), Some("unsupported client_assertion_type"));
}

#[test]
fn more_than_one_method_is_invalid_request() {
    let header = basic("c:s");
    for (auth, body) in [
        (Some(header.as_str()), "client_id=c&client_secret=s"),
        (
            Some(header.as_str()),
            "client_assertion=a&client_assertion_type=t",
        ),
        (None, "client_id=c&client_secret=s&client_assertion=a"),
        (None, "client_id=c&client_secret=s&client_assertion_type=t"),
    ] {
        let e = err(auth, body);
        assert_eq!(e.as_str(), "invalid_request", "{body}");
        assert_eq!(
            e.description(),
            Some("more than one client authentication method")
        );
    }
}

#[test]
fn basic_with_matching_body_client_id_is_fine_but_not_a_different_one() {
    let header = basic("c1:s");
    let creds = ClientCredentials::from_request(Some(&header), &form("client_id=c1")).unwrap();
    assert_eq!(creds.client_id(), Some("c1"));
    let e = err(Some(&header), "client_id=c2");
    assert_eq!(e.as_str(), "invalid_request");
}

#[test]
fn public_and_anonymous() {
    let creds = ClientCredentials::from_request(None, &form("client_id=app")).unwrap();
    assert_eq!(
        creds,
        ClientCredentials::ClientIdOnly {
            client_id: "app".into()
        }
    );
    let none = ClientCredentials::from_request(None, &form("grant_type=x")).unwrap();
    assert_eq!(none, ClientCredentials::Anonymous);
    assert_eq!(none.client_id(), None);
    assert!(!none.is_allowed_for(TokenEndpointAuthMethod::None));
}

#[test]
fn failure_carries_the_challenge_only_after_basic() {
    let header = basic("c:s");
    let b = ClientCredentials::from_request(Some(&header), &Form::default()).unwrap();
    assert!(b.failure().www_authenticate("keygate").is_some());
    let p = ClientCredentials::from_request(None, &form("client_id=c&client_secret=s")).unwrap();
    assert_eq!(p.failure().as_str(), "invalid_client");
    assert!(p.failure().www_authenticate("keygate").is_none());
}

#[test]
fn methods_allowed_for_registrations() {
    use TokenEndpointAuthMethod as M;
    let post = ClientCredentials::SecretPost {
        client_id: "c".into(),
        secret: Secret::new("s"),
    };
    assert!(post.is_allowed_for(M::ClientSecretBasic));
    assert!(post.is_allowed_for(M::ClientSecretPost));
    assert!(!post.is_allowed_for(M::None));
    assert!(!post.is_allowed_for(M::PrivateKeyJwt));
    let jwt = ClientCredentials::JwtAssertion {
        client_id: None,
        assertion: Secret::new("a"),
    };
    assert!(jwt.is_allowed_for(M::PrivateKeyJwt));
    assert!(!jwt.is_allowed_for(M::ClientSecretBasic));
    let bare = ClientCredentials::ClientIdOnly {
        client_id: "c".into(),
    };
    assert!(bare.is_allowed_for(M::None));
    assert!(bare.is_allowed_for(M::TlsClientAuth));
    assert!(bare.is_allowed_for(M::SelfSignedTlsClientAuth));
    assert!(!bare.is_allowed_for(M::ClientSecretPost));
}

#[test]
fn debug_hides_secrets() {
    let header = basic("c:topsecret");
    let creds = ClientCredentials::from_request(Some(&header), &Form::default()).unwrap();
    assert!(!format!("{creds:?}").contains("topsecret"));
    let digest = ClientSecretDigest::compute(b"pepper", &Secret::new("topsecret"));
    assert_eq!(format!("{digest:?}"), "ClientSecretDigest(***)");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 4231 §4: HMAC-SHA-256 results of test cases 1–4, 6 and 7 (case 5 is truncated).
#[test]
fn rfc4231_hmac_sha256_vectors() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            (1u8..=25).collect(),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, expected) in cases {
        assert_eq!(hex(&hmac_sha256(&key, &data)), expected);
    }
}

#[test]
fn secret_digest_verifies_only_the_right_secret_and_pepper() {
    let secret = Secret::new("gX1fBat3bV");
    let digest = ClientSecretDigest::compute(b"server-pepper", &secret);
    assert_eq!(
        digest.as_bytes(),
        &hmac_sha256(b"server-pepper", b"gX1fBat3bV")
    );
    assert!(digest.verify(b"server-pepper", &secret));
    assert!(!digest.verify(b"server-pepper", &Secret::new("gX1fBat3bv")));
    assert!(!digest.verify(b"other-pepper", &secret));
    assert!(!digest.verify(b"server-pepper", &Secret::new("")));

    let stored = digest.as_bytes().to_vec();
    assert!(verify_client_secret(&stored, b"server-pepper", &secret));
    assert!(!verify_client_secret(
        &stored[..31],
        b"server-pepper",
        &secret
    ));
    assert!(!verify_client_secret(&[], b"server-pepper", &secret));
    assert_eq!(
        ClientSecretDigest::from_bytes(&stored),
        Some(digest.clone())
    );
    assert_ne!(
        ClientSecretDigest::compute(b"server-pepper", &Secret::new("x")),
        digest
    );
}

proptest! {
    #[test]
    fn arbitrary_authorization_headers_never_panic(header in "\\PC{0,80}") {
        let _ = ClientCredentials::from_request(Some(&header), &Form::default());
    }

    #[test]
    fn basic_round_trip(id in "[A-Za-z0-9_.:%+ -]{1,30}", secret in "[A-Za-z0-9_.:%+ -]{1,30}") {
        let encoded = format!(
            "{}:{}",
            crate::form::encode_component(&id),
            crate::form::encode_component(&secret)
        );
        let creds = ClientCredentials::from_request(Some(&basic(&encoded)), &Form::default()).unwrap();
        prop_assert_eq!(creds.client_id(), Some(id.as_str()));
        prop_assert_eq!(creds.secret().map(Secret::expose), Some(secret.as_str()));
    }
}
