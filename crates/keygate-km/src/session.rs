//! Login sessions: what lets a person who signed in once at `/oauth2/authorize` go
//! through the next authorization without typing a password again, until the session
//! ends — after [`DEFAULT_SESSION_LIFETIME`] whatever happens, or after
//! [`DEFAULT_SESSION_IDLE_TIMEOUT`] unused — or the person signs out at `/oidc/logout`.
//!
//! The browser holds an opaque cookie, [`SESSION_COOKIE`] (`HttpOnly`, `Secure`,
//! `SameSite=Lax`, path `/`): 32 random bytes, replaced at every sign-in so that a cookie
//! planted before it is worth nothing. The key manager keeps the session in the database
//! under the SHA-256 of the cookie, with the user and the time of authentication, so that
//! every key-manager node behind a load balancer knows it and a copy of the table opens
//! nothing. A session whose user was deleted, locked or disabled ends when next seen.
//!
//! This module also holds the settings of the interactive endpoints ([`LoginSettings`],
//! with the consent policy) and their per-node state ([`Interaction`]: the CSRF key shared
//! through the database and the failed-login brake).

use crate::clock::{Clock, Draw, Entropy, random_bytes};
use crate::csrf::{CSRF_KEY_SECRET, CsrfKey};
use crate::errors::{Failure, KmError};
use crate::limiter::LoginAttempts;
use crate::manager::Inner;
use crate::settings::KmSettings;
use axum::http::{HeaderMap, header};
use keygate_model::User;
use keygate_oauth::lifetime::millis;
use keygate_oauth::random::opaque_value;
use keygate_store::{LoginSession, Stores};
use std::time::Duration;

/// The session cookie.
pub const SESSION_COOKIE: &str = "KGSESSION";
/// Longest a session lasts: 8 hours.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Longest a session lasts unused: 30 minutes.
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Life of a CSRF cookie, so of a form left open: 30 minutes.
pub const DEFAULT_FORM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Failed sign-ins per username and address before the brake: 5.
pub const DEFAULT_MAX_FAILED_LOGINS: u32 = 5;
/// The window failed sign-ins are counted in: 5 minutes.
pub const DEFAULT_FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(5 * 60);

/// When the consent page is skipped.
///
/// WSO2 Identity Server asks for consent by default; its global `SkipUserConsent` switch
/// (`identity.xml`, `OpenIDConnect`) stops asking everywhere, and a service provider's
/// "Skip Login Consent" (`skipConsent`) stops asking for that one application — the
/// first-party applications an organisation runs itself, such as its API portals. keygate
/// has both: [`ConsentPolicy::skip_user_consent`] and [`ConsentPolicy::first_party_clients`].
/// Where consent is asked, it is asked once per user, client and set of scopes: a user
/// who approved is asked again only for a scope not approved before, or when the client
/// sends `prompt=consent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentPolicy {
    /// Never ask (WSO2's `SkipUserConsent = true`).
    pub skip_user_consent: bool,
    /// Client ids never asked about (WSO2's per-application "Skip Login Consent").
    pub first_party_clients: Vec<String>,
}

impl ConsentPolicy {
    /// Whether the consent page is skipped for `client_id`.
    pub fn skips(&self, client_id: &str) -> bool {
        self.skip_user_consent || self.first_party_clients.iter().any(|c| c == client_id)
    }
}

/// Settings of the login and consent pages and of login sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSettings {
    /// Longest a session lasts.
    pub session_lifetime: Duration,
    /// Longest a session lasts unused.
    pub session_idle_timeout: Duration,
    /// How long a form may stay open before it must be reloaded.
    pub form_lifetime: Duration,
    /// Failed sign-ins per username and address before further attempts are refused.
    pub max_failed_logins: u32,
    /// The window failed sign-ins are counted in.
    pub failed_login_window: Duration,
    /// When consent is not asked.
    pub consent: ConsentPolicy,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            session_idle_timeout: DEFAULT_SESSION_IDLE_TIMEOUT,
            form_lifetime: DEFAULT_FORM_LIFETIME,
            max_failed_logins: DEFAULT_MAX_FAILED_LOGINS,
            failed_login_window: DEFAULT_FAILED_LOGIN_WINDOW,
            consent: ConsentPolicy::default(),
        }
    }
}

/// The interactive endpoints' state on this node.
#[derive(Debug)]
pub(crate) struct Interaction {
    /// Signs and checks form tokens; the same key on every node.
    pub(crate) csrf: CsrfKey,
    /// Failed sign-ins.
    pub(crate) attempts: LoginAttempts,
}

impl Interaction {
    /// Loads (or creates, once for all nodes) the CSRF key.
    pub(crate) async fn load(
        settings: &KmSettings,
        stores: &Stores,
        clock: &dyn Clock,
        entropy: &dyn Entropy,
    ) -> Result<Self, KmError> {
        let key = stores
            .keys()
            .ensure_server_secret(
                &settings.tenant,
                CSRF_KEY_SECRET,
                &random_bytes(entropy, 32)?,
                clock.now_ms(),
            )
            .await?;
        Ok(Self {
            csrf: CsrfKey::new(&key),
            attempts: LoginAttempts::new(
                settings.login.max_failed_logins,
                settings.login.failed_login_window,
            ),
        })
    }
}

