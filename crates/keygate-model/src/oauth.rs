//! What the key manager persists: OAuth clients (WSO2's `IDN_OAUTH_CONSUMER_APPS`), access
//! and refresh tokens (`IDN_OAUTH2_ACCESS_TOKEN`), authorization codes
//! (`IDN_OAUTH2_AUTHORIZATION_CODE`) and revoked JWTs (`AM_REVOKED_JWT`). Secrets, tokens
//! and codes are held in the form the key manager chose to persist them (plain, SHA-256
//! digest or ciphertext); client secrets never in clear.

use crate::catalog::TokenType;
use crate::identity::Tenant;
use crate::wso2_enum::wso2_enum;
use serde::{Deserialize, Serialize};

wso2_enum! {
    /// How a client authenticates at the token endpoint (RFC 7591 §2,
    /// `token_endpoint_auth_method`; RFC 8705 §2 for the TLS methods).
    pub enum TokenEndpointAuthMethod {
        /// HTTP Basic with id and secret (RFC 6749 §2.3.1).
        ClientSecretBasic => "client_secret_basic",
        /// Id and secret in the form body (RFC 6749 §2.3.1).
        ClientSecretPost => "client_secret_post",
        /// JWT signed with the client's private key (RFC 7523 §2.2).
        PrivateKeyJwt => "private_key_jwt",
        /// Mutual TLS with a CA-issued certificate (RFC 8705 §2.1).
        TlsClientAuth => "tls_client_auth",
        /// Mutual TLS with a self-signed certificate (RFC 8705 §2.2).
        SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        /// Public client, no authentication.
        None => "none",
    }
}

/// Per-client token lifetimes in milliseconds; `None` falls back to the server-wide value
/// of `[apim.oauth_config]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTokenLifetimes {
    /// Access tokens issued for a user.
    pub user_access_token_ms: Option<i64>,
    /// Access tokens issued to the application itself (client credentials).
    pub application_access_token_ms: Option<i64>,
    /// Refresh tokens.
    pub refresh_token_ms: Option<i64>,
    /// OIDC ID tokens.
    pub id_token_ms: Option<i64>,
}

/// An OAuth client (consumer app) registered at the key manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// Client id (consumer key); unique.
    pub client_id: String,
    /// Tenant the client belongs to.
    pub tenant: Tenant,
    /// Secret as persisted: HMAC-SHA256 with the server pepper or ciphertext, never clear.
    /// `None` for public clients.
    pub secret_digest: Option<Vec<u8>>,
    /// Client name (`client_name`, WSO2's `APP_NAME`).
    pub client_name: String,
    /// User who registered it.
    pub owner: String,
    /// Registered redirect URIs (RFC 6749 §3.1.2).
    pub redirect_uris: Vec<String>,
    /// Grant types it may use, e.g. `authorization_code`, `refresh_token`.
    pub grant_types: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Whether PKCE (RFC 7636) is required on the authorization code grant.
    pub pkce_mandatory: bool,
    /// Whether the `plain` PKCE method is accepted.
    pub pkce_plain_allowed: bool,
    /// Lifetimes overriding the server-wide ones.
    pub lifetimes: ClientTokenLifetimes,
    /// Kind of access tokens issued to it.
    pub token_type: TokenType,
    /// Inline JWK Set for `private_key_jwt` (RFC 7591 §2, `jwks`), as JSON text.
    pub jwks: Option<String>,
    /// JWK Set URL for `private_key_jwt` (RFC 7591 §2, `jwks_uri`).
    pub jwks_uri: Option<String>,
    /// Expected certificate subject DN for `tls_client_auth` (RFC 8705 §2.1.2).
    pub tls_client_auth_subject_dn: Option<String>,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: i64,
}

impl OAuthClient {
    /// Whether the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether the client is public (no secret, no key, no certificate).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }
}

