//! Randomness, passed in: the [`RandomSource`] trait the caller implements over the system
//! generator (and tests over a fixed sequence), and opaque values — authorization codes,
//! refresh tokens — made from it: 32 random bytes, base64url without padding (RFC 4648
//! §5), 256 bits as the Security BCP (RFC 9700 §4.1.1) and RFC 6749 §10.10 ask — and
//! record ids ordered by time ([`time_ordered_id`], UUIDv7 of RFC 9562 §5.7), so that new
//! records append to the indexes that hold them instead of landing on random pages.

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

/// A UUIDv7 (RFC 9562 §5.7) in its 36-character text form: the 48-bit Unix time in
/// milliseconds `now_ms` (negative times count as 0), then 74 random bits from `rng`.
/// Ids made later sort after earlier ones as text, to the millisecond.
pub fn time_ordered_id(
    now_ms: i64,
    rng: &mut dyn RandomSource,
) -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes[6..])?;
    let millis = u64::try_from(now_ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0F);
    bytes[8] = 0x80 | (bytes[8] & 0x3F);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0F)]));
    }
    Ok(text)
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
    fn time_ordered_ids_are_uuid_v7_sorting_by_time() {
        // RFC 9562 Appendix A.6: 2022-02-22 19:22:22 UTC is 0x017F22E279B0 ms.
        let mut rng = CountingRandom(0);
        let id = time_ordered_id(0x017F_22E2_79B0, &mut rng).unwrap();
        assert_eq!(id, "017f22e2-79b0-7001-8203-040506070809");
        let later = time_ordered_id(0x017F_22E2_79B1, &mut CountingRandom(0xFF)).unwrap();
        assert!(later > id, "a later millisecond sorts after");
        assert_eq!(later.len(), 36);
        assert_eq!(&later[14..15], "7", "version 7");
        assert!("89ab".contains(&later[19..20]), "RFC 9562 variant");
        assert_eq!(
            time_ordered_id(-5, &mut CountingRandom(0)).unwrap()[..13],
            *"00000000-0000"
        );
        assert_eq!(
            time_ordered_id(1, &mut BrokenRandom),
            Err(RandomUnavailable)
        );
    }

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
