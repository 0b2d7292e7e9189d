//! The keys that sign access and ID tokens, and the JWK Set that publishes them
//! (`/oauth2/jwks`, RFC 7517 §5).
//!
//! With `[keystore.primary]` configured (WSO2's `wso2carbon.jks`, alias `wso2carbon`)
//! that key signs; its JWK carries the certificate chain (`x5c`) and `x5t#S256`, as
//! gateways that pin the certificate expect. Without it, the key manager generates a key
//! at first start — RSA 2048 for RS256 (the default), P-256 for ES256, Ed25519 for EdDSA —
//! and keeps it in the database so that every key-manager node, and every restart, signs
//! with the same key. Either way the `kid` is the key's RFC 7638 thumbprint.
//!
//! Rotation ([`SigningKeys::rotate`]) makes a new database key current; the old one stays
//! in the JWK Set until every token it signed has expired — the rotation time plus the
//! longest lifetime any access or ID token may have — and then drops out. Other nodes pick
//! rotations up by reloading the key ring every [`RELOAD_INTERVAL`].

use crate::clock::Clock;
use crate::errors::KmError;
use crate::settings::{KmSettings, open_keystore};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use keygate_jose::{Jwk, JwkSet, JwsAlgorithm, SigningKey, VerifyingKey, VerifyingKeySet};
use keygate_model::Tenant;
use keygate_store::{StoreError, StoredSigningKey, Stores};
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// How often a node re-reads the database's key ring, to pick up rotations made on
/// another node.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// One key of the ring: the signer (for the current key) and what the JWK Set shows.
#[derive(Debug)]
struct RingKey {
    signer: Arc<SigningKey>,
    jwk: Jwk,
    generation: i64,
    /// Until when a retired key is published, unix milliseconds; `None` while current.
    published_until_ms: Option<i64>,
}

/// The keys loaded at one moment.
#[derive(Debug)]
struct KeyRing {
    keys: Vec<RingKey>,
    loaded_at: Duration,
    /// Each key's verifier with the time it stops being published, parsed once per ring
    /// (verifying what this key manager signed needs no JWK parsing per call).
    verifiers: OnceLock<Vec<(Option<i64>, VerifyingKey)>>,
}

impl KeyRing {
    fn new(keys: Vec<RingKey>, loaded_at: Duration) -> Self {
        Self {
            keys,
            loaded_at,
            verifiers: OnceLock::new(),
        }
    }

    /// The keys published at `now_ms`, as verifiers.
    fn verifying_keys(&self, now_ms: i64) -> VerifyingKeySet {
        let verifiers = self.verifiers.get_or_init(|| {
            self.keys
                .iter()
                .filter_map(|k| {
                    let key = VerifyingKey::from_jwk(&k.jwk).ok()?;
                    Some((k.published_until_ms, key))
                })
                .collect()
        });
        VerifyingKeySet::new(
            verifiers
                .iter()
                .filter(|(until, _)| until.is_none_or(|until| until > now_ms))
                .map(|(_, key)| key.clone())
                .collect(),
        )
    }

    fn current(&self) -> Option<&RingKey> {
        self.keys
            .iter()
            .filter(|k| k.published_until_ms.is_none())
            .max_by_key(|k| k.generation)
    }
}

/// Where signing keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `[keystore.primary]`.
    Keystore,
    /// Generated and kept in the database.
    Database,
}

/// The key manager's signing keys.
#[derive(Debug)]
pub struct SigningKeys {
    source: KeySource,
    tenant: Tenant,
    algorithm: JwsAlgorithm,
    ring: RwLock<Arc<KeyRing>>,
}

