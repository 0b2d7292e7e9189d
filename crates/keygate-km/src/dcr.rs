//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592) at
//! `/client-registration/v1/register`.
//!
//! Registering (`POST`, RFC 7591 §3.1) takes one of: HTTP Basic as a user with the
//! administrator role; a bearer access token of this key manager carrying
//! [`REGISTRATION_SCOPE`] — the initial access token of RFC 7591 §3, which an
//! administrator obtains from the token endpoint; or nothing at all when open
//! registration is switched on ([`crate::services::ServiceSettings::open_registration`],
//! off unless set in code, since `deployment.toml` has no key for it). The registrant
//! owns the client — an openly registered client owns itself, and so holds no user's
//! roles, and gets the server-wide token lifetimes whatever it asks. Metadata is checked by [`crate::client_metadata`] with its strict redirect
//! rules; the server assigns the client id, and a client that authenticates with a
//! secret gets one, shown in this response only and stored sealed (HMAC under the
//! server pepper, or encrypted) like every client secret.
//!
//! The response (`201`, RFC 7591 §3.2.1) carries a registration access token and the
//! client configuration endpoint `…/register/{client_id}`, where the client reads
//! (`GET`, RFC 7592 §2.1), replaces (`PUT`, §2.2) and deletes (`DELETE`, §2.3) its
//! registration with that token. The token is an HMAC-SHA256, under a key every
//! key-manager node shares, of the client id and its registration time: nothing more is
//! stored, it is the same on every read, and it dies with the client. A wrong token, or a
//! token for a client that no longer exists, is `401 invalid_token`. Deleting a client
//! revokes its tokens first (§2.3) and announces it on the bus.

use crate::access_control::{Credential, Principal};
use crate::cache::CLIENT_DOMAIN;
use crate::client_metadata::{
    ClientMetadata, LifetimeOverrides, MetadataRules, response_types_for,
};
use crate::clock::random_bytes;
use crate::errors::{Failure, no_store, no_store_json};
use crate::http::{authorization, bearer_token};
use crate::manager::{Inner, KeyManager};
use crate::settings::REGISTRATION_PATH;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Secret, TokenEndpointAuthMethod, TokenType,
};
use keygate_oauth::OAuthError;
use keygate_oauth::grant::grant_types;
use serde_json::{Value, json};

/// The scope an access token needs to register clients (WSO2 Identity Server's name for
/// the right to create applications).
pub const REGISTRATION_SCOPE: &str = "internal_application_mgt_create";
/// Name of the key registration access tokens are derived with, among server secrets.
pub const REGISTRATION_KEY_SECRET: &str = "oauth.registration-access-token-key";
/// Random bytes in a generated client id.
const CLIENT_ID_BYTES: usize = 24;
/// Members a client must not send in an update (RFC 7592 §2.2).
const SERVER_ONLY_MEMBERS: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
];

/// `POST /client-registration/v1/register`.
pub(crate) async fn register(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let principal = request.extensions().get::<Principal>().cloned();
    let registrant = inner.registrant(principal, request.headers()).await?;
    let body = crate::services::read_json(request).await?;
    let mut metadata = ClientMetadata::read(&body)?;
    if registrant.is_none() {
        // Nobody vouches for an open registration: server-wide lifetimes only.
        metadata.lifetimes = LifetimeOverrides::default();
    }
    let client_id = inner.new_client_id()?;
    let owner = registrant.unwrap_or_else(|| client_id.clone());
    let fresh = inner.fresh_client(&client_id, &owner);
    let mut client = metadata.apply(fresh, &inner.metadata_rules(true))?;
    let secret = inner.issue_secret_if_needed(&mut client)?;
    let stored = inner.stores.clients().create_client(&client).await?;
    tracing::info!(client_id = %stored.client_id, owner = %stored.owner, "client registered");
    let body = inner
        .registration_document(&stored, secret.as_ref())
        .await?;
    Ok(no_store_json(StatusCode::CREATED, body))
}

/// `GET /client-registration/v1/register/{client_id}`.
pub(crate) async fn read(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let client = inner.registered_client(&client_id, &headers).await?;
    let body = inner.registration_document(&client, None).await?;
    Ok(no_store_json(StatusCode::OK, body))
}

