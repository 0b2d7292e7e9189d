//! The API-M tables: `[apim.key_manager]`, `[apim.event_hub]`, `[apim.throttling]` with its broker and
//! traffic-manager endpoints, `[apim.cache_invalidation]`, `[apim.cache.*]`, `[apim.jwt]`,
//! and OAuth token handling from `[apim.oauth_config]` with lifetimes from
//! `[oauth.token_validity]` (keygate's names) or `[oauth.token_validation]` (WSO2's).

use std::time::Duration;

use keygate_model::Secret;

use crate::assemble::Assembler;
use crate::config::{Ports, SuperAdmin};
use crate::defaults;
use crate::duration::BareUnit;
use crate::file::{
    CacheFile, CacheInvalidationFile, CachesFile, DurationFile, EventHubFile, JwtFile,
    KeyManagerFile, OAuthConfigFile, OAuthFile,
};
pub(crate) use crate::throttling::throttling;
pub use crate::throttling::{
    BrokerEndpoint, BrokerTransport, ThrottlingSettings, TrafficManagerEndpoint,
    TrafficManagerGroup, UrlGroupType,
};

/// `[apim.key_manager]`: how gateways and the control plane reach the key manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyManagerSettings {
    /// Base URL of the key manager's services, ending in `/`; key validation is
    /// `{service_url}key-validation/v1/validate`.
    pub service_url: String,
    /// User for basic authentication (default: the super admin).
    pub username: String,
    /// Its password (default: the super admin's).
    pub password: Option<Secret>,
    /// WSO2's key-manager type (`default`, `WSO2-IS`, ...), kept for display.
    pub key_manager_type: String,
}

impl KeyManagerSettings {
    /// The key manager of this node: `https://{hostname}:{management_https}/services/`.
    pub fn local(hostname: &str, ports: &Ports, admin: &SuperAdmin) -> Self {
        KeyManagerSettings {
            service_url: format!(
                "https://{hostname}:{}{}",
                ports.management_https,
                defaults::KEY_MANAGER_SERVICE_PATH
            ),
            username: admin.username.clone(),
            password: admin.password.clone(),
            key_manager_type: defaults::KEY_MANAGER_TYPE.to_owned(),
        }
    }
}

pub(crate) fn key_manager(
    a: &mut Assembler<'_>,
    file: KeyManagerFile,
    hostname: &str,
    ports: &Ports,
    admin: &SuperAdmin,
) -> KeyManagerSettings {
    let mut settings = KeyManagerSettings::local(hostname, ports, admin);
    if let Some(url) = file
        .service_url
        .and_then(|u| a.http_url("apim.key_manager.service_url", &u))
    {
        settings.service_url = if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        };
    }
    if let Some(username) = file.username {
        settings.username = username;
    }
    if let Some(password) = file.password {
        settings.password = Some(password);
    }
    if let Some(kind) = file.kind {
        settings.key_manager_type = kind;
    }
    settings
}

/// `[apim.event_hub]`: where gateways reach the control plane (WSO2's event hub) for their
/// snapshots. What is not set is the key manager's (`[apim.key_manager]`), read when used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventHubSettings {
    /// Base URL of the control plane's services, ending in `/`; snapshots are read from
    /// `{origin}/internal/data/v1/snapshot`.
    pub service_url: Option<String>,
    /// User for basic authentication.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
}

impl EventHubSettings {
    /// The control plane's service URL, user and password: the ones set here, the key
    /// manager's otherwise.
    pub fn resolve<'a>(
        &'a self,
        key_manager: &'a KeyManagerSettings,
    ) -> (&'a str, &'a str, Option<&'a Secret>) {
        (
            self.service_url
                .as_deref()
                .unwrap_or(&key_manager.service_url),
            self.username.as_deref().unwrap_or(&key_manager.username),
            self.password.as_ref().or(key_manager.password.as_ref()),
        )
    }
}

pub(crate) fn event_hub(a: &mut Assembler<'_>, file: EventHubFile) -> EventHubSettings {
    EventHubSettings {
        service_url: file
            .service_url
            .and_then(|u| a.http_url("apim.event_hub.service_url", &u))
            .map(|url| {
                if url.ends_with('/') {
                    url
                } else {
                    format!("{url}/")
                }
            }),
        username: file.username,
        password: file.password,
    }
}

