//! Every way a call through the gateway can fail, and the one place those failures become
//! HTTP responses (DESIGN §7): a JSON body `{"code":900901,"message":"Invalid
//! Credentials","description":"..."}` with WSO2's codes, messages and statuses,
//! `WWW-Authenticate` on every 401 (RFC 6750 §3) and on 403 for a missing scope, and
//! `Retry-After` on every 429 (RFC 9110 §10.2.3).
//!
//! Each [`GatewayError`] also says where it came from ([`ErrorSource`]: the client, the
//! backend or key manager upstream, or the gateway itself) and whether trying again may
//! help, as pingora's errors do, so logs and metrics can tell a bad token from a dead
//! backend. No error carries bytes of the request: descriptions are fixed texts.

use axum::body::Body;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use keygate_model::{BlockConditionType, KeyType};
use keygate_throttle::ThrottleCode;
use serde::Serialize;
use std::fmt;

/// Where a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorSource {
    /// The caller: its token, its path, its headers, its quota.
    Client,
    /// A peer the gateway called: the backend, the key manager, a JWKS endpoint.
    Upstream,
    /// The gateway itself: configuration or a bug.
    Internal,
}

impl ErrorSource {
    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Internal => "internal",
        }
    }
}

/// Why a token was refused as invalid (900901). Kept for logs; callers see one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not a JWT the gateway can read, and no key validator for opaque tokens.
    Malformed,
    /// `alg` refused (`none`, HMAC, not allowed) or no key for the token.
    Refused,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not a trusted issuer.
    UnknownIssuer,
    /// The header's `typ` is not an access-token type.
    WrongType,
    /// `nbf` is in the future, or a required claim is absent.
    ClaimsRejected,
    /// The token was revoked.
    Revoked,
    /// The key manager says the token is not valid.
    KeyManagerRejected,
    /// A production (or sandbox) key on an API without that endpoint.
    NoEndpointForKeyType(KeyType),
}

impl InvalidToken {
    fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Refused => "refused",
            Self::BadSignature => "bad signature",
            Self::UnknownIssuer => "unknown issuer",
            Self::WrongType => "wrong type",
            Self::ClaimsRejected => "claims rejected",
            Self::Revoked => "revoked",
            Self::KeyManagerRejected => "rejected by the key manager",
            Self::NoEndpointForKeyType(KeyType::Production) => "production key, no endpoint",
            Self::NoEndpointForKeyType(KeyType::Sandbox) => "sandbox key, no endpoint",
        }
    }
}

/// How a call to the backend failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The connection was refused or could not be made (101503).
    ConnectFailed,
    /// The connection was not established within the connect timeout (101504).
    ConnectTimeout,
    /// The response head did not arrive within the response timeout (101504).
    ResponseTimeout,
    /// The backend closed the connection or broke the protocol (101505).
    ConnectionClosed,
    /// The TLS handshake with the backend failed (101503).
    Tls,
}