impl SigningKeys {
    /// Loads the keystore key, or the database's keys (generating the first one).
    pub async fn load(
        settings: &KmSettings,
        stores: &Stores,
        clock: &dyn Clock,
    ) -> Result<Self, KmError> {
        if let Some(store) = &settings.primary_keystore {
            let ring = keystore_ring(store, settings.signing_algorithm, clock.now())?;
            return Ok(Self {
                source: KeySource::Keystore,
                tenant: settings.tenant.clone(),
                algorithm: settings.signing_algorithm,
                ring: RwLock::new(Arc::new(ring)),
            });
        }
        let keys = Self {
            source: KeySource::Database,
            tenant: settings.tenant.clone(),
            algorithm: settings.signing_algorithm,
            ring: RwLock::new(Arc::new(KeyRing::new(Vec::new(), Duration::ZERO))),
        };
        keys.reload(stores, clock).await?;
        if keys.ring().current().is_none() {
            let first = generate(settings.signing_algorithm, &settings.tenant, 1, clock)?;
            match stores.keys().insert_signing_key(&first).await {
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            keys.reload(stores, clock).await?;
        }
        if keys.ring().current().is_none() {
            return Err(KmError::Key("no current signing key after start".into()));
        }
        Ok(keys)
    }

    /// Where the keys come from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn replace(&self, ring: KeyRing) {
        let mut slot = self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(ring);
    }

    /// Reads the database's key ring again.
    async fn reload(&self, stores: &Stores, clock: &dyn Clock) -> Result<(), KmError> {
        let now = clock.now();
        let stored = stores
            .keys()
            .signing_keys(&self.tenant, clock.now_ms())
            .await?;
        let mut keys = Vec::with_capacity(stored.len());
        for record in &stored {
            match ring_key(record) {
                Ok(key) => keys.push(key),
                Err(e) => {
                    tracing::error!(kid = %record.kid, error = %e, "unusable signing key skipped")
                }
            }
        }
        self.replace(KeyRing::new(keys, now));
        Ok(())
    }

    /// Re-reads the database's keys when the ring is older than [`RELOAD_INTERVAL`]. A
    /// failure keeps the ring in use (logged): signing goes on with the keys known.
    pub async fn refresh_if_stale(&self, stores: &Stores, clock: &dyn Clock) {
        if self.source != KeySource::Database {
            return;
        }
        let ring = self.ring();
        if clock.now().saturating_sub(ring.loaded_at) < RELOAD_INTERVAL {
            return;
        }
        if let Err(error) = self.reload(stores, clock).await {
            tracing::warn!(%error, "cannot reload signing keys; keeping the loaded ones");
        }
    }

    /// The key that signs now.
    pub fn current(&self) -> Result<Arc<SigningKey>, KmError> {
        self.ring()
            .current()
            .map(|k| k.signer.clone())
            .ok_or_else(|| KmError::Key("no current signing key".into()))
    }

