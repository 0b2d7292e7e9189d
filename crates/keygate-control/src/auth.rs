//! Who is calling and what they may do. Callers authenticate with HTTP Basic against the
//! user store (RFC 7617), or — for the internal data service only — with the
//! `[apim.key_manager]` credentials gateways are configured with. What a caller may do is
//! a [`Permission`]; [`Caller::require`] decides it from the caller's roles today, and is
//! the one place where OAuth scopes (`apim:api_create`, `apim:subscribe`, …) plug in: a
//! token-authenticated caller will carry its granted scopes, and a permission is held when
//! the token has its scope.

use crate::errors::{ControlError, ControlResult};
use axum::http::{HeaderMap, header};
use base64::Engine;
use keygate_model::{Secret, User, roles};
use keygate_store::UserStore;

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read APIs in the Publisher (`apim:api_view`).
    ApiView,
    /// Create, change and delete APIs (`apim:api_create`).
    ApiCreate,
    /// Move APIs through their lifecycle (`apim:api_publish`).
    ApiPublish,
    /// Block and unblock subscriptions to APIs (`apim:subscription_block`).
    SubscriptionBlock,
    /// Manage one's applications and subscriptions (`apim:subscribe`).
    Subscribe,
    /// Read the internal data service (gateways).
    InternalData,
}

impl Permission {
    /// The OAuth scope that grants the permission.
    pub const fn scope(self) -> &'static str {
        match self {
            Self::ApiView => "apim:api_view",
            Self::ApiCreate => "apim:api_create",
            Self::ApiPublish => "apim:api_publish",
            Self::SubscriptionBlock => "apim:subscription_block",
            Self::Subscribe => "apim:subscribe",
            Self::InternalData => "apim:internal_data",
        }
    }

    /// Roles that hold the permission, besides `admin` which holds every one.
    const fn roles(self) -> &'static [&'static str] {
        match self {
            Self::ApiView => &[roles::CREATOR, roles::PUBLISHER],
            Self::ApiCreate => &[roles::CREATOR],
            Self::ApiPublish => &[roles::PUBLISHER],
            Self::SubscriptionBlock => &[roles::PUBLISHER],
            Self::Subscribe => &[roles::SUBSCRIBER],
            Self::InternalData => &[],
        }
    }
}

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user of the user store, with their roles.
    User(User),
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
    /// Whether the caller is an administrator (sees and manages everything).
    pub fn is_admin(&self, admin_role: &str) -> bool {
        match &self.credential {
            Credential::User(user) => user.has_role(admin_role) || user.has_role(roles::ADMIN),
            Credential::ServiceAccount => false,
        }
    }

    /// Succeeds when the caller holds `permission`; 403 otherwise.
    pub fn require(&self, permission: Permission, admin_role: &str) -> ControlResult<()> {
        let held = match &self.credential {
            Credential::ServiceAccount => permission == Permission::InternalData,
            Credential::User(user) => {
                self.is_admin(admin_role) || permission.roles().iter().any(|r| user.has_role(r))
            }
        };
        if held {
            Ok(())
        } else {
            Err(ControlError::Forbidden(format!(
                "the caller lacks {}",
                permission.scope()
            )))
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

/// Authenticates the caller of a request: the service account when `service` is given and
/// matches, otherwise a user of `users`. 401 when no credential is valid.
pub async fn authenticate(
    headers: &HeaderMap,
    users: &dyn UserStore,
    service: Option<&ServiceAccount>,
) -> ControlResult<Caller> {
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
    fn permissions_follow_roles() {
        let user = |roles: &[&str]| Caller {
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
        };
        let subscriber = user(&[roles::SUBSCRIBER]);
        assert!(subscriber.require(Permission::Subscribe, "admin").is_ok());
        assert!(subscriber.require(Permission::ApiCreate, "admin").is_err());
        let creator = user(&[roles::CREATOR]);
        assert!(creator.require(Permission::ApiCreate, "admin").is_ok());
        assert!(creator.require(Permission::ApiPublish, "admin").is_err());
        assert!(creator.require(Permission::InternalData, "admin").is_err());
        let admin = user(&["admin"]);
        for p in [
            Permission::ApiView,
            Permission::ApiCreate,
            Permission::ApiPublish,
            Permission::SubscriptionBlock,
            Permission::Subscribe,
            Permission::InternalData,
        ] {
            assert!(admin.require(p, "admin").is_ok());
        }
        let service = Caller {
            username: "km".into(),
            credential: Credential::ServiceAccount,
        };
        assert!(service.require(Permission::InternalData, "admin").is_ok());
        assert!(service.require(Permission::Subscribe, "admin").is_err());
    }
}
