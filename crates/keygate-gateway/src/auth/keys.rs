//! Where the keys that verify access tokens come from, per trusted issuer: a certificate
//! from the truststore (the key manager's, under `gateway_certificate_alias` as WSO2's
//! step 6.2 imports it, or an issuer's `certificate_alias`), or a JWKS endpoint.
//!
//! A JWKS is fetched when a token names a `kid` the gateway does not hold — the key
//! manager rotated its key — but never more often than a minimum interval, so tokens
//! with made-up `kid`s cannot turn the gateway into a load generator against the key
//! manager. Concurrent requests that miss the same `kid` wait for one fetch.

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use keygate_jose::{JwkSet, Keystore, VerifyingKey, VerifyingKeySet};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default minimum time between two fetches of one JWKS.
pub const DEFAULT_JWKS_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Time allowed for a JWKS fetch.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;

/// Why keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySourceError {
    /// The truststore has no usable certificate under the alias.
    #[error("truststore entry `{alias}` is not a usable signing certificate: {reason}")]
    Certificate { alias: String, reason: String },
    /// The JWKS could not be fetched or read.
    #[error("JWKS at {url}: {reason}")]
    Jwks { url: String, reason: String },
}

/// The verification keys of one issuer.
#[async_trait]
pub trait KeySource: Send + Sync + fmt::Debug {
    /// The keys held now.
    fn keys(&self) -> Arc<VerifyingKeySet>;

    /// Keys newer than `seen`, fetching them when the source can and may (an unknown
    /// `kid`); `None` when nothing newer can be had now.
    async fn refresh(&self, seen: &Arc<VerifyingKeySet>) -> Option<Arc<VerifyingKeySet>>;
}

/// Keys fixed at start: certificates from the truststore, or keys given directly.
#[derive(Debug, Clone)]
pub struct StaticKeys {
    keys: Arc<VerifyingKeySet>,
}

impl StaticKeys {
    /// These keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self {
            keys: Arc::new(VerifyingKeySet::new(keys)),
        }
    }

    /// The key of a certificate.
    pub fn from_certificate(certificate: &CertificateDer<'_>) -> Result<Self, KeySourceError> {
        let key = VerifyingKey::from_certificate(certificate).map_err(|e| {
            KeySourceError::Certificate {
                alias: String::new(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self::new(vec![key]))
    }

    /// The key of the certificate under `alias` in a truststore.
    pub fn from_truststore(truststore: &Keystore, alias: &str) -> Result<Self, KeySourceError> {
        let failed = |reason: String| KeySourceError::Certificate {
            alias: alias.to_owned(),
            reason,
        };
        let certificate = truststore
            .certificate(alias)
            .map_err(|e| failed(e.to_string()))?;
        let key =
            VerifyingKey::from_certificate(&certificate).map_err(|e| failed(e.to_string()))?;
        Ok(Self::new(vec![key]))
    }
}

#[async_trait]
impl KeySource for StaticKeys {
    fn keys(&self) -> Arc<VerifyingKeySet> {
        self.keys.clone()
    }

    async fn refresh(&self, _seen: &Arc<VerifyingKeySet>) -> Option<Arc<VerifyingKeySet>> {
        None
    }
}

/// Fetches a JWK Set document.
#[async_trait]
pub trait JwksFetcher: Send + Sync + fmt::Debug {
    /// The JWK Set at `url`.
    async fn fetch(&self, url: &str) -> Result<JwkSet, KeySourceError>;
}

/// Keys from a JWKS endpoint, refetched on an unknown `kid` at most once per interval.
#[derive(Debug)]
pub struct JwksKeys {
    url: String,
    fetcher: Arc<dyn JwksFetcher>,
    current: ArcSwap<VerifyingKeySet>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
}

impl JwksKeys {
    /// Keys of the JWKS at `url`, fetched on first need.
    pub fn new(
        url: impl Into<String>,
        fetcher: Arc<dyn JwksFetcher>,
        min_interval: Duration,
    ) -> Self {
        Self {
            url: url.into(),
            fetcher,
            current: ArcSwap::from_pointee(VerifyingKeySet::default()),
            last_fetch: tokio::sync::Mutex::new(None),
            min_interval,
        }
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl KeySource for JwksKeys {
    fn keys(&self) -> Arc<VerifyingKeySet> {
        self.current.load_full()
    }

    async fn refresh(&self, seen: &Arc<VerifyingKeySet>) -> Option<Arc<VerifyingKeySet>> {
        let mut last_fetch = self.last_fetch.lock().await;
        let current = self.current.load_full();
        if !Arc::ptr_eq(&current, seen) {
            // Another request fetched while this one waited.
            return Some(current);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_interval) {
            return None;
        }
        *last_fetch = Some(Instant::now());
        match self.fetcher.fetch(&self.url).await {
            Ok(set) => {
                let (keys, skipped) = VerifyingKeySet::from_jwk_set(&set);
                if skipped > 0 {
                    tracing::debug!(url = %self.url, skipped, "JWKS keys skipped");
                }
                let keys = Arc::new(keys);
                self.current.store(keys.clone());
                Some(keys)
            }
            Err(error) => {
                tracing::warn!(%error, "JWKS fetch failed");
                None
            }
        }
    }
}

/// Fetches JWKS documents over HTTP(S), trusting the WebPKI roots and the truststore.
#[derive(Clone)]
pub struct HttpJwksFetcher {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl fmt::Debug for HttpJwksFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpJwksFetcher").finish_non_exhaustive()
    }
}

impl HttpJwksFetcher {
    /// A fetcher trusting the WebPKI roots and `extra_roots`.
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, rustls::Error> {
        let tls = crate::proxy::client_tls_config(extra_roots)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(JWKS_FETCH_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

#[async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, url: &str) -> Result<JwkSet, KeySourceError> {
        let failed = |reason: &str| KeySourceError::Jwks {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = url.parse().map_err(|_| failed("not a URL"))?;
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|_| failed("not a URL"))?;
        let response = tokio::time::timeout(JWKS_FETCH_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| failed("timed out"))?
            .map_err(|_| failed("unreachable"))?;
        if !response.status().is_success() {
            return Err(failed("answered with an error status"));
        }
        let body = tokio::time::timeout(
            JWKS_FETCH_TIMEOUT,
            Limited::new(response.into_body(), MAX_JWKS_BYTES).collect(),
        )
        .await
        .map_err(|_| failed("timed out"))?
        .map_err(|_| failed("body unreadable or too large"))?
        .to_bytes();
        serde_json::from_slice(&body).map_err(|_| failed("not a JWK Set"))
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
