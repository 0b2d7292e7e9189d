//! RP-initiated logout (`GET`/`POST /oidc/logout`, OpenID Connect RP-Initiated Logout
//! 1.0 §2, §3): a client sends the person here to end their login session, and may ask
//! to have them sent back.
//!
//! `id_token_hint` names who signs out from which client: an ID token this key manager
//! signed (its signature checked against the published keys and its `iss` ours), accepted
//! even after it expired, as §2 allows; an access token is not a hint. A `client_id`
//! sent with it must be the hint's client. `post_logout_redirect_uri` is honoured only
//! when it is, character for character, one of that client's registered redirect URIs —
//! WSO2 likewise checks it against the application's callback URL — and otherwise
//! refused with an error page, before anything is ended; `state` goes back with it.
//!
//! With a valid hint for the signed-in user (or no session at all) the session ends at
//! once: its record deleted, its cookie cleared. Without a valid hint, a page asks the
//! person to confirm (a CSRF-protected form), since anyone could have linked here.

use crate::authorize::{ACTION_FIELD, FormFields, Incoming, failure_page, forged_form_page};
use crate::errors::Failure;
use crate::manager::KeyManager;
use crate::pages::{self, Page};
use crate::session::clear_session_cookie;
use crate::settings::LOGOUT_PATH;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keygate_jose::jwt::ACCESS_TOKEN_TYPE;
use keygate_jose::{Claims, JwsAlgorithm};
use keygate_model::OAuthClient;

/// `kg_action` of the confirmation form.
pub const LOGOUT_ACTION: &str = "logout";
/// The confirmation form's answer: `yes` or `no`.
pub const LOGOUT_FIELD: &str = "kg_logout";

/// Who an `id_token_hint` says is signing out, and from which client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutHint {
    /// The user (`sub`).
    pub subject: String,
    /// The client the ID token was issued to (`azp`, else the first `aud`).
    pub client_id: String,
}

impl KeyManager {
    /// Answers `GET`/`POST /oidc/logout`.
    pub(crate) async fn logout(&self, request: Request) -> Response {
        let incoming = match Incoming::read(request).await {
            Ok(incoming) => incoming,
            Err(page) => return page,
        };
        self.logout_checked(&incoming)
            .await
            .unwrap_or_else(|failure| failure_page(&failure).into_response())
    }

    async fn logout_checked(&self, incoming: &Incoming) -> Result<Response, Failure> {
        let form = &incoming.form;
        let hint = form
            .get("id_token_hint")
            .and_then(|token| self.verify_id_token_hint(token));
        let client_id = match (hint.as_ref(), form.get("client_id")) {
            (Some(hint), Some(sent)) if hint.client_id != sent => {
                return Ok(refusal("client_id does not match the id_token_hint"));
            }
            (Some(hint), _) => Some(hint.client_id.as_str()),
            (None, sent) => sent,
        };
        let client = match client_id {
            Some(id) => self.inner.stores.clients().client(id).await?,
            None => None,
        };
        let target = match form.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) if registered_for(client.as_ref(), uri) => Some(uri),
            Some(_) => {
                tracing::info!(
                    client_id = client_id.unwrap_or("-"),
                    "post_logout_redirect_uri not registered"
                );
                return Ok(refusal(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
        };
        let state = form.get("state");
        match form.get(ACTION_FIELD) {
            None => {}
            Some(LOGOUT_ACTION) if incoming.posted => {
                if !self.form_is_genuine(incoming) {
                    return Ok(forged_form_page().into_response());
                }
                if form.get(LOGOUT_FIELD) != Some("yes") {
                    return Ok(pages::still_signed_in().into_response());
                }
                return self.sign_out(incoming, target, state).await;
            }
            Some(_) => {
                return Ok(refusal(
                    "the form asked for something this page does not do",
                ));
            }
        }
        let session = self.inner.current_session(&incoming.cookies).await?;
        let proven = match (&hint, &session) {
            (_, None) => true,
            (Some(hint), Some(session)) => hint.subject == session.user.username,
            (None, Some(_)) => false,
        };
        if proven {
            return self.sign_out(incoming, target, state).await;
        }
        let FormFields {
            hidden,
            csrf_cookie,
        } = self.form_fields(incoming, LOGOUT_ACTION)?;
        let body = pages::logout_confirmation(
            LOGOUT_PATH,
            client.as_ref().map(|c| c.client_name.as_str()),
            &hidden,
        );
        let mut page = Page::new(StatusCode::OK, "Sign out", body).with_cookies(csrf_cookie);
        if let Some(uri) = target {
            page = page.with_form_target(uri);
        }
        Ok(page.into_response())
    }

    /// Ends the session and sends the person back to `target`, or shows that they
    /// signed out.
    async fn sign_out(
        &self,
        incoming: &Incoming,
        target: Option<&str>,
        state: Option<&str>,
    ) -> Result<Response, Failure> {
        self.inner.end_session(&incoming.cookies).await?;
        let cookies = vec![clear_session_cookie()];
        Ok(match target {
            Some(uri) => pages::redirect(
                incoming.redirect_status(),
                &with_state(uri, state),
                &cookies,
            ),
            None => pages::signed_out().with_cookies(cookies).into_response(),
        })
    }

    /// Who an ID token this key manager signed names, expired or not; `None` for anything
    /// else (another issuer, a bad signature, an access token, a malformed token).
    pub fn verify_id_token_hint(&self, token: &str) -> Option<LogoutHint> {
        let inner = &self.inner;
        let keys = inner.signing.verifying_keys(inner.clock.now_ms());
        let verified = keygate_jose::verify_compact(token, &keys, &JwsAlgorithm::ALL).ok()?;
        let is_access_token = verified.header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if is_access_token {
            return None;
        }
        let claims = Claims::from_json(&verified.payload_bytes).ok()?;
        if claims.iss.as_deref() != Some(inner.settings.issuer.as_str()) {
            return None;
        }
        let client_id = claims
            .extra
            .get("azp")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| claims.aud.values().first().cloned())?;
        Some(LogoutHint {
            subject: claims.sub?,
            client_id,
        })
    }
}