/// `PUT /client-registration/v1/register/{client_id}`: replaces the registration.
pub(crate) async fn update(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let current = inner
        .registered_client(&client_id, request.headers())
        .await?;
    let body = crate::services::read_json(request).await?;
    if body.get("client_id").and_then(Value::as_str) != Some(current.client_id.as_str()) {
        return Err(OAuthError::invalid_request("client_id must be the client's own").into());
    }
    if let Some(member) = SERVER_ONLY_MEMBERS.iter().find(|m| body.contains_key(**m)) {
        return Err(OAuthError::invalid_request(format!("{member} must not be sent")).into());
    }
    if let Some(sent) = body.get("client_secret") {
        let matches = sent.as_str().is_some_and(|s| {
            current.secret_digest.as_deref().is_some_and(|stored| {
                inner
                    .protection
                    .verify_client_secret(stored, &Secret::new(s))
            })
        });
        if !matches {
            return Err(OAuthError::InvalidClientMetadata(None)
                .with_description("client_secret is not the client's secret")
                .into());
        }
    }
    let mut metadata = ClientMetadata::read(&body)?;
    if current.owner == current.client_id {
        // Registered openly: it still may not choose its token lifetimes.
        metadata.lifetimes = LifetimeOverrides::default();
    }
    let mut base = inner.fresh_client(&current.client_id, &current.owner);
    base.secret_digest = current.secret_digest.clone();
    base.created_at_ms = current.created_at_ms;
    let mut client = metadata.apply(base, &inner.metadata_rules(true))?;
    let secret = inner.issue_secret_if_needed(&mut client)?;
    let stored = inner.store_update(&client).await?;
    tracing::info!(client_id = %stored.client_id, "client registration updated");
    let body = inner
        .registration_document(&stored, secret.as_ref())
        .await?;
    Ok(no_store_json(StatusCode::OK, body))
}

