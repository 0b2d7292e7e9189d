//! Tests of JWT claims and validation: RFC 9068 access tokens signed and read back, each
//! refusal as its own error with its WSO2 gateway code, and claims parsing properties.

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use proptest::prelude::*;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::json;

use super::*;
use crate::jws::{VerifyingKey, encode_b64};

const ISSUER: &str = "https://km.example.com:9443/oauth2/token";
const NOW: u64 = 1_700_000_000;

fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(doc.as_ref().to_vec()))
            .unwrap()
            .with_kid("km-1")
    })
}

fn verifying_key() -> VerifyingKey {
    signing_key().verifying_key().unwrap()
}

fn access_token_claims() -> Claims {
    let mut extra = Map::new();
    extra.insert("keytype".to_owned(), json!("PRODUCTION"));
    extra.insert("subscribedAPIs".to_owned(), json!([{"name": "PizzaShack"}]));
    Claims {
        iss: Some(ISSUER.to_owned()),
        sub: Some("admin@carbon.super".to_owned()),
        aud: Audience::new("pizza-client"),
        exp: Some(i64::try_from(NOW).unwrap() + 3600),
        nbf: Some(i64::try_from(NOW).unwrap()),
        iat: Some(i64::try_from(NOW).unwrap()),
        jti: Some("6f0b2c1e-0d6a-4f5e-9c1b-2a3d4e5f6a7b".to_owned()),
        client_id: Some("pizza-client".to_owned()),
        scope: Some("read:menu  write:order".to_owned()),
        cnf: Some(Confirmation {
            x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".to_owned()),
            ..Confirmation::default()
        }),
        extra,
    }
}

fn access_token(claims: &Claims) -> String {
    let key = signing_key();
    encode(key, &key.header().with_typ(ACCESS_TOKEN_TYPE), claims).unwrap()
}

fn validation() -> Validation {
    Validation::new(Duration::from_secs(NOW))
        .with_issuer(ISSUER)
        .with_audience("pizza-client")
        .with_required_type(ACCESS_TOKEN_TYPE)
}

#[test]
fn an_access_token_round_trips() {
    let claims = access_token_claims();
    let token = access_token(&claims);
    let verified = decode(&token, &verifying_key(), &validation()).unwrap();
    assert_eq!(verified.claims, claims);
    assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(verified.header.kid.as_deref(), Some("km-1"));
    assert_eq!(verified.header.alg, JwsAlgorithm::Es256);
    assert_eq!(
        verified.claims.scopes().collect::<Vec<_>>(),
        ["read:menu", "write:order"]
    );

    // The header is written in a fixed order, so tokens are reproducible.
    let header = crate::jws::peek_header(&token).unwrap();
    assert_eq!(
        String::from_utf8(header.to_json()).unwrap(),
        r#"{"alg":"ES256","typ":"at+jwt","kid":"km-1"}"#
    );
}

#[test]
fn claims_read_registered_members_and_keep_the_rest() {
    let claims = Claims::from_json(
        br#"{"iss":"i","aud":["a","b"],"exp":1.9,"nbf":-5,"iat":0,"azp":"x",
             "cnf":{"x5t#S256":"t","jkt":"j","other":1},"nested":{"k":[1,2]}}"#,
    )
    .unwrap();
    assert_eq!(claims.iss.as_deref(), Some("i"));
    assert_eq!(claims.aud.values(), ["a", "b"]);
    assert!(claims.aud.contains("b"));
    assert_eq!(claims.exp, Some(1), "fractional NumericDate rounds down");
    assert_eq!(claims.nbf, Some(-5));
    assert_eq!(claims.iat, Some(0));
    let cnf = claims.cnf.as_ref().unwrap();
    assert_eq!(cnf.x5t_s256.as_deref(), Some("t"));
    assert_eq!(cnf.jkt.as_deref(), Some("j"));
    assert_eq!(cnf.other.get("other"), Some(&json!(1)));
    assert_eq!(claims.extra.len(), 2);
    assert_eq!(claims.extra.get("azp"), Some(&json!("x")));

    // `null` means absent.
    let nulls = Claims::from_json(br#"{"sub":null,"aud":null,"exp":null}"#).unwrap();
    assert_eq!(nulls, Claims::default());
}

