//! The UserInfo endpoint (`GET`/`POST /oauth2/userinfo`, OIDC Core §5.3): claims about
//! the user an access token was issued for, from the user store's claims in WSO2's local
//! dialect (`http://wso2.org/claims/*`) mapped to their OpenID Connect names, as far as
//! the token's scopes allow (OIDC Core §5.4): `openid` gives `sub`, `profile` the names,
//! `email` the address, `phone` the number.
//!
//! The token comes in the `Authorization: Bearer` header (RFC 6750 §2.1). It must be
//! active, carry `openid`, and speak for a user, not an application; a token bound to a
//! client certificate (RFC 8705 §3) is accepted only over a connection presenting that
//! certificate. Refusals are `401 invalid_token` or `403 insufficient_scope` with a
//! `Bearer` challenge (RFC 6750 §3).

use crate::errors::{Failure, no_store_json};
use crate::http::{bearer_token, certificates};
use crate::introspection::TokenKind;
use crate::manager::Inner;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use keygate_model::{User, claims};
use keygate_oauth::grant::grant_types;
use keygate_oauth::scope::OPENID;
use keygate_oauth::{Description, OAuthError};
use serde_json::{Map, Value};

/// WSO2 local claim of a user's nickname.
pub const NICKNAME_CLAIM: &str = "http://wso2.org/claims/nickname";
/// WSO2 local claim of a user's mobile number, OIDC's `phone_number`.
pub const MOBILE_CLAIM: &str = "http://wso2.org/claims/mobile";
/// WSO2 local claim of whether the e-mail address is verified.
pub const EMAIL_VERIFIED_CLAIM: &str = "http://wso2.org/claims/identity/emailVerified";

/// OIDC claims by scope, each with the local claim it is read from.
const SCOPE_CLAIMS: &[(&str, &str, &str)] = &[
    ("profile", "name", claims::FULL_NAME),
    ("profile", "given_name", claims::GIVEN_NAME),
    ("profile", "family_name", claims::LAST_NAME),
    ("profile", "nickname", NICKNAME_CLAIM),
    ("email", "email", claims::EMAIL_ADDRESS),
    ("email", "email_verified", EMAIL_VERIFIED_CLAIM),
    ("phone", "phone_number", MOBILE_CLAIM),
];

fn invalid_token(why: &'static str) -> Failure {
    OAuthError::InvalidToken(Some(Description::new(why))).into()
}

impl Inner {
    /// Answers a UserInfo request.
    pub(crate) async fn userinfo(&self, request: Request) -> Result<Response, Failure> {
        let token = bearer_token(request.headers())?;
        let presented = certificates(&request);
        let found = self
            .find_token(&token, Some("access_token"))
            .await?
            .filter(|found| found.kind == TokenKind::Access)
            .filter(|found| found.is_active_at(self.clock.now_ms()))
            .ok_or_else(|| invalid_token("the access token is not active"))?;
        let record = &found.record;
        if let Some(bound) = &record.binding_thumbprint {
            let matches = presented
                .as_ref()
                .and_then(|chain| chain.thumbprint())
                .is_some_and(|thumbprint| &thumbprint == bound);
            if !matches {
                tracing::info!(client_id = %record.client_id, "bound token presented without its certificate");
                return Err(invalid_token("the token is bound to another certificate"));
            }
        }
        if !record.scopes.iter().any(|s| s == OPENID)
            || record.grant_type == grant_types::CLIENT_CREDENTIALS
        {
            return Err(OAuthError::InsufficientScope(Some(Description::new(
                "the token was not issued for a user with the openid scope",
            )))
            .into());
        }
        let user = self
            .stores
            .users()
            .user(&record.subject)
            .await?
            .filter(|user| !user.is_locked())
            .ok_or_else(|| invalid_token("the user is no longer active"))?;
        Ok(no_store_json(
            StatusCode::OK,
            Value::Object(user_claims(&user, &record.scopes)),
        ))
    }
}

/// The OIDC claims of `user` that `scopes` allow.
pub fn user_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(user.username.clone()));
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    if has("profile") {
        out.insert(
            "preferred_username".into(),
            Value::String(user.username.clone()),
        );
    }
    for (scope, name, local) in SCOPE_CLAIMS {
        if !has(scope) {
            continue;
        }
        if let Some(value) = user.claim(local) {
            let value = if *name == "email_verified" {
                Value::Bool(value.eq_ignore_ascii_case("true"))
            } else {
                Value::String(value.to_owned())
            };
            out.insert((*name).to_owned(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::{Tenant, UserId};

    #[test]
    fn claims_follow_the_scopes() {
        let user = User {
            id: UserId::new("u1"),
            tenant: Tenant::default(),
            username: "alice".into(),
            claims: [
                (claims::EMAIL_ADDRESS, "alice@example.com"),
                (claims::GIVEN_NAME, "Alice"),
                (claims::LAST_NAME, "Liddell"),
                (EMAIL_VERIFIED_CLAIM, "TRUE"),
                (MOBILE_CLAIM, "+1555"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            roles: vec![],
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        let only_openid = user_claims(&user, &["openid".into()]);
        assert_eq!(
            Value::Object(only_openid),
            serde_json::json!({"sub": "alice"})
        );
        let all = user_claims(&user, &["openid".into(), "profile".into(), "email".into()]);
        assert_eq!(
            Value::Object(all),
            serde_json::json!({
                "sub": "alice",
                "preferred_username": "alice",
                "given_name": "Alice",
                "family_name": "Liddell",
                "email": "alice@example.com",
                "email_verified": true,
            })
        );
    }
}
