//! The key manager's settings, taken once from the [`Config`] (`deployment.toml`): where it
//! is reached and what it calls itself (the issuer), how tokens are kept at rest, token
//! lifetimes, which key signs, whether RFC 8705 mutual TLS is on, which JWT issuers it
//! trusts for the RFC 7523 bearer grant, and the scopes granted without a role check.
//!
//! The issuer is WSO2's: `https://{hostname}:{port}/oauth2/token`, the port being the
//! management HTTPS port after `[server] offset` — the `iss` every WSO2 gateway already
//! expects. Settings are plain data so a test can adjust them before
//! [`crate::KeyManager::start_with`].

use crate::errors::KmError;
use keygate_bus::SubjectPrefix;
use keygate_config::{Config, JwtIssuer, KeystoreKind, KeystoreRef, TokenPersistence};
use keygate_jose::keystore::{Keystore, KeystoreFormat};
use keygate_jose::{JwsAlgorithm, VerifyingKey, VerifyingKeySet};
use keygate_model::Tenant;
use keygate_oauth::TokenLifetimes;
use regex::Regex;
use std::sync::Arc;
use std::time::Duration;

/// Path of the token endpoint, which is also WSO2's issuer.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Path of the authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
/// Path of the revocation endpoint (RFC 7009).
pub const REVOKE_PATH: &str = "/oauth2/revoke";
/// Path of the introspection endpoint (RFC 7662).
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
/// Path of the UserInfo endpoint (OIDC Core §5.3).
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
/// Path of the JWK Set (RFC 7517 §5).
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// Path of RP-initiated logout (OIDC RP-Initiated Logout §2).
pub const LOGOUT_PATH: &str = "/oidc/logout";
/// Path of dynamic client registration (RFC 7591).
pub const REGISTRATION_PATH: &str = "/client-registration/v1/register";
/// OpenID Provider metadata (OIDC Discovery §4).
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// Authorization server metadata (RFC 8414 §3).
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// Clock skew tolerated on the `exp`, `nbf` and `iat` of assertions presented to us.
pub const DEFAULT_ASSERTION_LEEWAY: Duration = Duration::from_secs(30);

/// Most scopes one token request may ask for; more is `invalid_scope`.
pub const MAX_REQUESTED_SCOPES: usize = 64;

/// A JWT issuer trusted for the JWT bearer grant (RFC 7523 §2.1), and how to find the keys
/// its assertions are signed with.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The `iss` its assertions carry.
    pub issuer: String,
    /// Where its keys come from.
    pub keys: IssuerKeys,
}

/// Where the keys of a trusted issuer come from.
#[derive(Debug, Clone)]
pub enum IssuerKeys {
    /// Fixed keys: certificates from the truststore, or keys given directly.
    Fixed(Arc<VerifyingKeySet>),
    /// A JWK Set fetched over HTTPS and cached.
    JwksUrl(String),
}

/// Everything the key manager is configured with.
#[derive(Debug, Clone)]
pub struct KmSettings {
    /// Tenant every request runs in until multi-tenancy arrives.
    pub tenant: Tenant,
    /// `https://{hostname}:{port}`: the base of every advertised endpoint.
    pub public_base_url: String,
    /// The `iss` of every token, WSO2's `https://{hostname}:{port}/oauth2/token`.
    pub issuer: String,
    /// How tokens, codes and secrets are kept at rest.
    pub token_persistence: TokenPersistence,
    /// Server-wide lifetimes; clients may override them.
    pub lifetimes: TokenLifetimes,
    /// Algorithm of the keys the key manager generates for itself (RS256, ES256 or
    /// EdDSA); a keystore key signs with the default of its type unless this fits it.
    pub signing_algorithm: JwsAlgorithm,
    /// `[keystore.primary]`: the signing key, when configured.
    pub primary_keystore: Option<KeystoreRef>,
    /// `[keystore.internal]`: the source of the token-encryption key, when configured.
    pub internal_keystore: Option<KeystoreRef>,
    /// `[truststore]`: CA certificates for `tls_client_auth` and trusted JWT issuers.
    pub truststore: Option<KeystoreRef>,
    /// Whether RFC 8705 mutual-TLS client authentication is on.
    pub mutual_tls_enabled: bool,
    /// Trusted issuers of JWT bearer assertions.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Scopes granted to anyone who asks, without a role check (WSO2's
    /// `white_listed_scopes`), each anchored at both ends.
    pub whitelisted_scopes: Vec<Regex>,
    /// The super administrator, who may introspect any token.
    pub super_admin: String,
    /// The role that makes a user an administrator.
    pub admin_role: String,
    /// Clock skew tolerated on assertions.
    pub assertion_leeway: Duration,
    /// This process's name in events: `{hostname}#{random}`, unique per process so that
    /// two nodes behind one host name keep separate revision streams.
    pub node_name: String,
    /// Prefix of the bus subjects.
    pub subject_prefix: SubjectPrefix,
    /// The login and consent pages and login sessions.
    pub login: crate::session::LoginSettings,
    /// Client registration, operations, key validation and throttle data.
    pub services: crate::services::ServiceSettings,
}

