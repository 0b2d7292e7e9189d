//! The gateway's settings, taken once from the loaded `deployment.toml` ([`Config`]):
//! the credentials header and whether it reaches the backend (`[apim.oauth_config]`),
//! the token cache (`[apim.cache.gateway_token]`), the backend JWT (`[apim.jwt]`), the
//! trusted JWT issuers (`[[apim.jwt.issuer]]` with their truststore aliases or JWKS
//! URLs), the backend timeouts of keygate's `[gateway]` table, and the request limits,
//! each with a named default.

use crate::auth::keys::{
    DEFAULT_JWKS_MIN_REFETCH_INTERVAL, JwksFetcher, JwksKeys, KeySourceError, StaticKeys,
};
use crate::auth::{AuthSettings, TrustedIssuer};
use crate::backend_jwt::{BackendJwtError, BackendJwtSettings};
use crate::proxy::ProxySettings;
use http::header::HeaderName;
use keygate_config::Config;
use keygate_jose::Keystore;
use std::sync::Arc;

/// Default largest total size of a request's header names and values.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Default largest request body.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Limits on what a client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest total size of header names and values (431 beyond).
    pub max_header_bytes: usize,
    /// Largest body (413 beyond).
    pub max_body_bytes: u64,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Why settings could not be made from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `[apim.oauth_config] auth_header` is not a header name.
    #[error("[apim.oauth_config] auth_header `{0}` is not a valid header name")]
    AuthHeader(String),
    /// `[apim.jwt]` is unusable.
    #[error(transparent)]
    BackendJwt(#[from] BackendJwtError),
}

/// Everything the gateway is set up with.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Authentication.
    pub auth: AuthSettings,
    /// The backend JWT.
    pub backend_jwt: BackendJwtSettings,
    /// Backend connections.
    pub proxy: ProxySettings,
    /// Request limits.
    pub limits: RequestLimits,
    /// Whether the client's credentials header reaches the backend
    /// (`enable_outbound_auth_header`).
    pub forward_credentials: bool,
}

impl GatewaySettings {
    /// The settings of a loaded configuration.
    pub fn from_config(config: &Config) -> Result<Self, SettingsError> {
        let header = config.oauth.auth_header.trim();
        let token_header = HeaderName::from_bytes(header.to_ascii_lowercase().as_bytes())
            .map_err(|_| SettingsError::AuthHeader(config.oauth.auth_header.clone()))?;
        let cache = config.caches.gateway_token;
        let auth = AuthSettings {
            token_header,
            token_cache: cache.enabled.then_some(cache.expiry),
            ..AuthSettings::default()
        };
        let backend_jwt = BackendJwtSettings::from_config(&config.jwt, cache.expiry)?;
        Ok(Self {
            auth,
            backend_jwt,
            proxy: ProxySettings {
                connect_timeout: config.gateway.backend_connect,
                response_timeout: config.gateway.backend_response,
                ..ProxySettings::default()
            },
            limits: RequestLimits::default(),
            forward_credentials: config.oauth.enable_outbound_auth_header,
        })
    }

    /// The settings of keygate's embedded defaults.
    pub fn embedded_default() -> Self {
        // The embedded configuration's settings are all valid.
        match Self::from_config(&Config::embedded_default()) {
            Ok(settings) => settings,
            Err(_) => Self {
                auth: AuthSettings::default(),
                backend_jwt: BackendJwtSettings {
                    enabled: false,
                    header: HeaderName::from_static("x-jwt-assertion"),
                    encoding: keygate_config::JwtEncoding::Base64,
                    claim_dialect: keygate_model::claims::DIALECT.to_owned(),
                    signing_algorithm: keygate_config::JwtSigningAlgorithm::None,
                    enable_user_claims: false,
                    cache_expiry: keygate_config::defaults::CACHE_EXPIRY,
                },
                proxy: ProxySettings::default(),
                limits: RequestLimits::default(),
                forward_credentials: false,
            },
        }
    }
}