/// The cookies a request sent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cookies(Vec<(String, String)>);

impl Cookies {
    /// Every `name=value` of every `Cookie` header (RFC 6265 §5.4).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut pairs = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    pairs.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
        }
        Self(pairs)
    }

    /// The first value of cookie `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A session seen on a request, with its user.
#[derive(Debug, Clone)]
pub(crate) struct ActiveSession {
    /// The stored record.
    pub(crate) record: LoginSession,
    /// The user, as the user store has them now.
    pub(crate) user: User,
}

impl ActiveSession {
    /// When the user authenticated, since the epoch.
    pub(crate) fn auth_time(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.record.auth_time_ms).unwrap_or(0))
    }
}

/// The `Set-Cookie` value of a session cookie.
fn session_cookie(value: &str) -> String {
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Lax")
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

impl Inner {
    /// The open session the request's cookie names, if any, with its user; a session that
    /// has ended, or whose user is gone or locked, is deleted and not returned.
    pub(crate) async fn current_session(
        &self,
        cookies: &Cookies,
    ) -> Result<Option<ActiveSession>, Failure> {
        let Some(cookie) = cookies.get(SESSION_COOKIE).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let digest = self.protection.lookup_key(cookie);
        let sessions = self.stores.login_sessions();
        let Some(record) = sessions.session(&digest).await? else {
            return Ok(None);
        };
        let now_ms = self.clock.now_ms();
        let user = if record.is_open_at(now_ms) && record.tenant == self.settings.tenant {
            self.stores
                .users()
                .user(&record.subject)
                .await?
                .filter(|user| !user.is_locked())
        } else {
            None
        };
        match user {
            Some(user) => Ok(Some(ActiveSession { record, user })),
            None => {
                sessions.delete_session(&digest).await?;
                Ok(None)
            }
        }
    }

    /// Starts a session for `user`, who authenticated now, ending the one the request
    /// carried. Returns the session and its `Set-Cookie` value.
    pub(crate) async fn start_session(
        &self,
        user: User,
        cookies: &Cookies,
    ) -> Result<(ActiveSession, String), Failure> {
        let sessions = self.stores.login_sessions();
        if let Some(old) = cookies.get(SESSION_COOKIE).filter(|c| !c.is_empty()) {
            sessions
                .delete_session(&self.protection.lookup_key(old))
                .await?;
        }
        let now = self.clock.now();
        let now_ms = millis(now);
        let login = &self.settings.login;
        if let Err(error) = sessions.purge_expired_sessions(now_ms).await {
            tracing::warn!(%error, "expired login sessions not purged");
        }
        let value = opaque_value(&mut Draw(self.entropy.as_ref()))?;
        let expires_at_ms = millis(now.saturating_add(login.session_lifetime));
        let record = LoginSession {
            session_digest: self.protection.lookup_key(value.expose()),
            tenant: self.settings.tenant.clone(),
            subject: user.username.clone(),
            auth_time_ms: now_ms,
            created_at_ms: now_ms,
            idle_expires_at_ms: millis(now.saturating_add(login.session_idle_timeout))
                .min(expires_at_ms),
            expires_at_ms,
        };
        sessions.insert_session(&record).await?;
        tracing::info!(subject = %record.subject, "login session started");
        Ok((
            ActiveSession { record, user },
            session_cookie(value.expose()),
        ))
    }

    /// Keeps a used session from going idle.
    pub(crate) async fn touch_session(&self, session: &ActiveSession) {
        let now = self.clock.now();
        let idle_until = millis(now.saturating_add(self.settings.login.session_idle_timeout));
        if let Err(error) = self
            .stores
            .login_sessions()
            .touch_session(&session.record.session_digest, idle_until, millis(now))
            .await
        {
            tracing::warn!(%error, "login session not touched");
        }
    }

    /// Ends the session the request's cookie names, if any.
    pub(crate) async fn end_session(&self, cookies: &Cookies) -> Result<bool, Failure> {
        let Some(cookie) = cookies.get(SESSION_COOKIE).filter(|c| !c.is_empty()) else {
            return Ok(false);
        };
        let ended = self
            .stores
            .login_sessions()
            .delete_session(&self.protection.lookup_key(cookie))
            .await?;
        if ended {
            tracing::info!("login session ended");
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; KGSESSION=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("KGCSRF=x.1;b"));
        let cookies = Cookies::from_headers(&headers);
        assert_eq!(cookies.get("KGSESSION"), Some("abc"));
        assert_eq!(cookies.get("KGCSRF"), Some("x.1"));
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(cookies.get("b"), None);
        assert_eq!(cookies.get("c"), None);
    }

    #[test]
    fn session_cookies_are_locked_down() {
        let set = session_cookie("v");
        for attribute in ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"] {
            assert!(set.contains(attribute), "{set}");
        }
        assert!(clear_session_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn consent_policy_skips_first_party_clients_or_everyone() {
        let mut policy = ConsentPolicy::default();
        assert!(!policy.skips("portal"));
        policy.first_party_clients = vec!["portal".into()];
        assert!(policy.skips("portal"));
        assert!(!policy.skips("partner"));
        policy.skip_user_consent = true;
        assert!(policy.skips("partner"));
    }
}
