//! Redirection endpoints (RFC 6749 §3.1.2): which `redirect_uri` an authorization request
//! may use, and the redirect that carries its response back.
//!
//! Matching is exact string comparison (RFC 6749 §3.1.2.3, OAuth 2.1 §2.3.1), with two
//! additions: WSO2's `regexp=` callback form (`regexp=(https://a/cb|https://b/cb)`), a
//! regular expression anchored to the whole URI and evaluated by the `regex` crate in linear
//! time with bounded size; and any port for loopback redirect URIs `http://127.0.0.1` and
//! `http://[::1]` of native apps (RFC 8252 §7.3). Redirect URIs are absolute and carry no
//! fragment (RFC 6749 §3.1.2). The response is added to the URI's query or fragment, or
//! posted (OAuth 2.0 Form Post Response Mode), with `iss` (RFC 9207 §2).

use crate::error::OAuthError;
use regex::{Regex, RegexBuilder};
use std::fmt;

/// Prefix of WSO2's regular-expression callback URL.
pub const REGEXP_PREFIX: &str = "regexp=";

/// Longest redirect URI or `regexp=` pattern accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;

/// Bound on a compiled `regexp=` pattern, in bytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Schemes never accepted as a redirect target, registered or requested.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file"];

/// Loopback hosts whose port may vary (RFC 8252 §7.3), as written after `http://`.
const LOOPBACK_PREFIXES: &[&str] = &["http://127.0.0.1", "http://[::1]"];

/// One registered redirect URI: a string compared exactly, or a WSO2 `regexp=` pattern.
#[derive(Debug, Clone)]
pub enum RegisteredRedirect {
    /// A URI compared exactly (or with any port, for a loopback URI).
    Exact(String),
    /// A `regexp=` pattern, anchored to the whole requested URI.
    Pattern {
        /// The pattern as registered, without `regexp=`.
        source: String,
        /// The compiled, anchored expression.
        regex: Regex,
    },
}

impl RegisteredRedirect {
    /// Parses one registered value: `regexp=…` is a pattern, anything else an absolute URI
    /// without fragment. Errors are `invalid_redirect_uri` (RFC 7591 §3.2.2).
    pub fn parse(value: &str) -> Result<Self, OAuthError> {
        if value.len() > MAX_REDIRECT_URI_LEN {
            return Err(invalid_registration("redirect URI too long"));
        }
        if let Some(source) = value.strip_prefix(REGEXP_PREFIX) {
            let regex = RegexBuilder::new(&format!("^(?:{source})$"))
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|_| invalid_registration("invalid regexp redirect URI"))?;
            return Ok(Self::Pattern {
                source: source.to_owned(),
                regex,
            });
        }
        check_uri(value).map_err(invalid_registration)?;
        Ok(Self::Exact(value.to_owned()))
    }

    /// Whether `requested` (already checked by [`check_uri`]) matches this registration.
    fn matches(&self, requested: &str) -> bool {
        match self {
            Self::Exact(registered) => {
                registered == requested || loopback_matches(registered, requested)
            }
            Self::Pattern { regex, .. } => regex.is_match(requested),
        }
    }
}

fn invalid_registration(text: &'static str) -> OAuthError {
    OAuthError::InvalidRedirectUri(Some(crate::error::Description::new(text)))
}

/// A client's registered redirect URIs (`OAuthClient::redirect_uris`).
#[derive(Debug, Clone, Default)]
pub struct RegisteredRedirects(Vec<RegisteredRedirect>);

impl RegisteredRedirects {
    /// Parses every registered value; the first bad one is `invalid_redirect_uri`.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, OAuthError> {
        values
            .iter()
            .map(|v| RegisteredRedirect::parse(v.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The registrations.
    pub fn entries(&self) -> &[RegisteredRedirect] {
        &self.0
    }

    /// Whether `requested` is a valid redirect URI matching one of the registrations.
    pub fn matches(&self, requested: &str) -> bool {
        check_uri(requested).is_ok() && self.0.iter().any(|r| r.matches(requested))
    }

    /// The redirect URI an authorization request will use (RFC 6749 §3.1.2.3): the
    /// requested one when it matches a registration; the single registered URI when none
    /// was requested; otherwise `invalid_request`, an error that must be shown to the user
    /// and never redirected (RFC 6749 §4.1.2.1).
    pub fn resolve(&self, requested: Option<&str>) -> Result<String, OAuthError> {
        match requested {
            Some(uri) => {
                check_uri(uri).map_err(OAuthError::invalid_request)?;
                if self.0.iter().any(|r| r.matches(uri)) {
                    Ok(uri.to_owned())
                } else {
                    Err(OAuthError::invalid_request(
                        "redirect_uri does not match a registered redirect URI",
                    ))
                }
            }
            None => match self.0.as_slice() {
                [RegisteredRedirect::Exact(only)] => Ok(only.clone()),
                [] => Err(OAuthError::invalid_request(
                    "the client has no registered redirect URI",
                )),
                _ => Err(OAuthError::missing_parameter("redirect_uri")),
            },
        }
    }
}

/// Checks that `uri` may be a redirect target: absolute (RFC 3986 §4.3), no fragment (RFC
/// 6749 §3.1.2), not too long, not a script or data scheme. The error is a description.
pub fn check_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err("redirect_uri too long");
    }
    if uri.contains('#') {
        return Err("redirect_uri must not contain a fragment");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("redirect_uri is not a valid absolute URI");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "redirect_uri is not a valid absolute URI")?;
    if FORBIDDEN_SCHEMES.contains(&parsed.scheme()) {
        return Err("redirect_uri scheme is not allowed");
    }
    Ok(())
}

