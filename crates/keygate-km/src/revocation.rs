//! Token revocation (`POST /oauth2/revoke`, RFC 7009).
//!
//! The client authenticates as at the token endpoint (a public client names itself) and
//! may revoke only its own tokens. Revoking an access token revokes its record — the
//! refresh token issued with it included, as WSO2 does; revoking a refresh token revokes
//! its whole family: every token descending from the same grant and the access tokens
//! issued from them (§2.1: "SHOULD also invalidate all access tokens based on the same
//! authorization grant"). Each access token that stops working is announced on
//! `keygate.token.revocation` and recorded in the revoked-token list gateways replicate.
//! An unknown, already revoked or another client's token is answered `200` all the same
//! (§2.2), so a client learns nothing about tokens it does not hold.

use crate::errors::{Failure, no_store};
use crate::events::RevocationReason;
use crate::http::FormRequest;
use crate::introspection::TokenKind;
use crate::manager::Inner;
use crate::settings::REVOKE_PATH;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keygate_model::TokenState;
use keygate_oauth::ClientCredentials;

impl Inner {
    /// Answers a revocation request.
    pub(crate) async fn revoke(&self, request: FormRequest) -> Result<Response, Failure> {
        let credentials =
            ClientCredentials::from_request(request.authorization.as_deref(), &request.form)?;
        let client = self
            .authenticate_client(&credentials, request.certificates.as_ref(), REVOKE_PATH)
            .await?;
        let token = request.form.require("token")?;
        let found = self
            .find_token(token, request.form.get("token_type_hint"))
            .await?;
        let revoked = match found {
            Some(found) if found.record.client_id == client.client_id() => match found.kind {
                TokenKind::Access => {
                    let changed = self
                        .stores
                        .tokens()
                        .revoke_token(&found.record.token_id)
                        .await?;
                    if changed && found.record.state == TokenState::Active {
                        self.announce_revoked(&found.record, RevocationReason::Revoked)
                            .await;
                    }
                    u64::from(changed)
                }
                TokenKind::Refresh => {
                    self.revoke_family(&found.record, RevocationReason::FamilyRevoked)
                        .await?
                }
            },
            Some(_) => {
                tracing::info!(
                    client_id = %client.client_id(),
                    "revocation of another client's token ignored"
                );
                0
            }
            None => 0,
        };
        tracing::info!(client_id = %client.client_id(), revoked, "revocation");
        let mut response = StatusCode::OK.into_response();
        no_store(response.headers_mut());
        Ok(response)
    }
}
