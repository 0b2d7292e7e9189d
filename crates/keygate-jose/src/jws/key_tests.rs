//! Tests of JWS keys: a round trip for every algorithm, default and pinned algorithms,
//! keys that cannot verify, and key selection by `kid` and `x5t#S256`.

use aws_lc_rs::signature::{self, KeyPair as _};
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::tests::{
    RFC8037_X, ec_pkcs8, ed_pkcs8, es256_key, rs256_key, signing_keys, token, unb64,
};
use super::*;
use crate::der::{self, TAG_INTEGER, TAG_SEQUENCE};
use crate::jwk::{Jwk, JwkParams, JwkSet, x5t_s256};

#[test]
fn every_algorithm_round_trips() {
    let keys = signing_keys();
    let algorithms: Vec<_> = keys.iter().map(SigningKey::algorithm).collect();
    assert_eq!(algorithms, JwsAlgorithm::ALL, "one key per algorithm");
    for key in &keys {
        let header = key.header().with_typ("JWT");
        let payload = format!(r#"{{"sub":"{}"}}"#, key.algorithm());
        let token = key
            .sign_compact(&header.to_json(), payload.as_bytes())
            .unwrap();

        // By the key itself, by its published JWK, and by its JWK in a set.
        let direct = key.verifying_key().unwrap();
        let from_jwk = VerifyingKey::from_jwk(&key.public_jwk().unwrap()).unwrap();
        for verifier in [&direct, &from_jwk] {
            let verified = verify_compact(&token, verifier, &JwsAlgorithm::ALL).unwrap();
            assert_eq!(verified.header, header, "{}", key.algorithm());
            assert_eq!(verified.payload_bytes, payload.as_bytes());
        }

        // Signature lengths are the algorithm's (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
        let signature = unb64(token.rsplit_once('.').unwrap().1);
        let expected = match key.algorithm() {
            JwsAlgorithm::Es256 => 64,
            JwsAlgorithm::Es384 => 96,
            JwsAlgorithm::Es512 => 132,
            JwsAlgorithm::EdDsa => 64,
            _ => 256,
        };
        assert_eq!(signature.len(), expected, "{}", key.algorithm());

        // Any other key of the same kind fails.
        let other = match key.key_algorithm() {
            KeyAlgorithm::Rsa => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
                VerifyingKey::from_public_key(KeyAlgorithm::Rsa, pair.public_key().as_ref())
                    .unwrap()
            }
            KeyAlgorithm::EcP256 => es256_key().verifying_key().unwrap(),
            KeyAlgorithm::EcP384 => {
                SigningKey::from_pkcs8(&ec_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING))
                    .unwrap()
                    .verifying_key()
                    .unwrap()
            }
            KeyAlgorithm::EcP521 => {
                SigningKey::from_pkcs8(&ec_pkcs8(&signature::ECDSA_P521_SHA512_FIXED_SIGNING))
                    .unwrap()
                    .verifying_key()
                    .unwrap()
            }
            KeyAlgorithm::Ed25519 => SigningKey::from_pkcs8(&ed_pkcs8())
                .unwrap()
                .verifying_key()
                .unwrap(),
        };
        assert_eq!(
            verify_compact(&token, &other, &JwsAlgorithm::ALL),
            Err(JwsError::BadSignature),
            "{}",
            key.algorithm()
        );
    }
}

#[test]
fn pss_signatures_are_randomized_and_all_verify() {
    let key = rs256_key().with_algorithm(JwsAlgorithm::Ps256).unwrap();
    let header = key.header().to_json();
    let first = key.sign_compact(&header, b"same").unwrap();
    let second = key.sign_compact(&header, b"same").unwrap();
    assert_ne!(first, second, "PSS draws a fresh salt");
    let public = key.verifying_key().unwrap();
    for token in [first, second] {
        assert!(verify_compact(&token, &public, &[JwsAlgorithm::Ps256]).is_ok());
    }
}

#[test]
fn default_algorithms_follow_the_key_type() {
    assert_eq!(rs256_key().algorithm(), JwsAlgorithm::Rs256);
    for (curve, alg) in [
        (
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            JwsAlgorithm::Es256,
        ),
        (
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            JwsAlgorithm::Es384,
        ),
        (
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            JwsAlgorithm::Es512,
        ),
    ] {
        assert_eq!(
            SigningKey::from_pkcs8(&ec_pkcs8(curve))
                .unwrap()
                .algorithm(),
            alg
        );
    }
    // An ECDSA key has one algorithm; RSA has six.
    assert_eq!(
        es256_key().with_algorithm(JwsAlgorithm::Es384).unwrap_err(),
        JwsError::KeyMismatch {
            alg: JwsAlgorithm::Es384,
            key: KeyAlgorithm::EcP256
        }
    );
    assert!(rs256_key().with_algorithm(JwsAlgorithm::EdDsa).is_err());
    assert_eq!(
        SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(b"not a key".to_vec())).unwrap_err(),
        JwsError::Key(KeyError::UnsupportedAlgorithm)
    );
}

