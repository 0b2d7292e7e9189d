//! [`Stores`], what the server opens at start: the `apim_db` repositories and the
//! `shared_db` user store, each over its own pool (one pool when both names point at the
//! same database), with the schema brought up to date or verified first.

use crate::SqlApim;
use crate::apis::ApiRepository;
use crate::applications::{ApplicationRepository, KeyMappingRepository, SubscriptionRepository};
use crate::blocking::{BlockConditionRepository, RevokedTokenRepository};
use crate::clients::OAuthClientRepository;
use crate::db::{Db, StoreOptions};
use crate::error::StoreResult;
use crate::keys::KeyRepository;
use crate::migrate::{self, MigrateMode};
use crate::outbox::ChangeOutboxRepository;
use crate::policies::{
    ApiPolicyRepository, ApplicationPolicyRepository, GlobalPolicyRepository,
    SubscriptionPolicyRepository,
};
use crate::revocations::SubjectRevocationRepository;
use crate::scopes::ScopeRepository;
use crate::sessions::{ConsentRepository, LoginSessionRepository};
use crate::tokens::{AccessTokenRepository, AuthorizationCodeRepository};
use crate::users::{SqlUserStore, UserStore};
use keygate_model::Tenant;
use std::sync::Arc;

/// Schema versions of the two logical databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersions {
    /// Version of `apim_db`.
    pub apim: i64,
    /// Version of `shared_db`.
    pub shared: i64,
}

/// Every repository keygate persists through.
#[derive(Debug)]
pub struct Stores {
    apim: SqlApim,
    shared: Db,
    users: Arc<SqlUserStore>,
    same_database: bool,
}

impl Stores {
    /// Connects to `apim_db` and `shared_db`, and applies or verifies migrations as
    /// `mode` says. A database newer than this binary is left untouched and refused with
    /// [`crate::StoreError::SchemaTooNew`].
    pub async fn open(
        apim: &StoreOptions,
        shared: &StoreOptions,
        mode: MigrateMode,
    ) -> StoreResult<Stores> {
        let apim_db = Db::connect(apim).await?;
        let same_database = apim.url == shared.url;
        let shared_db = if same_database {
            apim_db.clone()
        } else {
            match Db::connect(shared).await {
                Ok(db) => db,
                Err(e) => {
                    apim_db.close().await;
                    return Err(e);
                }
            }
        };
        let prepared = async {
            migrate::prepare(&apim_db, mode).await?;
            if !same_database {
                migrate::prepare(&shared_db, mode).await?;
            }
            SqlUserStore::new(shared_db.clone(), Tenant::super_tenant()).await
        }
        .await;
        match prepared {
            Ok(users) => Ok(Stores {
                apim: SqlApim {
                    db: apim_db,
                    token_batch: Default::default(),
                },
                shared: shared_db,
                users: Arc::new(users),
                same_database,
            }),
            Err(e) => {
                apim_db.close().await;
                shared_db.close().await;
                Err(e)
            }
        }
    }

    /// Checks that both databases answer.
    pub async fn ping(&self) -> StoreResult<()> {
        self.apim.db.ping().await?;
        if !self.same_database {
            self.shared.ping().await?;
        }
        Ok(())
    }

    /// Schema versions of both databases.
    pub async fn schema_version(&self) -> StoreResult<SchemaVersions> {
        Ok(SchemaVersions {
            apim: migrate::schema_version(&self.apim.db).await?,
            shared: migrate::schema_version(&self.shared).await?,
        })
    }

    /// Backend of `apim_db` and `shared_db`: `sqlite`, `postgres` or `mysql`.
    pub fn backends(&self) -> (&'static str, &'static str) {
        (self.apim.db.backend().name(), self.shared.backend().name())
    }

    /// The user store of the super tenant.
    pub fn users(&self) -> Arc<dyn UserStore> {
        self.users.clone()
    }

    /// The user store of another tenant.
    pub async fn users_of(&self, tenant: &Tenant) -> StoreResult<Arc<dyn UserStore>> {
        Ok(Arc::new(
            SqlUserStore::new(self.shared.clone(), tenant.clone()).await?,
        ))
    }

    /// APIs and their resources.
    pub fn apis(&self) -> &dyn ApiRepository {
        &self.apim
    }

    /// Applications.
    pub fn applications(&self) -> &dyn ApplicationRepository {
        &self.apim
    }

    /// Subscriptions.
    pub fn subscriptions(&self) -> &dyn SubscriptionRepository {
        &self.apim
    }

    /// Application key mappings.
    pub fn key_mappings(&self) -> &dyn KeyMappingRepository {
        &self.apim
    }

    /// OAuth clients.
    pub fn clients(&self) -> &dyn OAuthClientRepository {
        &self.apim
    }

    /// Access and refresh tokens.
    pub fn tokens(&self) -> &dyn AccessTokenRepository {
        &self.apim
    }

    /// Authorization codes.
    pub fn codes(&self) -> &dyn AuthorizationCodeRepository {
        &self.apim
    }

    /// Scopes and their role bindings.
    pub fn scopes(&self) -> &dyn ScopeRepository {
        &self.apim
    }

    /// Subscription policies.
    pub fn subscription_policies(&self) -> &dyn SubscriptionPolicyRepository {
        &self.apim
    }

    /// Application policies.
    pub fn application_policies(&self) -> &dyn ApplicationPolicyRepository {
        &self.apim
    }

    /// Advanced (API and resource) policies.
    pub fn api_policies(&self) -> &dyn ApiPolicyRepository {
        &self.apim
    }

    /// Global (custom) policies.
    pub fn global_policies(&self) -> &dyn GlobalPolicyRepository {
        &self.apim
    }

    /// Deny conditions.
    pub fn block_conditions(&self) -> &dyn BlockConditionRepository {
        &self.apim
    }

    /// Revoked tokens.
    pub fn revoked_tokens(&self) -> &dyn RevokedTokenRepository {
        &self.apim
    }

    /// Revoke-alls of clients' and users' tokens.
    pub fn subject_revocations(&self) -> &dyn SubjectRevocationRepository {
        &self.apim
    }

    /// The key manager's signing keys, server secrets and used assertion ids.
    pub fn keys(&self) -> &dyn KeyRepository {
        &self.apim
    }

    /// Browser login sessions at the key manager.
    pub fn login_sessions(&self) -> &dyn LoginSessionRepository {
        &self.apim
    }

    /// Consents users gave to clients.
    pub fn consents(&self) -> &dyn ConsentRepository {
        &self.apim
    }

    /// The change outbox: which replicated row changed at which revision.
    pub fn change_outbox(&self) -> &dyn ChangeOutboxRepository {
        &self.apim
    }

    /// Closes every connection; the stores must not be used afterwards.
    pub async fn close(&self) {
        self.apim.token_batch.release();
        self.apim.db.close().await;
        if !self.same_database {
            self.shared.close().await;
        }
    }
}
