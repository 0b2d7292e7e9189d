//! The authorization endpoint (`GET`/`POST /oauth2/authorize`, RFC 6749 §3.1, §4.1.1;
//! OIDC Core §3.1.2): a person signs in, approves the client, and goes back to the client
//! with an authorization code.
//!
//! A request is read (the query of a GET, the form body of a POST), its client loaded and
//! the request checked by [`AuthorizeRequest::validate`]. A missing or unknown client, or
//! a redirect URI that does not match a registered one exactly, is shown as an error page
//! and never redirected (RFC 6749 §4.1.2.1); every later error goes back to the verified
//! redirect URI with `error`, `state` and `iss` (RFC 9207). Only `response_type=code` is
//! served, PKCE `S256` is required of public clients and `plain` refused unless the
//! client allows it (RFC 7636, RFC 9700 §2.1.1).
//!
//! Then, in order: a login session (see [`crate::session`]) — or the login page when
//! there is none, when it is older than `max_age`, or when `prompt=login` (or
//! `select_account`) asks for a fresh sign-in; `prompt=none` turns the page into
//! `login_required`. The scopes the user gets (WSO2's role-based scope issuer). Consent
//! (see [`crate::consent`]) — the consent page, or `consent_required` under
//! `prompt=none`; a denial is `access_denied`. Finally a single-use code bound to the
//! client, redirect URI, PKCE challenge, nonce, scopes and time of authentication, valid
//! for the configured code lifetime (300 s by default), sent in the redirect's query or
//! fragment, or as a `form_post` page.
//!
//! The login and consent forms post back here with the authorization request in hidden
//! fields, so any key-manager node can take them; they carry a CSRF token
//! ([`crate::csrf`]), without which nothing is done. Failed sign-ins answer one generic
//! message, whether the user exists or not, and are braked per username and address
//! ([`crate::limiter`]).

use crate::csrf::{CSRF_COOKIE, CSRF_FIELD};
use crate::errors::Failure;
use crate::http::read_form;
use crate::limiter::attempt_key;
use crate::manager::KeyManager;
use crate::pages::{self, ConsentView, LoginView, Page};
use crate::session::{ActiveSession, Cookies, SESSION_COOKIE, clear_session_cookie};
use crate::settings::AUTHORIZE_PATH;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use keygate_model::{OAuthClient, Secret};
use keygate_oauth::{
    AuthorizationRedirect, AuthorizeClient, AuthorizeError, AuthorizeRequest, Form, OAuthError,
    ScopeSet,
};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The form field naming what one of our forms asks for.
pub const ACTION_FIELD: &str = "kg_action";
/// The consent form's answer: `approve` or `deny`.
pub const CONSENT_FIELD: &str = "kg_consent";
/// The login form's username.
pub const USERNAME_FIELD: &str = "username";
/// The login form's password.
pub const PASSWORD_FIELD: &str = "password";
/// `kg_action` of the login form.
pub const LOGIN_ACTION: &str = "login";
/// `kg_action` of the consent form.
pub const CONSENT_ACTION: &str = "consent";

/// Fields of our own forms: never read from an authorization request, never carried
/// along in hidden fields.
const RESERVED_FIELDS: &[&str] = &[
    ACTION_FIELD,
    CONSENT_FIELD,
    CSRF_FIELD,
    USERNAME_FIELD,
    PASSWORD_FIELD,
    "kg_logout",
];

/// What a failed sign-in says, whatever failed.
pub const BAD_CREDENTIALS: &str = "The username or password is incorrect.";
/// What a sign-in without a username or password says.
pub const MISSING_CREDENTIALS: &str = "Enter your username and password.";
/// What a sign-in with the right password to a locked or disabled account says.
pub const ACCOUNT_LOCKED: &str = "This account is locked or disabled. Contact your administrator.";
/// What the login page says when the session ended while the consent page was open.
pub const SESSION_ENDED: &str = "Your session has ended. Sign in again.";

/// A request to one of the interactive endpoints, read.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// The query (GET) or form body (POST).
    pub(crate) form: Form,
    /// The cookies sent.
    pub(crate) cookies: Cookies,
    /// The TCP peer.
    pub(crate) peer: Option<IpAddr>,
    /// Whether it came as a POST.
    pub(crate) posted: bool,
}

