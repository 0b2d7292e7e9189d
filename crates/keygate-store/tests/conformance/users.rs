//! The user store: users, roles, assignments, claims, passwords and the super admin.

use crate::samples::NOW;
use keygate_model::{Secret, Tenant, claims, roles};
use keygate_store::{NewUser, Page, StoreError, Stores};
use std::collections::BTreeMap;
use std::sync::Arc;

fn new_user(name: &str, roles: &[&str]) -> NewUser {
    NewUser {
        username: name.into(),
        password: Secret::new(format!("{name}-password")),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        claims: BTreeMap::from([(
            claims::EMAIL_ADDRESS.to_owned(),
            format!("{name}@example.com"),
        )]),
    }
}

pub async fn users_roles_and_claims(stores: Arc<Stores>) {
    let users = stores.users();
    assert_eq!(users.tenant(), &Tenant::default());
    users.ping().await.unwrap();

    // Roles.
    for role in ["subscriber", "creator", "auditor"] {
        let created = users.add_role(role).await.unwrap();
        assert_eq!(created.name, role);
    }
    assert!(users.add_role("auditor").await.unwrap_err().is_conflict());
    assert!(users.role_exists("auditor").await.unwrap());
    assert!(!users.role_exists("nobody").await.unwrap());
    let names: Vec<_> = users
        .list_roles(Page::first(10))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["auditor", "creator", "subscriber"]);
    assert_eq!(
        users.list_roles(Page::new(1, 1)).await.unwrap()[0].name,
        "creator"
    );

    // Users with roles and claims.
    let alice = users
        .add_user(&new_user("alice", &["subscriber"]), NOW)
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.roles, ["subscriber"]);
    assert_eq!(
        alice.claim(claims::EMAIL_ADDRESS),
        Some("alice@example.com")
    );
    assert_eq!(alice.created_at_ms, NOW);
    let bob = users.add_user(&new_user("bob", &[]), NOW).await.unwrap();
    assert_ne!(alice.id, bob.id);
    let clash = users
        .add_user(&new_user("alice", &[]), NOW)
        .await
        .unwrap_err();
    assert!(clash.is_conflict(), "{clash}");
    let missing_role = users
        .add_user(&new_user("carol", &["no-such-role"]), NOW)
        .await
        .unwrap_err();
    assert!(missing_role.is_not_found(), "{missing_role}");
    assert!(
        users.user("carol").await.unwrap().is_none(),
        "failed add left no user"
    );

    assert_eq!(users.user("alice").await.unwrap().unwrap(), alice);
    assert_eq!(users.user_by_id(&alice.id).await.unwrap().unwrap(), alice);
    assert!(users.user("nobody").await.unwrap().is_none());
    let listed: Vec<_> = users
        .list_users(Page::first(10))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(listed, ["alice", "bob"]);
    assert_eq!(users.list_users(Page::new(5, 1)).await.unwrap().len(), 1);

    // Role assignments.
    users
        .set_user_roles(
            "bob",
            &["auditor".into(), "creator".into(), "auditor".into()],
            NOW + 1,
        )
        .await
        .unwrap();
    let bob = users.user("bob").await.unwrap().unwrap();
    assert_eq!(bob.roles, ["auditor", "creator"]);
    assert_eq!(bob.updated_at_ms, NOW + 1);
    users.add_user_role("bob", "subscriber").await.unwrap();
    users.add_user_role("bob", "subscriber").await.unwrap();
    assert!(
        users
            .add_user_role("bob", "ghost")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        users
            .add_user_role("ghost", "auditor")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        users
            .users_in_role("subscriber", Page::first(10))
            .await
            .unwrap(),
        ["alice", "bob"]
    );
    assert!(users.remove_user_role("bob", "subscriber").await.unwrap());
    assert!(!users.remove_user_role("bob", "subscriber").await.unwrap());
    let unknown_role = users
        .set_user_roles("bob", &["ghost".into()], NOW)
        .await
        .unwrap_err();
    assert!(unknown_role.is_not_found());
    assert_eq!(
        users.user("bob").await.unwrap().unwrap().roles,
        ["auditor", "creator"],
        "a failed replacement changes nothing"
    );
    assert!(users.delete_role("auditor").await.unwrap());
    assert!(!users.delete_role("auditor").await.unwrap());
    assert_eq!(users.user("bob").await.unwrap().unwrap().roles, ["creator"]);

    // Claims.
    let changes = BTreeMap::from([
        (
            claims::EMAIL_ADDRESS.to_owned(),
            "alice@new.example".to_owned(),
        ),
        (claims::GIVEN_NAME.to_owned(), "Alice".to_owned()),
    ]);
    users.set_claims("alice", &changes, NOW + 2).await.unwrap();
    let alice = users.user("alice").await.unwrap().unwrap();
    assert_eq!(alice.claims, changes);
    assert_eq!(alice.updated_at_ms, NOW + 2);
    assert!(
        users
            .remove_claim("alice", claims::GIVEN_NAME)
            .await
            .unwrap()
    );
    assert!(
        !users
            .remove_claim("alice", claims::GIVEN_NAME)
            .await
            .unwrap()
    );
    assert_eq!(users.user("alice").await.unwrap().unwrap().claims.len(), 1);
    assert!(
        users
            .set_claims("ghost", &changes, NOW)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Deletion.
    assert!(users.delete_user("alice").await.unwrap());
    assert!(!users.delete_user("alice").await.unwrap());
    assert!(users.user_by_id(&alice.id).await.unwrap().is_none());
    assert!(users.list_roles(Page::ALL).await.unwrap().len() >= 2);

    // Another tenant sees none of this.
    let other = stores.users_of(&Tenant::new("wso2.com")).await.unwrap();
    assert!(other.user("bob").await.unwrap().is_none());
    assert!(other.list_users(Page::ALL).await.unwrap().is_empty());
    other.add_role("auditor").await.unwrap();
    other
        .add_user(&new_user("bob", &["auditor"]), NOW)
        .await
        .unwrap();
    assert_eq!(
        other.user("bob").await.unwrap().unwrap().tenant,
        Tenant::new("wso2.com")
    );
    assert_eq!(users.user("bob").await.unwrap().unwrap().roles, ["creator"]);
}

