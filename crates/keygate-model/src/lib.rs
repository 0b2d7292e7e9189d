//! Domain types shared by every keygate crate: the things WSO2 API Manager users know
//! (APIs, applications, subscriptions, OAuth clients, tokens, policies) as plain data,
//! with serde and nothing else — no I/O, no async runtime, no SQL. Enumerations serialize
//! to WSO2's own strings; times are `i64` unix milliseconds supplied by callers.

#![forbid(unsafe_code)]

mod wso2_enum;

pub mod catalog;
pub mod changes;
pub mod handshake;
pub mod identity;
pub mod oauth;
pub mod secret;
pub mod throttling;
pub mod validation;

pub use catalog::{
    Api, ApiStatus, Application, ApplicationStatus, AuthScheme, KeyMapping, KeyMappingState,
    KeyType, RESIDENT_KEY_MANAGER, Subscription, SubscriptionCreateState, SubscriptionStatus,
    TokenType, UrlTemplate,
};
pub use identity::{Role, SUPER_TENANT_DOMAIN, Scope, Tenant, User, UserId, claims, roles};
pub use oauth::{
    AccessToken, AuthorizationCode, ClientTokenLifetimes, CodeState, OAuthClient, PkceMethod,
    RevokedToken, RevokedTokenType, TokenEndpointAuthMethod, TokenState,
};
pub use secret::Secret;
pub use throttling::{
    ApiPolicy, ApplicationPolicy, BillingPlan, BlockCondition, BlockConditionType, ConditionGroup,
    DataUnit, GlobalPolicy, PolicyLevel, Quota, QuotaLimit, SpikeArrest, SubscriptionPolicy,
    ThrottleCondition, TimeUnit,
};
pub use wso2_enum::UnknownValue;
