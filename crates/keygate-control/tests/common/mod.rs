//! What every control-plane test shares: a fresh database per test on SQLite, or on the
//! PostgreSQL or MariaDB server of this machine (`kg_c_<random>`, dropped afterwards;
//! an unreachable server skips the test with a loud line unless
//! `KEYGATE_TEST_REQUIRE_SERVICES=1`), users in each role, an in-process bus, and an
//! HTTP client over the router.

#![allow(dead_code)]

pub mod key_manager;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use keygate_bus::{BusMessage, InProcessBus};
use keygate_control::{ControlPlane, ControlSettings, ServiceAccount};
use keygate_model::{Secret, roles};
use keygate_store::{MigrateMode, NewUser, StoreOptions, Stores};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// The backends the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

impl Kind {
    fn server_url(self) -> Option<String> {
        let (var, default) = match self {
            Kind::Sqlite => return None,
            Kind::Postgres => (
                "KEYGATE_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            Kind::MySql => (
                "KEYGATE_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/mysql",
            ),
        };
        Some(std::env::var(var).unwrap_or_else(|_| default.to_owned()))
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
            Kind::MySql => "MariaDB",
        }
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    match url[authority_start..].find('/') {
        Some(i) => format!("{}/{database}", &url[..authority_start + i]),
        None => format!("{url}/{database}"),
    }
}

/// One fresh database.
pub struct TestDb {
    pub url: String,
    server: Option<(Kind, String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn create(kind: Kind) -> Option<TestDb> {
        let Some(server_url) = kind.server_url() else {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("apim.db").display());
            return Some(TestDb {
                url,
                server: None,
                _dir: Some(dir),
            });
        };
        let name = format!("kg_c_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let created = match kind {
            Kind::Postgres => match PgConnection::connect(&server_url).await {
                Ok(mut conn) => {
                    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .await
                        .unwrap();
                    conn.close().await.ok();
                    true
                }
                Err(_) => false,
            },
            Kind::MySql => match MySqlConnection::connect(&server_url).await {
                Ok(mut conn) => {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    )))
                    .await
                    .unwrap();
                    conn.close().await.ok();
                    true
                }
                Err(_) => false,
            },
            Kind::Sqlite => true,
        };
        if !created {
            let addr = keygate_store::redact_url(&server_url);
            if std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{} not reachable at {addr}", kind.label());
            }
            eprintln!("SKIPPED: {} not reachable at {addr}", kind.label());
            return None;
        }
        Some(TestDb {
            url: with_database(&server_url, &name),
            server: Some((kind, server_url, name)),
            _dir: None,
        })
    }

    async fn drop_database(self) {
        let Some((kind, server_url, name)) = self.server else {
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS {name}");
        match kind {
            Kind::Postgres => {
                if let Ok(mut conn) = PgConnection::connect(&server_url).await {
                    conn.execute(sqlx::AssertSqlSafe(format!("{sql} WITH (FORCE)")))
                        .await
                        .ok();
                }
            }
            Kind::MySql => {
                if let Ok(mut conn) = MySqlConnection::connect(&server_url).await {
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.ok();
                }
            }
            Kind::Sqlite => {}
        }
    }
}

/// Runs `test` on every backend: `on_all_backends!(name)` makes `name::{sqlite, postgres,
/// mysql}` from `async fn name(f: &Fixture)` (or `f: &mut Fixture`).
#[macro_export]
macro_rules! on_all_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::common::{Kind, fixture};

            #[allow(clippy::unnecessary_mut_passed, reason = "some tests change the fixture")]
            async fn run(kind: Kind) {
                let Some(mut f) = fixture(kind).await else { return };
                super::$name(&mut f).await;
                f.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Kind::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Kind::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run(Kind::MySql).await;
            }
        }
    )*};
}

pub struct Fixture {
    pub stores: Arc<Stores>,
    pub bus: Arc<InProcessBus>,
    pub control: ControlPlane,
    router: Router,
    db: TestDb,
}

pub const PASSWORD: &str = "Pa55word!";

