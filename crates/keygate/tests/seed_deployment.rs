//! The seed's deployment as a user runs it — two key managers behind HAProxy, the API-M
//! node, shared databases, a broker — each scenario on MariaDB + RabbitMQ (run 1), and
//! scenarios 1 to 5 on PostgreSQL + NATS with a pair of traffic managers (run 2; its key
//! manager file does not turn token encryption on, so scenario 6 does not apply).
//! Deployments use the seed's fixed ports, so the scenarios run one after another.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

mod deployment;

use deployment::services::DatabaseOutage;
use deployment::user::{self, AppKeys};
use deployment::{Deployment, Stack};
use keygate_testkit::MockBackend;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs one scenario on one stack, alone on the machine's fixed ports.
fn scenario<F, Fut>(stack: Stack, name: &str, body: F)
where
    F: FnOnce(Deployment) -> Fut,
    Fut: Future<Output = ()>,
{
    let _serial = deployment::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let test = format!("seed_deployment::{name} ({stack:?})");
        let Some(deployment) = Deployment::builder(stack).start(&test).await else {
            return;
        };
        body(deployment).await;
    });
}

/// An API on the mock backend, and a JWT and an opaque-token application subscribed to it.
struct Published {
    backend: MockBackend,
    context: String,
    jwt_app: AppKeys,
    opaque_app: AppKeys,
}

async fn publish(deployment: &Deployment, name: &str) -> Published {
    let backend = MockBackend::start().await.expect("mock backend");
    let management = user::management(deployment);
    let context = format!("/{name}");
    let api = user::publish_api(&management, name, &context, &backend.url("/backend")).await;
    let jwt_app = user::subscribed_app(&management, &format!("{name}-jwt"), "JWT", &api).await;
    let opaque_app =
        user::subscribed_app(&management, &format!("{name}-opaque"), "OAUTH", &api).await;
    Published {
        backend,
        context,
        jwt_app,
        opaque_app,
    }
}

// ---------------------------------------------------------------------------------------
// Scenario 1: publish, subscribe, keys, tokens from the load-balanced key managers, calls
// through the gateway with the end user's claims in the backend JWT.

async fn publish_subscribe_call(deployment: Deployment) {
    let published = publish(&deployment, "orders").await;
    let client = deployment::insecure_client();
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let gateway_token = deployment.gateway_https_url("/token");

    let jwt = user::access_token(&client, &lb_token, &published.jwt_app).await;
    assert_eq!(jwt.split('.').count(), 3, "a JWT from the key managers");
    let opaque = user::access_token(&client, &lb_token, &published.opaque_app).await;
    assert!(!opaque.contains('.'), "an opaque token: {opaque}");
    let jwt_via_gateway = user::access_token(&client, &gateway_token, &published.jwt_app).await;
    let opaque_via_gateway =
        user::access_token(&client, &gateway_token, &published.opaque_app).await;

    let path = format!("{}/1.0.0/items", published.context);
    for token in [&jwt, &opaque, &jwt_via_gateway, &opaque_via_gateway] {
        for url in [
            deployment.gateway_https_url(&path),
            deployment.gateway_http_url(&path),
        ] {
            let (status, body) = user::call_until(&client, &url, token, 200).await;
            assert_eq!(status, 200, "{url}: {body}");
            let received = published.backend.last().expect("the backend was called");
            let assertion = received
                .header("x-jwt-assertion")
                .expect("X-JWT-Assertion at the backend");
            let claims = user::jwt_claims(assertion);
            let enduser = claims["http://wso2.org/claims/enduser"]
                .as_str()
                .unwrap_or_default();
            assert!(enduser.starts_with("admin"), "end user: {claims}");
            assert!(
                claims.get("http://wso2.org/claims/role").is_some(),
                "the end user's claims (enable_user_claims): {claims}"
            );
        }
    }
}

#[test]
fn mariadb_rabbitmq_1_publish_subscribe_call() {
    scenario(
        Stack::MariaDbRabbitMq,
        "publish_subscribe_call",
        publish_subscribe_call,
    );
}

