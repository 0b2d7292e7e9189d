//! APIs with resources, applications, subscriptions and key mappings.

use crate::samples::{self, NOW};
use keygate_model::*;
use keygate_store::{Page, StoreError, Stores};
use std::sync::Arc;

pub async fn apis_and_resources(stores: Arc<Stores>) {
    let apis = stores.apis();
    let tenant = Tenant::default();

    let pets = apis
        .create_api(&samples::api("Pets", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(pets.revision, 1);
    assert_eq!(pets.url_templates.len(), 2);
    assert_eq!(pets.url_templates[1].scopes, ["items:write", "items:admin"]);
    assert_eq!(
        pets.url_templates[1].auth_scheme,
        AuthScheme::ApplicationUser
    );
    assert_eq!(pets.subscription_tiers, ["Gold", "Unlimited"]);
    assert_eq!(pets.description.as_deref(), Some("Pets API"));
    assert_eq!(apis.api(&pets.uuid).await.unwrap().unwrap(), pets);
    assert!(apis.api("missing").await.unwrap().is_none());
    assert_eq!(
        apis.api_by_context(&tenant, "/pets", "1.0.0")
            .await
            .unwrap()
            .unwrap()
            .uuid,
        pets.uuid
    );
    assert!(
        apis.api_by_context(&tenant, "/pets", "2.0.0")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        apis.api_by_context(&Tenant::new("other.com"), "/pets", "1.0.0")
            .await
            .unwrap()
            .is_none()
    );

    // Uniqueness: context and version, and provider, name and version.
    let mut same_context = samples::api("Animals", "1.0.0");
    same_context.context = "/pets".into();
    assert!(
        apis.create_api(&same_context)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut same_name = samples::api("Pets", "1.0.0");
    same_name.context = "/pets-again".into();
    assert!(apis.create_api(&same_name).await.unwrap_err().is_conflict());
    let mut twin_resources = samples::api("Twins", "1.0.0");
    twin_resources
        .url_templates
        .push(twin_resources.url_templates[0].clone());
    assert!(
        apis.create_api(&twin_resources)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        apis.api(&twin_resources.uuid).await.unwrap().is_none(),
        "rolled back"
    );

    // Default versions move with the flag.
    let mut v2 = samples::api("Pets", "2.0.0");
    v2.is_default_version = true;
    let v2 = apis.create_api(&v2).await.unwrap();
    assert_eq!(
        apis.default_api_version(&tenant, "/pets")
            .await
            .unwrap()
            .unwrap()
            .uuid,
        v2.uuid
    );
    let mut v1 = pets.clone();
    v1.is_default_version = true;
    let v1 = apis.update_api(&v1, NOW + 10).await.unwrap();
    assert_eq!(
        apis.default_api_version(&tenant, "/pets")
            .await
            .unwrap()
            .unwrap()
            .uuid,
        v1.uuid
    );
    assert!(
        !apis
            .api(&v2.uuid)
            .await
            .unwrap()
            .unwrap()
            .is_default_version
    );
    assert!(
        apis.default_api_version(&tenant, "/none")
            .await
            .unwrap()
            .is_none()
    );

    // Optimistic updates.
    assert_eq!(v1.revision, 2);
    assert_eq!(v1.updated_at_ms, NOW + 10);
    let mut changed = v1.clone();
    changed.status = ApiStatus::Published;
    changed.api_tier = Some("50KPerMin".into());
    changed.url_templates = vec![UrlTemplate {
        url_pattern: "/*".into(),
        http_verb: "get".into(),
        auth_scheme: AuthScheme::None,
        throttling_tier: "Unlimited".into(),
        scopes: vec![],
    }];
    let updated = apis.update_api(&changed, NOW + 20).await.unwrap();
    assert_eq!(updated.revision, 3);
    assert_eq!(updated.status, ApiStatus::Published);
    assert_eq!(updated.api_tier.as_deref(), Some("50KPerMin"));
    assert_eq!(updated.url_templates.len(), 1);
    assert_eq!(updated.url_templates[0].http_verb, "GET");
    let stale = apis.update_api(&changed, NOW + 30).await.unwrap_err();
    assert!(stale.is_conflict(), "{stale}");
    let mut ghost = samples::api("Ghost", "1.0.0");
    ghost.revision = 1;
    assert!(
        apis.update_api(&ghost, NOW)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Lifecycle and deployment.
    assert!(
        apis.set_api_status(&v2.uuid, ApiStatus::Published, NOW + 40)
            .await
            .unwrap()
    );
    assert!(
        !apis
            .set_api_status("missing", ApiStatus::Published, NOW)
            .await
            .unwrap()
    );
    let v2 = apis.api(&v2.uuid).await.unwrap().unwrap();
    assert_eq!(
        (v2.status, v2.revision, v2.updated_at_ms),
        (ApiStatus::Published, 3, NOW + 40)
    );
    assert!(apis.set_deployed_revision(&v2.uuid, Some(3)).await.unwrap());
    assert!(apis.set_deployed_revision(&v2.uuid, Some(3)).await.unwrap());
    assert!(
        !apis
            .set_deployed_revision("missing", Some(1))
            .await
            .unwrap()
    );
    assert_eq!(
        apis.api(&v2.uuid).await.unwrap().unwrap().deployed_revision,
        Some(3)
    );

    // Lists.
    apis.create_api(&samples::api("Zoo", "1.0.0"))
        .await
        .unwrap();
    let all = apis.list_apis(&tenant, Page::ALL).await.unwrap();
    let names: Vec<_> = all
        .iter()
        .map(|a| format!("{} {}", a.name, a.version))
        .collect();
    assert_eq!(names, ["Pets 1.0.0", "Pets 2.0.0", "Zoo 1.0.0"]);
    assert_eq!(
        apis.list_apis(&tenant, Page::new(1, 2)).await.unwrap()[0].name,
        "Zoo"
    );
    let published = apis
        .list_apis_by_status(&tenant, ApiStatus::Published, Page::ALL)
        .await
        .unwrap();
    assert_eq!(published.len(), 2);
    assert!(
        apis.list_apis(&Tenant::new("other.com"), Page::ALL)
            .await
            .unwrap()
            .is_empty()
    );

    // Validation and deletion.
    let mut long = samples::api("Long", "1.0.0");
    long.name = "x".repeat(256);
    assert!(matches!(
        apis.create_api(&long).await.unwrap_err(),
        StoreError::Invalid {
            field: "api name",
            ..
        }
    ));
    assert!(apis.delete_api(&v2.uuid).await.unwrap());
    assert!(!apis.delete_api(&v2.uuid).await.unwrap());
    assert!(apis.api(&v2.uuid).await.unwrap().is_none());
}

pub async fn applications(stores: Arc<Stores>) {
    let apps = stores.applications();
    let tenant = Tenant::default();
    let first = apps
        .create_application(&samples::application("alice", "Mobile"))
        .await
        .unwrap();
    let second = apps
        .create_application(&samples::application("alice", "Web"))
        .await
        .unwrap();
    let bobs = apps
        .create_application(&samples::application("bob", "Mobile"))
        .await
        .unwrap();
    assert!(first.id > 0);
    assert!(first.id < second.id && second.id < bobs.id, "ids ascend");
    assert_eq!(first.status, ApplicationStatus::Approved);
    assert_eq!(apps.application(&first.uuid).await.unwrap().unwrap(), first);
    assert_eq!(
        apps.application_by_id(second.id).await.unwrap().unwrap(),
        second
    );
    assert!(apps.application_by_id(-1).await.unwrap().is_none());
    assert_eq!(
        apps.application_by_name(&tenant, "bob", "Mobile")
            .await
            .unwrap()
            .unwrap(),
        bobs
    );
    assert!(
        apps.application_by_name(&tenant, "bob", "Web")
            .await
            .unwrap()
            .is_none()
    );
    let clash = apps
        .create_application(&samples::application("alice", "Mobile"))
        .await
        .unwrap_err();
    assert!(clash.is_conflict(), "{clash}");
    // Names are compared exactly, on every backend.
    apps.create_application(&samples::application("alice", "mobile"))
        .await
        .unwrap();

    let mut alices: Vec<_> = apps
        .list_applications_by_owner(&tenant, "alice", Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    alices.sort();
    assert_eq!(alices, ["Mobile", "Web", "mobile"]);
    let all = apps.list_applications(&tenant, Page::ALL).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].uuid, first.uuid);
    assert_eq!(
        apps.list_applications(&tenant, Page::new(2, 1))
            .await
            .unwrap()
            .len(),
        2
    );

    let mut renamed = first.clone();
    renamed.name = "Phone".into();
    renamed.group_id = Some("org-1".into());
    renamed.token_type = TokenType::Oauth;
    renamed.description = Some("for phones".into());
    let renamed = apps.update_application(&renamed, NOW + 1).await.unwrap();
    assert_eq!(renamed.name, "Phone");
    assert_eq!(renamed.id, first.id);
    assert_eq!(renamed.token_type, TokenType::Oauth);
    assert_eq!(renamed.group_id.as_deref(), Some("org-1"));
    assert_eq!(renamed.updated_at_ms, NOW + 1);
    assert_eq!(renamed.created_at_ms, NOW);
    let mut onto_web = renamed.clone();
    onto_web.name = "Web".into();
    assert!(
        apps.update_application(&onto_web, NOW)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let ghost = samples::application("ghost", "Ghost");
    assert!(
        apps.update_application(&ghost, NOW)
            .await
            .unwrap_err()
            .is_not_found()
    );

    assert!(apps.delete_application(&renamed.uuid).await.unwrap());
    assert!(!apps.delete_application(&renamed.uuid).await.unwrap());
    assert!(apps.application_by_id(renamed.id).await.unwrap().is_none());
}

pub async fn subscriptions_and_key_mappings(stores: Arc<Stores>) {
    let tenant = Tenant::default();
    let api = stores
        .apis()
        .create_api(&samples::api("Pets", "1.0.0"))
        .await
        .unwrap();
    let other_api = stores
        .apis()
        .create_api(&samples::api("Zoo", "1.0.0"))
        .await
        .unwrap();
    let app = stores
        .applications()
        .create_application(&samples::application("alice", "Mobile"))
        .await
        .unwrap();
    let subs = stores.subscriptions();

    let sub = subs
        .create_subscription(&samples::subscription(&app, &api))
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Unblocked);
    assert_eq!(subs.subscription(&sub.uuid).await.unwrap().unwrap(), sub);
    assert_eq!(
        subs.subscription_for(&app.uuid, &api.uuid)
            .await
            .unwrap()
            .unwrap(),
        sub
    );
    assert!(
        subs.subscription_for(&app.uuid, &other_api.uuid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        subs.create_subscription(&samples::subscription(&app, &api))
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut dangling = samples::subscription(&app, &api);
    dangling.api_uuid = "no-such-api".into();
    assert!(matches!(
        subs.create_subscription(&dangling).await.unwrap_err(),
        StoreError::Invalid { .. }
    ));
    let mut later = samples::subscription(&app, &other_api);
    later.created_at_ms = NOW + 5;
    let second = subs.create_subscription(&later).await.unwrap();
    let by_app: Vec<_> = subs
        .list_subscriptions_by_application(&app.uuid, Page::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.uuid)
        .collect();
    assert_eq!(by_app, [sub.uuid.clone(), second.uuid.clone()]);
    assert_eq!(
        subs.list_subscriptions_by_api(&api.uuid, Page::ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        subs.list_subscriptions(&tenant, Page::first(1))
            .await
            .unwrap()[0]
            .uuid,
        sub.uuid
    );

    assert!(
        subs.set_subscription_status(&sub.uuid, SubscriptionStatus::ProdOnlyBlocked, NOW + 9)
            .await
            .unwrap()
    );
    assert!(
        !subs
            .set_subscription_status("missing", SubscriptionStatus::Blocked, NOW)
            .await
            .unwrap()
    );
    let blocked = subs.subscription(&sub.uuid).await.unwrap().unwrap();
    assert_eq!(blocked.status, SubscriptionStatus::ProdOnlyBlocked);
    assert_eq!(blocked.updated_at_ms, NOW + 9);
    let mut upgraded = blocked.clone();
    upgraded.tier = "Unlimited".into();
    upgraded.status = SubscriptionStatus::Unblocked;
    upgraded.create_state = SubscriptionCreateState::Unsubscribe;
    let upgraded = subs.update_subscription(&upgraded, NOW + 10).await.unwrap();
    assert_eq!(upgraded.tier, "Unlimited");
    assert_eq!(upgraded.create_state, SubscriptionCreateState::Unsubscribe);
    let mut ghost = upgraded.clone();
    ghost.uuid = "missing".into();
    assert!(
        subs.update_subscription(&ghost, NOW)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(subs.delete_subscription(&second.uuid).await.unwrap());
    assert!(!subs.delete_subscription(&second.uuid).await.unwrap());

    // Key mappings.
    let keys = stores.key_mappings();
    let prod = keys
        .create_key_mapping(&samples::key_mapping(&app, KeyType::Production, "ck-prod"))
        .await
        .unwrap();
    let sandbox = keys
        .create_key_mapping(&samples::key_mapping(&app, KeyType::Sandbox, "ck-sandbox"))
        .await
        .unwrap();
    assert_eq!(
        keys.key_mapping_by_consumer_key("ck-prod")
            .await
            .unwrap()
            .unwrap(),
        prod
    );
    assert!(
        keys.key_mapping_by_consumer_key("ck-none")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        keys.create_key_mapping(&samples::key_mapping(&app, KeyType::Production, "ck-other"))
            .await
            .unwrap_err()
            .is_conflict(),
        "one production key per application and key manager"
    );
    let other_app = stores
        .applications()
        .create_application(&samples::application("bob", "Other"))
        .await
        .unwrap();
    assert!(
        keys.create_key_mapping(&samples::key_mapping(
            &other_app,
            KeyType::Production,
            "ck-prod"
        ))
        .await
        .unwrap_err()
        .is_conflict(),
        "a consumer key maps once"
    );
    assert_eq!(
        keys.key_mappings_for_application(&app.uuid).await.unwrap(),
        [prod.clone(), sandbox.clone()]
    );
    assert_eq!(
        keys.list_key_mappings(&tenant, Page::ALL)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        keys.set_key_mapping_state(&prod.uuid, KeyMappingState::Rejected)
            .await
            .unwrap()
    );
    assert!(
        !keys
            .set_key_mapping_state("missing", KeyMappingState::Rejected)
            .await
            .unwrap()
    );
    assert_eq!(
        keys.key_mapping_by_consumer_key("ck-prod")
            .await
            .unwrap()
            .unwrap()
            .state,
        KeyMappingState::Rejected
    );
    assert!(keys.delete_key_mapping(&sandbox.uuid).await.unwrap());
    assert!(!keys.delete_key_mapping(&sandbox.uuid).await.unwrap());

    // Deleting the application takes its subscriptions and mappings along; deleting an
    // API takes its subscriptions.
    let other_sub = subs
        .create_subscription(&samples::subscription(&other_app, &other_api))
        .await
        .unwrap();
    assert!(
        stores
            .applications()
            .delete_application(&app.uuid)
            .await
            .unwrap()
    );
    assert!(subs.subscription(&sub.uuid).await.unwrap().is_none());
    assert!(
        keys.key_mapping_by_consumer_key("ck-prod")
            .await
            .unwrap()
            .is_none()
    );
    assert!(stores.apis().delete_api(&other_api.uuid).await.unwrap());
    assert!(subs.subscription(&other_sub.uuid).await.unwrap().is_none());
}
