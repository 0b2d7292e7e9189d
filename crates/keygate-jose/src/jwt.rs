//! JSON Web Tokens (RFC 7519) as keygate issues and checks them: access tokens in the
//! RFC 9068 profile (`typ: at+jwt`) and OpenID Connect ID tokens, signed with
//! [`crate::jws`].
//!
//! [`Claims`] models the registered claims keygate reads (`iss`, `sub`, `aud`, `exp`,
//! `nbf`, `iat`, `jti`), the RFC 9068 / RFC 8693 ones (`client_id`, `scope`), the
//! RFC 8705 §3.1 confirmation (`cnf` with `x5t#S256`), and keeps every other claim in a
//! JSON map. A claim name that appears twice is refused (RFC 7519 §4).
//!
//! [`decode`] verifies the signature, then the header's `typ` and the claims against a
//! [`Validation`] whose `now` the caller passes in. Each failure is its own
//! [`JwtError`] variant so a gateway can answer with WSO2's codes
//! ([`JwtError::gateway_code`]: 900903 for an expired token, 900901 for the rest).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jws::{
    JwsAlgorithm, JwsError, JwsHeader, KeyResolver, SigningKey, Verified, verify_compact,
};

/// The `typ` of an RFC 9068 access token (RFC 9068 §2.1); `application/at+jwt` is the
/// same type (RFC 7515 §4.1.9).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// WSO2's gateway code for invalid credentials (HTTP 401).
pub const INVALID_CREDENTIALS: u32 = 900_901;
/// WSO2's gateway code for an expired access token (HTTP 401).
pub const ACCESS_TOKEN_EXPIRED: u32 = 900_903;

/// The `aud` claim (RFC 7519 §4.1.3): one string or an array of strings. One audience
/// serializes as a string, several as an array, none not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// A single audience.
    pub fn new(audience: impl Into<String>) -> Self {
        Self(vec![audience.into()])
    }

    /// Several audiences.
    pub fn from_values(values: Vec<String>) -> Self {
        Self(values)
    }

    /// The audiences, in token order.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    /// Whether `audience` is one of them.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    /// Whether there is no audience.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Audience, E> {
                Ok(Audience::new(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(Audience(values))
            }
        }
        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// The `cnf` claim (RFC 7800 §3.1): how the presenter proves possession of a key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 8705 §3.1: base64url SHA-256 of the client certificate's DER.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// RFC 9449 §6.1: the JWK thumbprint of a DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// Every other confirmation member.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A JWT claims set (RFC 7519 §4). Times are NumericDate seconds since the epoch; a
/// fractional time read from a token is rounded down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// RFC 7519 §4.1.1.
    pub iss: Option<String>,
    /// RFC 7519 §4.1.2.
    pub sub: Option<String>,
    /// RFC 7519 §4.1.3.
    pub aud: Audience,
    /// RFC 7519 §4.1.4.
    pub exp: Option<i64>,
    /// RFC 7519 §4.1.5.
    pub nbf: Option<i64>,
    /// RFC 7519 §4.1.6.
    pub iat: Option<i64>,
    /// RFC 7519 §4.1.7.
    pub jti: Option<String>,
    /// RFC 9068 §2.2 / RFC 8693 §4.3.
    pub client_id: Option<String>,
    /// RFC 9068 §2.2.3 / RFC 8693 §4.2: space-separated scopes.
    pub scope: Option<String>,
    /// RFC 7800 §3.1.
    pub cnf: Option<Confirmation>,
    /// Every other claim, by name.
    pub extra: Map<String, Value>,
}

/// The claim names [`Claims`] holds in its own fields.
const MODELLED: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "cnf",
];

impl Claims {
    /// The scopes of `scope`, split on spaces (RFC 6749 §3.3).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// The claims set of a JWT payload: a JSON object, no claim twice.
    pub fn from_json(payload: &[u8]) -> Result<Self, JwtError> {
        serde_json::from_slice(payload).map_err(|_| JwtError::InvalidClaims)
    }

