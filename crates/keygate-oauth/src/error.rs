//! The OAuth 2.0 error object (RFC 6749 §4.1.2.1, §5.2) as one enum, [`OAuthError`], whose
//! codes are the strings the RFCs define, plus the HTTP status and challenge each one
//! carries. Descriptions are short, fixed sentences or parameter names: they never hold a
//! secret, token, code or password, and are restricted to the characters RFC 6749 §5.2
//! allows in `error_description`.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Longest `error_description` kept; longer ones are cut.
pub const MAX_DESCRIPTION_LEN: usize = 256;

/// A human-readable `error_description` (RFC 6749 §5.2): only `%x20-21 / %x23-5B / %x5D-7E`
/// and at most [`MAX_DESCRIPTION_LEN`] characters; other characters become `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(Cow<'static, str>);

impl Description {
    /// A description from a fixed sentence or one that names a parameter.
    pub fn new(text: impl Into<Cow<'static, str>>) -> Self {
        let text = text.into();
        let clean = text.chars().all(is_description_char) && text.len() <= MAX_DESCRIPTION_LEN;
        if clean {
            return Self(text);
        }
        let cleaned: String = text
            .chars()
            .take(MAX_DESCRIPTION_LEN)
            .map(|c| if is_description_char(c) { c } else { '?' })
            .collect();
        Self(Cow::Owned(cleaned))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `c` may appear in `error_description` (RFC 6749 §5.2, `%x20-21 / %x23-5B /
/// %x5D-7E`: printable ASCII without `"` and `\`).
fn is_description_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

/// Optional description carried by every [`OAuthError`] variant.
pub type Detail = Option<Description>;

/// An OAuth 2.0 error as the RFCs name it. [`OAuthError::as_str`] is the `error` code,
/// [`OAuthError::status`] the HTTP status, [`OAuthError::to_json`] the response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_request` (RFC 6749 §4.1.2.1, §5.2): a parameter is missing, invalid or
    /// repeated, or more than one client authentication method was used.
    #[error("invalid_request{}", suffix(.0))]
    InvalidRequest(Detail),
    /// `invalid_client` (RFC 6749 §5.2): client authentication failed. 401; when the client
    /// used HTTP Basic (`basic_challenge`), the response carries `WWW-Authenticate: Basic`.
    #[error("invalid_client{}", suffix(.description))]
    InvalidClient {
        /// What went wrong, without the credential.
        description: Detail,
        /// Whether the client tried the `Authorization` header, so the 401 must carry a
        /// `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
        basic_challenge: bool,
    },
    /// `invalid_grant` (RFC 6749 §5.2): the code, refresh token, credentials or assertion
    /// are invalid, expired, revoked, issued to another client, or the redirect URI or
    /// PKCE verifier does not match (RFC 7636 §4.6).
    #[error("invalid_grant{}", suffix(.0))]
    InvalidGrant(Detail),
    /// `unauthorized_client` (RFC 6749 §4.1.2.1, §5.2): the client may not use this grant
    /// or response type.
    #[error("unauthorized_client{}", suffix(.0))]
    UnauthorizedClient(Detail),
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    #[error("unsupported_grant_type{}", suffix(.0))]
    UnsupportedGrantType(Detail),
    /// `invalid_scope` (RFC 6749 §4.1.2.1, §5.2): malformed scope, or more than the
    /// original grant on a refresh (RFC 6749 §6).
    #[error("invalid_scope{}", suffix(.0))]
    InvalidScope(Detail),
    /// `access_denied` (RFC 6749 §4.1.2.1): the resource owner or server denied the request.
    #[error("access_denied{}", suffix(.0))]
    AccessDenied(Detail),
    /// `unsupported_response_type` (RFC 6749 §4.1.2.1).
    #[error("unsupported_response_type{}", suffix(.0))]
    UnsupportedResponseType(Detail),
    /// `server_error` (RFC 6749 §4.1.2.1): an unexpected condition; 500 when not redirected.
    #[error("server_error{}", suffix(.0))]
    ServerError(Detail),
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1): overload or maintenance; 503 when not
    /// redirected.
    #[error("temporarily_unavailable{}", suffix(.0))]
    TemporarilyUnavailable(Detail),
    /// `invalid_token` (RFC 6750 §3.1): the access token is expired, revoked or malformed;
    /// 401 with a `Bearer` challenge.
    #[error("invalid_token{}", suffix(.0))]
    InvalidToken(Detail),
    /// `insufficient_scope` (RFC 6750 §3.1): the token lacks a required scope; 403.
    #[error("insufficient_scope{}", suffix(.0))]
    InsufficientScope(Detail),
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2): a registered redirect URI is invalid.
    #[error("invalid_redirect_uri{}", suffix(.0))]
    InvalidRedirectUri(Detail),
    /// `invalid_client_metadata` (RFC 7591 §3.2.2): a registered metadata value is invalid.
    #[error("invalid_client_metadata{}", suffix(.0))]
    InvalidClientMetadata(Detail),
    /// `unsupported_token_type` (RFC 7009 §2.2.1): the server cannot revoke this type.
    #[error("unsupported_token_type{}", suffix(.0))]
    UnsupportedTokenType(Detail),
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): the DPoP proof is missing or invalid.
    #[error("invalid_dpop_proof{}", suffix(.0))]
    InvalidDpopProof(Detail),
    /// `login_required` (OIDC Core §3.1.2.6): `prompt=none` was asked but the user is not
    /// signed in.
    #[error("login_required{}", suffix(.0))]
    LoginRequired(Detail),
    /// `consent_required` (OIDC Core §3.1.2.6): `prompt=none` was asked but the user has
    /// not consented.
    #[error("consent_required{}", suffix(.0))]
    ConsentRequired(Detail),
    /// `interaction_required` (OIDC Core §3.1.2.6): `prompt=none` was asked but the
    /// request needs the user.
    #[error("interaction_required{}", suffix(.0))]
    InteractionRequired(Detail),
}

