//! Token lifetimes: the server-wide defaults of WSO2 Identity Server 5.10 as named
//! constants, overridable per OAuth client (WSO2's per-application validity periods), and
//! the arithmetic from `now` to `exp` (RFC 7519 §4.1.4) and `expires_in` (RFC 6749 §5.1).
//! Times are [`Duration`]s since the Unix epoch, supplied by the caller.

use keygate_model::ClientTokenLifetimes;
use std::time::Duration;

/// Access tokens issued for a user (WSO2 `UserAccessTokenDefaultValidityPeriod`): 3600 s.
pub const DEFAULT_USER_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Access tokens issued to an application for itself, by client credentials (WSO2
/// `AccessTokenDefaultValidityPeriod`): 3600 s.
pub const DEFAULT_APPLICATION_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Refresh tokens (WSO2 `RefreshTokenValidityPeriod`): 86400 s.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// Authorization codes (WSO2 `AuthorizationCodeDefaultValidityPeriod`): 300 s.
pub const DEFAULT_AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(300);

/// OIDC ID tokens (WSO2 `IDTokenExpiration`): 3600 s.
pub const DEFAULT_ID_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Whom an access token speaks for, which picks its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTokenKind {
    /// A user authorized it (authorization code, password, refresh, JWT bearer).
    User,
    /// The application itself (client credentials, RFC 6749 §4.4).
    Application,
}

impl AccessTokenKind {
    /// The kind a grant issues: [`AccessTokenKind::Application`] for `client_credentials`,
    /// [`AccessTokenKind::User`] otherwise.
    pub fn for_grant(grant_type: &str) -> Self {
        if grant_type == crate::grant::grant_types::CLIENT_CREDENTIALS {
            Self::Application
        } else {
            Self::User
        }
    }
}

/// Lifetimes of everything the authorization server issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Access tokens for a user.
    pub user_access_token: Duration,
    /// Access tokens for the application itself.
    pub application_access_token: Duration,
    /// Refresh tokens.
    pub refresh_token: Duration,
    /// Authorization codes.
    pub authorization_code: Duration,
    /// ID tokens.
    pub id_token: Duration,
}

impl TokenLifetimes {
    /// WSO2 Identity Server 5.10's defaults.
    pub const WSO2_DEFAULTS: Self = Self {
        user_access_token: DEFAULT_USER_ACCESS_TOKEN_LIFETIME,
        application_access_token: DEFAULT_APPLICATION_ACCESS_TOKEN_LIFETIME,
        refresh_token: DEFAULT_REFRESH_TOKEN_LIFETIME,
        authorization_code: DEFAULT_AUTHORIZATION_CODE_LIFETIME,
        id_token: DEFAULT_ID_TOKEN_LIFETIME,
    };

    /// These lifetimes with a client's own: each positive per-client value (milliseconds)
    /// replaces the server-wide one; absent, zero or negative values keep it.
    pub fn for_client(&self, overrides: &ClientTokenLifetimes) -> Self {
        let pick = |own: Option<i64>, global: Duration| match own {
            Some(ms) if ms > 0 => Duration::from_millis(ms.unsigned_abs()),
            _ => global,
        };
        Self {
            user_access_token: pick(overrides.user_access_token_ms, self.user_access_token),
            application_access_token: pick(
                overrides.application_access_token_ms,
                self.application_access_token,
            ),
            refresh_token: pick(overrides.refresh_token_ms, self.refresh_token),
            authorization_code: self.authorization_code,
            id_token: pick(overrides.id_token_ms, self.id_token),
        }
    }

    /// The access token lifetime for `kind`.
    pub fn access_token(&self, kind: AccessTokenKind) -> Duration {
        match kind {
            AccessTokenKind::User => self.user_access_token,
            AccessTokenKind::Application => self.application_access_token,
        }
    }
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self::WSO2_DEFAULTS
    }
}

/// When something issued at `now` with `lifetime` expires (saturating).
pub fn expires_at(now: Duration, lifetime: Duration) -> Duration {
    now.saturating_add(lifetime)
}

/// Whether something that expires at `expires_at` has expired at `now` (the instant of
/// expiry included).
pub fn is_expired(expires_at: Duration, now: Duration) -> bool {
    now >= expires_at
}

