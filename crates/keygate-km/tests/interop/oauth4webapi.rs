//! panva's `oauth4webapi` (npm) as a resource server: `validateJwtAccessToken` (RFC 9068)
//! accepts keygate's JWT access tokens — an application token the library itself
//! obtained by client credentials, and a user token from the password grant — with the
//! keys it fetched from the JWK Set it discovered, and refuses a tampered token, a token
//! for another audience, and an opaque token.

use crate::harness::*;
use keygate_model::{TokenEndpointAuthMethod, TokenType};

#[tokio::test]
async fn oauth4webapi_validates_keygate_jwt_access_tokens() {
    if !clients_installed(Runtime::Node, &["oauth4webapi"], "oauth4webapi_validate") {
        return;
    }
    let node = InteropNode::start().await;
    // The application belongs to the auditor, so its token's subject differs from the
    // user's.
    let mut client = registration("rs-app", TokenEndpointAuthMethod::ClientSecretBasic);
    client.owner = AUDITOR.into();
    client.secret_digest = Some(
        node.km()
            .seal_client_secret(&keygate_model::Secret::new("rs-app-secret"))
            .unwrap(),
    );
    node.register(client).await;
    node.secret_client("rs-opaque", "rs-opaque-secret", TokenType::Oauth)
        .await;
    let user = node
        .user_tokens("rs-app", "rs-app-secret", "read write")
        .await;
    let opaque = node
        .user_tokens("rs-opaque", "rs-opaque-secret", "read")
        .await;

    let mut env = node.base_env();
    env.push(("KEYGATE_CLIENT_ID".into(), "rs-app".into()));
    env.push(("KEYGATE_CLIENT_SECRET".into(), "rs-app-secret".into()));
    env.push((
        "KEYGATE_USER_ACCESS_TOKEN".into(),
        field(&user, "access_token").into(),
    ));
    env.push((
        "KEYGATE_OPAQUE_TOKEN".into(),
        field(&opaque, "access_token").into(),
    ));
    let out = run_script(Runtime::Node, "oauth4webapi.mjs", &["validate"], env).await;

    let application = &out["application"];
    assert_eq!(application["iss"], node.issuer.as_str());
    assert_eq!(application["aud"], "rs-app");
    assert_eq!(application["client_id"], "rs-app");
    assert_eq!(application["sub"], AUDITOR);
    assert_eq!(application["scope"], "read");
    assert_eq!(
        application["jti"],
        jwt_claims(field(&out, "access_token"))["jti"]
    );
    let user_claims = &out["user"];
    assert_eq!(user_claims["sub"], USER);
    assert_eq!(user_claims["client_id"], "rs-app");
    assert_eq!(user_claims["scope"], "read write");

    assert_eq!(
        out["tampered_error"], "OAUTH_INVALID_RESPONSE: JWT signature verification failed",
        "{out}"
    );
    let wrong_audience = field(&out, "wrong_audience_error");
    assert!(
        wrong_audience.starts_with("OAUTH_JWT_CLAIM_COMPARISON_FAILED:")
            && wrong_audience.contains("aud"),
        "{wrong_audience}"
    );
    let opaque = field(&out, "opaque_error");
    assert_eq!(opaque, "OAUTH_INVALID_RESPONSE: Invalid JWT");
}
