//! Tests of public JWKs against the RFC vectors (RFC 7638 §3.1, RFC 8037 appendix A,
//! RFC 7515 appendix A.3) and against the `keytool`-made fixture.

use super::*;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use keygate_model::Secret;

use crate::keystore::{Keystore, KeystoreFormat};

/// RFC 7638 §3.1's RSA key.
const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/// RFC 8037 appendix A.1's Ed25519 key and appendix A.3's thumbprint of it.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

/// RFC 7515 appendix A.3's P-256 key.
const RFC7515_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const RFC7515_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC7515_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/wso2carbon-shaped.jks");
const FIXTURE_CERTIFICATE: &[u8] = include_bytes!("../tests/fixtures/wso2carbon.cer");
/// The SHA-256 fingerprint `keytool -list` printed for the fixture's certificate
/// (D7:B0:AF:AB:…:88:EC), in base64url.
const FIXTURE_X5T_S256: &str = "17Cvq4XLHZ3HLtqsn0CPThkBQoLmp65os_gjZJLviOw";

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[test]
fn rfc7638_section_3_1_thumbprint() {
    let jwk: Jwk = serde_json::from_str(&format!(
        r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
    ))
    .unwrap();
    assert_eq!(jwk.thumbprint(), RFC7638_THUMBPRINT);
    assert_eq!(jwk.kid.as_deref(), Some("2011-04-29"));

    // Optional members do not take part; required ones do.
    let bare = Jwk {
        kid: None,
        alg: None,
        ..jwk.clone()
    };
    assert_eq!(bare.thumbprint(), RFC7638_THUMBPRINT);
    let other_exponent = Jwk {
        params: JwkParams::Rsa {
            n: RFC7638_N.to_owned(),
            e: "AQAC".to_owned(),
        },
        ..jwk
    };
    assert_ne!(other_exponent.thumbprint(), RFC7638_THUMBPRINT);
}

#[test]
fn rfc7638_key_round_trips_through_public_key_der() {
    let jwk = Jwk::from_public_key(KeyAlgorithm::Rsa, &rsa_der(RFC7638_N, "AQAB")).unwrap();
    assert_eq!(
        jwk.params,
        JwkParams::Rsa {
            n: RFC7638_N.to_owned(),
            e: "AQAB".to_owned()
        }
    );
    let (algorithm, der) = jwk.public_key().unwrap();
    assert_eq!(algorithm, KeyAlgorithm::Rsa);
    assert_eq!(der, rsa_der(RFC7638_N, "AQAB"));
    assert_eq!(jwk.thumbprint(), RFC7638_THUMBPRINT);
}

/// `RSAPublicKey` DER built by hand: SEQUENCE of two INTEGERs, each with a zero octet
/// first when its high bit is set.
fn rsa_der(n: &str, e: &str) -> Vec<u8> {
    let integer = |bytes: Vec<u8>| {
        let mut contents = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        contents.extend(bytes);
        der::encode(TAG_INTEGER, &contents)
    };
    let mut body = integer(unb64(n));
    body.extend(integer(unb64(e)));
    der::encode(TAG_SEQUENCE, &body)
}

#[test]
fn rfc8037_appendix_a_ed25519_key() {
    let pair = Ed25519KeyPair::from_seed_unchecked(&unb64(RFC8037_D)).unwrap();
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().unwrap();
    let jwk = Jwk::from_private_key(&PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec())).unwrap();
    assert_eq!(
        jwk.params,
        JwkParams::Okp {
            crv: "Ed25519".to_owned(),
            x: RFC8037_X.to_owned()
        }
    );
    assert_eq!(jwk.thumbprint(), RFC8037_THUMBPRINT);
    assert_eq!(
        serde_json::to_string(&jwk).unwrap(),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}"}}"#)
    );

    let (algorithm, public) = jwk.public_key().unwrap();
    assert_eq!(algorithm, KeyAlgorithm::Ed25519);
    let signature = pair.sign(b"RFC 8037");
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(b"RFC 8037", signature.as_ref())
        .unwrap();
}