pub async fn authentication_and_super_admin(stores: Arc<Stores>) {
    let users = stores.users();
    let password = Secret::new("admin-secret");
    assert!(
        users
            .ensure_super_admin("admin", &password, NOW)
            .await
            .unwrap()
    );
    assert!(
        !users
            .ensure_super_admin("admin", &Secret::new("other"), NOW)
            .await
            .unwrap()
    );
    let admin = users
        .authenticate("admin", &password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.roles, [roles::EVERYONE, roles::ADMIN]);
    assert!(admin.has_role(roles::ADMIN));
    assert!(
        users
            .authenticate("admin", &Secret::new("other"))
            .await
            .unwrap()
            .is_none(),
        "the second ensure_super_admin kept the first password"
    );
    assert!(
        users
            .authenticate("ghost", &password)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .authenticate("", &Secret::new(""))
            .await
            .unwrap()
            .is_none()
    );

    users
        .set_password("admin", &Secret::new("rotated"), NOW + 5)
        .await
        .unwrap();
    assert!(
        users
            .authenticate("admin", &password)
            .await
            .unwrap()
            .is_none()
    );
    let admin = users
        .authenticate("admin", &Secret::new("rotated"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.updated_at_ms, NOW + 5);
    let missing = users
        .set_password("ghost", &Secret::new("x"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }));

    // A locked account still authenticates; the caller decides on the claim.
    users
        .set_claims(
            "admin",
            &BTreeMap::from([(claims::ACCOUNT_LOCKED.to_owned(), "true".to_owned())]),
            NOW,
        )
        .await
        .unwrap();
    let locked = users
        .authenticate("admin", &Secret::new("rotated"))
        .await
        .unwrap()
        .unwrap();
    assert!(locked.is_locked());

    // Super admin creation races: one creator.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let users = users.clone();
        tasks.spawn(async move {
            users
                .ensure_super_admin("root", &Secret::new("root-secret"), NOW)
                .await
                .unwrap()
        });
    }
    let mut created = 0;
    while let Some(result) = tasks.join_next().await {
        created += usize::from(result.unwrap());
    }
    assert_eq!(created, 1);
    assert!(
        users
            .authenticate("root", &Secret::new("root-secret"))
            .await
            .unwrap()
            .is_some()
    );
}
