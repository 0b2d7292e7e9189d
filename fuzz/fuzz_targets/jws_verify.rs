//! Fuzzes compact JWS verification and JWT decoding: the size and segment checks, strict
//! base64url, header parsing, `alg`/`crit` refusals, key selection by `kid` and claims
//! parsing. The first byte picks a mode: most inputs are tokens verified against a fixed
//! key set; mode 0 signs the rest as a payload with a real key first, so that inputs also
//! reach the code after a signature holds (payload decoding, claims, validation).
//! Seeded by `corpus/jws_verify/`: the RFC 7515 A.2/A.3 and RFC 8037 A.4 tokens.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use keygate_jose::jws::{
    JwsAlgorithm, SigningKey, VerifyingKey, VerifyingKeySet, peek_header, verify_compact,
};
use keygate_jose::jwt::{self, Claims, Validation};
use libfuzzer_sys::fuzz_target;
use rustls_pki_types::PrivatePkcs8KeyDer;

struct Keys {
    signer: SigningKey,
    set: VerifyingKeySet,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| PrivatePkcs8KeyDer::from(d.as_ref().to_vec()));
        let ed = Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|d| PrivatePkcs8KeyDer::from(d.as_ref().to_vec()));
        let (Ok(ec), Ok(ed)) = (ec, ed) else {
            std::process::abort();
        };
        let (Ok(ec), Ok(ed)) = (SigningKey::from_pkcs8(&ec), SigningKey::from_pkcs8(&ed)) else {
            std::process::abort();
        };
        let ec = ec.with_kid("ec-1");
        let verifying: Vec<VerifyingKey> = [&ec, &ed]
            .iter()
            .filter_map(|k| k.verifying_key().ok())
            .collect();
        Keys {
            signer: ed,
            set: VerifyingKeySet::new(verifying),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let validation = Validation::new(Duration::from_secs(1_700_000_000))
        .with_leeway(Duration::from_secs(60));
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        // A genuinely signed token around arbitrary payload bytes must verify and give
        // them back unchanged; its claims may be anything.
        let header = keys.signer.header().with_typ("at+jwt").to_json();
        let Ok(token) = keys.signer.sign_compact(&header, rest) else {
            return;
        };
        match verify_compact(&token, &keys.set, &JwsAlgorithm::ALL) {
            Ok(verified) if verified.payload_bytes == rest => {}
            _ => std::process::abort(),
        }
        let _ = jwt::decode(&token, &keys.set, &validation);
        return;
    }
    let _ = Claims::from_json(rest);
    if let Ok(token) = std::str::from_utf8(rest) {
        let _ = peek_header(token);
        let _ = verify_compact(token, &keys.set, &JwsAlgorithm::ALL);
        let _ = jwt::decode(token, &keys.set, &validation);
    }
});