    /// The JWK Set at `now`: the current key and retired keys still published.
    pub fn jwks(&self, now_ms: i64) -> JwkSet {
        let ring = self.ring();
        JwkSet {
            keys: ring
                .keys
                .iter()
                .filter(|k| k.published_until_ms.is_none_or(|until| until > now_ms))
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }

    /// The keys of [`SigningKeys::jwks`], for verifying what this key manager signed.
    pub fn verifying_keys(&self, now_ms: i64) -> VerifyingKeySet {
        self.ring().verifying_keys(now_ms)
    }

    /// Rotates: a new key becomes current at `now`, and the current one stays published
    /// for `retention` (the longest life of a token it may have signed). Returns the new
    /// key's `kid`. Database keys only; a keystore key is replaced by replacing the
    /// keystore.
    pub async fn rotate(
        &self,
        stores: &Stores,
        clock: &dyn Clock,
        retention: Duration,
    ) -> Result<String, KmError> {
        if self.source != KeySource::Database {
            return Err(KmError::RotationUnavailable);
        }
        self.reload(stores, clock).await?;
        let ring = self.ring();
        let current = ring
            .current()
            .ok_or_else(|| KmError::Key("no current signing key".into()))?;
        let successor = generate(self.algorithm, &self.tenant, current.generation + 1, clock)?;
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let published_until = successor.created_at_ms.saturating_add(retention_ms);
        let rotated = stores
            .keys()
            .rotate_signing_key(current.generation, &successor, published_until)
            .await?;
        if !rotated {
            return Err(KmError::Key(
                "another node rotated the signing key at the same time".into(),
            ));
        }
        let purged = stores
            .keys()
            .purge_retired_signing_keys(&self.tenant, clock.now_ms())
            .await?;
        tracing::info!(
            kid = %successor.kid,
            retired = current.jwk.kid.as_deref().unwrap_or_default(),
            purged,
            "signing key rotated"
        );
        self.reload(stores, clock).await?;
        Ok(successor.kid)
    }
}

/// A new key for `algorithm`, as stored: its `kid` is its JWK thumbprint.
fn generate(
    algorithm: JwsAlgorithm,
    tenant: &Tenant,
    generation: i64,
    clock: &dyn Clock,
) -> Result<StoredSigningKey, KmError> {
    let failed = |what: &str| KmError::Key(format!("cannot generate {what} key"));
    let pkcs8: Vec<u8> = match algorithm {
        JwsAlgorithm::Es256 | JwsAlgorithm::Es384 | JwsAlgorithm::Es512 => {
            let curve = match algorithm {
                JwsAlgorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                JwsAlgorithm::Es512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            };
            EcdsaKeyPair::generate(curve)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| failed("an EC"))?
                .as_ref()
                .to_vec()
        }
        JwsAlgorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(|_| failed("an Ed25519"))?
            .as_ref()
            .to_vec(),
        _ => aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map_err(|_| failed("an RSA"))?
            .as_ref()
            .to_vec(),
    };
    let signer = signer(&pkcs8, algorithm)?;
    let jwk = signer
        .public_jwk()
        .map_err(|e| KmError::Key(format!("generated key has no JWK: {e}")))?;
    Ok(StoredSigningKey {
        tenant: tenant.clone(),
        generation,
        kid: jwk.thumbprint(),
        algorithm: algorithm.name().to_owned(),
        private_key: pkcs8,
        created_at_ms: clock.now_ms(),
        retired_at_ms: None,
        published_until_ms: None,
    })
}

/// A signer for a PKCS#8 key: `algorithm` when it fits the key, else the key's default.
fn signer(pkcs8: &[u8], algorithm: JwsAlgorithm) -> Result<SigningKey, KmError> {
    let der = PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    let key = SigningKey::from_pkcs8(&der)
        .map_err(|e| KmError::Key(format!("unusable private key: {e}")))?;
    if algorithm.fits(key.key_algorithm()) {
        key.with_algorithm(algorithm)
            .map_err(|e| KmError::Key(e.to_string()))
    } else {
        Ok(key)
    }
}

/// A ring entry for a stored key.
fn ring_key(record: &StoredSigningKey) -> Result<RingKey, KmError> {
    let algorithm = JwsAlgorithm::from_name(&record.algorithm)
        .ok_or_else(|| KmError::Key(format!("unknown algorithm {}", record.algorithm)))?;
    let signer = signer(&record.private_key, algorithm)?.with_kid(record.kid.clone());
    let jwk = signer
        .public_jwk()
        .map_err(|e| KmError::Key(format!("no JWK for key {}: {e}", record.kid)))?;
    Ok(RingKey {
        signer: Arc::new(signer),
        jwk,
        generation: record.generation,
        published_until_ms: record.retired_at_ms.and(record.published_until_ms),
    })
}

