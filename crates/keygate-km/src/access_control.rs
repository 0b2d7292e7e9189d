//! Resource access control (`[resource_access_control]`, `[[resource.access_control]]`):
//! the one middleware in front of every non-public resource of the key manager — client
//! registration, key-manager operations, key validation and throttle data. The public
//! OAuth endpoints (token, authorize, revoke, introspect, userinfo, JWKS, discovery) are
//! not behind it: they authenticate their callers themselves, as RFC 6749 says.
//!
//! A request is decided by the first rule whose `context` (a regular expression over the
//! whole path) matches and whose `http_method` covers its method — the configured rules in
//! file order, then keygate's [`BUILTIN_RULES`], which secure the services so that a
//! fresh install works without WSO2's step of opening every unmatched resource. When no
//! rule matches, `default_access_allow` decides (the seed's step 5.3 sets it `true`):
//! allowed requests go on to the resource, which still authenticates its caller; refused
//! ones are `403 access_denied`.
//!
//! A matched rule with `secure = false` lets the request through as it is. A secured
//! rule wants a caller: HTTP Basic as a user of the user store (RFC 7617; not locked), or
//! a bearer access token of this key manager that is active (RFC 6750). Without one the
//! answer is `401` with a challenge. The caller must then hold every permission the rule
//! lists — keygate keeps no permission tree: the administrator role holds every
//! permission, as WSO2's `admin` holds `/permission`, and other users hold none — and
//! every scope: a token must carry them, a user's roles must be granted them by the scope
//! bindings (the administrator holds every scope). Otherwise `403`. The caller, once
//! established, travels to the resource as a [`Principal`] request extension.
//!
//! Verified passwords are remembered for [`CREDENTIAL_CACHE_TTL`] under a keyed hash
//! (never the password), so that a gateway validating tokens does not pay an Argon2
//! verification per call; a changed password or a locked account takes effect within
//! that time.

use crate::errors::Failure;
use crate::http::authorization;
use crate::manager::{Inner, KeyManager};
use aws_lc_rs::hmac;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keygate_config::{ResourceAccessRule, ResourceAccessSettings};
use keygate_model::{Secret, User};
use keygate_oauth::{OAuthError, ScopeSet};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long a verified password is remembered.
pub const CREDENTIAL_CACHE_TTL: Duration = Duration::from_secs(30);
/// Most verified credentials remembered.
const CREDENTIAL_CACHE_CAPACITY: u64 = 10_000;
/// Longest `Authorization` header read.
const MAX_AUTHORIZATION_LEN: usize = 4096;

/// A rule keygate adds after the configured ones: a path prefix and whether it wants an
/// authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRule {
    /// Paths starting with this.
    pub prefix: &'static str,
    /// Whether a caller must authenticate here.
    pub secure: bool,
}

/// keygate's own rules, after the configured ones: the services for other roles want an
/// authenticated caller; client registration authenticates registrants itself (an
/// administrator, an initial access token, a registration access token).
pub const BUILTIN_RULES: &[BuiltinRule] = &[
    BuiltinRule {
        prefix: "/keymanager-operations/",
        secure: true,
    },
    BuiltinRule {
        prefix: "/services/",
        secure: true,
    },
    BuiltinRule {
        prefix: "/throttle/data/",
        secure: true,
    },
    BuiltinRule {
        prefix: "/client-registration/",
        secure: false,
    },
];

/// What the rules say about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Let it through as it is.
    Open,
    /// A caller must authenticate and hold these.
    Secured {
        /// Permissions the caller must hold.
        permissions: &'a [String],
        /// Scopes the caller must hold.
        scopes: &'a [String],
    },
    /// Refused: no rule matched and the default is to deny.
    Denied,
}

/// The rules in force.
#[derive(Debug, Clone)]
pub struct AccessControl {
    default_allow: bool,
    rules: Vec<ResourceAccessRule>,
}

impl AccessControl {
    /// The configured rules, then [`BUILTIN_RULES`].
    pub fn new(settings: &ResourceAccessSettings) -> Self {
        Self {
            default_allow: settings.default_access_allow,
            rules: settings.rules.clone(),
        }
    }

