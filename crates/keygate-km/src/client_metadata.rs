//! Client metadata (RFC 7591 §2) as registration requests carry it, read and checked
//! once for both ways of registering a client: dynamic client registration (RFC
//! 7591/7592, for any registrant) and the control plane's key-manager operations
//! (WSO2 IS-KM's extensions: `ext_param_owner`, `callbackUrl`, `token_type_extension`,
//! `ext_*_token_lifetime` in seconds, `ext_pkce_mandatory`, `ext_pkce_support_plain`,
//! `ext_public_client`, `ext_param_client_id`, `ext_param_client_secret`).
//!
//! [`ClientMetadata::read`] takes what a JSON object says (each field present or not, of
//! the right JSON type); [`ClientMetadata::apply`] lays it over a client record — a fresh
//! one with RFC 7591's defaults, or the stored one for a partial update — and
//! [`check_client`] decides whether the result is a client the key manager can serve:
//!
//! - redirect URIs absolute, without fragment (RFC 6749 §3.1.2); for dynamic
//!   registration `https`, or `http` on a loopback host (RFC 8252 §7.3), while the
//!   control plane may also use WSO2's `regexp=` callbacks; at least one when the
//!   authorization code grant is registered — `invalid_redirect_uri`;
//! - grant types the token endpoint offers, and response types consistent with them
//!   (RFC 7591 §2.1: `code` exactly when `authorization_code` is registered);
//! - a public client (`none`) uses only the authorization code and refresh grants, and
//!   must use PKCE;
//! - `private_key_jwt` with exactly one of `jwks` (holding a usable key) or an `https`
//!   `jwks_uri`; `tls_client_auth` (with `tls_client_auth_subject_dn`) and
//!   `self_signed_tls_client_auth` (with `jwks`) only while mutual TLS is on (RFC 8705);
//! - `client_name` short and printable; `scope` well-formed (RFC 6749 §3.3).
//!
//! Everything else is `invalid_client_metadata` (RFC 7591 §3.2.2). Unknown members are
//! ignored, as RFC 7591 §2 requires.

use keygate_jose::{JwkSet, VerifyingKeySet};
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Secret, TokenEndpointAuthMethod, TokenType,
};
use keygate_oauth::grant::grant_types;
use keygate_oauth::redirect::{REGEXP_PREFIX, RegisteredRedirect};
use keygate_oauth::{OAuthError, ScopeSet};
use serde_json::{Map, Value};

/// Grant types a client may register: those the token endpoint serves.
pub const SUPPORTED_GRANT_TYPES: &[&str] = &[
    grant_types::AUTHORIZATION_CODE,
    grant_types::CLIENT_CREDENTIALS,
    grant_types::PASSWORD,
    grant_types::REFRESH_TOKEN,
    grant_types::JWT_BEARER,
];
/// The response type of the authorization code grant, the only one served.
pub const CODE_RESPONSE_TYPE: &str = "code";
/// Longest `client_name`, in characters.
pub const MAX_CLIENT_NAME_LEN: usize = 255;
/// Most redirect URIs one client registers.
pub const MAX_REDIRECT_URIS: usize = 32;
/// Longest per-client token lifetime accepted, in seconds (about 68 years).
pub const MAX_LIFETIME_SECONDS: i64 = i32::MAX as i64;
/// Longest client id or secret a registrant may bring along.
const MAX_PROVIDED_CREDENTIAL_LEN: usize = 255;

/// How strictly metadata is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataRules {
    /// Redirect URIs must be `https` or loopback `http`, and no `regexp=` callbacks.
    pub strict_redirects: bool,
    /// Whether RFC 8705 client authentication methods may be registered.
    pub mutual_tls: bool,
}

/// Per-client lifetimes as sent: each absent, or seconds (0 for the server default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifetimeOverrides {
    /// `ext_application_token_lifetime`.
    pub application_access_token: Option<i64>,
    /// `ext_user_token_lifetime`.
    pub user_access_token: Option<i64>,
    /// `ext_refresh_token_lifetime`.
    pub refresh_token: Option<i64>,
    /// `ext_id_token_lifetime`.
    pub id_token: Option<i64>,
}

