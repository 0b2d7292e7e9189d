//! Sample domain records for the conformance tests, each valid and distinct by its
//! arguments.

use keygate_model::*;

pub const NOW: i64 = 1_700_000_000_000;

pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn api(name: &str, version: &str) -> Api {
    Api {
        uuid: id(),
        tenant: Tenant::default(),
        provider: "admin".into(),
        name: name.into(),
        version: version.into(),
        context: format!("/{}", name.to_lowercase()),
        is_default_version: false,
        description: Some(format!("{name} API")),
        production_endpoint: Some("http://127.0.0.1:9000/prod".into()),
        sandbox_endpoint: None,
        status: ApiStatus::Created,
        api_tier: None,
        subscription_tiers: vec!["Gold".into(), "Unlimited".into()],
        url_templates: vec![
            UrlTemplate {
                url_pattern: "/items/{id}".into(),
                http_verb: "GET".into(),
                auth_scheme: AuthScheme::Any,
                throttling_tier: "Unlimited".into(),
                scopes: vec![],
            },
            UrlTemplate {
                url_pattern: "/items".into(),
                http_verb: "POST".into(),
                auth_scheme: AuthScheme::ApplicationUser,
                throttling_tier: "10KPerMin".into(),
                scopes: vec!["items:write".into(), "items:admin".into()],
            },
        ],
        revision: 0,
        deployed_revision: None,
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

pub fn application(owner: &str, name: &str) -> Application {
    Application {
        uuid: id(),
        id: 0,
        tenant: Tenant::default(),
        name: name.into(),
        owner: owner.into(),
        tier: "10PerMin".into(),
        callback_url: Some("https://app.example/cb".into()),
        description: None,
        status: ApplicationStatus::Approved,
        group_id: None,
        token_type: TokenType::Jwt,
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

pub fn subscription(application: &Application, api: &Api) -> Subscription {
    Subscription {
        uuid: id(),
        tenant: Tenant::default(),
        application_uuid: application.uuid.clone(),
        api_uuid: api.uuid.clone(),
        tier: "Gold".into(),
        status: SubscriptionStatus::Unblocked,
        create_state: SubscriptionCreateState::Subscribe,
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

pub fn key_mapping(application: &Application, key_type: KeyType, consumer_key: &str) -> KeyMapping {
    KeyMapping {
        uuid: id(),
        tenant: Tenant::default(),
        application_uuid: application.uuid.clone(),
        consumer_key: consumer_key.into(),
        key_type,
        state: KeyMappingState::Completed,
        key_manager: RESIDENT_KEY_MANAGER.into(),
        created_at_ms: NOW,
    }
}

pub fn client(client_id: &str, owner: &str) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        tenant: Tenant::default(),
        secret_digest: Some(vec![0, 1, 2, 250, 255, 7]),
        client_name: format!("{owner}_app"),
        owner: owner.into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        pkce_mandatory: true,
        pkce_plain_allowed: false,
        lifetimes: ClientTokenLifetimes {
            user_access_token_ms: Some(3_600_000),
            ..ClientTokenLifetimes::default()
        },
        token_type: TokenType::Jwt,
        jwks: None,
        jwks_uri: None,
        tls_client_auth_subject_dn: None,
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

pub fn token(client_id: &str, subject: &str, family: &str) -> AccessToken {
    let token_id = id();
    AccessToken {
        token_digest: format!("at-{token_id}"),
        token_value: Some(format!("value-{token_id}")),
        refresh_token_digest: Some(format!("rt-{token_id}")),
        refresh_token_value: None,
        token_id,
        tenant: Tenant::default(),
        refresh_family_id: family.into(),
        client_id: client_id.into(),
        subject: subject.into(),
        grant_type: "password".into(),
        scopes: vec!["openid".into(), "items:write".into()],
        issued_at_ms: NOW,
        validity_ms: 3_600_000,
        refresh_issued_at_ms: Some(NOW),
        refresh_validity_ms: Some(86_400_000),
        state: TokenState::Active,
        binding_thumbprint: None,
    }
}

pub fn code(client_id: &str, digest: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_id: id(),
        tenant: Tenant::default(),
        code_digest: digest.into(),
        client_id: client_id.into(),
        subject: "alice".into(),
        redirect_uri: Some("https://app.example/cb".into()),
        scopes: vec!["openid".into()],
        pkce_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        pkce_method: Some(PkceMethod::S256),
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time_ms: Some(NOW - 60_000),
        issued_at_ms: NOW,
        validity_ms: 300_000,
        state: CodeState::Active,
        token_id: None,
    }
}
