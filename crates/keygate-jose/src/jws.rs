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

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaEncoding,
    VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::jwk::{Jwk, JwkError, JwkSet, x5t_s256};
use crate::key::{self, KeyAlgorithm, KeyError};

/// The longest token [`verify_compact`] reads, in bytes. RFC 9068 access tokens and
/// OpenID Connect ID tokens are far below it; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The largest signature of any supported algorithm: RSA with an 8192-bit modulus.
const MAX_SIGNATURE_LEN: usize = 1024;

/// Decode buffers for the signature and a typical header; the base64 decoder's size
/// estimate runs up to two bytes over the exact length.
const SIGNATURE_BUFFER: usize = MAX_SIGNATURE_LEN + 8;
const HEADER_STACK_BUFFER: usize = 512;

/// A JWS algorithm keygate signs or verifies with (RFC 7518 §3.1, RFC 8037 §3.1).
/// Symmetric (`HS*`) and unsecured (`none`) JWS are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3); WSO2's default.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256 (RFC 7518 §3.5).
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
    /// EdDSA (RFC 8037 §3.1); keygate's keys are Ed25519.
    EdDsa,
}

impl JwsAlgorithm {
    /// Every algorithm, in the order of the enum.
    pub const ALL: [JwsAlgorithm; 10] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::Es512,
        Self::EdDsa,
    ];

    /// The `alg` value (RFC 7518 §3.1, RFC 8037 §3.1).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm an `alg` value names; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The algorithm keygate signs with by default for a key type: RS256 for RSA (as
    /// WSO2 does), ES256/ES384/ES512 by curve, EdDSA for Ed25519.
    pub fn default_for(key: KeyAlgorithm) -> Self {
        match key {
            KeyAlgorithm::Rsa => Self::Rs256,
            KeyAlgorithm::EcP256 => Self::Es256,
            KeyAlgorithm::EcP384 => Self::Es384,
            KeyAlgorithm::EcP521 => Self::Es512,
            KeyAlgorithm::Ed25519 => Self::EdDsa,
        }
    }

    /// Whether this algorithm can be used with a key of type `key`. ECDSA algorithms are
    /// bound to one curve each (RFC 7518 §3.4).
    pub fn fits(self, key: KeyAlgorithm) -> bool {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                key == KeyAlgorithm::Rsa
            }
            Self::Es256 => key == KeyAlgorithm::EcP256,
            Self::Es384 => key == KeyAlgorithm::EcP384,
            Self::Es512 => key == KeyAlgorithm::EcP521,
            Self::EdDsa => key == KeyAlgorithm::Ed25519,
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
            Self::EdDsa => &signature::ED25519,
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn RsaEncoding> {
        match self {
            Self::Rs256 => Some(&signature::RSA_PKCS1_SHA256),
            Self::Rs384 => Some(&signature::RSA_PKCS1_SHA384),
            Self::Rs512 => Some(&signature::RSA_PKCS1_SHA512),
            Self::Ps256 => Some(&signature::RSA_PSS_SHA256),
            Self::Ps384 => Some(&signature::RSA_PSS_SHA384),
            Self::Ps512 => Some(&signature::RSA_PSS_SHA512),
            Self::Es256 | Self::Es384 | Self::Es512 | Self::EdDsa => None,
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `alg` name that is not one of [`JwsAlgorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a supported JWS algorithm")]
pub struct UnknownAlgorithm;

impl FromStr for JwsAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name).ok_or(UnknownAlgorithm)
    }
}

impl Serialize for JwsAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for JwsAlgorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| serde::de::Error::custom("unsupported JWS algorithm"))
    }
}

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
struct ProtectedHeader {
    alg: String,
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
        None if raw.alg == "none" => return Err(JwsError::Unsecured),
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

/// A private key that signs JWS, with the one algorithm it signs with and an optional
/// `kid`. `Debug` shows the algorithm and `kid`, never key material.
pub struct SigningKey {
    algorithm: JwsAlgorithm,
    kid: Option<String>,
    pair: KeyPair,
}

enum KeyPair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A signing key from a PKCS#8 private key (as [`crate::Keystore::private_key`] gives
    /// it), signing with [`JwsAlgorithm::default_for`] its type.
    pub fn from_pkcs8(private_key: &PrivatePkcs8KeyDer<'_>) -> Result<Self, JwsError> {
        let der = private_key.secret_pkcs8_der();
        let key_algorithm = KeyAlgorithm::of_pkcs8(der).ok_or(KeyError::UnsupportedAlgorithm)?;
        let algorithm = JwsAlgorithm::default_for(key_algorithm);
        let pair = match key_algorithm {
            KeyAlgorithm::Rsa => KeyPair::Rsa(
                RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError::Invalid("RSA PKCS#8"))?,
            ),
            KeyAlgorithm::Ed25519 => KeyPair::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|_| KeyError::Invalid("Ed25519 PKCS#8"))?,
            ),
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 | KeyAlgorithm::EcP521 => {
                let signing = match key_algorithm {
                    KeyAlgorithm::EcP256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    KeyAlgorithm::EcP384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    _ => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                };
                KeyPair::Ecdsa(
                    EcdsaKeyPair::from_pkcs8(signing, der)
                        .map_err(|_| KeyError::Invalid("EC PKCS#8"))?,
                )
            }
        };
        Ok(Self {
            algorithm,
            kid: None,
            pair,
        })
    }

    /// Signs with `algorithm` instead of the default: another RSA algorithm for an RSA
    /// key (RS384, PS256, …). An ECDSA or Ed25519 key has exactly one algorithm.
    pub fn with_algorithm(mut self, algorithm: JwsAlgorithm) -> Result<Self, JwsError> {
        let key = self.key_algorithm();
        if !algorithm.fits(key) {
            return Err(JwsError::KeyMismatch {
                alg: algorithm,
                key,
            });
        }
        self.algorithm = algorithm;
        Ok(self)
    }

    /// Sets the `kid` that [`SigningKey::header`] and the public JWK carry.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.algorithm
    }

    /// The key's `kid`, if set.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's type.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        match &self.pair {
            KeyPair::Rsa(_) => KeyAlgorithm::Rsa,
            KeyPair::Ed25519(_) => KeyAlgorithm::Ed25519,
            KeyPair::Ecdsa(_) => match self.algorithm {
                JwsAlgorithm::Es384 => KeyAlgorithm::EcP384,
                JwsAlgorithm::Es512 => KeyAlgorithm::EcP521,
                _ => KeyAlgorithm::EcP256,
            },
        }
    }

    /// The public key as an X.509 certificate carries it (see [`key::public_key_of`]).
    pub fn public_key(&self) -> Vec<u8> {
        match &self.pair {
            KeyPair::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            KeyPair::Ecdsa(pair) => pair.public_key().as_ref().to_vec(),
            KeyPair::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK, with `kid` (if set), `use: sig` and `alg` (RFC 7517 §4).
    pub fn public_jwk(&self) -> Result<Jwk, JwsError> {
        let mut jwk = Jwk::from_public_key(self.key_algorithm(), &self.public_key())?
            .with_use_and_alg("sig", self.algorithm.name());
        jwk.kid = self.kid.clone();
        Ok(jwk)
    }

    /// The key that verifies this key's signatures, pinned to its algorithm and `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey, JwsError> {
        let mut key = VerifyingKey::from_public_key(self.key_algorithm(), &self.public_key())?
            .with_algorithm(self.algorithm)?;
        key.kid = self.kid.clone();
        Ok(key)
    }

    /// A header with this key's `alg` and `kid`.
    pub fn header(&self) -> JwsHeader {
        JwsHeader {
            kid: self.kid.clone(),
            ..JwsHeader::new(self.algorithm)
        }
    }

    /// The raw signature of `signing_input` (RFC 7515 §5.1 step 5): RSA's modulus-length
    /// octets, ECDSA's fixed-width `R || S` (RFC 7518 §3.4), Ed25519's 64 octets.
    pub fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JwsError> {
        match &self.pair {
            KeyPair::Rsa(pair) => {
                let encoding = self.algorithm.rsa_encoding().ok_or(JwsError::Signing)?;
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    encoding,
                    &SystemRandom::new(),
                    signing_input,
                    &mut signature,
                )
                .map_err(|_| JwsError::Signing)?;
                Ok(signature)
            }
            KeyPair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), signing_input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| JwsError::Signing),
            KeyPair::Ed25519(pair) => Ok(pair.sign(signing_input).as_ref().to_vec()),
        }
    }

    /// A compact JWS (RFC 7515 §7.1) of exactly `header_json` and `payload`. The header
    /// must be a JOSE header naming this key's algorithm and no `crit`, so that what is
    /// signed can be verified.
    pub fn sign_compact(&self, header_json: &[u8], payload: &[u8]) -> Result<String, JwsError> {
        let header = parse_header(header_json)?;
        if header.alg != self.algorithm {
            return Err(JwsError::KeyMismatch {
                alg: header.alg,
                key: self.key_algorithm(),
            });
        }
        let mut token = String::with_capacity(
            (header_json.len() + payload.len()) * 4 / 3 + MAX_SIGNATURE_LEN * 4 / 3 + 8,
        );
        URL_SAFE_NO_PAD.encode_string(header_json, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// Signs `payload` under `header_json` with `key`; see [`SigningKey::sign_compact`].
pub fn sign_compact(
    key: &SigningKey,
    header_json: &[u8],
    payload: &[u8],
) -> Result<String, JwsError> {
    key.sign_compact(header_json, payload)
}

/// A public key that verifies JWS, parsed once for every algorithm it may be used with.
/// Made from a certificate (which also gives it the certificate's `x5t#S256`), a JWK
/// (its `kid`, and its `alg` pins the algorithm) or raw public-key bytes.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    x5t_s256: Option<String>,
    key_algorithm: KeyAlgorithm,
    parsed: Vec<(JwsAlgorithm, ParsedPublicKey)>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("key_algorithm", &self.key_algorithm)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

/// RFC 7518 §3.3 and §3.5: RSA keys for JWS are at least 2048 bits.
const MIN_RSA_MODULUS_BYTES: usize = 256;

impl VerifyingKey {
    /// A key from public-key bytes as a certificate carries them: the PKCS#1
    /// `RSAPublicKey` DER, the uncompressed EC point, or the 32 Ed25519 bytes.
    pub fn from_public_key(
        key_algorithm: KeyAlgorithm,
        public_key: &[u8],
    ) -> Result<Self, JwsError> {
        if key_algorithm == KeyAlgorithm::Rsa
            && rsa_modulus_len(public_key)? < MIN_RSA_MODULUS_BYTES
        {
            return Err(JwkError::InvalidKey.into());
        }
        let mut parsed = Vec::new();
        for alg in JwsAlgorithm::ALL
            .into_iter()
            .filter(|a| a.fits(key_algorithm))
        {
            let key = ParsedPublicKey::new(alg.verification(), public_key)
                .map_err(|_| JwkError::InvalidKey)?;
            parsed.push((alg, key));
        }
        Ok(Self {
            kid: None,
            x5t_s256: None,
            key_algorithm,
            parsed,
        })
    }

    /// The key of an X.509 certificate, carrying the certificate's `x5t#S256`.
    pub fn from_certificate(certificate: &CertificateDer<'_>) -> Result<Self, JwsError> {
        let (algorithm, public_key) = key::certificate_public_key(certificate)?;
        let mut key = Self::from_public_key(algorithm, &public_key)?;
        key.x5t_s256 = Some(x5t_s256(certificate));
        Ok(key)
    }

    /// The key of a public JWK: its `kid` and `x5t#S256` are kept, and its `alg`, when
    /// present, becomes the only algorithm the key verifies (RFC 7517 §4.4). A JWK whose
    /// `use` is not `sig` is refused (RFC 7517 §4.2).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwsError> {
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(JwkError::InvalidMember("use").into());
        }
        let (algorithm, public_key) = jwk.public_key()?;
        let mut key = Self::from_public_key(algorithm, &public_key)?;
        if let Some(alg) = &jwk.alg {
            let alg = JwsAlgorithm::from_name(alg).ok_or(JwkError::InvalidMember("alg"))?;
            key = key.with_algorithm(alg)?;
        }
        key.kid = jwk.kid.clone();
        key.x5t_s256 = jwk.x5t_s256.clone();
        Ok(key)
    }

    /// Restricts the key to one algorithm.
    pub fn with_algorithm(mut self, alg: JwsAlgorithm) -> Result<Self, JwsError> {
        if !alg.fits(self.key_algorithm) {
            return Err(JwsError::KeyMismatch {
                alg,
                key: self.key_algorithm,
            });
        }
        self.parsed.retain(|(a, _)| *a == alg);
        Ok(self)
    }

    /// Sets the `kid` this key answers to.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `x5t#S256` of the certificate the key came from, if any.
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// The key's type.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> impl Iterator<Item = JwsAlgorithm> + '_ {
        self.parsed.iter().map(|(alg, _)| *alg)
    }

    /// Whether this key may have signed a token with `header`: its `kid` and `x5t#S256`
    /// agree with the header's where both are set, and it verifies the header's `alg`.
    pub fn matches(&self, header: &JwsHeader) -> bool {
        let agrees = |ours: &Option<String>, theirs: &Option<String>| match (ours, theirs) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        agrees(&self.kid, &header.kid)
            && agrees(&self.x5t_s256, &header.x5t_s256)
            && self.parsed.iter().any(|(a, _)| *a == header.alg)
    }

    /// Checks `signature` over `signing_input` with `alg`.
    pub fn verify(
        &self,
        alg: JwsAlgorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), JwsError> {
        let (_, key) =
            self.parsed
                .iter()
                .find(|(a, _)| *a == alg)
                .ok_or(JwsError::KeyMismatch {
                    alg,
                    key: self.key_algorithm,
                })?;
        key.verify_sig(signing_input, signature)
            .map_err(|_| JwsError::BadSignature)
    }
}

