//! Browser login sessions (absolute and idle expiry, touching, ending one or all of a
//! user's) and remembered consents (replaced, per user and client, gone with the client).

use crate::samples::{self, NOW};
use keygate_model::Tenant;
use keygate_store::{LoginSession, StoreError, Stores, UserConsent};
use std::sync::Arc;

const MINUTE: i64 = 60_000;

fn session(digest: &str, subject: &str) -> LoginSession {
    LoginSession {
        session_digest: digest.into(),
        tenant: Tenant::default(),
        subject: subject.into(),
        auth_time_ms: NOW,
        created_at_ms: NOW,
        idle_expires_at_ms: NOW + 30 * MINUTE,
        expires_at_ms: NOW + 480 * MINUTE,
    }
}

pub async fn login_sessions_expire_and_end(stores: Arc<Stores>) {
    let sessions = stores.login_sessions();
    let first = session("digest-1", "alice");
    sessions.insert_session(&first).await.unwrap();
    assert_eq!(
        sessions.session("digest-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(sessions.session("digest-x").await.unwrap(), None);
    assert!(
        sessions
            .insert_session(&session("digest-1", "bob"))
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut backwards = session("digest-9", "alice");
    backwards.idle_expires_at_ms = backwards.expires_at_ms + 1;
    assert!(matches!(
        sessions.insert_session(&backwards).await,
        Err(StoreError::Invalid { .. })
    ));

    // Use moves the idle expiry forward, never past the absolute one.
    assert!(first.is_open_at(NOW + 29 * MINUTE));
    assert!(!first.is_open_at(NOW + 30 * MINUTE));
    assert!(
        sessions
            .touch_session("digest-1", NOW + 50 * MINUTE, NOW + 20 * MINUTE)
            .await
            .unwrap()
    );
    let touched = sessions.session("digest-1").await.unwrap().unwrap();
    assert_eq!(touched.idle_expires_at_ms, NOW + 50 * MINUTE);
    assert_eq!(touched.auth_time_ms, NOW);
    assert!(
        sessions
            .touch_session("digest-1", NOW + 999 * MINUTE, NOW + 40 * MINUTE)
            .await
            .unwrap()
    );
    let capped = sessions.session("digest-1").await.unwrap().unwrap();
    assert_eq!(capped.idle_expires_at_ms, capped.expires_at_ms);
    // A session idle past its expiry cannot be revived.
    sessions
        .insert_session(&session("digest-2", "alice"))
        .await
        .unwrap();
    assert!(
        !sessions
            .touch_session("digest-2", NOW + 90 * MINUTE, NOW + 30 * MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !sessions
            .touch_session("digest-x", NOW + 90 * MINUTE, NOW)
            .await
            .unwrap()
    );

    // Purging removes what ended by idleness or by age, and nothing else.
    sessions
        .insert_session(&session("digest-3", "bob"))
        .await
        .unwrap();
    assert_eq!(
        sessions
            .purge_expired_sessions(NOW + 30 * MINUTE - 1)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        sessions
            .purge_expired_sessions(NOW + 30 * MINUTE)
            .await
            .unwrap(),
        2,
        "digest-2 and digest-3 sat idle"
    );
    assert!(sessions.session("digest-1").await.unwrap().is_some());

    // Ending one session, then every session of a user.
    for digest in ["digest-4", "digest-5"] {
        sessions
            .insert_session(&session(digest, "carol"))
            .await
            .unwrap();
    }
    assert!(sessions.delete_session("digest-4").await.unwrap());
    assert!(!sessions.delete_session("digest-4").await.unwrap());
    let other_tenant = Tenant::new("wso2.com");
    assert_eq!(
        sessions
            .delete_sessions_of(&other_tenant, "carol")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        sessions
            .delete_sessions_of(&Tenant::default(), "carol")
            .await
            .unwrap(),
        1
    );
    assert_eq!(sessions.session("digest-5").await.unwrap(), None);
    assert!(sessions.session("digest-1").await.unwrap().is_some());
    assert_eq!(
        sessions
            .purge_expired_sessions(NOW + 480 * MINUTE)
            .await
            .unwrap(),
        1
    );
    assert_eq!(sessions.session("digest-1").await.unwrap(), None);
}

fn consent(subject: &str, client_id: &str, scopes: &[&str], at: i64) -> UserConsent {
    UserConsent {
        tenant: Tenant::default(),
        subject: subject.into(),
        client_id: client_id.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        granted_at_ms: at,
    }
}

pub async fn consents_are_remembered_per_user_and_client(stores: Arc<Stores>) {
    let consents = stores.consents();
    for id in ["client-a", "client-b"] {
        stores
            .clients()
            .create_client(&samples::client(id, "admin"))
            .await
            .unwrap();
    }
    let tenant = Tenant::default();
    assert_eq!(
        consents
            .consent(&tenant, "alice", "client-a")
            .await
            .unwrap(),
        None
    );
    let first = consent("alice", "client-a", &["openid", "read"], NOW);
    consents.save_consent(&first).await.unwrap();
    assert_eq!(
        consents
            .consent(&tenant, "alice", "client-a")
            .await
            .unwrap(),
        Some(first)
    );
    // Saving again replaces: one row per user and client.
    let wider = consent("alice", "client-a", &["openid", "read", "write"], NOW + 5);
    consents.save_consent(&wider).await.unwrap();
    assert_eq!(
        consents
            .consent(&tenant, "alice", "client-a")
            .await
            .unwrap(),
        Some(wider.clone())
    );
    let other_client = consent("alice", "client-b", &["profile"], NOW);
    consents.save_consent(&other_client).await.unwrap();
    assert_eq!(
        consents.consent(&tenant, "bob", "client-a").await.unwrap(),
        None
    );
    assert_eq!(
        consents
            .consent(&Tenant::new("wso2.com"), "alice", "client-a")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        consents
            .save_consent(&consent("alice", "no-client", &["openid"], NOW))
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        consents
            .save_consent(&consent("alice", "client-a", &["two words"], NOW))
            .await,
        Err(StoreError::Invalid { .. })
    ));

    // Nodes saving the same consent at once leave exactly one row.
    let mut racers = Vec::new();
    for i in 0..8 {
        let stores = stores.clone();
        racers.push(tokio::spawn(async move {
            stores
                .consents()
                .save_consent(&consent("dave", "client-a", &["read"], NOW + i))
                .await
        }));
    }
    for racer in racers {
        racer.await.unwrap().unwrap();
    }
    let kept = consents
        .consent(&tenant, "dave", "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.scopes, ["read"]);

    assert!(
        consents
            .revoke_consent(&tenant, "alice", "client-a")
            .await
            .unwrap()
    );
    assert!(
        !consents
            .revoke_consent(&tenant, "alice", "client-a")
            .await
            .unwrap()
    );
    // A deleted client takes its consents with it.
    assert!(stores.clients().delete_client("client-b").await.unwrap());
    assert_eq!(
        consents
            .consent(&tenant, "alice", "client-b")
            .await
            .unwrap(),
        None
    );
}