#[test]
fn audience_serializes_as_string_or_array() {
    let one = Claims {
        aud: Audience::new("a"),
        ..Claims::default()
    };
    assert_eq!(one.to_json().unwrap(), br#"{"aud":"a"}"#);
    let two = Claims {
        aud: Audience::from_values(vec!["a".to_owned(), "b".to_owned()]),
        ..Claims::default()
    };
    assert_eq!(two.to_json().unwrap(), br#"{"aud":["a","b"]}"#);
    assert_eq!(Claims::default().to_json().unwrap(), b"{}");
}

#[test]
fn invalid_claims_sets_are_refused() {
    for payload in [
        &b"[]"[..],
        b"\"claims\"",
        b"",
        b"{",
        br#"{"iss":"a","iss":"b"}"#,
        br#"{"custom":1,"custom":2}"#,
        br#"{"exp":"tomorrow"}"#,
        br#"{"exp":1e300}"#,
        br#"{"exp":18446744073709551615}"#,
        br#"{"aud":[1]}"#,
        br#"{"aud":{}}"#,
        br#"{"sub":7}"#,
        br#"{"cnf":"x"}"#,
        br#"{} {}"#,
    ] {
        assert_eq!(
            Claims::from_json(payload),
            Err(JwtError::InvalidClaims),
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
    // A claim both modelled and in `extra` cannot be written.
    let mut claims = Claims {
        iss: Some("a".to_owned()),
        ..Claims::default()
    };
    claims.extra.insert("iss".to_owned(), json!("b"));
    assert_eq!(claims.to_json(), Err(JwtError::InvalidClaims));
    let key = signing_key();
    assert_eq!(
        encode(key, &key.header(), &claims),
        Err(JwtError::InvalidClaims)
    );
}

#[test]
fn expiry_is_checked_with_leeway_and_maps_to_900903() {
    let mut claims = access_token_claims();
    claims.exp = Some(i64::try_from(NOW).unwrap());
    let token = access_token(&claims);
    // RFC 7519 §4.1.4: on or after `exp` the token must not be accepted.
    let error = decode(&token, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::Expired);
    assert_eq!(error.gateway_code(), 900_903);
    let lenient = validation().with_leeway(Duration::from_secs(1));
    assert!(decode(&token, &verifying_key(), &lenient).is_ok());

    claims.exp = None;
    let no_exp = access_token(&claims);
    assert_eq!(
        decode(&no_exp, &verifying_key(), &validation()),
        Err(JwtError::MissingClaim("exp"))
    );
    assert!(
        decode(
            &no_exp,
            &verifying_key(),
            &validation().without_required_expiry()
        )
        .is_ok()
    );
}

#[test]
fn not_before_is_checked_with_leeway() {
    let mut claims = access_token_claims();
    claims.nbf = Some(i64::try_from(NOW).unwrap() + 30);
    let token = access_token(&claims);
    let error = decode(&token, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::NotYetValid);
    assert_eq!(error.gateway_code(), 900_901);
    let lenient = validation().with_leeway(Duration::from_secs(30));
    assert!(decode(&token, &verifying_key(), &lenient).is_ok());
}

#[test]
fn the_issuer_must_be_trusted() {
    let mut claims = access_token_claims();
    claims.iss = Some("https://evil.example.com/oauth2/token".to_owned());
    let token = access_token(&claims);
    assert_eq!(
        decode(&token, &verifying_key(), &validation()),
        Err(JwtError::WrongIssuer)
    );
    let also_trusted = validation().with_issuer("https://evil.example.com/oauth2/token");
    assert!(decode(&token, &verifying_key(), &also_trusted).is_ok());

    claims.iss = None;
    let token = access_token(&claims);
    assert_eq!(
        decode(&token, &verifying_key(), &validation()),
        Err(JwtError::WrongIssuer)
    );
    // No configured issuer accepts any.
    let mut any_issuer = validation();
    any_issuer.issuers.clear();
    assert!(decode(&token, &verifying_key(), &any_issuer).is_ok());
}

#[test]
fn the_audience_must_be_expected() {
    let mut claims = access_token_claims();
    claims.aud = Audience::from_values(vec!["other-api".to_owned(), "pizza-client".to_owned()]);
    assert!(decode(&access_token(&claims), &verifying_key(), &validation()).is_ok());

    claims.aud = Audience::new("other-api");
    let token = access_token(&claims);
    let error = decode(&token, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::WrongAudience);
    assert_eq!(error.gateway_code(), 900_901);

    claims.aud = Audience::default();
    assert_eq!(
        decode(&access_token(&claims), &verifying_key(), &validation()),
        Err(JwtError::WrongAudience)
    );
}

#[test]
fn the_type_is_compared_as_a_media_type() {
    let key = signing_key();
    let claims = access_token_claims();
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        let token = encode(key, &key.header().with_typ(typ), &claims).unwrap();
        assert!(
            decode(&token, &verifying_key(), &validation()).is_ok(),
            "{typ}"
        );
    }
    for typ in [
        Some("JWT"),
        Some("application/jwt"),
        Some("at+jwt2"),
        Some("application/"),
        None,
    ] {
        let mut header = key.header();
        header.typ = typ.map(str::to_owned);
        let token = encode(key, &header, &claims).unwrap();
        assert_eq!(
            decode(&token, &verifying_key(), &validation()),
            Err(JwtError::WrongType),
            "{typ:?}"
        );
    }
    // Without a required type, an ID token's `JWT` passes.
    let id_token = encode(key, &key.header().with_typ("JWT"), &claims).unwrap();
    let mut any_type = validation();
    any_type.required_type = None;
    assert!(decode(&id_token, &verifying_key(), &any_type).is_ok());
}

#[test]
fn signature_and_structure_failures_map_to_900901() {
    let token = access_token(&access_token_claims());
    let (input, _) = token.rsplit_once('.').unwrap();

    // Another key's signature.
    let other = SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec(),
    ))
    .unwrap();
    let forged = format!(
        "{input}.{}",
        encode_b64(&other.sign(input.as_bytes()).unwrap())
    );
    let error = decode(&forged, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::BadSignature);
    assert_eq!(error.gateway_code(), 900_901);

    let error = decode("not.a-token", &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::Malformed(JwsError::SegmentCount));
    assert_eq!(error.gateway_code(), 900_901);

    let unsecured = format!(
        "{}.{}.",
        encode_b64(br#"{"alg":"none","typ":"at+jwt"}"#),
        input.split_once('.').unwrap().1
    );
    let error = decode(&unsecured, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::Refused(JwsError::Unsecured));
    assert_eq!(error.gateway_code(), 900_901);

    let es256_only_elsewhere = validation().with_algorithms(&[JwsAlgorithm::Rs256]);
    assert_eq!(
        decode(&token, &verifying_key(), &es256_only_elsewhere),
        Err(JwtError::Refused(JwsError::AlgorithmNotAllowed(
            JwsAlgorithm::Es256
        )))
    );

    // A well-signed payload that is not a claims set.
    let key = signing_key();
    let not_claims = key
        .sign_compact(&key.header().with_typ("at+jwt").to_json(), b"[1,2]")
        .unwrap();
    let error = decode(&not_claims, &verifying_key(), &validation()).unwrap_err();
    assert_eq!(error, JwtError::InvalidClaims);
    assert_eq!(error.gateway_code(), 900_901);
}

#[test]
fn encoding_refuses_a_header_for_another_algorithm() {
    let key = signing_key();
    let header = JwsHeader::new(JwsAlgorithm::Rs256).with_typ("at+jwt");
    assert!(matches!(
        encode(key, &header, &Claims::default()),
        Err(JwtError::Signing(JwsError::KeyMismatch { .. }))
    ));
}

#[test]
fn a_cache_rechecks_claims_at_a_later_time() {
    let claims = access_token_claims();
    let later = Validation {
        now: Duration::from_secs(NOW + 3600),
        ..validation()
    };
    assert!(validation().check_claims(&claims).is_ok());
    assert_eq!(later.check_claims(&claims), Err(JwtError::Expired));
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~\u{e9}\u{4e2d}]{0,20}")
}

proptest! {
    #[test]
    fn claims_round_trip_through_json(
        iss in text(), sub in text(), jti in text(), scope in text(),
        aud in proptest::collection::vec("[a-z]{1,8}", 0..4),
        exp in proptest::option::of(any::<i64>()),
        iat in proptest::option::of(any::<i64>()),
        extra_value in any::<i32>(),
    ) {
        let mut claims = Claims {
            iss, sub, jti, scope,
            aud: Audience::from_values(aud),
            exp, iat,
            ..Claims::default()
        };
        claims.extra.insert("custom".to_owned(), json!(extra_value));
        let json = claims.to_json().unwrap();
        prop_assert_eq!(Claims::from_json(&json).unwrap(), claims);
    }

    #[test]
    fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Claims::from_json(&payload);
    }

    #[test]
    fn arbitrary_json_objects_never_panic(json in "\\{(\"[a-z]{1,4}\":(null|[0-9.e+-]{1,25}|\"[a-z]*\"|\\[\\]|\\{\\}),?){0,6}\\}") {
        let _ = Claims::from_json(json.as_bytes());
    }
}
