//! The control plane's side of the key manager (DESIGN §4): OAuth clients made, read,
//! changed, given a new secret and deleted through `/keymanager-operations/dcr/register`
//! in WSO2 IS-KM's `ClientInfo` shape, and tokens asked for at `/oauth2/token` with the
//! client credentials grant (RFC 6749 §4.4). [`KeyManagerClient`] is the seam: the
//! HTTP implementation, [`HttpKeyManager`], calls a key manager anywhere with the
//! `[apim.key_manager]` credentials; a node running both roles may hand in another.

use async_trait::async_trait;
use keygate_model::{Secret, TokenType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// Path of the client operations under the key manager's base URL.
pub const REGISTER_PATH: &str = "/keymanager-operations/dcr/register";
/// Path of the token endpoint under the key manager's base URL.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Path of the JWKS under the key manager's base URL.
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// Path of token introspection under the key manager's base URL.
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";

/// Why a key-manager call failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyManagerError {
    /// The key manager could not be reached or answered nonsense.
    #[error("the key manager is unavailable: {0}")]
    Unavailable(String),
    /// The key manager refused the request (an OAuth error object's description).
    #[error("the key manager refused the request: {0}")]
    Refused(String),
    /// The client's credentials were refused (RFC 6749 §5.2 `invalid_client`).
    #[error("the client credentials were refused")]
    InvalidClient,
    /// No key manager is configured.
    #[error("no key manager is configured")]
    NotConfigured,
}

/// An OAuth client as the control plane asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// `{owner}_{application}_{keyType}`, as WSO2 names them.
    pub client_name: String,
    /// Grant types, e.g. `client_credentials`, `password`, `refresh_token`.
    pub grant_types: Vec<String>,
    /// Redirect URI, empty for none.
    pub callback_url: String,
    /// The application's owner.
    pub owner: String,
    /// JWT or opaque access tokens.
    pub token_type: TokenType,
}

/// What changes in an OAuth client; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientUpdate {
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Redirect URI.
    pub callback_url: Option<String>,
    /// JWT or opaque access tokens.
    pub token_type: Option<TokenType>,
}

/// An OAuth client as the key manager describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The consumer key.
    pub client_id: String,
    /// The consumer secret: present only when it was just made.
    pub client_secret: Option<Secret>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// The first redirect URI, if any.
    pub callback_url: Option<String>,
}

/// A token from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds it lives.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Scopes granted.
    #[serde(default)]
    pub scope: Option<String>,
}

/// The key manager as the control plane uses it.
#[async_trait]
pub trait KeyManagerClient: Send + Sync + std::fmt::Debug {
    /// Creates a client; the answer carries its secret.
    async fn create_client(&self, request: &ClientRequest) -> Result<ClientInfo, KeyManagerError>;
    /// Changes what `update` names of a client.
    async fn update_client(
        &self,
        client_id: &str,
        update: &ClientUpdate,
    ) -> Result<ClientInfo, KeyManagerError>;
    /// Gives a client a new secret (revoking its tokens); the answer carries it.
    async fn regenerate_secret(&self, client_id: &str) -> Result<ClientInfo, KeyManagerError>;
    /// Deletes a client (revoking its tokens); whether it existed.
    async fn delete_client(&self, client_id: &str) -> Result<bool, KeyManagerError>;
    /// A token for the client by the client credentials grant.
    async fn client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        scopes: &[String],
        validity_seconds: Option<i64>,
    ) -> Result<IssuedToken, KeyManagerError>;
}