wso2_enum! {
    /// State of an access token (`TOKEN_STATE`).
    pub enum TokenState {
        /// Usable.
        Active => "ACTIVE",
        /// Revoked (RFC 7009) or revoked with its family, client or user.
        Revoked => "REVOKED",
        /// Past its lifetime.
        Expired => "EXPIRED",
        /// Superseded: its refresh token was used, or a newer token replaced it.
        Inactive => "INACTIVE",
    }
}

/// An access token record, with its refresh token when one was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Unique id of the record (the JWT `jti` for JWT tokens).
    pub token_id: String,
    /// Tenant of the token.
    pub tenant: Tenant,
    /// Lookup key of the access token: the token itself or its SHA-256 digest, as the
    /// persistence mode says; unique.
    pub token_digest: String,
    /// The access token as persisted when it can be given back (plain or ciphertext),
    /// `None` when only a digest is kept.
    pub token_value: Option<String>,
    /// Lookup key of the refresh token, if one was issued; unique.
    pub refresh_token_digest: Option<String>,
    /// The refresh token as persisted, when it can be given back.
    pub refresh_token_value: Option<String>,
    /// Family of tokens that descend from one grant through refreshes; revoking a reused
    /// refresh token revokes the whole family.
    pub refresh_family_id: String,
    /// OAuth client the token was issued to.
    pub client_id: String,
    /// Authorized user: the end user, or the application owner for client credentials.
    pub subject: String,
    /// Grant type that produced it, e.g. `password`, `client_credentials`.
    pub grant_type: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Issue time, unix milliseconds.
    pub issued_at_ms: i64,
    /// Lifetime of the access token, milliseconds.
    pub validity_ms: i64,
    /// Issue time of the refresh token, unix milliseconds.
    pub refresh_issued_at_ms: Option<i64>,
    /// Lifetime of the refresh token, milliseconds.
    pub refresh_validity_ms: Option<i64>,
    /// State.
    pub state: TokenState,
    /// Token binding: the `x5t#S256` thumbprint of the client certificate the token is
    /// bound to (RFC 8705 §3.1, `cnf`).
    pub binding_thumbprint: Option<String>,
}

impl AccessToken {
    /// When the access token expires, unix milliseconds.
    pub fn expires_at_ms(&self) -> i64 {
        self.issued_at_ms.saturating_add(self.validity_ms)
    }

    /// When the refresh token expires, unix milliseconds, if there is one.
    pub fn refresh_expires_at_ms(&self) -> Option<i64> {
        match (self.refresh_issued_at_ms, self.refresh_validity_ms) {
            (Some(issued), Some(validity)) => Some(issued.saturating_add(validity)),
            _ => None,
        }
    }

    /// Whether the access token is usable at `now_ms`.
    pub fn is_active_at(&self, now_ms: i64) -> bool {
        self.state == TokenState::Active && now_ms < self.expires_at_ms()
    }
}

wso2_enum! {
    /// PKCE code challenge method (RFC 7636 §4.2).
    pub enum PkceMethod {
        /// `BASE64URL(SHA256(verifier))`.
        S256 => "S256",
        /// The verifier itself.
        Plain => "plain",
    }
}

wso2_enum! {
    /// State of an authorization code.
    pub enum CodeState {
        /// Not yet exchanged.
        Active => "ACTIVE",
        /// Exchanged once; any further use is a replay (RFC 6749 §4.1.2).
        Inactive => "INACTIVE",
        /// Revoked with the tokens issued from it.
        Revoked => "REVOKED",
        /// Past its lifetime.
        Expired => "EXPIRED",
    }
}