/// The modulus length in octets of a PKCS#1 `RSAPublicKey`, leading zeros left out.
fn rsa_modulus_len(public_key: &[u8]) -> Result<usize, JwsError> {
    use crate::der::{DerReader, TAG_INTEGER};
    let mut outer = DerReader::new(public_key);
    let mut sequence = outer.sequence().map_err(|_| JwkError::InvalidKey)?;
    let modulus = sequence
        .expect(TAG_INTEGER)
        .map_err(|_| JwkError::InvalidKey)?;
    Ok(modulus.len() - modulus.iter().take_while(|&&b| b == 0).count())
}

/// Finds the keys that may have signed a token, from its verified-to-be-well-formed
/// header. [`verify_compact`] still checks each candidate with
/// [`VerifyingKey::matches`], so a resolver may return more keys than match.
pub trait KeyResolver {
    /// The keys to try for a token with `header`.
    fn candidates(&self, header: &JwsHeader) -> &[VerifyingKey];
}

impl KeyResolver for [VerifyingKey] {
    fn candidates(&self, _header: &JwsHeader) -> &[VerifyingKey] {
        self
    }
}

impl<const N: usize> KeyResolver for [VerifyingKey; N] {
    fn candidates(&self, _header: &JwsHeader) -> &[VerifyingKey] {
        self
    }
}