    /// The decision for a request to `path` with `method`.
    pub fn decide(&self, path: &str, method: &str) -> Access<'_> {
        if let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.matches_context(path) && r.http_methods.covers(method))
        {
            return if rule.secure {
                Access::Secured {
                    permissions: &rule.permissions,
                    scopes: &rule.scopes,
                }
            } else {
                Access::Open
            };
        }
        match BUILTIN_RULES.iter().find(|r| path.starts_with(r.prefix)) {
            Some(rule) if rule.secure => Access::Secured {
                permissions: &[],
                scopes: &[],
            },
            Some(_) => Access::Open,
            None if self.default_allow => Access::Open,
            None => Access::Denied,
        }
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (HTTP Basic).
    Password,
    /// An access token of this key manager.
    AccessToken {
        /// The client it was issued to.
        client_id: String,
        /// Its scopes.
        scopes: Vec<String>,
    },
}

/// An authenticated caller of a non-public resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user (for a token, its subject).
    pub username: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// How it authenticated.
    pub credential: Credential,
}

impl Principal {
    fn of_user(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            roles: user.roles.clone(),
            credential: Credential::Password,
        }
    }

    /// Whether the principal has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Passwords verified lately, by a keyed hash of user name and password.
pub(crate) struct CredentialCache {
    key: Option<hmac::Key>,
    users: Cache<Vec<u8>, Arc<User>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("entries", &self.users.entry_count())
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// An empty cache with a fresh key (no cache at all if the system has no randomness).
    pub(crate) fn new() -> Self {
        let key =
            hmac::Key::generate(hmac::HMAC_SHA256, &aws_lc_rs::rand::SystemRandom::new()).ok();
        Self {
            key,
            users: Cache::builder()
                .max_capacity(CREDENTIAL_CACHE_CAPACITY)
                .time_to_live(CREDENTIAL_CACHE_TTL)
                .build(),
        }
    }

    fn slot(&self, username: &str, password: &Secret) -> Option<Vec<u8>> {
        let key = self.key.as_ref()?;
        let mut context = hmac::Context::with_key(key);
        context.update(username.as_bytes());
        context.update(&[0]);
        context.update(password.expose().as_bytes());
        Some(context.sign().as_ref().to_vec())
    }
}

/// The middleware: decides by the rules, authenticates and authorizes the caller of a
/// secured resource, and hands it on as a [`Principal`]. Mount it with
/// `axum::middleware::from_fn_with_state(key_manager, guard)` over routes of the key
/// manager's listener that are not public.
pub async fn guard(State(km): State<KeyManager>, mut request: Request, next: Next) -> Response {
    let inner = &km.inner;
    let access = inner
        .services
        .access
        .decide(request.uri().path(), request.method().as_str());
    match access {
        Access::Open => next.run(request).await,
        Access::Denied => {
            tracing::info!(path = %request.uri().path(), "no access rule allows the resource");
            Failure::Forbidden(OAuthError::access_denied(
                "access to the resource is denied",
            ))
            .into_response()
        }
        Access::Secured {
            permissions,
            scopes,
        } => {
            let principal = match inner.authenticate_principal(request.headers()).await {
                Ok(principal) => principal,
                Err(failure) => return failure.into_response(),
            };
            if let Err(failure) = inner.authorize(&principal, permissions, scopes).await {
                tracing::info!(
                    username = %principal.username,
                    path = %request.uri().path(),
                    "caller lacks what the access rule asks"
                );
                return failure.into_response();
            }
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
    }
}

/// `user:password` of an `Authorization: Basic` header (RFC 7617 §2), undecoded beyond
/// base64; `None` when the header is not Basic.
pub fn basic_credentials(header: &str) -> Option<Result<(String, Secret), OAuthError>> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let malformed = || OAuthError::invalid_client_basic("malformed Basic credentials");
    let decoded = STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    Some(match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), Secret::new(password))),
        _ => Err(malformed()),
    })
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1); `None` when the
/// header is not Bearer.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, value) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(value.trim())
}

