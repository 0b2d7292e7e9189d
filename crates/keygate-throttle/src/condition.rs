//! Conditions of advanced (API and resource) policies, compiled once when a policy is loaded
//! and matched per request: client IP (one address, a `start`–`end` range, or a CIDR block
//! written in place of the address), request header, query parameter and JWT claim, each
//! invertible. As in WSO2's gateway, a header pattern matches anywhere in the value (Java's
//! `Matcher.find`), while query parameter and claim patterns must match the whole value
//! (`String.matches`); an attribute the request lacks does not match (so an inverted
//! condition on it does); a group matches when it has conditions and all of them match.
//! [`ConditionGroupMatcher::select`] picks the first matching group, else the default.

use crate::error::ThrottleError;
use crate::key::ConditionGroupId;
use crate::window::Limit;
use keygate_model::ThrottleCondition;
use regex::Regex;
use std::net::IpAddr;

/// Request data conditions look at, borrowed from the request without copying.
pub trait RequestAttributes {
    /// The first value of header `name`, given in lowercase.
    fn header(&self, name: &str) -> Option<&str>;
    /// The first value of query parameter `name`.
    fn query_param(&self, name: &str) -> Option<&str>;
    /// The string value of JWT claim `uri` (e.g. `http://wso2.org/claims/enduser`).
    fn claim(&self, uri: &str) -> Option<&str>;
}

/// A request without headers, query parameters or claims.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAttributes;

impl RequestAttributes for NoAttributes {
    fn header(&self, _: &str) -> Option<&str> {
        None
    }
    fn query_param(&self, _: &str) -> Option<&str> {
        None
    }
    fn claim(&self, _: &str) -> Option<&str> {
        None
    }
}

/// Attributes held in slices of `(name, value)` pairs: handy for tests and for callers whose
/// request is already parsed into such lists. Header names compare ignoring ASCII case.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttributeList<'a> {
    /// Request headers.
    pub headers: &'a [(&'a str, &'a str)],
    /// Query parameters.
    pub query: &'a [(&'a str, &'a str)],
    /// JWT claims with string values.
    pub claims: &'a [(&'a str, &'a str)],
}

impl RequestAttributes for AttributeList<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
    fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    fn claim(&self, uri: &str) -> Option<&str> {
        self.claims.iter().find(|(n, _)| *n == uri).map(|(_, v)| *v)
    }
}

/// The addresses an IP condition or deny condition covers. IPv4-mapped IPv6 addresses
/// (`::ffff:10.0.0.1`) are taken as their IPv4 address; an IPv4 set never contains another
/// IPv6 address and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMatch {
    /// One address.
    Exact(IpAddr),
    /// `start..=end`, both of one family.
    Range {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// A network `address/prefix`.
    Cidr {
        /// The network address (host bits cleared).
        network: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
}

/// An address as (is IPv6, number) for comparisons within one family.
fn ordinal(ip: IpAddr) -> (bool, u128) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

fn parse_ip(text: &str) -> Result<IpAddr, ThrottleError> {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| ThrottleError::InvalidIp(text.to_owned()))
}

fn prefix_mask(is_v6: bool, prefix: u8) -> u128 {
    let bits: u32 = if is_v6 { 128 } else { 32 };
    let host_bits = bits - u32::from(prefix);
    let all: u128 = if is_v6 {
        u128::MAX
    } else {
        u128::from(u32::MAX)
    };
    all.checked_shl(host_bits).map_or(0, |m| m & all)
}

impl IpMatch {
    /// One address, or a CIDR block when the text contains `/`.
    pub fn parse(text: &str) -> Result<Self, ThrottleError> {
        if text.contains('/') {
            Self::parse_cidr(text)
        } else {
            parse_ip(text).map(Self::Exact)
        }
    }

    /// A CIDR block such as `10.0.0.0/8` or `2001:db8::/32`.
    pub fn parse_cidr(text: &str) -> Result<Self, ThrottleError> {
        let invalid = || ThrottleError::InvalidCidr(text.to_owned());
        let (address, prefix) = text.trim().split_once('/').ok_or_else(invalid)?;
        let address = parse_ip(address).map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        let (is_v6, number) = ordinal(address);
        if prefix > if is_v6 { 128 } else { 32 } {
            return Err(invalid());
        }
        let network = number & prefix_mask(is_v6, prefix);
        let network = if is_v6 {
            IpAddr::from(network.to_be_bytes())
        } else {
            let v4 = u32::try_from(network).map_err(|_| invalid())?;
            IpAddr::from(v4.to_be_bytes())
        };
        Ok(Self::Cidr { network, prefix })
    }

