//! Throttle keys exactly as WSO2 API Manager 3.1's gateway builds them, so that decisions,
//! counters and request events name the same things WSO2 users see in their traffic
//! manager: application `{appId}:{authorizedUser}`, subscription
//! `{appId}:{apiContext}:{apiVersion}`, API `{apiContext}:{apiVersion}`, resource
//! `{apiContext}/{apiVersion}{resource}:{VERB}`, the last two followed by a condition group
//! (`_default` or `_condition_N`) when an advanced policy applies; deny keys `tenant:ip` and
//! `subscriber:appName`; and custom key templates such as `$userId:$apiContext`, parsed once
//! and rendered per request into a caller's buffer.

use crate::error::ThrottleError;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

/// Suffix of the condition group that applies when no other group matches.
pub const DEFAULT_GROUP: &str = "_default";
/// Prefix of a numbered condition group's suffix.
pub const CONDITION_GROUP_PREFIX: &str = "_condition_";

/// The condition group of an advanced policy a request falls under. keygate numbers an
/// [`ApiPolicy`](keygate_model::ApiPolicy)'s groups from 1 in their stored order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionGroupId {
    /// No group matched: `_default`.
    Default,
    /// The `n`th group (from 1): `_condition_n`.
    Numbered(u32),
}

impl ConditionGroupId {
    /// Appends the suffix (`_default`, `_condition_2`) to `out`.
    pub fn write_to(self, out: &mut String) {
        match self {
            Self::Default => out.push_str(DEFAULT_GROUP),
            Self::Numbered(n) => {
                out.push_str(CONDITION_GROUP_PREFIX);
                // Writing to a String cannot fail.
                let _ = write!(out, "{n}");
            }
        }
    }
}

impl fmt::Display for ConditionGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str(DEFAULT_GROUP),
            Self::Numbered(n) => write!(f, "{CONDITION_GROUP_PREFIX}{n}"),
        }
    }
}

/// A counting key, borrowed from the request it is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleKey<'a> {
    /// Application level, `{appId}:{authorizedUser}` (the user as `name@tenant`).
    Application {
        /// Application id.
        app_id: &'a str,
        /// The authorized user, e.g. `admin@carbon.super`.
        user: &'a str,
    },
    /// Subscription level, `{appId}:{apiContext}:{apiVersion}`.
    Subscription {
        /// Application id.
        app_id: &'a str,
        /// API context, e.g. `/pizzashack/1.0.0`.
        api_context: &'a str,
        /// API version, e.g. `1.0.0`.
        api_version: &'a str,
    },
    /// API level advanced policy, `{apiContext}:{apiVersion}` and the group.
    Api {
        /// API context.
        api_context: &'a str,
        /// API version.
        api_version: &'a str,
        /// Condition group, when an advanced policy is evaluated.
        group: Option<ConditionGroupId>,
    },
    /// Resource level advanced policy, `{apiContext}/{apiVersion}{resource}:{VERB}` and the
    /// group. WSO2 calls this the request key of the resource.
    Resource {
        /// API context.
        api_context: &'a str,
        /// API version.
        api_version: &'a str,
        /// The resource's URL template, e.g. `/menu`; a missing leading `/` is supplied.
        resource: &'a str,
        /// HTTP method, e.g. `GET`.
        verb: &'a str,
        /// Condition group, when an advanced policy is evaluated.
        group: Option<ConditionGroupId>,
    },
}

impl ThrottleKey<'_> {
    /// Appends the key to `out` without allocating beyond `out`'s growth.
    pub fn write_to(&self, out: &mut String) {
        match *self {
            Self::Application { app_id, user } => {
                out.push_str(app_id);
                out.push(':');
                out.push_str(user);
            }
            Self::Subscription {
                app_id,
                api_context,
                api_version,
            } => {
                out.push_str(app_id);
                out.push(':');
                out.push_str(api_context);
                out.push(':');
                out.push_str(api_version);
            }
            Self::Api {
                api_context,
                api_version,
                group,
            } => {
                out.push_str(api_context);
                out.push(':');
                out.push_str(api_version);
                if let Some(group) = group {
                    group.write_to(out);
                }
            }
            Self::Resource {
                api_context,
                api_version,
                resource,
                verb,
                group,
            } => {
                out.push_str(api_context);
                out.push('/');
                out.push_str(api_version);
                if !resource.starts_with('/') {
                    out.push('/');
                }
                out.push_str(resource);
                out.push(':');
                out.push_str(verb);
                if let Some(group) = group {
                    group.write_to(out);
                }
            }
        }
    }
}

impl fmt::Display for ThrottleKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_to(&mut text);
        f.write_str(&text)
    }
}

/// A deny-condition key as WSO2's gateway looks blocked requests up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKey<'a> {
    /// `{tenant}:{ip}`, the API's tenant and the client address.
    Ip {
        /// Tenant domain, e.g. `carbon.super`.
        tenant: &'a str,
        /// Client address.
        ip: IpAddr,
    },
    /// `{subscriber}:{appName}`, the application's owner and name.
    Application {
        /// The application's owner.
        subscriber: &'a str,
        /// The application's name.
        app_name: &'a str,
    },
}

