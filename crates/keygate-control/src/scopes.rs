//! The OAuth scopes of the management APIs, with WSO2 API Manager 3.1's names and role
//! bindings (`tenant-conf.json`, `RESTAPIScopes`), and the [`Permission`] each endpoint
//! needs. One table serves both ways of calling: a bearer token holds a permission when it
//! carries one of the permission's scopes; a Basic-authenticated user when one of their
//! roles is bound to such a scope. [`ScopeSeed`] is the same table as the key manager's
//! scope records, so tokens it issues carry these scopes for users in these roles.

use keygate_model::{Scope, Tenant, roles};

/// `apim:api_view`: read APIs in the Publisher.
pub const API_VIEW: &str = "apim:api_view";
/// `apim:api_create`: create, change and delete APIs.
pub const API_CREATE: &str = "apim:api_create";
/// `apim:api_publish`: move APIs through their lifecycle.
pub const API_PUBLISH: &str = "apim:api_publish";
/// `apim:subscription_view`: list an API's subscriptions.
pub const SUBSCRIPTION_VIEW: &str = "apim:subscription_view";
/// `apim:subscription_block`: block and unblock subscriptions.
pub const SUBSCRIPTION_BLOCK: &str = "apim:subscription_block";
/// `apim:subscribe`: everything a Developer Portal user does.
pub const SUBSCRIBE: &str = "apim:subscribe";
/// `apim:app_manage`: manage one's applications and their keys.
pub const APP_MANAGE: &str = "apim:app_manage";
/// `apim:sub_manage`: manage one's subscriptions.
pub const SUB_MANAGE: &str = "apim:sub_manage";
/// `apim:tier_view`: read throttling policies.
pub const TIER_VIEW: &str = "apim:tier_view";
/// `apim:tier_manage`: create, change and delete throttling policies and custom rules.
pub const TIER_MANAGE: &str = "apim:tier_manage";
/// `apim:bl_view`: read deny (blocking) conditions.
pub const BL_VIEW: &str = "apim:bl_view";
/// `apim:bl_manage`: create, enable, disable and delete deny conditions.
pub const BL_MANAGE: &str = "apim:bl_manage";
/// `apim:admin`: every administrative operation, and sight of every subscriber's data.
pub const ADMIN: &str = "apim:admin";
/// Reading the internal data service (gateways' service account); bound to no role.
pub const INTERNAL_DATA: &str = "apim:internal_data";

/// The scopes of a space-separated `scope` value (RFC 6749 §3.3).
pub fn split_scopes(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One scope with the roles it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeSeed {
    /// The scope.
    pub name: &'static str,
    /// What it allows.
    pub description: &'static str,
    /// Roles a user needs (any one) for the scope; `admin` is always among them.
    pub roles: &'static [&'static str],
}

const PUBLISHERS: &[&str] = &[roles::ADMIN, roles::CREATOR, roles::PUBLISHER];
const SUBSCRIBERS: &[&str] = &[roles::ADMIN, roles::SUBSCRIBER];
const ADMINS: &[&str] = &[roles::ADMIN];

/// Every management scope with its role bindings.
pub const SCOPES: &[ScopeSeed] = &[
    ScopeSeed {
        name: API_VIEW,
        description: "View APIs",
        roles: PUBLISHERS,
    },
    ScopeSeed {
        name: API_CREATE,
        description: "Create, update and delete APIs",
        roles: &[roles::ADMIN, roles::CREATOR],
    },
    ScopeSeed {
        name: API_PUBLISH,
        description: "Change the lifecycle of APIs",
        roles: &[roles::ADMIN, roles::PUBLISHER],
    },
    ScopeSeed {
        name: SUBSCRIPTION_VIEW,
        description: "View the subscriptions of APIs",
        roles: PUBLISHERS,
    },
    ScopeSeed {
        name: SUBSCRIPTION_BLOCK,
        description: "Block and unblock subscriptions",
        roles: &[roles::ADMIN, roles::PUBLISHER],
    },
    ScopeSeed {
        name: SUBSCRIBE,
        description: "Subscribe to APIs",
        roles: SUBSCRIBERS,
    },
    ScopeSeed {
        name: APP_MANAGE,
        description: "Manage applications and their keys",
        roles: SUBSCRIBERS,
    },
    ScopeSeed {
        name: SUB_MANAGE,
        description: "Manage subscriptions",
        roles: SUBSCRIBERS,
    },
    ScopeSeed {
        name: TIER_VIEW,
        description: "View throttling policies",
        roles: &[roles::ADMIN, roles::CREATOR, roles::PUBLISHER],
    },
    ScopeSeed {
        name: TIER_MANAGE,
        description: "Manage throttling policies and custom rules",
        roles: ADMINS,
    },
    ScopeSeed {
        name: BL_VIEW,
        description: "View deny conditions",
        roles: ADMINS,
    },
    ScopeSeed {
        name: BL_MANAGE,
        description: "Manage deny conditions",
        roles: ADMINS,
    },
    ScopeSeed {
        name: ADMIN,
        description: "Administer the platform",
        roles: ADMINS,
    },
];

