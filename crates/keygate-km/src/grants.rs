//! The token endpoint (`POST /oauth2/token`, RFC 6749 §3.2): authenticate the client,
//! read the grant, check that the client may use it, decide what to issue, persist,
//! answer. Grants: `client_credentials` (§4.4), `password` (§4.3), `authorization_code`
//! (§4.1.3, with PKCE per RFC 7636), `refresh_token` (§6, rotated with reuse detection
//! per RFC 9700 §4.14.2) and `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523
//! §2.1, from trusted issuers).
//!
//! Public clients may use only the authorization code grant (where PKCE is required of
//! them) and the refresh tokens it yields. Scopes go through WSO2's role-based scope
//! issuer with the user's roles — the client owner's for an application token — plus the
//! whitelisted scopes. A replayed code or a reused refresh token revokes every token of
//! its family, and each revoked token is announced on the bus.

use crate::assertion::{self, AssertionRules};
use crate::clients::AuthenticatedClient;
use crate::discovery::OIDC_SCOPES;
use crate::errors::Failure;
use crate::events::RevocationReason;
use crate::http::FormRequest;
use crate::manager::Inner;
use crate::settings::{IssuerKeys, MAX_REQUESTED_SCOPES, TOKEN_PATH};
use crate::tokens::{GrantOutcome, IdTokenRequest, Issued, RefreshIssue};
use axum::response::Response;
use keygate_model::{
    AccessToken, AuthorizationCode, RevokedToken, RevokedTokenType, Scope, Secret, TokenState,
};
use keygate_oauth::code::{self, CodeExchange, CodeRedeemError};
use keygate_oauth::grant::grant_types;
use keygate_oauth::lifetime::{AccessTokenKind, from_millis};
use keygate_oauth::pkce::PkcePolicy;
use keygate_oauth::refresh::{self, RefreshError, RefreshRequest};
use keygate_oauth::scope::{DEFAULT_SCOPE, OPENID};
use keygate_oauth::{ClientCredentials, OAuthError, RoleBasedScopeIssuer, ScopeSet, TokenRequest};
use keygate_store::{CodeConsumption, Page};
use std::collections::HashMap;
use std::sync::Arc;

