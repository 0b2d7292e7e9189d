//! Tests of what every format shares: format names and sniffing, alias lookup, errors that
//! name files and aliases but never passwords, and debug output that hides keys. Also the
//! key pairs and self-signed certificates that every format's tests make in-process.

use super::*;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

/// A fresh key and a self-signed certificate for `localhost` over it.
pub(crate) struct TestIdentity {
    pub(crate) key: PrivatePkcs8KeyDer<'static>,
    pub(crate) certificate: CertificateDer<'static>,
}

fn certify(pkcs8: Vec<u8>, common_name: &str) -> TestIdentity {
    let key = PrivatePkcs8KeyDer::from(pkcs8);
    let signing = rcgen::KeyPair::try_from(&key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let certificate = params.self_signed(&signing).unwrap().der().clone();
    TestIdentity { key, certificate }
}

/// A P-256 key pair and its certificate.
pub(crate) fn ec_p256(common_name: &str) -> TestIdentity {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    certify(doc.as_ref().to_vec(), common_name)
}

/// An RSA 2048 key pair and its certificate.
pub(crate) fn rsa_2048(common_name: &str) -> TestIdentity {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().unwrap();
    certify(pkcs8.as_ref().to_vec(), common_name)
}

/// PEM text of one DER object.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

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