impl fmt::Display for BlockKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip { tenant, ip } => write!(f, "{tenant}:{ip}"),
            Self::Application {
                subscriber,
                app_name,
            } => write!(f, "{subscriber}:{app_name}"),
        }
    }
}

/// A variable of a custom policy's key template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateVar {
    /// `$resourceKey`: the resource key without condition group.
    ResourceKey,
    /// `$userId`: the authorized user, `name@tenant`.
    UserId,
    /// `$apiContext`.
    ApiContext,
    /// `$apiVersion`.
    ApiVersion,
    /// `$appTenant`: the subscriber's tenant.
    AppTenant,
    /// `$apiTenant`: the API's tenant.
    ApiTenant,
    /// `$appId`.
    AppId,
    /// `$clientIp`.
    ClientIp,
}

impl TemplateVar {
    /// Every variable.
    pub const ALL: [TemplateVar; 8] = [
        Self::ResourceKey,
        Self::UserId,
        Self::ApiContext,
        Self::ApiVersion,
        Self::AppTenant,
        Self::ApiTenant,
        Self::AppId,
        Self::ClientIp,
    ];

    /// The name after `$`, e.g. `userId`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ResourceKey => "resourceKey",
            Self::UserId => "userId",
            Self::ApiContext => "apiContext",
            Self::ApiVersion => "apiVersion",
            Self::AppTenant => "appTenant",
            Self::ApiTenant => "apiTenant",
            Self::AppId => "appId",
            Self::ClientIp => "clientIp",
        }
    }
}

/// The values a key template is rendered with, borrowed from the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplateValues<'a> {
    /// Value of `$resourceKey`.
    pub resource_key: &'a str,
    /// Value of `$userId`.
    pub user_id: &'a str,
    /// Value of `$apiContext`.
    pub api_context: &'a str,
    /// Value of `$apiVersion`.
    pub api_version: &'a str,
    /// Value of `$appTenant`.
    pub app_tenant: &'a str,
    /// Value of `$apiTenant`.
    pub api_tenant: &'a str,
    /// Value of `$appId`.
    pub app_id: &'a str,
    /// Value of `$clientIp`; empty when unknown.
    pub client_ip: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Literal(Box<str>),
    Var(TemplateVar),
}

/// A custom policy's key template, e.g. `$userId:$apiContext:$apiVersion`, parsed once.
///
/// As in WSO2, where each variable is replaced in the template text, a `$` starts the
/// longest variable name that follows it (`$appIdX` is `$appId` then `X`); a `$` followed
/// by no letter is literal text; a `$` followed by letters that begin no variable name is
/// an error, so that a mistyped template is refused when the policy is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    source: Box<str>,
    parts: Box<[TemplatePart]>,
}

impl KeyTemplate {
    /// Parses `template`.
    pub fn parse(template: &str) -> Result<Self, ThrottleError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let letters = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            if letters == 0 {
                literal.push('$');
                rest = after;
                continue;
            }
            let var = TemplateVar::ALL
                .iter()
                .filter(|var| after.starts_with(var.name()))
                .max_by_key(|var| var.name().len())
                .copied()
                .ok_or_else(|| ThrottleError::UnknownTemplateVariable {
                    template: template.to_owned(),
                    name: after[..letters].to_owned(),
                })?;
            if !literal.is_empty() {
                parts.push(TemplatePart::Literal(std::mem::take(&mut literal).into()));
            }
            parts.push(TemplatePart::Var(var));
            rest = &after[var.name().len()..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal.into()));
        }
        Ok(Self {
            source: template.into(),
            parts: parts.into(),
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variables the template uses, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = TemplateVar> + '_ {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Var(var) => Some(*var),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Appends the rendered key to `out`.
    pub fn render_into(&self, values: &TemplateValues<'_>, out: &mut String) {
        for part in self.parts.iter() {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Var(var) => match var {
                    TemplateVar::ResourceKey => out.push_str(values.resource_key),
                    TemplateVar::UserId => out.push_str(values.user_id),
                    TemplateVar::ApiContext => out.push_str(values.api_context),
                    TemplateVar::ApiVersion => out.push_str(values.api_version),
                    TemplateVar::AppTenant => out.push_str(values.app_tenant),
                    TemplateVar::ApiTenant => out.push_str(values.api_tenant),
                    TemplateVar::AppId => out.push_str(values.app_id),
                    TemplateVar::ClientIp => {
                        if let Some(ip) = values.client_ip {
                            // Writing to a String cannot fail.
                            let _ = write!(out, "{ip}");
                        }
                    }
                },
            }
        }
    }

    /// The rendered key as a new string.
    pub fn render(&self, values: &TemplateValues<'_>) -> String {
        let mut out = String::new();
        self.render_into(values, &mut out);
        out
    }
}

impl fmt::Display for KeyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests;
