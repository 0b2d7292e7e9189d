//! A browser for the authorization and logout pages: it keeps cookies, never follows a
//! redirect, reads the forms of the HTML it gets (hidden fields included) and posts them
//! back, through a key manager's router. With the clients and PKCE values the authorize
//! tests share.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{Km, Reply};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use keygate_km::KeyManager;
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Secret, Tenant, TokenEndpointAuthMethod, TokenType,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tower::ServiceExt;

/// The redirect URI every test client registers.
pub const CALLBACK: &str = "https://app.example/cb";
/// A second registered URI, for post-logout redirects.
pub const SIGNED_OUT: &str = "https://app.example/signed-out";
/// A PKCE code verifier (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The S256 challenge of [`VERIFIER`].
pub fn challenge() -> String {
    keygate_oauth::pkce::s256_challenge(VERIFIER)
}

/// A client registration for the code flow.
pub fn code_client(client_id: &str, method: TokenEndpointAuthMethod) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        tenant: Tenant::default(),
        secret_digest: None,
        client_name: format!("{client_id} app"),
        owner: "bob".into(),
        redirect_uris: vec![CALLBACK.into(), SIGNED_OUT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        token_endpoint_auth_method: method,
        pkce_mandatory: false,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes::default(),
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

/// Registers the public client `spa` (PKCE required) and the confidential client `web`
/// (secret `web-secret`).
pub async fn register_clients(km: &Km) {
    km.register(code_client("spa", TokenEndpointAuthMethod::None))
        .await;
    let mut web = code_client("web", TokenEndpointAuthMethod::ClientSecretBasic);
    web.secret_digest = Some(
        km.km
            .seal_client_secret(&Secret::new("web-secret"))
            .unwrap(),
    );
    km.register(web).await;
}

/// The query of an authorization request from `pairs`.
pub fn query(pairs: &[(&str, &str)]) -> String {
    format!(
        "/oauth2/authorize?{}",
        keygate_oauth::form::encode_pairs(pairs.iter().copied())
    )
}

/// The usual request of the public client: code, PKCE S256, `openid read write`, state
/// and nonce, with `extra` parameters added or replacing those.
pub fn spa_request(extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid read write"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        match pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value,
            None => pairs.push((name, value)),
        }
    }
    query(&pairs)
}

/// A response as the browser saw it.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Seen {
    /// The `Location` header.
    pub fn location(&self) -> Option<String> {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The query parameters of the `Location` redirect, which must go to `CALLBACK`.
    pub fn callback_params(&self) -> BTreeMap<String, String> {
        let location = self
            .location()
            .unwrap_or_else(|| panic!("no redirect: {} {}", self.status, self.html));
        let (base, query) = location.split_once('?').unwrap();
        assert_eq!(base, CALLBACK, "{location}");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The first form of the page.
    pub fn form(&self) -> HtmlForm {
        HtmlForm::first_in(&self.html)
            .unwrap_or_else(|| panic!("no form in {} {}", self.status, self.html))
    }

    /// Asserts the protections every interactive response carries.
    pub fn assert_protected(&self) {
        let csp = self.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(self.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(self.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(self.headers[header::REFERRER_POLICY], "no-referrer");
    }

    /// The `Set-Cookie` values.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A form read from HTML.
#[derive(Debug, Clone)]
pub struct HtmlForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl HtmlForm {
    /// The first `<form>` of `html` with its `<input>` fields.
    pub fn first_in(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let end = html[start..].find("</form>")? + start;
        let form = &html[start..end];
        let open_end = form.find('>')?;
        let action = attribute(&form[..open_end], "action").unwrap_or_default();
        let mut fields = Vec::new();
        let mut rest = &form[open_end..];
        while let Some(i) = rest.find("<input") {
            let tag_end = rest[i..].find('>')? + i;
            let tag = &rest[i..tag_end];
            if let Some(name) = attribute(tag, "name") {
                fields.push((name, attribute(tag, "value").unwrap_or_default()));
            }
            rest = &rest[tag_end..];
        }
        Some(Self { action, fields })
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field (adding it when absent).
    pub fn set(mut self, name: &str, value: &str) -> Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Drops a field.
    pub fn without(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self
    }
}

/// The value of attribute `name` in a tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: cookies kept, redirects not followed.
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
    pub peer: Option<SocketAddr>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            cookies: BTreeMap::new(),
            peer: None,
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn send(&mut self, km: &KeyManager, mut request: Request<Body>) -> Seen {
        if let Some(cookie) = self.cookie_header() {
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().unwrap());
        }
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let response = km.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Seen {
            status,
            headers,
            html: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// GETs `path_and_query` from `km`.
    pub async fn get(&mut self, km: &KeyManager, path_and_query: &str) -> Seen {
        let request = Request::get(path_and_query).body(Body::empty()).unwrap();
        self.send(km, request).await
    }

    /// POSTs `fields` to `path` of `km` as a form.
    pub async fn post(&mut self, km: &KeyManager, path: &str, fields: &[(String, String)]) -> Seen {
        let body =
            keygate_oauth::form::encode_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(km, request).await
    }

    /// Submits `form` to `km`.
    pub async fn submit(&mut self, km: &KeyManager, form: &HtmlForm) -> Seen {
        self.post(km, &form.action, &form.fields).await
    }

    /// Fills the login form of `page` and submits it.
    pub async fn sign_in(
        &mut self,
        km: &KeyManager,
        page: &Seen,
        user: &str,
        password: &str,
    ) -> Seen {
        let form = page.form().set("username", user).set("password", password);
        self.submit(km, &form).await
    }

    /// Answers the consent form of `page`.
    pub async fn answer_consent(&mut self, km: &KeyManager, page: &Seen, approve: bool) -> Seen {
        let form = page
            .form()
            .set("kg_consent", if approve { "approve" } else { "deny" });
        self.submit(km, &form).await
    }

    /// Whether the browser holds a session cookie.
    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("KGSESSION")
    }
}

/// Redeems `code` for the public client `spa` with the PKCE verifier.
pub async fn redeem_spa(km: &Km, code: &str) -> Reply {
    km.post(
        "/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await
}

/// The whole code flow for `alice` at the public client, from a fresh browser on `km`'s
/// router: login, consent (unless she approved before), code. Returns the browser and
/// the callback parameters.
pub async fn sign_in_and_approve(km: &Km) -> (Browser, BTreeMap<String, String>) {
    let mut browser = Browser::new();
    let login = browser.get(&km.km, &spa_request(&[])).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.html);
    let mut done = browser
        .sign_in(&km.km, &login, "alice", "alice-password")
        .await;
    if done.status == StatusCode::OK {
        assert_eq!(
            done.form().get("kg_action"),
            Some("consent"),
            "{}",
            done.html
        );
        done = browser.answer_consent(&km.km, &done, true).await;
    }
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let params = done.callback_params();
    (browser, params)
}
