//! Tests of compact JWS: the RFC 7515 appendix A.2/A.3 and RFC 8037 appendix A.4/A.5
//! vectors, one test per refusal, and a property that no input makes verification panic.
//! Also the test keys the key tests share.

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use proptest::prelude::*;
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::*;
use crate::der::{self, TAG_INTEGER, TAG_SEQUENCE};
use crate::jwk::Jwk;
use crate::key;

// --- RFC vectors ----------------------------------------------------------------------

/// RFC 7515 appendix A.2.1's RSA key, member for member.
mod rfc7515_a2 {
    pub const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    pub const E: &str = "AQAB";
    pub const D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
    pub const P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
    pub const Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
    pub const DP: &str = "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
    pub const DQ: &str = "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
    pub const QI: &str = "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
    /// The JWS of appendix A.2.1, signing input and signature.
    pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
}

/// The header and payload octets of RFC 7515 appendix A.1-A.3 (A.2 and A.3 share the
/// payload; the CR LF line breaks are part of it).
const A2_HEADER: &[u8] = br#"{"alg":"RS256"}"#;
const RFC7515_PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/// RFC 7515 appendix A.3's P-256 public key and JWS.
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 8037 appendix A.1's Ed25519 key and A.4's JWS.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
pub(super) const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_PAYLOAD: &[u8] = b"Example of Ed25519 signing";
const RFC8037_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

pub(super) fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// DER INTEGER of an unsigned big-endian value (a zero octet first if the top bit is set).
fn der_uint(base64url: &str) -> Vec<u8> {
    let mut value = unb64(base64url);
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    der::encode(TAG_INTEGER, &value)
}

/// The A.2 key as PKCS#8: its JWK members laid into a PKCS#1 `RSAPrivateKey`
/// (RFC 8017 appendix A.1.2: version 0, n, e, d, p, q, dp, dq, qi), which aws-lc-rs
/// reads and re-encodes as PKCS#8. aws-lc-rs has no import from raw RSA components, so
/// this is the derivation; it needs no external tool.
fn rfc7515_a2_pkcs8() -> PrivatePkcs8KeyDer<'static> {
    use rfc7515_a2::*;
    let mut body = der::encode(TAG_INTEGER, &[0]);
    for member in [N, E, D, P, Q, DP, DQ, QI] {
        body.extend(der_uint(member));
    }
    let pkcs1 = der::encode(TAG_SEQUENCE, &body);
    key::pkcs8_from_pkcs1(&pkcs1).unwrap()
}

/// RFC 8410 §7's PKCS#8 v1 prefix of an Ed25519 private key, then the 32-byte seed.
pub(super) fn ed25519_pkcs8(seed: &[u8]) -> PrivatePkcs8KeyDer<'static> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    PrivatePkcs8KeyDer::from(der)
}

fn jwk(json: serde_json::Value) -> Jwk {
    serde_json::from_value(json).unwrap()
}

#[test]
fn rfc7515_a2_rs256_signature_is_byte_exact() {
    let key = SigningKey::from_pkcs8(&rfc7515_a2_pkcs8()).unwrap();
    assert_eq!(
        key.algorithm(),
        JwsAlgorithm::Rs256,
        "RSA signs RS256 by default"
    );
    let token = key.sign_compact(A2_HEADER, RFC7515_PAYLOAD).unwrap();
    assert_eq!(token, rfc7515_a2::TOKEN);

    // The same key's public half, from the RFC's JWK, verifies it.
    let public = VerifyingKey::from_jwk(&jwk(serde_json::json!({
        "kty": "RSA", "n": rfc7515_a2::N, "e": rfc7515_a2::E
    })))
    .unwrap();
    let verified = verify_compact(rfc7515_a2::TOKEN, &public, &[JwsAlgorithm::Rs256]).unwrap();
    assert_eq!(verified.payload_bytes, RFC7515_PAYLOAD);
    assert_eq!(verified.header, JwsHeader::new(JwsAlgorithm::Rs256));
}