/// Whether `uri` is exactly one of `client`'s registered redirect URIs.
fn registered_for(client: Option<&OAuthClient>, uri: &str) -> bool {
    client.is_some_and(|c| c.redirect_uris.iter().any(|registered| registered == uri))
}

/// `uri` with `state` added to its query (RP-Initiated Logout §3).
fn with_state(uri: &str, state: Option<&str>) -> String {
    let Some(state) = state else {
        return uri.to_owned();
    };
    let mut out = uri.to_owned();
    match out.find('?') {
        None => out.push('?'),
        Some(_) if out.ends_with('?') || out.ends_with('&') => {}
        Some(_) => out.push('&'),
    }
    out.push_str(&keygate_oauth::form::encode_pairs([("state", state)]));
    out
}

/// A logout request refused.
fn refusal(why: &str) -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-out request cannot be completed",
        &format!("The application sent an invalid request: {why}."),
        "invalid_request",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_joins_the_query() {
        assert_eq!(with_state("https://a/out", None), "https://a/out");
        assert_eq!(
            with_state("https://a/out", Some("x y")),
            "https://a/out?state=x+y"
        );
        assert_eq!(
            with_state("https://a/out?k=v", Some("s")),
            "https://a/out?k=v&state=s"
        );
    }

    #[test]
    fn only_exact_registrations_count() {
        let mut client = OAuthClient {
            client_id: "app".into(),
            tenant: Default::default(),
            secret_digest: None,
            client_name: "app".into(),
            owner: "admin".into(),
            redirect_uris: vec!["https://app.example/out".into()],
            grant_types: vec![],
            token_endpoint_auth_method: keygate_model::TokenEndpointAuthMethod::None,
            pkce_mandatory: false,
            pkce_plain_allowed: false,
            lifetimes: Default::default(),
            token_type: keygate_model::TokenType::Jwt,
            jwks: None,
            jwks_uri: None,
            tls_client_auth_subject_dn: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        assert!(registered_for(Some(&client), "https://app.example/out"));
        assert!(!registered_for(Some(&client), "https://app.example/out/"));
        assert!(!registered_for(Some(&client), "https://app.example/OUT"));
        assert!(!registered_for(None, "https://app.example/out"));
        client.redirect_uris = vec!["regexp=https://app.example/.*".into()];
        assert!(!registered_for(Some(&client), "https://app.example/out"));
    }
}