#[test]
fn algorithm_names_are_case_sensitive_and_round_trip() {
    for alg in JwsAlgorithm::ALL {
        assert_eq!(JwsAlgorithm::from_name(alg.name()), Some(alg));
        assert_eq!(alg.name().parse::<JwsAlgorithm>(), Ok(alg));
        let json = serde_json::to_string(&alg).unwrap();
        assert_eq!(serde_json::from_str::<JwsAlgorithm>(&json).unwrap(), alg);
    }
    assert_eq!(JwsAlgorithm::from_name("rs256"), None);
    assert_eq!(JwsAlgorithm::from_name("HS256"), None);
    assert_eq!(JwsAlgorithm::from_name("none"), None);
}

#[test]
fn debug_output_shows_no_key_material() {
    let key = rs256_key().with_kid("k1");
    let printed = format!("{key:?}");
    assert_eq!(
        printed,
        r#"SigningKey { algorithm: Rs256, kid: Some("k1"), .. }"#
    );
    let public = format!("{:?}", key.verifying_key().unwrap());
    assert!(
        public.starts_with("VerifyingKey { kid: Some(\"k1\")"),
        "{public}"
    );
}

#[test]
fn unusable_verification_keys_are_refused() {
    // RSA under 2048 bits (RFC 7518 §3.3): a 1024-bit modulus.
    let mut modulus = vec![0xc5; 128];
    modulus.insert(0, 0);
    let mut body = der::encode(TAG_INTEGER, &modulus);
    body.extend(der::encode(TAG_INTEGER, &[1, 0, 1]));
    let small = der::encode(TAG_SEQUENCE, &body);
    assert_eq!(
        VerifyingKey::from_public_key(KeyAlgorithm::Rsa, &small).unwrap_err(),
        JwsError::Jwk(JwkError::InvalidKey)
    );
    assert!(VerifyingKey::from_public_key(KeyAlgorithm::Rsa, b"junk").is_err());
    assert!(VerifyingKey::from_public_key(KeyAlgorithm::EcP256, &[4; 65]).is_err());
    assert!(VerifyingKey::from_public_key(KeyAlgorithm::Ed25519, &[1; 31]).is_err());

    // A JWK for encryption, or with an algorithm keygate does not verify.
    let ec = es256_key().public_jwk().unwrap();
    let enc = ec.clone().with_use_and_alg("enc", "ECDH-ES");
    assert_eq!(
        VerifyingKey::from_jwk(&enc).unwrap_err(),
        JwsError::Jwk(JwkError::InvalidMember("use"))
    );
    let mut hs = ec.clone();
    hs.alg = Some("HS256".to_owned());
    assert_eq!(
        VerifyingKey::from_jwk(&hs).unwrap_err(),
        JwsError::Jwk(JwkError::InvalidMember("alg"))
    );
    let mut wrong_curve_alg = ec;
    wrong_curve_alg.alg = Some("ES384".to_owned());
    assert!(matches!(
        VerifyingKey::from_jwk(&wrong_curve_alg),
        Err(JwsError::KeyMismatch { .. })
    ));
}

// --- Key selection ----------------------------------------------------------------------