/// RFC 8252 §7.3: a registered loopback URI matches a requested one that differs only in
/// the port.
fn loopback_matches(registered: &str, requested: &str) -> bool {
    match (split_loopback(registered), split_loopback(requested)) {
        (Some((host_a, rest_a)), Some((host_b, rest_b))) => host_a == host_b && rest_a == rest_b,
        _ => false,
    }
}

/// Splits `http://127.0.0.1[:port]rest` or `http://[::1][:port]rest` into the host prefix
/// and what follows the port; `None` for other URIs or an invalid port.
fn split_loopback(uri: &str) -> Option<(&'static str, &str)> {
    for prefix in LOOPBACK_PREFIXES {
        let Some(after_host) = uri.strip_prefix(prefix) else {
            continue;
        };
        let rest = match after_host.strip_prefix(':') {
            Some(with_port) => {
                let digits = with_port.bytes().take_while(u8::is_ascii_digit).count();
                let port: u16 = with_port[..digits].parse().ok()?;
                if port == 0 {
                    return None;
                }
                &with_port[digits..]
            }
            None => after_host,
        };
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
            return Some((prefix, rest));
        }
        return None;
    }
    None
}

/// How the authorization response travels (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1; OAuth 2.0 Form Post Response Mode §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the redirect URI's query, the default for `response_type=code`.
    #[default]
    Query,
    /// In the redirect URI's fragment.
    Fragment,
    /// As an auto-submitted HTML form posted to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// Parses `response_mode`; absent is [`ResponseMode::Query`]; unknown is
    /// `invalid_request`.
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        match value {
            None | Some("query") => Ok(Self::Query),
            Some("fragment") => Ok(Self::Fragment),
            Some("form_post") => Ok(Self::FormPost),
            Some(_) => Err(OAuthError::invalid_request("unsupported response_mode")),
        }
    }

    /// The `response_mode` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
        }
    }
}

/// An authorization response on its way to the client's verified redirect URI: success
/// (`code`, `state`, `iss`; RFC 6749 §4.1.2, RFC 9207 §2) or error (`error`,
/// `error_description`, `state`, `iss`; RFC 6749 §4.1.2.1). `Debug` hides the code.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationRedirect {
    redirect_uri: String,
    mode: ResponseMode,
    params: Vec<(&'static str, String)>,
}

impl AuthorizationRedirect {
    /// A successful response carrying `code`.
    pub fn success(
        redirect_uri: &str,
        mode: ResponseMode,
        code: &str,
        state: Option<&str>,
        issuer: Option<&str>,
    ) -> Self {
        let mut params = vec![("code", code.to_owned())];
        push_common(&mut params, state, issuer);
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// An error response.
    pub fn error(
        redirect_uri: &str,
        mode: ResponseMode,
        error: &OAuthError,
        state: Option<&str>,
        issuer: Option<&str>,
    ) -> Self {
        let mut params = vec![("error", error.as_str().to_owned())];
        if let Some(d) = error.description() {
            params.push(("error_description", d.to_owned()));
        }
        push_common(&mut params, state, issuer);
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// The redirect URI the response goes to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// How it goes.
    pub fn mode(&self) -> ResponseMode {
        self.mode
    }

    /// The response parameters, in order (for `form_post`, the form's fields).
    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    /// The `Location` of a 302/303 redirect: the parameters added to the URI's query
    /// (keeping the query it has, RFC 6749 §3.1.2) or put in its fragment. `None` for
    /// `form_post`, which the caller renders as a form to [`Self::redirect_uri`].
    pub fn location(&self) -> Option<String> {
        let encoded = crate::form::encode_pairs(self.params.iter().map(|(k, v)| (*k, v.as_str())));
        let mut url = self.redirect_uri.clone();
        match self.mode {
            ResponseMode::Query => {
                match url.find('?') {
                    None => url.push('?'),
                    Some(_) if url.ends_with('?') || url.ends_with('&') => {}
                    Some(_) => url.push('&'),
                }
                url.push_str(&encoded);
                Some(url)
            }
            ResponseMode::Fragment => {
                url.push('#');
                url.push_str(&encoded);
                Some(url)
            }
            ResponseMode::FormPost => None,
        }
    }
}

fn push_common(
    params: &mut Vec<(&'static str, String)>,
    state: Option<&str>,
    issuer: Option<&str>,
) {
    if let Some(state) = state {
        params.push(("state", state.to_owned()));
    }
    if let Some(issuer) = issuer {
        params.push(("iss", issuer.to_owned()));
    }
}

impl fmt::Debug for AuthorizationRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (*k, if *k == "code" { "***" } else { v.as_str() }))
            .collect();
        f.debug_struct("AuthorizationRedirect")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .field("params", &shown)
            .finish()
    }
}

#[cfg(test)]
mod tests;
