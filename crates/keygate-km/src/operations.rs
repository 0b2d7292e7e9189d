//! The key-manager operations the control plane calls (DESIGN §4), in the shape WSO2
//! IS-KM gives API Manager: OAuth clients at `/keymanager-operations/dcr/register` —
//! create (`POST`), read (`GET …/{client_id}`), update (`PUT`), delete (`DELETE`) and
//! regenerate the secret (`POST …/{client_id}/regenerate-consumer-secret`) — and a user's
//! claims at `/keymanager-operations/user-info/claims`.
//!
//! The caller authenticates with HTTP Basic as the `[apim.key_manager]` user (the super
//! admin unless configured) or another administrator. A client is described as WSO2's
//! `ClientInfo`: `client_id`, `client_name`, `redirect_uris`, `grant_types`,
//! `ext_param_owner`, `token_type_extension` (`JWT` or `OAUTH`), the effective
//! `ext_{application,user,refresh,id}_token_lifetime` in seconds, `ext_pkce_mandatory`,
//! `ext_pkce_support_plain`, `ext_public_client` and `token_endpoint_auth_method`. The
//! secret (`client_secret`) appears only when it is made: on creation and regeneration.
//! Creation takes a `ext_param_client_id` and `ext_param_client_secret` to provision keys
//! that exist elsewhere. Updates change what the request carries and keep the rest, as
//! WSO2 does. Regenerating the secret, or deleting the client, revokes every token issued
//! to it.
//!
//! Owners and user names may carry WSO2's `@carbon.super`; it is dropped.
//!
//! Claims come back as WSO2's `ClaimsList`: `{"count": n, "list": [{"uri", "value"}]}`,
//! for the user named (`username`, with or without `@carbon.super`) or the subject of an
//! access token (`accessToken`), in the `http://wso2.org/claims` dialect (`dialect` may
//! narrow it), roles included as `http://wso2.org/claims/role`.

use crate::access_control::Principal;
use crate::client_metadata::ClientMetadata;
use crate::errors::{Failure, no_store, no_store_json};
use crate::manager::{Inner, KeyManager};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keygate_model::{OAuthClient, SUPER_TENANT_DOMAIN, Secret, claims};
use keygate_oauth::OAuthError;
use serde_json::{Value, json};

/// `POST /keymanager-operations/dcr/register`.
pub(crate) async fn create(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let caller = inner.operations_caller(&request).await?;
    let body = crate::services::read_json(request).await?;
    let metadata = ClientMetadata::read(&body)?;
    let client_id = match metadata.provided_client_id()? {
        Some(id) => {
            if inner.stores.clients().client(id).await?.is_some() {
                return Err(OAuthError::InvalidClientMetadata(None)
                    .with_description("the client id is registered already")
                    .into());
            }
            id.to_owned()
        }
        None => inner.new_client_id()?,
    };
    let owner = metadata
        .owner
        .as_deref()
        .map(local_name)
        .unwrap_or(&caller.username)
        .to_owned();
    let mut fresh = inner.fresh_client(&client_id, &owner);
    if let Some(secret) = metadata.provided_client_secret()? {
        fresh.secret_digest = Some(inner.protection.seal_client_secret(secret)?);
    }
    let mut client = metadata.apply(fresh, &inner.metadata_rules(false))?;
    let mut secret = inner.issue_secret_if_needed(&mut client)?;
    if secret.is_none() && client.secret_digest.is_some() {
        secret = metadata.provided_client_secret()?.cloned();
    }
    let stored = inner.stores.clients().create_client(&client).await?;
    tracing::info!(client_id = %stored.client_id, owner = %stored.owner, "client created for the control plane");
    Ok(no_store_json(
        StatusCode::CREATED,
        inner.client_info(&stored, secret.as_ref()),
    ))
}

/// `GET /keymanager-operations/dcr/register/{client_id}`.
pub(crate) async fn read(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    inner.operations_caller(&request).await?;
    let client = inner.existing_client(&client_id).await?;
    Ok(no_store_json(
        StatusCode::OK,
        inner.client_info(&client, None),
    ))
}

/// `PUT /keymanager-operations/dcr/register/{client_id}`: changes what the body carries.
pub(crate) async fn update(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    inner.operations_caller(&request).await?;
    let current = inner.existing_client(&client_id).await?;
    let body = crate::services::read_json(request).await?;
    let metadata = ClientMetadata::read(&body)?;
    if metadata
        .client_id
        .as_deref()
        .is_some_and(|id| id != current.client_id)
    {
        return Err(OAuthError::invalid_request("the client id cannot change").into());
    }
    let mut changed = metadata.apply(current, &inner.metadata_rules(false))?;
    if let Some(owner) = &metadata.owner {
        changed.owner = local_name(owner).to_owned();
    }
    let secret = inner.issue_secret_if_needed(&mut changed)?;
    let stored = inner.store_update(&changed).await?;
    tracing::info!(client_id = %stored.client_id, "client updated for the control plane");
    Ok(no_store_json(
        StatusCode::OK,
        inner.client_info(&stored, secret.as_ref()),
    ))
}