impl KmSettings {
    /// Settings from a loaded configuration. Fails when a whitelisted scope is not a
    /// regular expression or a trusted issuer's certificate cannot be read.
    pub fn from_config(config: &Config) -> Result<Self, KmError> {
        let public_base_url =
            base_url(&config.server.hostname, config.advertised_management_port());
        let l = &config.oauth.lifetimes;
        let lifetimes = TokenLifetimes {
            user_access_token: l.user_access_token,
            application_access_token: l.application_access_token,
            refresh_token: l.refresh_token,
            authorization_code: l.authorization_code,
            id_token: l.id_token,
        };
        let whitelisted_scopes = config
            .oauth
            .whitelisted_scopes
            .iter()
            .map(|pattern| {
                Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    KmError::Config(format!(
                        "apim.oauth_config.white_listed_scopes: `{pattern}` is not a regular expression: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_issuers = config
            .jwt
            .issuers
            .iter()
            .map(|issuer| trusted_issuer(issuer, config.keystores.truststore.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let node_id = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            tenant: Tenant::super_tenant(),
            issuer: format!("{public_base_url}{TOKEN_PATH}"),
            public_base_url,
            token_persistence: config.oauth.token_persistence,
            lifetimes,
            signing_algorithm: JwsAlgorithm::Rs256,
            primary_keystore: config.keystores.primary.clone(),
            internal_keystore: config.keystores.internal.clone(),
            truststore: config.keystores.truststore.clone(),
            mutual_tls_enabled: config.mutual_tls_enabled,
            trusted_issuers,
            whitelisted_scopes,
            super_admin: config.super_admin.username.clone(),
            admin_role: config.super_admin.admin_role.clone(),
            assertion_leeway: DEFAULT_ASSERTION_LEEWAY,
            node_name: format!(
                "{}#{}",
                config.server.hostname,
                node_id.get(..12).unwrap_or(&node_id)
            ),
            subject_prefix: SubjectPrefix::new(&config.throttling.subject_prefix),
            login: crate::session::LoginSettings::default(),
            services: crate::services::ServiceSettings::from_config(config),
        })
    }

    /// Moves every advertised endpoint, and the issuer, to another base URL — for a node
    /// listening on a port chosen at start (tests), or behind a proxy.
    pub fn with_public_base_url(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        self.issuer = format!("{base}{TOKEN_PATH}");
        self.public_base_url = base;
        self
    }

    /// The absolute URL of an endpoint path.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.public_base_url)
    }

    /// The token endpoint URL (equal to the issuer unless the issuer was changed).
    pub fn token_endpoint(&self) -> String {
        self.endpoint(TOKEN_PATH)
    }

    /// The audiences an assertion presented to us may name (RFC 7523 §3 point 3): the
    /// issuer and the token endpoint, and the endpoint `path` it was sent to.
    pub fn accepted_audiences(&self, path: &str) -> Vec<String> {
        let mut audiences = vec![self.issuer.clone(), self.token_endpoint()];
        let called = self.endpoint(path);
        if !audiences.contains(&called) {
            audiences.push(called);
        }
        audiences.dedup();
        audiences
    }

    /// Whether `scope` is granted without a role check.
    pub fn is_whitelisted(&self, scope: &str) -> bool {
        self.whitelisted_scopes.iter().any(|r| r.is_match(scope))
    }

    /// The longest any access or ID token may live under the server-wide lifetimes.
    pub fn longest_token_lifetime(&self) -> Duration {
        self.lifetimes
            .user_access_token
            .max(self.lifetimes.application_access_token)
            .max(self.lifetimes.id_token)
    }
}

/// `https://{hostname}:{port}`, with brackets around an IPv6 literal.
pub fn base_url(hostname: &str, port: u16) -> String {
    if hostname.contains(':') && !hostname.starts_with('[') {
        format!("https://[{hostname}]:{port}")
    } else {
        format!("https://{hostname}:{port}")
    }
}

/// Opens a configured keystore (a PEM file's entry takes the configured alias).
pub(crate) fn open_keystore(store: &KeystoreRef) -> Result<Keystore, KmError> {
    let opened = match (store.kind, &store.alias) {
        (KeystoreKind::Pem, Some(alias)) => Keystore::open_pem(&store.file, alias),
        (kind, _) => Keystore::open(&store.file, format_of(kind), &store.password),
    };
    opened.map_err(|e| KmError::Keystore {
        file: store.file.display().to_string(),
        reason: e.to_string(),
    })
}

fn format_of(kind: KeystoreKind) -> KeystoreFormat {
    match kind {
        KeystoreKind::Jks => KeystoreFormat::Jks,
        KeystoreKind::Pkcs12 => KeystoreFormat::Pkcs12,
        KeystoreKind::Pem => KeystoreFormat::Pem,
    }
}

fn trusted_issuer(
    issuer: &JwtIssuer,
    truststore: Option<&KeystoreRef>,
) -> Result<TrustedIssuer, KmError> {
    if let Some(alias) = &issuer.certificate_alias {
        let store = truststore.ok_or_else(|| {
            KmError::Config(format!(
                "apim.jwt.issuer `{}` names certificate alias `{alias}` but there is no [truststore]",
                issuer.issuer
            ))
        })?;
        let certificate =
            open_keystore(store)?
                .certificate(alias)
                .map_err(|e| KmError::Keystore {
                    file: store.file.display().to_string(),
                    reason: e.to_string(),
                })?;
        let key = VerifyingKey::from_certificate(&certificate).map_err(|e| {
            KmError::Config(format!(
                "apim.jwt.issuer `{}`: certificate `{alias}` holds no usable key: {e}",
                issuer.issuer
            ))
        })?;
        return Ok(TrustedIssuer {
            issuer: issuer.issuer.clone(),
            keys: IssuerKeys::Fixed(Arc::new(VerifyingKeySet::new(vec![key]))),
        });
    }
    match &issuer.jwks_url {
        Some(url) => Ok(TrustedIssuer {
            issuer: issuer.issuer.clone(),
            keys: IssuerKeys::JwksUrl(url.clone()),
        }),
        None => Err(KmError::Config(format!(
            "apim.jwt.issuer `{}` has neither a certificate alias nor a JWKS URL",
            issuer.issuer
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_is_wso2s_token_endpoint_on_the_offset_port() {
        let mut config = Config::embedded_default();
        config.server.hostname = "km.example.com".into();
        config.ports = keygate_config::Ports::with_offset(1).unwrap();
        let settings = KmSettings::from_config(&config).unwrap();
        assert_eq!(settings.issuer, "https://km.example.com:9444/oauth2/token");
        assert_eq!(settings.token_endpoint(), settings.issuer);
        assert_eq!(
            settings.endpoint(JWKS_PATH),
            "https://km.example.com:9444/oauth2/jwks"
        );
        assert!(settings.node_name.starts_with("km.example.com#"));
        let moved = settings.with_public_base_url("https://127.0.0.1:40000/");
        assert_eq!(moved.issuer, "https://127.0.0.1:40000/oauth2/token");
        assert_eq!(
            moved.accepted_audiences(INTROSPECT_PATH),
            [
                "https://127.0.0.1:40000/oauth2/token",
                "https://127.0.0.1:40000/oauth2/introspect"
            ]
        );
    }

    #[test]
    fn key_managers_behind_a_load_balancer_share_its_issuer() {
        // Two copies at offsets 2 and 3 behind a load balancer on 9444 (proxyPort).
        for offset in [2, 3] {
            let mut config = Config::embedded_default();
            config.ports = keygate_config::Ports::with_offset(offset).unwrap();
            config.server.proxy_port = Some(9444);
            let settings = KmSettings::from_config(&config).unwrap();
            assert_eq!(settings.issuer, "https://localhost:9444/oauth2/token");
        }
    }

    #[test]
    fn whitelisted_scopes_are_anchored_patterns() {
        let mut config = Config::embedded_default();
        config.oauth.whitelisted_scopes = vec!["device_.*".into(), "openid".into()];
        let settings = KmSettings::from_config(&config).unwrap();
        assert!(settings.is_whitelisted("device_abc"));
        assert!(settings.is_whitelisted("openid"));
        assert!(!settings.is_whitelisted("my_device_abc"));
        assert!(!settings.is_whitelisted("openid2"));
        config.oauth.whitelisted_scopes = vec!["(".into()];
        assert!(matches!(
            KmSettings::from_config(&config),
            Err(KmError::Config(_))
        ));
    }

    #[test]
    fn an_issuer_without_keys_or_truststore_is_a_configuration_error() {
        let mut config = Config::embedded_default();
        config.jwt.issuers = vec![JwtIssuer {
            issuer: "https://idp.example".into(),
            certificate_alias: Some("idp".into()),
            jwks_url: None,
            consumer_key_claim: None,
            scopes_claim: None,
            claim_mappings: Vec::new(),
        }];
        let err = KmSettings::from_config(&config).unwrap_err();
        assert!(err.to_string().contains("no [truststore]"), "{err}");
        config.jwt.issuers[0].certificate_alias = None;
        config.jwt.issuers[0].jwks_url = Some("https://idp.example/jwks".into());
        let settings = KmSettings::from_config(&config).unwrap();
        assert!(matches!(
            &settings.trusted_issuers[0].keys,
            IssuerKeys::JwksUrl(url) if url == "https://idp.example/jwks"
        ));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(base_url("::1", 9443), "https://[::1]:9443");
        assert_eq!(base_url("localhost", 9443), "https://localhost:9443");
    }
}
