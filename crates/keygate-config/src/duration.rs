//! Durations as WSO2 files write them: `"900s"`, `"15m"`, `"1h"`, `"500ms"`, `"1d"`,
//! combinations such as `"1h30m"`, or a bare number whose unit the key decides (seconds
//! for cache expiries and token lifetimes, milliseconds for JDBC pool timeouts).

use std::time::Duration;

use crate::file::DurationFile;

/// The unit of a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BareUnit {
    Seconds,
    Milliseconds,
}

/// Why a duration could not be read. The text itself is never repeated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    #[error("a duration cannot be negative")]
    Negative,
    #[error("a duration cannot be empty")]
    Empty,
    #[error(
        "not a duration: expected seconds or a number with a unit (ms, s, m, h, d), such as \"900s\", \"15m\" or \"1h\""
    )]
    Malformed,
    #[error("duration too large")]
    Overflow,
}

const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Reads a duration written as text.
pub(crate) fn parse_duration(text: &str, bare: BareUnit) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = text.parse().map_err(|_| DurationError::Overflow)?;
        return bare_number(n, bare);
    }
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::Malformed);
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Overflow)?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        let Some((_, scale)) = UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        else {
            return Err(DurationError::Malformed);
        };
        let part = n.checked_mul(*scale).ok_or(DurationError::Overflow)?;
        total_ms = total_ms.checked_add(part).ok_or(DurationError::Overflow)?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_millis(total_ms))
}

fn bare_number(n: u64, bare: BareUnit) -> Result<Duration, DurationError> {
    match bare {
        BareUnit::Seconds => n
            .checked_mul(1000)
            .map(Duration::from_millis)
            .ok_or(DurationError::Overflow),
        BareUnit::Milliseconds => Ok(Duration::from_millis(n)),
    }
}

/// Reads a duration key's value.
pub(crate) fn duration_from_file(
    value: &DurationFile,
    bare: BareUnit,
) -> Result<Duration, DurationError> {
    match value {
        DurationFile::Number(n) => {
            let n = u64::try_from(*n).map_err(|_| DurationError::Negative)?;
            bare_number(n, bare)
        }
        DurationFile::Text(text) => parse_duration(text, bare),
    }
}

/// Writes a duration in the largest units that divide it: `1h30m`, `900s` is `15m`.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, scale) in UNITS.iter().rev() {
        if ms >= *scale {
            out.push_str(&format!("{}{name}", ms / scale));
            ms %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wso2_forms_read_as_expected() {
        let s = BareUnit::Seconds;
        assert_eq!(parse_duration("900s", s), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m", s), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h", s), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("900", s), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h 30m", s), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms", s), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2D", s), Ok(Duration::from_secs(172_800)));
        assert_eq!(
            parse_duration("60000", BareUnit::Milliseconds),
            Ok(Duration::from_secs(60))
        );
    }

    #[test]
    fn bad_durations_are_refused() {
        let s = BareUnit::Seconds;
        assert_eq!(parse_duration("", s), Err(DurationError::Empty));
        assert_eq!(parse_duration("-5s", s), Err(DurationError::Negative));
        assert_eq!(
            parse_duration("15 minutes", s),
            Err(DurationError::Malformed)
        );
        assert_eq!(parse_duration("s", s), Err(DurationError::Malformed));
        assert_eq!(parse_duration("10x", s), Err(DurationError::Malformed));
        assert_eq!(
            parse_duration("99999999999999999999d", s),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            duration_from_file(&DurationFile::Number(-1), s),
            Err(DurationError::Negative)
        );
    }

    #[test]
    fn formatting_uses_the_largest_units() {
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in 0u64..10_000_000_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d), BareUnit::Seconds), Ok(d));
        }

        #[test]
        fn bare_seconds_match_the_s_suffix(n in 0u64..1_000_000_000) {
            prop_assert_eq!(
                parse_duration(&n.to_string(), BareUnit::Seconds),
                parse_duration(&format!("{n}s"), BareUnit::Seconds)
            );
        }
    }
}
