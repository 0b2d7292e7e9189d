//! The HTML the key manager shows to people — the login, consent, error, logout and
//! `form_post` pages of `/oauth2/authorize` and `/oidc/logout` — rendered on the server
//! from plain HTML and the stylesheet in `assets/pages.css`, usable without JavaScript and
//! with a screen reader (every input has a label, errors are announced as alerts).
//!
//! Every response of those endpoints, pages and redirects alike, carries the same
//! protections: `Content-Security-Policy: default-src 'none'; style-src 'self'
//! 'unsafe-inline'; form-action 'self' …; frame-ancestors 'none'` — where `form-action`
//! also names the origin of the client's verified redirect URI, because a form the user
//! submits here ends in a redirect (or, for `form_post`, a POST) to it and browsers hold
//! the redirect to the policy of the form's page — `X-Frame-Options: DENY`,
//! `Cache-Control: no-store`, `Referrer-Policy: no-referrer` and
//! `X-Content-Type-Options: nosniff`. The one script, which submits a `form_post`
//! response by itself, is allowed by its hash; without it the page shows a button.

use aws_lc_rs::digest;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keygate_oauth::AuthorizationRedirect;
use std::fmt::Write as _;

/// The stylesheet every page carries inline.
pub const STYLESHEET: &str = include_str!("../assets/pages.css");

/// The script that posts a `form_post` response without waiting for the user.
const AUTO_SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `<input type="hidden">` for each pair.
pub fn hidden_fields<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        let _ = writeln!(
            out,
            r#"<input type="hidden" name="{}" value="{}">"#,
            escape(name),
            escape(value)
        );
    }
    out
}

/// The CSP source expression for the origin of `uri`: `scheme://host[:port]`, or
/// `scheme:` for a URI without a host (a native app's private-use scheme). `None` when
/// `uri` does not parse.
pub fn origin_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let origin = url.origin();
    let source = if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        format!("{}:", url.scheme())
    };
    // What goes into the header is plain ASCII without separators, or nothing.
    source
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'\'')
        .then_some(source)
}

/// The `Content-Security-Policy` of a page whose forms may lead to `form_targets`
/// (origins, besides this server) and that runs the script with `script_hash`, if any.
pub fn content_security_policy(form_targets: &[String], script_hash: Option<&str>) -> String {
    let mut policy = String::from("default-src 'none'; style-src 'self' 'unsafe-inline'; ");
    if let Some(hash) = script_hash {
        let _ = write!(policy, "script-src '{hash}'; ");
    }
    policy.push_str("form-action 'self'");
    for target in form_targets {
        policy.push(' ');
        policy.push_str(target);
    }
    policy.push_str("; frame-ancestors 'none'");
    policy
}

/// Adds the security headers every page and redirect of the interactive endpoints
/// carries.
pub fn protect(headers: &mut HeaderMap, policy: &str) {
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("pragma"),
        HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn add_cookies(headers: &mut HeaderMap, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// An HTML page on its way out.
#[derive(Debug, Clone)]
pub struct Page {
    status: StatusCode,
    title: String,
    body: String,
    form_targets: Vec<String>,
    script: bool,
    cookies: Vec<String>,
    retry_after: Option<u64>,
}

impl Page {
    /// A page with `title` (text) and `body` (HTML, already escaped).
    pub fn new(status: StatusCode, title: &str, body: String) -> Self {
        Self {
            status,
            title: title.to_owned(),
            body,
            form_targets: Vec::new(),
            script: false,
            cookies: Vec::new(),
            retry_after: None,
        }
    }

    /// Allows the page's forms to lead to the origin of `uri`.
    pub fn with_form_target(mut self, uri: &str) -> Self {
        if let Some(source) = origin_source(uri)
            && !self.form_targets.contains(&source)
        {
            self.form_targets.push(source);
        }
        self
    }

    /// Sets cookies (`Set-Cookie` values) with the page.
    pub fn with_cookies(mut self, cookies: impl IntoIterator<Item = String>) -> Self {
        self.cookies.extend(cookies);
        self
    }

    /// Says when to try again (`Retry-After`, seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The whole document.
    pub fn html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <title>{} · keygate</title>\n<style>\n{STYLESHEET}</style>\n</head>\n<body>\n\
             <main>\n<p class=\"brand\">keygate</p>\n{}{}</main>\n</body>\n</html>\n",
            escape(&self.title),
            self.body,
            if self.script {
                format!("<script>{AUTO_SUBMIT_SCRIPT}</script>\n")
            } else {
                String::new()
            },
        )
    }
}

