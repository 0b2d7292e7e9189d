//! Public JSON Web Keys (RFC 7517) for the keys keygate signs with: RSA (RFC 7518 §6.3),
//! EC on P-256/P-384/P-521 (RFC 7518 §6.2) and Ed25519 as OKP (RFC 8037 §2), built from a
//! certificate or a private key, and read back from a key set into the public-key bytes
//! aws-lc-rs verifies with. Also the JWK thumbprint (RFC 7638), which makes a stable `kid`,
//! and the `x5t#S256` certificate thumbprint (RFC 7515 §4.1.8).
//!
//! Only public members are modelled: parsing a JWK that carries private members (`d`, `p`,
//! …) keeps none of them, so a [`Jwk`] can never leak a private key.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::der::{self, DerReader, TAG_INTEGER, TAG_SEQUENCE};
use crate::key::{self, KeyAlgorithm, KeyError};

/// The key-type-specific members of a public JWK, tagged by `kty` (RFC 7517 §4.1).
/// Every value is base64url without padding (RFC 7515 §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum JwkParams {
    /// RFC 7518 §6.3.1: modulus and public exponent as unsigned big-endian integers.
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    /// RFC 7518 §6.2.1: curve name and the point's full-length coordinates.
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
    /// RFC 8037 §2: curve name and the raw public key.
    #[serde(rename = "OKP")]
    Okp { crv: String, x: String },
}

