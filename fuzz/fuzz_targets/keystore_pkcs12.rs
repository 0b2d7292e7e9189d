//! Fuzzes the PKCS#12 path (the `p12-keystore` crate behind keygate's keystore) with
//! arbitrary bytes.

#![no_main]

use keygate_jose::{Keystore, KeystoreFormat};
use keygate_model::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let password = Secret::new("changeit");
    if let Ok(store) = Keystore::from_bytes(data, KeystoreFormat::Pkcs12, &password) {
        for alias in store.aliases() {
            let _ = store.private_key(alias, &password);
            let _ = store.certificate(alias);
        }
    }
});