/// `[apim.cache_invalidation]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInvalidationSettings {
    /// Whether this node sends and takes cache invalidations.
    pub enabled: bool,
    /// Nodes of one domain invalidate each other's caches.
    pub domain: String,
}

impl Default for CacheInvalidationSettings {
    fn default() -> Self {
        CacheInvalidationSettings {
            enabled: false,
            domain: defaults::CACHE_INVALIDATION_DOMAIN.to_owned(),
        }
    }
}

pub(crate) fn cache_invalidation(file: CacheInvalidationFile) -> CacheInvalidationSettings {
    let default = CacheInvalidationSettings::default();
    CacheInvalidationSettings {
        enabled: file.enabled.unwrap_or(default.enabled),
        domain: file.domain.unwrap_or(default.domain),
    }
}

/// One cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSetting {
    /// `enable`.
    pub enabled: bool,
    /// `expiry_time`.
    pub expiry: Duration,
}

/// `[apim.cache.*]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Gateway's validated-token cache (on, 15 min); also its invalid-token cache.
    pub gateway_token: CacheSetting,
    /// Gateway's resource cache (on, 15 min).
    pub resource: CacheSetting,
    /// Key manager's token cache (off).
    pub km_token: CacheSetting,
    /// JWT claim cache (on, 15 min).
    pub jwt_claim: CacheSetting,
}

impl Default for CacheSettings {
    fn default() -> Self {
        let on = CacheSetting {
            enabled: true,
            expiry: defaults::CACHE_EXPIRY,
        };
        CacheSettings {
            gateway_token: on,
            resource: on,
            km_token: CacheSetting {
                enabled: false,
                ..on
            },
            jwt_claim: on,
        }
    }
}

pub(crate) fn caches(a: &mut Assembler<'_>, file: CachesFile) -> CacheSettings {
    let default = CacheSettings::default();
    let mut one = |name: &str, file: Option<CacheFile>, default: CacheSetting| {
        let Some(file) = file else {
            return default;
        };
        CacheSetting {
            enabled: file.enable.unwrap_or(default.enabled),
            expiry: a.duration(
                &format!("apim.cache.{name}.expiry_time"),
                file.expiry_time.as_ref(),
                BareUnit::Seconds,
                default.expiry,
            ),
        }
    };
    CacheSettings {
        gateway_token: one("gateway_token", file.gateway_token, default.gateway_token),
        resource: one("resource", file.resource, default.resource),
        km_token: one("km_token", file.km_token, default.km_token),
        jwt_claim: one("jwt_claim", file.jwt_claim, default.jwt_claim),
    }
}

/// How the backend JWT is encoded in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JwtEncoding {
    /// Standard base64, as WSO2 does by default.
    #[default]
    Base64,
    /// URL-safe base64.
    Base64Url,
}

/// How the backend JWT is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JwtSigningAlgorithm {
    /// `SHA256withRSA`: RS256 with the primary keystore's key.
    #[default]
    Sha256WithRsa,
    /// `NONE`: unsigned.
    None,
}

/// A claim of an external token renamed to a local claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim as the issuer names it.
    pub remote_claim: String,
    /// The claim as keygate names it.
    pub local_claim: String,
}

/// A trusted JWT issuer, `[[apim.jwt.issuer]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssuer {
    /// The `iss` value (WSO2's `name`).
    pub issuer: String,
    /// Truststore alias of its signing certificate.
    pub certificate_alias: Option<String>,
    /// Its JWKS endpoint.
    pub jwks_url: Option<String>,
    /// Claim holding the client id.
    pub consumer_key_claim: Option<String>,
    /// Claim holding the scopes.
    pub scopes_claim: Option<String>,
    /// Claim renames.
    pub claim_mappings: Vec<ClaimMapping>,
}

/// `[apim.jwt]`: the JWT the gateway sends to backends, and the issuers it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// Whether backends get a JWT.
    pub enabled: bool,
    /// The header carrying it.
    pub header: String,
    /// Its encoding.
    pub encoding: JwtEncoding,
    /// Prefix of claim names.
    pub claim_dialect: String,
    /// Its signature.
    pub signing_algorithm: JwtSigningAlgorithm,
    /// Whether the end user's claims are added.
    pub enable_user_claims: bool,
    /// Trusted issuers of incoming JWTs.
    pub issuers: Vec<JwtIssuer>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            enabled: false,
            header: defaults::JWT_HEADER.to_owned(),
            encoding: JwtEncoding::default(),
            claim_dialect: defaults::JWT_CLAIM_DIALECT.to_owned(),
            signing_algorithm: JwtSigningAlgorithm::default(),
            enable_user_claims: false,
            issuers: Vec::new(),
        }
    }
}