#[test]
fn rfc7515_a3_es256_verifies() {
    let public = VerifyingKey::from_jwk(&jwk(serde_json::json!({
        "kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y
    })))
    .unwrap();
    let verified = verify_compact(A3_TOKEN, &public, &[JwsAlgorithm::Es256]).unwrap();
    assert_eq!(verified.header.alg, JwsAlgorithm::Es256);
    assert_eq!(verified.payload_bytes, RFC7515_PAYLOAD);

    // One flipped bit of R fails.
    let (input, signature) = A3_TOKEN.rsplit_once('.').unwrap();
    let mut bytes = unb64(signature);
    bytes[0] ^= 1;
    let forged = format!("{input}.{}", encode_b64(&bytes));
    assert_eq!(
        verify_compact(&forged, &public, &[JwsAlgorithm::Es256]),
        Err(JwsError::BadSignature)
    );
}

#[test]
fn rfc8037_a4_ed25519_signature_is_byte_exact() {
    let key = SigningKey::from_pkcs8(&ed25519_pkcs8(&unb64(RFC8037_D))).unwrap();
    assert_eq!(key.algorithm(), JwsAlgorithm::EdDsa);
    assert_eq!(key.public_key(), unb64(RFC8037_X));
    let token = key
        .sign_compact(br#"{"alg":"EdDSA"}"#, RFC8037_PAYLOAD)
        .unwrap();
    assert_eq!(token, RFC8037_TOKEN);
}

#[test]
fn rfc8037_a5_ed25519_verifies() {
    let public = VerifyingKey::from_jwk(&jwk(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X
    })))
    .unwrap();
    let verified = verify_compact(RFC8037_TOKEN, &public, &[JwsAlgorithm::EdDsa]).unwrap();
    assert_eq!(verified.payload_bytes, RFC8037_PAYLOAD);
    assert_eq!(verified.header.alg, JwsAlgorithm::EdDsa);

    let altered = RFC8037_TOKEN.replace(
        ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.",
        ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd.",
    );
    assert_ne!(altered, RFC8037_TOKEN);
    assert_eq!(
        verify_compact(&altered, &public, &[JwsAlgorithm::EdDsa]),
        Err(JwsError::BadSignature)
    );
}

// --- Keys for the round trips -----------------------------------------------------------

pub(super) fn rsa_pkcs8() -> &'static PrivatePkcs8KeyDer<'static> {
    static KEY: OnceLock<PrivatePkcs8KeyDer<'static>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: Pkcs8V1Der<'static> = pair.as_der().unwrap();
        PrivatePkcs8KeyDer::from(der.as_ref().to_vec())
    })
}

pub(super) fn ec_pkcs8(
    alg: &'static signature::EcdsaSigningAlgorithm,
) -> PrivatePkcs8KeyDer<'static> {
    let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
    PrivatePkcs8KeyDer::from(doc.as_ref().to_vec())
}

pub(super) fn ed_pkcs8() -> PrivatePkcs8KeyDer<'static> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    PrivatePkcs8KeyDer::from(doc.as_ref().to_vec())
}

/// A signing key for every algorithm.
pub(super) fn signing_keys() -> Vec<SigningKey> {
    let mut keys = Vec::new();
    for alg in [
        JwsAlgorithm::Rs256,
        JwsAlgorithm::Rs384,
        JwsAlgorithm::Rs512,
        JwsAlgorithm::Ps256,
        JwsAlgorithm::Ps384,
        JwsAlgorithm::Ps512,
    ] {
        keys.push(
            SigningKey::from_pkcs8(rsa_pkcs8())
                .unwrap()
                .with_algorithm(alg)
                .unwrap(),
        );
    }
    for curve in [
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    ] {
        keys.push(SigningKey::from_pkcs8(&ec_pkcs8(curve)).unwrap());
    }
    keys.push(SigningKey::from_pkcs8(&ed_pkcs8()).unwrap());
    keys
}