/// `DELETE /client-registration/v1/register/{client_id}`.
pub(crate) async fn delete(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let client = km.inner.registered_client(&client_id, &headers).await?;
    km.remove_client(&client.client_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

impl KeyManager {
    /// Deletes a client after revoking (and announcing) every token of it.
    pub(crate) async fn remove_client(&self, client_id: &str) -> Result<(), Failure> {
        let revoked = self.revoke_client_tokens(client_id).await?;
        self.inner.stores.clients().delete_client(client_id).await?;
        self.inner.cache.changed(CLIENT_DOMAIN, client_id);
        self.inner
            .services
            .validation_cache
            .forget_client(client_id);
        tracing::info!(%client_id, revoked, "client deleted");
        Ok(())
    }
}

impl Inner {
    /// Who registers: the owner to be, or `None` for open registration.
    async fn registrant(
        &self,
        principal: Option<Principal>,
        headers: &HeaderMap,
    ) -> Result<Option<String>, Failure> {
        let principal = match principal {
            Some(principal) => principal,
            None if authorization(headers)?.is_none() => {
                return if self.settings.services.open_registration {
                    Ok(None)
                } else {
                    Err(OAuthError::InvalidToken(None)
                        .with_description("registration needs an initial access token")
                        .into())
                };
            }
            None => self.authenticate_principal(headers).await?,
        };
        match &principal.credential {
            Credential::Password if principal.has_role(&self.settings.admin_role) => {
                Ok(Some(principal.username))
            }
            Credential::Password => Err(Failure::Forbidden(OAuthError::access_denied(
                "only administrators register clients",
            ))),
            Credential::AccessToken { scopes, .. }
                if scopes.iter().any(|s| s == REGISTRATION_SCOPE) =>
            {
                Ok(Some(principal.username))
            }
            Credential::AccessToken { .. } => Err(OAuthError::InsufficientScope(None)
                .with_description("the token may not register clients")
                .into()),
        }
    }

    /// The client a registration access token manages.
    async fn registered_client(
        &self,
        client_id: &str,
        headers: &HeaderMap,
    ) -> Result<OAuthClient, Failure> {
        let presented = bearer_token(headers)?;
        let invalid = || Failure::from(OAuthError::InvalidToken(None));
        let Some(client) = self.stores.clients().client(client_id).await? else {
            return Err(invalid());
        };
        let expected = self.registration_access_token(&client).await?;
        if verify_slices_are_equal(expected.expose().as_bytes(), presented.as_bytes()).is_err() {
            tracing::info!(%client_id, "wrong registration access token");
            return Err(invalid());
        }
        Ok(client)
    }

    /// The registration access token of `client` (RFC 7592 §1): HMAC-SHA256 of its id and
    /// registration time under the shared registration key.
    pub(crate) async fn registration_access_token(
        &self,
        client: &OAuthClient,
    ) -> Result<Secret, Failure> {
        let key = self
            .services
            .registration_key
            .get_or_try_init(|| async {
                let fresh = random_bytes(self.entropy.as_ref(), 32)?;
                self.stores
                    .keys()
                    .ensure_server_secret(
                        &self.settings.tenant,
                        REGISTRATION_KEY_SECRET,
                        &fresh,
                        self.clock.now_ms(),
                    )
                    .await
                    .map_err(Failure::from)
            })
            .await?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut context = hmac::Context::with_key(&key);
        for part in [
            "keygate registration access token v1",
            client.tenant.domain(),
            &client.client_id,
            &client.created_at_ms.to_string(),
        ] {
            context.update(part.as_bytes());
            context.update(&[0]);
        }
        Ok(Secret::new(URL_SAFE_NO_PAD.encode(context.sign().as_ref())))
    }

    /// A new client id: random, URL-safe.
    pub(crate) fn new_client_id(&self) -> Result<String, Failure> {
        let bytes = random_bytes(self.entropy.as_ref(), CLIENT_ID_BYTES)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A client record with RFC 7591's defaults, to lay metadata over.
    pub(crate) fn fresh_client(&self, client_id: &str, owner: &str) -> OAuthClient {
        let now = self.clock.now_ms();
        OAuthClient {
            client_id: client_id.to_owned(),
            tenant: self.settings.tenant.clone(),
            secret_digest: None,
            client_name: client_id.to_owned(),
            owner: owner.to_owned(),
            redirect_uris: Vec::new(),
            grant_types: vec![grant_types::AUTHORIZATION_CODE.to_owned()],
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            pkce_mandatory: false,
            pkce_plain_allowed: false,
            lifetimes: ClientTokenLifetimes::default(),
            token_type: TokenType::Jwt,
            jwks: None,
            jwks_uri: None,
            tls_client_auth_subject_dn: None,
            created_at_ms: now,
            updated_at_ms: now,
        }
    }

    /// The metadata rules: strict redirects for dynamic registration.
    pub(crate) fn metadata_rules(&self, strict_redirects: bool) -> MetadataRules {
        MetadataRules {
            strict_redirects,
            mutual_tls: self.settings.mutual_tls_enabled,
        }
    }

    /// Gives a client that authenticates with a secret and has none a new one (returned,
    /// to be shown once), and takes the secret away from one that no longer uses it.
    pub(crate) fn issue_secret_if_needed(
        &self,
        client: &mut OAuthClient,
    ) -> Result<Option<Secret>, Failure> {
        let uses_secret = matches!(
            client.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
        );
        if !uses_secret {
            client.secret_digest = None;
            return Ok(None);
        }
        if client.secret_digest.is_some() {
            return Ok(None);
        }
        let secret =
            keygate_oauth::random::opaque_value(&mut crate::clock::Draw(self.entropy.as_ref()))?;
        client.secret_digest = Some(self.protection.seal_client_secret(&secret)?);
        Ok(Some(secret))
    }

    /// Stores a changed client, its secret included.
    pub(crate) async fn store_update(&self, client: &OAuthClient) -> Result<OAuthClient, Failure> {
        let now = self.clock.now_ms();
        let clients = self.stores.clients();
        let stored = async {
            clients
                .set_client_secret(&client.client_id, client.secret_digest.as_deref(), now)
                .await?;
            clients.update_client(client, now).await
        }
        .await;
        // Even a half-done update changed something: the next request reads it afresh.
        self.cache.changed(CLIENT_DOMAIN, &client.client_id);
        Ok(stored?)
    }

    /// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
    async fn registration_document(
        &self,
        client: &OAuthClient,
        secret: Option<&Secret>,
    ) -> Result<Value, Failure> {
        let token = self.registration_access_token(client).await?;
        let mut body = json!({
            "client_id": client.client_id,
            "client_id_issued_at": client.created_at_ms.div_euclid(1000),
            "client_name": client.client_name,
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types,
            "response_types": response_types_for(&client.grant_types),
            "token_endpoint_auth_method": client.token_endpoint_auth_method.as_str(),
            "token_type_extension": client.token_type.as_str(),
            "registration_access_token": token.expose(),
            "registration_client_uri": self
                .settings
                .endpoint(&format!("{REGISTRATION_PATH}/{}", client.client_id)),
        });
        if let Some(secret) = secret {
            body["client_secret"] = Value::String(secret.expose().to_owned());
        }
        if client.secret_digest.is_some() {
            body["client_secret_expires_at"] = json!(0);
        }
        if let Some(jwks) = client.jwks.as_deref() {
            body["jwks"] = serde_json::from_str(jwks).unwrap_or(Value::Null);
        }
        if let Some(uri) = &client.jwks_uri {
            body["jwks_uri"] = Value::String(uri.clone());
        }
        if let Some(dn) = &client.tls_client_auth_subject_dn {
            body["tls_client_auth_subject_dn"] = Value::String(dn.clone());
        }
        Ok(body)
    }
}