impl Incoming {
    /// Reads the parameters — the query of a GET or HEAD, the form body of a POST, with
    /// the checks of [`read_form`] — or the error page to answer instead.
    pub(crate) async fn read(request: Request) -> Result<Self, Response> {
        let cookies = Cookies::from_headers(request.headers());
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let posted = request.method() == Method::POST;
        let form = if posted {
            read_form(request)
                .await
                .map(|read| read.form)
                .map_err(|failure| failure_page(&failure).into_response())?
        } else {
            Form::parse(request.uri().query().unwrap_or_default().as_bytes())
                .map_err(|e| oauth_error_page(&e).into_response())?
        };
        Ok(Self {
            form,
            cookies,
            peer,
            posted,
        })
    }

    /// The status of a redirect answering this request: `303 See Other` after a POST, so
    /// that the browser follows with a GET, `302 Found` after a GET.
    pub(crate) fn redirect_status(&self) -> StatusCode {
        if self.posted {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        }
    }

    /// The parameters to carry in hidden fields: all but our own fields.
    pub(crate) fn carried_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for name in self.form.names() {
            if RESERVED_FIELDS.contains(&name) {
                continue;
            }
            for value in self.form.get_all(name) {
                fields.push((name.to_owned(), value.clone()));
            }
        }
        fields
    }
}

/// An error page for an OAuth error that must not be redirected.
pub(crate) fn oauth_error_page(error: &OAuthError) -> Page {
    let (status, heading, message) = match error {
        OAuthError::InvalidClient { .. } => (
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "The application that sent you here is not registered. Go back to it and try \
             again, or tell its developers."
                .to_owned(),
        ),
        OAuthError::ServerError(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The sign-in service could not complete your request. Try again later.".to_owned(),
        ),
        OAuthError::TemporarilyUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The sign-in service is temporarily unavailable. Try again in a moment.".to_owned(),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            format!(
                "The application sent an invalid request{}",
                other
                    .description()
                    .map(|d| format!(": {d}."))
                    .unwrap_or_else(|| ".".to_owned())
            ),
        ),
    };
    pages::error(status, heading, &message, error.as_str())
}

/// An error page for a failure met before a redirect URI was verified.
pub(crate) fn failure_page(failure: &Failure) -> Page {
    let page = oauth_error_page(&failure.oauth_error());
    if matches!(failure, Failure::TooLarge | Failure::MethodNotAllowed) {
        return pages::error(
            failure.status(),
            "This request cannot be completed",
            "The request was not one this page accepts.",
            "invalid_request",
        );
    }
    page
}

/// The page answering a form without a valid CSRF token.
pub(crate) fn forged_form_page() -> Page {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This form has expired",
        "The form you sent has expired or did not come from this site, so nothing was done. \
         Go back to the application and start again.",
        "invalid_request",
    )
}

/// The hidden fields of one of our forms, and the CSRF cookie to set with it.
#[derive(Debug)]
pub(crate) struct FormFields {
    /// `name`/`value` of each hidden input.
    pub(crate) hidden: Vec<(String, String)>,
    /// `Set-Cookie` of a new CSRF cookie.
    pub(crate) csrf_cookie: Option<String>,
}

/// A checked authorization request on its way through login and consent.
struct Flow<'a> {
    incoming: &'a Incoming,
    client: OAuthClient,
    request: AuthorizeRequest,
}

impl KeyManager {
    /// Answers `GET`/`POST /oauth2/authorize`.
    pub(crate) async fn authorize(&self, request: Request) -> Response {
        let incoming = match Incoming::read(request).await {
            Ok(incoming) => incoming,
            Err(page) => return page,
        };
        let client_id = match AuthorizeRequest::client_id_of(&incoming.form) {
            Ok(client_id) => client_id,
            Err(error) => return self.authorize_error(&incoming, &error),
        };
        let client = match self.inner.stores.clients().client(client_id).await {
            Ok(Some(client)) if client.tenant == self.inner.settings.tenant => client,
            Ok(_) => return self.authorize_error(&incoming, &AuthorizeError::unknown_client()),
            Err(error) => return failure_page(&Failure::from(error)).into_response(),
        };
        let checked = AuthorizeClient::from_client(&client)
            .and_then(|checked| AuthorizeRequest::validate(&incoming.form, &checked));
        let request = match checked {
            Ok(request) => request,
            Err(error) => return self.authorize_error(&incoming, &error),
        };
        let flow = Flow {
            incoming: &incoming,
            client,
            request,
        };
        let action = incoming.form.get(ACTION_FIELD);
        let outcome = match action {
            None => self.continue_flow(&flow, None, Vec::new()).await,
            Some(_) if !incoming.posted => Ok(pages::error(
                StatusCode::BAD_REQUEST,
                "This request cannot be completed",
                "Forms of this page must be posted.",
                "invalid_request",
            )
            .into_response()),
            Some(LOGIN_ACTION) => self.login_submitted(&flow).await,
            Some(CONSENT_ACTION) => self.consent_submitted(&flow).await,
            Some(_) => Ok(pages::error(
                StatusCode::BAD_REQUEST,
                "This request cannot be completed",
                "The form asked for something this page does not do.",
                "invalid_request",
            )
            .into_response()),
        };
        outcome.unwrap_or_else(|failure| {
            let error = failure.oauth_error();
            let redirect = flow
                .request
                .error_response(&error, Some(&self.inner.settings.issuer));
            self.respond(&flow, &redirect, Vec::new())
        })
    }