pub(super) fn es256_key() -> SigningKey {
    SigningKey::from_pkcs8(&ec_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)).unwrap()
}

pub(super) fn rs256_key() -> SigningKey {
    SigningKey::from_pkcs8(rsa_pkcs8()).unwrap()
}

pub(super) fn token(key: &SigningKey, header: &serde_json::Value, payload: &[u8]) -> String {
    key.sign_compact(&serde_json::to_vec(header).unwrap(), payload)
        .unwrap()
}

// --- Refusals ---------------------------------------------------------------------------

pub(super) fn b64(bytes: &[u8]) -> String {
    encode_b64(bytes)
}

#[test]
fn alg_none_is_refused() {
    let key = rs256_key().verifying_key().unwrap();
    let payload = b64(br#"{"sub":"admin"}"#);
    for header in [r#"{"alg":"none"}"#, r#"{"alg":"none","typ":"JWT"}"#] {
        for signature in ["", "c2ln"] {
            let token = format!("{}.{payload}.{signature}", b64(header.as_bytes()));
            assert_eq!(
                verify_compact(&token, &key, &JwsAlgorithm::ALL),
                Err(JwsError::Unsecured),
                "{header} / {signature:?}"
            );
        }
    }
    // Nor is `None` or `NONE` an unsecured JWS in disguise: unsupported.
    let token = format!("{}.{payload}.", b64(br#"{"alg":"None"}"#));
    assert_eq!(
        verify_compact(&token, &key, &JwsAlgorithm::ALL),
        Err(JwsError::UnsupportedAlgorithm)
    );
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_refused() {
    // The algorithm-confusion attack: sign HS256 with the server's public key as the
    // HMAC secret, in each encoding an attacker might try, and present it.
    let signer = rs256_key();
    let verifier = signer.verifying_key().unwrap();
    let pkcs1 = signer.public_key();
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&pkcs1)
    );
    for secret in [pkcs1.clone(), pem.into_bytes()] {
        for alg in ["HS256", "HS384", "HS512"] {
            let input = format!(
                "{}.{}",
                b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
                b64(br#"{"sub":"admin"}"#)
            );
            let mac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
            let tag = aws_lc_rs::hmac::sign(&mac_key, input.as_bytes());
            let token = format!("{input}.{}", b64(tag.as_ref()));
            assert_eq!(
                verify_compact(&token, &verifier, &JwsAlgorithm::ALL),
                Err(JwsError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
    }
}

#[test]
fn algorithms_outside_the_allowed_list_are_refused() {
    let key = rs256_key();
    let token = token(&key, &serde_json::json!({"alg": "RS256"}), b"{}");
    let public = key.verifying_key().unwrap();
    assert_eq!(
        verify_compact(&token, &public, &[JwsAlgorithm::Es256, JwsAlgorithm::Ps256]),
        Err(JwsError::AlgorithmNotAllowed(JwsAlgorithm::Rs256))
    );
    assert_eq!(
        verify_compact(&token, &public, &[]),
        Err(JwsError::AlgorithmNotAllowed(JwsAlgorithm::Rs256))
    );
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_finds_no_key() {
    let rsa = rs256_key();
    let ec = es256_key();
    let es256_token = token(&ec, &serde_json::json!({"alg": "ES256"}), b"{}");
    let rsa_public = VerifyingKey::from_public_key(KeyAlgorithm::Rsa, &rsa.public_key()).unwrap();
    // An ES256 token against an RSA key.
    assert_eq!(
        verify_compact(&es256_token, &rsa_public, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
    // An RS256 token against a JWK that pins PS256.
    let rs256_token = token(&rsa, &serde_json::json!({"alg": "RS256"}), b"{}");
    let pinned = VerifyingKey::from_jwk(
        &Jwk::from_public_key(KeyAlgorithm::Rsa, &rsa.public_key())
            .unwrap()
            .with_use_and_alg("sig", "PS256"),
    )
    .unwrap();
    assert_eq!(
        pinned.algorithms().collect::<Vec<_>>(),
        [JwsAlgorithm::Ps256]
    );
    assert_eq!(
        verify_compact(&rs256_token, &pinned, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
    // ES384 claimed over a P-256 key's signature.
    let ec_public = ec.verifying_key().unwrap();
    let relabelled = format!(
        "{}.{}",
        b64(br#"{"alg":"ES384"}"#),
        es256_token.split_once('.').unwrap().1
    );
    assert_eq!(
        verify_compact(&relabelled, &ec_public, &JwsAlgorithm::ALL),
        Err(JwsError::NoMatchingKey)
    );
    // Asking a key to verify with an algorithm it lacks is an error, not a panic.
    assert_eq!(
        ec_public.verify(JwsAlgorithm::Rs256, b"x", b"y"),
        Err(JwsError::KeyMismatch {
            alg: JwsAlgorithm::Rs256,
            key: KeyAlgorithm::EcP256
        })
    );
}

#[test]
fn critical_headers_are_refused() {
    let key = rs256_key();
    let public = key.verifying_key().unwrap();
    for crit in [
        serde_json::json!(["exp"]),
        serde_json::json!(["b64"]),
        serde_json::json!([]),
        serde_json::json!(null),
        serde_json::json!("exp"),
    ] {
        let header = serde_json::to_vec(&serde_json::json!({
            "alg": "RS256", "crit": crit, "exp": 1, "b64": true
        }))
        .unwrap();
        // A well-signed token with `crit`, built by hand since `sign_compact` refuses.
        let input = format!("{}.{}", b64(&header), b64(b"{}"));
        let signature = key.sign(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64(&signature));
        assert_eq!(
            verify_compact(&token, &public, &JwsAlgorithm::ALL),
            Err(JwsError::Critical),
            "{crit}"
        );
        assert_eq!(key.sign_compact(&header, b"{}"), Err(JwsError::Critical));
    }
}

#[test]
fn non_canonical_base64url_is_refused_in_every_segment() {
    let key = es256_key();
    let public = key.verifying_key().unwrap();
    // A 7-byte payload leaves 2 trailing bits; a 64-byte signature 2 as well.
    let good = token(&key, &serde_json::json!({"alg": "ES256"}), b"payload");
    assert!(verify_compact(&good, &public, &JwsAlgorithm::ALL).is_ok());
    let segments: Vec<&str> = good.split('.').collect();

    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let with_trailing_bit = |segment: &str| {
        let last = segment.chars().last().unwrap();
        let index = alphabet.find(last).unwrap();
        let changed = alphabet.chars().nth(index ^ 1).unwrap();
        format!("{}{changed}", &segment[..segment.len() - 1])
    };

    for (which, segment) in [
        (0, Segment::Header),
        (1, Segment::Payload),
        (2, Segment::Signature),
    ] {
        let mut variants = vec![
            format!("{}=", segments[which]),
            format!("{}==", segments[which]),
            format!(" {}", segments[which]),
            format!("{}\n", segments[which]),
            segments[which].replace(|c: char| c.is_ascii_digit(), "+"),
        ];
        if !segments[which].len().is_multiple_of(4) {
            variants.push(with_trailing_bit(segments[which]));
        }
        for variant in variants {
            if variant == segments[which] {
                continue;
            }
            let mut parts = segments.clone();
            parts[which] = &variant;
            let token = parts.join(".");
            let result = verify_compact(&token, &public, &JwsAlgorithm::ALL);
            assert!(
                matches!(
                    result,
                    Err(JwsError::Base64(s)) if s == segment
                ) || (which == 1 && result == Err(JwsError::BadSignature)),
                "{segment}: {variant:?} gave {result:?}"
            );
            assert!(result.is_err());
        }
    }
    // The standard alphabet's `/` where `_` belongs.
    let slash = good.replace('_', "/");
    if slash != good {
        assert!(verify_compact(&slash, &public, &JwsAlgorithm::ALL).is_err());
    }
}

#[test]
fn a_payload_with_trailing_bits_is_refused_even_when_signed() {
    // The signer signs the segment as written, so the signature holds; the payload's
    // non-canonical base64url must still be refused.
    let key = es256_key();
    let public = key.verifying_key().unwrap();
    let header = b64(br#"{"alg":"ES256"}"#);
    let canonical = b64(b"payload"); // "cGF5bG9hZA", 2 trailing bits
    assert_eq!(canonical, "cGF5bG9hZA");
    let input = format!("{header}.cGF5bG9hZB");
    let signature = key.sign(input.as_bytes()).unwrap();
    let token = format!("{input}.{}", b64(&signature));
    assert_eq!(
        verify_compact(&token, &public, &JwsAlgorithm::ALL),
        Err(JwsError::Base64(Segment::Payload))
    );
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let public = es256_key().verifying_key().unwrap();
    let big = format!(
        "{}.{}.sig",
        b64(br#"{"alg":"ES256"}"#),
        "A".repeat(MAX_TOKEN_LEN)
    );
    assert_eq!(
        verify_compact(&big, &public, &JwsAlgorithm::ALL),
        Err(JwsError::TooLarge {
            len: big.len(),
            limit: MAX_TOKEN_LEN
        })
    );
    // Exactly at the limit is read (and here fails on its merits).
    let key = es256_key();
    let header = b64(br#"{"alg":"ES256"}"#);
    let room = MAX_TOKEN_LEN - header.len() - 2 - 86;
    let payload = "A".repeat(room / 4 * 4);
    let input = format!("{header}.{payload}");
    let signature = b64(&key.sign(input.as_bytes()).unwrap());
    let at_limit = format!("{input}.{signature}");
    assert!(at_limit.len() <= MAX_TOKEN_LEN);
    assert!(verify_compact(&at_limit, &key.verifying_key().unwrap(), &JwsAlgorithm::ALL).is_ok());
}

#[test]
fn tokens_without_exactly_three_segments_are_refused() {
    let key = es256_key();
    let public = key.verifying_key().unwrap();
    let good = token(&key, &serde_json::json!({"alg": "ES256"}), b"{}");
    let (header, rest) = good.split_once('.').unwrap();
    let jwe_like = format!("{header}.a.b.c.d");
    for token in [
        String::new(),
        "abc".to_owned(),
        header.to_owned(),
        format!("{header}.{}", rest.split_once('.').unwrap().0),
        format!("{good}."),
        format!("{good}.extra"),
        format!(".{good}"),
        jwe_like,
    ] {
        assert_eq!(
            verify_compact(&token, &public, &JwsAlgorithm::ALL),
            Err(JwsError::SegmentCount),
            "{token:?}"
        );
    }
}

#[test]
fn headers_that_are_not_json_objects_with_one_alg_are_refused() {
    let public = es256_key().verifying_key().unwrap();
    for header in [
        &br#"["ES256"]"#[..],
        br#""ES256""#,
        br#"{"typ":"JWT"}"#,
        br#"{"alg":256}"#,
        br#"{"alg":"ES256","alg":"ES256"}"#,
        br#"{"alg":"ES256","kid":7}"#,
        br#"{"alg":"ES256"} trailing"#,
        b"\xff\xfe",
        b"",
    ] {
        let token = format!("{}.{}.AAAA", b64(header), b64(b"{}"));
        assert_eq!(
            verify_compact(&token, &public, &JwsAlgorithm::ALL),
            Err(JwsError::Header),
            "{}",
            String::from_utf8_lossy(header)
        );
    }
}

#[test]
fn tampering_with_any_segment_fails() {
    let key = es256_key();
    let public = key.verifying_key().unwrap();
    let good = token(
        &key,
        &serde_json::json!({"alg": "ES256", "kid": "a"}),
        b"{\"n\":1}",
    );
    let parts: Vec<&str> = good.split('.').collect();
    let other_header = b64(br#"{"alg":"ES256","kid":"a","typ":"JWT"}"#);
    let other_payload = b64(b"{\"n\":2}");
    let signature = unb64(parts[2]);
    let truncated_signature = b64(&signature[..signature.len() - 3]);
    let long_signature = "A".repeat(2000);
    for forged in [
        format!("{other_header}.{}.{}", parts[1], parts[2]),
        format!("{}.{other_payload}.{}", parts[0], parts[2]),
        format!("{}.{}.{truncated_signature}", parts[0], parts[1]),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.{long_signature}", parts[0], parts[1]),
    ] {
        assert_eq!(
            verify_compact(&forged, &public, &JwsAlgorithm::ALL),
            Err(JwsError::BadSignature),
            "{forged}"
        );
    }
}

#[test]
fn sign_compact_refuses_a_header_for_another_algorithm() {
    let key = rs256_key();
    assert_eq!(
        key.sign_compact(br#"{"alg":"PS256"}"#, b"{}"),
        Err(JwsError::KeyMismatch {
            alg: JwsAlgorithm::Ps256,
            key: KeyAlgorithm::Rsa
        })
    );
    assert_eq!(
        key.sign_compact(br#"{"alg":"none"}"#, b"{}"),
        Err(JwsError::Unsecured)
    );
    assert_eq!(key.sign_compact(b"[]", b"{}"), Err(JwsError::Header));
    // The free function is the method.
    let token = sign_compact(&key, br#"{"alg":"RS256"}"#, b"{}").unwrap();
    assert!(
        verify_compact(
            &token,
            &key.verifying_key().unwrap(),
            &[JwsAlgorithm::Rs256]
        )
        .is_ok()
    );
}

// --- Properties -------------------------------------------------------------------------

fn property_keys() -> &'static Vec<VerifyingKey> {
    static KEYS: OnceLock<Vec<VerifyingKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        signing_keys()
            .iter()
            .map(|k| k.verifying_key().unwrap())
            .collect()
    })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(token in ".{0,600}") {
        let result = verify_compact(&token, property_keys().as_slice(), &JwsAlgorithm::ALL);
        prop_assert!(result.is_err());
        let _ = peek_header(&token);
    }

    #[test]
    fn arbitrary_three_segment_tokens_never_panic(
        header in "[A-Za-z0-9_=+/-]{0,80}",
        payload in "[A-Za-z0-9_-]{0,80}",
        signature in "[A-Za-z0-9_-]{0,400}",
    ) {
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(verify_compact(&token, property_keys().as_slice(), &JwsAlgorithm::ALL).is_err());
    }

    #[test]
    fn arbitrary_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 0..200)) {
        let token = format!("{}.e30.AAAA", b64(&header));
        prop_assert!(verify_compact(&token, property_keys().as_slice(), &JwsAlgorithm::ALL).is_err());
    }

    #[test]
    fn any_payload_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        let key = KEY.get_or_init(|| SigningKey::from_pkcs8(&ed_pkcs8()).unwrap());
        let token = key.sign_compact(&key.header().to_json(), &payload).unwrap();
        let verified = verify_compact(&token, &key.verifying_key().unwrap(), &[JwsAlgorithm::EdDsa]).unwrap();
        prop_assert_eq!(verified.payload_bytes, payload);
    }
}

#[test]
fn escaped_header_members_are_read_like_plain_ones() {
    let key = es256_key().with_kid("k/1");
    let header = br#"{"alg":"E\u0053256","kid":"k\/1"}"#;
    let token = key.sign_compact(header, b"{}").unwrap();
    let verified =
        verify_compact(&token, &key.verifying_key().unwrap(), &JwsAlgorithm::ALL).unwrap();
    assert_eq!(verified.header.alg, JwsAlgorithm::Es256);
    assert_eq!(verified.header.kid.as_deref(), Some("k/1"));
    let none = format!("{}.e30.", b64(br#"{"alg":"\u006eone"}"#));
    assert_eq!(
        verify_compact(&none, &key.verifying_key().unwrap(), &JwsAlgorithm::ALL),
        Err(JwsError::Unsecured)
    );
}