/// What a registration request says, member by member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMetadata {
    /// `client_name`.
    pub client_name: Option<String>,
    /// `redirect_uris` (or WSO2's single `callbackUrl`).
    pub redirect_uris: Option<Vec<String>>,
    /// `grant_types`.
    pub grant_types: Option<Vec<String>>,
    /// `response_types`.
    pub response_types: Option<Vec<String>>,
    /// `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `ext_public_client`.
    pub public_client: Option<bool>,
    /// `jwks`, as JSON text.
    pub jwks: Option<String>,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `tls_client_auth_subject_dn` (RFC 8705 §2.1.2).
    pub tls_client_auth_subject_dn: Option<String>,
    /// `scope`: checked, not kept (scopes are granted by the user's roles).
    pub scope: Option<ScopeSet>,
    /// `token_type_extension`.
    pub token_type: Option<TokenType>,
    /// `ext_*_token_lifetime`.
    pub lifetimes: LifetimeOverrides,
    /// `ext_pkce_mandatory`.
    pub pkce_mandatory: Option<bool>,
    /// `ext_pkce_support_plain`.
    pub pkce_plain_allowed: Option<bool>,
    /// `ext_param_owner`.
    pub owner: Option<String>,
    /// `ext_param_client_id`: a client id the registrant brings (WSO2's provisioning of
    /// existing keys).
    pub client_id: Option<String>,
    /// `ext_param_client_secret`: the secret that comes with it.
    pub client_secret: Option<Secret>,
}

fn metadata_error(text: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::InvalidClientMetadata(Some(keygate_oauth::Description::new(text)))
}

fn redirect_error(text: &'static str) -> OAuthError {
    OAuthError::InvalidRedirectUri(Some(keygate_oauth::Description::new(text)))
}

impl ClientMetadata {
    /// Reads the members of a registration request; a member of the wrong JSON type is
    /// `invalid_client_metadata` naming it. `null` counts as absent.
    pub fn read(body: &Map<String, Value>) -> Result<Self, OAuthError> {
        let redirect_uris = match string_list(body, "redirect_uris")? {
            Some(uris) => Some(uris),
            None => string(body, "callbackUrl")?.map(|url| {
                if url.is_empty() {
                    Vec::new()
                } else {
                    vec![url]
                }
            }),
        };
        let token_endpoint_auth_method = string(body, "token_endpoint_auth_method")?
            .map(|m| {
                m.parse::<TokenEndpointAuthMethod>()
                    .map_err(|_| metadata_error("unsupported token_endpoint_auth_method"))
            })
            .transpose()?;
        let scope = string(body, "scope")?
            .map(|s| ScopeSet::parse(&s).map_err(|_| metadata_error("malformed scope")))
            .transpose()?;
        let token_type = string(body, "token_type_extension")?
            .map(|t| match t.to_ascii_uppercase().as_str() {
                "JWT" => Ok(TokenType::Jwt),
                "OAUTH" | "DEFAULT" => Ok(TokenType::Oauth),
                _ => Err(metadata_error("token_type_extension must be JWT or OAUTH")),
            })
            .transpose()?;
        let jwks = match body.get("jwks") {
            None | Some(Value::Null) => None,
            Some(value @ Value::Object(_)) => Some(value.to_string()),
            Some(_) => return Err(metadata_error("jwks must be a JWK Set object")),
        };
        let client_secret = string(body, "ext_param_client_secret")?.map(Secret::new);
        Ok(Self {
            client_name: string(body, "client_name")?,
            redirect_uris,
            grant_types: string_list(body, "grant_types")?,
            response_types: string_list(body, "response_types")?,
            token_endpoint_auth_method,
            public_client: boolean(body, "ext_public_client")?,
            jwks,
            jwks_uri: string(body, "jwks_uri")?,
            tls_client_auth_subject_dn: string(body, "tls_client_auth_subject_dn")?,
            scope,
            token_type,
            lifetimes: LifetimeOverrides {
                application_access_token: seconds(body, "ext_application_token_lifetime")?,
                user_access_token: seconds(body, "ext_user_token_lifetime")?,
                refresh_token: seconds(body, "ext_refresh_token_lifetime")?,
                id_token: seconds(body, "ext_id_token_lifetime")?,
            },
            pkce_mandatory: boolean(body, "ext_pkce_mandatory")?,
            pkce_plain_allowed: boolean(body, "ext_pkce_support_plain")?,
            owner: string(body, "ext_param_owner")?,
            client_id: string(body, "ext_param_client_id")?,
            client_secret,
        })
    }

