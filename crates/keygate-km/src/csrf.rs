//! Cross-site request forgery protection of the key manager's own forms (login, consent,
//! logout confirmation): a signed double submit (OWASP CSRF Prevention Cheat Sheet).
//!
//! A short-lived cookie, [`CSRF_COOKIE`] (`HttpOnly`, `Secure`, `SameSite=Lax`), binds the
//! browser: 32 random bytes and an expiry. Every form carries [`CSRF_FIELD`], the
//! HMAC-SHA256 of that cookie under a key every key-manager node shares (a server secret
//! in the database), so a token cannot be made without the key and is worth nothing
//! without its cookie. A submission is accepted only when the cookie is present and
//! unexpired and the field is its HMAC, compared in constant time. A page reuses the
//! browser's cookie while half its life remains, so that forms open in two tabs both
//! work.

use crate::clock::{Entropy, random_bytes};
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_oauth::RandomUnavailable;
use std::fmt;
use std::time::Duration;

/// The cookie binding a browser's forms.
pub const CSRF_COOKIE: &str = "KGCSRF";
/// The form field carrying the token.
pub const CSRF_FIELD: &str = "kg_csrf";
/// Name of the HMAC key among the server secrets.
pub const CSRF_KEY_SECRET: &str = "login.csrf-key";
/// Domain separation of the HMAC input.
const CONTEXT: &[u8] = b"keygate csrf v1\0";
/// Random bytes in a cookie.
const NONCE_BYTES: usize = 32;

/// The key that signs form tokens.
pub struct CsrfKey(hmac::Key);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(***)")
    }
}

/// A browser's CSRF cookie, read or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfBinding {
    value: String,
    expires_at: u64,
    fresh: bool,
}

impl CsrfBinding {
    /// The `Set-Cookie` value to send, when the cookie is new (the browser has the old
    /// one otherwise).
    pub fn set_cookie(&self, now: Duration) -> Option<String> {
        self.fresh.then(|| {
            let max_age = self.expires_at.saturating_sub(now.as_secs());
            format!(
                "{CSRF_COOKIE}={}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax",
                self.value
            )
        })
    }
}

impl CsrfKey {
    /// A key from the shared secret.
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The token forms carry for `binding`.
    pub fn token(&self, binding: &CsrfBinding) -> String {
        self.token_for(&binding.value)
    }

    fn token_for(&self, cookie: &str) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(CONTEXT);
        context.update(cookie.as_bytes());
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }

    /// The binding a new form uses: the browser's cookie while more than half of
    /// `lifetime` remains, else a new one.
    pub fn binding(
        &self,
        cookie: Option<&str>,
        now: Duration,
        lifetime: Duration,
        entropy: &dyn Entropy,
    ) -> Result<CsrfBinding, RandomUnavailable> {
        if let Some(expires_at) = cookie.and_then(expiry_of)
            && expires_at.saturating_sub(now.as_secs()) > lifetime.as_secs() / 2
            && let Some(value) = cookie
        {
            return Ok(CsrfBinding {
                value: value.to_owned(),
                expires_at,
                fresh: false,
            });
        }
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes(entropy, NONCE_BYTES)?);
        let expires_at = now.saturating_add(lifetime).as_secs();
        Ok(CsrfBinding {
            value: format!("{nonce}.{expires_at}"),
            expires_at,
            fresh: true,
        })
    }

    /// Whether a submission with `cookie` and form `token` is genuine at `now`.
    pub fn verify(&self, cookie: Option<&str>, token: Option<&str>, now: Duration) -> bool {
        let (Some(cookie), Some(token)) = (cookie, token) else {
            return false;
        };
        let Some(expires_at) = expiry_of(cookie) else {
            return false;
        };
        if now.as_secs() >= expires_at {
            return false;
        }
        let expected = self.token_for(cookie);
        constant_time::verify_slices_are_equal(expected.as_bytes(), token.as_bytes()).is_ok()
    }
}

/// The expiry of a well-formed cookie value `nonce.expiry`.
fn expiry_of(cookie: &str) -> Option<u64> {
    let (nonce, expiry) = cookie.split_once('.')?;
    let well_formed = nonce.len() == 43
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed || expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    expiry.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemEntropy;

    const NOW: Duration = Duration::from_secs(1_700_000_000);
    const LIFE: Duration = Duration::from_secs(1800);

    #[test]
    fn a_token_verifies_only_with_its_cookie_key_and_time() {
        let key = CsrfKey::new(b"0123456789abcdef0123456789abcdef");
        let entropy = SystemEntropy::new();
        let binding = key.binding(None, NOW, LIFE, &entropy).unwrap();
        let cookie = binding
            .set_cookie(NOW)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("KGCSRF=")
            .to_owned();
        let token = key.token(&binding);
        assert!(key.verify(Some(&cookie), Some(&token), NOW));
        assert!(key.verify(
            Some(&cookie),
            Some(&token),
            NOW + LIFE - Duration::from_secs(1)
        ));
        assert!(
            !key.verify(Some(&cookie), Some(&token), NOW + LIFE),
            "expired"
        );
        assert!(!key.verify(None, Some(&token), NOW), "no cookie");
        assert!(!key.verify(Some(&cookie), None, NOW), "no token");
        assert!(!key.verify(Some(&cookie), Some("forged"), NOW));
        let other = key.binding(None, NOW, LIFE, &entropy).unwrap();
        assert!(
            !key.verify(Some(&cookie), Some(&key.token(&other)), NOW),
            "another cookie's token"
        );
        let other_key = CsrfKey::new(b"another key, another key, another");
        assert!(!other_key.verify(Some(&cookie), Some(&token), NOW));
        // A cookie whose expiry was pushed out no longer matches its token.
        let (nonce, _) = cookie.split_once('.').unwrap();
        let stretched = format!("{nonce}.{}", NOW.as_secs() + 86_400);
        assert!(!key.verify(Some(&stretched), Some(&token), NOW + LIFE));
    }

    #[test]
    fn a_cookie_is_reused_while_half_its_life_remains() {
        let key = CsrfKey::new(b"0123456789abcdef0123456789abcdef");
        let entropy = SystemEntropy::new();
        let first = key.binding(None, NOW, LIFE, &entropy).unwrap();
        let header = first.set_cookie(NOW).unwrap();
        assert!(header.contains("; Path=/; Max-Age=1800; HttpOnly; Secure; SameSite=Lax"));
        let value = &first.value;
        let again = key
            .binding(Some(value), NOW + Duration::from_secs(600), LIFE, &entropy)
            .unwrap();
        assert_eq!(&again.value, value);
        assert_eq!(again.set_cookie(NOW), None, "nothing to send again");
        let renewed = key
            .binding(Some(value), NOW + Duration::from_secs(1000), LIFE, &entropy)
            .unwrap();
        assert_ne!(&renewed.value, value);
        for junk in ["", "x.1", "a.b", &format!("{}.", "A".repeat(43))] {
            assert!(key.binding(Some(junk), NOW, LIFE, &entropy).unwrap().fresh);
        }
    }
}
