//! JSON Web Signature in the compact serialization (RFC 7515 §3.1, §7.1) over the
//! asymmetric algorithms of RFC 7518 §3.3-3.5 (RS256/384/512, PS256/384/512,
//! ES256/384/512) and RFC 8037 §3.1 (EdDSA with Ed25519).
//!
//! [`SigningKey`] signs exactly the header bytes it is given, so RFC vectors reproduce
//! byte for byte; [`verify_compact`] checks a token against keys chosen by a
//! [`KeyResolver`] and a caller's list of allowed algorithms. What verification refuses:
//!
//! - `alg: none` ([`JwsError::Unsecured`]) and every algorithm this module does not
//!   implement, HMAC included: there is no code path that keys an HMAC with a public key,
//!   so the RS256-to-HS256 algorithm-confusion attack has nothing to reach
//!   ([`JwsError::UnsupportedAlgorithm`]);
//! - an algorithm outside the caller's list, or one that does not fit the key (an ES256
//!   token against an RSA key, an RS256 token against a JWK pinned to PS256);
//! - any `crit` header parameter (RFC 7515 §4.1.11): keygate understands no extension;
//! - base64url that is padded, uses the standard alphabet, carries whitespace or
//!   non-zero trailing bits (RFC 7515 §2: unpadded; non-canonical encodings would make two
//!   strings one token);
//! - tokens over [`MAX_TOKEN_LEN`] bytes, and any count of segments but three (a JWE's
//!   five included).
//!
//! Keys come only from the resolver: `jku`, `jwk`, `x5u` and `x5c` in a token's header
//! are never used to find or trust a key. `kid` narrows the keys tried, and so does
//! `x5t#S256` against keys made from a certificate.
//!
//! Built on aws-lc-rs directly rather than `jsonwebtoken`: signing takes the caller's
//! exact header bytes (RFC 7515 appendix A vectors compare byte for byte), a
//! [`VerifyingKey`] parses its public key once instead of once per verification, the
//! signature is decoded into a stack buffer and the payload only after the signature
//! holds, and `crit` and base64url canonicity are enforced, which `jsonwebtoken` does
//! not. AWS-LC draws PSS salts and ECDSA nonces from its own generator (aws-lc-rs ignores
//! the `SecureRandom` argument), so signing takes no randomness argument.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};

use crate::jwk::JwkError;
use crate::key::{KeyAlgorithm, KeyError};

mod keys;

pub use keys::{
    JwsAlgorithm, KeyResolver, SigningKey, UnknownAlgorithm, VerifyingKey, VerifyingKeySet,
    sign_compact,
};

/// The longest token [`verify_compact`] reads, in bytes. RFC 9068 access tokens and
/// OpenID Connect ID tokens are far below it; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The largest signature of any supported algorithm: RSA with an 8192-bit modulus.
const MAX_SIGNATURE_LEN: usize = 1024;

/// Decode buffers for the signature and a typical header; the base64 decoder's size
/// estimate runs up to two bytes over the exact length.
const SIGNATURE_BUFFER: usize = MAX_SIGNATURE_LEN + 8;
const HEADER_STACK_BUFFER: usize = 512;

/// A segment of a compact JWS, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header.
    Header,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// Why a JWS could not be made or was refused. No variant carries bytes of the token, so
/// an error can be logged without echoing attacker input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// The token is longer than the limit.
    #[error("token is {len} bytes, over the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    /// The token is not three dot-separated segments (RFC 7515 §7.1).
    #[error("token is not three dot-separated segments")]
    SegmentCount,
    /// A segment is not canonical unpadded base64url (RFC 7515 §2).
    #[error("{0} segment is not canonical unpadded base64url")]
    Base64(Segment),
    /// The protected header is not a JSON object with a string `alg`, or repeats a member.
    #[error("protected header is not a valid JOSE header")]
    Header,
    /// `alg: none`, an unsecured JWS (RFC 7515 §4.1.1, RFC 7518 §3.6).
    #[error("unsecured JWS (`alg: none`) refused")]
    Unsecured,
    /// An `alg` keygate does not implement, HMAC among them.
    #[error("unsupported JWS algorithm")]
    UnsupportedAlgorithm,
    /// A supported algorithm the caller did not allow.
    #[error("JWS algorithm {0} is not allowed")]
    AlgorithmNotAllowed(JwsAlgorithm),
    /// The header has a `crit` parameter (RFC 7515 §4.1.11); keygate understands no
    /// extension, so it must refuse.
    #[error("critical header extension not understood")]
    Critical,
    /// No key fits the header's `kid`, `x5t#S256` and algorithm.
    #[error("no key matches the token's key id and algorithm")]
    NoMatchingKey,
    /// A matching key exists but the signature does not verify under it.
    #[error("signature does not verify")]
    BadSignature,
    /// An algorithm was asked of a key it does not fit.
    #[error("algorithm {alg} does not fit a {key:?} key")]
    KeyMismatch {
        alg: JwsAlgorithm,
        key: KeyAlgorithm,
    },
    /// The key bytes are not a usable key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The JWK is not a usable verification key.
    #[error(transparent)]
    Jwk(#[from] JwkError),
    /// The signature primitive failed.
    #[error("signing failed")]
    Signing,
}

