//! [`ThrottleError`], what goes wrong when policies, conditions, key templates or deny
//! conditions are compiled. Evaluating a request never fails: a request either passes or is
//! refused with a WSO2 code.

/// A policy, condition, key template or deny condition that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleError {
    /// Text that is no IPv4 or IPv6 address.
    #[error("invalid IP address {0:?}")]
    InvalidIp(String),
    /// A range whose ends are of different families or in the wrong order.
    #[error("invalid IP range {start:?} to {end:?}: {reason}")]
    InvalidIpRange {
        /// First address as given.
        start: String,
        /// Last address as given.
        end: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A CIDR block that is not `address/prefix` with a prefix the family allows.
    #[error("invalid CIDR block {0:?}")]
    InvalidCidr(String),
    /// A regular expression of a header, query parameter or claim condition.
    #[error("invalid pattern {pattern:?} for {subject:?}: {reason}")]
    InvalidPattern {
        /// Header, parameter or claim the pattern is for.
        subject: String,
        /// The pattern.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
    /// A `$name` in a key template that names no known variable.
    #[error("unknown variable ${name} in key template {template:?}")]
    UnknownTemplateVariable {
        /// The template.
        template: String,
        /// The name after `$`.
        name: String,
    },
    /// A quota, window or spike arrest that cannot be counted.
    #[error("policy {policy:?}: {reason}")]
    InvalidLimit {
        /// Name of the policy.
        policy: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A deny condition whose value does not fit its type.
    #[error("invalid {kind} block condition value {value:?}: {reason}")]
    InvalidBlockCondition {
        /// The condition type, e.g. `IPRANGE`.
        kind: &'static str,
        /// The value as stored.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}