pub(crate) fn jwt(a: &mut Assembler<'_>, file: JwtFile) -> JwtSettings {
    let default = JwtSettings::default();
    let encoding = match file
        .encoding
        .as_deref()
        .map(|e| e.trim().to_ascii_lowercase())
    {
        None => default.encoding,
        Some(e) if e == "base64" => JwtEncoding::Base64,
        Some(e) if e == "base64url" => JwtEncoding::Base64Url,
        Some(e) => {
            a.error(
                "apim.jwt.encoding",
                format!("unknown encoding `{e}`, expected `base64` or `base64url`"),
            );
            default.encoding
        }
    };
    let signing_algorithm = match file.signing_algorithm.as_deref().map(str::trim) {
        None => default.signing_algorithm,
        Some(s) if s.eq_ignore_ascii_case("SHA256withRSA") => JwtSigningAlgorithm::Sha256WithRsa,
        Some(s) if s.eq_ignore_ascii_case("NONE") => JwtSigningAlgorithm::None,
        Some(s) => {
            a.error(
                "apim.jwt.signing_algorithm",
                format!("unknown algorithm `{s}`, expected `SHA256withRSA` or `NONE`"),
            );
            default.signing_algorithm
        }
    };
    let mut issuers = Vec::new();
    for (i, issuer) in file.issuer.unwrap_or_default().into_iter().enumerate() {
        let table = format!("apim.jwt.issuer[{i}]");
        let Some(name) = issuer.name.filter(|n| !n.trim().is_empty()) else {
            a.error(
                format!("{table}.name"),
                "`name`, the issuer's `iss`, is required",
            );
            continue;
        };
        let jwks_url = issuer
            .jwks
            .and_then(|j| j.url)
            .and_then(|u| a.http_url(&format!("{table}.jwks.url"), &u));
        let mut claim_mappings = Vec::new();
        for (j, mapping) in issuer
            .claim_mapping
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match (mapping.remote_claim, mapping.local_claim) {
                (Some(remote_claim), Some(local_claim)) => claim_mappings.push(ClaimMapping {
                    remote_claim,
                    local_claim,
                }),
                _ => a.error(
                    format!("{table}.claim_mapping[{j}]"),
                    "a claim mapping needs `remote_claim` and `local_claim`",
                ),
            }
        }
        issuers.push(JwtIssuer {
            issuer: name,
            certificate_alias: issuer.certificate_alias,
            jwks_url,
            consumer_key_claim: issuer.consumer_key_claim,
            scopes_claim: issuer.scopes_claim,
            claim_mappings,
        });
    }
    JwtSettings {
        enabled: file.enable.unwrap_or(default.enabled),
        header: file.header.unwrap_or(default.header),
        encoding,
        claim_dialect: file.claim_dialect.unwrap_or(default.claim_dialect),
        signing_algorithm,
        enable_user_claims: file
            .enable_user_claims
            .unwrap_or(default.enable_user_claims),
        issuers,
    }
}

/// How tokens, codes and client secrets are stored (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenPersistence {
    /// As issued, so opaque tokens can be looked up.
    #[default]
    Plain,
    /// SHA-256 digests (`enable_token_hashing`).
    Hash,
    /// AES-256-GCM with the internal key (`enable_token_encryption`).
    Encrypt,
}

/// Default lifetimes of what the authorization server issues; an OAuth client may
/// override them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Access tokens issued to a user.
    pub user_access_token: Duration,
    /// Access tokens issued to an application (client credentials).
    pub application_access_token: Duration,
    /// Refresh tokens.
    pub refresh_token: Duration,
    /// Authorization codes.
    pub authorization_code: Duration,
    /// OpenID Connect ID tokens.
    pub id_token: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            user_access_token: defaults::USER_ACCESS_TOKEN_LIFETIME,
            application_access_token: defaults::APPLICATION_ACCESS_TOKEN_LIFETIME,
            refresh_token: defaults::REFRESH_TOKEN_LIFETIME,
            authorization_code: defaults::AUTHORIZATION_CODE_LIFETIME,
            id_token: defaults::ID_TOKEN_LIFETIME,
        }
    }
}

