//! The protocol logic of keygate's authorization server, the part WSO2 Identity Server plays
//! as Key Manager: request parsing, client authentication, PKCE, scopes, redirect URIs,
//! grants, token lifetimes, authorization code redemption and refresh token rotation.
//!
//! Pure: no async runtime, no HTTP framework, no SQL, no clock and no random number
//! generator. The caller (the key manager role) parses the HTTP request, loads records from
//! storage, and passes them here with the current time (`now: Duration` since the Unix
//! epoch) and a [`RandomSource`]; functions answer with decisions and the records to
//! persist. Errors are [`OAuthError`], whose codes are the RFCs' own.

#![forbid(unsafe_code)]

pub mod client_auth;
pub mod code;
pub mod error;
pub mod form;
pub mod grant;
pub mod lifetime;
pub mod pkce;
pub mod random;
pub mod redirect;
pub mod refresh;
pub mod scope;

pub use client_auth::{ClientCredentials, ClientSecretDigest};
pub use code::{CodeRedeemError, RedeemedCode};
pub use error::{Description, OAuthError};
pub use form::{Form, FormLimits};
pub use grant::{AuthorizeClient, AuthorizeError, AuthorizeRequest, TokenRequest};
pub use lifetime::TokenLifetimes;
pub use pkce::{PkceChallenge, PkcePolicy};
pub use random::{RandomSource, RandomUnavailable};
pub use redirect::{AuthorizationRedirect, RegisteredRedirects, ResponseMode};
pub use refresh::{RefreshError, RefreshRotation};
pub use scope::{RoleBasedScopeIssuer, ScopeSet};
