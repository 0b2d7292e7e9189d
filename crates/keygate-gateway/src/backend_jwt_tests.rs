use super::*;
use crate::auth::UserType;
use crate::replica::{ApplicationEntry, Replica, ReplicaChange};
use crate::test_fixtures::{API_UUID, APP_UUID, application, pets_api, rsa_key, subscription};
use keygate_jose::{JwsAlgorithm, verify_compact};
use keygate_model::{KeyType, SubscriptionStatus};
use std::sync::atomic::{AtomicUsize, Ordering};

const NOW_MS: i64 = 1_700_000_000_000;

fn settings(encoding: JwtEncoding, signing_algorithm: JwtSigningAlgorithm) -> BackendJwtSettings {
    BackendJwtSettings {
        enabled: true,
        header: HeaderName::from_static("x-jwt-assertion"),
        encoding,
        claim_dialect: "http://wso2.org/claims".into(),
        signing_algorithm,
        enable_user_claims: true,
        cache_expiry: Duration::from_secs(900),
    }
}

fn route_and_auth() -> (RouteMatch, Authorization) {
    let replica = Replica::new();
    replica
        .apply(ReplicaChange::ApiUpserted(pets_api()))
        .unwrap();
    let route = replica
        .snapshot()
        .route("GET", "/pets/1.0.0/items")
        .unwrap();
    let mut sub = subscription("sub", APP_UUID, API_UUID, SubscriptionStatus::Unblocked);
    sub.tier = "Gold".into();
    let auth = Authorization {
        application: Arc::new(ApplicationEntry::new(application(APP_UUID, 12))),
        subscription: Arc::new(sub),
        key_type: KeyType::Sandbox,
        end_user: "bob@carbon.super".into(),
        user_type: UserType::ApplicationUser,
    };
    (route, auth)
}

#[derive(Debug, Default)]
struct Directory {
    asked: AtomicUsize,
}

#[async_trait]
impl UserClaimsSource for Directory {
    async fn claims(&self, end_user: &str) -> Result<BTreeMap<String, String>, UserClaimsError> {
        assert_eq!(end_user, "bob@carbon.super");
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(BTreeMap::from([
            (
                "http://wso2.org/claims/emailaddress".to_owned(),
                "bob@example.com".to_owned(),
            ),
            // A user claim never overrides what the gateway says.
            (
                "http://wso2.org/claims/enduser".to_owned(),
                "mallory".to_owned(),
            ),
        ]))
    }
}

fn decode_part(part: &str, encoding: JwtEncoding) -> serde_json::Value {
    let bytes = match encoding {
        JwtEncoding::Base64 => STANDARD.decode(part).unwrap(),
        JwtEncoding::Base64Url => URL_SAFE_NO_PAD.decode(part).unwrap(),
    };
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn signed_base64url_assertions_are_standard_rs256_jws() {
    let key = rsa_key();
    let verifier = key.verifying_key().unwrap();
    let directory = Arc::new(Directory::default());
    let issuer = BackendJwtIssuer::new(
        settings(JwtEncoding::Base64Url, JwtSigningAlgorithm::Sha256WithRsa),
        Some(key),
        Some(directory.clone()),
    )
    .unwrap();
    let (route, auth) = route_and_auth();
    let value = issuer
        .assertion("token-1", &route, &auth, NOW_MS)
        .await
        .unwrap();
    let token = value.to_str().unwrap();
    let verified = verify_compact(token, &verifier, &[JwsAlgorithm::Rs256]).unwrap();
    assert_eq!(verified.header.typ.as_deref(), Some("JWT"));
    let claims: serde_json::Value = serde_json::from_slice(&verified.payload_bytes).unwrap();
    let now = NOW_MS / 1000;
    assert_eq!(claims["iss"], "wso2.org/products/am");
    assert_eq!(claims["exp"], now + 900 + 60);
    let expected = [
        ("subscriber", "alice"),
        ("applicationid", "12"),
        ("applicationname", "app12"),
        ("applicationtier", "Unlimited"),
        ("applicationUUId", APP_UUID),
        ("apicontext", "/pets/1.0.0"),
        ("version", "1.0.0"),
        ("tier", "Gold"),
        ("keytype", "SANDBOX"),
        ("usertype", "APPLICATION_USER"),
        ("enduser", "bob@carbon.super"),
        ("enduserTenantId", "-1234"),
        ("emailaddress", "bob@example.com"),
    ];
    for (name, value) in expected {
        assert_eq!(
            claims[format!("http://wso2.org/claims/{name}")],
            value,
            "{name}"
        );
    }

    // Cached per token, API and key type.
    let again = issuer
        .assertion("token-1", &route, &auth, NOW_MS + 5_000)
        .await
        .unwrap();
    assert_eq!(again, value);
    assert_eq!(directory.asked.load(Ordering::SeqCst), 1);
    issuer
        .assertion("token-2", &route, &auth, NOW_MS)
        .await
        .unwrap();
    assert_eq!(
        directory.asked.load(Ordering::SeqCst),
        2,
        "another token, made anew"
    );
    let production = Authorization {
        key_type: KeyType::Production,
        ..auth.clone()
    };
    let prod = issuer
        .assertion("token-1", &route, &production, NOW_MS)
        .await
        .unwrap();
    assert_ne!(prod, value);
}

#[tokio::test]
async fn unsigned_base64_assertions_as_wso2_makes_them() {
    let issuer = BackendJwtIssuer::new(
        settings(JwtEncoding::Base64, JwtSigningAlgorithm::None),
        None,
        None,
    )
    .unwrap();
    let (route, auth) = route_and_auth();
    let value = issuer.assertion("t", &route, &auth, NOW_MS).await.unwrap();
    let token = value.to_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "", "no signature");
    let header = decode_part(parts[0], JwtEncoding::Base64);
    assert_eq!(header["alg"], "none");
    let claims = decode_part(parts[1], JwtEncoding::Base64);
    assert_eq!(claims["http://wso2.org/claims/apicontext"], "/pets/1.0.0");
    // User claims are on, but no source was given: the assertion goes without them.
    assert!(claims.get("http://wso2.org/claims/emailaddress").is_none());
}

#[test]
fn signing_needs_an_rsa_key() {
    let signed = settings(JwtEncoding::Base64, JwtSigningAlgorithm::Sha256WithRsa);
    assert_eq!(
        BackendJwtIssuer::new(signed.clone(), None, None).unwrap_err(),
        BackendJwtError::NoSigningKey
    );
    assert_eq!(
        BackendJwtIssuer::new(signed.clone(), Some(crate::test_fixtures::ec_key()), None)
            .unwrap_err(),
        BackendJwtError::NoSigningKey
    );
    // Disabled, nothing is needed.
    let disabled = BackendJwtSettings {
        enabled: false,
        ..signed
    };
    assert!(
        !BackendJwtIssuer::new(disabled, None, None)
            .unwrap()
            .enabled()
    );
}

#[test]
fn settings_come_from_apim_jwt() {
    let jwt = JwtSettings {
        enabled: true,
        header: "X-Custom-JWT".into(),
        claim_dialect: "http://example.org/claims/".into(),
        ..JwtSettings::default()
    };
    let settings = BackendJwtSettings::from_config(&jwt, Duration::from_secs(60)).unwrap();
    assert_eq!(settings.header, "x-custom-jwt");
    assert_eq!(settings.claim_dialect, "http://example.org/claims");
    let bad = JwtSettings {
        header: "bad header".into(),
        ..JwtSettings::default()
    };
    assert!(BackendJwtSettings::from_config(&bad, Duration::from_secs(60)).is_err());
}