/// Every refusal or failure of a call through the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// 900900: authentication failed for a reason that is not the caller's, e.g. the key
    /// manager could not be reached.
    #[error("unclassified authentication failure ({0})")]
    AuthenticationFailure(&'static str),
    /// 900901.
    #[error("invalid credentials ({})", .0.label())]
    InvalidCredentials(InvalidToken),
    /// 900902.
    #[error("missing credentials")]
    MissingCredentials,
    /// 900903.
    #[error("access token expired")]
    TokenExpired,
    /// 900904.
    #[error("access token inactive")]
    TokenInactive,
    /// 900905: an application token on an end-user resource or the reverse.
    #[error("incorrect access token type")]
    IncorrectTokenType,
    /// 900906.
    #[error("no matching resource")]
    NoMatchingResource,
    /// 900907: the API is in the BLOCKED state.
    #[error("API blocked")]
    ApiBlocked,
    /// 900907: the subscription is BLOCKED, or PROD_ONLY_BLOCKED and the key is a
    /// production key.
    #[error("subscription blocked")]
    SubscriptionBlocked,
    /// 900908: the application has no subscription to the API.
    #[error("resource forbidden: no subscription")]
    ResourceForbidden,
    /// 900909: the subscription is ON_HOLD or REJECTED.
    #[error("subscription inactive")]
    SubscriptionInactive,
    /// 900910.
    #[error("invalid scope")]
    InvalidScope,
    /// 900911: a certificate-bound token without its certificate.
    #[error("mutual TLS failure")]
    MutualTlsFailure,
    /// 900800-900804, 900806.
    #[error("throttled ({code})")]
    Throttled {
        /// Which limit.
        code: ThrottleCode,
        /// Seconds until it lets requests through again.
        retry_after_secs: u64,
    },
    /// 900805: a deny condition matches.
    #[error("blocked by a {} deny condition", .0.as_str())]
    Blocked(BlockConditionType),
    /// 404: no API is deployed at the path.
    #[error("no API at this path")]
    ApiNotFound,
    /// 431: the request's headers are larger than allowed.
    #[error("request headers too large")]
    HeadersTooLarge,
    /// 413: the request body is larger than allowed.
    #[error("request body too large")]
    BodyTooLarge,
    /// 400: the request cannot be forwarded as it is.
    #[error("bad request ({0})")]
    BadRequest(&'static str),
    /// 502 or 504: the backend could not be reached or did not answer in time.
    #[error("backend call failed: {0:?}")]
    Upstream(UpstreamFailure),
    /// 500: the gateway could not process the request.
    #[error("internal gateway error ({0})")]
    Internal(&'static str),
}

/// The JSON body of an error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u32,
    message: &'a str,
    description: &'a str,
}

/// The realm in `WWW-Authenticate`.
pub const REALM: &str = "keygate";

const WWW_INVALID_TOKEN: &str = "Bearer realm=\"keygate\", error=\"invalid_token\"";
const WWW_NO_TOKEN: &str = "Bearer realm=\"keygate\"";
const WWW_INSUFFICIENT_SCOPE: &str = "Bearer realm=\"keygate\", error=\"insufficient_scope\"";

impl GatewayError {
    /// A token refused as invalid (900901).
    pub fn unauthenticated(reason: InvalidToken) -> Self {
        Self::InvalidCredentials(reason)
    }

    /// A request over a limit (429 with `Retry-After`); the deny-condition code 900805
    /// becomes a 403 [`GatewayError::Blocked`], as it is no limit.
    pub fn throttled(code: ThrottleCode, retry_after_secs: u64) -> Self {
        match code {
            ThrottleCode::Blocked => Self::Blocked(BlockConditionType::Api),
            code => Self::Throttled {
                code,
                retry_after_secs: retry_after_secs.max(1),
            },
        }
    }

    /// A subscription check that failed for want of a subscription (900908).
    pub fn resource_forbidden() -> Self {
        Self::ResourceForbidden
    }

    /// The numeric code of the body: WSO2's 9009xx/9008xx/1015xx, or the HTTP status.
    pub fn code(&self) -> u32 {
        match self {
            Self::AuthenticationFailure(_) => 900_900,
            Self::InvalidCredentials(_) => 900_901,
            Self::MissingCredentials => 900_902,
            Self::TokenExpired => 900_903,
            Self::TokenInactive => 900_904,
            Self::IncorrectTokenType => 900_905,
            Self::NoMatchingResource => 900_906,
            Self::ApiBlocked | Self::SubscriptionBlocked => 900_907,
            Self::ResourceForbidden => 900_908,
            Self::SubscriptionInactive => 900_909,
            Self::InvalidScope => 900_910,
            Self::MutualTlsFailure => 900_911,
            Self::Throttled { code, .. } => code.code(),
            Self::Blocked(_) => ThrottleCode::Blocked.code(),
            Self::Upstream(UpstreamFailure::ConnectFailed | UpstreamFailure::Tls) => 101_503,
            Self::Upstream(UpstreamFailure::ConnectTimeout | UpstreamFailure::ResponseTimeout) => {
                101_504
            }
            Self::Upstream(UpstreamFailure::ConnectionClosed) => 101_505,
            Self::ApiNotFound
            | Self::HeadersTooLarge
            | Self::BodyTooLarge
            | Self::BadRequest(_)
            | Self::Internal(_) => u32::from(self.status().as_u16()),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AuthenticationFailure(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidCredentials(_)
            | Self::MissingCredentials
            | Self::TokenExpired
            | Self::TokenInactive
            | Self::IncorrectTokenType
            | Self::ApiBlocked
            | Self::SubscriptionBlocked
            | Self::SubscriptionInactive
            | Self::MutualTlsFailure => StatusCode::UNAUTHORIZED,
            Self::NoMatchingResource
            | Self::ResourceForbidden
            | Self::InvalidScope
            | Self::Blocked(_) => StatusCode::FORBIDDEN,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ApiNotFound => StatusCode::NOT_FOUND,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Upstream(UpstreamFailure::ConnectTimeout | UpstreamFailure::ResponseTimeout) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// WSO2's message for the code.
    pub fn message(&self) -> &'static str {
        match self {
            Self::AuthenticationFailure(_) => "Unclassified Authentication Failure",
            Self::InvalidCredentials(_) => "Invalid Credentials",
            Self::MissingCredentials => "Missing Credentials",
            Self::TokenExpired => "Access Token Expired",
            Self::TokenInactive => "Access Token Inactive",
            Self::IncorrectTokenType => "Incorrect Access Token Type is provided",
            Self::NoMatchingResource => "No matching resource found for given API Request",
            Self::ApiBlocked | Self::SubscriptionBlocked => {
                "The requested API is temporarily blocked"
            }
            Self::ResourceForbidden => "Resource forbidden",
            Self::SubscriptionInactive => "The subscription to the API is inactive",
            Self::InvalidScope => {
                "The access token does not allow you to access the requested resource"
            }
            Self::MutualTlsFailure => "Mutual SSL authentication failure",
            Self::Throttled { code, .. } => code.message(),
            Self::Blocked(_) => ThrottleCode::Blocked.message(),
            Self::ApiNotFound => "Not Found",
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::BodyTooLarge => "Payload Too Large",
            Self::BadRequest(_) => "Bad Request",
            Self::Upstream(_) => "Runtime Error",
            Self::Internal(_) => "Internal Server Error",
        }
    }

    /// The description of the body.
    pub fn description(&self) -> &'static str {
        match self {
            Self::AuthenticationFailure(_) => {
                "Error while authenticating the request; the key manager could not be reached"
            }
            Self::InvalidCredentials(InvalidToken::NoEndpointForKeyType(KeyType::Production)) => {
                "Production key offered to an API with no production endpoint"
            }
            Self::InvalidCredentials(InvalidToken::NoEndpointForKeyType(KeyType::Sandbox)) => {
                "Sandbox key offered to an API with no sandbox endpoint"
            }
            Self::InvalidCredentials(_) => {
                "Invalid Credentials. Make sure you have provided the correct security credentials"
            }
            Self::MissingCredentials => {
                "Invalid Credentials. Make sure your API invocation call has a header: \
                 'Authorization : Bearer ACCESS_TOKEN'"
            }
            Self::TokenExpired => "The access token has expired",
            Self::TokenInactive => "The access token is not active",
            Self::IncorrectTokenType => {
                "The access token's type is not the one the resource's authentication scheme \
                 requires"
            }
            Self::NoMatchingResource => {
                "No matching resource found in the API for the given request"
            }
            Self::ApiBlocked => "You have been blocked from accessing the resource",
            Self::SubscriptionBlocked => "The subscription to this API is blocked",
            Self::ResourceForbidden => {
                "User is NOT authorized to access the Resource. API Subscription validation failed."
            }
            Self::SubscriptionInactive => "The subscription to this API is not active",
            Self::InvalidScope => "The access token does not carry a scope the resource requires",
            Self::MutualTlsFailure => {
                "The access token is bound to a client certificate the request did not present"
            }
            Self::Throttled { code, .. } => code.description(),
            Self::Blocked(_) => ThrottleCode::Blocked.description(),
            Self::ApiNotFound => "No API is deployed at the requested path",
            Self::HeadersTooLarge => {
                "The request's header fields are larger than the gateway accepts"
            }
            Self::BodyTooLarge => "The request body is larger than the gateway accepts",
            Self::BadRequest(reason) => reason,
            Self::Upstream(UpstreamFailure::ConnectFailed) => "Error connecting to the back end",
            Self::Upstream(UpstreamFailure::Tls) => {
                "Error connecting to the back end: TLS handshake failed"
            }
            Self::Upstream(UpstreamFailure::ConnectTimeout) => {
                "Error connecting to the back end: connection timed out"
            }
            Self::Upstream(UpstreamFailure::ResponseTimeout) => {
                "The back end did not respond within the timeout"
            }
            Self::Upstream(UpstreamFailure::ConnectionClosed) => {
                "The back end closed the connection"
            }
            Self::Internal(_) => "The gateway could not process the request",
        }
    }

    /// Where the failure came from.
    pub fn origin(&self) -> ErrorSource {
        match self {
            Self::AuthenticationFailure(_) | Self::Upstream(_) => ErrorSource::Upstream,
            Self::Internal(_) => ErrorSource::Internal,
            _ => ErrorSource::Client,
        }
    }

    /// Whether the same request may succeed if tried again unchanged: after a quota
    /// window, or once an upstream is back. A refused token never becomes valid.
    pub fn retry_may_help(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::AuthenticationFailure(_) => true,
            Self::Upstream(failure) => !matches!(failure, UpstreamFailure::Tls),
            _ => false,
        }
    }

    /// The `WWW-Authenticate` value, when the answer carries one.
    fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            Self::MissingCredentials => Some(WWW_NO_TOKEN),
            Self::InvalidScope => Some(WWW_INSUFFICIENT_SCOPE),
            other if other.status() == StatusCode::UNAUTHORIZED => Some(WWW_INVALID_TOKEN),
            _ => None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Bytes {
        let body = ErrorBody {
            code: self.code(),
            message: self.message(),
            description: self.description(),
        };
        // Three plain fields serialize infallibly; the fallback is never taken.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// The HTTP answer.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if let Some(value) = self.www_authenticate() {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        if let Self::Throttled {
            retry_after_secs, ..
        } = self
        {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        response
    }
}

impl axum::response::IntoResponse for GatewayError {
    fn into_response(self) -> axum::response::Response {
        GatewayError::into_response(self)
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