#[test]
fn postgres_nats_1_publish_subscribe_call() {
    scenario(
        Stack::PostgresNats,
        "publish_subscribe_call",
        publish_subscribe_call,
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 2: a token of key manager A introspected, validated and revoked through key
// manager B; the gateway refuses it.

async fn token_across_key_managers(deployment: Deployment) {
    let published = publish(&deployment, "ledger").await;
    let client = deployment::insecure_client();
    let path = format!("{}/1.0.0/entries", published.context);
    let gateway = deployment.gateway_https_url(&path);
    for app in [&published.jwt_app, &published.opaque_app] {
        let token = user::access_token(
            &client,
            &deployment.key_manager_url(0, "/oauth2/token"),
            app,
        )
        .await;
        user::call_until(&client, &gateway, &token, 200).await;

        let (status, body) = user::client_call(
            &client,
            &deployment.key_manager_url(1, "/oauth2/introspect"),
            app,
            &[("token", &token)],
        )
        .await;
        assert_eq!(status, 200, "introspection at B: {body}");
        assert_eq!(body["active"], true, "A's token active at B: {body}");
        assert_eq!(body["client_id"], app.keys.consumer_key.as_str(), "{body}");

        let validation = serde_json::json!({
            "context": format!("{}/1.0.0", published.context),
            "version": "1.0.0",
            "token": token,
            "required_auth_level": "Any",
            "matching_resource": "/*",
            "http_verb": "GET",
        });
        let response = client
            .post(deployment.key_manager_url(1, "/services/key-validation/v1/validate"))
            .basic_auth(user::ADMIN.0, Some(user::ADMIN.1))
            .json(&validation)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let info: serde_json::Value = response.json().await.unwrap();
        assert_eq!(info["authorized"], true, "A's token validated at B: {info}");

        let (status, body) = user::client_call(
            &client,
            &deployment.key_manager_url(1, "/oauth2/revoke"),
            app,
            &[("token", &token)],
        )
        .await;
        assert_eq!(status, 200, "revocation at B: {body}");
        let revoked_at = std::time::Instant::now();
        let (status, body) = user::call_until(&client, &gateway, &token, 401).await;
        let refused_after = revoked_at.elapsed();
        assert_eq!(body["code"], 900_901, "{status} {body}");
        eprintln!(
            "seed_deployment ({:?}): {} token revoked at key manager B, refused by the gateway {:.1} ms after the revoke response",
            deployment.stack,
            app.application.token_type.as_deref().unwrap_or("?"),
            refused_after.as_secs_f64() * 1000.0
        );
        let (status, body) = user::client_call(
            &client,
            &deployment.key_manager_url(0, "/oauth2/introspect"),
            app,
            &[("token", &token)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["active"], false, "revoked at B, inactive at A: {body}");
    }
}

#[test]
fn mariadb_rabbitmq_2_token_across_key_managers() {
    scenario(
        Stack::MariaDbRabbitMq,
        "token_across_key_managers",
        token_across_key_managers,
    );
}

// Run 2's key managers (the seed's file, without `[super_admin]` or a password for
// `[apim.throttling]`) send their events as the internal account, which the traffic
// managers accept through the user store.
#[test]
fn postgres_nats_2_token_across_key_managers() {
    scenario(
        Stack::PostgresNats,
        "token_across_key_managers",
        token_across_key_managers,
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 3: key manager A SIGKILLed under load; A restarted rejoins; caches coherent.

/// One client call of the load: when it started and ended, and whether it succeeded.
#[derive(Debug, Clone)]
struct Sample {
    kind: &'static str,
    started: Instant,
    ended: Instant,
    ok: bool,
    detail: String,
}

/// Client tasks calling until `stop`: token requests through the load balancer and
/// through the gateway's `/token`, JWT calls, and fresh opaque tokens each validated by
/// the key managers through the gateway.
fn start_load(
    deployment: &Deployment,
    published: &Published,
    jwt: String,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Sample>>> {
    let path = format!("{}/1.0.0/load", published.context);
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let gateway_token = deployment.gateway_https_url("/token");
    let gateway = deployment.gateway_https_url(&path);
    let mut tasks = Vec::new();
    for kind in ["lb-token", "gateway-token", "jwt-call", "opaque-call"] {
        let (stop, lb_token, gateway_token, gateway, jwt) = (
            stop.clone(),
            lb_token.clone(),
            gateway_token.clone(),
            gateway.clone(),
            jwt.clone(),
        );
        let (jwt_app, opaque_app) = (published.jwt_app.clone(), published.opaque_app.clone());
        tasks.push(tokio::spawn(async move {
            let client = deployment::insecure_client();
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (ok, detail) = match kind {
                    "lb-token" => {
                        let (status, body) =
                            user::password_token(&client, &lb_token, &opaque_app).await;
                        (status == 200, format!("{status} {body}"))
                    }
                    "gateway-token" => {
                        let (status, body) =
                            user::password_token(&client, &gateway_token, &jwt_app).await;
                        (status == 200, format!("{status} {body}"))
                    }
                    "jwt-call" => {
                        let (status, body) = user::call(&client, &gateway, &jwt).await;
                        (status == 200, format!("{status} {body}"))
                    }
                    _ => {
                        let (status, body) =
                            user::password_token(&client, &lb_token, &opaque_app).await;
                        if status == 200 {
                            let token = body["access_token"].as_str().unwrap_or_default();
                            let (status, body) = user::call(&client, &gateway, token).await;
                            (status == 200, format!("call {status} {body}"))
                        } else {
                            (false, format!("token {status} {body}"))
                        }
                    }
                };
                samples.push(Sample {
                    kind,
                    started,
                    ended: Instant::now(),
                    ok,
                    detail,
                });
            }
            samples
        }));
    }
    tasks
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>) -> Vec<Sample> {
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("load task"));
    }
    all
}

async fn key_manager_killed_under_load(mut deployment: Deployment) {
    let published = publish(&deployment, "stock").await;
    let client = deployment::insecure_client();
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let jwt = user::access_token(&client, &lb_token, &published.jwt_app).await;
    let probe = deployment.gateway_https_url(&format!("{}/1.0.0/load", published.context));
    user::call_until(&client, &probe, &jwt, 200).await;

    let stop = Arc::new(AtomicBool::new(false));
    let tasks = start_load(&deployment, &published, jwt.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kill_started = Instant::now();
    deployment.key_managers[0].sigkill();
    let kill_done = Instant::now();
    deployment.wait_load_balancer(0, false).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let samples = collect(tasks).await;

    let in_flight = |s: &Sample| s.started <= kill_done && s.ended >= kill_started;
    let failed: Vec<&Sample> = samples.iter().filter(|s| !s.ok && !in_flight(s)).collect();
    let after_kill = samples.iter().filter(|s| s.started > kill_done).count();
    let failed_in_flight = samples.iter().filter(|s| !s.ok && in_flight(s)).count();
    eprintln!(
        "seed_deployment ({:?}): key manager A killed under load: {} client calls, {} after the kill, {} failed in flight at the kill, {} failed otherwise",
        deployment.stack,
        samples.len(),
        after_kill,
        failed_in_flight,
        failed.len()
    );
    assert!(
        after_kill > 20,
        "too little load after the kill: {after_kill}"
    );
    assert!(
        failed.is_empty(),
        "failed client calls outside the kill: {:#?}",
        failed
            .iter()
            .take(5)
            .map(|s| format!("{}: {}", s.kind, s.detail))
            .collect::<Vec<_>>()
    );

    // A restarted rejoins: HAProxy sees it up and sends it token requests again.
    deployment.key_managers[0].start().await;
    deployment.wait_load_balancer(0, true).await;
    let metrics_a = deployment.key_manager_url(0, "/metrics");
    let before = user::served_posts(&client, &metrics_a).await;
    for _ in 0..10 {
        user::access_token(&client, &lb_token, &published.opaque_app).await;
    }
    let after = user::served_posts(&client, &metrics_a).await;
    assert!(
        after > before,
        "key manager A served none of 10 load-balanced token requests after its restart"
    );

    // Caches stay coherent: a secret regenerated at A is honoured at once by B, whose
    // cache held the client.
    let app = &published.opaque_app;
    let token_at = |index: usize, secret: String| {
        let client = client.clone();
        let url = deployment.key_manager_url(index, "/oauth2/token");
        let mut app = app.clone();
        app.consumer_secret = secret;
        async move { user::password_token(&client, &url, &app).await.0 }
    };
    for index in [0, 1] {
        assert_eq!(token_at(index, app.consumer_secret.clone()).await, 200);
    }
    let response = client
        .post(deployment.key_manager_url(
            0,
            &format!(
                "/keymanager-operations/dcr/register/{}/regenerate-consumer-secret",
                app.keys.consumer_key
            ),
        ))
        .basic_auth(user::ADMIN.0, Some(user::ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let regenerated_at = Instant::now();
    let body: serde_json::Value = response.json().await.unwrap();
    let new_secret = body["client_secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    // Within the key managers' 5 s client cache: only an invalidation explains a refusal.
    loop {
        let old = token_at(1, app.consumer_secret.clone()).await;
        let new = token_at(1, new_secret.clone()).await;
        if old == 401 && new == 200 {
            break;
        }
        assert!(
            regenerated_at.elapsed() < Duration::from_secs(2),
            "B still answers {old} to the old secret and {new} to the new one"
        );
    }
    eprintln!(
        "seed_deployment ({:?}): secret regenerated at A honoured by B after {:.1} ms",
        deployment.stack,
        regenerated_at.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(token_at(0, app.consumer_secret.clone()).await, 401);
    assert_eq!(token_at(0, new_secret).await, 200);
}

#[test]
fn mariadb_rabbitmq_3_key_manager_killed_under_load() {
    scenario(
        Stack::MariaDbRabbitMq,
        "key_manager_killed_under_load",
        key_manager_killed_under_load,
    );
}

#[test]
fn postgres_nats_3_key_manager_killed_under_load() {
    scenario(
        Stack::PostgresNats,
        "key_manager_killed_under_load",
        key_manager_killed_under_load,
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 4: traffic manager, broker and gateway restarted; no revoked token accepted
// afterwards, no subscription change lost.

async fn restarts_lose_nothing(mut deployment: Deployment) {
    let published = publish(&deployment, "billing").await;
    let management = user::management(&deployment);
    let api = management
        .find_api("billing:1.0.0")
        .await
        .expect("the API")
        .id;
    let other = user::subscribed_app(&management, "billing-other", "JWT", &api).await;
    let client = deployment::insecure_client();
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let lb_revoke = deployment.load_balancer_url("/oauth2/revoke");
    let gateway = deployment.gateway_https_url(&format!("{}/1.0.0/invoices", published.context));
    let app = &published.jwt_app;
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(user::access_token(&client, &lb_token, app).await);
    }
    let other_token = user::access_token(&client, &lb_token, &other).await;
    for token in tokens.iter().chain([&other_token]) {
        user::call_until(&client, &gateway, token, 200).await;
    }

    // The traffic manager (with the gateway and control plane of the API-M node) killed;
    // a token revoked while it is down is refused once it is back.
    let mut revoked = Vec::new();
    deployment.api_manager.sigkill();
    user::revoke(&client, &lb_revoke, app, &tokens[0]).await;
    revoked.push(&tokens[0]);
    deployment.api_manager.start().await;
    user::call_until(&client, &gateway, &tokens[0], 401).await;
    assert_eq!(user::call(&client, &gateway, &tokens[3]).await.0, 200);
    if let Some(tm2) = deployment.traffic_manager_2.as_mut() {
        // The second traffic manager killed and restarted: revocations still arrive.
        tm2.sigkill();
        user::revoke(&client, &lb_revoke, app, &tokens[1]).await;
        revoked.push(&tokens[1]);
        user::call_until(&client, &gateway, &tokens[1], 401).await;
        tm2.start().await;
    }

    // The broker restarted; what changed around it reaches the gateway.
    deployment.stack.restart_broker();
    user::revoke(&client, &lb_revoke, app, &tokens[2]).await;
    revoked.push(&tokens[2]);
    management
        .block_subscription(&other.subscription_id, "BLOCKED")
        .await
        .expect("subscription blocked");
    user::call_until(&client, &gateway, &tokens[2], 401).await;
    let (_, body) = user::call_until(&client, &gateway, &other_token, 401).await;
    assert_eq!(body["code"], 900_907, "blocked subscription: {body}");

    // The gateway restarted: everything revoked or blocked stays refused from its first
    // answer on; the untouched token still works.
    deployment.api_manager.restart().await;
    for token in revoked {
        let (status, body) = user::call(&client, &gateway, token).await;
        assert_eq!(
            status, 401,
            "a revoked token after the gateway's restart: {body}"
        );
    }
    let (status, body) = user::call(&client, &gateway, &other_token).await;
    assert_eq!(
        status, 401,
        "a blocked subscription after the restart: {body}"
    );
    let (status, body) = user::call(&client, &gateway, &tokens[3]).await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn mariadb_rabbitmq_4_restarts_lose_nothing() {
    scenario(
        Stack::MariaDbRabbitMq,
        "restarts_lose_nothing",
        restarts_lose_nothing,
    );
}

#[test]
fn postgres_nats_4_restarts_lose_nothing() {
    scenario(
        Stack::PostgresNats,
        "restarts_lose_nothing",
        restarts_lose_nothing,
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 5: the database restarted under load.

async fn database_restarted_under_load(deployment: Deployment) {
    let published = publish(&deployment, "payroll").await;
    let client = deployment::insecure_client();
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let jwt = user::access_token(&client, &lb_token, &published.jwt_app).await;
    let gateway = deployment.gateway_https_url(&format!("{}/1.0.0/runs", published.context));
    user::call_until(&client, &gateway, &jwt, 200).await;
    let management = user::management(&deployment);

    // Valid JWT calls through the gateway all along, from its replica.
    let stop = Arc::new(AtomicBool::new(false));
    let calls = {
        let (stop, gateway, jwt) = (stop.clone(), gateway.clone(), jwt.clone());
        tokio::spawn(async move {
            let client = deployment::insecure_client();
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(user::call(&client, &gateway, &jwt).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        })
    };

    let outage = DatabaseOutage::begin(deployment.stack);
    // What needs the database fails with a clear error once the pool gives up waiting
    // for a connection (`pool_options.maxWait`, 30 s by default), asked all at once.
    let patient = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let asked = Instant::now();
    let km_url = deployment.key_manager_url(0, "/oauth2/token");
    let gateway_url = deployment.gateway_https_url("/token");
    let ((km_status, km_body), (gw_status, gw_body), portal) = tokio::join!(
        user::password_token(&patient, &km_url, &published.opaque_app),
        user::password_token(&patient, &gateway_url, &published.opaque_app),
        management.applications(),
    );
    let waited = asked.elapsed();
    assert!(
        km_status >= 500 && body_is_clear(&km_body, &published.opaque_app),
        "token at a key manager without its database: {km_status} {km_body}"
    );
    assert!(
        gw_status >= 500 && body_is_clear(&gw_body, &published.opaque_app),
        "token through the gateway without the database: {gw_status} {gw_body}"
    );
    let refusal = portal
        .expect_err("applications without a database")
        .to_string();
    assert!(!refusal.contains("apimadmin:"), "{refusal}");
    eprintln!(
        "seed_deployment ({:?}): database down — after {:.1} s: key manager {km_status} {km_body}; gateway /token {gw_status} {gw_body}; Developer Portal: {refusal}",
        deployment.stack,
        waited.as_secs_f64()
    );

    outage.end();
    // Everything recovers without a restart of keygate.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = user::password_token(&client, &lb_token, &published.opaque_app).await;
        if status == 200 && management.applications().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the database came back: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let opaque = user::access_token(&client, &lb_token, &published.opaque_app).await;
    user::call_until(&client, &gateway, &opaque, 200).await;
    stop.store(true, Ordering::Relaxed);
    let answers = calls.await.expect("JWT calls");
    let failed: Vec<&user::Answer> = answers.iter().filter(|a| a.0 != 200).collect();
    eprintln!(
        "seed_deployment ({:?}): {} JWT calls through the database outage, {} failed",
        deployment.stack,
        answers.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "JWT calls failed: {:?}",
        &failed[..failed.len().min(3)]
    );
    for process in deployment
        .key_managers
        .iter()
        .chain([&deployment.api_manager])
    {
        assert!(
            process.log_text().lines().count() > 0,
            "{} kept running",
            process.name
        );
    }
}

/// Whether an error body says something (a JSON object) without the client's secret.
fn body_is_clear(body: &serde_json::Value, app: &AppKeys) -> bool {
    body.is_object() && !body.to_string().contains(&app.consumer_secret)
}

#[test]
fn mariadb_rabbitmq_5_database_restarted_under_load() {
    scenario(
        Stack::MariaDbRabbitMq,
        "database_restarted_under_load",
        database_restarted_under_load,
    );
}

#[test]
fn postgres_nats_5_database_restarted_under_load() {
    scenario(
        Stack::PostgresNats,
        "database_restarted_under_load",
        database_restarted_under_load,
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 6: token encryption on; apim_db holds no readable token or secret.

async fn tokens_encrypted_at_rest(deployment: Deployment) {
    let published = publish(&deployment, "vault").await;
    let client = deployment::insecure_client();
    let lb_token = deployment.load_balancer_url("/oauth2/token");
    let gateway = deployment.gateway_https_url(&format!("{}/1.0.0/x", published.context));
    let mut tokens = Vec::new();
    let mut secrets = Vec::new();
    for app in [&published.jwt_app, &published.opaque_app] {
        let (status, body) = user::password_token(&client, &lb_token, app).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        user::call_until(&client, &gateway, &token, 200).await;
        tokens.push(token);
        if let Some(refresh) = body["refresh_token"].as_str() {
            tokens.push(refresh.to_owned());
        }
        secrets.push(app.consumer_secret.clone());
    }
    let mut inspected = 0;
    for table in [
        "kg_access_token",
        "kg_oauth_client",
        "kg_authorization_code",
        "kg_key_mapping",
    ] {
        for row in deployment.stack.apim_db_rows(table).await {
            inspected += 1;
            for value in row {
                for secret in tokens.iter().chain(&secrets) {
                    assert!(
                        !value.contains(secret.as_str()),
                        "{table} holds an issued token or client secret in the clear"
                    );
                }
                // No fragment of a JWT either (its signature is the token's own).
                for token in tokens.iter().filter(|t| t.contains('.')) {
                    let signature = token.rsplit('.').next().unwrap();
                    assert!(
                        !value.contains(signature),
                        "{table} holds a JWT in the clear"
                    );
                }
            }
        }
    }
    assert!(inspected >= 4, "only {inspected} rows inspected");
    eprintln!(
        "seed_deployment ({:?}): {inspected} rows of apim_db inspected, no token or secret readable",
        deployment.stack
    );
}

#[test]
fn mariadb_rabbitmq_6_tokens_encrypted_at_rest() {
    scenario(
        Stack::MariaDbRabbitMq,
        "tokens_encrypted_at_rest",
        tokens_encrypted_at_rest,
    );
}

// Not on run 2: its key managers' file does not turn `enable_token_encryption` on.