/// `'sha256-…'` of the auto-submit script, as CSP names it.
fn script_hash() -> String {
    let hash = digest::digest(&digest::SHA256, AUTO_SUBMIT_SCRIPT.as_bytes());
    format!("sha256-{}", STANDARD.encode(hash.as_ref()))
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let hash = self.script.then(script_hash);
        let policy = content_security_policy(&self.form_targets, hash.as_deref());
        let mut response = (self.status, self.html()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        protect(headers, &policy);
        add_cookies(headers, &self.cookies);
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A redirect to `location` (`302` after a GET, `303` after a POST so that the browser
/// follows with a GET), with the page protections and `cookies`.
pub fn redirect(status: StatusCode, location: &str, cookies: &[String]) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    protect(headers, &content_security_policy(&[], None));
    add_cookies(headers, cookies);
    response
}

/// An error shown to the person at the browser, never sent to a client.
pub fn error(status: StatusCode, heading: &str, message: &str, code: &str) -> Page {
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p class=\"muted\">Error code: <code>{}</code></p>\n",
        escape(heading),
        escape(message),
        escape(code)
    );
    Page::new(status, heading, body)
}

/// The `form_post` response (OAuth 2.0 Form Post Response Mode §2): a form of the
/// response parameters posted to the client's redirect URI by a script, or by the user
/// with the visible button when scripts do not run.
pub fn form_post(response: &AuthorizationRedirect) -> Page {
    let fields = hidden_fields(response.params().iter().map(|(k, v)| (*k, v.as_str())));
    let body = format!(
        "<h1>Returning to the application</h1>\n\
         <p>If the application does not open by itself, continue below.</p>\n\
         <form method=\"post\" action=\"{}\">\n{fields}\
         <div class=\"actions\"><button type=\"submit\">Continue</button></div>\n</form>\n",
        escape(response.redirect_uri())
    );
    let mut page = Page::new(StatusCode::OK, "Returning to the application", body)
        .with_form_target(response.redirect_uri());
    page.script = true;
    page
}

/// What the login page shows.
#[derive(Debug)]
pub struct LoginView<'a> {
    /// Where the form posts.
    pub action: &'a str,
    /// The client's name.
    pub client_name: &'a str,
    /// Hidden fields: the authorization request, the action and the CSRF token.
    pub hidden: &'a [(String, String)],
    /// The username to fill in again.
    pub username: Option<&'a str>,
    /// What went wrong the last time.
    pub message: Option<&'a str>,
}

/// The login form.
pub fn login(view: &LoginView<'_>) -> String {
    let alert = view
        .message
        .map(|m| format!("<div class=\"alert\" role=\"alert\">{}</div>\n", escape(m)))
        .unwrap_or_default();
    let (user_focus, password_focus) = match view.username {
        Some(_) => ("", " autofocus"),
        None => (" autofocus", ""),
    };
    format!(
        "<h1>Sign in</h1>\n<p class=\"muted\">to continue to <strong>{client}</strong></p>\n\
         {alert}<form method=\"post\" action=\"{action}\">\n{hidden}\
         <label for=\"username\">Username</label>\n\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required value=\"{username}\"{user_focus}>\n\
         <label for=\"password\">Password</label>\n\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required{password_focus}>\n\
         <div class=\"actions\"><button type=\"submit\">Sign in</button></div>\n</form>\n",
        client = escape(view.client_name),
        action = escape(view.action),
        hidden = hidden_fields(view.hidden.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        username = escape(view.username.unwrap_or_default()),
    )
}

/// A scope as the consent page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLine {
    /// The scope.
    pub name: String,
    /// What it allows, when known.
    pub description: Option<String>,
}

/// What the consent page shows.
#[derive(Debug)]
pub struct ConsentView<'a> {
    /// Where the form posts.
    pub action: &'a str,
    /// The client's name.
    pub client_name: &'a str,
    /// The user signed in.
    pub username: &'a str,
    /// The scopes the client would get.
    pub scopes: &'a [ScopeLine],
    /// Hidden fields: the authorization request, the action and the CSRF token.
    pub hidden: &'a [(String, String)],
}