/// Whose roles the role-based scope issuer checks requested scopes against.
#[derive(Debug, Clone, Copy)]
enum RolesOf<'a> {
    /// Roles already at hand.
    Given(&'a [String]),
    /// The roles of this user of the user store (none when there is no such user).
    User(&'a str),
}

/// Tokens read per page when collecting a refresh-token family.
const FAMILY_PAGE: u32 = 200;
/// Most pages read when collecting a family.
const FAMILY_PAGES: u32 = 50;

impl Inner {
    /// Answers a token request.
    pub(crate) async fn token(&self, request: FormRequest) -> Result<Response, Failure> {
        let credentials =
            ClientCredentials::from_request(request.authorization.as_deref(), &request.form)?;
        let client = self
            .authenticate_client(&credentials, request.certificates.as_ref(), TOKEN_PATH)
            .await?;
        let grant = TokenRequest::from_form(&request.form)?;
        grant.check_client_allowed(&client.client.grant_types, client.is_public())?;
        if client.is_public()
            && !matches!(
                grant,
                TokenRequest::AuthorizationCode { .. } | TokenRequest::RefreshToken { .. }
            )
        {
            return Err(OAuthError::unauthorized_client(
                "public clients may use only the authorization code grant",
            )
            .into());
        }
        self.signing
            .refresh_if_stale(&self.stores, self.clock.as_ref())
            .await;
        let grant_type = grant.grant_type();
        let issued = match grant {
            TokenRequest::ClientCredentials { scope } => {
                self.client_credentials(&client, scope.as_ref()).await?
            }
            TokenRequest::Password {
                username,
                password,
                scope,
            } => {
                self.password(&client, &username, &password, scope.as_ref())
                    .await?
            }
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.authorization_code(
                    &client,
                    &code,
                    redirect_uri.as_deref(),
                    code_verifier.as_ref(),
                )
                .await?
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh_token(&client, &refresh_token, scope.as_ref())
                    .await?
            }
            TokenRequest::JwtBearer { assertion, scope } => {
                self.jwt_bearer(&client, &assertion, scope.as_ref()).await?
            }
        };
        tracing::debug!(client_id = %client.client_id(), grant_type, "token issued");
        Ok(self.token_response(&issued))
    }

    async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&ScopeSet>,
    ) -> Result<Issued, Failure> {
        let owner = &client.client.owner;
        let outcome = GrantOutcome {
            client,
            subject: owner.clone(),
            grant_type: grant_types::CLIENT_CREDENTIALS.to_owned(),
            scopes: self.grant_scopes_with(scope, RolesOf::User(owner)).await?,
            kind: AccessTokenKind::Application,
            refresh: RefreshIssue::None,
            id_token: None,
            binding: client.certificate_thumbprint.clone(),
        };
        self.issue_new(&outcome).await
    }

    async fn password(
        &self,
        client: &AuthenticatedClient,
        username: &str,
        password: &Secret,
        scope: Option<&ScopeSet>,
    ) -> Result<Issued, Failure> {
        let user = self
            .stores
            .users()
            .authenticate(username, password)
            .await?
            .filter(|user| !user.is_locked())
            .ok_or_else(|| OAuthError::invalid_grant("invalid resource owner credentials"))?;
        let outcome = GrantOutcome {
            client,
            subject: user.username.clone(),
            grant_type: grant_types::PASSWORD.to_owned(),
            scopes: self.grant_scopes(scope, &user.roles).await?,
            kind: AccessTokenKind::User,
            refresh: self.refresh_for(client),
            id_token: Some(IdTokenRequest {
                nonce: None,
                auth_time: Some(self.clock.now()),
            }),
            binding: client.certificate_thumbprint.clone(),
        };
        self.issue_new(&outcome).await
    }

    async fn authorization_code(
        &self,
        client: &AuthenticatedClient,
        code: &Secret,
        redirect_uri: Option<&str>,
        code_verifier: Option<&Secret>,
    ) -> Result<Issued, Failure> {
        let digest = self.protection.lookup_key(code.expose());
        let stored = self
            .stores
            .codes()
            .code(&digest)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
        let exchange = CodeExchange {
            client_id: client.client_id(),
            redirect_uri,
            code_verifier: code_verifier.map(Secret::expose),
            pkce: PkcePolicy::for_client(&client.client),
        };
        let redeemed = match code::redeem(&stored, &exchange, self.clock.now()) {
            Ok(redeemed) => redeemed,
            Err(error @ CodeRedeemError::Replayed { .. }) => {
                self.code_replayed(&stored).await?;
                return Err(error.oauth_error().into());
            }
            Err(CodeRedeemError::Refused(e)) => return Err(e.into()),
        };
        match self
            .stores
            .codes()
            .consume_code(&digest, self.clock.now_ms())
            .await?
        {
            CodeConsumption::Consumed(_) => {}
            CodeConsumption::AlreadyUsed(used) => {
                self.code_replayed(&used).await?;
                return Err(OAuthError::invalid_grant("authorization code already used").into());
            }
            CodeConsumption::Expired(_) => {
                return Err(OAuthError::invalid_grant("authorization code expired").into());
            }
            CodeConsumption::Revoked(_) | CodeConsumption::Unknown => {
                return Err(OAuthError::invalid_grant("authorization code revoked").into());
            }
        }
        let user_still_allowed = self
            .stores
            .users()
            .user(&stored.subject)
            .await?
            .is_some_and(|user| !user.is_locked());
        if !user_still_allowed {
            return Err(OAuthError::invalid_grant("the user may no longer sign in").into());
        }
        let outcome = GrantOutcome {
            client,
            subject: stored.subject.clone(),
            grant_type: grant_types::AUTHORIZATION_CODE.to_owned(),
            scopes: redeemed.scopes,
            kind: AccessTokenKind::User,
            refresh: self.refresh_for(client),
            id_token: Some(IdTokenRequest {
                nonce: stored.nonce.clone(),
                auth_time: Some(from_millis(
                    stored.auth_time_ms.unwrap_or(stored.issued_at_ms),
                )),
            }),
            binding: client.certificate_thumbprint.clone(),
        };
        let issued = self.issue_new(&outcome).await?;
        self.stores
            .codes()
            .record_code_token(&stored.code_id, &issued.record.token_id)
            .await?;
        Ok(issued)
    }

    async fn refresh_token(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &Secret,
        scope: Option<&ScopeSet>,
    ) -> Result<Issued, Failure> {
        let digest = self.protection.lookup_key(refresh_token.expose());
        let presented = self
            .stores
            .tokens()
            .token_by_refresh_digest(&digest)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
        let lifetimes = self.settings.lifetimes.for_client(&client.client.lifetimes);
        let request = RefreshRequest {
            client_id: client.client_id(),
            scope,
            refresh_lifetime: lifetimes.refresh_token,
        };
        let rotation = match refresh::rotate(
            &presented,
            &request,
            self.clock.now(),
            &mut crate::clock::Draw(self.entropy.as_ref()),
        ) {
            Ok(rotation) => rotation,
            Err(error @ RefreshError::ReuseDetected { .. }) => {
                tracing::warn!(
                    client_id = %client.client_id(),
                    "refresh token reused; revoking its family"
                );
                self.revoke_family(&presented, RevocationReason::FamilyRevoked)
                    .await?;
                return Err(error.oauth_error().into());
            }
            Err(RefreshError::Refused(e)) => return Err(e.into()),
        };
        let outcome = GrantOutcome {
            client,
            subject: rotation.subject.clone(),
            grant_type: rotation.grant_type.clone(),
            scopes: rotation.access_scopes.clone(),
            kind: AccessTokenKind::for_grant(&rotation.grant_type),
            refresh: RefreshIssue::Rotation(Box::new(rotation)),
            id_token: None,
            binding: client.certificate_thumbprint.clone(),
        };
        let issued = self.mint(&outcome)?;
        let rotated = self
            .stores
            .tokens()
            .rotate_token(&presented.token_id, &issued.record)
            .await?;
        if !rotated {
            // Another request rotated this refresh token first: one of the two holds a
            // copy it should not have.
            tracing::warn!(
                client_id = %client.client_id(),
                "concurrent refresh token use; revoking its family"
            );
            self.revoke_family(&presented, RevocationReason::FamilyRevoked)
                .await?;
            return Err(OAuthError::invalid_grant("refresh token revoked").into());
        }
        self.announce_revoked(&presented, RevocationReason::Superseded)
            .await;
        Ok(issued)
    }

    async fn jwt_bearer(
        &self,
        client: &AuthenticatedClient,
        assertion: &Secret,
        scope: Option<&ScopeSet>,
    ) -> Result<Issued, Failure> {
        let assertion = assertion.expose();
        let claimed = assertion::unverified_issuer(assertion)
            .ok_or_else(|| OAuthError::invalid_grant("assertion malformed"))?;
        let trusted = self
            .settings
            .trusted_issuers
            .iter()
            .find(|t| t.issuer == claimed)
            .ok_or_else(|| OAuthError::invalid_grant("assertion issuer not trusted"))?;
        let keys = match &trusted.keys {
            IssuerKeys::Fixed(keys) => keys.clone(),
            IssuerKeys::JwksUrl(url) => {
                let kid = keygate_jose::jws::peek_header(assertion)
                    .ok()
                    .and_then(|h| h.kid);
                self.remote_keys
                    .keys(url, kid.as_deref(), self.clock.now())
                    .await
                    .map_err(|e| {
                        tracing::warn!(issuer = %trusted.issuer, error = %e, "issuer keys unavailable");
                        OAuthError::invalid_grant("assertion issuer keys unavailable")
                    })?
            }
        };
        let rules = AssertionRules {
            issuer: trusted.issuer.clone(),
            subject: None,
            audiences: self.settings.accepted_audiences(TOKEN_PATH),
            now: self.clock.now(),
            leeway: self.settings.assertion_leeway,
        };
        let claims = assertion::verify(assertion, &keys, &rules, OAuthError::invalid_grant)?;
        let first = self
            .replay
            .first_use(
                &self.stores,
                &trusted.issuer,
                claims.jti.as_deref().unwrap_or_default(),
                assertion::replay_window_end(&claims, self.settings.assertion_leeway),
                self.clock.now_ms(),
            )
            .await?;
        if !first {
            return Err(OAuthError::invalid_grant("assertion already used").into());
        }
        let subject = claims.sub.unwrap_or_default();
        let scopes = self
            .grant_scopes_with(scope, RolesOf::User(&subject))
            .await?;
        let outcome = GrantOutcome {
            client,
            subject,
            grant_type: grant_types::JWT_BEARER.to_owned(),
            scopes,
            kind: AccessTokenKind::User,
            refresh: self.refresh_for(client),
            id_token: None,
            binding: client.certificate_thumbprint.clone(),
        };
        self.issue_new(&outcome).await
    }

    /// A refresh token when the client may use the refresh grant.
    fn refresh_for(&self, client: &AuthenticatedClient) -> RefreshIssue {
        if client.client.allows_grant(grant_types::REFRESH_TOKEN) {
            RefreshIssue::New
        } else {
            RefreshIssue::None
        }
    }

    /// Mints and stores tokens of a new grant.
    async fn issue_new(&self, outcome: &GrantOutcome<'_>) -> Result<Issued, Failure> {
        let issued = self.mint(outcome)?;
        self.stores.tokens().insert_token(&issued.record).await?;
        Ok(issued)
    }

    /// Roles of a user of the user store; none when there is no such user. Cached.
    async fn roles_of(&self, username: &str) -> Result<Arc<[String]>, Failure> {
        if let Some(roles) = self.cache.roles(username) {
            return Ok(roles);
        }
        let mark = self.cache.roles_mark();
        let roles: Arc<[String]> = self
            .stores
            .users()
            .user(username)
            .await?
            .map(|user| user.roles)
            .unwrap_or_default()
            .into();
        self.cache.keep_roles(mark, username, roles.clone());
        Ok(roles)
    }

    /// The scope `name` of the server's tenant, if it exists. Cached, its absence too.
    async fn known_scope(&self, name: &str) -> Result<Option<Arc<Scope>>, Failure> {
        if let Some(scope) = self.cache.scope(name) {
            return Ok(scope);
        }
        let mark = self.cache.scope_mark();
        let scope = self
            .stores
            .scopes()
            .scope(&self.settings.tenant, name)
            .await?
            .map(Arc::new);
        self.cache.keep_scope(mark, name, scope.clone());
        Ok(scope)
    }

    /// The scopes granted of `requested` to a user with `roles`: WSO2's role-based scope
    /// issuer over the scopes the server knows, plus the whitelisted scopes and the
    /// OpenID Connect ones (`openid`, `profile`, `email`, `phone`); `default` when
    /// nothing else remains.
    pub(crate) async fn grant_scopes(
        &self,
        requested: Option<&ScopeSet>,
        roles: &[String],
    ) -> Result<ScopeSet, Failure> {
        self.grant_scopes_with(requested, RolesOf::Given(roles))
            .await
    }

    /// [`Self::grant_scopes`] with the roles given, or those of a user of the user store,
    /// loaded only when a requested scope is bound to roles: the issuer consults roles for
    /// known scopes alone, so a request for none (`default`, OpenID Connect or whitelisted
    /// scopes) costs no user lookup.
    async fn grant_scopes_with(
        &self,
        requested: Option<&ScopeSet>,
        roles: RolesOf<'_>,
    ) -> Result<ScopeSet, Failure> {
        let requested = requested.cloned().unwrap_or_default();
        if requested.len() > MAX_REQUESTED_SCOPES {
            return Err(OAuthError::invalid_scope("too many scopes requested").into());
        }
        let mut known = Vec::new();
        let mut whitelisted = Vec::new();
        for name in requested.iter() {
            if name == OPENID {
                continue;
            }
            if OIDC_SCOPES.contains(&name) || self.settings.is_whitelisted(name) {
                whitelisted.push(name);
            } else if let Some(scope) = self.known_scope(name).await? {
                known.push(Scope::clone(&scope));
            }
        }
        let checked = ScopeSet::from_tokens(requested.iter().filter(|s| !whitelisted.contains(s)))?;
        let loaded;
        let roles: &[String] = match roles {
            RolesOf::Given(roles) => roles,
            RolesOf::User(_) if known.is_empty() => &[],
            RolesOf::User(username) => {
                loaded = self.roles_of(username).await?;
                &loaded
            }
        };
        let granted = RoleBasedScopeIssuer::new(&known, true).issue(&checked, roles);
        if whitelisted.is_empty() {
            return Ok(granted);
        }
        let keep_default = requested.contains(DEFAULT_SCOPE);
        let tokens = granted
            .iter()
            .filter(|s| *s != DEFAULT_SCOPE || keep_default)
            .chain(whitelisted.iter().copied());
        Ok(ScopeSet::from_tokens(tokens)?)
    }

    /// A replayed code: revoke it and every token issued from it (RFC 6749 §4.1.2).
    async fn code_replayed(&self, code: &AuthorizationCode) -> Result<(), Failure> {
        tracing::warn!(client_id = %code.client_id, "authorization code replayed; revoking what it issued");
        self.stores.codes().revoke_code(&code.code_digest).await?;
        if let Some(token_id) = &code.token_id
            && let Some(token) = self.stores.tokens().token(token_id).await?
        {
            self.revoke_family(&token, RevocationReason::CodeReplayed)
                .await?;
        }
        Ok(())
    }

    /// Revokes every token of `member`'s family and announces each access token that was
    /// live until now. Returns how many tokens were revoked.
    pub(crate) async fn revoke_family(
        &self,
        member: &AccessToken,
        reason: RevocationReason,
    ) -> Result<u64, Failure> {
        let before = self.family_of(member).await?;
        let revoked = self
            .stores
            .tokens()
            .revoke_family(&member.refresh_family_id)
            .await?;
        if revoked == 0 {
            return Ok(0);
        }
        let states: HashMap<&str, TokenState> = before
            .iter()
            .map(|t| (t.token_id.as_str(), t.state))
            .collect();
        for token in self.family_of(member).await? {
            let was_live = states
                .get(token.token_id.as_str())
                .is_none_or(|state| *state == TokenState::Active);
            if token.state == TokenState::Revoked && was_live {
                self.announce_revoked(&token, reason).await;
            }
        }
        Ok(revoked)
    }

    /// The tokens of `member`'s family: same client and subject, same family id.
    async fn family_of(&self, member: &AccessToken) -> Result<Vec<AccessToken>, Failure> {
        let mut family = Vec::new();
        for page in 0..FAMILY_PAGES {
            let tokens = self
                .stores
                .tokens()
                .list_tokens_for(
                    &member.client_id,
                    &member.subject,
                    Page::new(FAMILY_PAGE, page * FAMILY_PAGE),
                )
                .await?;
            let done = tokens.len() < FAMILY_PAGE as usize;
            family.extend(
                tokens
                    .into_iter()
                    .filter(|t| t.refresh_family_id == member.refresh_family_id),
            );
            if done {
                break;
            }
        }
        Ok(family)
    }

    /// Records a revoked access token for gateway snapshots and announces it on the bus —
    /// unless it has expired already, when there is nothing left to refuse. It is recorded
    /// under the names gateways refuse tokens by: the `jti` (JWTs) and, for a token kept
    /// under its SHA-256 (opaque tokens, which a gateway knows only by it), that digest, so
    /// that a gateway that missed the event still refuses either kind after its next
    /// snapshot.
    pub(crate) async fn announce_revoked(&self, token: &AccessToken, reason: RevocationReason) {
        let now_ms = self.clock.now_ms();
        if token.expires_at_ms() <= now_ms {
            return;
        }
        let record = |signature: &str, token_type| RevokedToken {
            tenant: token.tenant.clone(),
            signature: signature.to_owned(),
            token_type,
            expiry_time_ms: token.expires_at_ms(),
            revoked_at_ms: now_ms,
        };
        let mut records = vec![record(&token.token_id, RevokedTokenType::Jti)];
        if let Some(digest) = crate::token_keys::revocation_digest(token) {
            records.push(record(digest, RevokedTokenType::Opaque));
        }
        for record in &records {
            if let Err(error) = self
                .stores
                .revoked_tokens()
                .insert_revoked_token(record)
                .await
            {
                tracing::warn!(%error, "revoked token not recorded for snapshots");
            }
        }
        self.events.token_revoked(token, reason, now_ms).await;
    }
}
