//! [`KeyManager`]: the key manager role assembled — settings, stores, signing keys,
//! at-rest protection, the event bus, the clock and randomness — behind one cheap-to-clone
//! handle whose [`KeyManager::router`] serves the OAuth 2.0 / OpenID Connect endpoints.
//!
//! Besides the HTTP surface it offers what the rest of the key manager builds on: issuing
//! authorization codes (for the authorize endpoint), sealing client secrets (for client
//! registration), granting scopes to users, revoking every token of a client or user, and
//! rotating the signing key.

use crate::assertion::{RemoteKeys, ReplayGuard};
use crate::cache::LookupCache;
use crate::clock::{Clock, Draw, Entropy};
use crate::errors::KmError;
use crate::events::RevocationEvents;
use crate::mtls::CertificateAuthenticator;
use crate::protection::TokenProtection;
use crate::settings::{KmSettings, open_keystore};
use crate::signing::SigningKeys;
use keygate_bus::EventBus;
use keygate_config::Config;
use keygate_jose::JwkSet;
use keygate_model::{Secret, User};
use keygate_oauth::code::{self, CodeIssue};
use keygate_oauth::{AuthorizeRequest, ScopeSet};
use keygate_store::Stores;
use rustls::RootCertStore;
use std::sync::Arc;
use std::time::Duration;

/// The key manager. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct KeyManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("issuer", &self.inner.settings.issuer)
            .field("keys", &self.inner.signing.source())
            .field("persistence", &self.inner.protection.mode())
            .finish_non_exhaustive()
    }
}

/// The shared state every request handler reaches.
pub(crate) struct Inner {
    pub(crate) settings: KmSettings,
    pub(crate) stores: Arc<Stores>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) protection: TokenProtection,
    pub(crate) signing: SigningKeys,
    pub(crate) replay: ReplayGuard,
    pub(crate) remote_keys: RemoteKeys,
    pub(crate) certificates: CertificateAuthenticator,
    pub(crate) events: RevocationEvents,
    pub(crate) interaction: crate::session::Interaction,
    pub(crate) services: crate::services::ServiceState,
    pub(crate) cache: LookupCache,
}

