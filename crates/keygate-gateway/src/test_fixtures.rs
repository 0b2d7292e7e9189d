//! Records and keys the unit tests build replicas and tokens from.

use aws_lc_rs::encoding::AsDer;
use keygate_jose::jwt::{self, Claims};
use keygate_jose::{JwsHeader, SigningKey};
use keygate_model::{
    Api, ApiStatus, Application, ApplicationStatus, AuthScheme, KeyMapping, KeyMappingState,
    KeyType, Subscription, SubscriptionCreateState, SubscriptionStatus, Tenant, TokenType,
    UrlTemplate,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::sync::OnceLock;

pub const ISSUER: &str = "https://km.example:9443/oauth2/token";
pub const CLIENT: &str = "consumer-key-1";
pub const APP_UUID: &str = "app-1";
pub const API_UUID: &str = "api-1";

pub fn template(pattern: &str, verb: &str, scheme: AuthScheme, scopes: &[&str]) -> UrlTemplate {
    UrlTemplate {
        url_pattern: pattern.into(),
        http_verb: verb.into(),
        auth_scheme: scheme,
        throttling_tier: "Unlimited".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

pub fn api(uuid: &str, context: &str, version: &str, templates: Vec<UrlTemplate>) -> Api {
    Api {
        uuid: uuid.into(),
        tenant: Tenant::default(),
        provider: "admin".into(),
        name: format!("api {uuid}"),
        version: version.into(),
        context: context.into(),
        is_default_version: false,
        description: None,
        production_endpoint: Some("http://127.0.0.1:9/backend".into()),
        sandbox_endpoint: None,
        status: ApiStatus::Published,
        api_tier: None,
        subscription_tiers: vec!["Unlimited".into()],
        url_templates: templates,
        revision: 1,
        deployed_revision: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn pets_api() -> Api {
    api(
        API_UUID,
        "/pets",
        "1.0.0",
        vec![
            template("/items", "GET", AuthScheme::Any, &[]),
            template("/items/{id}", "GET", AuthScheme::Any, &[]),
            template(
                "/admin",
                "POST",
                AuthScheme::ApplicationUser,
                &["pets:admin"],
            ),
            template("/apps", "GET", AuthScheme::Application, &[]),
            template("/public", "GET", AuthScheme::None, &[]),
        ],
    )
}

pub fn application(uuid: &str, id: i64) -> Application {
    Application {
        uuid: uuid.into(),
        id,
        tenant: Tenant::default(),
        name: format!("app{id}"),
        owner: "alice".into(),
        tier: "Unlimited".into(),
        callback_url: None,
        description: None,
        status: ApplicationStatus::Approved,
        group_id: None,
        token_type: TokenType::Jwt,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn subscription(uuid: &str, app: &str, api: &str, status: SubscriptionStatus) -> Subscription {
    Subscription {
        uuid: uuid.into(),
        tenant: Tenant::default(),
        application_uuid: app.into(),
        api_uuid: api.into(),
        tier: "Unlimited".into(),
        status,
        create_state: SubscriptionCreateState::Subscribe,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

pub fn key_mapping(consumer_key: &str, app: &str, key_type: KeyType) -> KeyMapping {
    KeyMapping {
        uuid: format!("km-{consumer_key}"),
        tenant: Tenant::default(),
        application_uuid: app.into(),
        consumer_key: consumer_key.into(),
        key_type,
        state: KeyMappingState::Completed,
        key_manager: keygate_model::RESIDENT_KEY_MANAGER.into(),
        created_at_ms: 0,
    }
}

/// One RSA key for the whole test run (generation is slow).
pub fn rsa_pkcs8() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().expect("PKCS#8");
        der.as_ref().to_vec()
    })
}

pub fn rsa_key() -> SigningKey {
    SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(rsa_pkcs8().to_vec())).expect("signing key")
}

pub fn ec_key() -> SigningKey {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("EC key");
    SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec())).expect("key")
}

/// Claims of an access token for [`CLIENT`] issued at `now_s`, valid an hour.
pub fn claims(now_s: i64, sub: &str, scope: &str) -> Claims {
    Claims {
        iss: Some(ISSUER.into()),
        sub: Some(sub.into()),
        exp: Some(now_s + 3600),
        iat: Some(now_s),
        jti: Some(format!("jti-{sub}-{now_s}-{scope}")),
        client_id: Some(CLIENT.into()),
        scope: Some(scope.into()),
        ..Claims::default()
    }
}

pub fn sign(key: &SigningKey, claims: &Claims) -> String {
    let header: JwsHeader = key.header().with_typ("at+jwt");
    jwt::encode(key, &header, claims).expect("token")
}
