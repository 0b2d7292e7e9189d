//! OAuth clients (`kg_oauth_client`): what DCR registers and the token endpoint
//! authenticates. The secret column holds what the key manager computed (an HMAC with the
//! server pepper, or ciphertext) — never a clear secret. Deleting a client deletes its
//! tokens and codes.

use crate::SqlApim;
use crate::db::{Columns, Page, bounded, flag, json, limit, page_args};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use keygate_model::{ClientTokenLifetimes, OAuthClient, Tenant};
use sqlx::any::AnyRow;

/// OAuth clients of the key manager (RFC 7591 registrations).
#[async_trait]
pub trait OAuthClientRepository: Send + Sync {
    /// Stores a new client; [`StoreError::Conflict`] when the client id is taken.
    async fn create_client(&self, client: &OAuthClient) -> StoreResult<OAuthClient>;

    /// The client by id (consumer key).
    async fn client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>>;

    /// Clients registered by `owner`, ordered by name.
    async fn list_clients_by_owner(
        &self,
        tenant: &Tenant,
        owner: &str,
        page: Page,
    ) -> StoreResult<Vec<OAuthClient>>;

    /// All clients of a tenant, ordered by id.
    async fn list_clients(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<OAuthClient>>;

    /// Replaces a client's metadata (RFC 7592 update); its id, secret and creation time
    /// stay.
    async fn update_client(&self, client: &OAuthClient, now_ms: i64) -> StoreResult<OAuthClient>;

    /// Replaces the stored secret digest (secret regeneration); whether the client exists.
    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_digest: Option<&[u8]>,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes a client with its tokens and codes; whether it existed.
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
}

const CLIENT_COLUMNS: &str = "client_id, tenant, secret_digest, client_name, owner, \
     redirect_uris, grant_types, token_endpoint_auth_method, pkce_mandatory, pkce_plain_allowed, \
     user_access_token_ms, application_access_token_ms, refresh_token_ms, id_token_ms, \
     token_type, jwks, jwks_uri, tls_client_auth_subject_dn, created_at_ms, updated_at_ms";

fn client_from_row(row: &AnyRow) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        client_id: row.text("client_id")?,
        tenant: Tenant::new(row.text("tenant")?),
        secret_digest: row.opt_bytes("secret_digest")?,
        client_name: row.text("client_name")?,
        owner: row.text("owner")?,
        redirect_uris: row.json("redirect_uris")?,
        grant_types: row.json("grant_types")?,
        token_endpoint_auth_method: row.parsed("token_endpoint_auth_method")?,
        pkce_mandatory: row.flag("pkce_mandatory")?,
        pkce_plain_allowed: row.flag("pkce_plain_allowed")?,
        lifetimes: ClientTokenLifetimes {
            user_access_token_ms: row.opt_int("user_access_token_ms")?,
            application_access_token_ms: row.opt_int("application_access_token_ms")?,
            refresh_token_ms: row.opt_int("refresh_token_ms")?,
            id_token_ms: row.opt_int("id_token_ms")?,
        },
        token_type: row.parsed("token_type")?,
        jwks: row.opt_text("jwks")?,
        jwks_uri: row.opt_text("jwks_uri")?,
        tls_client_auth_subject_dn: row.opt_text("tls_client_auth_subject_dn")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
    })
}

fn validate(client: &OAuthClient) -> StoreResult<()> {
    bounded("client id", &client.client_id, limit::NAME)?;
    bounded("tenant", client.tenant.domain(), limit::TENANT)?;
    bounded("client owner", &client.owner, limit::NAME)?;
    Ok(())
}

impl SqlApim {
    async fn some_clients(
        &self,
        filter: &str,
        order: &str,
        args: Vec<String>,
        page: Page,
    ) -> StoreResult<Vec<OAuthClient>> {
        let (limit, offset) = page_args(page);
        let mut query = self.db.query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM kg_oauth_client WHERE {filter} ORDER BY {order} \
             LIMIT ? OFFSET ?"
        ));
        for arg in args {
            query = query.bind(arg);
        }
        query
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "oauth clients"))?
            .iter()
            .map(client_from_row)
            .collect()
    }
}

