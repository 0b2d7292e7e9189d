//! Requests to the token endpoint (RFC 6749 §4, §6; RFC 7523 §2.1) parsed into a
//! [`TokenRequest`], one variant per grant, with the client's permission to use it; and,
//! in [`authorize`], requests to the authorization endpoint.
//!
//! A missing `grant_type` or required parameter is `invalid_request` naming it; an unknown
//! grant is `unsupported_grant_type`; a malformed `scope` is `invalid_scope` (RFC 6749
//! §5.2). Codes, tokens, passwords and assertions are held as [`Secret`] so that printing a
//! request never shows them.

pub mod authorize;

pub use authorize::{AuthorizeClient, AuthorizeError, AuthorizeRequest, Prompt};

use crate::error::OAuthError;
use crate::form::Form;
use crate::scope::ScopeSet;
use keygate_model::Secret;

/// `grant_type` values (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6; RFC 7523 §2.1).
pub mod grant_types {
    /// Authorization code (RFC 6749 §4.1.3).
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    /// Client credentials (RFC 6749 §4.4.2).
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    /// Resource owner password credentials (RFC 6749 §4.3.2).
    pub const PASSWORD: &str = "password";
    /// Refresh token (RFC 6749 §6).
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// JWT bearer assertion (RFC 7523 §2.1).
    pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
}

/// A token request, by grant (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6; RFC 7523 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code from the authorization response.
        code: Secret,
        /// `redirect_uri`, required when the authorization request carried one.
        redirect_uri: Option<String>,
        /// PKCE `code_verifier`.
        code_verifier: Option<Secret>,
    },
    /// `client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials {
        /// Requested scope.
        scope: Option<ScopeSet>,
    },
    /// `password` (RFC 6749 §4.3.2).
    Password {
        /// Resource owner's username.
        username: String,
        /// Resource owner's password.
        password: Secret,
        /// Requested scope.
        scope: Option<ScopeSet>,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret,
        /// Requested scope, at most the original one.
        scope: Option<ScopeSet>,
    },
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
    JwtBearer {
        /// The JWT.
        assertion: Secret,
        /// Requested scope.
        scope: Option<ScopeSet>,
    },
}

impl TokenRequest {
    /// Parses a token request body (after client authentication parameters have been
    /// read from it).
    pub fn from_form(form: &Form) -> Result<Self, OAuthError> {
        let grant_type = form.require("grant_type")?;
        let scope = || form.get("scope").map(ScopeSet::parse).transpose();
        let secret = |name: &str| form.require(name).map(Secret::new);
        match grant_type {
            grant_types::AUTHORIZATION_CODE => Ok(Self::AuthorizationCode {
                code: secret("code")?,
                redirect_uri: form.get("redirect_uri").map(str::to_owned),
                code_verifier: form.get("code_verifier").map(Secret::new),
            }),
            grant_types::CLIENT_CREDENTIALS => Ok(Self::ClientCredentials { scope: scope()? }),
            grant_types::PASSWORD => Ok(Self::Password {
                username: form.require("username")?.to_owned(),
                password: secret("password")?,
                scope: scope()?,
            }),
            grant_types::REFRESH_TOKEN => Ok(Self::RefreshToken {
                refresh_token: secret("refresh_token")?,
                scope: scope()?,
            }),
            grant_types::JWT_BEARER => Ok(Self::JwtBearer {
                assertion: secret("assertion")?,
                scope: scope()?,
            }),
            _ => Err(OAuthError::unsupported_grant_type(
                "the grant type is not supported",
            )),
        }
    }

    /// The `grant_type` value.
    pub const fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => grant_types::AUTHORIZATION_CODE,
            Self::ClientCredentials { .. } => grant_types::CLIENT_CREDENTIALS,
            Self::Password { .. } => grant_types::PASSWORD,
            Self::RefreshToken { .. } => grant_types::REFRESH_TOKEN,
            Self::JwtBearer { .. } => grant_types::JWT_BEARER,
        }
    }

    /// The requested scope, for the grants that take one.
    pub fn scope(&self) -> Option<&ScopeSet> {
        match self {
            Self::AuthorizationCode { .. } => None,
            Self::ClientCredentials { scope }
            | Self::Password { scope, .. }
            | Self::RefreshToken { scope, .. }
            | Self::JwtBearer { scope, .. } => scope.as_ref(),
        }
    }

    /// Whether the client may use this grant: it must be among the client's registered
    /// `grant_types`, and `client_credentials` is for confidential clients only (RFC 6749
    /// §4.4). Otherwise `unauthorized_client` (RFC 6749 §5.2).
    pub fn check_client_allowed<S: AsRef<str>>(
        &self,
        allowed_grant_types: &[S],
        public_client: bool,
    ) -> Result<(), OAuthError> {
        let grant_type = self.grant_type();
        if !allowed_grant_types.iter().any(|g| g.as_ref() == grant_type) {
            return Err(OAuthError::unauthorized_client(
                "the client may not use this grant type",
            ));
        }
        if public_client && matches!(self, Self::ClientCredentials { .. }) {
            return Err(OAuthError::unauthorized_client(
                "client_credentials is for confidential clients only",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
