use super::keys::StaticKeys;
use super::opaque::{KeyValidator, KeyValidatorError};
use super::*;
use crate::replica::{Replica, ReplicaChange};
use crate::test_fixtures::{CLIENT, ISSUER, claims, ec_key, rsa_key, sign};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use keygate_jose::{Confirmation, JwsAlgorithm, SigningKey, VerifyingKeySet};
use keygate_model::{RevokedToken, RevokedTokenType, Tenant};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const NOW_S: i64 = 1_700_000_000;
const NOW_MS: i64 = NOW_S * 1000;

/// Static keys that count how often they are asked for: once per signature check.
#[derive(Debug)]
struct CountingKeys {
    inner: StaticKeys,
    asked: AtomicUsize,
}

#[async_trait]
impl KeySource for CountingKeys {
    fn keys(&self) -> Arc<VerifyingKeySet> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner.keys()
    }
    async fn refresh(&self, seen: &Arc<VerifyingKeySet>) -> Option<Arc<VerifyingKeySet>> {
        self.inner.refresh(seen).await
    }
}

fn counting(key: &SigningKey) -> Arc<CountingKeys> {
    Arc::new(CountingKeys {
        inner: StaticKeys::new(vec![key.verifying_key().unwrap()]),
        asked: AtomicUsize::new(0),
    })
}

fn authenticator(keys: Arc<dyn KeySource>) -> Authenticator {
    Authenticator::new(
        AuthSettings::default(),
        vec![TrustedIssuer::new(ISSUER, keys)],
        None,
    )
}

fn no_question() -> KeyValidationRequest {
    KeyValidationRequest {
        context: "/pets/1.0.0".into(),
        version: "1.0.0".into(),
        token: keygate_model::Secret::new("t"),
        required_auth_level: "Any".into(),
        matching_resource: "/items".into(),
        http_verb: "GET".into(),
        client_ip: None,
    }
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

#[test]
fn tokens_come_from_the_bearer_scheme_or_the_configured_header() {
    let auth = AUTHORIZATION;
    assert_eq!(
        extract_token(&headers("authorization", "Bearer abc"), &auth),
        Ok("abc")
    );
    assert_eq!(
        extract_token(&headers("authorization", "bEaReR   abc "), &auth),
        Ok("abc")
    );
    for missing in ["Basic YWxpY2U6cHc=", "Bearer", "Bearer   ", "abc"] {
        assert_eq!(
            extract_token(&headers("authorization", missing), &auth),
            Err(GatewayError::MissingCredentials),
            "{missing}"
        );
    }
    assert_eq!(
        extract_token(&HeaderMap::new(), &auth),
        Err(GatewayError::MissingCredentials)
    );
    assert_eq!(
        extract_token(&headers("authorization", "Bearer a b"), &auth),
        Err(GatewayError::InvalidCredentials(InvalidToken::Malformed))
    );
    let apikey = HeaderName::from_static("apikey");
    assert_eq!(extract_token(&headers("apikey", "abc"), &apikey), Ok("abc"));
    assert_eq!(
        extract_token(&headers("apikey", "Bearer abc"), &apikey),
        Ok("abc")
    );
    assert_eq!(
        extract_token(&headers("authorization", "Bearer abc"), &apikey),
        Err(GatewayError::MissingCredentials)
    );
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        extract_token(&headers("apikey", &huge), &apikey),
        Err(GatewayError::InvalidCredentials(InvalidToken::Malformed))
    );
}

#[tokio::test]
async fn a_valid_jwt_becomes_a_principal_and_is_verified_once() {
    let key = rsa_key();
    let keys = counting(&key);
    let auth = authenticator(keys.clone());
    let token = sign(&key, &claims(NOW_S, "bob", "read write"));
    let principal = auth
        .authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    assert_eq!(principal.kind, TokenKind::Jwt);
    assert_eq!(principal.consumer_key.as_deref(), Some(CLIENT));
    assert_eq!(&*principal.subject, "bob@carbon.super");
    assert_eq!(principal.user_type, UserType::ApplicationUser);
    assert!(principal.has_scope("write") && !principal.has_scope("admin"));
    assert_eq!(principal.expires_at_ms, Some((NOW_S + 3600) * 1000));
    let signature = token.rsplit('.').next().unwrap();
    assert_eq!(&*principal.revocation_ids[0], signature);
    assert!(principal.revocation_ids[1].starts_with("jti-"));
    for _ in 0..5 {
        let again = auth
            .authenticate(&token, no_question, NOW_MS + 1)
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&again, &principal));
    }
    assert_eq!(
        keys.asked.load(Ordering::SeqCst),
        1,
        "one signature check per token"
    );
}