#[test]
fn rfc7515_appendix_a3_p256_key() {
    let point = [vec![0x04], unb64(RFC7515_X), unb64(RFC7515_Y)].concat();
    // aws-lc-rs checks that d, x and y belong together.
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &unb64(RFC7515_D),
        &point,
    )
    .unwrap();
    let pkcs8 = PrivatePkcs8KeyDer::from(pair.to_pkcs8v1().unwrap().as_ref().to_vec());
    let jwk = Jwk::from_private_key(&pkcs8).unwrap();
    assert_eq!(
        jwk.params,
        JwkParams::Ec {
            crv: "P-256".to_owned(),
            x: RFC7515_X.to_owned(),
            y: RFC7515_Y.to_owned()
        }
    );
    let (algorithm, public) = jwk.public_key().unwrap();
    assert_eq!(
        (algorithm, public.as_slice()),
        (KeyAlgorithm::EcP256, point.as_slice())
    );
    let signature = pair.sign(&SystemRandom::new(), b"RFC 7515").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
        .verify(b"RFC 7515", signature.as_ref())
        .unwrap();
}

#[test]
fn every_ec_curve_round_trips() {
    for (signing, algorithm, crv, size) in [
        (
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            KeyAlgorithm::EcP256,
            "P-256",
            32,
        ),
        (
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            KeyAlgorithm::EcP384,
            "P-384",
            48,
        ),
        (
            &ECDSA_P521_SHA512_FIXED_SIGNING,
            KeyAlgorithm::EcP521,
            "P-521",
            66,
        ),
    ] {
        let document = EcdsaKeyPair::generate_pkcs8(signing, &SystemRandom::new()).unwrap();
        let pkcs8 = PrivatePkcs8KeyDer::from(document.as_ref().to_vec());
        let jwk = Jwk::from_private_key(&pkcs8).unwrap();
        match &jwk.params {
            JwkParams::Ec { crv: c, x, y } => {
                assert_eq!(c, crv);
                assert_eq!(unb64(x).len(), size);
                assert_eq!(unb64(y).len(), size);
            }
            other => panic!("expected EC, got {other:?}"),
        }
        let (parsed, public) = jwk.public_key().unwrap();
        assert_eq!(parsed, algorithm);
        assert_eq!(Some((algorithm, public)), key::public_key_of(&pkcs8).ok());
    }
}

#[test]
fn keytool_fixture_certificate_and_key_give_one_jwk() {
    let certificate = CertificateDer::from(FIXTURE_CERTIFICATE);
    assert_eq!(x5t_s256(&certificate), FIXTURE_X5T_S256);

    let from_certificate = Jwk::from_certificate(&certificate).unwrap();
    assert_eq!(from_certificate.x5t_s256.as_deref(), Some(FIXTURE_X5T_S256));
    let x5c = from_certificate.x5c.clone().unwrap();
    assert_eq!(x5c.len(), 1);
    assert_eq!(
        STANDARD.decode(x5c.first().unwrap()).unwrap(),
        FIXTURE_CERTIFICATE
    );
    match &from_certificate.params {
        JwkParams::Rsa { n, e } => {
            assert_eq!(e, "AQAB");
            // A 2048-bit modulus, no leading zero octet.
            assert_eq!(unb64(n).len(), 256);
        }
        other => panic!("expected RSA, got {other:?}"),
    }

    let password = Secret::new("wso2carbon");
    let store = Keystore::from_bytes(FIXTURE, KeystoreFormat::Jks, &password).unwrap();
    let entry = store.private_key("wso2carbon", &password).unwrap();
    let from_key = Jwk::from_private_key(&entry.key).unwrap();
    assert_eq!(from_key.params, from_certificate.params);
    assert_eq!(from_key.thumbprint(), from_certificate.thumbprint());

    // What the JWK publishes verifies what the keystore's key signs.
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(entry.key.secret_pkcs8_der()).unwrap();
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        b"jwt",
        &mut signature,
    )
    .unwrap();
    let (_, public) = from_certificate.public_key().unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(b"jwt", &signature)
        .unwrap();
}