/// OAuth token handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// How tokens are stored.
    pub token_persistence: TokenPersistence,
    /// Whether the gateway passes the client's `Authorization` header to the backend.
    pub enable_outbound_auth_header: bool,
    /// The header the gateway reads access tokens from.
    pub auth_header: String,
    /// The gateway's revoke endpoint, when set.
    pub revoke_endpoint: Option<String>,
    /// Scopes (regular expressions) granted without a role check.
    pub whitelisted_scopes: Vec<String>,
    /// Default lifetimes.
    pub lifetimes: TokenLifetimes,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            token_persistence: TokenPersistence::Plain,
            enable_outbound_auth_header: false,
            auth_header: defaults::AUTH_HEADER.to_owned(),
            revoke_endpoint: None,
            whitelisted_scopes: Vec::new(),
            lifetimes: TokenLifetimes::default(),
        }
    }
}

pub(crate) fn oauth(
    a: &mut Assembler<'_>,
    config: OAuthConfigFile,
    oauth: OAuthFile,
) -> OAuthSettings {
    let default = OAuthSettings::default();
    let token_persistence = match (
        config.enable_token_encryption.unwrap_or(false),
        config.enable_token_hashing.unwrap_or(false),
    ) {
        (false, false) => TokenPersistence::Plain,
        (true, false) => TokenPersistence::Encrypt,
        (false, true) => TokenPersistence::Hash,
        (true, true) => {
            a.error(
                "apim.oauth_config.enable_token_hashing",
                "cannot be combined with `enable_token_encryption`: choose one",
            );
            TokenPersistence::Encrypt
        }
    };
    let revoke_endpoint = config
        .revoke_endpoint
        .and_then(|u| a.http_url("apim.oauth_config.revoke_endpoint", &u));
    OAuthSettings {
        token_persistence,
        enable_outbound_auth_header: config
            .enable_outbound_auth_header
            .unwrap_or(default.enable_outbound_auth_header),
        auth_header: config.auth_header.unwrap_or(default.auth_header),
        revoke_endpoint,
        whitelisted_scopes: config.white_listed_scopes.unwrap_or_default(),
        lifetimes: lifetimes(a, oauth),
    }
}

fn lifetimes(a: &mut Assembler<'_>, oauth: OAuthFile) -> TokenLifetimes {
    let ours = oauth.token_validity.unwrap_or_default();
    let wso2 = oauth.token_validation.unwrap_or_default();
    let default = TokenLifetimes::default();
    let mut pick = |ours_key: &str,
                    ours_value: Option<DurationFile>,
                    wso2_key: &str,
                    wso2_value: Option<DurationFile>,
                    default: Duration| {
        let ours_path = format!("oauth.token_validity.{ours_key}");
        let wso2_path = format!("oauth.token_validation.{wso2_key}");
        let a_value = a.optional_duration(&ours_path, ours_value.as_ref(), BareUnit::Seconds);
        let b_value = a.optional_duration(&wso2_path, wso2_value.as_ref(), BareUnit::Seconds);
        let chosen = match (a_value, b_value) {
            (Some(x), Some(y)) if x != y => {
                a.error(
                    ours_path,
                    format!("contradicts `{wso2_path}`; set the lifetime once"),
                );
                x
            }
            (Some(x), _) | (None, Some(x)) => x,
            (None, None) => default,
        };
        if chosen.is_zero() {
            a.error(
                format!("oauth.token_validity.{ours_key}"),
                "a lifetime must be longer than zero",
            );
            return default;
        }
        chosen
    };
    TokenLifetimes {
        user_access_token: pick(
            "user_access_token",
            ours.user_access_token,
            "user_access_token_validity",
            wso2.user_access_token_validity,
            default.user_access_token,
        ),
        application_access_token: pick(
            "application_access_token",
            ours.application_access_token,
            "app_access_token_validity",
            wso2.app_access_token_validity,
            default.application_access_token,
        ),
        refresh_token: pick(
            "refresh_token",
            ours.refresh_token,
            "refresh_token_validity",
            wso2.refresh_token_validity,
            default.refresh_token,
        ),
        authorization_code: pick(
            "authorization_code",
            ours.authorization_code,
            "authorization_code_validity",
            wso2.authorization_code_validity,
            default.authorization_code,
        ),
        id_token: pick(
            "id_token",
            ours.id_token,
            "id_token_validity",
            wso2.id_token_validity,
            default.id_token,
        ),
    }
}