#[tokio::test]
async fn client_credentials_tokens_are_application_tokens() {
    let key = ec_key();
    let auth = authenticator(Arc::new(StaticKeys::new(vec![
        key.verifying_key().unwrap(),
    ])));
    let mut app_claims = claims(NOW_S, CLIENT, "");
    let token = sign(&key, &app_claims);
    let principal = auth
        .authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    assert_eq!(principal.user_type, UserType::Application);
    // WSO2's `aut` claim decides when present.
    app_claims
        .extra
        .insert("aut".into(), serde_json::Value::from("APPLICATION_USER"));
    let token = sign(&key, &app_claims);
    let principal = auth
        .authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    assert_eq!(principal.user_type, UserType::ApplicationUser);
}

fn segment(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[tokio::test]
async fn bad_tokens_get_the_right_codes() {
    let key = rsa_key();
    let keys = counting(&key);
    let auth = authenticator(keys.clone());
    let good = claims(NOW_S, "bob", "");
    let payload = segment(&String::from_utf8(good.to_json().unwrap()).unwrap());
    let invalid = |reason| Err(GatewayError::InvalidCredentials(reason));

    let expired = sign(
        &key,
        &Claims {
            exp: Some(NOW_S - 1),
            ..good.clone()
        },
    );
    let none = format!("{}.{payload}.", segment(r#"{"alg":"none","typ":"at+jwt"}"#));
    // HS256 keyed with the public key: the algorithm-confusion attack.
    let hs256 = format!(
        "{}.{payload}.{}",
        segment(r#"{"alg":"HS256"}"#),
        segment("mac")
    );
    let tampered = {
        let other = sign(&key, &claims(NOW_S, "mallory", ""));
        let (head, _) = other.rsplit_once('.').unwrap();
        let original_signature = sign(&key, &good);
        format!("{head}.{}", original_signature.rsplit('.').next().unwrap())
    };
    let wrong_issuer = sign(
        &key,
        &Claims {
            iss: Some("https://evil".into()),
            ..good.clone()
        },
    );
    let future = sign(
        &key,
        &Claims {
            nbf: Some(NOW_S + 600),
            ..good.clone()
        },
    );
    let untyped = jwt::encode(&key, &key.header(), &good).unwrap();
    let id_token = jwt::encode(&key, &key.header().with_typ("JOSE+JSON"), &good).unwrap();
    let other_key = sign(&rsa_key_other(), &good);

    let cases: Vec<(&str, String, Result<(), GatewayError>)> = vec![
        ("expired", expired, Err(GatewayError::TokenExpired)),
        ("alg none", none, invalid(InvalidToken::Refused)),
        ("HS256", hs256, invalid(InvalidToken::Refused)),
        ("garbage", "a.b.c".into(), invalid(InvalidToken::Malformed)),
        (
            "truncated",
            good_token_truncated(&key, &good),
            invalid(InvalidToken::Malformed),
        ),
        ("tampered", tampered, invalid(InvalidToken::BadSignature)),
        (
            "wrong issuer",
            wrong_issuer,
            invalid(InvalidToken::UnknownIssuer),
        ),
        (
            "not yet valid",
            future,
            invalid(InvalidToken::ClaimsRejected),
        ),
        ("untyped", untyped, invalid(InvalidToken::WrongType)),
        ("other type", id_token, invalid(InvalidToken::WrongType)),
        ("other key", other_key, invalid(InvalidToken::BadSignature)),
    ];
    for (name, token, expected) in cases {
        let outcome = auth
            .authenticate(&token, no_question, NOW_MS)
            .await
            .map(|_| ());
        assert_eq!(outcome, expected, "{name}");
        // Refused again, the same way.
        let again = auth
            .authenticate(&token, no_question, NOW_MS)
            .await
            .map(|_| ());
        assert_eq!(again, expected, "{name} again");
    }
}

fn rsa_key_other() -> SigningKey {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
    SigningKey::from_pkcs8(&rustls_pki_types::PrivatePkcs8KeyDer::from(
        der.as_ref().to_vec(),
    ))
    .unwrap()
}

fn good_token_truncated(key: &SigningKey, claims: &Claims) -> String {
    let token = sign(key, claims);
    let cut = token.len() - 10;
    let mut truncated = token[..cut].to_owned();
    // Keep three segments so it is read as a JWT.
    if truncated.matches('.').count() < 2 {
        truncated.push('.');
    }
    truncated.replace_range(..1, "!");
    truncated
}

#[tokio::test]
async fn a_refused_token_is_not_verified_twice() {
    let key = rsa_key();
    let keys = counting(&key);
    let auth = authenticator(keys.clone());
    let bad = sign(&rsa_key_other(), &claims(NOW_S, "bob", ""));
    for _ in 0..3 {
        assert!(auth.authenticate(&bad, no_question, NOW_MS).await.is_err());
    }
    assert_eq!(keys.asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn opaque_tokens_need_a_validator() {
    let auth = authenticator(counting(&rsa_key()));
    assert_eq!(
        auth.authenticate("5f0a-opaque", no_question, NOW_MS)
            .await
            .unwrap_err(),
        GatewayError::InvalidCredentials(InvalidToken::Malformed)
    );
}

/// A key manager that answers from a table and counts calls.
#[derive(Debug, Default)]
struct ScriptedKeyManager {
    answers: Mutex<Vec<Result<KeyValidationInfo, KeyValidatorError>>>,
    calls: AtomicUsize,
}

#[async_trait]
impl KeyValidator for ScriptedKeyManager {
    async fn validate(
        &self,
        request: &KeyValidationRequest,
    ) -> Result<KeyValidationInfo, KeyValidatorError> {
        assert_eq!(request.context, "/pets/1.0.0");
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            return Err(KeyValidatorError::Unavailable("no answer".into()));
        }
        answers.remove(0)
    }
}

fn opaque_authenticator(km: Arc<ScriptedKeyManager>) -> Authenticator {
    Authenticator::new(AuthSettings::default(), Vec::new(), Some(km))
}

#[tokio::test]
async fn opaque_tokens_ask_the_key_manager_once_per_cache_period() {
    let km = Arc::new(ScriptedKeyManager::default());
    km.answers.lock().unwrap().push(Ok(KeyValidationInfo {
        authorized: true,
        consumer_key: Some(CLIENT.into()),
        end_user: Some("carol".into()),
        user_type: Some("APPLICATION_USER".into()),
        scopes: vec!["read".into()],
        issued_time_ms: Some(NOW_MS - 1000),
        validity_period_ms: Some(3_600_000),
        ..KeyValidationInfo::default()
    }));
    let auth = opaque_authenticator(km.clone());
    for _ in 0..4 {
        let principal = auth
            .authenticate("opaque-1", no_question, NOW_MS)
            .await
            .unwrap();
        assert_eq!(principal.kind, TokenKind::Opaque);
        assert_eq!(&*principal.subject, "carol@carbon.super");
        assert_eq!(&*principal.revocation_ids[0], TokenHasher::hash("opaque-1"));
    }
    assert_eq!(km.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_key_managers_refusals_and_absence() {
    let km = Arc::new(ScriptedKeyManager::default());
    {
        let mut answers = km.answers.lock().unwrap();
        answers.push(Ok(KeyValidationInfo {
            validation_status: 900_901,
            ..KeyValidationInfo::default()
        }));
        answers.push(Ok(KeyValidationInfo {
            validation_status: 900_908,
            ..KeyValidationInfo::default()
        }));
        answers.push(Ok(KeyValidationInfo {
            validation_status: 900_904,
            ..KeyValidationInfo::default()
        }));
    }
    let auth = opaque_authenticator(km.clone());
    let invalid = GatewayError::InvalidCredentials(InvalidToken::KeyManagerRejected);
    assert_eq!(
        auth.authenticate("bad", no_question, NOW_MS)
            .await
            .unwrap_err(),
        invalid
    );
    // Remembered as invalid: no second call.
    assert_eq!(
        auth.authenticate("bad", no_question, NOW_MS)
            .await
            .unwrap_err(),
        invalid
    );
    assert_eq!(km.calls.load(Ordering::SeqCst), 1);
    // Not subscribed is about the API, so it is asked again next time.
    assert_eq!(
        auth.authenticate("other", no_question, NOW_MS)
            .await
            .unwrap_err(),
        GatewayError::ResourceForbidden
    );
    assert_eq!(
        auth.authenticate("other", no_question, NOW_MS)
            .await
            .unwrap_err(),
        GatewayError::TokenInactive
    );
    assert_eq!(km.calls.load(Ordering::SeqCst), 3);
    // The key manager is down: 900900, and retrying may help.
    let error = auth
        .authenticate("third", no_question, NOW_MS)
        .await
        .unwrap_err();
    assert_eq!(error.code(), 900_900);
    assert!(error.retry_may_help());
}

fn principal_for(token: &str) -> Principal {
    Principal {
        kind: TokenKind::Jwt,
        consumer_key: Some(CLIENT.into()),
        subject: "bob@carbon.super".into(),
        user_type: UserType::ApplicationUser,
        scopes: Box::default(),
        key_type: None,
        issued_at_ms: Some(NOW_MS - 10_000),
        expires_at_ms: Some(NOW_MS + 60_000),
        not_before_ms: None,
        revocation_ids: vec![Box::from(token)].into(),
        certificate_thumbprint: None,
        claims: None,
    }
}

#[test]
fn a_cached_principal_is_checked_against_the_clock_and_the_replica() {
    let replica = Replica::new();
    let principal = principal_for("sig-1");
    let check =
        |p: &Principal, now| check_principal(p, &replica.snapshot(), now, Duration::ZERO, None);
    assert_eq!(check(&principal, NOW_MS), Ok(()));
    assert_eq!(
        check(&principal, NOW_MS + 60_000),
        Err(GatewayError::TokenExpired)
    );
    replica
        .apply(ReplicaChange::TokenRevoked(RevokedToken {
            tenant: Tenant::default(),
            signature: "sig-1".into(),
            token_type: RevokedTokenType::JwtSignature,
            expiry_time_ms: NOW_MS + 60_000,
            revoked_at_ms: NOW_MS,
        }))
        .unwrap();
    assert_eq!(
        check(&principal, NOW_MS),
        Err(GatewayError::InvalidCredentials(InvalidToken::Revoked))
    );

    let other = principal_for("sig-2");
    assert_eq!(check(&other, NOW_MS), Ok(()));
    replica
        .apply(ReplicaChange::RevokedAll {
            subject: RevocationSubject::User("bob@carbon.super".into()),
            issued_before_ms: NOW_MS,
        })
        .unwrap();
    assert_eq!(
        check(&other, NOW_MS),
        Err(GatewayError::InvalidCredentials(InvalidToken::Revoked))
    );
    let newer = Principal {
        issued_at_ms: Some(NOW_MS + 1),
        ..principal_for("sig-3")
    };
    assert_eq!(check(&newer, NOW_MS + 2), Ok(()));

    let early = Principal {
        not_before_ms: Some(NOW_MS + 5_000),
        subject: "dave@carbon.super".into(),
        ..principal_for("sig-4")
    };
    assert!(check(&early, NOW_MS).is_err());
    assert!(
        check_principal(
            &early,
            &replica.snapshot(),
            NOW_MS,
            Duration::from_secs(5),
            None
        )
        .is_ok()
    );
}

#[test]
fn certificate_bound_tokens_need_their_certificate() {
    let replica = Replica::new().snapshot();
    let cert = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
    let der = cert.cert.der().clone();
    let other = rcgen::generate_simple_self_signed(vec!["other".into()]).unwrap();
    let bound = Principal {
        certificate_thumbprint: Some(x5t_s256(&der).into()),
        ..principal_for("s")
    };
    let presented = ClientCertificate(der);
    let wrong = ClientCertificate(other.cert.der().clone());
    assert_eq!(
        check_principal(&bound, &replica, NOW_MS, Duration::ZERO, Some(&presented)),
        Ok(())
    );
    for certificate in [None, Some(&wrong)] {
        assert_eq!(
            check_principal(&bound, &replica, NOW_MS, Duration::ZERO, certificate),
            Err(GatewayError::MutualTlsFailure)
        );
    }
}

#[tokio::test]
async fn cnf_claims_bind_the_principal() {
    let key = ec_key();
    let auth = authenticator(Arc::new(StaticKeys::new(vec![
        key.verifying_key().unwrap(),
    ])));
    let token = sign(
        &key,
        &Claims {
            cnf: Some(Confirmation {
                x5t_s256: Some("thumb".into()),
                ..Confirmation::default()
            }),
            ..claims(NOW_S, "bob", "")
        },
    );
    let principal = auth
        .authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    assert_eq!(principal.certificate_thumbprint.as_deref(), Some("thumb"));
}

#[tokio::test]
async fn without_a_cache_every_request_verifies() {
    let key = rsa_key();
    let keys = counting(&key);
    let settings = AuthSettings {
        token_cache: None,
        ..AuthSettings::default()
    };
    let auth = Authenticator::new(
        settings,
        vec![TrustedIssuer::new(ISSUER, keys.clone())],
        None,
    );
    let token = sign(&key, &claims(NOW_S, "bob", ""));
    for _ in 0..3 {
        auth.authenticate(&token, no_question, NOW_MS)
            .await
            .unwrap();
    }
    assert_eq!(keys.asked.load(Ordering::SeqCst), 3);
    assert_eq!(JwsAlgorithm::Rs256, key.algorithm());
}

#[tokio::test]
async fn forgetting_a_token_verifies_it_again() {
    let key = rsa_key();
    let keys = counting(&key);
    let auth = authenticator(keys.clone());
    let token = sign(&key, &claims(NOW_S, "bob", ""));
    auth.authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    auth.forget(&token);
    auth.authenticate(&token, no_question, NOW_MS)
        .await
        .unwrap();
    assert_eq!(keys.asked.load(Ordering::SeqCst), 2);
}
