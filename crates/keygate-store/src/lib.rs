//! Persistence for keygate: repository traits for everything in `apim_db` (APIs,
//! applications, subscriptions, key mappings, OAuth clients, tokens, codes, scopes,
//! throttling policies, deny conditions, revoked tokens, the change outbox gateways are
//! fed from, the key manager's signing keys and server secrets, browser login sessions
//! and consents) and the [`UserStore`] of `shared_db`, implemented once in SQL over
//! SQLite, PostgreSQL and MySQL/MariaDB, with embedded migrations per backend.
//!
//! The server opens [`Stores`] and reaches each repository through it; `keygate migrate`
//! calls [`migrate`]. Times come in as `now_ms` arguments or inside the records: the store
//! reads no clock. Secrets come in already digested; only user passwords are hashed here
//! (Argon2id).

#![forbid(unsafe_code)]

mod apis;
mod applications;
mod backend;
mod blocking;
mod clients;
mod db;
mod error;
mod keys;
mod migrate;
mod outbox;
mod passwords;
mod policies;
mod revocations;
mod scopes;
mod sessions;
mod stores;
mod token_batch;
mod tokens;
mod users;

pub use apis::ApiRepository;
pub use applications::{ApplicationRepository, KeyMappingRepository, SubscriptionRepository};
pub use backend::Backend;
pub use blocking::{BlockConditionRepository, RevokedTokenRepository};
pub use clients::OAuthClientRepository;
pub use db::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Page, StoreOptions};
pub use error::{StoreError, StoreResult, redact_url};
pub use keys::{KeyRepository, StoredSigningKey};
pub use migrate::{MigrateMode, MigrationReport, latest_schema_version, migrate, migrate_to};
pub use outbox::{ChangeOperation, ChangeOutboxRepository, ChangedEntity, OutboxEntry};
pub use policies::{
    ApiPolicyRepository, ApplicationPolicyRepository, GlobalPolicyRepository,
    SubscriptionPolicyRepository,
};
pub use revocations::{RevokedSubjectKind, SubjectRevocation, SubjectRevocationRepository};
pub use scopes::ScopeRepository;
pub use sessions::{ConsentRepository, LoginSession, LoginSessionRepository, UserConsent};
pub use stores::{SchemaVersions, Stores};
pub use tokens::{AccessTokenRepository, AuthorizationCodeRepository, CodeConsumption};
pub use users::{NewUser, UserStore};

/// Every `apim_db` repository over one pool.
#[derive(Debug)]
pub(crate) struct SqlApim {
    pub(crate) db: db::Db,
    /// The group-commit writer of new access tokens.
    pub(crate) token_batch: token_batch::TokenBatcher,
}
