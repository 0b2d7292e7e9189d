//! Keystores made by the JDK's own `keytool` at test time, read back by keygate: JKS and
//! PKCS#12 (modern and legacy), RSA 2048 and EC P-256 keys, a key password that differs
//! from the store password, and a trust store with `gateway_certificate_alias` as WSO2's
//! key-manager setup imports it.
//!
//! Without `keytool` each test prints `SKIPPED: keytool not found` and passes, unless
//! `KEYGATE_TEST_REQUIRE_SERVICES=1`, which turns the skip into a failure.

// Helpers of a test binary fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use keygate_jose::key::{KeyAlgorithm, certificate_public_key};
use keygate_jose::{Keystore, KeystoreError, KeystoreFormat, PrivateKeyEntry};
use keygate_model::Secret;
use rustls_pki_types::CertificateDer;

const STORE_PASSWORD: &str = "wso2carbon";
const KEY_PASSWORD: &str = "wso2carbon-key";
const TRUSTSTORE_PASSWORD: &str = "truststore-pass";

/// `keytool` in a scratch directory.
struct Keytool {
    program: PathBuf,
    dir: tempfile::TempDir,
}

impl Keytool {
    /// The JDK's `keytool`, or `None` after printing the skip line (or failing, when
    /// services are required).
    fn find() -> Option<Self> {
        let candidates = std::env::var_os("JAVA_HOME")
            .map(|home| PathBuf::from(home).join("bin/keytool"))
            .into_iter()
            .chain(std::env::var_os("PATH").into_iter().flat_map(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("keytool"))
                    .collect::<Vec<_>>()
            }));
        let found = candidates.into_iter().find(|path| path.is_file());
        match found {
            Some(program) => Some(Self {
                program,
                dir: tempfile::tempdir().unwrap(),
            }),
            None => {
                eprintln!("SKIPPED: keytool not found (install a JDK or set JAVA_HOME)");
                assert!(
                    std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                    "keytool not found and KEYGATE_TEST_REQUIRE_SERVICES=1"
                );
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) {
        let output = Command::new(&self.program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "keytool {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `keytool -genkeypair` of an RSA 2048 or EC P-256 key with a self-signed certificate.
    fn generate(&self, store: &str, store_type: &str, alias: &str, algorithm: KeyAlgorithm) {
        let key_args: &[&str] = match algorithm {
            KeyAlgorithm::Rsa => &["-keyalg", "RSA", "-keysize", "2048"],
            _ => &["-keyalg", "EC", "-groupname", "secp256r1"],
        };
        let dname = format!("CN={alias}, O=keygate");
        let mut args = vec![
            "-genkeypair",
            "-alias",
            alias,
            "-dname",
            &dname,
            "-validity",
            "365",
            "-storetype",
            store_type,
            "-keystore",
            store,
            "-storepass",
            STORE_PASSWORD,
            "-keypass",
            KEY_PASSWORD,
        ];
        args.extend_from_slice(key_args);
        self.run(&args);
    }

    /// `keytool -exportcert` of `alias` in DER, read back.
    fn export(&self, store: &str, alias: &str) -> CertificateDer<'static> {
        let file = format!("{alias}.cer");
        self.run(&[
            "-exportcert",
            "-alias",
            alias,
            "-keystore",
            store,
            "-storepass",
            STORE_PASSWORD,
            "-file",
            &file,
        ]);
        CertificateDer::from(std::fs::read(self.path(&file)).unwrap())
    }

    /// `keytool -importcert -noprompt` of a certificate file into a trust store.
    fn import_trusted(&self, truststore: &str, store_type: &str, alias: &str, file: &str) {
        self.run(&[
            "-importcert",
            "-noprompt",
            "-alias",
            alias,
            "-file",
            file,
            "-storetype",
            store_type,
            "-keystore",
            truststore,
            "-storepass",
            TRUSTSTORE_PASSWORD,
        ]);
    }
}

fn open(path: &Path, format: KeystoreFormat, password: &str) -> Result<Keystore, KeystoreError> {
    Keystore::open(path, format, &Secret::new(password))
}

/// Signs with the key read back and verifies with the certificate keytool exported.
fn assert_key_signs_for_certificate(entry: &PrivateKeyEntry, certificate: &CertificateDer<'_>) {
    let message = b"keygate signs what the key manager issues";
    let (algorithm, public_key) = certificate_public_key(certificate).unwrap();
    let key = entry.key.secret_pkcs8_der();
    match algorithm {
        KeyAlgorithm::Rsa => {
            let pair = RsaKeyPair::from_pkcs8(key).unwrap();
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .unwrap();
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key)
                .verify(message, &signature)
                .unwrap();
            // A different message must not verify: the check is real.
            assert!(
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key)
                    .verify(b"another message", &signature)
                    .is_err()
            );
        }
        KeyAlgorithm::EcP256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key).unwrap();
            let signature = pair.sign(&SystemRandom::new(), message).unwrap();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
                .verify(message, signature.as_ref())
                .unwrap();
            assert!(
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
                    .verify(b"another message", signature.as_ref())
                    .is_err()
            );
        }
        other => panic!("unexpected key algorithm {other:?}"),
    }
    assert_eq!(entry.chain.first(), Some(&certificate.clone().into_owned()));
}

