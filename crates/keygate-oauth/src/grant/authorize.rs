//! Requests to the authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) checked
//! into an [`AuthorizeRequest`], and where their errors go (RFC 6749 §4.1.2.1): a missing,
//! unknown or mismatching client or redirect URI is shown to the user and never redirected
//! ([`AuthorizeError::ShowToUser`]); once the redirect URI is verified, every other error
//! is sent back to it with `state` ([`AuthorizeError::Redirect`]).
//!
//! The caller parses the query (or body) into a [`Form`] — a form that fails to parse is
//! shown to the user, since its redirect URI cannot be trusted yet — reads the client id
//! with [`AuthorizeRequest::client_id_of`], loads that client, and calls
//! [`AuthorizeRequest::validate`].

use crate::error::OAuthError;
use crate::form::Form;
use crate::pkce::{PkceChallenge, PkcePolicy, accept_challenge};
use crate::redirect::{AuthorizationRedirect, RegisteredRedirects, ResponseMode};
use crate::scope::ScopeSet;
use keygate_model::OAuthClient;

use super::grant_types;

/// What the authorization endpoint needs to know about the client.
#[derive(Debug, Clone)]
pub struct AuthorizeClient {
    /// Client id.
    pub client_id: String,
    /// Registered redirect URIs.
    pub redirects: RegisteredRedirects,
    /// Whether the client may use the authorization code grant.
    pub code_grant_allowed: bool,
    /// PKCE requirements.
    pub pkce: PkcePolicy,
}

impl AuthorizeClient {
    /// From a registered client. Redirect URIs that do not parse are shown to the user as
    /// `invalid_redirect_uri`: the registration is at fault, not the request.
    pub fn from_client(client: &OAuthClient) -> Result<Self, AuthorizeError> {
        Ok(Self {
            client_id: client.client_id.clone(),
            redirects: RegisteredRedirects::parse(&client.redirect_uris)
                .map_err(AuthorizeError::ShowToUser)?,
            code_grant_allowed: client.allows_grant(grant_types::AUTHORIZATION_CODE),
            pkce: PkcePolicy::for_client(client),
        })
    }
}

/// `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no user interaction; fail with `login_required` or `consent_required`.
    pub none: bool,
    /// `login`: authenticate again.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
    /// `select_account`: let the user choose an account.
    pub select_account: bool,
}

impl Prompt {
    /// Parses the space-delimited `prompt`. An unknown value, or `none` with another, is
    /// `invalid_request` (OIDC Core §3.1.2.1).
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        let mut prompt = Self::default();
        for token in value.unwrap_or("").split(' ').filter(|t| !t.is_empty()) {
            match token {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                _ => return Err(OAuthError::invalid_request("unsupported prompt value")),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(OAuthError::invalid_request(
                "prompt none cannot be combined with other values",
            ));
        }
        Ok(prompt)
    }
}

/// Where an authorization request's error goes (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// Shown to the user agent, never redirected: the client id or redirect URI is missing,
    /// unknown or does not match.
    #[error("{0}")]
    ShowToUser(OAuthError),
    /// Sent to the client's verified redirect URI.
    #[error("{error}")]
    Redirect {
        /// The error.
        error: OAuthError,
        /// The verified redirect URI.
        redirect_uri: String,
        /// How to send it.
        response_mode: ResponseMode,
        /// `state` from the request, returned as it came.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// The error shown for a `client_id` the server does not know.
    pub fn unknown_client() -> Self {
        Self::ShowToUser(OAuthError::invalid_client("unknown client"))
    }

    /// The OAuth error, wherever it goes.
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::ShowToUser(error) | Self::Redirect { error, .. } => error,
        }
    }

    /// The redirect carrying the error, with `iss` (RFC 9207); `None` when the error must
    /// be shown to the user instead.
    pub fn redirect(&self, issuer: Option<&str>) -> Option<AuthorizationRedirect> {
        match self {
            Self::ShowToUser(_) => None,
            Self::Redirect {
                error,
                redirect_uri,
                response_mode,
                state,
            } => Some(AuthorizationRedirect::error(
                redirect_uri,
                *response_mode,
                error,
                state.as_deref(),
                issuer,
            )),
        }
    }
}