    /// The claims as compact JSON. Fails when [`Claims::extra`] repeats a claim that has
    /// its own field.
    pub fn to_json(&self) -> Result<Vec<u8>, JwtError> {
        serde_json::to_vec(self).map_err(|_| JwtError::InvalidClaims)
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let strings = [
            ("iss", &self.iss),
            ("sub", &self.sub),
            ("jti", &self.jti),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                map.serialize_entry(name, value)?;
            }
        }
        if !self.aud.is_empty() {
            map.serialize_entry("aud", &self.aud)?;
        }
        for (name, value) in [("exp", self.exp), ("nbf", self.nbf), ("iat", self.iat)] {
            if let Some(value) = value {
                map.serialize_entry(name, &value)?;
            }
        }
        if let Some(cnf) = &self.cnf {
            map.serialize_entry("cnf", cnf)?;
        }
        for (name, value) in &self.extra {
            if MODELLED.contains(&name.as_str()) {
                return Err(ser::Error::custom(
                    "a modelled claim is repeated in `extra`",
                ));
            }
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let mut claims = Claims::default();
        let mut seen = 0u16;
        while let Some(name) = map.next_key::<String>()? {
            let Some(index) = MODELLED.iter().position(|m| *m == name) else {
                let value = map.next_value::<Value>()?;
                if claims.extra.insert(name, value).is_some() {
                    return Err(de::Error::custom("claim appears twice"));
                }
                continue;
            };
            if seen & (1 << index) != 0 {
                return Err(de::Error::custom("claim appears twice"));
            }
            seen |= 1 << index;
            match name.as_str() {
                "iss" => claims.iss = map.next_value()?,
                "sub" => claims.sub = map.next_value()?,
                "aud" => claims.aud = map.next_value::<Option<Audience>>()?.unwrap_or_default(),
                "exp" => claims.exp = map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                "nbf" => claims.nbf = map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                "iat" => claims.iat = map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                "jti" => claims.jti = map.next_value()?,
                "client_id" => claims.client_id = map.next_value()?,
                "scope" => claims.scope = map.next_value()?,
                _ => claims.cnf = map.next_value()?,
            }
        }
        Ok(claims)
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, integer or fractional.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<NumericDate, E> {
                i64::try_from(value)
                    .map(NumericDate)
                    .map_err(|_| E::custom("NumericDate out of range"))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<NumericDate, E> {
                // `as` saturates; the range check keeps saturated values out.
                let floor = value.floor();
                if (-9.0e18..=9.0e18).contains(&floor) {
                    Ok(NumericDate(floor as i64))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

/// Why a JWT was refused or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a well-formed compact JWS: size, segments, base64url or header (900901).
    #[error("malformed token: {0}")]
    Malformed(JwsError),
    /// The payload is not a JWT claims set: not a JSON object, a claim of the wrong type,
    /// or a claim twice (900901).
    #[error("token claims are not a valid JWT claims set")]
    InvalidClaims,
    /// A claim the validation requires is absent (900901).
    #[error("required claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// Refused before any signature check: `alg: none`, an algorithm not allowed or not
    /// implemented, a `crit` header, or no key for the token (900901).
    #[error("token refused: {0}")]
    Refused(JwsError),
    /// The signature does not verify under any matching key (900901).
    #[error("token signature does not verify")]
    BadSignature,
    /// `exp` is past, beyond the leeway (900903).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway (900901).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iss` is absent or not a trusted issuer (900901).
    #[error("token issuer is not trusted")]
    WrongIssuer,
    /// `aud` names none of the expected audiences (900901).
    #[error("token audience is not accepted")]
    WrongAudience,
    /// The header's `typ` is not the required type (RFC 8725 §3.11, RFC 9068 §4) (900901).
    #[error("token type is not the one required")]
    WrongType,
    /// The token could not be signed.
    #[error("cannot sign token: {0}")]
    Signing(JwsError),
}

impl JwtError {
    /// The WSO2 gateway error code for this failure: [`ACCESS_TOKEN_EXPIRED`] for an
    /// expired token, [`INVALID_CREDENTIALS`] for every other refusal.
    pub fn gateway_code(&self) -> u32 {
        match self {
            Self::Expired => ACCESS_TOKEN_EXPIRED,
            _ => INVALID_CREDENTIALS,
        }
    }
}

impl From<JwsError> for JwtError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::TooLarge { .. }
            | JwsError::SegmentCount
            | JwsError::Base64(_)
            | JwsError::Header => Self::Malformed(error),
            JwsError::BadSignature => Self::BadSignature,
            other => Self::Refused(other),
        }
    }
}

/// What a token must satisfy beyond its signature. `now` is the caller's clock, as a
/// duration since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The current time, since the Unix epoch.
    pub now: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Trusted issuers; empty accepts any `iss`.
    pub issuers: Vec<String>,
    /// Accepted audiences, any one of which `aud` must name; empty skips the check.
    pub audiences: Vec<String>,
    /// The `typ` the header must carry, compared as RFC 7515 §4.1.9 says
    /// (case-insensitively, `application/` optional); `None` skips the check.
    pub required_type: Option<String>,
    /// The algorithms accepted.
    pub algorithms: Vec<JwsAlgorithm>,
    /// Whether a token without `exp` is refused.
    pub require_expiry: bool,
}