    /// Lays the metadata over `client`: what is present replaces, what is absent stays.
    /// Then checks the result with [`check_client`].
    pub fn apply(
        &self,
        mut client: OAuthClient,
        rules: &MetadataRules,
    ) -> Result<OAuthClient, OAuthError> {
        if let Some(name) = &self.client_name {
            client.client_name = name.clone();
        }
        if let Some(uris) = &self.redirect_uris {
            client.redirect_uris = uris.clone();
        }
        if let Some(grants) = &self.grant_types {
            client.grant_types = dedup(grants);
        }
        let public = match (self.public_client, self.token_endpoint_auth_method) {
            (Some(true), Some(method)) if method != TokenEndpointAuthMethod::None => {
                return Err(metadata_error(
                    "ext_public_client contradicts token_endpoint_auth_method",
                ));
            }
            (Some(true), _) => Some(TokenEndpointAuthMethod::None),
            (Some(false), None) if client.is_public() => {
                Some(TokenEndpointAuthMethod::ClientSecretBasic)
            }
            (_, method) => method,
        };
        if let Some(method) = public {
            client.token_endpoint_auth_method = method;
        }
        if self.jwks.is_some() || self.jwks_uri.is_some() {
            client.jwks = self.jwks.clone();
            client.jwks_uri = self.jwks_uri.clone();
        }
        if let Some(dn) = &self.tls_client_auth_subject_dn {
            client.tls_client_auth_subject_dn = Some(dn.clone());
        }
        if let Some(token_type) = self.token_type {
            client.token_type = token_type;
        }
        apply_lifetimes(&mut client.lifetimes, &self.lifetimes)?;
        if let Some(mandatory) = self.pkce_mandatory {
            client.pkce_mandatory = mandatory;
        }
        if let Some(plain) = self.pkce_plain_allowed {
            client.pkce_plain_allowed = plain;
        }
        if client.is_public() {
            // A public client proves nothing: PKCE is its only protection (RFC 9700 §2.1.1).
            client.pkce_mandatory = true;
        }
        if let Some(response_types) = &self.response_types {
            check_response_types(response_types, &client.grant_types)?;
        }
        check_client(&client, rules)?;
        Ok(client)
    }

    /// The client id a registrant brought, checked.
    pub fn provided_client_id(&self) -> Result<Option<&str>, OAuthError> {
        match self.client_id.as_deref() {
            Some(id) if !is_credential(id) => Err(metadata_error("ext_param_client_id is invalid")),
            other => Ok(other),
        }
    }

    /// The client secret a registrant brought, checked.
    pub fn provided_client_secret(&self) -> Result<Option<&Secret>, OAuthError> {
        match &self.client_secret {
            Some(secret) if !is_credential(secret.expose()) => {
                Err(metadata_error("ext_param_client_secret is invalid"))
            }
            other => Ok(other.as_ref()),
        }
    }
}

/// Whether a brought-along client id or secret is printable ASCII of a sensible length.
fn is_credential(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_PROVIDED_CREDENTIAL_LEN
        && value.bytes().all(|b| b.is_ascii_graphic())
}

fn apply_lifetimes(
    lifetimes: &mut ClientTokenLifetimes,
    overrides: &LifetimeOverrides,
) -> Result<(), OAuthError> {
    let pairs = [
        (
            &mut lifetimes.application_access_token_ms,
            overrides.application_access_token,
        ),
        (
            &mut lifetimes.user_access_token_ms,
            overrides.user_access_token,
        ),
        (&mut lifetimes.refresh_token_ms, overrides.refresh_token),
        (&mut lifetimes.id_token_ms, overrides.id_token),
    ];
    for (slot, seconds) in pairs {
        match seconds {
            None => {}
            Some(0) => *slot = None,
            Some(s) if (1..=MAX_LIFETIME_SECONDS).contains(&s) => {
                *slot = Some(s.saturating_mul(1000));
            }
            Some(_) => {
                return Err(metadata_error(
                    "token lifetimes are seconds between 0 and 2147483647",
                ));
            }
        }
    }
    Ok(())
}

/// The response types a client with `grants` uses (RFC 7591 §2.1).
pub fn response_types_for(grants: &[String]) -> Vec<&'static str> {
    if grants.iter().any(|g| g == grant_types::AUTHORIZATION_CODE) {
        vec![CODE_RESPONSE_TYPE]
    } else {
        Vec::new()
    }
}

fn check_response_types(response_types: &[String], grants: &[String]) -> Result<(), OAuthError> {
    if response_types.iter().any(|r| r != CODE_RESPONSE_TYPE) {
        return Err(metadata_error("the only supported response type is code"));
    }
    let wants_code = !response_types.is_empty();
    let has_code_grant = grants.iter().any(|g| g == grant_types::AUTHORIZATION_CODE);
    if wants_code != has_code_grant {
        return Err(metadata_error(
            "response type code goes with the authorization_code grant, and only with it",
        ));
    }
    Ok(())
}

