//! OAuth clients, access tokens, authorization codes and scopes.

use crate::samples::{self, NOW};
use keygate_model::*;
use keygate_store::{
    CodeConsumption, Page, RevokedSubjectKind, StoreError, Stores, SubjectRevocation,
};
use std::sync::Arc;

pub async fn oauth_clients(stores: Arc<Stores>) {
    let clients = stores.clients();
    let tenant = Tenant::default();
    let first = clients
        .create_client(&samples::client("client-a", "alice"))
        .await
        .unwrap();
    assert_eq!(
        first.secret_digest.as_deref(),
        Some(&[0, 1, 2, 250, 255, 7][..])
    );
    assert_eq!(first.redirect_uris, ["https://app.example/cb"]);
    assert!(first.pkce_mandatory && !first.pkce_plain_allowed);
    assert_eq!(first.lifetimes.user_access_token_ms, Some(3_600_000));
    assert_eq!(first.lifetimes.refresh_token_ms, None);
    assert_eq!(clients.client("client-a").await.unwrap().unwrap(), first);
    assert!(clients.client("client-z").await.unwrap().is_none());
    assert!(
        clients
            .create_client(&samples::client("client-a", "bob"))
            .await
            .unwrap_err()
            .is_conflict()
    );

    let mut public = samples::client("client-b", "alice");
    public.secret_digest = None;
    public.token_endpoint_auth_method = TokenEndpointAuthMethod::None;
    let public = clients.create_client(&public).await.unwrap();
    assert!(public.is_public() && public.secret_digest.is_none());
    clients
        .create_client(&samples::client("client-c", "bob"))
        .await
        .unwrap();

    let alices: Vec<_> = clients
        .list_clients_by_owner(&tenant, "alice", Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(alices, ["client-a", "client-b"]);
    assert_eq!(
        clients
            .list_clients(&tenant, Page::ALL)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        clients
            .list_clients(&tenant, Page::new(1, 2))
            .await
            .unwrap()[0]
            .client_id,
        "client-c"
    );

    let mut changed = first.clone();
    changed
        .redirect_uris
        .push("https://app.example/other".into());
    changed.grant_types = vec!["client_credentials".into()];
    changed.token_endpoint_auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    changed.jwks_uri = Some("https://app.example/jwks".into());
    changed.tls_client_auth_subject_dn = Some("CN=app,O=Example".into());
    changed.lifetimes.refresh_token_ms = Some(86_400_000);
    changed.token_type = TokenType::Oauth;
    changed.secret_digest = Some(vec![9, 9, 9]);
    let updated = clients.update_client(&changed, NOW + 1).await.unwrap();
    assert_eq!(updated.redirect_uris.len(), 2);
    assert!(updated.allows_grant("client_credentials"));
    assert_eq!(
        updated.token_endpoint_auth_method,
        TokenEndpointAuthMethod::PrivateKeyJwt
    );
    assert_eq!(updated.lifetimes.refresh_token_ms, Some(86_400_000));
    assert_eq!(updated.updated_at_ms, NOW + 1);
    assert_eq!(
        updated.secret_digest, first.secret_digest,
        "update keeps the secret"
    );
    let ghost = samples::client("client-ghost", "x");
    assert!(
        clients
            .update_client(&ghost, NOW)
            .await
            .unwrap_err()
            .is_not_found()
    );

    assert!(
        clients
            .set_client_secret("client-a", Some(&[42; 32]), NOW + 2)
            .await
            .unwrap()
    );
    assert_eq!(
        clients
            .client("client-a")
            .await
            .unwrap()
            .unwrap()
            .secret_digest,
        Some(vec![42; 32])
    );
    assert!(
        clients
            .set_client_secret("client-a", None, NOW + 3)
            .await
            .unwrap()
    );
    assert!(
        clients
            .client("client-a")
            .await
            .unwrap()
            .unwrap()
            .secret_digest
            .is_none()
    );
    assert!(
        !clients
            .set_client_secret("client-ghost", None, NOW)
            .await
            .unwrap()
    );

    // Deleting a client deletes its tokens and codes.
    let token = samples::token("client-a", "alice", "family-1");
    stores.tokens().insert_token(&token).await.unwrap();
    stores
        .codes()
        .insert_code(&samples::code("client-a", "code-1"))
        .await
        .unwrap();
    assert!(clients.delete_client("client-a").await.unwrap());
    assert!(!clients.delete_client("client-a").await.unwrap());
    assert!(
        stores
            .tokens()
            .token(&token.token_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(stores.codes().code("code-1").await.unwrap().is_none());
}

pub async fn access_tokens(stores: Arc<Stores>) {
    let tokens = stores.tokens();
    stores
        .clients()
        .create_client(&samples::client("client-a", "alice"))
        .await
        .unwrap();
    stores
        .clients()
        .create_client(&samples::client("client-b", "bob"))
        .await
        .unwrap();

    let first = samples::token("client-a", "alice", "family-1");
    tokens.insert_token(&first).await.unwrap();
    assert_eq!(tokens.token(&first.token_id).await.unwrap().unwrap(), first);
    assert_eq!(
        tokens
            .token_by_digest(&first.token_digest)
            .await
            .unwrap()
            .unwrap(),
        first
    );
    assert_eq!(
        tokens
            .token_by_refresh_digest(first.refresh_token_digest.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap(),
        first
    );
    assert!(tokens.token_by_digest("nope").await.unwrap().is_none());

    let mut same_digest = samples::token("client-a", "alice", "family-x");
    same_digest.token_digest = first.token_digest.clone();
    assert!(
        tokens
            .insert_token(&same_digest)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut same_refresh = samples::token("client-a", "alice", "family-x");
    same_refresh.refresh_token_digest = first.refresh_token_digest.clone();
    assert!(
        tokens
            .insert_token(&same_refresh)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let orphan = samples::token("no-such-client", "alice", "family-x");
    assert!(matches!(
        tokens.insert_token(&orphan).await.unwrap_err(),
        StoreError::Invalid { .. }
    ));
    let mut too_long = samples::token("client-a", "alice", "family-x");
    too_long.token_digest = "d".repeat(513);
    assert!(matches!(
        tokens.insert_token(&too_long).await.unwrap_err(),
        StoreError::Invalid {
            field: "token digest",
            ..
        }
    ));

    // Client credentials tokens have no refresh token; several may lack one.
    for _ in 0..2 {
        let mut cc = samples::token("client-a", "alice", &samples::id());
        cc.refresh_token_digest = None;
        cc.refresh_issued_at_ms = None;
        cc.refresh_validity_ms = None;
        cc.grant_type = "client_credentials".into();
        cc.issued_at_ms = NOW + 100;
        tokens.insert_token(&cc).await.unwrap();
    }
    assert_eq!(
        tokens.count_tokens_for("client-a", "alice").await.unwrap(),
        3
    );
    assert_eq!(tokens.count_tokens_for("client-a", "bob").await.unwrap(), 0);
    let listed = tokens
        .list_tokens_for("client-a", "alice", Page::ALL)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2].token_id, first.token_id, "newest first");
    assert_eq!(
        tokens
            .list_tokens_for("client-a", "alice", Page::new(1, 2))
            .await
            .unwrap()[0]
            .token_id,
        first.token_id
    );

    // State changes are compare-and-set.
    assert!(
        tokens
            .set_token_state(&first.token_id, TokenState::Active, TokenState::Expired)
            .await
            .unwrap()
    );
    assert!(
        !tokens
            .set_token_state(&first.token_id, TokenState::Active, TokenState::Revoked)
            .await
            .unwrap()
    );
    assert!(
        !tokens
            .set_token_state("missing", TokenState::Active, TokenState::Revoked)
            .await
            .unwrap()
    );
    assert_eq!(
        tokens.token(&first.token_id).await.unwrap().unwrap().state,
        TokenState::Expired
    );
    assert_eq!(
        tokens
            .list_tokens_in_state("client-a", "alice", TokenState::Expired, Page::ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        tokens
            .list_tokens_in_state("client-a", "alice", TokenState::Active, Page::ALL)
            .await
            .unwrap()
            .len(),
        2
    );

    // Refresh rotation.
    let parent = samples::token("client-b", "bob", "family-2");
    tokens.insert_token(&parent).await.unwrap();
    let child = samples::token("client-b", "bob", "family-2");
    assert!(tokens.rotate_token(&parent.token_id, &child).await.unwrap());
    assert_eq!(
        tokens.token(&parent.token_id).await.unwrap().unwrap().state,
        TokenState::Inactive
    );
    assert_eq!(
        tokens.token(&child.token_id).await.unwrap().unwrap().state,
        TokenState::Active
    );
    let replay = samples::token("client-b", "bob", "family-2");
    assert!(
        !tokens
            .rotate_token(&parent.token_id, &replay)
            .await
            .unwrap()
    );
    assert!(
        tokens.token(&replay.token_id).await.unwrap().is_none(),
        "nothing stored on a lost rotation"
    );
    let mut clashing = samples::token("client-b", "bob", "family-2");
    clashing.token_digest = first.token_digest.clone();
    assert!(
        tokens
            .rotate_token(&child.token_id, &clashing)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(
        tokens.token(&child.token_id).await.unwrap().unwrap().state,
        TokenState::Active,
        "a failed rotation leaves the old token active"
    );

    // Revocation.
    assert_eq!(tokens.revoke_family("family-2").await.unwrap(), 2);
    assert_eq!(tokens.revoke_family("family-2").await.unwrap(), 0);
    assert_eq!(
        tokens.token(&parent.token_id).await.unwrap().unwrap().state,
        TokenState::Revoked
    );
    let single = samples::token("client-b", "bob", "family-3");
    tokens.insert_token(&single).await.unwrap();
    assert!(tokens.revoke_token(&single.token_id).await.unwrap());
    assert!(!tokens.revoke_token(&single.token_id).await.unwrap());
    assert_eq!(
        tokens.revoke_by_client("client-a").await.unwrap(),
        2,
        "the expired one stays expired"
    );
    let bobs = samples::token("client-a", "bob", "family-4");
    tokens.insert_token(&bobs).await.unwrap();
    let bobs_other = samples::token("client-b", "bob", "family-5");
    tokens.insert_token(&bobs_other).await.unwrap();
    assert_eq!(
        tokens
            .revoke_by_subject(&Tenant::default(), "bob")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tokens
            .revoke_by_subject(&Tenant::new("other.com"), "alice")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tokens.token(&bobs.token_id).await.unwrap().unwrap().state,
        TokenState::Revoked
    );

    // Purging keeps anything whose refresh token still lives.
    let mut old = samples::token("client-a", "carol", "family-6");
    old.issued_at_ms = 1_000;
    old.validity_ms = 1_000;
    old.refresh_issued_at_ms = Some(1_000);
    old.refresh_validity_ms = Some(1_000);
    tokens.insert_token(&old).await.unwrap();
    let mut refreshable = samples::token("client-a", "carol", "family-7");
    refreshable.issued_at_ms = 1_000;
    refreshable.validity_ms = 1_000;
    tokens.insert_token(&refreshable).await.unwrap();
    assert_eq!(tokens.purge_expired_tokens(10_000).await.unwrap(), 1);
    assert!(tokens.token(&old.token_id).await.unwrap().is_none());
    assert!(tokens.token(&refreshable.token_id).await.unwrap().is_some());
}

pub async fn authorization_codes(stores: Arc<Stores>) {
    let codes = stores.codes();
    stores
        .clients()
        .create_client(&samples::client("client-a", "alice"))
        .await
        .unwrap();
    let code = samples::code("client-a", "digest-1");
    codes.insert_code(&code).await.unwrap();
    assert_eq!(codes.code("digest-1").await.unwrap().unwrap(), code);
    assert!(codes.code("digest-x").await.unwrap().is_none());
    assert!(
        codes
            .insert_code(&samples::code("client-a", "digest-1"))
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(matches!(
        codes
            .insert_code(&samples::code("no-client", "digest-2"))
            .await
            .unwrap_err(),
        StoreError::Invalid { .. }
    ));

    let CodeConsumption::Consumed(consumed) =
        codes.consume_code("digest-1", NOW + 1).await.unwrap()
    else {
        panic!("first consumption must win");
    };
    assert_eq!(consumed.state, CodeState::Inactive);
    assert_eq!(consumed.pkce_method, Some(PkceMethod::S256));
    assert_eq!(consumed.nonce, code.nonce);
    assert!(
        codes
            .record_code_token(&code.code_id, "token-1")
            .await
            .unwrap()
    );
    assert!(!codes.record_code_token("missing", "token-1").await.unwrap());
    match codes.consume_code("digest-1", NOW + 2).await.unwrap() {
        CodeConsumption::AlreadyUsed(again) => {
            assert_eq!(again.token_id.as_deref(), Some("token-1"))
        }
        other => panic!("a replay must be reported: {other:?}"),
    }
    assert_eq!(
        codes.consume_code("digest-x", NOW).await.unwrap(),
        CodeConsumption::Unknown
    );

    let expiring = samples::code("client-a", "digest-3");
    codes.insert_code(&expiring).await.unwrap();
    match codes
        .consume_code("digest-3", expiring.expires_at_ms())
        .await
        .unwrap()
    {
        CodeConsumption::Expired(c) => assert_eq!(c.state, CodeState::Expired),
        other => panic!("expired code consumed: {other:?}"),
    }
    assert_eq!(
        codes.code("digest-3").await.unwrap().unwrap().state,
        CodeState::Expired
    );

    let mut plain = samples::code("client-a", "digest-4");
    plain.pkce_method = Some(PkceMethod::Plain);
    plain.pkce_challenge = None;
    plain.nonce = None;
    plain.redirect_uri = None;
    codes.insert_code(&plain).await.unwrap();
    assert_eq!(codes.code("digest-4").await.unwrap().unwrap(), plain);
    assert!(codes.revoke_code("digest-4").await.unwrap());
    assert!(!codes.revoke_code("digest-4").await.unwrap());
    assert!(matches!(
        codes.consume_code("digest-4", NOW).await.unwrap(),
        CodeConsumption::Revoked(_)
    ));

    assert_eq!(codes.purge_expired_codes(NOW + 300_000).await.unwrap(), 0);
    assert_eq!(codes.purge_expired_codes(NOW + 300_001).await.unwrap(), 3);
    assert!(codes.code("digest-1").await.unwrap().is_none());
}

pub async fn scopes(stores: Arc<Stores>) {
    let scopes = stores.scopes();
    let tenant = Tenant::default();
    let subscribe = Scope {
        tenant: tenant.clone(),
        name: "apim:subscribe".into(),
        display_name: "Subscribe".into(),
        description: Some("Subscribe to APIs".into()),
        roles: vec!["subscriber".into(), "admin".into(), "subscriber".into()],
    };
    let created = scopes.create_scope(&subscribe).await.unwrap();
    assert_eq!(created.roles, ["admin", "subscriber"]);
    assert!(
        scopes
            .create_scope(&subscribe)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let open = Scope {
        name: "openid".into(),
        display_name: "OpenID".into(),
        description: None,
        roles: vec![],
        ..subscribe.clone()
    };
    scopes.create_scope(&open).await.unwrap();
    let mut spaced = open.clone();
    spaced.name = "two words".into();
    assert!(matches!(
        scopes.create_scope(&spaced).await.unwrap_err(),
        StoreError::Invalid { .. }
    ));

    assert_eq!(
        scopes.scope(&tenant, "openid").await.unwrap().unwrap(),
        open
    );
    assert!(
        scopes
            .scope(&Tenant::new("other.com"), "openid")
            .await
            .unwrap()
            .is_none()
    );
    let names: Vec<_> = scopes
        .list_scopes(&tenant, Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["apim:subscribe", "openid"]);
    assert_eq!(
        scopes.list_scopes(&tenant, Page::new(1, 1)).await.unwrap()[0].name,
        "openid"
    );
    assert_eq!(
        scopes
            .scopes_of_roles(&tenant, &["subscriber".into(), "nobody".into()])
            .await
            .unwrap(),
        ["apim:subscribe"]
    );
    assert!(
        scopes
            .scopes_of_roles(&tenant, &[])
            .await
            .unwrap()
            .is_empty()
    );

    let mut changed = created.clone();
    changed.display_name = "Subscribe!".into();
    changed.roles = vec!["creator".into()];
    let updated = scopes.update_scope(&changed).await.unwrap();
    assert_eq!(updated.display_name, "Subscribe!");
    assert_eq!(updated.roles, ["creator"]);
    assert!(
        scopes
            .scopes_of_roles(&tenant, &["subscriber".into()])
            .await
            .unwrap()
            .is_empty()
    );
    let mut ghost = changed.clone();
    ghost.name = "ghost".into();
    assert!(
        scopes
            .update_scope(&ghost)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        scopes
            .delete_scope(&tenant, "apim:subscribe")
            .await
            .unwrap()
    );
    assert!(
        !scopes
            .delete_scope(&tenant, "apim:subscribe")
            .await
            .unwrap()
    );
    assert!(
        scopes
            .scopes_of_roles(&tenant, &["creator".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn revoke_alls_are_recorded(stores: Arc<Stores>) {
    let tokens = stores.tokens();
    let revocations = stores.subject_revocations();
    let tenant = Tenant::default();
    for (client, owner) in [("client-r", "alice"), ("client-s", "bob")] {
        stores
            .clients()
            .create_client(&samples::client(client, owner))
            .await
            .unwrap();
    }
    let mut older = samples::token("client-r", "alice", "family-r1");
    older.validity_ms = 7_200_000;
    let mut newer = samples::token("client-r", "carol", "family-r2");
    newer.issued_at_ms = NOW + 500;
    let other = samples::token("client-s", "carol", "family-s1");
    for token in [&older, &newer, &other] {
        tokens.insert_token(token).await.unwrap();
    }

    // Nothing live, nothing recorded.
    assert_eq!(tokens.revoke_by_client("client-none").await.unwrap(), 0);
    assert!(
        revocations
            .list_subject_revocations(NOW, Page::ALL)
            .await
            .unwrap()
            .is_empty()
    );

    // A client's revoke-all covers up to its newest token, until its last one expires.
    assert_eq!(tokens.revoke_by_client("client-r").await.unwrap(), 2);
    let listed = revocations
        .list_subject_revocations(NOW, Page::ALL)
        .await
        .unwrap();
    assert_eq!(
        listed,
        vec![SubjectRevocation {
            tenant: tenant.clone(),
            kind: RevokedSubjectKind::ConsumerKey,
            subject: "client-r".into(),
            revoked_before_ms: NOW + 501,
            expiry_time_ms: NOW + 7_200_000,
        }]
    );
    assert_eq!(
        tokens.token(&other.token_id).await.unwrap().unwrap().state,
        TokenState::Active
    );

    // A user's revoke-all; already revoked tokens are not covered again.
    assert_eq!(tokens.revoke_by_subject(&tenant, "carol").await.unwrap(), 1);
    let listed = revocations
        .list_subject_revocations(NOW, Page::ALL)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].kind, RevokedSubjectKind::User);
    assert_eq!(listed[0].subject, "carol");
    assert_eq!(listed[0].revoked_before_ms, NOW + 1);
    assert_eq!(listed[0].expiry_time_ms, NOW + 3_600_000);

    // A later revoke-all of the same client widens its record.
    let mut latest = samples::token("client-r", "alice", "family-r3");
    latest.issued_at_ms = NOW + 9_000;
    tokens.insert_token(&latest).await.unwrap();
    assert_eq!(tokens.revoke_by_client("client-r").await.unwrap(), 1);
    let listed = revocations
        .list_subject_revocations(NOW, Page::ALL)
        .await
        .unwrap();
    let client = listed.iter().find(|r| r.subject == "client-r").unwrap();
    assert_eq!(client.revoked_before_ms, NOW + 9_001);
    assert_eq!(client.expiry_time_ms, NOW + 7_200_000);

    // Expired records are no longer listed, and purged.
    let later = NOW + 3_600_000;
    assert_eq!(
        revocations
            .list_subject_revocations(later, Page::ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        revocations
            .purge_expired_subject_revocations(later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        revocations
            .purge_expired_subject_revocations(later)
            .await
            .unwrap(),
        0
    );
}
