//! Tests of what every format shares: format names and sniffing, alias lookup, errors that
//! name files and aliases but never passwords, and debug output that hides keys.

use super::*;
use crate::keystore::test_keys::{ec_p256, pem};

#[test]
fn formats_parse_from_deployment_toml_names() {
    assert_eq!("JKS".parse::<KeystoreFormat>(), Ok(KeystoreFormat::Jks));
    assert_eq!("jks".parse::<KeystoreFormat>(), Ok(KeystoreFormat::Jks));
    assert_eq!(
        "PKCS12".parse::<KeystoreFormat>(),
        Ok(KeystoreFormat::Pkcs12)
    );
    assert_eq!(
        " p12 ".parse::<KeystoreFormat>(),
        Ok(KeystoreFormat::Pkcs12)
    );
    assert_eq!("pfx".parse::<KeystoreFormat>(), Ok(KeystoreFormat::Pkcs12));
    assert_eq!("Pem".parse::<KeystoreFormat>(), Ok(KeystoreFormat::Pem));
    let err = "JCEKS".parse::<KeystoreFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown keystore type `JCEKS`; expected JKS, PKCS12 or PEM"
    );
    for format in [
        KeystoreFormat::Jks,
        KeystoreFormat::Pkcs12,
        KeystoreFormat::Pem,
    ] {
        assert_eq!(format.to_string().parse::<KeystoreFormat>(), Ok(format));
    }
}

#[test]
fn sniff_recognises_each_format_by_its_first_bytes() {
    assert_eq!(
        KeystoreFormat::sniff(&[0xfe, 0xed, 0xfe, 0xed, 0, 0]),
        Some(KeystoreFormat::Jks)
    );
    assert_eq!(
        KeystoreFormat::sniff(&[0x30, 0x82, 0x0a]),
        Some(KeystoreFormat::Pkcs12)
    );
    assert_eq!(
        KeystoreFormat::sniff(b"# comment\n-----BEGIN CERTIFICATE-----\n"),
        Some(KeystoreFormat::Pem)
    );
    assert_eq!(KeystoreFormat::sniff(&[0xce, 0xce, 0xce, 0xce]), None);
    assert_eq!(KeystoreFormat::sniff(b""), None);
}

#[test]
fn missing_file_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.jks");
    let err = Keystore::open(&path, KeystoreFormat::Jks, &Secret::new("pw")).unwrap_err();
    match &err {
        KeystoreError::Io { file, source } => {
            assert_eq!(file, &path.display().to_string());
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().contains("absent.jks"), "{err}");
}

#[test]
fn errors_name_the_file_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client-truststore.jks");
    std::fs::write(&path, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
    let err = Keystore::open(&path, KeystoreFormat::Jks, &Secret::new("pw")).unwrap_err();
    assert!(matches!(err, KeystoreError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("client-truststore.jks"), "{err}");
    assert!(err.to_string().contains("entry count"), "{err}");
}

#[test]
fn aliases_compare_case_insensitively_and_missing_ones_list_the_rest() {
    let identity = ec_p256("case");
    let text = [
        pem("PRIVATE KEY", identity.key.secret_pkcs8_der()),
        pem("CERTIFICATE", identity.certificate.as_ref()),
    ]
    .concat();
    let store = Keystore::from_pem(text.as_bytes(), "WSO2Carbon").unwrap();
    assert!(store.entry("wso2carbon").is_some());
    assert!(store.entry("WSO2CARBON").is_some());
    assert_eq!(
        store.certificate("wso2CARBON").unwrap(),
        identity.certificate
    );
    let err = store.certificate("gateway_certificate_alias").unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore has no entry `gateway_certificate_alias`; available aliases: WSO2Carbon"
    );
    assert_eq!(store.entries().count(), 1);
    assert_eq!(store.source(), IN_MEMORY);
}

#[test]
fn debug_output_never_shows_key_material() {
    let identity = ec_p256("debug");
    let text = [
        pem("PRIVATE KEY", identity.key.secret_pkcs8_der()),
        pem("CERTIFICATE", identity.certificate.as_ref()),
    ]
    .concat();
    let store = Keystore::from_pem(text.as_bytes(), "k").unwrap();
    let entry = store.private_key("k", &Secret::default()).unwrap();
    let printed = format!("{store:?} {entry:?} {:?}", entry.clone());
    assert!(
        printed.contains("ProtectedKey(\"unprotected\")"),
        "{printed}"
    );
    assert!(
        printed.contains("PrivateKeyEntry { key: \"***\", chain: 1 }"),
        "{printed}"
    );
    // No run of the key's bytes appears, in any rendering Debug might choose.
    let key = identity.key.secret_pkcs8_der();
    let tail = key.get(key.len() - 16..).unwrap();
    assert!(!printed.contains(&format!("{tail:?}")));
    assert!(!printed.contains(&format!("{:?}", &tail[..8])));
}

#[test]
fn pkcs12_keys_need_their_password_and_pem_keys_do_not() {
    let identity = ec_p256("protection");
    let protected = ProtectedKey::store_password(identity.key.clone_key(), &Secret::new("pw"));
    assert!(protected.needs_key_password());
    assert_eq!(
        protected.recover("f", "a", &Secret::new("pw")).unwrap(),
        identity.key
    );
    assert!(matches!(
        protected.recover("f", "a", &Secret::new("pW")),
        Err(KeystoreError::WrongKeyPassword { alias }) if alias == "a"
    ));
    let open = ProtectedKey::unprotected(identity.key.clone_key());
    assert!(!open.needs_key_password());
    assert_eq!(
        open.recover("f", "a", &Secret::new("anything")).unwrap(),
        identity.key
    );
}
