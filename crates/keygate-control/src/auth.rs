//! Who is calling and what they may do. Callers authenticate with an OAuth 2.0 bearer
//! token from keygate's key manager (RFC 6750, checked by [`crate::bearer`]), with HTTP
//! Basic against the user store (RFC 7617), or — for the internal data service only —
//! with the `[apim.key_manager]` credentials gateways are configured with. What a caller
//! may do is a [`Permission`] ([`crate::scopes`]): a token holds it when it carries one of
//! its scopes, a user when one of their roles is bound to such a scope.

use crate::bearer::{BearerVerifier, TokenIdentity};
use crate::errors::{ControlError, ControlResult};
use crate::scopes;
pub use crate::scopes::Permission;
use axum::http::{HeaderMap, header};
use base64::Engine;
use keygate_model::{Secret, User, roles};
use keygate_store::UserStore;

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user of the user store, with their roles (HTTP Basic).
    User(User),
    /// A bearer access token, with its scopes.
    Token(TokenIdentity),
    /// The `[apim.key_manager]` service account gateways use.
    ServiceAccount,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user name (or the service account's).
    pub username: String,
    /// How they authenticated.
    pub credential: Credential,
}

impl Caller {
    /// Whether the caller is an administrator (sees and manages everything): a user in
    /// the admin role, or a token with `apim:admin`.
    pub fn is_admin(&self, admin_role: &str) -> bool {
        match &self.credential {
            Credential::User(user) => user.has_role(admin_role) || user.has_role(roles::ADMIN),
            Credential::Token(token) => token.scopes.iter().any(|s| s == scopes::ADMIN),
            Credential::ServiceAccount => false,
        }
    }

    /// Whether the caller holds `permission`.
    pub fn holds(&self, permission: Permission, admin_role: &str) -> bool {
        match &self.credential {
            Credential::ServiceAccount => permission == Permission::InternalData,
            Credential::Token(token) => {
                permission.granted_by(token.scopes.iter().map(String::as_str))
            }
            Credential::User(user) => {
                user.has_role(admin_role) || permission.held_by_roles(|r| user.has_role(r))
            }
        }
    }

    /// Succeeds when the caller holds `permission`; 403 naming its scope otherwise.
    pub fn require(&self, permission: Permission, admin_role: &str) -> ControlResult<()> {
        if self.holds(permission, admin_role) {
            Ok(())
        } else {
            Err(ControlError::MissingScope(permission.scope()))
        }
    }
}

/// The service account gateways authenticate the internal data service with.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// `[apim.key_manager] username`.
    pub username: String,
    /// `[apim.key_manager] password`.
    pub password: Secret,
}

/// User name and password of a Basic `Authorization` header (RFC 7617 §2).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, Secret)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_owned(), Secret::from(password.to_owned())))
}

/// Constant-time comparison of two byte strings.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of a Bearer `Authorization` header (RFC 6750 §2.1).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Authenticates the caller of a request: a bearer token through `bearer`; Basic
/// credentials as the service account when `service` is given and matches, otherwise as
/// a user of `users`. 401 when no credential is valid.
pub async fn authenticate(
    headers: &HeaderMap,
    users: &dyn UserStore,
    service: Option<&ServiceAccount>,
    bearer: &BearerVerifier,
) -> ControlResult<Caller> {
    if let Some(token) = bearer_token(headers) {
        let identity = bearer.verify(token).await?;
        return Ok(Caller {
            username: identity.subject.clone(),
            credential: Credential::Token(identity),
        });
    }
    let (username, password) = basic_credentials(headers).ok_or(ControlError::Unauthenticated)?;
    if let Some(account) = service
        && account.username == username
        && same_bytes(
            account.password.expose().as_bytes(),
            password.expose().as_bytes(),
        )
    {
        return Ok(Caller {
            username,
            credential: Credential::ServiceAccount,
        });
    }
    match users.authenticate(&username, &password).await? {
        Some(user) => Ok(Caller {
            username: user.username.clone(),
            credential: Credential::User(user),
        }),
        None => Err(ControlError::Unauthenticated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn basic_credentials_are_decoded() {
        // "alice:se:cret" — the password may contain colons.
        let (user, password) = basic_credentials(&headers("Basic YWxpY2U6c2U6Y3JldA==")).unwrap();
        assert_eq!(user, "alice");
        assert_eq!(password.expose(), "se:cret");
        assert!(basic_credentials(&headers("Bearer abc")).is_none());
        assert!(basic_credentials(&headers("Basic !!!")).is_none());
        // ":pw" has no user.
        assert!(basic_credentials(&headers("Basic OnB3")).is_none());
        assert!(basic_credentials(&HeaderMap::new()).is_none());
    }

    #[test]
    fn constant_time_comparison() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
    }

    #[test]
    fn bearer_tokens_are_read() {
        assert_eq!(bearer_token(&headers("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(&headers("bearer  xyz ")), Some("xyz"));
        assert_eq!(bearer_token(&headers("Basic YWxpY2U6eA==")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
    }

    fn user(roles: &[&str]) -> Caller {
        Caller {
            username: "u".into(),
            credential: Credential::User(User {
                id: keygate_model::UserId::new("1"),
                tenant: Default::default(),
                username: "u".into(),
                claims: Default::default(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                created_at_ms: 0,
                updated_at_ms: 0,
            }),
        }
    }

    fn token(scopes: &[&str]) -> Caller {
        Caller {
            username: "u".into(),
            credential: Credential::Token(TokenIdentity {
                subject: "u".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                client_id: None,
            }),
        }
    }

    #[test]
    fn permissions_follow_roles() {
        let subscriber = user(&[roles::SUBSCRIBER]);
        assert!(subscriber.require(Permission::AppManage, "admin").is_ok());
        let err = subscriber
            .require(Permission::ApiCreate, "admin")
            .unwrap_err();
        assert!(matches!(err, ControlError::MissingScope("apim:api_create")));
        let creator = user(&[roles::CREATOR]);
        assert!(creator.require(Permission::ApiCreate, "admin").is_ok());
        assert!(creator.require(Permission::ApiPublish, "admin").is_err());
        assert!(creator.require(Permission::InternalData, "admin").is_err());
        let admin = user(&["admin"]);
        for p in Permission::ALL {
            assert!(admin.require(p, "admin").is_ok(), "{p:?}");
        }
        assert!(admin.is_admin("admin"));
        let service = Caller {
            username: "km".into(),
            credential: Credential::ServiceAccount,
        };
        assert!(service.require(Permission::InternalData, "admin").is_ok());
        assert!(service.require(Permission::AppManage, "admin").is_err());
    }

    #[test]
    fn permissions_of_tokens_follow_their_scopes() {
        let subscriber = token(&["openid", "apim:subscribe"]);
        assert!(subscriber.holds(Permission::AppManage, "admin"));
        assert!(subscriber.holds(Permission::SubManage, "admin"));
        assert!(!subscriber.holds(Permission::TierView, "admin"));
        assert!(!subscriber.is_admin("admin"));
        let admin = token(&["apim:admin"]);
        assert!(admin.is_admin("admin"));
        assert!(admin.holds(Permission::TierManage, "admin"));
        assert!(!admin.holds(Permission::ApiCreate, "admin"));
    }
}
