//! The authorization phase: may this principal call this resource. All of it reads the
//! replica; none of it leaves the process. In WSO2's order:
//!
//! 1. the API's state: a BLOCKED API refuses every call (900907);
//! 2. the token's user type against the resource's authentication scheme: an
//!    application token on an `Application_User` resource or the reverse (900905);
//! 3. the token's client (consumer key) → key mapping → application, and the key type
//!    (PRODUCTION or SANDBOX) that picks the backend endpoint;
//! 4. the subscription of the application to the API: none (900908), `BLOCKED` or
//!    `PROD_ONLY_BLOCKED` with a production key (900907), `ON_HOLD` or `REJECTED`
//!    (900909);
//! 5. the resource's scopes: the token must carry one of them (900910);
//! 6. deny conditions on the API, application, user and client address (900805).

use crate::auth::{Principal, UserType};
use crate::errors::GatewayError;
use crate::replica::{ApplicationEntry, ReplicaSnapshot};
use crate::route::RouteMatch;
use keygate_model::{ApiStatus, AuthScheme, KeyType, Subscription, SubscriptionStatus};
use keygate_throttle::BlockQuery;
use std::net::IpAddr;
use std::sync::Arc;

/// A call the replica allows, with what later phases need.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The calling application.
    pub application: Arc<ApplicationEntry>,
    /// Its subscription to the API.
    pub subscription: Arc<Subscription>,
    /// The key type of the token's client.
    pub key_type: KeyType,
    /// The end user: the token's subject, or the application's owner for an application
    /// token; `name@tenant`.
    pub end_user: Box<str>,
    /// Application or end user.
    pub user_type: UserType,
}

/// A name qualified with the super tenant when it names none.
fn qualified(name: &str) -> Box<str> {
    if name.contains('@') {
        name.into()
    } else {
        format!("{name}@{}", keygate_model::SUPER_TENANT_DOMAIN).into()
    }
}

/// The refusal for a subscription's state, if it refuses `key_type`.
pub fn subscription_refusal(status: SubscriptionStatus, key_type: KeyType) -> Option<GatewayError> {
    match status {
        SubscriptionStatus::Unblocked => None,
        SubscriptionStatus::Blocked => Some(GatewayError::SubscriptionBlocked),
        SubscriptionStatus::ProdOnlyBlocked => {
            (key_type == KeyType::Production).then_some(GatewayError::SubscriptionBlocked)
        }
        SubscriptionStatus::OnHold | SubscriptionStatus::Rejected => {
            Some(GatewayError::SubscriptionInactive)
        }
    }
}

/// Whether a token of `user_type` may call a resource with `scheme`.
pub fn scheme_admits(scheme: AuthScheme, user_type: UserType) -> bool {
    match scheme {
        AuthScheme::Any | AuthScheme::None => true,
        AuthScheme::Application => user_type == UserType::Application,
        AuthScheme::ApplicationUser => user_type == UserType::ApplicationUser,
    }
}

/// Refuses calls to a blocked API.
pub fn check_api_state(route: &RouteMatch) -> Result<(), GatewayError> {
    if route.api.api.status == ApiStatus::Blocked {
        return Err(GatewayError::ApiBlocked);
    }
    Ok(())
}

/// Authorizes an authenticated call.
pub fn authorize(
    replica: &ReplicaSnapshot,
    route: &RouteMatch,
    principal: &Principal,
    client_ip: Option<IpAddr>,
) -> Result<Authorization, GatewayError> {
    check_api_state(route)?;
    let resource = route.resource().ok_or(GatewayError::NoMatchingResource)?;
    if !scheme_admits(resource.template.auth_scheme, principal.user_type) {
        return Err(GatewayError::IncorrectTokenType);
    }
    let mapping = principal
        .consumer_key
        .as_deref()
        .and_then(|key| replica.key_mapping(key))
        .ok_or(GatewayError::ResourceForbidden)?;
    let application = replica
        .application(&mapping.application_uuid)
        .ok_or(GatewayError::ResourceForbidden)?;
    let key_type = mapping.key_type;
    let subscription = replica
        .subscription(&application.app.uuid, &route.api.api.uuid)
        .ok_or(GatewayError::ResourceForbidden)?;
    if let Some(refusal) = subscription_refusal(subscription.status, key_type) {
        return Err(refusal);
    }
    let scopes = &resource.template.scopes;
    if !scopes.is_empty() && !scopes.iter().any(|s| principal.has_scope(s)) {
        return Err(GatewayError::InvalidScope);
    }
    let end_user = match principal.user_type {
        UserType::Application => qualified(&application.app.owner),
        UserType::ApplicationUser => principal.subject.clone(),
    };
    let query = BlockQuery {
        api_context: &route.api.versioned_context,
        subscriber: &application.app.owner,
        app_name: &application.app.name,
        user: &end_user,
        api_tenant: route.api.api.tenant.domain(),
        client_ip,
    };
    if let Some(by) = replica.blocking().blocked_by(&query) {
        return Err(GatewayError::Blocked(by));
    }
    Ok(Authorization {
        application: application.clone(),
        subscription: subscription.clone(),
        key_type,
        end_user,
        user_type: principal.user_type,
    })
}

/// Checks an unauthenticated call (auth scheme `None`): the API's state and the deny
/// conditions on the API and the client address.
pub fn authorize_anonymous(
    replica: &ReplicaSnapshot,
    route: &RouteMatch,
    client_ip: Option<IpAddr>,
) -> Result<(), GatewayError> {
    check_api_state(route)?;
    let query = BlockQuery {
        api_context: &route.api.versioned_context,
        api_tenant: route.api.api.tenant.domain(),
        client_ip,
        ..BlockQuery::default()
    };
    if let Some(by) = replica.blocking().blocked_by(&query) {
        return Err(GatewayError::Blocked(by));
    }
    Ok(())
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
