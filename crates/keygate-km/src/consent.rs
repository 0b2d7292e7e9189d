//! Consent: whether a user must be asked before a client gets the scopes it requested,
//! what the consent page lists, and remembering the answer.
//!
//! The scopes asked about are those the client would get — the request after WSO2's
//! role-based scope issuer — so the page never lists a scope the user cannot grant. The
//! policy ([`crate::session::ConsentPolicy`]) may skip the question for every client or
//! for first-party ones. Otherwise a user who approved is asked again only for a scope
//! not approved before, or when the client sends `prompt=consent` (OIDC Core §3.1.2.1);
//! each approval adds its scopes to what the user approved for that client, kept in the
//! database for every node.

use crate::errors::Failure;
use crate::manager::Inner;
use crate::pages::ScopeLine;
use keygate_oauth::ScopeSet;
use keygate_oauth::scope::{DEFAULT_SCOPE, OPENID};
use keygate_store::UserConsent;

/// What the standard scopes allow (OIDC Core §5.4), as the consent page says it.
const KNOWN_SCOPES: &[(&str, &str)] = &[
    (OPENID, "Sign you in with your account"),
    ("profile", "Your name and username"),
    ("email", "Your email address"),
    ("phone", "Your phone number"),
    (DEFAULT_SCOPE, "Basic access on your behalf"),
];

impl Inner {
    /// Whether `subject` already approved every scope of `scopes` for `client_id`.
    pub(crate) async fn has_consent(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &ScopeSet,
    ) -> Result<bool, Failure> {
        let Some(consent) = self
            .stores
            .consents()
            .consent(&self.settings.tenant, subject, client_id)
            .await?
        else {
            return Ok(false);
        };
        Ok(scopes.iter().all(|s| consent.scopes.iter().any(|c| c == s)))
    }

    /// Records that `subject` approved `scopes` for `client_id`, on top of what they
    /// approved before.
    pub(crate) async fn remember_consent(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &ScopeSet,
    ) -> Result<(), Failure> {
        let consents = self.stores.consents();
        let tenant = &self.settings.tenant;
        let before = consents.consent(tenant, subject, client_id).await?;
        let mut approved = scopes.clone();
        for scope in before.iter().flat_map(|c| c.scopes.iter()) {
            // A stored scope that no longer parses is simply not carried over.
            let _ = approved.insert(scope);
        }
        consents
            .save_consent(&UserConsent {
                tenant: tenant.clone(),
                subject: subject.to_owned(),
                client_id: client_id.to_owned(),
                scopes: approved.to_vec(),
                granted_at_ms: self.clock.now_ms(),
            })
            .await?;
        tracing::info!(%client_id, subject, "consent recorded");
        Ok(())
    }

    /// The consent page's list: each scope with its display name and description from
    /// the scope registry, or the standard wording of the OpenID Connect scopes.
    pub(crate) async fn scope_lines(&self, scopes: &ScopeSet) -> Result<Vec<ScopeLine>, Failure> {
        let mut lines = Vec::with_capacity(scopes.len());
        for name in scopes.iter() {
            if let Some((_, description)) = KNOWN_SCOPES.iter().find(|(n, _)| *n == name) {
                lines.push(ScopeLine {
                    name: name.to_owned(),
                    description: Some((*description).to_owned()),
                });
                continue;
            }
            let registered = self
                .stores
                .scopes()
                .scope(&self.settings.tenant, name)
                .await?;
            lines.push(match registered {
                Some(scope) => ScopeLine {
                    name: if scope.display_name.is_empty() {
                        scope.name.clone()
                    } else {
                        scope.display_name.clone()
                    },
                    description: scope.description.clone(),
                },
                None => ScopeLine {
                    name: name.to_owned(),
                    description: None,
                },
            });
        }
        Ok(lines)
    }
}
