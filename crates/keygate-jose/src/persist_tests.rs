//! Tests of token hashing (FIPS 180-4 vectors, WSO2's record form) and of the token
//! cipher: an AES-GCM known answer computed independently, rotation, and every way a
//! stored value can be wrong.

use proptest::prelude::*;

use super::*;

/// Nonces counting up from a start byte, so outputs are reproducible.
struct CountingNonces(u8);

impl NonceSource for CountingNonces {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CipherError> {
        for byte in dest {
            *byte = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

struct BrokenNonces;

impl NonceSource for BrokenNonces {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), CipherError> {
        Err(CipherError::RandomUnavailable)
    }
}

const KEY_A: [u8; 32] = [0x0a; 32];
const KEY_B: [u8; 32] = [0x0b; 32];

/// Bytes 0..32 as key; AAD `k1`; nonce bytes 100..112; plaintext
/// `opaque-access-token`. Computed with Python's `cryptography` (`AESGCM`), so the
/// format is plain AES-256-GCM that any implementation can open.
const KNOWN_ANSWER: &str = "k1:ZGVmZ2hpamtsbW5vJ2u_FwyMe_9dATqbqUgekimnaP39j27U8c2ShNxwYzPRVqQ";

fn sequential_key() -> [u8; 32] {
    std::array::from_fn(|i| u8::try_from(i).unwrap())
}

#[test]
fn sha256_hex_matches_fips_180_4_vectors() {
    assert_eq!(
        TokenHasher::hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        TokenHasher::hash(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(TokenHasher::hash("a-token").len(), 64);
}

#[test]
fn stored_hashes_match_in_either_form() {
    let token = "9c1f0a2e-4b5d-4f6a-8b7c-0d1e2f3a4b5c";
    let hex = TokenHasher::hash(token);
    let record = TokenHasher::wso2_record(token);
    assert_eq!(
        record,
        format!(r#"{{"algorithm":"SHA-256","hash":"{hex}"}}"#)
    );

    assert!(TokenHasher::matches(token, &hex));
    assert!(TokenHasher::matches(token, &hex.to_ascii_uppercase()));
    assert!(TokenHasher::matches(token, &record));
    // WSO2 writes the record through a hash map: member order and spacing vary.
    assert!(TokenHasher::matches(
        token,
        &format!(r#"{{ "hash" : "{hex}", "algorithm" : "SHA256" }}"#)
    ));

    assert!(!TokenHasher::matches("another-token", &hex));
    assert!(!TokenHasher::matches("another-token", &record));
    assert!(!TokenHasher::matches(token, &hex[..63]));
    assert!(!TokenHasher::matches(token, &format!("{hex}0")));
    assert!(!TokenHasher::matches(
        token,
        &hex.replacen(|c: char| c.is_ascii_digit(), "g", 1)
    ));
    assert!(!TokenHasher::matches(
        token,
        &format!(r#"{{"algorithm":"SHA-512","hash":"{hex}"}}"#)
    ));
    assert!(!TokenHasher::matches(token, r#"{"algorithm":"SHA-256"}"#));
    assert!(!TokenHasher::matches(token, ""));
    assert!(!TokenHasher::matches(token, token));
}

#[test]
fn aes_gcm_known_answer() {
    let cipher = TokenCipher::new("k1", &sequential_key()).unwrap();
    let sealed = cipher
        .encrypt(b"opaque-access-token", &mut CountingNonces(100))
        .unwrap();
    assert_eq!(sealed, KNOWN_ANSWER);
    assert_eq!(
        cipher.decrypt(KNOWN_ANSWER).unwrap(),
        b"opaque-access-token"
    );
}

#[test]
fn values_round_trip_with_a_fresh_nonce_each() {
    let cipher = TokenCipher::new("2024-01", &KEY_A).unwrap();
    let mut nonces = CountingNonces(0);
    let first = cipher.encrypt(b"refresh-token", &mut nonces).unwrap();
    let second = cipher.encrypt(b"refresh-token", &mut nonces).unwrap();
    assert_ne!(first, second);
    for sealed in [&first, &second] {
        assert!(sealed.starts_with("2024-01:"));
        let body = sealed.strip_prefix("2024-01:").unwrap();
        let raw = decode_b64(body, Segment::Payload).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + b"refresh-token".len() + TAG_LEN);
        assert_eq!(cipher.decrypt(sealed).unwrap(), b"refresh-token");
    }
    let empty = cipher.encrypt(b"", &mut nonces).unwrap();
    assert_eq!(cipher.decrypt(&empty).unwrap(), b"");

    let secret = Secret::new("client-secret");
    let sealed = cipher.encrypt_secret(&secret, &mut nonces).unwrap();
    assert_eq!(cipher.decrypt_secret(&sealed).unwrap(), secret);
    assert!(!sealed.contains("client-secret"));

    // The system generator works too.
    let sealed = cipher.encrypt(b"x", &mut SystemNonces::new()).unwrap();
    assert_eq!(cipher.decrypt(&sealed).unwrap(), b"x");
}

#[test]
fn a_wrong_key_or_any_altered_byte_fails_to_decrypt() {
    let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
    let impostor = TokenCipher::new("k1", &KEY_B).unwrap();
    let sealed = cipher
        .encrypt(b"authorization-code", &mut CountingNonces(7))
        .unwrap();
    assert_eq!(impostor.decrypt(&sealed), Err(CipherError::Decrypt));

    let body = decode_b64(sealed.strip_prefix("k1:").unwrap(), Segment::Payload).unwrap();
    for index in 0..body.len() {
        let mut altered = body.clone();
        altered[index] ^= 0x01;
        let stored = format!("k1:{}", encode_b64(&altered));
        assert_eq!(
            cipher.decrypt(&stored),
            Err(CipherError::Decrypt),
            "byte {index}"
        );
    }
    // Cut short by one byte.
    let stored = format!("k1:{}", encode_b64(&body[..body.len() - 1]));
    assert_eq!(cipher.decrypt(&stored), Err(CipherError::Decrypt));
}

#[test]
fn the_key_id_is_bound_to_the_value() {
    // Even under identical key bytes, a value moved to another key id fails: the id
    // is the associated data.
    let cipher = TokenCipher::new("new", &KEY_A)
        .unwrap()
        .with_previous_key("old", &KEY_A)
        .unwrap();
    let sealed = cipher.encrypt(b"token", &mut CountingNonces(1)).unwrap();
    let moved = sealed.replacen("new:", "old:", 1);
    assert_eq!(cipher.decrypt(&moved), Err(CipherError::Decrypt));
}

#[test]
fn rotation_keeps_old_values_readable_and_flags_them() {
    let before = TokenCipher::new("k1", &KEY_A).unwrap();
    let old_value = before.encrypt(b"token", &mut CountingNonces(1)).unwrap();

    let after = TokenCipher::new("k2", &KEY_B)
        .unwrap()
        .with_previous_key("k1", &KEY_A)
        .unwrap();
    assert_eq!(after.current_kid(), "k2");
    assert_eq!(after.kids().collect::<Vec<_>>(), ["k2", "k1"]);
    assert_eq!(after.decrypt(&old_value).unwrap(), b"token");
    assert!(after.needs_reencryption(&old_value));

    let new_value = after.encrypt(b"token", &mut CountingNonces(1)).unwrap();
    assert!(new_value.starts_with("k2:"));
    assert!(!after.needs_reencryption(&new_value));
    assert_eq!(TokenCipher::key_id_of(&new_value), Some("k2"));
    assert_eq!(
        before.decrypt(&new_value),
        Err(CipherError::UnknownKey("k2".to_owned()))
    );
    assert!(after.needs_reencryption("plain-token-without-kid"));
}

#[test]
fn malformed_stored_values_are_errors() {
    let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
    for stored in [
        "",
        "no-colon",
        ":AAAA",
        "k1:",
        "k1:AAAA",
        "k1:not base64!",
        "k1:ZGVmZ2hpamtsbW5vJ2u_FwyMe_9dATqbqUgekimnaP39j27U8c2ShNxwYzPRVqQ=",
        "k 1:ZGVmZ2hpamtsbW5vJ2u_FwyMe_9dATqbqUgekimnaP39j27U8c2ShNxwYzPRVqQ",
    ] {
        assert_eq!(
            cipher.decrypt(stored),
            Err(CipherError::Malformed),
            "{stored:?}"
        );
    }
    assert_eq!(
        cipher.decrypt("k9:ZGVmZ2hpamtsbW5vJ2u_FwyMe_9dATqbqUgekimnaP39j27U8c2ShNxwYzPRVqQ"),
        Err(CipherError::UnknownKey("k9".to_owned()))
    );
    let binary = cipher
        .encrypt(&[0xff, 0xfe], &mut CountingNonces(3))
        .unwrap();
    assert_eq!(cipher.decrypt_secret(&binary), Err(CipherError::NotUtf8));
}

#[test]
fn keys_and_key_ids_are_checked() {
    assert_eq!(
        TokenCipher::new("k1", &[0; 16]).unwrap_err(),
        CipherError::KeyLength
    );
    assert_eq!(
        TokenCipher::new("k1", &[0; 33]).unwrap_err(),
        CipherError::KeyLength
    );
    for kid in ["", "a:b", "white space", "é", &"k".repeat(65)] {
        assert_eq!(
            TokenCipher::new(kid, &KEY_A).unwrap_err(),
            CipherError::InvalidKeyId,
            "{kid:?}"
        );
    }
    assert!(TokenCipher::new("2025-06.primary_key-1", &KEY_A).is_ok());
    assert_eq!(
        TokenCipher::new("k1", &KEY_A)
            .unwrap()
            .with_previous_key("k1", &KEY_B)
            .unwrap_err(),
        CipherError::DuplicateKeyId("k1".to_owned())
    );
}

#[test]
fn a_failing_nonce_source_stops_encryption() {
    let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
    assert_eq!(
        cipher.encrypt(b"token", &mut BrokenNonces),
        Err(CipherError::RandomUnavailable)
    );
}

#[test]
fn debug_output_names_key_ids_only() {
    let cipher = TokenCipher::new("k2", &KEY_B)
        .unwrap()
        .with_previous_key("k1", &KEY_A)
        .unwrap();
    assert_eq!(
        format!("{cipher:?}"),
        r#"TokenCipher { current: "k2", previous: ["k1"] }"#
    );
}

proptest! {
    #[test]
    fn any_plaintext_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..512), start in any::<u8>()) {
        let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
        let sealed = cipher.encrypt(&plaintext, &mut CountingNonces(start)).unwrap();
        prop_assert_eq!(cipher.decrypt(&sealed).unwrap(), plaintext);
    }

    #[test]
    fn arbitrary_stored_values_never_panic(stored in ".{0,200}") {
        let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
        prop_assert!(cipher.decrypt(&stored).is_err());
        let _ = TokenHasher::matches("token", &stored);
    }

    #[test]
    fn arbitrary_bodies_under_a_known_kid_never_decrypt(body in "[A-Za-z0-9_-]{0,120}") {
        let cipher = TokenCipher::new("k1", &KEY_A).unwrap();
        let stored = format!("k1:{body}");
        prop_assert!(cipher.decrypt(&stored).is_err());
    }
}