impl Validation {
    /// Validation at `now`: no leeway, any issuer and audience, any type, every
    /// algorithm of [`JwsAlgorithm::ALL`], `exp` required.
    pub fn new(now: Duration) -> Self {
        Self {
            now,
            leeway: Duration::ZERO,
            issuers: Vec::new(),
            audiences: Vec::new(),
            required_type: None,
            algorithms: JwsAlgorithm::ALL.to_vec(),
            require_expiry: true,
        }
    }

    /// Adds a trusted issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Adds an accepted audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Sets the clock skew tolerated.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires the header's `typ`, such as [`ACCESS_TOKEN_TYPE`].
    pub fn with_required_type(mut self, typ: impl Into<String>) -> Self {
        self.required_type = Some(typ.into());
        self
    }

    /// Accepts only `algorithms`.
    pub fn with_algorithms(mut self, algorithms: &[JwsAlgorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Accepts tokens without `exp`.
    pub fn without_required_expiry(mut self) -> Self {
        self.require_expiry = false;
        self
    }

    /// Checks the header's `typ`.
    pub fn check_header(&self, header: &JwsHeader) -> Result<(), JwtError> {
        match (&self.required_type, &header.typ) {
            (None, _) => Ok(()),
            (Some(required), Some(typ)) if same_media_type(required, typ) => Ok(()),
            (Some(_), _) => Err(JwtError::WrongType),
        }
    }

    /// Checks the claims: `exp`, `nbf`, `iss`, `aud`, in that order. A cache of verified
    /// tokens calls this again on every hit, with the new `now`.
    pub fn check_claims(&self, claims: &Claims) -> Result<(), JwtError> {
        let now = i128::from(self.now.as_secs());
        let leeway = i128::from(self.leeway.as_secs());
        match claims.exp {
            Some(exp) if now >= i128::from(exp) + leeway => return Err(JwtError::Expired),
            Some(_) => {}
            None if self.require_expiry => return Err(JwtError::MissingClaim("exp")),
            None => {}
        }
        if claims.nbf.is_some_and(|nbf| now + leeway < i128::from(nbf)) {
            return Err(JwtError::NotYetValid);
        }
        if !self.issuers.is_empty()
            && !claims
                .iss
                .as_ref()
                .is_some_and(|iss| self.issuers.contains(iss))
        {
            return Err(JwtError::WrongIssuer);
        }
        if !self.audiences.is_empty() && !self.audiences.iter().any(|a| claims.aud.contains(a)) {
            return Err(JwtError::WrongAudience);
        }
        Ok(())
    }
}

/// Compares media types as RFC 7515 §4.1.9 says: case-insensitively, with an absent
/// `application/` prefix meaning it.
fn same_media_type(a: &str, b: &str) -> bool {
    fn short(media_type: &str) -> &str {
        const PREFIX: &str = "application/";
        match media_type.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => {
                media_type.get(PREFIX.len()..).unwrap_or_default()
            }
            _ => media_type,
        }
    }
    short(a).eq_ignore_ascii_case(short(b))
}

/// A JWT whose signature, type and claims were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJwt {
    /// The protected header.
    pub header: JwsHeader,
    /// The claims set.
    pub claims: Claims,
}

/// Verifies a JWT: the signature with keys from `keys` and the algorithms of
/// `validation`, then the `typ`, then the claims.
pub fn decode<R: KeyResolver + ?Sized>(
    token: &str,
    keys: &R,
    validation: &Validation,
) -> Result<VerifiedJwt, JwtError> {
    let Verified {
        header,
        payload_bytes,
    } = verify_compact(token, keys, &validation.algorithms)?;
    validation.check_header(&header)?;
    let claims = Claims::from_json(&payload_bytes)?;
    validation.check_claims(&claims)?;
    Ok(VerifiedJwt { header, claims })
}

/// Signs `claims` under `header` with `key`. The header's `alg` must be the key's:
/// start from [`SigningKey::header`] and add a `typ`, such as [`ACCESS_TOKEN_TYPE`].
pub fn encode(key: &SigningKey, header: &JwsHeader, claims: &Claims) -> Result<String, JwtError> {
    let payload = claims.to_json()?;
    key.sign_compact(&header.to_json(), &payload)
        .map_err(JwtError::Signing)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
