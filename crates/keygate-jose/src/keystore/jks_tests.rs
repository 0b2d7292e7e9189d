//! Tests of the JKS reader: against the committed `keytool` fixture, against stores built
//! here byte by byte (to reach version 1, odd aliases and every malformation), and with
//! proptest over arbitrary and truncated input.

use super::*;
use crate::der::{TAG_OID, TAG_SEQUENCE, encode};
use crate::keystore::tests::{ec_p256, rsa_2048};
use crate::keystore::{IN_MEMORY, Keystore, KeystoreFormat};
use proptest::prelude::*;

const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/wso2carbon-shaped.jks");
const FIXTURE_CERTIFICATE: &[u8] = include_bytes!("../../tests/fixtures/wso2carbon.cer");

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

/// Sun's `KeyProtector.protect`, for building key entries in tests.
fn protect(pkcs8: &[u8], password: &str, salt: [u8; KEY_PROTECTOR_SALT_LEN]) -> Vec<u8> {
    let password = utf16_be(&secret(password));
    let mut encrypted = salt.to_vec();
    encrypted.extend(
        pkcs8
            .iter()
            .zip(keystream(&password, &salt, pkcs8.len()))
            .map(|(p, k)| p ^ k),
    );
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(&password);
    context.update(pkcs8);
    encrypted.extend_from_slice(context.finish().as_ref());

    let mut algorithm = encode(TAG_OID, oid::SUN_JKS_KEY_PROTECTOR);
    algorithm.extend([0x05, 0x00]);
    let mut info = encode(TAG_SEQUENCE, &algorithm);
    info.extend(encode(TAG_OCTET_STRING, &encrypted));
    encode(TAG_SEQUENCE, &info)
}

/// Java's `writeUTF` for the ASCII and BMP text these tests use.
fn java_utf(s: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007f => body.push(unit as u8),
            0x0000 | 0x0080..=0x07ff => {
                body.push(0xc0 | (unit >> 6) as u8);
                body.push(0x80 | (unit & 0x3f) as u8);
            }
            _ => {
                body.push(0xe0 | (unit >> 12) as u8);
                body.push(0x80 | ((unit >> 6) & 0x3f) as u8);
                body.push(0x80 | (unit & 0x3f) as u8);
            }
        }
    }
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

enum Built<'a> {
    Key(&'a [u8], Vec<&'a [u8]>),
    Trusted(&'a [u8]),
    Raw(u32),
}