impl ScopeSeed {
    /// The key manager's record of the scope in `tenant`.
    pub fn to_scope(&self, tenant: &Tenant) -> Scope {
        Scope {
            tenant: tenant.clone(),
            name: self.name.to_owned(),
            display_name: self.name.to_owned(),
            description: Some(self.description.to_owned()),
            roles: self.roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read APIs in the Publisher.
    ApiView,
    /// Create, change and delete APIs.
    ApiCreate,
    /// Move APIs through their lifecycle.
    ApiPublish,
    /// List an API's subscriptions.
    SubscriptionView,
    /// Block and unblock subscriptions to APIs.
    SubscriptionBlock,
    /// Manage one's applications and their keys.
    AppManage,
    /// Manage one's subscriptions.
    SubManage,
    /// Read throttling policies.
    TierView,
    /// Manage throttling policies and custom rules.
    TierManage,
    /// Read deny conditions.
    BlockView,
    /// Manage deny conditions.
    BlockManage,
    /// Read the internal data service (gateways).
    InternalData,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 12] = [
        Self::ApiView,
        Self::ApiCreate,
        Self::ApiPublish,
        Self::SubscriptionView,
        Self::SubscriptionBlock,
        Self::AppManage,
        Self::SubManage,
        Self::TierView,
        Self::TierManage,
        Self::BlockView,
        Self::BlockManage,
        Self::InternalData,
    ];

    /// The scope a 403 names: the one WSO2 documents for the operation.
    pub const fn scope(self) -> &'static str {
        self.granting_scopes()[0]
    }

    /// Scopes any one of which grants the permission, the documented one first. As in
    /// WSO2, `apim:subscribe` covers the whole Developer Portal, a manage scope covers its
    /// view, and `apim:admin` covers the Admin API.
    pub const fn granting_scopes(self) -> &'static [&'static str] {
        match self {
            Self::ApiView => &[API_VIEW, API_CREATE, API_PUBLISH],
            Self::ApiCreate => &[API_CREATE],
            Self::ApiPublish => &[API_PUBLISH],
            Self::SubscriptionView => &[SUBSCRIPTION_VIEW, SUBSCRIPTION_BLOCK],
            Self::SubscriptionBlock => &[SUBSCRIPTION_BLOCK],
            Self::AppManage => &[APP_MANAGE, SUBSCRIBE],
            Self::SubManage => &[SUB_MANAGE, SUBSCRIBE],
            Self::TierView => &[TIER_VIEW, TIER_MANAGE, ADMIN],
            Self::TierManage => &[TIER_MANAGE, ADMIN],
            Self::BlockView => &[BL_VIEW, BL_MANAGE, ADMIN],
            Self::BlockManage => &[BL_MANAGE, ADMIN],
            Self::InternalData => &[INTERNAL_DATA],
        }
    }

    /// Whether a token carrying `scopes` holds the permission.
    pub fn granted_by<'a>(self, mut scopes: impl Iterator<Item = &'a str>) -> bool {
        let granting = self.granting_scopes();
        scopes.any(|s| granting.contains(&s))
    }

    /// Whether a user with `user_roles` holds the permission: one of the roles is bound
    /// to a granting scope.
    pub fn held_by_roles(self, has_role: impl Fn(&str) -> bool) -> bool {
        self.granting_scopes().iter().any(|scope| {
            SCOPES
                .iter()
                .filter(|seed| seed.name == *scope)
                .any(|seed| seed.roles.iter().any(|r| has_role(r)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_granting_scope_but_the_internal_one_is_seeded() {
        for permission in Permission::ALL {
            for scope in permission.granting_scopes() {
                assert!(
                    *scope == INTERNAL_DATA || SCOPES.iter().any(|s| s.name == *scope),
                    "{scope} of {permission:?} is not seeded"
                );
            }
        }
        for seed in SCOPES {
            assert!(seed.roles.contains(&roles::ADMIN), "{}", seed.name);
        }
    }

    #[test]
    fn tokens_hold_permissions_by_scope() {
        assert!(Permission::AppManage.granted_by(["openid", SUBSCRIBE].into_iter()));
        assert!(Permission::SubManage.granted_by([SUB_MANAGE].into_iter()));
        assert!(!Permission::AppManage.granted_by([SUB_MANAGE].into_iter()));
        assert!(Permission::TierView.granted_by([TIER_MANAGE].into_iter()));
        assert!(!Permission::TierManage.granted_by([TIER_VIEW].into_iter()));
        assert!(!Permission::ApiCreate.granted_by([API_VIEW].into_iter()));
        assert_eq!(Permission::TierManage.scope(), TIER_MANAGE);
    }

    #[test]
    fn users_hold_permissions_by_role_binding() {
        let creator = |r: &str| r == roles::CREATOR;
        assert!(Permission::ApiCreate.held_by_roles(creator));
        assert!(Permission::ApiView.held_by_roles(creator));
        assert!(Permission::TierView.held_by_roles(creator));
        assert!(!Permission::ApiPublish.held_by_roles(creator));
        assert!(!Permission::TierManage.held_by_roles(creator));
        let subscriber = |r: &str| r == roles::SUBSCRIBER;
        assert!(Permission::AppManage.held_by_roles(subscriber));
        assert!(!Permission::BlockView.held_by_roles(subscriber));
        let admin = |r: &str| r == roles::ADMIN;
        for p in Permission::ALL {
            assert_eq!(
                p.held_by_roles(admin),
                p != Permission::InternalData,
                "{p:?}"
            );
        }
    }
}