fn sorted(mut aliases: Vec<&str>) -> Vec<&str> {
    aliases.sort_unstable();
    aliases
}

/// The WSO2 shape in JKS: RSA and EC key entries whose key password is not the store
/// password, and a trust store holding the RSA certificate as `gateway_certificate_alias`.
#[test]
fn jks_made_by_keytool() {
    let Some(keytool) = Keytool::find() else {
        return;
    };
    keytool.generate("wso2carbon.jks", "JKS", "wso2carbon", KeyAlgorithm::Rsa);
    keytool.generate("wso2carbon.jks", "JKS", "ec-signing", KeyAlgorithm::EcP256);
    let rsa_certificate = keytool.export("wso2carbon.jks", "wso2carbon");
    let ec_certificate = keytool.export("wso2carbon.jks", "ec-signing");
    keytool.import_trusted(
        "client-truststore.jks",
        "JKS",
        "gateway_certificate_alias",
        "wso2carbon.cer",
    );

    let path = keytool.path("wso2carbon.jks");
    let store = open(&path, KeystoreFormat::Jks, STORE_PASSWORD).unwrap();
    assert_eq!(sorted(store.aliases()), vec!["ec-signing", "wso2carbon"]);
    assert!(store.first_private_key_alias().is_some());
    assert!(store.trusted_certificates().is_empty());

    let key_password = Secret::new(KEY_PASSWORD);
    let rsa = store.private_key("wso2carbon", &key_password).unwrap();
    assert_key_signs_for_certificate(&rsa, &rsa_certificate);
    assert_eq!(store.certificate("wso2carbon").unwrap(), rsa_certificate);
    let ec = store.private_key("EC-Signing", &key_password).unwrap();
    assert_key_signs_for_certificate(&ec, &ec_certificate);
    assert_eq!(store.certificate("ec-signing").unwrap(), ec_certificate);

    // The store password is not the key password here.
    let err = store
        .private_key("wso2carbon", &Secret::new(STORE_PASSWORD))
        .unwrap_err();
    assert!(
        matches!(&err, KeystoreError::WrongKeyPassword { alias } if alias == "wso2carbon"),
        "{err:?}"
    );
    let err = store
        .private_key("wso2carbon", &Secret::new("secret-guess"))
        .unwrap_err();
    assert!(
        matches!(err, KeystoreError::WrongKeyPassword { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret-guess"));

    let err = open(&path, KeystoreFormat::Jks, "not-the-password").unwrap_err();
    assert!(
        matches!(err, KeystoreError::WrongPassword { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("wso2carbon.jks"), "{err}");
    assert!(!err.to_string().contains("not-the-password"));

    match store.private_key("missing", &key_password).unwrap_err() {
        KeystoreError::AliasNotFound { alias, available } => {
            assert_eq!(alias, "missing");
            assert_eq!(
                sorted(available.iter().map(String::as_str).collect()),
                vec!["ec-signing", "wso2carbon"]
            );
        }
        other => panic!("expected AliasNotFound, got {other:?}"),
    }

    let truststore = open(
        &keytool.path("client-truststore.jks"),
        KeystoreFormat::Jks,
        TRUSTSTORE_PASSWORD,
    )
    .unwrap();
    assert_eq!(truststore.aliases(), vec!["gateway_certificate_alias"]);
    assert_eq!(
        truststore.trusted_certificates(),
        vec![(
            "gateway_certificate_alias".to_owned(),
            rsa_certificate.clone()
        )]
    );
    assert_eq!(
        truststore.certificate("GATEWAY_CERTIFICATE_ALIAS").unwrap(),
        rsa_certificate
    );
    assert!(matches!(
        truststore.private_key("gateway_certificate_alias", &key_password),
        Err(KeystoreError::NotAPrivateKey { .. })
    ));
}

/// The same in PKCS#12 as JDK 17 writes it by default (PBES2/AES-256, HMAC-SHA-256), where
/// keytool makes the key password the store password.
#[test]
fn pkcs12_made_by_keytool() {
    let Some(keytool) = Keytool::find() else {
        return;
    };
    keytool.generate("wso2carbon.p12", "PKCS12", "wso2carbon", KeyAlgorithm::Rsa);
    keytool.generate(
        "wso2carbon.p12",
        "PKCS12",
        "ec-signing",
        KeyAlgorithm::EcP256,
    );
    let rsa_certificate = keytool.export("wso2carbon.p12", "wso2carbon");
    let ec_certificate = keytool.export("wso2carbon.p12", "ec-signing");
    keytool.import_trusted(
        "client-truststore.p12",
        "PKCS12",
        "gateway_certificate_alias",
        "wso2carbon.cer",
    );

    let path = keytool.path("wso2carbon.p12");
    let store = open(&path, KeystoreFormat::Pkcs12, STORE_PASSWORD).unwrap();
    assert_eq!(sorted(store.aliases()), vec!["ec-signing", "wso2carbon"]);

    let store_password = Secret::new(STORE_PASSWORD);
    let rsa = store.private_key("WSO2CARBON", &store_password).unwrap();
    assert_key_signs_for_certificate(&rsa, &rsa_certificate);
    let ec = store.private_key("ec-signing", &store_password).unwrap();
    assert_key_signs_for_certificate(&ec, &ec_certificate);
    assert_eq!(store.certificate("ec-signing").unwrap(), ec_certificate);

    let err = store
        .private_key("wso2carbon", &Secret::new(KEY_PASSWORD))
        .unwrap_err();
    assert!(
        matches!(err, KeystoreError::WrongKeyPassword { .. }),
        "{err:?}"
    );
    let err = open(&path, KeystoreFormat::Pkcs12, "not-the-password").unwrap_err();
    assert!(
        matches!(err, KeystoreError::WrongPassword { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("wso2carbon.p12"), "{err}");
    let err = store.certificate("gateway").unwrap_err();
    assert!(
        matches!(err, KeystoreError::AliasNotFound { .. }),
        "{err:?}"
    );

    let truststore = open(
        &keytool.path("client-truststore.p12"),
        KeystoreFormat::Pkcs12,
        TRUSTSTORE_PASSWORD,
    )
    .unwrap();
    assert_eq!(
        truststore.trusted_certificates(),
        vec![("gateway_certificate_alias".to_owned(), rsa_certificate)]
    );
}

/// A PKCS#12 store in the legacy algorithms (3DES keys, RC2-40 certificates, HMAC-SHA-1)
/// that JDKs before 8u301 and 11.0.12 wrote.
#[test]
fn legacy_pkcs12_made_by_keytool() {
    let Some(keytool) = Keytool::find() else {
        return;
    };
    keytool.run(&[
        "-J-Dkeystore.pkcs12.legacy",
        "-genkeypair",
        "-alias",
        "legacy",
        "-dname",
        "CN=legacy",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-storetype",
        "PKCS12",
        "-keystore",
        "legacy.p12",
        "-storepass",
        STORE_PASSWORD,
    ]);
    let certificate = keytool.export("legacy.p12", "legacy");
    let path = keytool.path("legacy.p12");
    let store = open(&path, KeystoreFormat::Pkcs12, STORE_PASSWORD).unwrap();
    let entry = store
        .private_key("legacy", &Secret::new(STORE_PASSWORD))
        .unwrap();
    assert_key_signs_for_certificate(&entry, &certificate);
    assert!(matches!(
        open(&path, KeystoreFormat::Pkcs12, "wrong"),
        Err(KeystoreError::WrongPassword { .. })
    ));
}

/// A JKS store converted from PKCS#12 with `keytool -importkeystore`, the migration WSO2
/// users run, reads back to the same key.
#[test]
fn jks_converted_from_pkcs12_by_keytool() {
    let Some(keytool) = Keytool::find() else {
        return;
    };
    keytool.generate("source.p12", "PKCS12", "wso2carbon", KeyAlgorithm::EcP256);
    keytool.run(&[
        "-importkeystore",
        "-srckeystore",
        "source.p12",
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass",
        STORE_PASSWORD,
        "-destkeystore",
        "converted.jks",
        "-deststoretype",
        "JKS",
        "-deststorepass",
        TRUSTSTORE_PASSWORD,
        "-destkeypass",
        KEY_PASSWORD,
        "-noprompt",
    ]);
    let p12 = open(
        &keytool.path("source.p12"),
        KeystoreFormat::Pkcs12,
        STORE_PASSWORD,
    )
    .unwrap()
    .private_key("wso2carbon", &Secret::new(STORE_PASSWORD))
    .unwrap();
    let jks = open(
        &keytool.path("converted.jks"),
        KeystoreFormat::Jks,
        TRUSTSTORE_PASSWORD,
    )
    .unwrap()
    .private_key("wso2carbon", &Secret::new(KEY_PASSWORD))
    .unwrap();
    assert_eq!(jks.chain, p12.chain);
    let certificate = p12.chain.first().unwrap().clone();
    assert_key_signs_for_certificate(&jks, &certificate);
}