/// The consent form: allow or deny.
pub fn consent(view: &ConsentView<'_>) -> String {
    let mut items = String::new();
    for scope in view.scopes {
        let _ = write!(
            items,
            "<li><span class=\"scope\">{}</span>",
            escape(&scope.name)
        );
        if let Some(description) = &scope.description {
            let _ = write!(
                items,
                "<span class=\"muted\">{}</span>",
                escape(description)
            );
        }
        items.push_str("</li>\n");
    }
    format!(
        "<h1>Allow {client} to access your account?</h1>\n\
         <p class=\"muted\">Signed in as <strong>{user}</strong></p>\n\
         <p><strong>{client}</strong> is asking for:</p>\n<ul class=\"scopes\">\n{items}</ul>\n\
         <form method=\"post\" action=\"{action}\">\n{hidden}\
         <div class=\"actions\">\
         <button type=\"submit\" name=\"kg_consent\" value=\"approve\">Allow</button>\
         <button type=\"submit\" class=\"secondary\" name=\"kg_consent\" value=\"deny\">Deny</button>\
         </div>\n</form>\n",
        client = escape(view.client_name),
        user = escape(view.username),
        action = escape(view.action),
        hidden = hidden_fields(view.hidden.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

/// The question asked before signing out when the request does not prove which client
/// sent it (OIDC RP-Initiated Logout §2).
pub fn logout_confirmation(
    action: &str,
    client_name: Option<&str>,
    hidden: &[(String, String)],
) -> String {
    let from = client_name
        .map(|name| format!(" You were sent here by <strong>{}</strong>.", escape(name)))
        .unwrap_or_default();
    format!(
        "<h1>Sign out?</h1>\n<p>Do you want to sign out of keygate?{from}</p>\n\
         <form method=\"post\" action=\"{action}\">\n{hidden}\
         <div class=\"actions\">\
         <button type=\"submit\" name=\"kg_logout\" value=\"yes\">Sign out</button>\
         <button type=\"submit\" class=\"secondary\" name=\"kg_logout\" value=\"no\">Stay signed in</button>\
         </div>\n</form>\n",
        action = escape(action),
        hidden = hidden_fields(hidden.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

/// After signing out, when there is no client to return to.
pub fn signed_out() -> Page {
    Page::new(
        StatusCode::OK,
        "Signed out",
        "<h1>You have signed out</h1>\n<p>You can close this window.</p>\n".into(),
    )
}

/// After choosing to stay signed in.
pub fn still_signed_in() -> Page {
    Page::new(
        StatusCode::OK,
        "Still signed in",
        "<h1>You are still signed in</h1>\n<p>You can close this window.</p>\n".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_oauth::ResponseMode;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            hidden_fields([("state", "\"><script>")]),
            "<input type=\"hidden\" name=\"state\" value=\"&quot;&gt;&lt;script&gt;\">\n"
        );
    }

    #[test]
    fn origins_for_the_form_action() {
        assert_eq!(
            origin_source("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin_source("https://app.example/cb").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            origin_source("com.example.app:/oauth2redirect").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(origin_source("not a uri"), None);
    }

    #[test]
    fn policy_names_self_targets_and_script() {
        assert_eq!(
            content_security_policy(&[], None),
            "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'"
        );
        let with = content_security_policy(&["https://app.example".into()], Some("sha256-x"));
        assert!(with.contains("script-src 'sha256-x'; "), "{with}");
        assert!(
            with.contains("form-action 'self' https://app.example;"),
            "{with}"
        );
    }

    #[tokio::test]
    async fn form_post_pages_allow_exactly_their_script_and_target() {
        let redirect = AuthorizationRedirect::success(
            "https://app.example/cb",
            ResponseMode::FormPost,
            "the-code",
            Some("s<1>"),
            Some("https://km.example/oauth2/token"),
        );
        let response = form_post(&redirect).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let expected_hash = format!(
            "'sha256-{}'",
            STANDARD.encode(digest::digest(
                &digest::SHA256,
                AUTO_SUBMIT_SCRIPT.as_bytes()
            ))
        );
        assert!(
            csp.contains(&format!("script-src {expected_hash}")),
            "{csp}"
        );
        assert!(
            csp.contains("form-action 'self' https://app.example;"),
            "{csp}"
        );
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("action=\"https://app.example/cb\""));
        assert!(html.contains("name=\"code\" value=\"the-code\""));
        assert!(html.contains("name=\"state\" value=\"s&lt;1&gt;\""));
        assert!(html.contains(&format!("<script>{AUTO_SUBMIT_SCRIPT}</script>")));
        assert!(html.contains("<button type=\"submit\">Continue</button>"));
    }

    #[test]
    fn login_fields_have_labels_and_values_are_escaped() {
        let hidden = vec![("client_id".to_owned(), "app\"1".to_owned())];
        let html = login(&LoginView {
            action: "/oauth2/authorize",
            client_name: "<b>App</b>",
            hidden: &hidden,
            username: Some("al\"ice"),
            message: Some("Wrong <password>"),
        });
        assert!(html.contains("<label for=\"username\">"));
        assert!(html.contains("<label for=\"password\">"));
        assert!(html.contains("id=\"username\""));
        assert!(html.contains("id=\"password\""));
        assert!(html.contains("&lt;b&gt;App&lt;/b&gt;"));
        assert!(html.contains("value=\"al&quot;ice\""));
        assert!(html.contains("role=\"alert\">Wrong &lt;password&gt;"));
        assert!(html.contains("value=\"app&quot;1\""));
        assert!(!html.contains("<script"));
    }
}
