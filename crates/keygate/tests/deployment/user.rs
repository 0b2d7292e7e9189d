//! What a user of the deployment does, through its public interfaces only: the control
//! plane's REST APIs (with `keygate-client`), the key managers' OAuth endpoints (through
//! the load balancer or a node directly), and calls through the gateway.

use super::Deployment;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_client::{
    ApiDraft, Application, ApplicationDraft, ApplicationKey, Credentials, Endpoint, EndpointConfig,
    KeyType, LifecycleAction, Management, Operation, Trust,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The seed's super admin.
pub const ADMIN: (&str, &str) = ("admin", "admin");

/// An application with production keys.
#[derive(Debug, Clone)]
pub struct AppKeys {
    pub application: Application,
    pub subscription_id: String,
    pub keys: ApplicationKey,
    pub consumer_secret: String,
}

/// The control plane of the API-M node, as the super admin.
pub fn management(deployment: &Deployment) -> Management {
    Management::new(
        &deployment.management_url(""),
        &Trust::Insecure,
        Credentials::Basic {
            username: ADMIN.0.to_owned(),
            password: ADMIN.1.to_owned(),
        },
    )
    .expect("management client")
}

/// Creates and publishes an API at `context` (version 1.0.0, `GET /*`), whose backend is
/// `backend`.
pub async fn publish_api(
    management: &Management,
    name: &str,
    context: &str,
    backend: &str,
) -> String {
    let api = management
        .create_api(&ApiDraft {
            name: name.to_owned(),
            context: context.to_owned(),
            version: "1.0.0".to_owned(),
            endpoint_config: Some(EndpointConfig {
                production_endpoints: Some(Endpoint {
                    url: backend.to_owned(),
                }),
                sandbox_endpoints: None,
            }),
            operations: vec![Operation {
                target: "/*".to_owned(),
                verb: "GET".to_owned(),
                auth_type: None,
                scopes: Vec::new(),
                throttling_policy: None,
            }],
            policies: vec!["Unlimited".to_owned()],
            ..ApiDraft::default()
        })
        .await
        .expect("API created");
    management
        .change_lifecycle(&api.id, LifecycleAction::Publish)
        .await
        .expect("API published");
    api.id
}

/// Creates an application issuing `token_type` tokens (`JWT` or `OAUTH`), subscribes it
/// to `api`, and generates its production keys.
pub async fn subscribed_app(
    management: &Management,
    name: &str,
    token_type: &str,
    api: &str,
) -> AppKeys {
    let application = management
        .create_application(&ApplicationDraft {
            name: name.to_owned(),
            throttling_policy: Some("Unlimited".to_owned()),
            token_type: Some(token_type.to_owned()),
            description: None,
        })
        .await
        .expect("application created");
    let subscription = management
        .subscribe(&application.application_id, api, "Unlimited")
        .await
        .expect("subscribed");
    let keys = management
        .generate_keys(
            &application.application_id,
            KeyType::Production,
            &[
                "client_credentials".to_owned(),
                "password".to_owned(),
                "refresh_token".to_owned(),
            ],
        )
        .await
        .expect("keys generated");
    let consumer_secret = keys
        .consumer_secret
        .clone()
        .expect("the consumer secret, once");
    AppKeys {
        application,
        subscription_id: subscription.subscription_id,
        keys,
        consumer_secret,
    }
}

/// A status and a JSON (or text) body.
pub type Answer = (u16, Value);

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The password grant for the super admin at `token_url`.
pub async fn password_token(client: &reqwest::Client, token_url: &str, app: &AppKeys) -> Answer {
    match client
        .post(token_url)
        .basic_auth(&app.keys.consumer_key, Some(&app.consumer_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN.0),
            ("password", ADMIN.1),
        ])
        .send()
        .await
    {
        Ok(response) => answer(response).await,
        Err(error) => (0, Value::String(error.to_string())),
    }
}

/// The password grant, which must succeed; answers the access token.
pub async fn access_token(client: &reqwest::Client, token_url: &str, app: &AppKeys) -> String {
    let (status, body) = password_token(client, token_url, app).await;
    assert_eq!(status, 200, "token from {token_url}: {body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// An OAuth endpoint called with the application's credentials and a form.
pub async fn client_call(
    client: &reqwest::Client,
    url: &str,
    app: &AppKeys,
    form: &[(&str, &str)],
) -> Answer {
    match client
        .post(url)
        .basic_auth(&app.keys.consumer_key, Some(&app.consumer_secret))
        .form(form)
        .send()
        .await
    {
        Ok(response) => answer(response).await,
        Err(error) => (0, Value::String(error.to_string())),
    }
}

/// Revokes a token at `revoke_url` with its application's credentials (RFC 7009).
pub async fn revoke(client: &reqwest::Client, revoke_url: &str, app: &AppKeys, token: &str) {
    let (status, body) = client_call(client, revoke_url, app, &[("token", token)]).await;
    assert_eq!(status, 200, "revocation at {revoke_url}: {body}");
}

/// `GET url` with a bearer token; status 0 when no answer came.
pub async fn call(client: &reqwest::Client, url: &str, token: &str) -> Answer {
    match client.get(url).bearer_auth(token).send().await {
        Ok(response) => answer(response).await,
        Err(error) => (0, Value::String(error.to_string())),
    }
}

/// Calls until the answer is `status` (the gateway's replica catches up with the control
/// plane); fails after 30 s with the last answer.
pub async fn call_until(client: &reqwest::Client, url: &str, token: &str, status: u16) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(client, url, token).await;
        if answer.0 == status {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: still {} ({}), expected {status}",
            answer.0,
            answer.1
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The sum of `keygate_http_requests_total` samples with `method="POST"` in a node's
/// `/metrics`: how many OAuth and service calls it has served.
pub async fn served_posts(client: &reqwest::Client, metrics_url: &str) -> u64 {
    let text = client
        .get(metrics_url)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("keygate_http_requests_total") && l.contains("method=\"POST\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A JWT's claims, read without verifying it (base64 or base64url segments).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let payload = payload
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON")
}