/// `": description"` or nothing, for `Display`.
fn suffix(detail: &Detail) -> String {
    match detail {
        Some(d) => format!(": {d}"),
        None => String::new(),
    }
}

fn detail(text: impl Into<Cow<'static, str>>) -> Detail {
    Some(Description::new(text))
}

impl OAuthError {
    /// `invalid_request` with a description.
    pub fn invalid_request(text: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidRequest(detail(text))
    }

    /// `invalid_request` for a missing required parameter, naming it.
    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_request(format!("missing parameter: {name}"))
    }

    /// `invalid_client` for a client that did not use the `Authorization` header.
    pub fn invalid_client(text: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidClient {
            description: detail(text),
            basic_challenge: false,
        }
    }

    /// `invalid_client` for a client that used HTTP Basic: the 401 carries a challenge.
    pub fn invalid_client_basic(text: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidClient {
            description: detail(text),
            basic_challenge: true,
        }
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(text: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidGrant(detail(text))
    }

    /// `unauthorized_client` with a description.
    pub fn unauthorized_client(text: impl Into<Cow<'static, str>>) -> Self {
        Self::UnauthorizedClient(detail(text))
    }

    /// `unsupported_grant_type` with a description.
    pub fn unsupported_grant_type(text: impl Into<Cow<'static, str>>) -> Self {
        Self::UnsupportedGrantType(detail(text))
    }

    /// `invalid_scope` with a description.
    pub fn invalid_scope(text: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidScope(detail(text))
    }

    /// `access_denied` with a description.
    pub fn access_denied(text: impl Into<Cow<'static, str>>) -> Self {
        Self::AccessDenied(detail(text))
    }

    /// `unsupported_response_type` with a description.
    pub fn unsupported_response_type(text: impl Into<Cow<'static, str>>) -> Self {
        Self::UnsupportedResponseType(detail(text))
    }

    /// `server_error` with a description.
    pub fn server_error(text: impl Into<Cow<'static, str>>) -> Self {
        Self::ServerError(detail(text))
    }

    /// `login_required` with a description.
    pub fn login_required(text: impl Into<Cow<'static, str>>) -> Self {
        Self::LoginRequired(detail(text))
    }

    /// `consent_required` with a description.
    pub fn consent_required(text: impl Into<Cow<'static, str>>) -> Self {
        Self::ConsentRequired(detail(text))
    }

    /// The `error` code, exactly as the RFCs spell it.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied(_) => "access_denied",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::ServerError(_) => "server_error",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::InteractionRequired(_) => "interaction_required",
        }
    }

    /// The `error_description`, if any.
    pub fn description(&self) -> Option<&str> {
        match self {
            Self::InvalidClient { description, .. } => description.as_ref(),
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::AccessDenied(d)
            | Self::UnsupportedResponseType(d)
            | Self::ServerError(d)
            | Self::TemporarilyUnavailable(d)
            | Self::InvalidToken(d)
            | Self::InsufficientScope(d)
            | Self::InvalidRedirectUri(d)
            | Self::InvalidClientMetadata(d)
            | Self::UnsupportedTokenType(d)
            | Self::InvalidDpopProof(d)
            | Self::LoginRequired(d)
            | Self::ConsentRequired(d)
            | Self::InteractionRequired(d) => d.as_ref(),
        }
        .map(Description::as_str)
    }

    /// HTTP status when the error is answered directly rather than redirected: 400 for the
    /// RFC 6749 §5.2 errors, 401 for `invalid_client` (as WSO2 answers, and required with
    /// Basic) and `invalid_token` (RFC 6750 §3.1), 403 for `insufficient_scope`, 500 for
    /// `server_error` and 503 for `temporarily_unavailable`.
    pub const fn status(&self) -> u16 {
        match self {
            Self::InvalidClient { .. } | Self::InvalidToken(_) => 401,
            Self::InsufficientScope(_) => 403,
            Self::ServerError(_) => 500,
            Self::TemporarilyUnavailable(_) => 503,
            _ => 400,
        }
    }

    /// The `WWW-Authenticate` header value the response must carry, if any: `Basic
    /// realm="…"` for `invalid_client` after HTTP Basic (RFC 6749 §5.2), a `Bearer`
    /// challenge for `invalid_token` and `insufficient_scope` (RFC 6750 §3).
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        let realm = quoted(realm);
        match self {
            Self::InvalidClient {
                basic_challenge: true,
                ..
            } => Some(format!("Basic realm=\"{realm}\"")),
            Self::InvalidToken(_) | Self::InsufficientScope(_) => {
                let mut value = format!("Bearer realm=\"{realm}\", error=\"{}\"", self.as_str());
                if let Some(d) = self.description() {
                    value.push_str(&format!(", error_description=\"{d}\""));
                }
                Some(value)
            }
            _ => None,
        }
    }

    /// The error response body (RFC 6749 §5.2): `{"error": …, "error_description": …}`,
    /// the description only when there is one.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(self.as_str().into()));
        if let Some(d) = self.description() {
            body.insert("error_description".into(), Value::String(d.into()));
        }
        Value::Object(body)
    }

    /// The same error with another description.
    pub fn with_description(self, text: impl Into<Cow<'static, str>>) -> Self {
        let d = detail(text);
        match self {
            Self::InvalidClient {
                basic_challenge, ..
            } => Self::InvalidClient {
                description: d,
                basic_challenge,
            },
            Self::InvalidRequest(_) => Self::InvalidRequest(d),
            Self::InvalidGrant(_) => Self::InvalidGrant(d),
            Self::UnauthorizedClient(_) => Self::UnauthorizedClient(d),
            Self::UnsupportedGrantType(_) => Self::UnsupportedGrantType(d),
            Self::InvalidScope(_) => Self::InvalidScope(d),
            Self::AccessDenied(_) => Self::AccessDenied(d),
            Self::UnsupportedResponseType(_) => Self::UnsupportedResponseType(d),
            Self::ServerError(_) => Self::ServerError(d),
            Self::TemporarilyUnavailable(_) => Self::TemporarilyUnavailable(d),
            Self::InvalidToken(_) => Self::InvalidToken(d),
            Self::InsufficientScope(_) => Self::InsufficientScope(d),
            Self::InvalidRedirectUri(_) => Self::InvalidRedirectUri(d),
            Self::InvalidClientMetadata(_) => Self::InvalidClientMetadata(d),
            Self::UnsupportedTokenType(_) => Self::UnsupportedTokenType(d),
            Self::InvalidDpopProof(_) => Self::InvalidDpopProof(d),
            Self::LoginRequired(_) => Self::LoginRequired(d),
            Self::ConsentRequired(_) => Self::ConsentRequired(d),
            Self::InteractionRequired(_) => Self::InteractionRequired(d),
        }
    }
}

