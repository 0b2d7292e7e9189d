//! PKCS#12 (RFC 7292) keystores through the `p12-keystore` crate: what JDK 17's `keytool`
//! writes by default (PBES2 with AES-256-CBC, HMAC-SHA-256 MAC) and the legacy
//! `PBEWithSHA1AndDESede` / RC2-40 stores older tools wrote.
//!
//! The MAC is checked with the store password before anything is decrypted, and a mismatch
//! is reported as [`KeystoreError::WrongPassword`]. Keys are linked to their certificate
//! by `localKeyId`; stand-alone certificates are trusted entries when they carry the JDK's
//! trusted-key-usage attribute, as `keytool -importcert` writes them. Secret-key entries are
//! skipped: keygate has no use for them.

use keygate_model::Secret;
use p12_keystore::error::Error as P12Error;
use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::{KeystoreEntry, KeystoreError, ProtectedKey};

/// Parses a PKCS#12 keystore, checking its MAC with `store_password`. `file` names it in
/// errors.
pub(crate) fn read(
    bytes: &[u8],
    file: &str,
    store_password: &Secret,
) -> Result<Vec<(String, KeystoreEntry)>, KeystoreError> {
    let store = KeyStore::from_pkcs12(bytes, store_password.expose(), Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| map_error(e, file))?;
    let mut entries = Vec::with_capacity(store.entries_len());
    for (alias, entry) in store.entries() {
        match entry {
            KeyStoreEntry::PrivateKeyChain(chain) => {
                let key = PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec());
                let certificates = chain
                    .certs()
                    .iter()
                    .map(|cert| CertificateDer::from(cert.as_der().to_vec()))
                    .collect();
                entries.push((
                    alias.clone(),
                    KeystoreEntry::PrivateKey {
                        chain: certificates,
                        key: ProtectedKey::store_password(key, store_password),
                    },
                ));
            }
            KeyStoreEntry::Certificate(cert) => entries.push((
                alias.clone(),
                KeystoreEntry::TrustedCertificate(CertificateDer::from(cert.as_der().to_vec())),
            )),
            KeyStoreEntry::Secret(_) => {}
        }
    }
    Ok(entries)
}

fn map_error(error: P12Error, file: &str) -> KeystoreError {
    match error {
        // A MAC mismatch, or (for stores without a MAC) a decryption that unpads to garbage.
        P12Error::MacError(_) | P12Error::UnpadError => KeystoreError::WrongPassword {
            file: file.to_owned(),
        },
        P12Error::UnsupportedEncryptionScheme
        | P12Error::UnsupportedMacAlgorithm
        | P12Error::UnsupportedContentType
        | P12Error::UnsupportedCertificateType => {
            KeystoreError::unsupported(format!("PKCS#12 keystore {file}: {error}"))
        }
        P12Error::IoError(source) => KeystoreError::Io {
            file: file.to_owned(),
            source,
        },
        other => KeystoreError::malformed(file, format!("not a readable PKCS#12 file: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::tests::{TestIdentity, ec_p256};
    use crate::keystore::{Keystore, KeystoreFormat};
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use p12_keystore::{
        Certificate, EncryptionAlgorithm, MacAlgorithm, PrivateKey, PrivateKeyChain,
    };

    fn write_store(
        identity: &TestIdentity,
        password: &str,
        algorithm: EncryptionAlgorithm,
        mac: MacAlgorithm,
    ) -> Vec<u8> {
        let cert = Certificate::from_der(identity.certificate.as_ref()).unwrap();
        let chain = PrivateKeyChain::new(
            "Time 1",
            PrivateKey::from_der(identity.key.secret_pkcs8_der()).unwrap(),
            [cert.clone()],
        );
        let mut store = KeyStore::new();
        store.add_entry("signing", KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer(password)
            .encryption_algorithm(algorithm)
            .mac_algorithm(mac)
            .write()
            .unwrap()
    }

    fn modern(identity: &TestIdentity, password: &str) -> Vec<u8> {
        write_store(
            identity,
            password,
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        )
    }

    #[test]
    fn reads_modern_and_legacy_stores_written_in_process() {
        let password = Secret::new("changeit");
        for (algorithm, mac) in [
            (
                EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
                MacAlgorithm::HmacSha256,
            ),
            (
                EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
                MacAlgorithm::HmacSha1,
            ),
        ] {
            let identity = ec_p256("p12-test");
            let bytes = write_store(&identity, password.expose(), algorithm, mac);
            let store = Keystore::from_bytes(&bytes, KeystoreFormat::Pkcs12, &password).unwrap();
            assert_eq!(store.first_private_key_alias(), Some("signing"));
            let entry = store.private_key("SIGNING", &password).unwrap();
            assert_eq!(entry.chain.len(), 1);
            assert_eq!(entry.chain.first(), Some(&identity.certificate));
            assert_eq!(entry.key, identity.key);
            assert!(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    entry.key.secret_pkcs8_der()
                )
                .is_ok()
            );
        }
    }

    #[test]
    fn wrong_store_password_is_reported_as_such() {
        let bytes = modern(&ec_p256("p12-test"), "changeit");
        let err =
            Keystore::from_bytes(&bytes, KeystoreFormat::Pkcs12, &Secret::new("nope")).unwrap_err();
        assert!(
            matches!(err, KeystoreError::WrongPassword { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("nope"));
    }

    #[test]
    fn the_key_password_of_a_pkcs12_entry_is_the_store_password() {
        let password = Secret::new("changeit");
        let bytes = modern(&ec_p256("p12-test"), password.expose());
        let store = Keystore::from_bytes(&bytes, KeystoreFormat::Pkcs12, &password).unwrap();
        let err = store
            .private_key("signing", &Secret::new("other"))
            .unwrap_err();
        assert!(
            matches!(&err, KeystoreError::WrongKeyPassword { alias } if alias == "signing"),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_is_malformed_and_a_jks_file_is_named() {
        let err = Keystore::from_bytes(
            b"\x30\x03\x02\x01",
            KeystoreFormat::Pkcs12,
            &Secret::new("x"),
        )
        .unwrap_err();
        assert!(matches!(err, KeystoreError::Malformed { .. }), "{err:?}");

        let jks = [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0];
        let err =
            Keystore::from_bytes(&jks, KeystoreFormat::Pkcs12, &Secret::new("x")).unwrap_err();
        assert!(err.to_string().contains("looks like JKS"), "{err}");
    }
}
