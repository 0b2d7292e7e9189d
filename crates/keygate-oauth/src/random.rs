//! Randomness, passed in: the [`RandomSource`] trait the caller implements over the system
//! generator (and tests over a fixed sequence), and opaque values — authorization codes,
//! refresh tokens — made from it: 32 random bytes, base64url without padding (RFC 4648
//! §5), 256 bits as the Security BCP (RFC 9700 §4.1.1) and RFC 6749 §10.10 ask.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_model::Secret;

/// Bytes of randomness in an opaque code or token.
pub const OPAQUE_VALUE_BYTES: usize = 32;

/// The random generator could not produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("random generator unavailable")]
pub struct RandomUnavailable;

impl From<RandomUnavailable> for crate::error::OAuthError {
    fn from(_: RandomUnavailable) -> Self {
        Self::server_error("random generator unavailable")
    }
}

/// A source of cryptographically secure random bytes.
pub trait RandomSource {
    /// Fills `dest` entirely with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable>;
}

/// A new opaque value: [`OPAQUE_VALUE_BYTES`] random bytes, base64url, 43 characters.
pub fn opaque_value(rng: &mut dyn RandomSource) -> Result<Secret, RandomUnavailable> {
    let mut bytes = [0u8; OPAQUE_VALUE_BYTES];
    rng.fill(&mut bytes)?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// A deterministic [`RandomSource`] for tests: each byte is the previous plus one.
#[cfg(test)]
pub(crate) struct CountingRandom(pub u8);

#[cfg(test)]
impl RandomSource for CountingRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

/// A [`RandomSource`] that always fails, for tests.
#[cfg(test)]
pub(crate) struct BrokenRandom;

#[cfg(test)]
impl RandomSource for BrokenRandom {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        Err(RandomUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_values_are_43_base64url_characters_from_the_source() {
        let mut rng = CountingRandom(0);
        let first = opaque_value(&mut rng).unwrap();
        let second = opaque_value(&mut rng).unwrap();
        assert_eq!(first.expose().len(), 43);
        assert_ne!(first, second);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(first.expose()).unwrap(),
            (0u8..32).collect::<Vec<_>>()
        );
        assert!(crate::pkce::is_valid_verifier(first.expose()));
    }

    #[test]
    fn failure_is_reported_as_server_error() {
        assert_eq!(opaque_value(&mut BrokenRandom), Err(RandomUnavailable));
        let e: crate::error::OAuthError = RandomUnavailable.into();
        assert_eq!(e.as_str(), "server_error");
        assert_eq!(e.status(), 500);
    }
}