    /// An error of a request not yet (or not fully) checked: a page when it must be
    /// shown to the user, else a redirect to the verified redirect URI.
    fn authorize_error(&self, incoming: &Incoming, error: &AuthorizeError) -> Response {
        let issuer = &self.inner.settings.issuer;
        tracing::debug!(
            error = error.error().as_str(),
            "authorization request refused"
        );
        match error.redirect(Some(issuer)) {
            Some(redirect) => respond_with(incoming, &redirect, Vec::new()),
            None => oauth_error_page(error.error()).into_response(),
        }
    }

    /// Sends an authorization response (success or error) to the client.
    fn respond(
        &self,
        flow: &Flow<'_>,
        redirect: &AuthorizationRedirect,
        cookies: Vec<String>,
    ) -> Response {
        respond_with(flow.incoming, redirect, cookies)
    }

    /// Signs the user in when needed, then asks for consent when needed, then issues the
    /// code. `fresh` is a session started by this very request.
    async fn continue_flow(
        &self,
        flow: &Flow<'_>,
        fresh: Option<ActiveSession>,
        mut cookies: Vec<String>,
    ) -> Result<Response, Failure> {
        let inner = &self.inner;
        let prompt = flow.request.prompt;
        let just_signed_in = fresh.is_some();
        let session = match fresh {
            Some(session) => Some(session),
            None => {
                let found = inner.current_session(&flow.incoming.cookies).await?;
                if found.is_none() && flow.incoming.cookies.get(SESSION_COOKIE).is_some() {
                    // The browser holds the cookie of a session that has ended.
                    cookies.push(clear_session_cookie());
                }
                found
            }
        };
        let reauthenticate = |session: &ActiveSession| {
            prompt.login
                || prompt.select_account
                || flow.request.max_age.is_some_and(|max_age| {
                    inner.clock.now().saturating_sub(session.auth_time())
                        > Duration::from_secs(max_age)
                })
        };
        let session = match session {
            Some(session) if just_signed_in || !reauthenticate(&session) => session,
            _ if prompt.none => {
                return Ok(self.redirect_error(
                    flow,
                    &OAuthError::login_required("the user is not signed in"),
                    cookies,
                ));
            }
            _ => {
                return self
                    .login_page(flow, StatusCode::OK, None, None, cookies, None)
                    .await;
            }
        };
        let scopes = inner
            .grant_scopes(Some(&flow.request.scope), &session.user.roles)
            .await?;
        let client_id = &flow.client.client_id;
        if !inner.settings.login.consent.skips(client_id) {
            let remembered = !prompt.consent
                && inner
                    .has_consent(&session.user.username, client_id, &scopes)
                    .await?;
            if !remembered {
                if prompt.none {
                    return Ok(self.redirect_error(
                        flow,
                        &OAuthError::consent_required("the user has not approved this client"),
                        cookies,
                    ));
                }
                return self.consent_page(flow, &session, &scopes, cookies).await;
            }
        }
        self.issue_code(flow, &session, &scopes, cookies).await
    }

