//! Who is who: tenants, users with their claims and roles, and OAuth scopes with the roles
//! they are bound to. Users and roles live in `shared_db`, scopes in `apim_db`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The domain of WSO2's super tenant, the one every request runs in until multi-tenancy
/// arrives.
pub const SUPER_TENANT_DOMAIN: &str = "carbon.super";

/// A tenant domain. Every stored row carries one; the default is [`SUPER_TENANT_DOMAIN`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tenant(String);

impl Tenant {
    /// The super tenant, `carbon.super`.
    pub fn super_tenant() -> Self {
        Self(SUPER_TENANT_DOMAIN.to_owned())
    }

    /// A tenant by its domain.
    pub fn new(domain: impl Into<String>) -> Self {
        Self(domain.into())
    }

    /// The tenant domain, e.g. `carbon.super`.
    pub fn domain(&self) -> &str {
        &self.0
    }

    /// Whether this is the super tenant.
    pub fn is_super_tenant(&self) -> bool {
        self.0 == SUPER_TENANT_DOMAIN
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Self::super_tenant()
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Claim URIs of WSO2's local claim dialect (`http://wso2.org/claims`) that keygate reads.
pub mod claims {
    /// The local claim dialect every claim below belongs to.
    pub const DIALECT: &str = "http://wso2.org/claims";
    /// E-mail address.
    pub const EMAIL_ADDRESS: &str = "http://wso2.org/claims/emailaddress";
    /// Given name.
    pub const GIVEN_NAME: &str = "http://wso2.org/claims/givenname";
    /// Last name.
    pub const LAST_NAME: &str = "http://wso2.org/claims/lastname";
    /// Full name.
    pub const FULL_NAME: &str = "http://wso2.org/claims/fullname";
    /// Roles, comma separated, as WSO2 presents them.
    pub const ROLE: &str = "http://wso2.org/claims/role";
    /// `true` while the account is locked; a locked user cannot authenticate.
    pub const ACCOUNT_LOCKED: &str = "http://wso2.org/claims/identity/accountLocked";
    /// `true` while the account is disabled.
    pub const ACCOUNT_DISABLED: &str = "http://wso2.org/claims/identity/accountDisabled";

    /// What a user's claims amount to under `dialect`, as the key manager's user-claims
    /// operation answers them and the backend JWT carries them: the claims whose URI is in
    /// the dialect, and the roles as [`ROLE`] when that URI is in it too.
    pub fn of_dialect(
        claims: &std::collections::BTreeMap<String, String>,
        roles: &[String],
        dialect: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let mut chosen: std::collections::BTreeMap<String, String> = claims
            .iter()
            .filter(|(uri, _)| uri.starts_with(dialect))
            .map(|(uri, value)| (uri.clone(), value.clone()))
            .collect();
        if ROLE.starts_with(dialect) && !roles.is_empty() {
            chosen.insert(ROLE.to_owned(), roles.join(","));
        }
        chosen
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_the_dialects_claims_and_the_roles_within_it() {
            let claims = [
                (EMAIL_ADDRESS, "alice@example.com"),
                ("http://example.com/claims/team", "blue"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let roles = vec!["admin".to_owned(), "Internal/subscriber".to_owned()];
            let local = of_dialect(&claims, &roles, DIALECT);
            assert_eq!(local.len(), 2, "{local:?}");
            assert_eq!(local[EMAIL_ADDRESS], "alice@example.com");
            assert_eq!(local[ROLE], "admin,Internal/subscriber");
            let other = of_dialect(&claims, &roles, "http://example.com/claims");
            assert_eq!(other.len(), 1, "{other:?}");
            assert_eq!(other["http://example.com/claims/team"], "blue");
            assert!(!of_dialect(&claims, &[], DIALECT).contains_key(ROLE));
        }
    }
}

/// Role names WSO2 ships with.
pub mod roles {
    /// The administrators' role.
    pub const ADMIN: &str = "admin";
    /// The role every user has.
    pub const EVERYONE: &str = "Internal/everyone";
    /// Developer Portal users.
    pub const SUBSCRIBER: &str = "Internal/subscriber";
    /// Publisher users who create APIs.
    pub const CREATOR: &str = "Internal/creator";
    /// Publisher users who publish APIs.
    pub const PUBLISHER: &str = "Internal/publisher";
}

/// A user's unique id (WSO2's `UM_USER_ID` of the `*_unique_id` user stores): a UUID string
/// that survives renames.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user of the user store. Its password never leaves the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique id.
    pub id: UserId,
    /// Tenant the user belongs to.
    pub tenant: Tenant,
    /// Login name, unique within the tenant.
    pub username: String,
    /// Claims keyed by claim URI, e.g. [`claims::EMAIL_ADDRESS`].
    pub claims: BTreeMap<String, String>,
    /// Names of the roles the user has, sorted.
    pub roles: Vec<String>,
    /// When the user was created, unix milliseconds.
    pub created_at_ms: i64,
    /// When the user was last changed, unix milliseconds.
    pub updated_at_ms: i64,
}

impl User {
    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The value of a claim, if set.
    pub fn claim(&self, uri: &str) -> Option<&str> {
        self.claims.get(uri).map(String::as_str)
    }

    /// Whether the account is locked or disabled, by its identity claims.
    pub fn is_locked(&self) -> bool {
        [claims::ACCOUNT_LOCKED, claims::ACCOUNT_DISABLED]
            .iter()
            .any(|uri| {
                self.claim(uri)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            })
    }
}

/// A role of the user store (WSO2's internal and user-store roles alike).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Role {
    /// Tenant the role belongs to.
    pub tenant: Tenant,
    /// Role name, unique within the tenant, e.g. `admin` or `Internal/subscriber`.
    pub name: String,
}

/// An OAuth 2.0 scope (RFC 6749 §3.3) as WSO2 defines it: a name, what to show for it, and
/// the roles a user needs to be granted it. No bound roles means anyone may have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Tenant the scope belongs to.
    pub tenant: Tenant,
    /// Scope token, unique within the tenant, e.g. `apim:subscribe`.
    pub name: String,
    /// Name to display in consent screens and portals.
    pub display_name: String,
    /// What the scope allows.
    pub description: Option<String>,
    /// Roles bound to the scope, sorted.
    pub roles: Vec<String>,
}

impl Scope {
    /// Whether a user with `user_roles` may be granted this scope.
    pub fn allows_roles<S: AsRef<str>>(&self, user_roles: &[S]) -> bool {
        self.roles.is_empty()
            || self
                .roles
                .iter()
                .any(|bound| user_roles.iter().any(|r| r.as_ref() == bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(claims: &[(&str, &str)]) -> User {
        User {
            id: UserId::new("7d0c6d5e-0000-4000-8000-000000000001"),
            tenant: Tenant::default(),
            username: "alice".into(),
            claims: claims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            roles: vec![roles::EVERYONE.into()],
            created_at_ms: 1,
            updated_at_ms: 1,
        }
    }

    #[test]
    fn default_tenant_is_carbon_super() {
        assert_eq!(Tenant::default().domain(), "carbon.super");
        assert!(Tenant::default().is_super_tenant());
        assert!(!Tenant::new("wso2.com").is_super_tenant());
        assert_eq!(
            serde_json::to_string(&Tenant::default()).unwrap(),
            "\"carbon.super\""
        );
    }

    #[test]
    fn locked_and_disabled_claims_lock_the_user() {
        assert!(!user(&[]).is_locked());
        assert!(!user(&[(claims::ACCOUNT_LOCKED, "false")]).is_locked());
        assert!(user(&[(claims::ACCOUNT_LOCKED, "true")]).is_locked());
        assert!(user(&[(claims::ACCOUNT_DISABLED, "TRUE")]).is_locked());
        assert!(user(&[]).has_role("Internal/everyone"));
        assert!(!user(&[]).has_role("admin"));
    }

    #[test]
    fn scope_without_roles_is_open_and_bound_scope_needs_a_role() {
        let mut scope = Scope {
            tenant: Tenant::default(),
            name: "apim:subscribe".into(),
            display_name: "Subscribe".into(),
            description: None,
            roles: vec![],
        };
        assert!(scope.allows_roles::<&str>(&[]));
        scope.roles = vec!["admin".into(), "Internal/subscriber".into()];
        assert!(!scope.allows_roles(&["Internal/everyone"]));
        assert!(scope.allows_roles(&["Internal/everyone", "Internal/subscriber"]));
    }
}