/// A control plane over a fresh database of `kind`, or `None` when its server is down.
pub async fn fixture(kind: Kind) -> Option<Fixture> {
    let db = TestDb::create(kind).await?;
    let options = StoreOptions::new(db.url.clone());
    let stores = Arc::new(
        Stores::open(&options, &options, MigrateMode::Apply)
            .await
            .unwrap(),
    );
    let users = stores.users();
    for role in [
        roles::CREATOR,
        roles::PUBLISHER,
        roles::SUBSCRIBER,
        roles::ADMIN,
    ] {
        let _ = users.add_role(role).await;
    }
    for (name, user_roles) in [
        ("alice", vec![roles::CREATOR, roles::PUBLISHER]),
        ("bob", vec![roles::SUBSCRIBER]),
        ("carol", vec![roles::SUBSCRIBER]),
        ("root", vec![roles::ADMIN]),
    ] {
        users
            .add_user(
                &NewUser {
                    username: name.into(),
                    password: Secret::from(PASSWORD),
                    roles: user_roles.into_iter().map(String::from).collect(),
                    claims: Default::default(),
                },
                1,
            )
            .await
            .unwrap();
    }
    let bus = Arc::new(InProcessBus::default());
    let settings = ControlSettings {
        service_account: Some(ServiceAccount {
            username: "km".into(),
            password: Secret::from("km-secret"),
        }),
        ..ControlSettings::default()
    };
    let control = ControlPlane::new(stores.clone(), bus.clone(), settings);
    let router = control.router();
    Some(Fixture {
        stores,
        bus,
        control,
        router,
        db,
    })
}

pub fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

impl Fixture {
    /// Replaces the control plane by one with `settings` over the same stores and bus.
    pub fn reconfigure(&mut self, settings: ControlSettings) {
        self.control = ControlPlane::new(self.stores.clone(), self.bus.clone(), settings);
        self.router = self.control.router();
    }

    /// Closes the stores and drops the database.
    pub async fn finish(self) {
        self.stores.close().await;
        self.db.drop_database().await;
    }

    pub async fn call_as(
        &self,
        auth: Option<String>,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self.raw(auth, method, uri, body).await;
        (status, value)
    }

    /// Status, `WWW-Authenticate` and JSON body of a request.
    pub async fn raw(
        &self,
        auth: Option<String>,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, challenge, value)
    }

    pub async fn call(
        &self,
        user: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(basic(user, PASSWORD)), method, uri, body)
            .await
    }

    pub async fn create_api(&self, name: &str, context: &str) -> String {
        let (status, body) = self
            .call(
                "alice",
                "POST",
                "/api/am/publisher/v1/apis",
                Some(api_body(name, context)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn lifecycle(&self, api: &str, action: &str) -> (StatusCode, Value) {
        let action = action.replace(' ', "%20");
        self.call(
            "alice",
            "POST",
            &format!("/api/am/publisher/v1/apis/change-lifecycle?apiId={api}&action={action}"),
            None,
        )
        .await
    }

    pub async fn create_app(&self, user: &str, name: &str) -> String {
        let (status, body) = self
            .call(
                user,
                "POST",
                "/api/am/devportal/v1/applications",
                Some(json!({"name": name, "throttlingPolicy": "10PerMin"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["applicationId"].as_str().unwrap().to_owned()
    }

    pub async fn subscribe(
        &self,
        user: &str,
        app: &str,
        api: &str,
        tier: &str,
    ) -> (StatusCode, Value) {
        self.call(
            user,
            "POST",
            "/api/am/devportal/v1/subscriptions",
            Some(json!({"applicationId": app, "apiId": api, "throttlingPolicy": tier})),
        )
        .await
    }
}

pub fn api_body(name: &str, context: &str) -> Value {
    json!({
        "name": name,
        "context": context,
        "version": "1.0.0",
        "endpointConfig": {"production_endpoints": {"url": "http://127.0.0.1:9000/v1"}},
        "policies": ["Gold", "Unlimited"],
        "operations": [
            {"target": "/items", "verb": "GET", "authType": "Application & Application User",
             "throttlingPolicy": "Unlimited"},
            {"target": "/items/{id}", "verb": "DELETE", "authType": "Application User",
             "throttlingPolicy": "Unlimited", "scopes": ["items:delete"]}
        ]
    })
}

/// Every event on the bus so far, after the initial resync.
pub async fn drain(subscription: &mut keygate_bus::Subscription) -> Vec<keygate_bus::Envelope> {
    let mut events = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(200), subscription.next()).await
    {
        match message {
            BusMessage::Event(envelope) => events.push(envelope),
            BusMessage::Resync { .. } => {}
        }
    }
    events
}

/// Creates an application as `user` through `router`; its id.
pub async fn create_app_via(router: &Router, user: &str, name: &str) -> String {
    let (status, body) = send(
        router,
        user,
        "POST",
        "/api/am/devportal/v1/applications",
        json!({"name": name}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["applicationId"].as_str().unwrap().to_owned()
}

/// Subscribes an application of `user` to an API with `Gold` through `router`.
pub async fn subscribe_via(router: &Router, user: &str, app: &str, api: &str) {
    let (status, body) = send(
        router,
        user,
        "POST",
        "/api/am/devportal/v1/subscriptions",
        json!({"applicationId": app, "apiId": api, "throttlingPolicy": "Gold"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn send(
    router: &Router,
    user: &str,
    method: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, basic(user, PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