/// Checks a client record as a whole (see the module documentation).
pub fn check_client(client: &OAuthClient, rules: &MetadataRules) -> Result<(), OAuthError> {
    let name = &client.client_name;
    if name.chars().count() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control) {
        return Err(metadata_error("client_name is too long or not printable"));
    }
    if client.grant_types.is_empty() {
        return Err(metadata_error("at least one grant type is required"));
    }
    if let Some(unknown) = client
        .grant_types
        .iter()
        .find(|g| !SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(metadata_error(format!("unsupported grant type: {shown}")));
    }
    check_redirect_uris(client, rules)?;
    check_authentication(client, rules)
}

fn check_redirect_uris(client: &OAuthClient, rules: &MetadataRules) -> Result<(), OAuthError> {
    if client.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect_error("too many redirect URIs"));
    }
    for uri in &client.redirect_uris {
        RegisteredRedirect::parse(uri)?;
        if rules.strict_redirects {
            if uri.starts_with(REGEXP_PREFIX) {
                return Err(redirect_error("redirect URIs are matched exactly"));
            }
            check_transport(uri)?;
        }
    }
    if client.allows_grant(grant_types::AUTHORIZATION_CODE) && client.redirect_uris.is_empty() {
        return Err(redirect_error(
            "the authorization_code grant needs a redirect URI",
        ));
    }
    Ok(())
}

/// `https`, or `http` to a loopback host (RFC 8252 §7.3).
fn check_transport(uri: &str) -> Result<(), OAuthError> {
    let parsed =
        url::Url::parse(uri).map_err(|_| redirect_error("redirect URI is not absolute"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(redirect_error(
            "redirect URIs use https, or http on a loopback address",
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_authentication(client: &OAuthClient, rules: &MetadataRules) -> Result<(), OAuthError> {
    if client.jwks.is_some() && client.jwks_uri.is_some() {
        return Err(metadata_error("jwks and jwks_uri must not both be present"));
    }
    let jwk_set = client
        .jwks
        .as_deref()
        .map(|text| {
            serde_json::from_str::<JwkSet>(text)
                .map_err(|_| metadata_error("jwks is not a JWK Set"))
        })
        .transpose()?;
    if let Some(uri) = &client.jwks_uri {
        let https = url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https");
        if !https {
            return Err(metadata_error("jwks_uri must be an https URL"));
        }
    }
    match client.token_endpoint_auth_method {
        TokenEndpointAuthMethod::None => {
            let allowed = [grant_types::AUTHORIZATION_CODE, grant_types::REFRESH_TOKEN];
            if client
                .grant_types
                .iter()
                .any(|g| !allowed.contains(&g.as_str()))
            {
                return Err(metadata_error(
                    "public clients may use only the authorization_code and refresh_token grants",
                ));
            }
        }
        TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost => {}
        TokenEndpointAuthMethod::PrivateKeyJwt => match (&jwk_set, &client.jwks_uri) {
            (Some(set), None) => {
                if VerifyingKeySet::from_jwk_set(set).0.is_empty() {
                    return Err(metadata_error("jwks holds no usable signature key"));
                }
            }
            (None, Some(_)) => {}
            _ => {
                return Err(metadata_error("private_key_jwt needs jwks or jwks_uri"));
            }
        },
        TokenEndpointAuthMethod::TlsClientAuth => {
            mutual_tls_on(rules)?;
            let dn = client
                .tls_client_auth_subject_dn
                .as_deref()
                .unwrap_or_default();
            if dn.trim().is_empty() {
                return Err(metadata_error(
                    "tls_client_auth needs tls_client_auth_subject_dn",
                ));
            }
        }
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
            mutual_tls_on(rules)?;
            if jwk_set.is_none_or(|set| set.keys.is_empty()) {
                return Err(metadata_error(
                    "self_signed_tls_client_auth needs the certificate keys in jwks",
                ));
            }
        }
    }
    Ok(())
}

fn mutual_tls_on(rules: &MetadataRules) -> Result<(), OAuthError> {
    if rules.mutual_tls {
        Ok(())
    } else {
        Err(metadata_error(
            "mutual TLS client authentication is not enabled",
        ))
    }
}

fn dedup(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

fn string(body: &Map<String, Value>, name: &'static str) -> Result<Option<String>, OAuthError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(format!("{name} must be a string"))),
    }
}

fn string_list(
    body: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Vec<String>>, OAuthError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(metadata_error(format!(
                    "{name} must be an array of strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!(
            "{name} must be an array of strings"
        ))),
    }
}

fn boolean(body: &Map<String, Value>, name: &'static str) -> Result<Option<bool>, OAuthError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(metadata_error(format!("{name} must be a boolean"))),
    }
}

/// A number of seconds, as a JSON integer or a string of digits (WSO2 sends either).
fn seconds(body: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OAuthError> {
    let bad = || metadata_error(format!("{name} must be a whole number of seconds"));
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
