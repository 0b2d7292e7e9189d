//! What a node does before it listens: create the data directory, open and migrate both
//! databases, and ensure the `[super_admin]` account exists — generating its password when
//! none is configured, to be shown once.

use crate::ServerError;
use base64::Engine;
use keygate_config::{Config, DatabaseSettings};
use keygate_model::Secret;
use keygate_store::{MigrateMode, StoreOptions, Stores};

/// Bytes of randomness in a generated admin password (24 characters once encoded).
const GENERATED_PASSWORD_BYTES: usize = 18;

/// Store options for one configured database.
pub fn store_options(db: &DatabaseSettings) -> StoreOptions {
    StoreOptions {
        url: db.url.clone(),
        max_connections: db.pool.max_connections,
        min_connections: db.pool.min_connections,
        acquire_timeout: db.pool.acquire_timeout,
    }
}

/// What start-up did about the super admin.
#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    /// The admin's user name.
    pub username: String,
    /// Whether the account was created by this start.
    pub created: bool,
    /// The password, when keygate generated it: shown once, never stored in clear.
    pub generated_password: Option<Secret>,
}

pub(crate) async fn open_stores(config: &Config, mode: MigrateMode) -> Result<Stores, ServerError> {
    std::fs::create_dir_all(&config.server.data_dir).map_err(|source| ServerError::Io {
        what: "cannot create the data directory",
        path: config.server.data_dir.clone(),
        source,
    })?;
    Ok(Stores::open(
        &store_options(&config.apim_db),
        &store_options(&config.shared_db),
        mode,
    )
    .await?)
}

pub(crate) async fn ensure_admin(
    config: &Config,
    stores: &Stores,
) -> Result<Option<AdminBootstrap>, ServerError> {
    let admin = &config.super_admin;
    if !admin.create_admin_account {
        return Ok(None);
    }
    let (password, generated) = match &admin.password {
        Some(password) if !password.is_empty() => (password.clone(), false),
        _ => (generate_password()?, true),
    };
    let created = stores
        .users()
        .ensure_super_admin(&admin.username, &password, now_ms())
        .await?;
    Ok(Some(AdminBootstrap {
        username: admin.username.clone(),
        created,
        generated_password: (created && generated).then_some(password),
    }))
}

/// When start-up generated the super admin's password, the accounts that default to the
/// super admin's (`[apim.key_manager]`, `[apim.throttling]`) take it, as they take a
/// configured one: the node's roles then reach each other from the first start.
pub(crate) fn adopt_generated_password(config: &mut Config, admin: Option<&AdminBootstrap>) {
    let Some(password) = admin.and_then(|a| a.generated_password.as_ref()) else {
        return;
    };
    for (_, account_password) in accounts_of_the_admin(config) {
        *account_password = Some(password.clone());
    }
}

/// The account a node's roles reach each other with when `deployment.toml` names no
/// password for them and the super admin's was generated at an earlier start (so it is
/// known to nobody, this node included).
pub const INTERNAL_ACCOUNT: &str = "keygate-internal";

/// On a restart of a node whose super admin password was generated (it is shown once and
/// never stored in clear), the accounts that default to the super admin's
/// (`[apim.key_manager]`, `[apim.throttling]`) would have no password: the control plane
/// could not call its key manager and producers could not reach the traffic manager.
/// They take [`INTERNAL_ACCOUNT`] instead, an administrator whose password is drawn afresh
/// at every start and kept only in this process's memory.
pub(crate) async fn ensure_internal_account(
    config: &mut Config,
    stores: &Stores,
    admin: Option<&AdminBootstrap>,
) -> Result<(), ServerError> {
    let Some(admin) = admin else {
        return Ok(());
    };
    let configured = config
        .super_admin
        .password
        .as_ref()
        .is_some_and(|p| !p.is_empty());
    if configured || admin.generated_password.is_some() {
        return Ok(());
    }
    if accounts_of_the_admin(config).is_empty() {
        return Ok(());
    }
    let password = generate_password()?;
    let users = stores.users();
    let now = now_ms();
    if users.user(INTERNAL_ACCOUNT).await?.is_some() {
        users.set_password(INTERNAL_ACCOUNT, &password, now).await?;
    } else {
        let account = keygate_store::NewUser {
            username: INTERNAL_ACCOUNT.to_owned(),
            password: password.clone(),
            roles: vec![keygate_model::roles::ADMIN.to_owned()],
            claims: std::collections::BTreeMap::new(),
        };
        match users.add_user(&account, now).await {
            Ok(_) => {}
            // Another node of the same database created it at the same moment.
            Err(e) if e.is_conflict() => {
                users.set_password(INTERNAL_ACCOUNT, &password, now).await?
            }
            Err(e) => return Err(e.into()),
        }
    }
    for (username, account_password) in accounts_of_the_admin(config) {
        *username = INTERNAL_ACCOUNT.to_owned();
        *account_password = Some(password.clone());
    }
    Ok(())
}

/// The accounts the roles reach each other with (`[apim.key_manager]`,
/// `[apim.throttling]`) that name the super admin and give no password of their own, as
/// (username, password) to fill in.
fn accounts_of_the_admin(config: &mut Config) -> Vec<(&mut String, &mut Option<Secret>)> {
    let admin = &config.super_admin.username;
    [
        (
            &mut config.key_manager.username,
            &mut config.key_manager.password,
        ),
        (
            &mut config.throttling.username,
            &mut config.throttling.password,
        ),
    ]
    .into_iter()
    .filter(|(username, password)| password.is_none() && **username == *admin)
    .collect()
}

/// The wall clock in unix milliseconds: the server is where time enters keygate.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn generate_password() -> Result<Secret, ServerError> {
    let mut bytes = [0u8; GENERATED_PASSWORD_BYTES];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ServerError::Config("no system randomness for the admin password".into()))?;
    Ok(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}
