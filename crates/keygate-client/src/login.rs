//! Logging a command-line user in at keygate's key manager: the CLI registers its own
//! OAuth client by dynamic client registration (RFC 7591, as the user, with HTTP Basic)
//! and gets a token with the resource owner password grant (RFC 6749 §4.3), scoped to
//! the management scopes the user's roles allow; the refresh grant (§6) renews it and
//! RFC 7592 §2.3 deletes the client again. A server without a key manager, or a user who
//! may not register clients, is called with HTTP Basic instead.

use crate::connection::{Credentials, Management};
use crate::error::{ClientError, ClientResult};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where the key manager registers clients.
const REGISTRATION_PATH: &str = "/client-registration/v1/register";
/// The token endpoint.
const TOKEN_PATH: &str = "/oauth2/token";
/// The revocation endpoint (RFC 7009).
const REVOKE_PATH: &str = "/oauth2/revoke";
/// Every scope of the management APIs; the key manager grants those the user's roles
/// are bound to.
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "apim:admin",
    "apim:api_create",
    "apim:api_publish",
    "apim:api_view",
    "apim:app_manage",
    "apim:bl_manage",
    "apim:bl_view",
    "apim:sub_manage",
    "apim:subscribe",
    "apim:subscription_block",
    "apim:subscription_view",
    "apim:tier_manage",
    "apim:tier_view",
];

/// The CLI's OAuth client, as registration answered it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// `registration_access_token` (RFC 7592), to delete the client on logout.
    #[serde(default)]
    pub registration_access_token: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuthClient({}, <redacted>)", self.client_id)
    }
}

/// Tokens from the token endpoint.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when issued.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Scopes granted, space separated.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet(<redacted>, scope {:?})", self.scope)
    }
}

/// How a login ended.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// The key manager issued tokens to the CLI's client.
    OAuth {
        /// The client registered for the CLI.
        client: OAuthClient,
        /// Its tokens.
        tokens: TokenSet,
    },
    /// No OAuth here (or the user may not register clients): calls use HTTP Basic; the
    /// credentials were checked against the Developer Portal.
    Basic,
}

impl Management {
    /// Logs `username` in: OAuth when the server's key manager lets them register a
    /// client, HTTP Basic otherwise. Wrong credentials are a refusal (401).
    pub async fn login(&self, username: &str, password: &str) -> ClientResult<LoginOutcome> {
        let user = self.with_credentials(Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        });
        match user.register_cli_client(username).await {
            Ok(client) => {
                let tokens = self.password_grant(&client, username, password).await?;
                Ok(LoginOutcome::OAuth { client, tokens })
            }
            // No key manager here, or the user may not register clients.
            Err(ClientError::Refused(e))
                if e.status == 404 || e.status == 405 || e.status == 403 =>
            {
                user.check_basic().await?;
                Ok(LoginOutcome::Basic)
            }
            Err(e) => Err(e),
        }
    }

    /// Registers a confidential client for the CLI with the password and refresh grants.
    async fn register_cli_client(&self, username: &str) -> ClientResult<OAuthClient> {
        let body = json!({
            "client_name": format!("keygate-cli-{username}"),
            "grant_types": ["password", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic",
        });
        self.post(REGISTRATION_PATH, &body).await
    }

    /// Checks Basic credentials with a cheap call every user may make.
    async fn check_basic(&self) -> ClientResult<()> {
        match self
            .get::<serde_json::Value>(
                "/api/am/devportal/v1/applications",
                &[("limit", "1".to_owned())],
            )
            .await
        {
            // Authenticated, merely without that scope.
            Err(ClientError::Refused(e)) if e.status == 403 => Ok(()),
            other => other.map(drop),
        }
    }

    async fn token_request(
        &self,
        client: &OAuthClient,
        form: &[(&str, &str)],
    ) -> ClientResult<TokenSet> {
        Self::send(
            self.bare_request(Method::POST, TOKEN_PATH)
                .basic_auth(&client.client_id, Some(&client.client_secret))
                .form(form),
        )
        .await
    }

    /// The resource owner password grant (RFC 6749 §4.3) for every management scope.
    pub async fn password_grant(
        &self,
        client: &OAuthClient,
        username: &str,
        password: &str,
    ) -> ClientResult<TokenSet> {
        let scope = MANAGEMENT_SCOPES.join(" ");
        self.token_request(
            client,
            &[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
                ("scope", &scope),
            ],
        )
        .await
    }

    /// The refresh grant (RFC 6749 §6).
    pub async fn refresh(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
    ) -> ClientResult<TokenSet> {
        self.token_request(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Revokes a token (RFC 7009) and deletes the CLI's client (RFC 7592 §2.3).
    pub async fn forget(&self, client: &OAuthClient, token: &str) -> ClientResult<()> {
        Self::send_text(
            self.bare_request(Method::POST, REVOKE_PATH)
                .basic_auth(&client.client_id, Some(&client.client_secret))
                .form(&[("token", token)]),
        )
        .await?;
        if let Some(registration) = &client.registration_access_token {
            Self::send_text(
                self.bare_request(
                    Method::DELETE,
                    &format!("{REGISTRATION_PATH}/{}", client.client_id),
                )
                .bearer_auth(registration),
            )
            .await?;
        }
        Ok(())
    }
}