/// A public JSON Web Key (RFC 7517 §4) with the optional members keygate publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    #[serde(flatten)]
    pub params: JwkParams,
    /// RFC 7517 §4.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RFC 7517 §4.2: `sig` or `enc`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// RFC 7517 §4.4: the JWS algorithm the key is meant for, such as `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RFC 7517 §4.7: the certificate chain, each standard base64 (not base64url) DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// RFC 7517 §4.9: base64url SHA-256 of the first certificate's DER.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// A JWK Set (RFC 7517 §5), as `/oauth2/jwks` serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The key whose `kid` is `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// Why a JWK could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// The key's algorithm or curve is not one keygate uses.
    #[error("unsupported key type or curve")]
    Unsupported,
    /// A member is not valid base64url or has the wrong length for its curve.
    #[error("invalid JWK member `{0}`")]
    InvalidMember(&'static str),
    /// The public key bytes are not a valid key of the stated algorithm.
    #[error("invalid public key")]
    InvalidKey,
    /// The certificate or private key could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Jwk {
    /// The JWK of a public key given as a certificate carries it (see
    /// [`key::public_key_of`]): the `RSAPublicKey` DER, the uncompressed EC point, or the
    /// 32 Ed25519 bytes.
    pub fn from_public_key(algorithm: KeyAlgorithm, public_key: &[u8]) -> Result<Jwk, JwkError> {
        let params = match algorithm {
            KeyAlgorithm::Rsa => {
                let (n, e) = rsa_public_key_parts(public_key)?;
                JwkParams::Rsa {
                    n: b64url(n),
                    e: b64url(e),
                }
            }
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 | KeyAlgorithm::EcP521 => {
                let (crv, size) = curve(algorithm).ok_or(JwkError::Unsupported)?;
                let coordinates = match public_key.split_first() {
                    Some((0x04, rest)) if rest.len() == 2 * size => rest,
                    _ => return Err(JwkError::InvalidKey),
                };
                let (x, y) = coordinates.split_at(size);
                JwkParams::Ec {
                    crv: crv.to_owned(),
                    x: b64url(x),
                    y: b64url(y),
                }
            }
            KeyAlgorithm::Ed25519 => {
                if public_key.len() != 32 {
                    return Err(JwkError::InvalidKey);
                }
                JwkParams::Okp {
                    crv: "Ed25519".to_owned(),
                    x: b64url(public_key),
                }
            }
        };
        Ok(Jwk {
            params,
            kid: None,
            key_use: None,
            alg: None,
            x5c: None,
            x5t_s256: None,
        })
    }

    /// The JWK of a certificate's public key, with `x5c` holding the certificate and
    /// `x5t#S256` its thumbprint.
    pub fn from_certificate(certificate: &CertificateDer<'_>) -> Result<Jwk, JwkError> {
        Self::from_certificate_chain(std::slice::from_ref(certificate))
    }

    /// The JWK of a chain's leaf certificate (the first), with `x5c` holding the whole
    /// chain, leaf first (RFC 7517 §4.7), and `x5t#S256` the leaf's thumbprint.
    pub fn from_certificate_chain(chain: &[CertificateDer<'_>]) -> Result<Jwk, JwkError> {
        let leaf = chain.first().ok_or(KeyError::Certificate)?;
        let (algorithm, public_key) = key::certificate_public_key(leaf)?;
        let mut jwk = Self::from_public_key(algorithm, &public_key)?;
        jwk.x5c = Some(chain.iter().map(|c| STANDARD.encode(c.as_ref())).collect());
        jwk.x5t_s256 = Some(x5t_s256(leaf));
        Ok(jwk)
    }

    /// The public JWK of a PKCS#8 private key.
    pub fn from_private_key(private_key: &PrivatePkcs8KeyDer<'_>) -> Result<Jwk, JwkError> {
        let (algorithm, public_key) = key::public_key_of(private_key)?;
        Self::from_public_key(algorithm, &public_key)
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `use` (`sig` or `enc`) and `alg`.
    pub fn with_use_and_alg(mut self, key_use: impl Into<String>, alg: impl Into<String>) -> Self {
        self.key_use = Some(key_use.into());
        self.alg = Some(alg.into());
        self
    }

    /// The key's algorithm and public-key bytes in the form aws-lc-rs's
    /// `UnparsedPublicKey` takes: `RSAPublicKey` DER, uncompressed EC point, or the raw
    /// Ed25519 key. Checks each member's encoding and length.
    pub fn public_key(&self) -> Result<(KeyAlgorithm, Vec<u8>), JwkError> {
        match &self.params {
            JwkParams::Rsa { n, e } => {
                let (n, e) = (decode(n, "n")?, decode(e, "e")?);
                let (n, e) = (unsigned(&n), unsigned(&e));
                if n.is_empty() {
                    return Err(JwkError::InvalidMember("n"));
                }
                if e.is_empty() {
                    return Err(JwkError::InvalidMember("e"));
                }
                let mut body = der::encode(TAG_INTEGER, &der_integer(n));
                body.extend(der::encode(TAG_INTEGER, &der_integer(e)));
                Ok((KeyAlgorithm::Rsa, der::encode(TAG_SEQUENCE, &body)))
            }
            JwkParams::Ec { crv, x, y } => {
                let algorithm = match crv.as_str() {
                    "P-256" => KeyAlgorithm::EcP256,
                    "P-384" => KeyAlgorithm::EcP384,
                    "P-521" => KeyAlgorithm::EcP521,
                    _ => return Err(JwkError::Unsupported),
                };
                let (_, size) = curve(algorithm).ok_or(JwkError::Unsupported)?;
                let x = decode(x, "x")?;
                let y = decode(y, "y")?;
                // RFC 7518 §6.2.1.2-3: each coordinate is the full size of the field.
                if x.len() != size {
                    return Err(JwkError::InvalidMember("x"));
                }
                if y.len() != size {
                    return Err(JwkError::InvalidMember("y"));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend(x);
                point.extend(y);
                Ok((algorithm, point))
            }
            JwkParams::Okp { crv, x } => {
                if crv != "Ed25519" {
                    return Err(JwkError::Unsupported);
                }
                let x = decode(x, "x")?;
                if x.len() != 32 {
                    return Err(JwkError::InvalidMember("x"));
                }
                Ok((KeyAlgorithm::Ed25519, x))
            }
        }
    }

    /// The JWK thumbprint (RFC 7638 §3): base64url SHA-256 of the required members in
    /// lexicographic order, without whitespace. Optional members do not change it.
    pub fn thumbprint(&self) -> String {
        let mut members = BTreeMap::new();
        match &self.params {
            JwkParams::Rsa { n, e } => {
                members.insert("e", e.as_str());
                members.insert("kty", "RSA");
                members.insert("n", n.as_str());
            }
            JwkParams::Ec { crv, x, y } => {
                members.insert("crv", crv.as_str());
                members.insert("kty", "EC");
                members.insert("x", x.as_str());
                members.insert("y", y.as_str());
            }
            JwkParams::Okp { crv, x } => {
                members.insert("crv", crv.as_str());
                members.insert("kty", "OKP");
                members.insert("x", x.as_str());
            }
        }
        // A map of strings always serializes; the fallback is never taken.
        let canonical = serde_json::to_vec(&members).unwrap_or_default();
        b64url(digest(&SHA256, &canonical).as_ref())
    }
}

/// The `x5t#S256` of a certificate (RFC 7515 §4.1.8): base64url SHA-256 of its DER.
pub fn x5t_s256(certificate: &CertificateDer<'_>) -> String {
    b64url(digest(&SHA256, certificate.as_ref()).as_ref())
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(value: &str, member: &'static str) -> Result<Vec<u8>, JwkError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| JwkError::InvalidMember(member))
}

/// The JWK curve name and coordinate size of an EC algorithm.
fn curve(algorithm: KeyAlgorithm) -> Option<(&'static str, usize)> {
    match algorithm {
        KeyAlgorithm::EcP256 => Some(("P-256", 32)),
        KeyAlgorithm::EcP384 => Some(("P-384", 48)),
        KeyAlgorithm::EcP521 => Some(("P-521", 66)),
        KeyAlgorithm::Rsa | KeyAlgorithm::Ed25519 => None,
    }
}

/// Modulus and exponent of a PKCS#1 `RSAPublicKey` (RFC 8017 appendix A.1.1), without
/// leading zero octets (RFC 7518 §6.3.1.1's Base64urlUInt).
fn rsa_public_key_parts(der: &[u8]) -> Result<(&[u8], &[u8]), JwkError> {
    let mut outer = DerReader::new(der);
    let mut key = outer.sequence().map_err(|_| JwkError::InvalidKey)?;
    let n = key.expect(TAG_INTEGER).map_err(|_| JwkError::InvalidKey)?;
    let e = key.expect(TAG_INTEGER).map_err(|_| JwkError::InvalidKey)?;
    let (n, e) = (unsigned(n), unsigned(e));
    if n.is_empty() || e.is_empty() {
        return Err(JwkError::InvalidKey);
    }
    Ok((n, e))
}

fn unsigned(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros..).unwrap_or_default()
}

/// DER INTEGER contents of an unsigned big-endian value: a zero octet first when the high
/// bit is set.
fn der_integer(unsigned: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(unsigned.len() + 1);
    if unsigned.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(unsigned);
    out
}

#[cfg(test)]
#[path = "jwk_tests.rs"]
mod tests;