/// `DELETE /keymanager-operations/dcr/register/{client_id}`.
pub(crate) async fn delete(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    km.inner.operations_caller(&request).await?;
    let client = km.inner.existing_client(&client_id).await?;
    km.remove_client(&client.client_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// `POST /keymanager-operations/dcr/register/{client_id}/regenerate-consumer-secret`: a
/// new secret; the old one, and every token issued to the client, stop working.
pub(crate) async fn regenerate_secret(
    State(km): State<KeyManager>,
    Path(client_id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    inner.operations_caller(&request).await?;
    let mut client = inner.existing_client(&client_id).await?;
    if client.secret_digest.is_none() {
        return Err(OAuthError::invalid_request("the client does not use a secret").into());
    }
    client.secret_digest = None;
    let secret = inner
        .issue_secret_if_needed(&mut client)?
        .ok_or_else(|| OAuthError::invalid_request("the client does not use a secret"))?;
    let stored = inner.store_update(&client).await?;
    let revoked = km.revoke_client_tokens(&client_id).await?;
    inner.services.validation_cache.forget_client(&client_id);
    tracing::info!(%client_id, revoked, "client secret regenerated");
    Ok(no_store_json(
        StatusCode::OK,
        inner.client_info(&stored, Some(&secret)),
    ))
}

/// `POST /keymanager-operations/user-info/claims`.
pub(crate) async fn user_claims(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    inner.operations_caller(&request).await?;
    let body = crate::services::read_json(request).await?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let username = match (text("username"), text("accessToken")) {
        (Some(username), _) => username,
        (None, Some(token)) => inner
            .access_token_by_value(&token)
            .await?
            .map(|found| found.record)
            .filter(|record| record.is_active_at(inner.clock.now_ms()))
            .map(|record| record.subject)
            .ok_or(OAuthError::InvalidToken(None))?,
        (None, None) => return Err(OAuthError::missing_parameter("username").into()),
    };
    let username = local_name(&username).to_owned();
    let dialect = text("dialect").unwrap_or_else(|| claims::DIALECT.to_owned());
    let user = inner
        .stores
        .users()
        .user(&username)
        .await?
        .ok_or_else(|| Failure::NotFound(OAuthError::invalid_request("no such user")))?;
    let list: Vec<Value> = claims::of_dialect(&user.claims, &user.roles, &dialect)
        .into_iter()
        .map(|(uri, value)| json!({ "uri": uri, "value": value }))
        .collect();
    Ok(no_store_json(
        StatusCode::OK,
        json!({ "count": list.len(), "list": list }),
    ))
}

/// A user name without the super tenant's `@carbon.super`, as WSO2 qualifies names.
fn local_name(username: &str) -> &str {
    username
        .strip_suffix(SUPER_TENANT_DOMAIN)
        .and_then(|rest| rest.strip_suffix('@'))
        .unwrap_or(username)
}

impl Inner {
    /// The caller of an operation: the `[apim.key_manager]` user or an administrator.
    fn operations_caller(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Principal, Failure>> + Send + '_ {
        let principal = request.extensions().get::<Principal>().cloned();
        let headers = request.headers().clone();
        async move { self.service_caller(principal.as_ref(), &headers).await }
    }

    /// The client `client_id` names; `404` when there is none.
    async fn existing_client(&self, client_id: &str) -> Result<OAuthClient, Failure> {
        self.stores
            .clients()
            .client(client_id)
            .await?
            .ok_or_else(|| Failure::NotFound(OAuthError::invalid_client("no client with this id")))
    }

    /// WSO2's `ClientInfo` of a client, with its secret when one was just made.
    fn client_info(&self, client: &OAuthClient, secret: Option<&Secret>) -> Value {
        let lifetimes = self.settings.lifetimes.for_client(&client.lifetimes);
        let mut body = json!({
            "client_id": client.client_id,
            "client_name": client.client_name,
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types,
            "ext_param_owner": client.owner,
            "token_type_extension": client.token_type.as_str(),
            "token_endpoint_auth_method": client.token_endpoint_auth_method.as_str(),
            "ext_application_token_lifetime": lifetimes.application_access_token.as_secs(),
            "ext_user_token_lifetime": lifetimes.user_access_token.as_secs(),
            "ext_refresh_token_lifetime": lifetimes.refresh_token.as_secs(),
            "ext_id_token_lifetime": lifetimes.id_token.as_secs(),
            "ext_pkce_mandatory": client.pkce_mandatory,
            "ext_pkce_support_plain": client.pkce_plain_allowed,
            "ext_public_client": client.is_public(),
        });
        if let Some(secret) = secret {
            body["client_secret"] = Value::String(secret.expose().to_owned());
        }
        if let Some(uri) = client.redirect_uris.first() {
            body["callbackUrl"] = Value::String(uri.clone());
        }
        body
    }
}