#[async_trait]
impl OAuthClientRepository for SqlApim {
    async fn create_client(&self, c: &OAuthClient) -> StoreResult<OAuthClient> {
        validate(c)?;
        self.db
            .query(&format!(
                "INSERT INTO kg_oauth_client ({CLIENT_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(c.client_id.clone())
            .bind(c.tenant.domain().to_owned())
            .bind(c.secret_digest.clone())
            .bind(c.client_name.clone())
            .bind(c.owner.clone())
            .bind(json("redirect uris", &c.redirect_uris)?)
            .bind(json("grant types", &c.grant_types)?)
            .bind(c.token_endpoint_auth_method.as_str())
            .bind(flag(c.pkce_mandatory))
            .bind(flag(c.pkce_plain_allowed))
            .bind(c.lifetimes.user_access_token_ms)
            .bind(c.lifetimes.application_access_token_ms)
            .bind(c.lifetimes.refresh_token_ms)
            .bind(c.lifetimes.id_token_ms)
            .bind(c.token_type.as_str())
            .bind(c.jwks.clone())
            .bind(c.jwks_uri.clone())
            .bind(c.tls_client_auth_subject_dn.clone())
            .bind(c.created_at_ms)
            .bind(c.updated_at_ms)
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, &format!("oauth client {}", c.client_id)))?;
        self.client(&c.client_id)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("oauth client {}", c.client_id)))
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>> {
        self.db
            .query(&format!(
                "SELECT {CLIENT_COLUMNS} FROM kg_oauth_client WHERE client_id = ?"
            ))
            .bind(client_id.to_owned())
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "oauth client"))?
            .map(|row| client_from_row(&row))
            .transpose()
    }

    async fn list_clients_by_owner(
        &self,
        tenant: &Tenant,
        owner: &str,
        page: Page,
    ) -> StoreResult<Vec<OAuthClient>> {
        self.some_clients(
            "tenant = ? AND owner = ?",
            "client_name, client_id",
            vec![tenant.domain().to_owned(), owner.to_owned()],
            page,
        )
        .await
    }

    async fn list_clients(&self, tenant: &Tenant, page: Page) -> StoreResult<Vec<OAuthClient>> {
        self.some_clients(
            "tenant = ?",
            "client_id",
            vec![tenant.domain().to_owned()],
            page,
        )
        .await
    }

    async fn update_client(&self, c: &OAuthClient, now_ms: i64) -> StoreResult<OAuthClient> {
        validate(c)?;
        let done = self
            .db
            .query(
                "UPDATE kg_oauth_client SET client_name = ?, owner = ?, redirect_uris = ?, \
                 grant_types = ?, token_endpoint_auth_method = ?, pkce_mandatory = ?, \
                 pkce_plain_allowed = ?, user_access_token_ms = ?, \
                 application_access_token_ms = ?, refresh_token_ms = ?, id_token_ms = ?, \
                 token_type = ?, jwks = ?, jwks_uri = ?, tls_client_auth_subject_dn = ?, \
                 updated_at_ms = ? WHERE client_id = ?",
            )
            .bind(c.client_name.clone())
            .bind(c.owner.clone())
            .bind(json("redirect uris", &c.redirect_uris)?)
            .bind(json("grant types", &c.grant_types)?)
            .bind(c.token_endpoint_auth_method.as_str())
            .bind(flag(c.pkce_mandatory))
            .bind(flag(c.pkce_plain_allowed))
            .bind(c.lifetimes.user_access_token_ms)
            .bind(c.lifetimes.application_access_token_ms)
            .bind(c.lifetimes.refresh_token_ms)
            .bind(c.lifetimes.id_token_ms)
            .bind(c.token_type.as_str())
            .bind(c.jwks.clone())
            .bind(c.jwks_uri.clone())
            .bind(c.tls_client_auth_subject_dn.clone())
            .bind(now_ms)
            .bind(c.client_id.clone())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "oauth client"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "oauth client {}",
                c.client_id
            )));
        }
        self.client(&c.client_id)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("oauth client {}", c.client_id)))
    }

    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_digest: Option<&[u8]>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = self
            .db
            .query(
                "UPDATE kg_oauth_client SET secret_digest = ?, updated_at_ms = ? \
                 WHERE client_id = ?",
            )
            .bind(secret_digest.map(<[u8]>::to_vec))
            .bind(now_ms)
            .bind(client_id.to_owned())
            .execute(self.db.pool())
            .await
            .map_err(|e| self.db.fail(e, "oauth client"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        self.db
            .delete_one("kg_oauth_client", "client_id", client_id, "oauth client")
            .await
    }
}
