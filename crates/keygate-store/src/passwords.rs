//! User passwords as Argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a
//! random salt, hashed and verified on the blocking thread pool so that a burst of logins
//! never stalls the async workers. Verification runs through argon2's constant-time
//! comparison.

use crate::error::{StoreError, StoreResult};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use keygate_model::Secret;
use tokio::sync::OnceCell;

static TIMING_HASH: OnceCell<String> = OnceCell::const_new();

/// A hash of a random password, made once per process: verifying against it makes a login
/// for an unknown user cost what a wrong password costs.
pub(crate) async fn timing_hash() -> StoreResult<&'static str> {
    TIMING_HASH
        .get_or_try_init(|| async { hash(&Secret::new(uuid::Uuid::new_v4().to_string())).await })
        .await
        .map(String::as_str)
}

/// The PHC string of `password` under a fresh random salt.
pub(crate) async fn hash(password: &Secret) -> StoreResult<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|phc| phc.to_string())
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}

/// Whether `password` matches the PHC string `stored`. A malformed stored hash does not
/// match.
pub(crate) async fn verify(password: &Secret, stored: &str) -> StoreResult<bool> {
    let password = password.clone();
    let stored = stored.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.expose().as_bytes(), stored.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let password = Secret::new("correct horse");
        let first = hash(&password).await.unwrap();
        let second = hash(&password).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$"), "{first}");
        assert_ne!(first, second, "salts must differ");
        assert!(!first.contains("correct horse"));
        assert!(verify(&password, &first).await.unwrap());
        assert!(verify(&password, &second).await.unwrap());
        assert!(!verify(&Secret::new("wrong"), &first).await.unwrap());
        assert!(!verify(&password, "not a phc string").await.unwrap());
        let timing = timing_hash().await.unwrap();
        assert!(timing.starts_with("$argon2id$"));
        assert_eq!(timing_hash().await.unwrap(), timing, "made once");
        assert!(!verify(&password, timing).await.unwrap());
    }
}