/// A checked authorization request for `response_type=code` (RFC 6749 §4.1.1, RFC 7636
/// §4.3, OIDC Core §3.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// Client id.
    pub client_id: String,
    /// The verified redirect URI the response goes to.
    pub redirect_uri: String,
    /// `redirect_uri` as the request sent it, if it did: store it with the code, since the
    /// token request must then repeat it (RFC 6749 §4.1.3).
    pub requested_redirect_uri: Option<String>,
    /// How the response travels.
    pub response_mode: ResponseMode,
    /// Requested scope; empty when none was requested.
    pub scope: ScopeSet,
    /// `state`, returned as it came.
    pub state: Option<String>,
    /// OIDC `nonce`, repeated in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge accepted under the client's policy.
    pub pkce: Option<PkceChallenge>,
    /// OIDC `prompt`.
    pub prompt: Prompt,
    /// OIDC `max_age`, seconds.
    pub max_age: Option<u64>,
}

impl AuthorizeRequest {
    /// The `client_id` of a request, to load the client with; missing is shown to the
    /// user (RFC 6749 §4.1.2.1).
    pub fn client_id_of(form: &Form) -> Result<&str, AuthorizeError> {
        form.require("client_id")
            .map_err(AuthorizeError::ShowToUser)
    }

    /// Checks a request against the client it names. The client id and redirect URI are
    /// checked first and their errors shown to the user; after that, errors are redirected.
    pub fn validate(form: &Form, client: &AuthorizeClient) -> Result<Self, AuthorizeError> {
        let client_id = Self::client_id_of(form)?;
        if client_id != client.client_id {
            return Err(AuthorizeError::ShowToUser(OAuthError::invalid_request(
                "client_id does not name this client",
            )));
        }
        let requested_redirect_uri = form.get("redirect_uri");
        let redirect_uri = client
            .redirects
            .resolve(requested_redirect_uri)
            .map_err(AuthorizeError::ShowToUser)?;

        let state = form.get("state").map(str::to_owned);
        let (response_mode, mode_error) = match ResponseMode::parse(form.get("response_mode")) {
            Ok(mode) => (mode, None),
            Err(e) => (ResponseMode::Query, Some(e)),
        };
        let redirect = |error: OAuthError| AuthorizeError::Redirect {
            error,
            redirect_uri: redirect_uri.clone(),
            response_mode,
            state: state.clone(),
        };
        if let Some(e) = mode_error {
            return Err(redirect(e));
        }

        match form.get("response_type") {
            None => return Err(redirect(OAuthError::missing_parameter("response_type"))),
            Some("code") => {}
            Some(_) => {
                return Err(redirect(OAuthError::unsupported_response_type(
                    "only response_type code is supported",
                )));
            }
        }
        if !client.code_grant_allowed {
            return Err(redirect(OAuthError::unauthorized_client(
                "the client may not use the authorization code grant",
            )));
        }
        let scope = form
            .get("scope")
            .map(ScopeSet::parse)
            .transpose()
            .map_err(redirect)?
            .unwrap_or_default();
        let pkce = accept_challenge(
            form.get("code_challenge"),
            form.get("code_challenge_method"),
            client.pkce,
        )
        .map_err(redirect)?;
        let prompt = Prompt::parse(form.get("prompt")).map_err(redirect)?;
        let max_age = form
            .get("max_age")
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    OAuthError::invalid_request("max_age must be a non-negative integer")
                })
            })
            .transpose()
            .map_err(redirect)?;

        Ok(Self {
            client_id: client_id.to_owned(),
            requested_redirect_uri: requested_redirect_uri.map(str::to_owned),
            redirect_uri: redirect_uri.clone(),
            response_mode,
            scope,
            state: state.clone(),
            nonce: form.get("nonce").map(str::to_owned),
            pkce,
            prompt,
            max_age,
        })
    }

    /// The successful response carrying `code` (RFC 6749 §4.1.2, RFC 9207 §2).
    pub fn success(&self, code: &str, issuer: Option<&str>) -> AuthorizationRedirect {
        AuthorizationRedirect::success(
            &self.redirect_uri,
            self.response_mode,
            code,
            self.state.as_deref(),
            issuer,
        )
    }

    /// An error decided after validation — the user denied (`access_denied`), or
    /// `prompt=none` could not be honoured — sent to the verified redirect URI.
    pub fn error_response(
        &self,
        error: &OAuthError,
        issuer: Option<&str>,
    ) -> AuthorizationRedirect {
        AuthorizationRedirect::error(
            &self.redirect_uri,
            self.response_mode,
            error,
            self.state.as_deref(),
            issuer,
        )
    }
}

#[cfg(test)]
mod tests;
