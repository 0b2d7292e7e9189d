//! Token introspection (`POST /oauth2/introspect`, RFC 7662) and the token lookup it
//! shares with revocation.
//!
//! The caller must authenticate (RFC 7662 §2.1): as a confidential client, by the method
//! it registered — and then it learns only about its own tokens — or, by HTTP Basic, as a
//! user with the administrator role, who may introspect any token (WSO2's resource
//! servers use the key manager's admin credentials). A token that is unknown, expired,
//! revoked, superseded or another client's is `{"active": false}` and nothing more
//! (§2.2). Tokens are found as [`crate::token_keys`] says — a verified access token JWT
//! by its `jti`, anything else by its SHA-256 — access tokens first unless
//! `token_type_hint` says `refresh_token`.

use crate::clients::Caller;
use crate::errors::{Failure, no_store_json};
use crate::http::FormRequest;
use crate::manager::Inner;
use crate::settings::INTROSPECT_PATH;
use axum::http::StatusCode;
use axum::response::Response;
use keygate_model::{AccessToken, TokenState};
use keygate_oauth::{ClientCredentials, OAuthError};
use serde_json::{Value, json};

/// Which of a record's two tokens a presented value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The access token.
    Access,
    /// The refresh token.
    Refresh,
}

/// A token found by its value.
#[derive(Debug, Clone)]
pub struct FoundToken {
    /// Its record.
    pub record: AccessToken,
    /// Which token of the record it is.
    pub kind: TokenKind,
}

impl FoundToken {
    /// When the presented token expires, unix milliseconds.
    pub fn expires_at_ms(&self) -> i64 {
        match self.kind {
            TokenKind::Access => self.record.expires_at_ms(),
            TokenKind::Refresh => self.record.refresh_expires_at_ms().unwrap_or(0),
        }
    }

    /// Whether the presented token is usable at `now_ms`.
    pub fn is_active_at(&self, now_ms: i64) -> bool {
        self.record.state == TokenState::Active && now_ms < self.expires_at_ms()
    }
}

impl Inner {
    /// Finds a token by its value; `hint` (`access_token` or `refresh_token`, RFC 7009
    /// §2.1) decides which kind is tried first, and an unknown hint is ignored.
    pub(crate) async fn find_token(
        &self,
        value: &str,
        hint: Option<&str>,
    ) -> Result<Option<FoundToken>, Failure> {
        let keys = self.access_token_keys(value);
        let tokens = self.stores.tokens();
        let refresh_first = hint == Some("refresh_token");
        for kind in if refresh_first {
            [TokenKind::Refresh, TokenKind::Access]
        } else {
            [TokenKind::Access, TokenKind::Refresh]
        } {
            let found = match kind {
                TokenKind::Access => self.access_token_by_keys(&keys).await?.map(|f| f.record),
                TokenKind::Refresh => tokens.token_by_refresh_digest(&keys.digest).await?,
            };
            if let Some(record) = found {
                return Ok(Some(FoundToken { record, kind }));
            }
        }
        Ok(None)
    }

    /// Answers an introspection request.
    pub(crate) async fn introspect(&self, request: FormRequest) -> Result<Response, Failure> {
        let credentials =
            ClientCredentials::from_request(request.authorization.as_deref(), &request.form)?;
        let caller = self
            .authenticate_caller(&credentials, request.certificates.as_ref(), INTROSPECT_PATH)
            .await?;
        if let Caller::Client(client) = &caller
            && client.is_public()
        {
            // RFC 7662 §2.1: the caller must be authorized; a public client proves nothing.
            return Err(OAuthError::invalid_client("public clients may not introspect").into());
        }
        let token = request.form.require("token")?;
        let found = self
            .find_token(token, request.form.get("token_type_hint"))
            .await?;
        let now_ms = self.clock.now_ms();
        let visible = |found: &FoundToken| match &caller {
            Caller::Administrator(_) => true,
            Caller::Client(client) => client.client_id() == found.record.client_id,
        };
        let body = match found {
            Some(found) if visible(&found) && found.is_active_at(now_ms) => self.describe(&found),
            _ => json!({ "active": false }),
        };
        Ok(no_store_json(StatusCode::OK, body))
    }

    /// The introspection response of an active token (RFC 7662 §2.2, RFC 8705 §3.2).
    fn describe(&self, found: &FoundToken) -> Value {
        let record = &found.record;
        let seconds = |ms: i64| ms.div_euclid(1000);
        let issued_at_ms = match found.kind {
            TokenKind::Access => record.issued_at_ms,
            TokenKind::Refresh => record.refresh_issued_at_ms.unwrap_or(record.issued_at_ms),
        };
        let mut body = json!({
            "active": true,
            "scope": record.scopes.join(" "),
            "client_id": record.client_id,
            "username": record.subject,
            "sub": record.subject,
            "token_type": match found.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            },
            "exp": seconds(found.expires_at_ms()),
            "iat": seconds(issued_at_ms),
            "nbf": seconds(issued_at_ms),
            "aud": record.client_id,
            "iss": self.settings.issuer,
            "jti": record.token_id,
            "grant_type": record.grant_type,
        });
        if let Some(thumbprint) = &record.binding_thumbprint {
            body["cnf"] = json!({ "x5t#S256": thumbprint });
        }
        body
    }
}