/// The ring of a `[keystore.primary]` key: its chain in `x5c`, `kid` its thumbprint.
fn keystore_ring(
    store: &keygate_config::KeystoreRef,
    algorithm: JwsAlgorithm,
    now: Duration,
) -> Result<KeyRing, KmError> {
    let keystore = open_keystore(store)?;
    let file = store.file.display().to_string();
    let alias = match &store.alias {
        Some(alias) => alias.clone(),
        None => keystore
            .first_private_key_alias()
            .map(str::to_owned)
            .ok_or_else(|| KmError::Keystore {
                file: file.clone(),
                reason: "holds no private key entry".into(),
            })?,
    };
    let key_password = store.key_password.as_ref().unwrap_or(&store.password);
    let entry = keystore
        .private_key(&alias, key_password)
        .map_err(|e| KmError::Keystore {
            file: file.clone(),
            reason: e.to_string(),
        })?;
    let signer = signer(entry.key.secret_pkcs8_der(), algorithm)?;
    let mut jwk = if entry.chain.is_empty() {
        signer
            .public_jwk()
            .map_err(|e| KmError::Key(e.to_string()))?
    } else {
        Jwk::from_certificate_chain(&entry.chain)
            .map_err(|e| KmError::Key(format!("certificate of `{alias}`: {e}")))?
    };
    let kid = jwk.thumbprint();
    jwk = jwk
        .with_kid(kid.clone())
        .with_use_and_alg("sig", signer.algorithm().name());
    let signer = signer.with_kid(kid);
    // The certificate must hold the key that signs, or tokens would not verify.
    let certified = VerifyingKey::from_jwk(&jwk).map_err(|e| KmError::Key(e.to_string()))?;
    let probe = signer
        .sign(b"keygate key check")
        .map_err(|e| KmError::Key(e.to_string()))?;
    certified
        .verify(signer.algorithm(), b"keygate key check", &probe)
        .map_err(|_| KmError::Keystore {
            file,
            reason: format!("the certificate of `{alias}` does not match its private key"),
        })?;
    Ok(KeyRing::new(
        vec![RingKey {
            signer: Arc::new(signer),
            jwk,
            generation: 1,
            published_until_ms: None,
        }],
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn generated_keys_sign_with_their_algorithm_and_thumbprint_kids() {
        let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
        for (alg, kty) in [
            (JwsAlgorithm::Rs256, "RSA"),
            (JwsAlgorithm::Es256, "EC"),
            (JwsAlgorithm::EdDsa, "OKP"),
            (JwsAlgorithm::Ps256, "RSA"),
        ] {
            let stored = generate(alg, &Tenant::default(), 1, &clock).unwrap();
            assert_eq!(stored.algorithm, alg.name());
            assert_eq!(stored.created_at_ms, 1_700_000_000_000);
            let key = ring_key(&stored).unwrap();
            assert_eq!(key.jwk.kid.as_deref(), Some(stored.kid.as_str()));
            assert_eq!(key.jwk.thumbprint(), stored.kid);
            assert_eq!(key.jwk.alg.as_deref(), Some(alg.name()));
            let json = serde_json::to_value(&key.jwk).unwrap();
            assert_eq!(json["kty"], kty);
            assert!(json.get("d").is_none(), "no private member");
            let verifier = VerifyingKey::from_jwk(&key.jwk).unwrap();
            let sig = key.signer.sign(b"payload").unwrap();
            verifier.verify(alg, b"payload", &sig).unwrap();
        }
    }

    #[test]
    fn retired_keys_are_published_until_their_tokens_expire() {
        let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
        let mut old = generate(JwsAlgorithm::Es256, &Tenant::default(), 1, &clock).unwrap();
        old.retired_at_ms = Some(1_700_000_000_000);
        old.published_until_ms = Some(1_700_003_600_000);
        let new = generate(JwsAlgorithm::Es256, &Tenant::default(), 2, &clock).unwrap();
        let ring = KeyRing::new(
            vec![ring_key(&old).unwrap(), ring_key(&new).unwrap()],
            clock.now(),
        );
        let keys = SigningKeys {
            source: KeySource::Database,
            tenant: Tenant::default(),
            algorithm: JwsAlgorithm::Es256,
            ring: RwLock::new(Arc::new(ring)),
        };
        assert_eq!(keys.current().unwrap().kid(), Some(new.kid.as_str()));
        let kids = |now| -> Vec<String> {
            keys.jwks(now)
                .keys
                .into_iter()
                .filter_map(|k| k.kid)
                .collect()
        };
        assert_eq!(kids(1_700_003_599_999), [old.kid.clone(), new.kid.clone()]);
        assert_eq!(kids(1_700_003_600_000), [new.kid]);
        assert_eq!(keys.verifying_keys(1_700_000_000_000).len(), 2);
        // The retired key stops verifying when it stops being published.
        let verifiers = keys.verifying_keys(1_700_003_600_000);
        assert_eq!(verifiers.len(), 1);
        assert_eq!(
            verifiers.keys()[0].kid(),
            Some(keys.current().unwrap().kid().unwrap())
        );
    }
}
