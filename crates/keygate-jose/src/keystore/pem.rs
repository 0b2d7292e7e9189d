//! PEM keystores (RFC 7468): a file, or several concatenated, holding at most one private
//! key and any number of certificates.
//!
//! - With a private key, the file is one key entry under the alias given: the key in
//!   PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), the latter
//!   two converted to PKCS#8, and every certificate as its chain, the one matching the key
//!   first and the rest in file order.
//! - With certificates only, each is a trusted entry: one certificate takes the alias, more
//!   take `alias-1`, `alias-2`, … in file order.
//!
//! Encrypted keys (`ENCRYPTED PRIVATE KEY`, or OpenSSL's `Proc-Type: 4,ENCRYPTED` headers)
//! are refused with a message saying how to decrypt them. Other sections (public keys,
//! CRLs, requests) are ignored. Sections are found by rustls-pki-types' PEM reader.

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::{KeystoreEntry, KeystoreError, ProtectedKey};
use crate::key::{self, KeyError};

/// Alias of a PEM entry when neither the caller nor a file name gives one.
pub(crate) const DEFAULT_ALIAS: &str = "key";

/// Parses PEM text into keystore entries named after `alias`. `file` names it in errors.
pub(crate) fn read(
    bytes: &[u8],
    file: &str,
    alias: &str,
) -> Result<Vec<(String, KeystoreEntry)>, KeystoreError> {
    refuse_encrypted_keys(bytes, file)?;

    let mut keys = Vec::new();
    let mut certificates = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(|e| pem_error(&e, file))?;
        match kind {
            SectionKind::Certificate => certificates.push(CertificateDer::from(der)),
            SectionKind::PrivateKey => keys.push(PrivatePkcs8KeyDer::from(der)),
            SectionKind::RsaPrivateKey => {
                keys.push(key::pkcs8_from_pkcs1(&der).map_err(|e| key_error(&e, file))?);
            }
            SectionKind::EcPrivateKey => {
                keys.push(key::pkcs8_from_sec1(&der).map_err(|e| key_error(&e, file))?);
            }
            _ => {}
        }
    }

    let mut keys = keys.into_iter();
    match (keys.next(), keys.len()) {
        (Some(key), 0) => {
            let chain = order_chain(&key, certificates, file)?;
            Ok(vec![(
                alias.to_owned(),
                KeystoreEntry::PrivateKey {
                    chain,
                    key: ProtectedKey::unprotected(key),
                },
            )])
        }
        (Some(_), more) => Err(KeystoreError::malformed(
            file,
            format!(
                "holds {} private keys; a PEM keystore holds one key and its chain",
                more + 1
            ),
        )),
        (None, _) if certificates.is_empty() => Err(KeystoreError::malformed(
            file,
            "no PEM certificate or private key found",
        )),
        (None, _) if certificates.len() == 1 => Ok(certificates
            .into_iter()
            .map(|cert| (alias.to_owned(), KeystoreEntry::TrustedCertificate(cert)))
            .collect()),
        (None, _) => Ok(certificates
            .into_iter()
            .enumerate()
            .map(|(index, cert)| {
                (
                    format!("{alias}-{}", index + 1),
                    KeystoreEntry::TrustedCertificate(cert),
                )
            })
            .collect()),
    }
}

/// Puts the certificate of `key` first. Certificates that are present but none of which
/// matches the key are an error; a key alone is accepted with an empty chain.
fn order_chain(
    key: &PrivatePkcs8KeyDer<'_>,
    mut certificates: Vec<CertificateDer<'static>>,
    file: &str,
) -> Result<Vec<CertificateDer<'static>>, KeystoreError> {
    if certificates.is_empty() {
        key::public_key_of(key).map_err(|e| key_error(&e, file))?;
        return Ok(certificates);
    }
    let leaf = certificates
        .iter()
        .position(|cert| key::certificate_matches_key(cert, key))
        .ok_or_else(|| {
            KeystoreError::malformed(file, "none of its certificates matches its private key")
        })?;
    let leaf_certificate = certificates.remove(leaf);
    certificates.insert(0, leaf_certificate);
    Ok(certificates)
}

