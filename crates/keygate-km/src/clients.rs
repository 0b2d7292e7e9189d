//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3): `client_secret_basic` and `client_secret_post` against the sealed secret,
//! `private_key_jwt` (RFC 7523 §2.2) against the client's registered keys with single-use
//! `jti`, `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2) — only while
//! mutual TLS is on — and public clients (`none`), which identify themselves without
//! proving anything.
//!
//! A client may authenticate only with the method it registered (a secret client with
//! either secret method, as WSO2 allows). Every failure is the same `invalid_client`
//! (401, with a Basic challenge when the `Authorization` header was used) whatever was
//! wrong, and the log line names the client id and the reason, never the credential.

use crate::assertion::{self, AssertionRules};
use crate::errors::Failure;
use crate::manager::Inner;
use crate::mtls::ClientCertificates;
use keygate_jose::{JwkSet, VerifyingKeySet};
use keygate_model::{OAuthClient, TokenEndpointAuthMethod, User};
use keygate_oauth::{ClientCredentials, OAuthError};
use std::sync::Arc;

/// A client whose identity the request established.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The registration (shared with the lookup cache).
    pub client: Arc<OAuthClient>,
    /// How it proved who it is (`none` for a public client).
    pub method: TokenEndpointAuthMethod,
    /// The `x5t#S256` of the certificate it authenticated with, for RFC 8705 mutual TLS:
    /// tokens issued to it are bound to that certificate.
    pub certificate_thumbprint: Option<String>,
}

impl AuthenticatedClient {
    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client.client_id
    }

    /// Whether the client is public: it proved nothing.
    pub fn is_public(&self) -> bool {
        self.method == TokenEndpointAuthMethod::None
    }
}

/// Who called an endpoint that takes either a client or an administrator
/// (introspection).
#[derive(Debug, Clone)]
pub enum Caller {
    /// An authenticated client.
    Client(Box<AuthenticatedClient>),
    /// A user with the administrator role, by HTTP Basic.
    Administrator(User),
}

impl Inner {
    /// The registration of `client_id`, from the lookup cache or else the database (and
    /// then kept). Unknown ids are not cached: a client registered a moment ago is found.
    pub(crate) async fn client_registration(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<OAuthClient>>, Failure> {
        if let Some(client) = self.cache.client(client_id) {
            return Ok(Some(client));
        }
        let mark = self.cache.client_mark();
        let Some(client) = self.stores.clients().client(client_id).await? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        self.cache.keep_client(mark, client.clone());
        Ok(Some(client))
    }

    /// Authenticates the client a request names. `path` is the endpoint called, an
    /// accepted audience of client assertions.
    pub(crate) async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
        certificates: Option<&ClientCertificates>,
        path: &str,
    ) -> Result<AuthenticatedClient, Failure> {
        let failure = || Failure::from(credentials.failure());
        let client_id = match credentials {
            ClientCredentials::Anonymous => {
                return Err(OAuthError::invalid_client("client authentication required").into());
            }
            ClientCredentials::JwtAssertion {
                client_id: None,
                assertion,
            } => assertion::unverified_issuer(assertion.expose()).ok_or_else(failure)?,
            other => other.client_id().unwrap_or_default().to_owned(),
        };
        let Some(client) = self.client_registration(&client_id).await? else {
            tracing::info!(%client_id, "client authentication failed: unknown client");
            return Err(failure());
        };
        let refuse = |why: &str| {
            tracing::info!(%client_id, reason = why, "client authentication failed");
            failure()
        };
        if !credentials.is_allowed_for(client.token_endpoint_auth_method) {
            return Err(refuse("method not registered for the client"));
        }
        let mut certificate_thumbprint = None;
        let method = match credentials {
            ClientCredentials::SecretBasic { secret, .. }
            | ClientCredentials::SecretPost { secret, .. } => {
                let verified = client
                    .secret_digest
                    .as_deref()
                    .is_some_and(|stored| self.protection.verify_client_secret(stored, secret));
                if !verified {
                    return Err(refuse("wrong client secret"));
                }
                if credentials.used_basic() {
                    TokenEndpointAuthMethod::ClientSecretBasic
                } else {
                    TokenEndpointAuthMethod::ClientSecretPost
                }
            }
            ClientCredentials::JwtAssertion { assertion, .. } => {
                self.verify_client_assertion(&client, assertion.expose(), path)
                    .await
                    .map_err(|e| match e {
                        Failure::OAuth(e) => {
                            tracing::info!(
                                %client_id,
                                reason = e.description().unwrap_or_default(),
                                "client authentication failed"
                            );
                            failure()
                        }
                        other => other,
                    })?;
                TokenEndpointAuthMethod::PrivateKeyJwt
            }
            ClientCredentials::ClientIdOnly { .. } => match client.token_endpoint_auth_method {
                TokenEndpointAuthMethod::None => TokenEndpointAuthMethod::None,
                method @ (TokenEndpointAuthMethod::TlsClientAuth
                | TokenEndpointAuthMethod::SelfSignedTlsClientAuth) => {
                    if !self.settings.mutual_tls_enabled {
                        return Err(refuse("mutual TLS client authentication is disabled"));
                    }
                    if let Err(why) =
                        self.certificates
                            .authenticate(&client, certificates, self.clock.now())
                    {
                        return Err(refuse(&why.to_string()));
                    }
                    certificate_thumbprint = certificates.and_then(ClientCertificates::thumbprint);
                    method
                }
                _ => return Err(refuse("method not registered for the client")),
            },
            ClientCredentials::Anonymous => return Err(failure()),
        };
        Ok(AuthenticatedClient {
            client,
            method,
            certificate_thumbprint,
        })
    }