impl Inner {
    /// The caller a request's `Authorization` header establishes: a user by Basic, or an
    /// active access token by Bearer.
    pub(crate) async fn authenticate_principal(
        &self,
        headers: &HeaderMap,
    ) -> Result<Principal, Failure> {
        let header = authorization(headers)?
            .filter(|h| h.len() <= MAX_AUTHORIZATION_LEN)
            .ok_or_else(|| OAuthError::invalid_client_basic("authentication required"))?;
        if let Some(token) = bearer(&header) {
            return self.authenticate_bearer(token).await;
        }
        match basic_credentials(&header) {
            Some(Ok((username, password))) => self
                .authenticate_password(&username, &password)
                .await
                .map(|user| Principal::of_user(&user)),
            Some(Err(e)) => Err(e.into()),
            None => Err(OAuthError::invalid_client_basic("authentication required").into()),
        }
    }

    /// A user of the user store by password; locked users are refused. Remembered for
    /// [`CREDENTIAL_CACHE_TTL`].
    pub(crate) async fn authenticate_password(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Arc<User>, Failure> {
        let cache = &self.services.credentials;
        let slot = cache.slot(username, password);
        if let Some(user) = slot.as_ref().and_then(|s| cache.users.get(s)) {
            return Ok(user);
        }
        let user = self
            .stores
            .users()
            .authenticate(username, password)
            .await?
            .filter(|user| !user.is_locked());
        let Some(user) = user else {
            tracing::info!(%username, "service caller authentication failed");
            return Err(OAuthError::invalid_client_basic("authentication failed").into());
        };
        let user = Arc::new(user);
        if let Some(slot) = slot {
            cache.users.insert(slot, user.clone());
        }
        Ok(user)
    }

    /// The caller an active access token of this key manager stands for.
    async fn authenticate_bearer(&self, token: &str) -> Result<Principal, Failure> {
        let record = self
            .access_token_by_value(token)
            .await?
            .map(|found| found.record)
            .filter(|record| record.is_active_at(self.clock.now_ms()))
            .ok_or(OAuthError::InvalidToken(None))?;
        let roles = self
            .stores
            .users()
            .user(&record.subject)
            .await?
            .map(|user| user.roles)
            .unwrap_or_default();
        Ok(Principal {
            username: record.subject,
            roles,
            credential: Credential::AccessToken {
                client_id: record.client_id,
                scopes: record.scopes,
            },
        })
    }

    /// Whether `principal` holds every permission and scope a rule lists.
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        permissions: &[String],
        scopes: &[String],
    ) -> Result<(), Failure> {
        let admin = principal.has_role(&self.settings.admin_role);
        if !permissions.is_empty() && !admin {
            return Err(Failure::Forbidden(OAuthError::access_denied(
                "the caller lacks a required permission",
            )));
        }
        if scopes.is_empty() {
            return Ok(());
        }
        let held = match &principal.credential {
            Credential::AccessToken { scopes: held, .. } => scopes.iter().all(|s| held.contains(s)),
            Credential::Password if admin => true,
            Credential::Password => {
                let required = ScopeSet::from_tokens(scopes.iter())
                    .map_err(|_| Failure::Forbidden(OAuthError::access_denied("bad scope")))?;
                let granted = self.grant_scopes(Some(&required), &principal.roles).await?;
                required.iter().all(|s| granted.contains(s))
            }
        };
        if held {
            Ok(())
        } else if matches!(principal.credential, Credential::AccessToken { .. }) {
            Err(OAuthError::InsufficientScope(None).into())
        } else {
            Err(Failure::Forbidden(OAuthError::access_denied(
                "the caller lacks a required scope",
            )))
        }
    }