/// A key manager over HTTP.
pub struct HttpKeyManager {
    base_url: String,
    username: String,
    password: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpKeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpKeyManager")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `ClientInfo` members read from the key manager.
#[derive(Debug, Deserialize)]
struct ClientInfoBody {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

impl From<ClientInfoBody> for ClientInfo {
    fn from(body: ClientInfoBody) -> Self {
        ClientInfo {
            client_id: body.client_id,
            client_secret: body.client_secret.map(Secret::from),
            grant_types: body.grant_types,
            callback_url: body.redirect_uris.into_iter().next(),
        }
    }
}

fn unavailable(e: reqwest::Error) -> KeyManagerError {
    tracing::warn!(error = %e, "key manager call failed");
    KeyManagerError::Unavailable("the key manager could not be reached".into())
}

/// The description of an OAuth error object, without anything secret.
async fn refusal(response: reqwest::Response) -> KeyManagerError {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = body["error_description"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("no reason given");
    if status.is_server_error() {
        KeyManagerError::Unavailable(format!("{status}: {text}"))
    } else {
        KeyManagerError::Refused(format!("{status}: {text}"))
    }
}

impl HttpKeyManager {
    /// A key manager at `base_url` (e.g. `https://km:9443`), called as `username`.
    pub fn new(
        base_url: &str,
        username: impl Into<String>,
        password: Secret,
        http: reqwest::Client,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            username: username.into(),
            password,
            http,
        }
    }

    fn register_url(&self, client_id: Option<&str>) -> String {
        match client_id {
            Some(id) => format!("{}{REGISTER_PATH}/{id}", self.base_url),
            None => format!("{}{REGISTER_PATH}", self.base_url),
        }
    }

    fn request_body(request: &ClientRequest) -> Value {
        json!({
            "client_name": request.client_name,
            "grant_types": request.grant_types,
            "callbackUrl": request.callback_url,
            "ext_param_owner": request.owner,
            "token_type_extension": request.token_type.as_str(),
        })
    }

    async fn client_info(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<ClientInfo, KeyManagerError> {
        let response = request
            .basic_auth(&self.username, Some(self.password.expose()))
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let body: ClientInfoBody = response.json().await.map_err(unavailable)?;
        Ok(body.into())
    }
}

#[async_trait]
impl KeyManagerClient for HttpKeyManager {
    async fn create_client(&self, request: &ClientRequest) -> Result<ClientInfo, KeyManagerError> {
        self.client_info(
            self.http
                .post(self.register_url(None))
                .json(&Self::request_body(request)),
        )
        .await
    }

    async fn update_client(
        &self,
        client_id: &str,
        update: &ClientUpdate,
    ) -> Result<ClientInfo, KeyManagerError> {
        let mut body = serde_json::Map::new();
        if let Some(grant_types) = &update.grant_types {
            body.insert("grant_types".into(), json!(grant_types));
        }
        if let Some(callback_url) = &update.callback_url {
            body.insert("callbackUrl".into(), json!(callback_url));
        }
        if let Some(token_type) = update.token_type {
            body.insert("token_type_extension".into(), json!(token_type.as_str()));
        }
        self.client_info(
            self.http
                .put(self.register_url(Some(client_id)))
                .json(&body),
        )
        .await
    }

    async fn regenerate_secret(&self, client_id: &str) -> Result<ClientInfo, KeyManagerError> {
        let url = format!(
            "{}/regenerate-consumer-secret",
            self.register_url(Some(client_id))
        );
        self.client_info(self.http.post(url)).await
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, KeyManagerError> {
        let response = self
            .http
            .delete(self.register_url(Some(client_id)))
            .basic_auth(&self.username, Some(self.password.expose()))
            .send()
            .await
            .map_err(unavailable)?;
        match response.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(refusal(response).await),
        }
    }

    async fn client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        scopes: &[String],
        validity_seconds: Option<i64>,
    ) -> Result<IssuedToken, KeyManagerError> {
        let scope = scopes.join(" ");
        let validity = validity_seconds.map(|v| v.to_string());
        let mut form = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(validity) = &validity {
            form.push(("validity_period", validity));
        }
        let response = self
            .http
            .post(format!("{}{TOKEN_PATH}", self.base_url))
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&form)
            .send()
            .await
            .map_err(unavailable)?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(KeyManagerError::InvalidClient);
        }
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        response.json().await.map_err(unavailable)
    }
}

/// The HTTP client key-manager calls go through: `timeout` per call, and `trusted` (DER
/// certificates) trusted besides the system's roots — a key manager with the node's own
/// self-signed certificate.
pub fn http_client(timeout: Duration, trusted: &[Vec<u8>]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(timeout);
    for der in trusted {
        match reqwest::Certificate::from_der(der) {
            Ok(certificate) => builder = builder.add_root_certificate(certificate),
            Err(e) => tracing::warn!(error = %e, "a trusted key-manager certificate is unreadable"),
        }
    }
    builder.build().unwrap_or_default()
}

/// The origin (`scheme://host:port`) of `url`, e.g. of `[apim.key_manager] service_url`.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty() && matches!(scheme, "http" | "https"))
        .then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_the_service_url() {
        assert_eq!(
            origin_of("https://km.example.com:9444/services/").as_deref(),
            Some("https://km.example.com:9444")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9763").as_deref(),
            Some("http://127.0.0.1:9763")
        );
        assert_eq!(origin_of("km:9443/services"), None);
        assert_eq!(origin_of("ftp://x/"), None);
    }

    #[test]
    fn client_requests_use_wso2_names() {
        let body = HttpKeyManager::request_body(&ClientRequest {
            client_name: "bob_Pets_PRODUCTION".into(),
            grant_types: vec!["client_credentials".into()],
            callback_url: String::new(),
            owner: "bob".into(),
            token_type: TokenType::Oauth,
        });
        assert_eq!(body["ext_param_owner"], "bob");
        assert_eq!(body["token_type_extension"], "OAUTH");
        assert_eq!(body["grant_types"][0], "client_credentials");
    }
}