    /// Verifies a `private_key_jwt` assertion (RFC 7523 §3): `iss` and `sub` the client
    /// id, `aud` one of ours, unexpired, signed by a registered key, `jti` unused.
    async fn verify_client_assertion(
        &self,
        client: &OAuthClient,
        assertion: &str,
        path: &str,
    ) -> Result<(), Failure> {
        let keys = self.client_keys(client, assertion).await?;
        let rules = AssertionRules {
            issuer: client.client_id.clone(),
            subject: Some(client.client_id.clone()),
            audiences: self.settings.accepted_audiences(path),
            now: self.clock.now(),
            leeway: self.settings.assertion_leeway,
        };
        let claims = assertion::verify(assertion, &keys, &rules, OAuthError::invalid_client)?;
        let jti = claims.jti.as_deref().unwrap_or_default();
        let expires_at_ms = assertion::replay_window_end(&claims, self.settings.assertion_leeway);
        let first = self
            .replay
            .first_use(
                &self.stores,
                &client.client_id,
                jti,
                expires_at_ms,
                self.clock.now_ms(),
            )
            .await?;
        if !first {
            return Err(OAuthError::invalid_client("assertion already used").into());
        }
        Ok(())
    }

    /// The keys a client registered: its inline `jwks`, else those at its `jwks_uri`.
    async fn client_keys(
        &self,
        client: &OAuthClient,
        assertion: &str,
    ) -> Result<Arc<VerifyingKeySet>, Failure> {
        if let Some(text) = client.jwks.as_deref() {
            let set: JwkSet = serde_json::from_str(text)
                .map_err(|_| OAuthError::invalid_client("registered jwks unusable"))?;
            let (keys, _) = VerifyingKeySet::from_jwk_set(&set);
            return Ok(Arc::new(keys));
        }
        let Some(url) = client.jwks_uri.as_deref() else {
            return Err(OAuthError::invalid_client("no keys registered").into());
        };
        let kid = keygate_jose::jws::peek_header(assertion)
            .ok()
            .and_then(|h| h.kid);
        self.remote_keys
            .keys(url, kid.as_deref(), self.clock.now())
            .await
            .map_err(|e| {
                tracing::info!(client_id = %client.client_id, error = %e, "client keys unavailable");
                OAuthError::invalid_client("registered keys unavailable").into()
            })
    }

    /// Authenticates the caller of introspection: a client by any method it registered,
    /// or, by HTTP Basic, a user holding the administrator role (WSO2 protects
    /// `/oauth2/introspect` with the admin's credentials).
    pub(crate) async fn authenticate_caller(
        &self,
        credentials: &ClientCredentials,
        certificates: Option<&ClientCertificates>,
        path: &str,
    ) -> Result<Caller, Failure> {
        if let ClientCredentials::SecretBasic { client_id, secret } = credentials
            && self.client_registration(client_id).await?.is_none()
        {
            let user = self.stores.users().authenticate(client_id, secret).await?;
            return match user {
                Some(user) if !user.is_locked() && user.has_role(&self.settings.admin_role) => {
                    Ok(Caller::Administrator(user))
                }
                _ => {
                    tracing::info!(username = %client_id, "introspection caller refused");
                    Err(credentials.failure().into())
                }
            };
        }
        self.authenticate_client(credentials, certificates, path)
            .await
            .map(|client| Caller::Client(Box::new(client)))
    }
}