/// An authorization code (RFC 6749 §4.1.2) with what the token request must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// Unique id of the record.
    pub code_id: String,
    /// Tenant of the code.
    pub tenant: Tenant,
    /// Lookup key: the code or its digest, as the persistence mode says; unique.
    pub code_digest: String,
    /// Client the code was issued to.
    pub client_id: String,
    /// User who authorized.
    pub subject: String,
    /// Redirect URI of the authorization request, which the token request must repeat.
    pub redirect_uri: Option<String>,
    /// Authorized scopes.
    pub scopes: Vec<String>,
    /// PKCE code challenge (RFC 7636 §4.3).
    pub pkce_challenge: Option<String>,
    /// PKCE challenge method.
    pub pkce_method: Option<PkceMethod>,
    /// OIDC nonce, repeated in the ID token.
    pub nonce: Option<String>,
    /// When the user authenticated, unix milliseconds: the ID token's `auth_time` (OIDC
    /// Core §2), which may be long before the code was issued when a login session was
    /// reused. `None` when unknown; the issue time then stands in.
    pub auth_time_ms: Option<i64>,
    /// Issue time, unix milliseconds.
    pub issued_at_ms: i64,
    /// Lifetime, milliseconds.
    pub validity_ms: i64,
    /// State.
    pub state: CodeState,
    /// The access token issued from this code, once it has been exchanged.
    pub token_id: Option<String>,
}

impl AuthorizationCode {
    /// When the code expires, unix milliseconds.
    pub fn expires_at_ms(&self) -> i64 {
        self.issued_at_ms.saturating_add(self.validity_ms)
    }
}

wso2_enum! {
    /// How a revoked token is identified.
    pub enum RevokedTokenType {
        /// A JWT, by its signature.
        JwtSignature => "JWT_SIGNATURE",
        /// A JWT, by its `jti`.
        Jti => "JTI",
        /// An opaque token, by its digest.
        Opaque => "OPAQUE",
    }
}

/// A revoked token that gateways must refuse until it would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    /// Tenant of the token.
    pub tenant: Tenant,
    /// JWT signature, `jti` or opaque-token digest, as `token_type` says; unique.
    pub signature: String,
    /// What `signature` holds.
    pub token_type: RevokedTokenType,
    /// When the token would have expired, unix milliseconds; the record is useless after.
    pub expiry_time_ms: i64,
    /// When it was revoked, unix milliseconds.
    pub revoked_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AccessToken {
        AccessToken {
            token_id: "t1".into(),
            tenant: Tenant::default(),
            token_digest: "d1".into(),
            token_value: None,
            refresh_token_digest: Some("r1".into()),
            refresh_token_value: None,
            refresh_family_id: "f1".into(),
            client_id: "c1".into(),
            subject: "alice".into(),
            grant_type: "password".into(),
            scopes: vec!["openid".into()],
            issued_at_ms: 1_000,
            validity_ms: 3_600_000,
            refresh_issued_at_ms: Some(1_000),
            refresh_validity_ms: Some(86_400_000),
            state: TokenState::Active,
            binding_thumbprint: None,
        }
    }

    #[test]
    fn expiry_is_issue_time_plus_lifetime() {
        let t = token();
        assert_eq!(t.expires_at_ms(), 3_601_000);
        assert_eq!(t.refresh_expires_at_ms(), Some(86_401_000));
        assert!(t.is_active_at(3_600_999));
        assert!(!t.is_active_at(3_601_000));
        let revoked = AccessToken {
            state: TokenState::Revoked,
            ..t
        };
        assert!(!revoked.is_active_at(2_000));
    }

    #[test]
    fn strings_are_the_rfc_and_wso2_ones() {
        assert_eq!(
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth.as_str(),
            "self_signed_tls_client_auth"
        );
        assert_eq!("none".parse(), Ok(TokenEndpointAuthMethod::None));
        assert_eq!(PkceMethod::Plain.as_str(), "plain");
        assert_eq!(TokenState::Inactive.as_str(), "INACTIVE");
        assert_eq!(CodeState::Inactive.as_str(), "INACTIVE");
        let json = serde_json::to_value(token()).unwrap();
        assert_eq!(json["state"], "ACTIVE");
        assert_eq!(json["tenant"], "carbon.super");
    }
}