/// A realm as the inside of a quoted-string: `"` and `\` dropped.
fn quoted(realm: &str) -> String {
    realm
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<OAuthError> {
        vec![
            OAuthError::InvalidRequest(None),
            OAuthError::InvalidClient {
                description: None,
                basic_challenge: false,
            },
            OAuthError::InvalidGrant(None),
            OAuthError::UnauthorizedClient(None),
            OAuthError::UnsupportedGrantType(None),
            OAuthError::InvalidScope(None),
            OAuthError::AccessDenied(None),
            OAuthError::UnsupportedResponseType(None),
            OAuthError::ServerError(None),
            OAuthError::TemporarilyUnavailable(None),
            OAuthError::InvalidToken(None),
            OAuthError::InsufficientScope(None),
            OAuthError::InvalidRedirectUri(None),
            OAuthError::InvalidClientMetadata(None),
            OAuthError::UnsupportedTokenType(None),
            OAuthError::InvalidDpopProof(None),
            OAuthError::LoginRequired(None),
            OAuthError::ConsentRequired(None),
            OAuthError::InteractionRequired(None),
        ]
    }

    #[test]
    fn codes_are_the_rfc_strings() {
        let codes: Vec<&str> = every_variant().iter().map(OAuthError::as_str).collect();
        assert_eq!(
            codes,
            [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
                "access_denied",
                "unsupported_response_type",
                "server_error",
                "temporarily_unavailable",
                "invalid_token",
                "insufficient_scope",
                "invalid_redirect_uri",
                "invalid_client_metadata",
                "unsupported_token_type",
                "invalid_dpop_proof",
                "login_required",
                "consent_required",
                "interaction_required",
            ]
        );
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        for e in every_variant() {
            let expected = match e.as_str() {
                "invalid_client" | "invalid_token" => 401,
                "insufficient_scope" => 403,
                "server_error" => 500,
                "temporarily_unavailable" => 503,
                _ => 400,
            };
            assert_eq!(e.status(), expected, "{}", e.as_str());
        }
    }

    #[test]
    fn with_description_keeps_the_code_of_every_variant() {
        for e in every_variant() {
            let code = e.as_str();
            let described = e.with_description("why");
            assert_eq!(described.as_str(), code);
            assert_eq!(described.description(), Some("why"));
            assert_eq!(described.to_string(), format!("{code}: why"));
        }
    }

    #[test]
    fn json_body_has_error_and_description() {
        let e = OAuthError::invalid_grant("authorization code expired");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": "invalid_grant", "error_description": "authorization code expired"})
        );
        let bare = OAuthError::UnsupportedGrantType(None);
        assert_eq!(
            bare.to_json(),
            serde_json::json!({"error": "unsupported_grant_type"})
        );
        assert_eq!(bare.to_string(), "unsupported_grant_type");
    }

    #[test]
    fn basic_challenge_only_after_basic() {
        let basic = OAuthError::invalid_client_basic("client authentication failed");
        assert_eq!(basic.status(), 401);
        assert_eq!(
            basic.www_authenticate("keygate").as_deref(),
            Some("Basic realm=\"keygate\"")
        );
        let post = OAuthError::invalid_client("client authentication failed");
        assert_eq!(post.status(), 401);
        assert_eq!(post.www_authenticate("keygate"), None);
        let kept = basic.with_description("other");
        assert!(matches!(
            kept,
            OAuthError::InvalidClient {
                basic_challenge: true,
                ..
            }
        ));
        assert_eq!(OAuthError::invalid_grant("x").www_authenticate("r"), None);
    }

    #[test]
    fn bearer_challenge_for_resource_errors() {
        let e = OAuthError::InvalidToken(Some(Description::new("expired")));
        assert_eq!(
            e.www_authenticate("api\"x").as_deref(),
            Some("Bearer realm=\"apix\", error=\"invalid_token\", error_description=\"expired\"")
        );
        let s = OAuthError::InsufficientScope(None);
        assert_eq!(
            s.www_authenticate("api").as_deref(),
            Some("Bearer realm=\"api\", error=\"insufficient_scope\"")
        );
    }

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        let d = Description::new("bad \"value\"\\ \u{e9}\n");
        assert_eq!(d.as_str(), "bad ?value?? ??");
        let long = Description::new("x".repeat(1000));
        assert_eq!(long.as_str().len(), MAX_DESCRIPTION_LEN);
        assert!(matches!(
            Description::new("fixed").0,
            Cow::Borrowed("fixed")
        ));
        assert_eq!(
            OAuthError::missing_parameter("code").description(),
            Some("missing parameter: code")
        );
    }
}