    /// The login form posted.
    async fn login_submitted(&self, flow: &Flow<'_>) -> Result<Response, Failure> {
        if !self.form_is_genuine(flow.incoming) {
            tracing::info!(client_id = %flow.client.client_id, "login form without a valid CSRF token");
            return Ok(forged_form_page().into_response());
        }
        let inner = &self.inner;
        let form = &flow.incoming.form;
        let (Some(username), Some(password)) = (form.get(USERNAME_FIELD), form.get(PASSWORD_FIELD))
        else {
            return self
                .login_page(
                    flow,
                    StatusCode::OK,
                    form.get(USERNAME_FIELD),
                    Some(MISSING_CREDENTIALS),
                    Vec::new(),
                    None,
                )
                .await;
        };
        let now = inner.clock.now();
        let key = attempt_key(username, flow.incoming.peer);
        let attempts = &inner.interaction.attempts;
        if let Some(wait) = attempts.retry_after(&key, now) {
            tracing::warn!(client_id = %flow.client.client_id, "sign-in refused after repeated failures");
            let minutes = wait.as_secs().div_ceil(60).max(1);
            let message = format!(
                "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            return self
                .login_page(
                    flow,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(username),
                    Some(&message),
                    Vec::new(),
                    Some(wait.as_secs().max(1)),
                )
                .await;
        }
        let password = Secret::new(password);
        let user = inner
            .stores
            .users()
            .authenticate(username, &password)
            .await?;
        let message = match user {
            Some(user) if !user.is_locked() => {
                attempts.clear(&key);
                let (session, cookie) = inner.start_session(user, &flow.incoming.cookies).await?;
                return self.continue_flow(flow, Some(session), vec![cookie]).await;
            }
            Some(_) => ACCOUNT_LOCKED,
            None => BAD_CREDENTIALS,
        };
        attempts.record_failure(&key, now);
        tracing::info!(client_id = %flow.client.client_id, "sign-in failed");
        self.login_page(
            flow,
            StatusCode::OK,
            Some(username),
            Some(message),
            Vec::new(),
            None,
        )
        .await
    }

    /// The consent form posted.
    async fn consent_submitted(&self, flow: &Flow<'_>) -> Result<Response, Failure> {
        if !self.form_is_genuine(flow.incoming) {
            tracing::info!(client_id = %flow.client.client_id, "consent form without a valid CSRF token");
            return Ok(forged_form_page().into_response());
        }
        let inner = &self.inner;
        let Some(session) = inner.current_session(&flow.incoming.cookies).await? else {
            return self
                .login_page(
                    flow,
                    StatusCode::OK,
                    None,
                    Some(SESSION_ENDED),
                    Vec::new(),
                    None,
                )
                .await;
        };
        match flow.incoming.form.get(CONSENT_FIELD) {
            Some("approve") => {
                let scopes = inner
                    .grant_scopes(Some(&flow.request.scope), &session.user.roles)
                    .await?;
                inner
                    .remember_consent(&session.user.username, &flow.client.client_id, &scopes)
                    .await?;
                self.issue_code(flow, &session, &scopes, Vec::new()).await
            }
            Some("deny") => {
                tracing::info!(client_id = %flow.client.client_id, "the user denied consent");
                Ok(self.redirect_error(
                    flow,
                    &OAuthError::access_denied("the user denied the request"),
                    Vec::new(),
                ))
            }
            _ => Ok(pages::error(
                StatusCode::BAD_REQUEST,
                "This request cannot be completed",
                "The consent form was sent without an answer.",
                "invalid_request",
            )
            .into_response()),
        }
    }

    /// Whether a posted form carries the CSRF token of the browser's cookie.
    pub(crate) fn form_is_genuine(&self, incoming: &Incoming) -> bool {
        self.inner.interaction.csrf.verify(
            incoming.cookies.get(CSRF_COOKIE),
            incoming.form.get(CSRF_FIELD),
            self.inner.clock.now(),
        )
    }

    /// The hidden fields of one of our forms: the request, `kg_action` and a CSRF token
    /// bound to the browser's cookie — and the cookie to set, when it is new.
    pub(crate) fn form_fields(
        &self,
        incoming: &Incoming,
        action: &str,
    ) -> Result<FormFields, Failure> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let binding = inner.interaction.csrf.binding(
            incoming.cookies.get(CSRF_COOKIE),
            now,
            inner.settings.login.form_lifetime,
            inner.entropy.as_ref(),
        )?;
        let mut fields = incoming.carried_fields();
        fields.push((ACTION_FIELD.to_owned(), action.to_owned()));
        fields.push((
            CSRF_FIELD.to_owned(),
            inner.interaction.csrf.token(&binding),
        ));
        Ok(FormFields {
            hidden: fields,
            csrf_cookie: binding.set_cookie(now),
        })
    }