#[test]
fn serialized_jwks_carry_only_public_members() {
    let jwk: Jwk = serde_json::from_str(&format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","d":"{RFC8037_D}","use":"sig"}}"#
    ))
    .unwrap();
    let json = serde_json::to_string(&jwk).unwrap();
    assert!(!json.contains(RFC8037_D), "{json}");
    assert!(!json.contains("\"d\""), "{json}");

    let set = JwkSet {
        keys: vec![
            Jwk::from_certificate(&CertificateDer::from(FIXTURE_CERTIFICATE))
                .unwrap()
                .with_kid("wso2carbon")
                .with_use_and_alg("sig", "RS256"),
            jwk.with_kid(RFC8037_THUMBPRINT),
        ],
    };
    let json = serde_json::to_value(&set).unwrap();
    let first = json.get("keys").and_then(|k| k.get(0)).unwrap();
    assert_eq!(first.get("kty").and_then(|v| v.as_str()), Some("RSA"));
    assert_eq!(
        first.get("kid").and_then(|v| v.as_str()),
        Some("wso2carbon")
    );
    assert_eq!(first.get("use").and_then(|v| v.as_str()), Some("sig"));
    assert_eq!(first.get("alg").and_then(|v| v.as_str()), Some("RS256"));
    assert_eq!(
        first.get("x5t#S256").and_then(|v| v.as_str()),
        Some(FIXTURE_X5T_S256)
    );
    let parsed: JwkSet = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, set);
    assert_eq!(
        parsed
            .find(RFC8037_THUMBPRINT)
            .map(Jwk::thumbprint)
            .as_deref(),
        Some(RFC8037_THUMBPRINT)
    );
    assert!(parsed.find("absent").is_none());
}

#[test]
fn malformed_members_are_rejected() {
    let ec = |crv: &str, x: &str, y: &str| Jwk {
        params: JwkParams::Ec {
            crv: crv.to_owned(),
            x: x.to_owned(),
            y: y.to_owned(),
        },
        kid: None,
        key_use: None,
        alg: None,
        x5c: None,
        x5t_s256: None,
    };
    assert_eq!(
        ec("P-256", "AAAA", RFC7515_Y).public_key(),
        Err(JwkError::InvalidMember("x"))
    );
    assert_eq!(
        ec("P-256", RFC7515_X, "not base64!").public_key(),
        Err(JwkError::InvalidMember("y"))
    );
    assert_eq!(
        ec("secp256k1", RFC7515_X, RFC7515_Y).public_key(),
        Err(JwkError::Unsupported)
    );
    let okp = Jwk {
        params: JwkParams::Okp {
            crv: "X25519".to_owned(),
            x: RFC8037_X.to_owned(),
        },
        ..ec("P-256", RFC7515_X, RFC7515_Y)
    };
    assert_eq!(okp.public_key(), Err(JwkError::Unsupported));
    assert!(serde_json::from_str::<Jwk>(r#"{"kty":"oct","k":"AAAA"}"#).is_err());
    assert!(serde_json::from_str::<Jwk>(r#"{"kty":"RSA","n":"AQAB"}"#).is_err());

    assert_eq!(
        Jwk::from_public_key(KeyAlgorithm::EcP256, &[0x02; 33]),
        Err(JwkError::InvalidKey)
    );
    assert_eq!(
        Jwk::from_public_key(KeyAlgorithm::Ed25519, &[0; 31]),
        Err(JwkError::InvalidKey)
    );
    assert_eq!(
        Jwk::from_public_key(KeyAlgorithm::Rsa, b"\x30\x00"),
        Err(JwkError::InvalidKey)
    );
    assert_eq!(
        Jwk::from_certificate(&CertificateDer::from(&b"junk"[..])),
        Err(JwkError::Key(KeyError::Certificate))
    );
}