    /// The caller of a service for the other roles (operations, key validation, throttle
    /// data): the `[apim.key_manager]` user, or an administrator, by HTTP Basic — the
    /// principal the middleware established, or one authenticated here when the rules
    /// left the resource open.
    pub(crate) async fn service_caller(
        &self,
        principal: Option<&Principal>,
        headers: &HeaderMap,
    ) -> Result<Principal, Failure> {
        let principal = match principal {
            Some(principal) => principal.clone(),
            None => {
                let header = authorization(headers)?
                    .ok_or_else(|| OAuthError::invalid_client_basic("authentication required"))?;
                let (username, password) = basic_credentials(&header).unwrap_or_else(|| {
                    Err(OAuthError::invalid_client_basic(
                        "Basic authentication required",
                    ))
                })?;
                Principal::of_user(&*self.authenticate_password(&username, &password).await?)
            }
        };
        if principal.credential != Credential::Password {
            return Err(OAuthError::invalid_client_basic("Basic authentication required").into());
        }
        if principal.username == self.settings.services.service_user
            || principal.has_role(&self.settings.admin_role)
        {
            Ok(principal)
        } else {
            tracing::info!(username = %principal.username, "service caller not authorized");
            Err(Failure::Forbidden(OAuthError::access_denied(
                "the caller may not use the key manager services",
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn control(text: &str) -> AccessControl {
        let loaded = keygate_config::load_str(text, Path::new("deployment.toml")).unwrap();
        AccessControl::new(&loaded.config.resource_access)
    }

    const RULES: &str = r#"
[resource_access_control]
default_access_allow = false

[[resource.access_control]]
context = "(.*)/throttle/data/v1/block"
secure = true
http_method = "GET"
permissions = ["/permission/admin/manage/throttling"]

[[resource.access_control]]
context = "/keymanager-operations/user-info/(.*)"
secure = false
http_method = "all"

[[resource.access_control]]
context = "/custom/(.*)"
secure = true
scopes = ["custom_scope"]
"#;

    #[test]
    fn configured_rules_come_first_then_builtin_then_the_default() {
        let c = control(RULES);
        let no_perms: &[String] = &[];
        assert_eq!(
            c.decide("/throttle/data/v1/block", "GET"),
            Access::Secured {
                permissions: &["/permission/admin/manage/throttling".to_owned()],
                scopes: no_perms,
            }
        );
        // Another method is not the rule's: the built-in rule secures it.
        assert_eq!(
            c.decide("/throttle/data/v1/block", "POST"),
            Access::Secured {
                permissions: no_perms,
                scopes: no_perms
            }
        );
        assert_eq!(
            c.decide("/keymanager-operations/user-info/claims", "POST"),
            Access::Open
        );
        assert_eq!(
            c.decide("/keymanager-operations/dcr/register", "POST"),
            Access::Secured {
                permissions: no_perms,
                scopes: no_perms
            }
        );
        assert_eq!(
            c.decide("/client-registration/v1/register", "POST"),
            Access::Open
        );
        assert_eq!(
            c.decide("/custom/x", "DELETE"),
            Access::Secured {
                permissions: no_perms,
                scopes: &["custom_scope".to_owned()],
            }
        );
        assert_eq!(c.decide("/elsewhere", "GET"), Access::Denied);
    }

    #[test]
    fn default_access_allow_opens_what_no_rule_matches() {
        let open = control("[resource_access_control]\ndefault_access_allow = true\n");
        assert_eq!(open.decide("/elsewhere", "GET"), Access::Open);
        // The services stay secured by the built-in rules.
        assert!(matches!(
            open.decide("/services/key-validation/v1/validate", "POST"),
            Access::Secured { .. }
        ));
        let closed = control("");
        assert_eq!(closed.decide("/elsewhere", "GET"), Access::Denied);
    }

    #[test]
    fn basic_credentials_are_rfc_7617() {
        let header = format!("Basic {}", STANDARD.encode("admin:pa:ss%20"));
        let (user, password) = basic_credentials(&header).unwrap().unwrap();
        assert_eq!(user, "admin");
        assert_eq!(password.expose(), "pa:ss%20");
        assert!(basic_credentials("Bearer abc").is_none());
        for bad in ["Basic !!!", "Basic Og==", "Basic YWRtaW4="] {
            assert!(basic_credentials(bad).unwrap().is_err(), "{bad}");
        }
        assert_eq!(bearer("Bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }

    #[test]
    fn cache_slots_are_keyed_and_distinct() {
        let cache = CredentialCache::new();
        let a = cache.slot("admin", &Secret::new("x")).unwrap();
        assert_eq!(a, cache.slot("admin", &Secret::new("x")).unwrap());
        assert_ne!(a, cache.slot("admin", &Secret::new("y")).unwrap());
        assert_ne!(a, cache.slot("admin\0x", &Secret::new("")).unwrap());
        assert_ne!(
            a,
            CredentialCache::new()
                .slot("admin", &Secret::new("x"))
                .unwrap()
        );
    }
}