/// The issuers of `[[apim.jwt.issuer]]`: each with the truststore certificate under its
/// `certificate_alias`, or its JWKS URL fetched with `fetcher`. An issuer with neither is
/// left out; the resident key manager's own issuer is the caller's to add.
pub fn trusted_issuers(
    config: &Config,
    truststore: Option<&Keystore>,
    fetcher: Arc<dyn JwksFetcher>,
) -> Result<Vec<TrustedIssuer>, KeySourceError> {
    let mut issuers = Vec::with_capacity(config.jwt.issuers.len());
    for issuer in &config.jwt.issuers {
        let keys: Arc<dyn crate::auth::keys::KeySource> =
            match (&issuer.certificate_alias, &issuer.jwks_url, truststore) {
                (Some(alias), _, Some(store)) => {
                    Arc::new(StaticKeys::from_truststore(store, alias)?)
                }
                (_, Some(url), _) => Arc::new(JwksKeys::new(
                    url.clone(),
                    fetcher.clone(),
                    DEFAULT_JWKS_MIN_REFETCH_INTERVAL,
                )),
                (Some(alias), None, None) => {
                    return Err(KeySourceError::Certificate {
                        alias: alias.clone(),
                        reason: "no [truststore] is configured".to_owned(),
                    });
                }
                (None, None, _) => continue,
            };
        issuers.push(TrustedIssuer {
            issuer: issuer.issuer.clone(),
            keys,
            consumer_key_claim: issuer.consumer_key_claim.clone(),
            scopes_claim: issuer.scopes_claim.clone(),
        });
    }
    Ok(issuers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_config::load_str;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn configuration_sets_header_cache_and_backend_jwt() {
        let text = r#"
[apim.oauth_config]
auth_header = "apikey"
enable_outbound_auth_header = true

[apim.cache.gateway_token]
enable = true
expiry_time = "300s"

[apim.jwt]
enable = true
encoding = "base64url"
signing_algorithm = "NONE"
header = "X-Backend-JWT"
"#;
        let loaded = load_str(text, Path::new("deployment.toml")).unwrap();
        let settings = GatewaySettings::from_config(&loaded.config).unwrap();
        assert_eq!(
            settings.auth.token_header,
            HeaderName::from_static("apikey")
        );
        assert_eq!(settings.auth.token_cache, Some(Duration::from_secs(300)));
        assert!(settings.forward_credentials);
        assert!(settings.backend_jwt.enabled);
        assert_eq!(
            settings.backend_jwt.header,
            HeaderName::from_static("x-backend-jwt")
        );
        assert_eq!(settings.backend_jwt.cache_expiry, Duration::from_secs(300));
        assert_eq!(settings.proxy, ProxySettings::default());
    }

    #[test]
    fn backend_timeouts_come_from_the_gateway_table() {
        let text = "[gateway]\nbackend_connect_timeout = \"2s\"\nbackend_response_timeout = 5\n";
        let loaded = load_str(text, Path::new("deployment.toml")).unwrap();
        let settings = GatewaySettings::from_config(&loaded.config).unwrap();
        assert_eq!(settings.proxy.connect_timeout, Duration::from_secs(2));
        assert_eq!(settings.proxy.response_timeout, Duration::from_secs(5));
        assert!(load_str("[gateway]\nbackend_timeout = 1\n", Path::new("d.toml")).is_err());
    }

    #[test]
    fn a_disabled_token_cache_caches_nothing() {
        let text = "[apim.cache.gateway_token]\nenable = false\n";
        let loaded = load_str(text, Path::new("deployment.toml")).unwrap();
        let settings = GatewaySettings::from_config(&loaded.config).unwrap();
        assert_eq!(settings.auth.token_cache, None);
        assert!(!settings.forward_credentials);
        assert_eq!(settings.auth.token_header, http::header::AUTHORIZATION);
    }

    #[derive(Debug)]
    struct NoFetch;

    #[async_trait::async_trait]
    impl JwksFetcher for NoFetch {
        async fn fetch(&self, url: &str) -> Result<keygate_jose::JwkSet, KeySourceError> {
            Err(KeySourceError::Jwks {
                url: url.to_owned(),
                reason: "not in this test".to_owned(),
            })
        }
    }

    #[test]
    fn issuers_take_truststore_certificates_or_jwks_urls() {
        let text = r#"
[[apim.jwt.issuer]]
name = "https://km-a:9444/oauth2/token"
certificate_alias = "gateway_certificate_alias"
consumer_key_claim = "azp"

[[apim.jwt.issuer]]
name = "https://km-b/oauth2/token"
jwks.url = "https://km-b/oauth2/jwks"

[[apim.jwt.issuer]]
name = "https://no-keys"
"#;
        let loaded = load_str(text, Path::new("deployment.toml")).unwrap();
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["km-a".into()]).unwrap();
        let cert = params.self_signed(&key_pair).unwrap();
        let store = Keystore::from_pem(cert.pem().as_bytes(), "gateway_certificate_alias").unwrap();
        let issuers = trusted_issuers(&loaded.config, Some(&store), Arc::new(NoFetch)).unwrap();
        assert_eq!(issuers.len(), 2, "an issuer without keys is left out");
        assert_eq!(issuers[0].issuer, "https://km-a:9444/oauth2/token");
        assert_eq!(issuers[0].keys.keys().len(), 1);
        assert_eq!(issuers[0].consumer_key_claim.as_deref(), Some("azp"));
        assert!(
            issuers[1].keys.keys().is_empty(),
            "a JWKS is fetched on first need"
        );

        let error = trusted_issuers(&loaded.config, None, Arc::new(NoFetch)).unwrap_err();
        assert!(matches!(error, KeySourceError::Certificate { .. }));
    }

    #[test]
    fn embedded_defaults_match_wso2() {
        let settings = GatewaySettings::embedded_default();
        assert_eq!(settings.auth.token_cache, Some(Duration::from_secs(900)));
        assert!(!settings.backend_jwt.enabled);
        assert_eq!(settings.limits, RequestLimits::default());
    }
}