/// `expires_in` of a token response (RFC 6749 §5.1): whole seconds left, rounded down.
pub fn expires_in(expires_at: Duration, now: Duration) -> u64 {
    expires_at.saturating_sub(now).as_secs()
}

/// Unix seconds, for JWT `iat` and `exp` (RFC 7519 §2 NumericDate); saturates at
/// `i64::MAX`.
pub fn unix_seconds(time: Duration) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

/// Milliseconds, the unit of stored times and lifetimes; saturates at `i64::MAX`.
pub fn millis(time: Duration) -> i64 {
    i64::try_from(time.as_millis()).unwrap_or(i64::MAX)
}

/// A stored time or lifetime in milliseconds as a [`Duration`]; negative is zero.
pub fn from_millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wso2_defaults() {
        let d = TokenLifetimes::default();
        assert_eq!(d, TokenLifetimes::WSO2_DEFAULTS);
        assert_eq!(d.user_access_token.as_secs(), 3600);
        assert_eq!(d.application_access_token.as_secs(), 3600);
        assert_eq!(d.refresh_token.as_secs(), 86_400);
        assert_eq!(d.authorization_code.as_secs(), 300);
        assert_eq!(d.id_token.as_secs(), 3600);
    }

    #[test]
    fn client_overrides_replace_only_what_they_set() {
        let overrides = ClientTokenLifetimes {
            user_access_token_ms: Some(900_000),
            application_access_token_ms: None,
            refresh_token_ms: Some(0),
            id_token_ms: Some(-1),
        };
        let l = TokenLifetimes::WSO2_DEFAULTS.for_client(&overrides);
        assert_eq!(l.user_access_token, Duration::from_secs(900));
        assert_eq!(
            l.application_access_token,
            DEFAULT_APPLICATION_ACCESS_TOKEN_LIFETIME
        );
        assert_eq!(l.refresh_token, DEFAULT_REFRESH_TOKEN_LIFETIME);
        assert_eq!(l.id_token, DEFAULT_ID_TOKEN_LIFETIME);
        assert_eq!(l.authorization_code, DEFAULT_AUTHORIZATION_CODE_LIFETIME);
        let app = ClientTokenLifetimes {
            application_access_token_ms: Some(60_000),
            refresh_token_ms: Some(7_200_000),
            id_token_ms: Some(1_500),
            ..ClientTokenLifetimes::default()
        };
        let l = TokenLifetimes::WSO2_DEFAULTS.for_client(&app);
        assert_eq!(
            l.access_token(AccessTokenKind::Application),
            Duration::from_secs(60)
        );
        assert_eq!(
            l.access_token(AccessTokenKind::User),
            DEFAULT_USER_ACCESS_TOKEN_LIFETIME
        );
        assert_eq!(l.refresh_token, Duration::from_secs(7200));
        assert_eq!(l.id_token, Duration::from_millis(1500));
    }

    #[test]
    fn kind_by_grant() {
        assert_eq!(
            AccessTokenKind::for_grant("client_credentials"),
            AccessTokenKind::Application
        );
        assert_eq!(
            AccessTokenKind::for_grant("password"),
            AccessTokenKind::User
        );
        assert_eq!(
            AccessTokenKind::for_grant("authorization_code"),
            AccessTokenKind::User
        );
    }

    #[test]
    fn expiry_arithmetic() {
        let now = Duration::from_secs(1_700_000_000);
        let exp = expires_at(now, DEFAULT_USER_ACCESS_TOKEN_LIFETIME);
        assert_eq!(unix_seconds(exp), 1_700_003_600);
        assert_eq!(expires_in(exp, now), 3600);
        assert_eq!(expires_in(exp, now + Duration::from_millis(1500)), 3598);
        assert_eq!(expires_in(exp, exp + Duration::from_secs(5)), 0);
        assert!(!is_expired(exp, exp - Duration::from_millis(1)));
        assert!(is_expired(exp, exp));
        assert_eq!(
            expires_at(Duration::MAX, Duration::from_secs(1)),
            Duration::MAX
        );
        assert_eq!(unix_seconds(Duration::MAX), i64::MAX);
        assert_eq!(millis(now), 1_700_000_000_000);
        assert_eq!(millis(Duration::MAX), i64::MAX);
        assert_eq!(from_millis(1_500), Duration::from_millis(1500));
        assert_eq!(from_millis(-5), Duration::ZERO);
    }
}
