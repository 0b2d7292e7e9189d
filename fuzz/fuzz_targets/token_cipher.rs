//! Fuzzes reading stored tokens: [`TokenCipher::decrypt`] on arbitrary strings (key id,
//! base64url and AEAD checks), [`TokenHasher::matches`] on arbitrary stored hashes, and an
//! encrypt-then-decrypt round trip of the input, which must give it back.

#![no_main]

use keygate_jose::persist::{CipherError, NonceSource, TokenCipher, TokenHasher};
use libfuzzer_sys::fuzz_target;

/// Nonces from a counter: the round trip needs no real randomness.
struct Counter(u64);

impl NonceSource for Counter {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CipherError> {
        self.0 = self.0.wrapping_add(1);
        for (byte, source) in dest.iter_mut().zip(self.0.to_le_bytes().iter().cycle()) {
            *byte = *source;
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(cipher) = TokenCipher::new("k2", &[2; 32]).and_then(|c| c.with_previous_key("k1", &[1; 32]))
    else {
        std::process::abort();
    };
    if let Ok(stored) = std::str::from_utf8(data) {
        let _ = cipher.decrypt(stored);
        let _ = cipher.needs_reencryption(stored);
        let _ = TokenHasher::matches("token", stored);
    }
    match cipher
        .encrypt(data, &mut Counter(data.len() as u64))
        .and_then(|sealed| cipher.decrypt(&sealed))
    {
        Ok(plain) if plain == data => {}
        _ => std::process::abort(),
    }
});
