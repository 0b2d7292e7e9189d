//! The keys of JWS: [`JwsAlgorithm`], the [`SigningKey`] that signs with one of them,
//! the [`VerifyingKey`] parsed once per algorithm it verifies, and the [`KeyResolver`]
//! that picks keys for a token ([`VerifyingKeySet`] by `kid`).

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
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{JwsError, JwsHeader, MAX_SIGNATURE_LEN, parse_header};
use crate::jwk::{Jwk, JwkError, JwkSet, x5t_s256};
use crate::key::{self, KeyAlgorithm, KeyError};

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
/// header. [`verify_compact`](super::verify_compact) still checks each candidate with
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