impl KeyResolver for Vec<VerifyingKey> {
    fn candidates(&self, _header: &JwsHeader) -> &[VerifyingKey] {
        self
    }
}

impl KeyResolver for VerifyingKey {
    fn candidates(&self, _header: &JwsHeader) -> &[VerifyingKey] {
        std::slice::from_ref(self)
    }
}

/// Keys indexed by `kid`, as a gateway holds a key manager's JWKS and its configured
/// certificates. A token with a `kid` is tried against the keys with that `kid`, or,
/// when none has it, against the keys that have no `kid` (a certificate configured by
/// alias); a token without `kid` against every key.
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeySet {
    /// Sorted by `kid`, keys without one first.
    keys: Vec<VerifyingKey>,
}

impl VerifyingKeySet {
    /// A set of `keys`.
    pub fn new(mut keys: Vec<VerifyingKey>) -> Self {
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        Self { keys }
    }

    /// The signature keys of a JWK Set (RFC 7517 §5). Keys that cannot verify JWS here
    /// (`use: enc`, unsupported types or curves, RSA under 2048 bits) are skipped, as
    /// RFC 7517 §5 allows; the second value counts them.
    pub fn from_jwk_set(set: &JwkSet) -> (Self, usize) {
        let mut keys = Vec::with_capacity(set.keys.len());
        let mut skipped = 0;
        for jwk in &set.keys {
            match VerifyingKey::from_jwk(jwk) {
                Ok(key) => keys.push(key),
                Err(_) => skipped += 1,
            }
        }
        (Self::new(keys), skipped)
    }

    /// The keys, ordered by `kid`.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyResolver for VerifyingKeySet {
    fn candidates(&self, header: &JwsHeader) -> &[VerifyingKey] {
        let Some(kid) = header.kid.as_deref() else {
            return &self.keys;
        };
        let start = self.keys.partition_point(|k| k.kid.as_deref() < Some(kid));
        let end = self.keys.partition_point(|k| k.kid.as_deref() <= Some(kid));
        match self.keys.get(start..end) {
            Some(with_kid) if !with_kid.is_empty() => with_kid,
            _ => {
                let without_kid = self.keys.partition_point(|k| k.kid.is_none());
                self.keys.get(..without_kid).unwrap_or_default()
            }
        }
    }
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
#[path = "jws_tests.rs"]
mod tests;