    async fn login_page(
        &self,
        flow: &Flow<'_>,
        status: StatusCode,
        username: Option<&str>,
        message: Option<&str>,
        cookies: Vec<String>,
        retry_after: Option<u64>,
    ) -> Result<Response, Failure> {
        let FormFields {
            hidden,
            csrf_cookie,
        } = self.form_fields(flow.incoming, LOGIN_ACTION)?;
        let body = pages::login(&LoginView {
            action: AUTHORIZE_PATH,
            client_name: &flow.client.client_name,
            hidden: &hidden,
            username,
            message,
        });
        let mut page = Page::new(status, "Sign in", body)
            .with_form_target(&flow.request.redirect_uri)
            .with_cookies(cookies)
            .with_cookies(csrf_cookie);
        if let Some(seconds) = retry_after {
            page = page.with_retry_after(seconds);
        }
        Ok(page.into_response())
    }

    async fn consent_page(
        &self,
        flow: &Flow<'_>,
        session: &ActiveSession,
        scopes: &ScopeSet,
        cookies: Vec<String>,
    ) -> Result<Response, Failure> {
        let FormFields {
            hidden,
            csrf_cookie,
        } = self.form_fields(flow.incoming, CONSENT_ACTION)?;
        let lines = self.inner.scope_lines(scopes).await?;
        let body = pages::consent(&ConsentView {
            action: AUTHORIZE_PATH,
            client_name: &flow.client.client_name,
            username: &session.user.username,
            scopes: &lines,
            hidden: &hidden,
        });
        Ok(Page::new(StatusCode::OK, "Allow access", body)
            .with_form_target(&flow.request.redirect_uri)
            .with_cookies(cookies)
            .with_cookies(csrf_cookie)
            .into_response())
    }

    /// Issues the code and sends it to the client.
    async fn issue_code(
        &self,
        flow: &Flow<'_>,
        session: &ActiveSession,
        scopes: &ScopeSet,
        cookies: Vec<String>,
    ) -> Result<Response, Failure> {
        let code = self
            .issue_authorization_code_at(
                &flow.request,
                &session.user.username,
                scopes,
                Some(session.auth_time()),
            )
            .await?;
        self.inner.touch_session(session).await;
        let redirect = flow
            .request
            .success(code.expose(), Some(&self.inner.settings.issuer));
        Ok(self.respond(flow, &redirect, cookies))
    }

    /// An error after the request was checked, sent to the client.
    fn redirect_error(
        &self,
        flow: &Flow<'_>,
        error: &OAuthError,
        cookies: Vec<String>,
    ) -> Response {
        let redirect = flow
            .request
            .error_response(error, Some(&self.inner.settings.issuer));
        self.respond(flow, &redirect, cookies)
    }
}

/// A redirect, or the `form_post` page, carrying `redirect`.
fn respond_with(
    incoming: &Incoming,
    redirect: &AuthorizationRedirect,
    cookies: Vec<String>,
) -> Response {
    match redirect.location() {
        Some(location) => pages::redirect(incoming.redirect_status(), &location, &cookies),
        None => pages::form_post(redirect)
            .with_cookies(cookies)
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_fields_are_never_carried_along() {
        let incoming = Incoming {
            form: Form::parse(
                b"client_id=app&scope=openid&username=alice&password=pw&kg_csrf=t&kg_action=login&resource=https%3A%2F%2Fa",
            )
            .unwrap(),
            cookies: Cookies::default(),
            peer: None,
            posted: true,
        };
        assert_eq!(
            incoming.carried_fields(),
            [
                ("client_id".to_owned(), "app".to_owned()),
                ("resource".to_owned(), "https://a".to_owned()),
                ("scope".to_owned(), "openid".to_owned()),
            ]
        );
        assert_eq!(incoming.redirect_status(), StatusCode::SEE_OTHER);
    }

    #[test]
    fn shown_errors_never_echo_markup() {
        let page = oauth_error_page(&OAuthError::invalid_request("redirect_uri <bad>"));
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.html().contains("redirect_uri &lt;bad&gt;"));
        let unknown = oauth_error_page(AuthorizeError::unknown_client().error());
        assert!(unknown.html().contains("Unknown application"));
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    }
}