/// Writes a JKS keystore the way `JavaKeyStore.engineStore` does.
fn build(version: u32, entries: &[(&str, Built<'_>)], store_password: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC_JKS.to_be_bytes());
    out.extend(version.to_be_bytes());
    out.extend((entries.len() as u32).to_be_bytes());
    let certificate = |out: &mut Vec<u8>, der: &[u8]| {
        if version == 2 {
            out.extend(java_utf("X.509"));
        }
        out.extend((der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
    };
    for (alias, entry) in entries {
        let tag = match entry {
            Built::Key(..) => TAG_PRIVATE_KEY,
            Built::Trusted(_) => TAG_TRUSTED_CERTIFICATE,
            Built::Raw(tag) => *tag,
        };
        out.extend(tag.to_be_bytes());
        out.extend(java_utf(alias));
        out.extend(1_700_000_000_000u64.to_be_bytes());
        match entry {
            Built::Key(protected, chain) => {
                out.extend((protected.len() as u32).to_be_bytes());
                out.extend_from_slice(protected);
                out.extend((chain.len() as u32).to_be_bytes());
                for der in chain {
                    certificate(&mut out, der);
                }
            }
            Built::Trusted(der) => certificate(&mut out, der),
            Built::Raw(_) => {}
        }
    }
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(&utf16_be(&secret(store_password)));
    context.update(DIGEST_WHITENER);
    context.update(&out);
    out.extend_from_slice(context.finish().as_ref());
    out
}

fn jks(bytes: &[u8], password: &str) -> Result<Keystore, KeystoreError> {
    Keystore::from_bytes(bytes, KeystoreFormat::Jks, &secret(password))
}

#[test]
fn reads_the_keytool_fixture() {
    let store = jks(FIXTURE, "wso2carbon").unwrap();
    let mut aliases = store.aliases();
    aliases.sort_unstable();
    assert_eq!(aliases, vec!["gateway_certificate_alias", "wso2carbon"]);
    assert_eq!(store.first_private_key_alias(), Some("wso2carbon"));

    let entry = store
        .private_key("WSO2Carbon", &secret("wso2carbon"))
        .unwrap();
    assert_eq!(entry.chain.len(), 1);
    assert_eq!(
        crate::key::KeyAlgorithm::of_pkcs8(entry.key.secret_pkcs8_der()),
        Some(crate::key::KeyAlgorithm::Rsa)
    );
    let certificate = store.certificate("wso2carbon").unwrap();
    assert_eq!(certificate.as_ref(), FIXTURE_CERTIFICATE);
    assert!(crate::key::certificate_matches_key(
        &certificate,
        &entry.key
    ));
    assert_eq!(
        store.trusted_certificates(),
        vec![("gateway_certificate_alias".to_owned(), certificate)]
    );
}

#[test]
fn fixture_rejects_wrong_passwords() {
    let err = jks(FIXTURE, "wso2carbon!").unwrap_err();
    assert!(
        matches!(&err, KeystoreError::WrongPassword { file } if file == IN_MEMORY),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wso2carbon!"));

    let store = jks(FIXTURE, "wso2carbon").unwrap();
    let err = store
        .private_key("wso2carbon", &secret("changeit"))
        .unwrap_err();
    assert!(
        matches!(&err, KeystoreError::WrongKeyPassword { alias } if alias == "wso2carbon"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("changeit"));
}

#[test]
fn key_protector_round_trips_and_checks_its_digest() {
    let identity = ec_p256("protected");
    let protected = protect(identity.key.secret_pkcs8_der(), "key-pass", [7; 20]);
    assert_eq!(
        recover_key(&protected, &secret("key-pass")).unwrap(),
        identity.key
    );
    assert_eq!(
        recover_key(&protected, &secret("key-pasS")),
        Err(KeyRecoveryError::WrongPassword)
    );
    // A flipped ciphertext bit fails the check digest too.
    let mut tampered = protected.clone();
    if let Some(byte) = tampered.get_mut(40) {
        *byte ^= 1;
    }
    assert_eq!(
        recover_key(&tampered, &secret("key-pass")),
        Err(KeyRecoveryError::WrongPassword)
    );
}

#[test]
fn key_protector_rejects_other_algorithms_and_short_input() {
    let mut algorithm = encode(TAG_OID, oid::RSA_ENCRYPTION);
    algorithm.extend([0x05, 0x00]);
    let mut info = encode(TAG_SEQUENCE, &algorithm);
    info.extend(encode(TAG_OCTET_STRING, &[0; 64]));
    let other = encode(TAG_SEQUENCE, &info);
    assert_eq!(
        recover_key(&other, &secret("x")),
        Err(KeyRecoveryError::Unsupported)
    );

    let mut algorithm = encode(TAG_OID, oid::SUN_JKS_KEY_PROTECTOR);
    algorithm.extend([0x05, 0x00]);
    let mut info = encode(TAG_SEQUENCE, &algorithm);
    info.extend(encode(TAG_OCTET_STRING, &[0; 39]));
    let short = encode(TAG_SEQUENCE, &info);
    assert!(matches!(
        recover_key(&short, &secret("x")),
        Err(KeyRecoveryError::Malformed(_))
    ));
    assert!(matches!(
        recover_key(b"\x30", &secret("x")),
        Err(KeyRecoveryError::Malformed(_))
    ));
}

#[test]
fn reads_version_1_and_version_2_stores_with_per_entry_key_passwords() {
    let rsa = rsa_2048("rsa");
    let ec = ec_p256("ec");
    let rsa_protected = protect(rsa.key.secret_pkcs8_der(), "rsa-key", [1; 20]);
    let ec_protected = protect(ec.key.secret_pkcs8_der(), "ec-key", [2; 20]);
    for version in [1, 2] {
        let bytes = build(
            version,
            &[
                (
                    "Signing",
                    Built::Key(&rsa_protected, vec![rsa.certificate.as_ref()]),
                ),
                (
                    "ec",
                    Built::Key(&ec_protected, vec![ec.certificate.as_ref()]),
                ),
                ("peer", Built::Trusted(ec.certificate.as_ref())),
            ],
            "store-pass",
        );
        let store = jks(&bytes, "store-pass").unwrap();
        assert_eq!(store.aliases(), vec!["Signing", "ec", "peer"]);
        assert_eq!(store.first_private_key_alias(), Some("Signing"));
        assert_eq!(
            store
                .private_key("signing", &secret("rsa-key"))
                .unwrap()
                .key,
            rsa.key
        );
        assert_eq!(
            store.private_key("EC", &secret("ec-key")).unwrap().key,
            ec.key
        );
        assert!(matches!(
            store.private_key("ec", &secret("rsa-key")),
            Err(KeystoreError::WrongKeyPassword { .. })
        ));
        assert_eq!(store.certificate("peer").unwrap(), ec.certificate);
        assert!(matches!(
            store.private_key("peer", &secret("x")),
            Err(KeystoreError::NotAPrivateKey { alias }) if alias == "peer"
        ));
        let err = store.private_key("missing", &secret("x")).unwrap_err();
        match &err {
            KeystoreError::AliasNotFound { alias, available } => {
                assert_eq!(alias, "missing");
                assert_eq!(available, &vec!["Signing", "ec", "peer"]);
            }
            other => panic!("expected AliasNotFound, got {other:?}"),
        }
        assert!(err.to_string().contains("Signing, ec, peer"), "{err}");
    }
}

#[test]
fn aliases_are_decoded_as_java_modified_utf8() {
    let ec = ec_p256("utf");
    for alias in ["ünïcødé-ключ", "nul\u{0}byte", "dash-\u{2014}", ""] {
        let bytes = build(2, &[(alias, Built::Trusted(ec.certificate.as_ref()))], "pw");
        assert_eq!(jks(&bytes, "pw").unwrap().aliases(), vec![alias]);
    }
    // A supplementary character arrives as two three-byte surrogates.
    assert_eq!(
        decode_java_utf(&[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]).as_deref(),
        Some("\u{1f600}")
    );
    assert_eq!(decode_java_utf(&[0xed, 0xa0, 0xbd]), None);
    assert_eq!(decode_java_utf(&[0xc3]), None);
    assert_eq!(decode_java_utf(&[0xff]), None);
}

#[test]
fn store_password_digest_covers_non_ascii_passwords() {
    let ec = ec_p256("pw");
    let bytes = build(
        2,
        &[("a", Built::Trusted(ec.certificate.as_ref()))],
        "pässwörd",
    );
    assert!(jks(&bytes, "pässwörd").is_ok());
    assert!(matches!(
        jks(&bytes, "passwort"),
        Err(KeystoreError::WrongPassword { .. })
    ));
}

#[test]
fn jceks_and_other_magic_numbers_are_refused() {
    let mut jceks = MAGIC_JCEKS.to_be_bytes().to_vec();
    jceks.extend([0, 0, 0, 2, 0, 0, 0, 0]);
    let err = jks(&jceks, "x").unwrap_err();
    assert!(matches!(err, KeystoreError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("keytool -importkeystore"), "{err}");

    let err = jks(b"\x30\x82\x01\x00rest", "x").unwrap_err();
    assert!(matches!(err, KeystoreError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("looks like PKCS12"), "{err}");
}

#[test]
fn structural_problems_are_malformed_with_a_reason() {
    let ec = ec_p256("m");
    let cert = ec.certificate.as_ref();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            {
                let mut b = build(2, &[], "pw");
                b.splice(4..8, 3u32.to_be_bytes());
                b
            },
            "unknown JKS version 3",
        ),
        (
            {
                let mut b = build(2, &[], "pw");
                b.splice(8..12, 20_000u32.to_be_bytes());
                b
            },
            "more than the 10000",
        ),
        (build(2, &[("s", Built::Raw(3))], "pw"), "secret-key entry"),
        (
            build(2, &[("t", Built::Raw(9))], "pw"),
            "unknown entry tag 9",
        ),
        (
            build(
                2,
                &[("a", Built::Trusted(cert)), ("A", Built::Trusted(cert))],
                "pw",
            ),
            "alias `A` appears twice",
        ),
        (
            build(2, &[("k", Built::Key(b"x", vec![cert; 65]))], "pw"),
            "chain of 65 certificates",
        ),
        (
            build(2, &[("a", Built::Trusted(cert))], "pw")
                .split_at(100)
                .0
                .to_vec(),
            "file ends inside",
        ),
    ];
    for (bytes, expected) in cases {
        let err = jks(&bytes, "pw").unwrap_err();
        assert!(
            matches!(err, KeystoreError::Malformed { .. }),
            "{expected}: {err:?}"
        );
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

#[test]
fn non_x509_certificate_types_are_malformed() {
    let ec = ec_p256("type");
    let mut bytes = build(2, &[("a", Built::Trusted(ec.certificate.as_ref()))], "pw");
    // The type string starts after magic, version, count, tag, alias "a" and the date.
    let at = 12 + 4 + 3 + 8;
    assert_eq!(bytes.get(at..at + 7), Some(&b"\x00\x05X.509"[..]));
    bytes.splice(at..at + 7, b"\x00\x05X.510".iter().copied());
    let err = jks(&bytes, "pw").unwrap_err();
    assert!(err.to_string().contains("`X.510` is not X.509"), "{err}");
}

#[test]
fn bytes_after_the_digest_are_ignored_like_the_jdk_does() {
    let mut bytes = FIXTURE.to_vec();
    bytes.extend_from_slice(b"\n");
    assert_eq!(jks(&bytes, "wso2carbon").unwrap().aliases().len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = jks(&bytes, "wso2carbon");
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(
        version in prop_oneof![Just(1u32), Just(2u32), any::<u32>()],
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = MAGIC_JKS.to_be_bytes().to_vec();
        bytes.extend(version.to_be_bytes());
        bytes.extend(tail);
        let _ = jks(&bytes, "wso2carbon");
    }

    #[test]
    fn truncations_are_malformed(len in 0..FIXTURE.len()) {
        let truncated = FIXTURE.get(..len).unwrap_or_default();
        let err = jks(truncated, "wso2carbon").unwrap_err();
        prop_assert!(
            matches!(err, KeystoreError::Malformed { .. } | KeystoreError::WrongPassword { .. }),
            "{:?}", err
        );
    }

    #[test]
    fn single_byte_corruptions_are_errors(
        index in 0..FIXTURE.len(),
        flip in 1u8..=255,
    ) {
        let mut corrupted = FIXTURE.to_vec();
        if let Some(byte) = corrupted.get_mut(index) {
            *byte ^= flip;
        }
        // The integrity digest covers every byte, so no corruption yields a store.
        prop_assert!(jks(&corrupted, "wso2carbon").is_err());
    }

    #[test]
    fn arbitrary_protected_keys_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = recover_key(&bytes, &secret("wso2carbon"));
    }
}