    /// The range `start..=end`; both ends of one family, `start` not after `end`.
    pub fn parse_range(start: &str, end: &str) -> Result<Self, ThrottleError> {
        let invalid = |reason| ThrottleError::InvalidIpRange {
            start: start.to_owned(),
            end: end.to_owned(),
            reason,
        };
        let (first, last) = (parse_ip(start), parse_ip(end));
        let (Ok(first), Ok(last)) = (first, last) else {
            return Err(invalid("not an IP address"));
        };
        let (first_v6, first_n) = ordinal(first);
        let (last_v6, last_n) = ordinal(last);
        if first_v6 != last_v6 {
            return Err(invalid("ends are of different address families"));
        }
        if first_n > last_n {
            return Err(invalid("start is after end"));
        }
        Ok(Self::Range {
            start: first,
            end: last,
        })
    }

    /// Whether `ip` is covered.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (is_v6, number) = ordinal(ip);
        match *self {
            Self::Exact(exact) => ordinal(exact) == (is_v6, number),
            Self::Range { start, end } => {
                let (family, first) = ordinal(start);
                let (_, last) = ordinal(end);
                family == is_v6 && first <= number && number <= last
            }
            Self::Cidr { network, prefix } => {
                let (family, net) = ordinal(network);
                family == is_v6 && number & prefix_mask(is_v6, prefix) == net
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Test {
    Ip(IpMatch),
    Header { name: Box<str>, pattern: Regex },
    Query { name: Box<str>, pattern: Regex },
    Claim { uri: Box<str>, pattern: Regex },
}

/// One condition, ready to match requests.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    test: Test,
    invert: bool,
}

fn compile_pattern(subject: &str, pattern: &str, whole: bool) -> Result<Regex, ThrottleError> {
    let source = if whole {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    Regex::new(&source).map_err(|err| ThrottleError::InvalidPattern {
        subject: subject.to_owned(),
        pattern: pattern.to_owned(),
        reason: err.to_string(),
    })
}

impl CompiledCondition {
    /// Compiles a stored condition.
    pub fn compile(condition: &ThrottleCondition) -> Result<Self, ThrottleError> {
        let test = match condition {
            ThrottleCondition::IpSpecific { ip, .. } => Test::Ip(IpMatch::parse(ip)?),
            ThrottleCondition::IpRange {
                start_ip, end_ip, ..
            } => Test::Ip(IpMatch::parse_range(start_ip, end_ip)?),
            ThrottleCondition::Header { name, value, .. } => Test::Header {
                name: name.to_ascii_lowercase().into(),
                pattern: compile_pattern(name, value, false)?,
            },
            ThrottleCondition::QueryParameter { name, value, .. } => Test::Query {
                name: name.as_str().into(),
                pattern: compile_pattern(name, value, true)?,
            },
            ThrottleCondition::JwtClaim {
                claim_uri, value, ..
            } => Test::Claim {
                uri: claim_uri.as_str().into(),
                pattern: compile_pattern(claim_uri, value, true)?,
            },
        };
        Ok(Self {
            test,
            invert: condition.is_inverted(),
        })
    }

    /// Whether a request from `client_ip` with `attributes` satisfies the condition.
    pub fn matches(&self, client_ip: Option<IpAddr>, attributes: &dyn RequestAttributes) -> bool {
        let holds = match &self.test {
            Test::Ip(set) => client_ip.is_some_and(|ip| set.contains(ip)),
            Test::Header { name, pattern } => attributes
                .header(name)
                .is_some_and(|value| pattern.is_match(value)),
            Test::Query { name, pattern } => attributes
                .query_param(name)
                .is_some_and(|value| pattern.is_match(value)),
            Test::Claim { uri, pattern } => attributes
                .claim(uri)
                .is_some_and(|value| pattern.is_match(value)),
        };
        holds != self.invert
    }
}

/// The compiled condition groups of one advanced policy and its default limit.
#[derive(Debug, Clone)]
pub struct ConditionGroupMatcher {
    groups: Box<[(Box<[CompiledCondition]>, Limit)]>,
    default_limit: Limit,
}

impl ConditionGroupMatcher {
    /// Groups in their stored order, each with its limit, and the default limit.
    pub fn new(groups: Vec<(Vec<CompiledCondition>, Limit)>, default_limit: Limit) -> Self {
        Self {
            groups: groups
                .into_iter()
                .map(|(conditions, limit)| (conditions.into_boxed_slice(), limit))
                .collect(),
            default_limit,
        }
    }

    /// Number of condition groups, the default not included.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether the policy has no condition groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The first group (numbered from 1) all of whose conditions match, with its limit;
    /// otherwise `_default` with the default limit. A group without conditions never matches.
    pub fn select(
        &self,
        client_ip: Option<IpAddr>,
        attributes: &dyn RequestAttributes,
    ) -> (ConditionGroupId, &Limit) {
        for (index, (conditions, limit)) in self.groups.iter().enumerate() {
            if !conditions.is_empty()
                && conditions
                    .iter()
                    .all(|condition| condition.matches(client_ip, attributes))
            {
                let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
                return (ConditionGroupId::Numbered(number), limit);
            }
        }
        (ConditionGroupId::Default, &self.default_limit)
    }
}

#[cfg(test)]
mod tests;