/// A JOSE header as keygate reads and writes it (RFC 7515 §4.1). Members are serialized
/// in declaration order; absent ones are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwsHeader {
    /// RFC 7515 §4.1.1.
    pub alg: JwsAlgorithm,
    /// RFC 7515 §4.1.9: the media type of the whole JWS, such as `at+jwt` (RFC 9068 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// RFC 7515 §4.1.10: the media type of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// RFC 7515 §4.1.4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RFC 7515 §4.1.7: the SHA-1 certificate thumbprint, as WSO2 sets it. Informational:
    /// never used to select a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    /// RFC 7515 §4.1.8: base64url SHA-256 of the signing certificate's DER.
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl JwsHeader {
    /// A header with only `alg`.
    pub fn new(alg: JwsAlgorithm) -> Self {
        Self {
            alg,
            typ: None,
            cty: None,
            kid: None,
            x5t: None,
            x5t_s256: None,
        }
    }

    /// Sets `typ`.
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The header as compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings and an enum serialize infallibly; the fallback is never taken.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The header as it arrives: `alg` still a string, `crit` caught even as `null`.
#[derive(Deserialize)]
struct ProtectedHeader<'a> {
    /// Borrowed from the decoded header unless it holds escapes.
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cty: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    x5t: Option<String>,
    #[serde(rename = "x5t#S256", default)]
    x5t_s256: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<IgnoredAny>,
}

/// Marks a member as present whatever its value, `null` included.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<IgnoredAny>, D::Error> {
    IgnoredAny::deserialize(deserializer).map(Some)
}

/// Parses and checks a protected header: a JSON object (RFC 7515 §4), no member twice,
/// a supported `alg`, no `crit`.
fn parse_header(json: &[u8]) -> Result<JwsHeader, JwsError> {
    // serde accepts a JSON array for a struct; a JOSE header must be an object.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JwsError::Header);
    }
    let raw: ProtectedHeader = serde_json::from_slice(json).map_err(|_| JwsError::Header)?;
    if raw.crit.is_some() {
        return Err(JwsError::Critical);
    }
    let alg = match JwsAlgorithm::from_name(&raw.alg) {
        Some(alg) => alg,
        None if raw.alg.as_ref() == "none" => return Err(JwsError::Unsecured),
        None => return Err(JwsError::UnsupportedAlgorithm),
    };
    Ok(JwsHeader {
        alg,
        typ: raw.typ,
        cty: raw.cty,
        kid: raw.kid,
        x5t: raw.x5t,
        x5t_s256: raw.x5t_s256,
    })
}

/// Decodes canonical unpadded base64url.
pub(crate) fn decode_b64(input: &str, segment: Segment) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(input)
        .map_err(|_| JwsError::Base64(segment))
}

/// Decodes canonical unpadded base64url into `buffer`, returning the filled part.
fn decode_b64_into<'b>(
    input: &str,
    buffer: &'b mut [u8],
    segment: Segment,
) -> Result<&'b [u8], JwsError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(input, buffer)
        .map_err(|_| JwsError::Base64(segment))?;
    buffer.get(..len).ok_or(JwsError::Base64(segment))
}

pub(crate) fn encode_b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWS whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The protected header.
    pub header: JwsHeader,
    /// The decoded payload.
    pub payload_bytes: Vec<u8>,
}

/// The three segments of a compact JWS, and its signing input (RFC 7515 §5.2 step 8).
struct Compact<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    signing_input: &'t str,
}

fn split_compact(token: &str) -> Result<Compact<'_>, JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::TooLarge {
            len: token.len(),
            limit: MAX_TOKEN_LEN,
        });
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::SegmentCount)?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(JwsError::SegmentCount)?;
    if payload.contains('.') {
        return Err(JwsError::SegmentCount);
    }
    Ok(Compact {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// The protected header of a compact JWS, checked as [`verify_compact`] checks it but
/// without verifying anything: for choosing keys or routing before verification.
pub fn peek_header(token: &str) -> Result<JwsHeader, JwsError> {
    let parts = split_compact(token)?;
    decode_header(parts.header)
}

fn decode_header(encoded: &str) -> Result<JwsHeader, JwsError> {
    let mut stack = [0u8; HEADER_STACK_BUFFER];
    if encoded.len() / 4 * 3 + 3 <= stack.len() {
        parse_header(decode_b64_into(encoded, &mut stack, Segment::Header)?)
    } else {
        parse_header(&decode_b64(encoded, Segment::Header)?)
    }
}

/// Verifies a compact JWS (RFC 7515 §5.2) and returns its header and payload.
///
/// Checks, in order: length and segment count, the header (JSON object, supported
/// `alg`, no `crit`), `alg` against `allowed`, then the signature against each key from
/// `keys` that [`VerifyingKey::matches`] the header; the payload is decoded last.
pub fn verify_compact<R: KeyResolver + ?Sized>(
    token: &str,
    keys: &R,
    allowed: &[JwsAlgorithm],
) -> Result<Verified, JwsError> {
    let parts = split_compact(token)?;
    let header = decode_header(parts.header)?;
    if !allowed.contains(&header.alg) {
        return Err(JwsError::AlgorithmNotAllowed(header.alg));
    }
    let candidates = keys.candidates(&header);
    if !candidates.iter().any(|key| key.matches(&header)) {
        return Err(JwsError::NoMatchingKey);
    }
    if parts.signature.len() > MAX_SIGNATURE_LEN.div_ceil(3) * 4 {
        return Err(JwsError::BadSignature);
    }
    let mut buffer = [0u8; SIGNATURE_BUFFER];
    let signature = decode_b64_into(parts.signature, &mut buffer, Segment::Signature)?;
    let signing_input = parts.signing_input.as_bytes();
    let verified = candidates.iter().any(|key| {
        key.matches(&header) && key.verify(header.alg, signing_input, signature).is_ok()
    });
    if !verified {
        return Err(JwsError::BadSignature);
    }
    let payload_bytes = decode_b64(parts.payload, Segment::Payload)?;
    Ok(Verified {
        header,
        payload_bytes,
    })
}

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod tests;
