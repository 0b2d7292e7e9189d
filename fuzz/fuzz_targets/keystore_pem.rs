//! Fuzzes the PEM keystore reader (sections, PKCS#1/SEC1 conversion, chain ordering) with
//! arbitrary bytes.

#![no_main]

use keygate_jose::Keystore;
use keygate_model::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(store) = Keystore::from_pem(data, "fuzz") {
        for alias in store.aliases() {
            let _ = store.private_key(alias, &Secret::default());
            let _ = store.certificate(alias);
        }
    }
});
