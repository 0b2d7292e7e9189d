//! Fuzzes the JKS reader with arbitrary bytes, twice: as given, and with the trailing
//! SHA-1 integrity digest recomputed so that inputs reach key recovery too. Seeded by
//! `corpus/keystore_jks/wso2carbon-shaped.jks`, a store made by `keytool`.

#![no_main]

use aws_lc_rs::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA1_OUTPUT_LEN};
use keygate_jose::{Keystore, KeystoreFormat};
use keygate_model::Secret;
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "wso2carbon";

fuzz_target!(|data: &[u8]| {
    let password = Secret::new(PASSWORD);
    let _ = Keystore::from_bytes(data, KeystoreFormat::Jks, &password);

    let Some(signed_len) = data.len().checked_sub(SHA1_OUTPUT_LEN) else {
        return;
    };
    let (signed, _) = data.split_at(signed_len);
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    let utf16: Vec<u8> = PASSWORD.encode_utf16().flat_map(u16::to_be_bytes).collect();
    context.update(&utf16);
    context.update(b"Mighty Aphrodite");
    context.update(signed);
    let mut fixed = signed.to_vec();
    fixed.extend_from_slice(context.finish().as_ref());

    if let Ok(store) = Keystore::from_bytes(&fixed, KeystoreFormat::Jks, &password) {
        for alias in store.aliases() {
            let _ = store.private_key(alias, &password);
            let _ = store.certificate(alias);
        }
        let _ = store.trusted_certificates();
    }
});