impl KeyManager {
    /// Starts the key manager for `config`: reads its keystores, loads or creates its
    /// signing key, pepper and encryption key in `stores`.
    pub async fn start(
        config: &Config,
        stores: Arc<Stores>,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<KeyManager, KmError> {
        Self::start_with(
            KmSettings::from_config(config)?,
            stores,
            bus,
            clock,
            entropy,
        )
        .await
    }

    /// Starts the key manager with settings prepared by the caller.
    pub async fn start_with(
        settings: KmSettings,
        stores: Arc<Stores>,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<KeyManager, KmError> {
        let protection =
            TokenProtection::load(&settings, &stores, clock.as_ref(), entropy.clone()).await?;
        let signing = SigningKeys::load(&settings, &stores, clock.as_ref()).await?;
        let roots = match &settings.truststore {
            Some(store) => {
                let mut roots = RootCertStore::empty();
                for (alias, certificate) in open_keystore(store)?.trusted_certificates() {
                    if let Err(e) = roots.add(certificate) {
                        tracing::warn!(%alias, error = %e, "truststore certificate skipped");
                    }
                }
                Some(roots)
            }
            None => None,
        };
        let certificates = CertificateAuthenticator::new(roots).map_err(KmError::Config)?;
        let remote_keys = RemoteKeys::new().map_err(KmError::Config)?;
        let events = RevocationEvents::new(bus, &settings, clock.now_ms());
        let interaction =
            crate::session::Interaction::load(&settings, &stores, clock.as_ref(), entropy.as_ref())
                .await?;
        tracing::info!(
            issuer = %settings.issuer,
            keys = ?signing.source(),
            persistence = ?protection.mode(),
            mutual_tls = settings.mutual_tls_enabled,
            "key manager ready"
        );
        let services = crate::services::ServiceState::new(&settings.services);
        Ok(KeyManager {
            inner: Arc::new(Inner {
                settings,
                stores,
                clock,
                entropy,
                protection,
                signing,
                replay: ReplayGuard::default(),
                remote_keys,
                certificates,
                events,
                interaction,
                services,
                cache: LookupCache::default(),
            }),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &KmSettings {
        &self.inner.settings
    }

    /// The issuer (`iss`) of every token.
    pub fn issuer(&self) -> &str {
        &self.inner.settings.issuer
    }

    /// The stores the key manager persists through.
    pub fn stores(&self) -> &Arc<Stores> {
        &self.inner.stores
    }

    /// Drops what the key manager caches under `key` in `domain`
    /// ([`crate::cache::CLIENT_DOMAIN`]: a client id, [`crate::cache::SCOPE_DOMAIN`]: a
    /// scope name, [`crate::cache::USER_DOMAIN`]: a username), so that a change made
    /// elsewhere counts at once instead of after [`crate::cache::LOOKUP_TTL`]. For the
    /// invalidations that `keygate.cache.invalidation.<domain>` carries. Returns whether
    /// the domain is one the key manager caches.
    pub fn invalidate(&self, domain: &str, key: &str) -> bool {
        self.inner.cache.invalidate(domain, key)
    }

    /// The `(domain, key)` of every cache entry this node changes from now on, for
    /// `keygate.cache.invalidation.<domain>`.
    pub fn cache_changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.inner.cache.changes()
    }

    /// Drops everything the key manager caches.
    pub fn invalidate_all(&self) {
        self.inner.cache.invalidate_all();
    }

    /// Now, by the key manager's clock.
    pub fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    /// The JWK Set published now at `/oauth2/jwks`.
    pub fn jwks(&self) -> JwkSet {
        self.inner.signing.jwks(self.inner.clock.now_ms())
    }

    /// What a client's secret column keeps for `secret` (HMAC under the pepper, or
    /// ciphertext when token encryption is on): for client registration.
    pub fn seal_client_secret(&self, secret: &Secret) -> Result<Vec<u8>, KmError> {
        self.inner.protection.seal_client_secret(secret)
    }

    /// Whether `presented` is the secret a client's column was sealed from.
    pub fn verify_client_secret(&self, stored: &[u8], presented: &Secret) -> bool {
        self.inner
            .protection
            .verify_client_secret(stored, presented)
    }

    /// The client secret an encrypted column holds (encryption mode only).
    pub fn reveal_client_secret(&self, stored: &[u8]) -> Option<Secret> {
        self.inner.protection.reveal_client_secret(stored)
    }

    /// A new client secret: 32 random bytes, base64url.
    pub fn generate_client_secret(&self) -> Result<Secret, KmError> {
        Ok(keygate_oauth::random::opaque_value(&mut Draw(
            self.inner.entropy.as_ref(),
        ))?)
    }

    /// The scopes `user` is granted of `requested` (WSO2's role-based scope issuer, with
    /// the whitelisted scopes): for the authorize endpoint's consent.
    pub async fn scopes_for_user(
        &self,
        user: &User,
        requested: &ScopeSet,
    ) -> Result<ScopeSet, KmError> {
        self.inner
            .grant_scopes(Some(requested), &user.roles)
            .await
            .map_err(|e| match e {
                crate::errors::Failure::OAuth(e) => KmError::Refused(e),
                other => KmError::Refused(other.oauth_error()),
            })
    }

    /// Issues an authorization code for a checked authorization request that `subject`
    /// authorized with `scopes` (RFC 6749 §4.1.2), storing it under its SHA-256. Returns
    /// the code for the redirect; it is valid for the configured code lifetime and once.
    pub async fn issue_authorization_code(
        &self,
        request: &AuthorizeRequest,
        subject: &str,
        scopes: &ScopeSet,
    ) -> Result<Secret, KmError> {
        self.issue_authorization_code_at(request, subject, scopes, None)
            .await
    }

    /// [`KeyManager::issue_authorization_code`] for a user who authenticated at
    /// `auth_time` (since the epoch), which the ID token redeemed from the code repeats
    /// as `auth_time` (OIDC Core §2); without it the code's issue time stands in.
    pub async fn issue_authorization_code_at(
        &self,
        request: &AuthorizeRequest,
        subject: &str,
        scopes: &ScopeSet,
        auth_time: Option<Duration>,
    ) -> Result<Secret, KmError> {
        let inner = &self.inner;
        let code_id = uuid::Uuid::new_v4().to_string();
        let issue = CodeIssue {
            request,
            subject,
            scopes,
            code_id: &code_id,
            tenant: &inner.settings.tenant,
            lifetime: inner.settings.lifetimes.authorization_code,
            auth_time,
        };
        let issued = code::issue(
            &issue,
            inner.clock.now(),
            &mut Draw(inner.entropy.as_ref()),
            |code| inner.protection.lookup_key(code.expose()),
        )?;
        inner.stores.codes().insert_code(&issued.record).await?;
        tracing::debug!(client_id = %request.client_id, "authorization code issued");
        Ok(issued.code)
    }

    /// Revokes every live token of a client and announces it
    /// (`TOKENS_REVOKED_FOR_CLIENT`): for client deletion or secret regeneration. Returns
    /// how many tokens were revoked.
    pub async fn revoke_client_tokens(&self, client_id: &str) -> Result<u64, KmError> {
        let revoked = self
            .inner
            .stores
            .tokens()
            .revoke_by_client(client_id)
            .await?;
        self.inner
            .events
            .client_tokens_revoked(client_id, self.inner.clock.now_ms())
            .await;
        Ok(revoked)
    }

    /// Revokes every live token of a user, in every client, and announces it
    /// (`TOKENS_REVOKED_FOR_USER`): for a locked, disabled or deleted user. Returns how
    /// many tokens were revoked.
    pub async fn revoke_user_tokens(&self, username: &str) -> Result<u64, KmError> {
        // Whatever changed about the user, its roles are read afresh.
        self.inner
            .cache
            .changed(crate::cache::USER_DOMAIN, username);
        let tenant = &self.inner.settings.tenant;
        let revoked = self
            .inner
            .stores
            .tokens()
            .revoke_by_subject(tenant, username)
            .await?;
        self.inner
            .events
            .user_tokens_revoked(username, self.inner.clock.now_ms())
            .await;
        Ok(revoked)
    }

    /// Rotates the signing key: a new key signs from now on; the old one stays in the
    /// JWK Set until every token it may have signed has expired. Returns the new `kid`.
    pub async fn rotate_signing_key(&self) -> Result<String, KmError> {
        let retention = self.inner.longest_client_lifetime().await?;
        self.inner
            .signing
            .rotate(&self.inner.stores, self.inner.clock.as_ref(), retention)
            .await
    }
}

impl Inner {
    /// The longest life any token signed now may have: the server-wide lifetimes and every
    /// client's own.
    pub(crate) async fn longest_client_lifetime(&self) -> Result<Duration, KmError> {
        let mut longest = self.settings.longest_token_lifetime();
        let page_size = 500u32;
        let mut offset = 0u32;
        loop {
            let clients = self
                .stores
                .clients()
                .list_clients(
                    &self.settings.tenant,
                    keygate_store::Page::new(page_size, offset),
                )
                .await?;
            for client in &clients {
                let l = self.settings.lifetimes.for_client(&client.lifetimes);
                longest = longest
                    .max(l.user_access_token)
                    .max(l.application_access_token)
                    .max(l.id_token);
            }
            if clients.len() < page_size as usize {
                break;
            }
            offset = offset.saturating_add(page_size);
        }
        Ok(longest)
    }
}
