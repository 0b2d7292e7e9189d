//! The throttling phase: builds keygate-throttle's [`RequestContext`] from the request, the
//! route and the authorization, and asks the gateway's [`GatewayThrottle`] with the
//! replica's policies. A refusal is 429 with `Retry-After` and the level's code
//! (900800-900804, 900806); an admitted request keeps the keys it was counted under,
//! for the request event the traffic managers count globally.
//!
//! Deny conditions were already checked by the authorization phase, so they are not
//! checked twice. A call to a resource without authentication counts as WSO2 counts
//! it: the client address is the application, the subscription tier is
//! `Unauthenticated`, the user `anonymous`.

use crate::authorize::Authorization;
use crate::errors::GatewayError;
use crate::replica::ReplicaSnapshot;
use crate::route::RouteMatch;
use http::HeaderMap;
use keygate_jose::Claims;
use keygate_throttle::{
    BlockingConditions, CountedKey, GatewayThrottle, RequestAttributes, RequestContext, Verdict,
};
use std::net::IpAddr;
use std::sync::LazyLock;

/// The subscription tier of unauthenticated calls.
pub const UNAUTHENTICATED_TIER: &str = "Unauthenticated";
/// The application tier of unauthenticated calls.
pub const UNLIMITED_TIER: &str = "Unlimited";
/// The user of unauthenticated calls.
pub const ANONYMOUS_USER: &str = "anonymous";

static NO_DENY_CONDITIONS: LazyLock<BlockingConditions> = LazyLock::new(BlockingConditions::new);

/// Headers, query parameters and claims of one request, for advanced-policy conditions.
pub struct HttpAttributes<'a> {
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The token's claims.
    pub claims: Option<&'a Claims>,
    /// Values of the backend JWT's claims under the claim dialect, by short name
    /// (`enduser`, `applicationname`, …).
    pub dialect: &'a str,
    /// The authorization, for dialect claims.
    pub authorization: Option<&'a Authorization>,
}

impl RequestAttributes for HttpAttributes<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        self.query?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    fn claim(&self, uri: &str) -> Option<&str> {
        if let Some(short) = uri
            .strip_prefix(self.dialect)
            .and_then(|rest| rest.strip_prefix('/'))
            && let Some(auth) = self.authorization
        {
            let app = &auth.application.app;
            let value = match short {
                "enduser" => Some(&*auth.end_user),
                "subscriber" => Some(app.owner.as_str()),
                "applicationname" => Some(app.name.as_str()),
                "applicationid" => Some(&*auth.application.id_text),
                "applicationUUId" => Some(app.uuid.as_str()),
                "applicationtier" => Some(app.tier.as_str()),
                "tier" => Some(auth.subscription.tier.as_str()),
                "keytype" => Some(auth.key_type.as_str()),
                "usertype" => Some(auth.user_type.as_str()),
                _ => None,
            };
            if value.is_some() {
                return value;
            }
        }
        let claims = self.claims?;
        match uri {
            "sub" => claims.sub.as_deref(),
            "iss" => claims.iss.as_deref(),
            "client_id" => claims.client_id.as_deref(),
            "scope" => claims.scope.as_deref(),
            _ => claims.extra.get(uri).and_then(|v| v.as_str()),
        }
    }
}

/// An admitted request: the keys it was counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Keys with their limits, for the request event.
    pub keys: Vec<CountedKey>,
    /// Whether a subscription that does not stop on quota reach is over its quota.
    pub over_quota: bool,
}

/// One request as the throttling phase sees it.
pub struct ThrottleRequest<'a> {
    /// The matched API and resource.
    pub route: &'a RouteMatch,
    /// The authorization; `None` for a resource without authentication.
    pub authorization: Option<&'a Authorization>,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// The client address as text, the application of an unauthenticated call.
    pub client_ip_text: &'a str,
    /// Request size, for bandwidth quotas.
    pub message_size: u64,
    /// Headers, query and claims.
    pub attributes: &'a dyn RequestAttributes,
}

/// Evaluates one request at `now_ms`.
pub fn throttle(
    throttle: &GatewayThrottle,
    replica: &ReplicaSnapshot,
    request: &ThrottleRequest<'_>,
    now_ms: i64,
) -> Result<Admitted, GatewayError> {
    let api = &request.route.api;
    let resource = request.route.resource();
    let mut context = RequestContext {
        api_context: &api.versioned_context,
        api_version: &api.api.version,
        resource: resource.map_or("", |r| r.template.url_pattern.as_str()),
        verb: resource.map_or("", |r| r.template.http_verb.as_str()),
        api_tenant: api.api.tenant.domain(),
        api_tier: api.api.api_tier.as_deref(),
        resource_tier: resource.map(|r| r.template.throttling_tier.as_str()),
        client_ip: request.client_ip,
        message_size: request.message_size,
        attributes: request.attributes,
        ..RequestContext::default()
    };
    match request.authorization {
        Some(auth) => {
            let app = &auth.application.app;
            context.app_id = &auth.application.id_text;
            context.app_name = &app.name;
            context.subscriber = &app.owner;
            context.app_tier = &app.tier;
            context.user = &auth.end_user;
            context.app_tenant = app.tenant.domain();
            context.subscription_tier = &auth.subscription.tier;
        }
        None => {
            context.app_id = request.client_ip_text;
            context.app_tier = UNLIMITED_TIER;
            context.user = ANONYMOUS_USER;
            context.app_tenant = api.api.tenant.domain();
            context.subscription_tier = UNAUTHENTICATED_TIER;
        }
    }
    let verdict = throttle.evaluate(replica.policies(), &NO_DENY_CONDITIONS, &context, now_ms);
    match verdict {
        Verdict::Admitted {
            request_event_keys,
            over_quota,
        } => Ok(Admitted {
            keys: request_event_keys,
            over_quota,
        }),
        Verdict::Throttled { code, .. } => Err(GatewayError::Throttled {
            code,
            retry_after_secs: verdict.retry_after_secs().unwrap_or(1),
        }),
        Verdict::Blocked { by } => Err(GatewayError::Blocked(by)),
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