#[test]
fn kid_picks_the_key_from_a_set() {
    let a = es256_key().with_kid("a");
    let b = rs256_key().with_kid("b");
    let no_kid = SigningKey::from_pkcs8(&ed_pkcs8()).unwrap();
    let set = VerifyingKeySet::new(vec![
        b.verifying_key().unwrap(),
        no_kid.verifying_key().unwrap(),
        a.verifying_key().unwrap(),
    ]);
    assert_eq!(set.len(), 3);
    let kids: Vec<_> = set.keys().iter().map(VerifyingKey::kid).collect();
    assert_eq!(kids, [None, Some("a"), Some("b")]);

    for key in [&a, &b] {
        let token = key.sign_compact(&key.header().to_json(), b"{}").unwrap();
        let header = peek_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), key.kid());
        assert_eq!(set.candidates(&header).len(), 1);
        assert!(verify_compact(&token, &set, &JwsAlgorithm::ALL).is_ok());
    }

    // A token naming a kid the set lacks falls back to the keys without a kid only.
    let stray = es256_key().with_kid("c");
    let token = stray
        .sign_compact(&stray.header().to_json(), b"{}")
        .unwrap();
    assert_eq!(
        verify_compact(&token, &set, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
    let by_no_kid = no_kid
        .sign_compact(br#"{"alg":"EdDSA","kid":"c"}"#, b"{}")
        .unwrap();
    assert!(verify_compact(&by_no_kid, &set, &JwsAlgorithm::ALL).is_ok());

    // `a`'s signature presented under `b`'s kid is not tried against `a`.
    let misdirected = a
        .sign_compact(br#"{"alg":"ES256","kid":"b"}"#, b"{}")
        .unwrap();
    assert_eq!(
        verify_compact(&misdirected, &set, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );

    // A token without kid is tried against every key.
    let anonymous = a.sign_compact(br#"{"alg":"ES256"}"#, b"{}").unwrap();
    assert!(verify_compact(&anonymous, &set, &JwsAlgorithm::ALL).is_ok());

    // Plain slices resolve too.
    let keys = [a.verifying_key().unwrap(), b.verifying_key().unwrap()];
    assert!(verify_compact(&anonymous, &keys[..], &JwsAlgorithm::ALL).is_ok());
    assert!(verify_compact(&anonymous, &keys, &JwsAlgorithm::ALL).is_ok());
    assert_eq!(
        verify_compact(&anonymous, &keys[1..], &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
}

#[test]
fn a_jwk_set_skips_keys_it_cannot_use() {
    let a = es256_key().with_kid("a");
    let b = rs256_key().with_kid("b");
    let mut enc = es256_key()
        .public_jwk()
        .unwrap()
        .with_use_and_alg("enc", "ECDH-ES");
    enc.kid = Some("e".to_owned());
    let unsupported = Jwk {
        params: JwkParams::Okp {
            crv: "X25519".to_owned(),
            x: RFC8037_X.to_owned(),
        },
        kid: Some("x".to_owned()),
        key_use: None,
        alg: None,
        x5c: None,
        x5t_s256: None,
    };
    let set = JwkSet {
        keys: vec![
            a.public_jwk().unwrap(),
            enc,
            b.public_jwk().unwrap(),
            unsupported,
        ],
    };
    let (keys, skipped) = VerifyingKeySet::from_jwk_set(&set);
    assert_eq!((keys.len(), skipped), (2, 2));
    let token = b.sign_compact(&b.header().to_json(), b"{}").unwrap();
    assert!(verify_compact(&token, &keys, &JwsAlgorithm::ALL).is_ok());
}

#[test]
fn x5t_s256_narrows_keys_made_from_certificates() {
    let pkcs8 = ec_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING);
    let signing = rcgen::KeyPair::try_from(&pkcs8).unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let certificate = params.self_signed(&signing).unwrap().der().clone();
    let thumbprint = x5t_s256(&certificate);

    let public = VerifyingKey::from_certificate(&certificate).unwrap();
    assert_eq!(public.x5t_s256(), Some(thumbprint.as_str()));
    assert_eq!(public.kid(), None);
    let key = SigningKey::from_pkcs8(&pkcs8).unwrap();

    let matching = token(
        &key,
        &serde_json::json!({"alg": "ES256", "x5t#S256": thumbprint}),
        b"{}",
    );
    let verified = verify_compact(&matching, &public, &JwsAlgorithm::ALL).unwrap();
    assert_eq!(
        verified.header.x5t_s256.as_deref(),
        Some(thumbprint.as_str())
    );

    let other = token(
        &key,
        &serde_json::json!({"alg": "ES256", "x5t#S256": "AAAA"}),
        b"{}",
    );
    assert_eq!(
        verify_compact(&other, &public, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
    // Without x5t#S256 the certificate's key still verifies.
    let plain = token(&key, &serde_json::json!({"alg": "ES256"}), b"{}");
    assert!(verify_compact(&plain, &public, &JwsAlgorithm::ALL).is_ok());
}

#[test]
fn embedded_keys_in_the_header_are_never_trusted() {
    // An attacker signs with their own key and embeds it as `jwk`, `x5c` and `jku`.
    let attacker = es256_key();
    let server = es256_key().verifying_key().unwrap();
    let header = serde_json::json!({
        "alg": "ES256",
        "jwk": attacker.public_jwk().unwrap(),
        "jku": "https://attacker.example/jwks",
        "x5u": "https://attacker.example/cert",
    });
    let forged = token(&attacker, &header, b"{\"sub\":\"admin\"}");
    assert_eq!(
        verify_compact(&forged, &server, &JwsAlgorithm::ALL),
        Err(JwsError::BadSignature)
    );
}

#[test]
fn keys_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<SigningKey>();
    shared::<VerifyingKey>();
    shared::<VerifyingKeySet>();
    shared::<crate::persist::TokenCipher>();
}