fn refuse_encrypted_keys(bytes: &[u8], file: &str) -> Result<(), KeystoreError> {
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(KeystoreError::unsupported(format!(
            "{file} holds an encrypted PKCS#8 key, which keygate does not read; decrypt it \
             with `openssl pkcs8 -in <encrypted.pem> -out <key.pem>` or use a PKCS#12 keystore"
        )));
    }
    if contains(b"Proc-Type: 4,ENCRYPTED") {
        return Err(KeystoreError::unsupported(format!(
            "{file} holds an OpenSSL-encrypted key, which keygate does not read; decrypt it \
             with `openssl pkey -in <encrypted.pem> -out <key.pem>` or use a PKCS#12 keystore"
        )));
    }
    Ok(())
}

fn pem_error(error: &pem::Error, file: &str) -> KeystoreError {
    let reason = match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "PEM section `{}` has no END line",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { .. } => "malformed PEM BEGIN line".to_owned(),
        pem::Error::Base64Decode(_) => "invalid base64 in a PEM section".to_owned(),
        pem::Error::SectionTooLarge => "a PEM section is too large".to_owned(),
        _ => "unreadable PEM".to_owned(),
    };
    KeystoreError::malformed(file, reason)
}

fn key_error(error: &KeyError, file: &str) -> KeystoreError {
    match error {
        KeyError::UnsupportedAlgorithm => {
            KeystoreError::unsupported(format!("{file}: the private key's algorithm"))
        }
        other => KeystoreError::malformed(file, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{self, DerReader, TAG_INTEGER, TAG_OCTET_STRING};
    use crate::keystore::tests::{ec_p256, pem, rsa_2048};
    use crate::keystore::{Keystore, KeystoreFormat};
    use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der};
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use keygate_model::Secret;

    fn open(text: &str, alias: &str) -> Result<Keystore, KeystoreError> {
        Keystore::from_pem(text.as_bytes(), alias)
    }

    /// The `privateKey` OCTET STRING of a PKCS#8 key: PKCS#1 for RSA.
    fn inner_key(pkcs8: &PrivatePkcs8KeyDer<'_>) -> Vec<u8> {
        let mut outer = DerReader::new(pkcs8.secret_pkcs8_der());
        let mut info = outer.sequence().unwrap();
        info.expect(TAG_INTEGER).unwrap();
        der::algorithm_identifier(&mut info).unwrap();
        info.expect(TAG_OCTET_STRING).unwrap().to_vec()
    }

    #[test]
    fn pkcs8_key_with_its_chain_is_one_entry_leaf_first() {
        let leaf = ec_p256("leaf");
        let other = ec_p256("intermediate");
        // The intermediate comes first in the file; the leaf is found by its key.
        let text = [
            pem("CERTIFICATE", other.certificate.as_ref()),
            pem("PRIVATE KEY", leaf.key.secret_pkcs8_der()),
            pem("CERTIFICATE", leaf.certificate.as_ref()),
        ]
        .concat();
        let store = open(&text, "wso2carbon").unwrap();
        assert_eq!(store.aliases(), vec!["wso2carbon"]);
        assert_eq!(store.format(), KeystoreFormat::Pem);
        let entry = store.private_key("WSO2CARBON", &Secret::default()).unwrap();
        assert_eq!(entry.key, leaf.key);
        assert_eq!(
            entry.chain,
            vec![leaf.certificate.clone(), other.certificate]
        );
        assert_eq!(store.certificate("wso2carbon").unwrap(), leaf.certificate);
        assert!(store.trusted_certificates().is_empty());
    }

    #[test]
    fn pkcs1_rsa_key_is_converted_to_pkcs8() {
        let identity = rsa_2048("rsa");
        let text = [
            pem("RSA PRIVATE KEY", &inner_key(&identity.key)),
            pem("CERTIFICATE", identity.certificate.as_ref()),
        ]
        .concat();
        let store = open(&text, "tls").unwrap();
        let entry = store.private_key("tls", &Secret::default()).unwrap();
        assert_eq!(
            key::KeyAlgorithm::of_pkcs8(entry.key.secret_pkcs8_der()),
            Some(key::KeyAlgorithm::Rsa)
        );
        assert!(key::certificate_matches_key(
            &identity.certificate,
            &entry.key
        ));
    }

    #[test]
    fn sec1_ec_key_is_converted_to_pkcs8() {
        let identity = ec_p256("ec");
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            identity.key.secret_pkcs8_der(),
        )
        .unwrap();
        let sec1: EcPrivateKeyRfc5915Der<'static> = pair.private_key().as_der().unwrap();
        let text = [
            pem("EC PRIVATE KEY", sec1.as_ref()),
            pem("CERTIFICATE", identity.certificate.as_ref()),
        ]
        .concat();
        let entry = open(&text, "ec")
            .unwrap()
            .private_key("ec", &Secret::default())
            .unwrap();
        assert!(key::certificate_matches_key(
            &identity.certificate,
            &entry.key
        ));
    }

    #[test]
    fn certificates_alone_are_trusted_entries() {
        let first = ec_p256("first");
        let second = ec_p256("second");
        let one = open(&pem("CERTIFICATE", first.certificate.as_ref()), "gateway").unwrap();
        assert_eq!(
            one.trusted_certificates(),
            vec![("gateway".to_owned(), first.certificate.clone())]
        );
        assert_eq!(one.first_private_key_alias(), None);
        let err = one.private_key("gateway", &Secret::default()).unwrap_err();
        assert!(
            matches!(err, KeystoreError::NotAPrivateKey { .. }),
            "{err:?}"
        );

        let text = [
            pem("CERTIFICATE", first.certificate.as_ref()),
            pem("CERTIFICATE", second.certificate.as_ref()),
        ]
        .concat();
        let bundle = open(&text, "ca").unwrap();
        assert_eq!(bundle.aliases(), vec!["ca-1", "ca-2"]);
        assert_eq!(bundle.certificate("CA-2").unwrap(), second.certificate);
    }

    #[test]
    fn encrypted_keys_are_refused_as_unsupported() {
        let pkcs8 =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = open(pkcs8, "k").unwrap_err();
        assert!(matches!(err, KeystoreError::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("encrypted"), "{err}");

        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAA=\n-----END RSA PRIVATE KEY-----\n";
        let err = open(legacy, "k").unwrap_err();
        assert!(matches!(err, KeystoreError::Unsupported { .. }), "{err:?}");
    }

    #[test]
    fn mismatched_or_missing_content_is_malformed() {
        let a = ec_p256("a");
        let b = ec_p256("b");
        let mismatched = [
            pem("PRIVATE KEY", a.key.secret_pkcs8_der()),
            pem("CERTIFICATE", b.certificate.as_ref()),
        ]
        .concat();
        let err = open(&mismatched, "k").unwrap_err();
        assert!(err.to_string().contains("matches its private key"), "{err}");

        let two_keys = [
            pem("PRIVATE KEY", a.key.secret_pkcs8_der()),
            pem("PRIVATE KEY", b.key.secret_pkcs8_der()),
        ]
        .concat();
        let err = open(&two_keys, "k").unwrap_err();
        assert!(err.to_string().contains("2 private keys"), "{err}");

        for text in ["", "just text", "-----BEGIN CERTIFICATE-----\nMAA=\n"] {
            let err = open(text, "k").unwrap_err();
            assert!(
                matches!(err, KeystoreError::Malformed { .. }),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_key_alone_is_an_entry_without_certificate() {
        let a = ec_p256("a");
        let store = open(&pem("PRIVATE KEY", a.key.secret_pkcs8_der()), "solo").unwrap();
        let entry = store.private_key("solo", &Secret::default()).unwrap();
        assert!(entry.chain.is_empty());
        let err = store.certificate("solo").unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }

    #[test]
    fn open_names_the_entry_after_the_file_stem() {
        let identity = ec_p256("file");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway_certificate_alias.pem");
        std::fs::write(&path, pem("CERTIFICATE", identity.certificate.as_ref())).unwrap();
        let store = Keystore::open(&path, KeystoreFormat::Pem, &Secret::default()).unwrap();
        assert_eq!(store.aliases(), vec!["gateway_certificate_alias"]);
        let named = Keystore::open_pem(&path, "other").unwrap();
        assert_eq!(named.aliases(), vec!["other"]);
        assert_eq!(
            Keystore::from_bytes(
                pem("CERTIFICATE", identity.certificate.as_ref()).as_bytes(),
                KeystoreFormat::Pem,
                &Secret::default()
            )
            .unwrap()
            .aliases(),
            vec![DEFAULT_ALIAS]
        );
    }
}
