//! Who may send events besides the `[apim.throttling]` user: WSO2's traffic manager
//! authenticates its receivers' users against the user store, so any node of the
//! deployment that knows an administrator's password (its own super admin, or the internal
//! account a node without a configured password uses) is accepted. The check itself lives
//! with the user store; this crate only asks.

use async_trait::async_trait;
use keygate_model::Secret;

/// Accounts producers may present, checked against a user store.
#[async_trait]
pub trait ProducerAccounts: Send + Sync {
    /// Whether `username` with `password` is an account allowed to send events.
    async fn accepts(&self, username: &str, password: &Secret) -> bool;
}
