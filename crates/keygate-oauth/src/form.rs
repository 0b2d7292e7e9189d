//! Strict `application/x-www-form-urlencoded` parsing for the token, revocation,
//! introspection and authorization endpoints (RFC 6749 §3.1, §3.2, Appendix B). A body
//! becomes a [`Form`]: a parameter repeated is `invalid_request` naming it ("parameters MUST
//! NOT be included more than once", RFC 6749 §3.1), except the few that the RFCs allow to
//! repeat (`resource`, RFC 8707 §2); a parameter with an empty value is treated as absent
//! (RFC 6749 §3.1); the body's size and parameter count are bounded; malformed
//! percent-escapes and invalid UTF-8 are refused rather than guessed at. The same module
//! encodes, so a [`Form`] round-trips.

use crate::error::OAuthError;
use std::collections::BTreeMap;
use std::fmt;

/// Largest body accepted by default: 64 KiB.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Most parameters accepted by default, counting those with empty values.
pub const MAX_FORM_PARAMETERS: usize = 64;

/// Parameters that may appear more than once by default: `resource` (RFC 8707 §2).
pub const REPEATABLE_PARAMETERS: &[&str] = &["resource"];

/// Bounds and repetition rules for [`Form::parse_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Most `name=value` pairs, counting those with empty values.
    pub max_parameters: usize,
    /// Names that may repeat; every other repeated name is refused.
    pub repeatable: &'static [&'static str],
}

impl Default for FormLimits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_FORM_BYTES,
            max_parameters: MAX_FORM_PARAMETERS,
            repeatable: REPEATABLE_PARAMETERS,
        }
    }
}

/// A parsed form: each name with its non-empty values in the order they came. Its `Debug`
/// shows parameter names only, since values include secrets, passwords and codes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    params: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl Form {
    /// Parses a body or query string with the default [`FormLimits`].
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        Self::parse_with(body, &FormLimits::default())
    }

    /// Parses a body or query string (RFC 6749 Appendix B): `&`-separated pairs, `+` for
    /// space, `%XX` escapes, UTF-8. Errors are `invalid_request`.
    pub fn parse_with(body: &[u8], limits: &FormLimits) -> Result<Self, OAuthError> {
        if body.len() > limits.max_bytes {
            return Err(OAuthError::invalid_request("request body too large"));
        }
        let mut form = Self::default();
        let mut count = 0usize;
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            count += 1;
            if count > limits.max_parameters {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode_component(raw_name)?;
            let value = decode_component(raw_value)?;
            if name.is_empty() {
                if value.is_empty() {
                    continue;
                }
                return Err(OAuthError::invalid_request("parameter without a name"));
            }
            form.insert(name, value, limits.repeatable)?;
        }
        Ok(form)
    }

    /// Builds a form from decoded pairs with the same rules as parsing: empty values
    /// dropped, repeats refused unless `repeatable`.
    pub fn from_pairs<N, V>(
        pairs: impl IntoIterator<Item = (N, V)>,
        repeatable: &[&str],
    ) -> Result<Self, OAuthError>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut form = Self::default();
        for (name, value) in pairs {
            let name = name.into();
            if name.is_empty() {
                return Err(OAuthError::invalid_request("parameter without a name"));
            }
            form.insert(name, value.into(), repeatable)?;
        }
        Ok(form)
    }

    fn insert(
        &mut self,
        name: String,
        value: String,
        repeatable: &[&str],
    ) -> Result<(), OAuthError> {
        if value.is_empty() {
            return Ok(());
        }
        if let Some(values) = self.params.get_mut(&name) {
            if !repeatable.contains(&name.as_str()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter repeated: {name}"
                )));
            }
            values.push(value);
        } else {
            self.params.insert(name, vec![value]);
        }
        Ok(())
    }

    /// The value of a single-valued parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a parameter, in order; empty when absent.
    pub fn get_all(&self, name: &str) -> &[String] {
        self.params.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The value of a required parameter, or `invalid_request` naming it (RFC 6749 §5.2).
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::missing_parameter(name))
    }

    /// Whether the parameter is present with a non-empty value.
    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// Names present, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// Number of distinct names present.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether no parameter is present.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The form encoded again: names sorted, each name's values in order.
    pub fn encode(&self) -> String {
        encode_pairs(
            self.params
                .iter()
                .flat_map(|(n, vs)| vs.iter().map(move |v| (n.as_str(), v.as_str()))),
        )
    }
}

/// Encodes pairs as `application/x-www-form-urlencoded`, in the order given.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_component_into(name, &mut out);
        out.push('=');
        encode_component_into(value, &mut out);
    }
    out
}

/// Encodes one name or value: unreserved characters (RFC 3986 §2.3) as they are, space as
/// `+`, every other byte as `%XX`.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    encode_component_into(text, &mut out);
    out
}

fn encode_component_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        }
    }
}

/// Decodes one name or value: `+` is space, `%XX` a byte, the result UTF-8. A `%` not
/// followed by two hex digits, or bytes that are not UTF-8, are `invalid_request`.
pub fn decode_component(raw: &[u8]) -> Result<String, OAuthError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                bytes.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => bytes.push(hi << 4 | lo),
                    _ => return Err(OAuthError::invalid_request("malformed percent-encoding")),
                }
                i += 3;
            }
            b => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| OAuthError::invalid_request("parameter is not UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
