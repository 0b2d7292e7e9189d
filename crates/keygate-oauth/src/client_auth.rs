//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3): reading the credentials a request carries into [`ClientCredentials`] — HTTP Basic
//! (§2.3.1), `client_secret` in the body (§2.3.1), a JWT client assertion (RFC 7523 §2.2),
//! or a bare `client_id` (public clients, and RFC 8705 mutual TLS whose certificate the
//! caller checks) — refusing more than one method in one request (RFC 6749 §2.3); and
//! [`ClientSecretDigest`], the keyed digest under which client secrets are stored
//! (HMAC-SHA256 with a server pepper) with a constant-time verification.

use crate::error::OAuthError;
use crate::form::{Form, decode_component};
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use keygate_model::{Secret, TokenEndpointAuthMethod};
use std::fmt;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Standard base64 that accepts the padding present or left out, as clients differ.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The credentials one request presented. `Debug` never shows a secret or assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_basic`: id and secret in the `Authorization: Basic` header, each
    /// form-urlencoded before base64 (RFC 6749 §2.3.1).
    SecretBasic {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// `client_secret_post`: `client_id` and `client_secret` in the body (RFC 6749 §2.3.1).
    SecretPost {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// `private_key_jwt` or `client_secret_jwt`: `client_assertion` of type
    /// [`CLIENT_ASSERTION_TYPE_JWT_BEARER`] (RFC 7523 §2.2). The caller verifies the JWT
    /// and that its `sub` equals `client_id` when one was sent (RFC 7521 §4.2).
    JwtAssertion {
        /// `client_id` from the body, if sent.
        client_id: Option<String>,
        /// The assertion (a JWT).
        assertion: Secret,
    },
    /// Only `client_id`: a public client (RFC 6749 §2.1), or a client authenticating with
    /// its TLS certificate (RFC 8705 §2), which the caller checks.
    ClientIdOnly {
        /// Client id.
        client_id: String,
    },
    /// No client identification at all.
    Anonymous,
}

impl ClientCredentials {
    /// Reads the credentials from the `Authorization` header value (if any) and the parsed
    /// body. Errors: a malformed or non-Basic `Authorization` header is `invalid_client`
    /// with a Basic challenge; more than one method (RFC 6749 §2.3, §5.2), a missing
    /// companion parameter, or a body `client_id` that contradicts the header is
    /// `invalid_request`; an unknown `client_assertion_type` is `invalid_client`.
    pub fn from_request(authorization: Option<&str>, form: &Form) -> Result<Self, OAuthError> {
        let basic = authorization.map(parse_basic).transpose()?;
        let form_client_id = form.get("client_id");
        let secret = form.get("client_secret");
        let assertion = form.get("client_assertion");
        let assertion_type = form.get("client_assertion_type");

        let methods = usize::from(basic.is_some())
            + usize::from(secret.is_some())
            + usize::from(assertion.is_some() || assertion_type.is_some());
        if methods > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method",
            ));
        }

        if let Some((client_id, secret)) = basic {
            if form_client_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            return Ok(Self::SecretBasic { client_id, secret });
        }
        if let Some(secret) = secret {
            let client_id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::missing_parameter("client_id"))?;
            return Ok(Self::SecretPost {
                client_id: client_id.to_owned(),
                secret: Secret::new(secret),
            });
        }
        if assertion.is_some() || assertion_type.is_some() {
            let assertion_type = assertion_type
                .ok_or_else(|| OAuthError::missing_parameter("client_assertion_type"))?;
            let assertion =
                assertion.ok_or_else(|| OAuthError::missing_parameter("client_assertion"))?;
            if assertion_type != CLIENT_ASSERTION_TYPE_JWT_BEARER {
                return Err(OAuthError::invalid_client(
                    "unsupported client_assertion_type",
                ));
            }
            return Ok(Self::JwtAssertion {
                client_id: form_client_id.map(str::to_owned),
                assertion: Secret::new(assertion),
            });
        }
        Ok(match form_client_id {
            Some(client_id) => Self::ClientIdOnly {
                client_id: client_id.to_owned(),
            },
            None => Self::Anonymous,
        })
    }

    /// The client id the request claims, if it names one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::SecretBasic { client_id, .. }
            | Self::SecretPost { client_id, .. }
            | Self::ClientIdOnly { client_id } => Some(client_id),
            Self::JwtAssertion { client_id, .. } => client_id.as_deref(),
            Self::Anonymous => None,
        }
    }

    /// Whether the client used the `Authorization: Basic` header.
    pub fn used_basic(&self) -> bool {
        matches!(self, Self::SecretBasic { .. })
    }

    /// The presented secret, for the two secret methods.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Self::SecretBasic { secret, .. } | Self::SecretPost { secret, .. } => Some(secret),
            _ => None,
        }
    }

    /// The `invalid_client` error for a failed authentication with these credentials: a
    /// Basic challenge when the header was used (RFC 6749 §5.2). The description says
    /// nothing about which part was wrong.
    pub fn failure(&self) -> OAuthError {
        if self.used_basic() {
            OAuthError::invalid_client_basic("client authentication failed")
        } else {
            OAuthError::invalid_client("client authentication failed")
        }
    }

    /// Whether these credentials are an acceptable way to authenticate a client registered
    /// with `registered` (RFC 7591 §2). As WSO2 does, a confidential client with a secret
    /// may send it by either secret method; `private_key_jwt` needs an assertion; TLS
    /// methods and public clients send only their `client_id`.
    pub fn is_allowed_for(&self, registered: TokenEndpointAuthMethod) -> bool {
        use TokenEndpointAuthMethod as M;
        match self {
            Self::SecretBasic { .. } | Self::SecretPost { .. } => {
                matches!(registered, M::ClientSecretBasic | M::ClientSecretPost)
            }
            Self::JwtAssertion { .. } => registered == M::PrivateKeyJwt,
            Self::ClientIdOnly { .. } => {
                matches!(
                    registered,
                    M::None | M::TlsClientAuth | M::SelfSignedTlsClientAuth
                )
            }
            Self::Anonymous => false,
        }
    }
}

/// Parses `Authorization: Basic …` (RFC 7617 §2, RFC 6749 §2.3.1): scheme case-insensitive,
/// base64 of `id:secret` with each part form-urlencoded. Any defect is `invalid_client` with
/// a Basic challenge.
fn parse_basic(header: &str) -> Result<(String, Secret), OAuthError> {
    let fail = |why: &'static str| OAuthError::invalid_client_basic(why);
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(' ')
        .ok_or_else(|| fail("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(fail("unsupported authentication scheme"));
    }
    let decoded = BASIC_BASE64
        .decode(rest.trim_start())
        .map_err(|_| fail("malformed Basic credentials"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| fail("malformed Basic credentials"))?;
    let (raw_id, raw_secret) = decoded
        .split_once(':')
        .ok_or_else(|| fail("malformed Basic credentials"))?;
    let client_id =
        decode_component(raw_id.as_bytes()).map_err(|_| fail("malformed Basic credentials"))?;
    let secret =
        decode_component(raw_secret.as_bytes()).map_err(|_| fail("malformed Basic credentials"))?;
    if client_id.is_empty() {
        return Err(fail("empty client id"));
    }
    if secret.is_empty() {
        return Err(fail("empty client secret"));
    }
    Ok((client_id, Secret::new(secret)))
}

/// Length of a [`ClientSecretDigest`] in bytes.
pub const CLIENT_SECRET_DIGEST_LEN: usize = 32;

/// HMAC-SHA256 (RFC 2104, RFC 4231) of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A client secret as stored: HMAC-SHA256(pepper, secret). Client secrets are
/// high-entropy, so a keyed digest suffices where user passwords need a slow hash; the
/// pepper keeps a stolen table useless without the server's key. Equality and
/// [`ClientSecretDigest::verify`] are constant-time; `Debug` shows no bytes.
#[derive(Clone)]
pub struct ClientSecretDigest([u8; CLIENT_SECRET_DIGEST_LEN]);

impl ClientSecretDigest {
    /// The digest of `secret` under `pepper`.
    pub fn compute(pepper: &[u8], secret: &Secret) -> Self {
        Self(hmac_sha256(pepper, secret.expose().as_bytes()))
    }

    /// A stored digest; `None` unless exactly [`CLIENT_SECRET_DIGEST_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; CLIENT_SECRET_DIGEST_LEN]>::try_from(bytes)
            .ok()
            .map(Self)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8; CLIENT_SECRET_DIGEST_LEN] {
        &self.0
    }

    /// Whether `presented` is the secret this digest was made from, compared in constant
    /// time.
    pub fn verify(&self, pepper: &[u8], presented: &Secret) -> bool {
        let key = hmac::Key::new(hmac::HMAC_SHA256, pepper);
        hmac::verify(&key, presented.expose().as_bytes(), &self.0).is_ok()
    }
}

impl PartialEq for ClientSecretDigest {
    fn eq(&self, other: &Self) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl Eq for ClientSecretDigest {}

impl fmt::Debug for ClientSecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretDigest(***)")
    }
}

/// Verifies `presented` against a stored digest (`OAuthClient::secret_digest`); a stored
/// value of the wrong length never verifies.
pub fn verify_client_secret(stored: &[u8], pepper: &[u8], presented: &Secret) -> bool {
    ClientSecretDigest::from_bytes(stored).is_some_and(|d| d.verify(pepper, presented))
}

#[cfg(test)]
mod tests;
