//! Tokens, codes and secrets at rest: with `enable_token_hashing` and with
//! `enable_token_encryption`, no stored value (read straight from the SQLite file) equals
//! or contains an issued token, code or client secret, and every flow still works. Plain
//! mode is checked too, so the inspection is known to see tokens when they are there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use keygate_config::TokenPersistence;
use keygate_model::TokenType;
use keygate_oauth::{AuthorizeClient, AuthorizeRequest, Form, ScopeSet};
use sqlx::{Connection, Row, SqliteConnection};
use support::*;

const GRANTS: &[&str] = &[
    "client_credentials",
    "password",
    "refresh_token",
    "authorization_code",
];

/// Every issued value a flow produced.
struct Issued {
    values: Vec<String>,
}

/// Runs client credentials (JWT and opaque), password with refresh, a refresh, and an
/// authorization code through `km`, checking each works; returns every secret value seen.
async fn run_flows(km: &Km) -> Issued {
    let mut values = vec![
        "jwt-secret-value-1".to_owned(),
        "opaque-secret-value-2".to_owned(),
    ];
    km.secret_client("jwt-app", &values[0], GRANTS, TokenType::Jwt)
        .await;
    km.secret_client("opaque-app", &values[1], GRANTS, TokenType::Oauth)
        .await;

    let jwt = km
        .client_credentials("jwt-app", "jwt-secret-value-1", Some("read"))
        .await
        .ok()
        .field("access_token");
    assert_eq!(km.introspect_as_admin(&jwt).await["active"], true);
    values.push(jwt);

    let password = km
        .password(
            "opaque-app",
            "opaque-secret-value-2",
            "alice",
            "alice-password",
            "openid read",
        )
        .await
        .ok();
    let access = password.field("access_token");
    let refresh = password.field("refresh_token");
    assert_eq!(km.introspect_as_admin(&access).await["active"], true);
    assert_eq!(km.introspect_as_admin(&refresh).await["active"], true);
    assert_eq!(
        km.get("/oauth2/userinfo", Some(&access)).await.ok().json["sub"],
        "alice"
    );
    values.extend([access, refresh.clone(), password.field("id_token")]);

    let rotated = km
        .post(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some(("opaque-app", "opaque-secret-value-2")),
        )
        .await
        .ok();
    values.extend([
        rotated.field("access_token"),
        rotated.field("refresh_token"),
    ]);

    let client = km
        .stores
        .clients()
        .client("jwt-app")
        .await
        .unwrap()
        .unwrap();
    let form = Form::from_pairs(
        [
            ("client_id", "jwt-app"),
            ("response_type", "code"),
            ("redirect_uri", "https://app.example/cb"),
        ],
        &[],
    )
    .unwrap();
    let request =
        AuthorizeRequest::validate(&form, &AuthorizeClient::from_client(&client).unwrap()).unwrap();
    let code = km
        .km
        .issue_authorization_code(&request, "alice", &ScopeSet::parse("read").unwrap())
        .await
        .unwrap()
        .expose()
        .to_owned();
    let redeemed = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/cb"),
            ],
            Some(("jwt-app", "jwt-secret-value-1")),
        )
        .await
        .ok();
    values.extend([code, redeemed.field("access_token")]);

    let revoked = values[3].clone();
    km.post(
        "/oauth2/revoke",
        &[("token", &revoked)],
        Some(("opaque-app", "opaque-secret-value-2")),
    )
    .await
    .ok();
    assert_eq!(km.introspect_as_admin(&revoked).await["active"], false);
    Issued { values }
}

/// Every text and blob cell of the tables that hold tokens, codes and secrets.
async fn stored_cells(km: &Km) -> Vec<Vec<u8>> {
    let url = format!("sqlite://{}", km.db_path.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let mut cells = Vec::new();
    for (table, columns) in [
        (
            "kg_access_token",
            "token_digest, token_value, refresh_token_digest, refresh_token_value",
        ),
        ("kg_authorization_code", "code_digest, NULL, NULL, NULL"),
        ("kg_oauth_client", "secret_digest, NULL, NULL, NULL"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM {table}"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(!rows.is_empty(), "{table} is empty");
        for row in rows {
            for i in 0..4 {
                if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    cells.push(bytes);
                } else if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    cells.push(text.into_bytes());
                }
            }
        }
    }
    conn.close().await.unwrap();
    cells
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no stored cell equals or contains any issued value.
fn assert_nothing_usable_stored(cells: &[Vec<u8>], issued: &Issued) {
    for value in &issued.values {
        for cell in cells {
            assert!(
                !contains(cell, value.as_bytes()),
                "a stored value holds an issued token, code or secret"
            );
        }
    }
}

#[tokio::test]
async fn hashing_stores_only_digests_and_flows_still_work() {
    let km = Km::start_with(settings(TokenPersistence::Hash)).await;
    let issued = run_flows(&km).await;
    let cells = stored_cells(&km).await;
    assert_nothing_usable_stored(&cells, &issued);
    // Token columns hold SHA-256 digests, or a JWT's `jti`, and nothing else.
    let url = format!("sqlite://{}", km.db_path.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT token_digest, token_value, refresh_token_value, token_id FROM kg_access_token",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut by_jti = 0;
    for row in rows {
        let digest: String = row.get(0);
        let token_id: String = row.get(3);
        if digest == format!("jti:{token_id}") {
            by_jti += 1;
        } else {
            assert_eq!(digest.len(), 64);
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(row.get::<Option<String>, _>(1).is_none());
        assert!(row.get::<Option<String>, _>(2).is_none());
    }
    assert_eq!(by_jti, 2, "the two JWT access tokens are kept by their jti");
}

#[tokio::test]
async fn encryption_stores_ciphertext_and_flows_still_work() {
    let km = Km::start_with(settings(TokenPersistence::Encrypt)).await;
    let issued = run_flows(&km).await;
    let cells = stored_cells(&km).await;
    assert_nothing_usable_stored(&cells, &issued);
    let url = format!("sqlite://{}", km.db_path.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT token_value FROM kg_access_token")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for row in rows {
        let value: String = row.get(0);
        assert!(value.starts_with("db-1:"), "ciphertext names its key");
    }
    // The encrypted client secret can be given back, as client registration may need.
    let stored = km
        .stores
        .clients()
        .client("jwt-app")
        .await
        .unwrap()
        .unwrap()
        .secret_digest
        .unwrap();
    assert_ne!(stored.len(), 32, "ciphertext, not a digest");
    assert_eq!(
        km.km.reveal_client_secret(&stored).unwrap().expose(),
        "jwt-secret-value-1"
    );
}

#[tokio::test]
async fn plain_mode_keeps_opaque_tokens_and_only_the_jti_of_a_jwt() {
    let km = Km::start().await;
    let issued = run_flows(&km).await;
    let cells = stored_cells(&km).await;
    // Opaque tokens are kept as issued: the password grant's access and refresh tokens.
    for opaque in &issued.values[3..5] {
        assert!(
            cells.iter().any(|cell| cell == opaque.as_bytes()),
            "plain mode stores an opaque token as issued"
        );
    }
    // A JWT access token is not: its jti is the record id (what WSO2 keeps of a JWT, as
    // the token's alias), and it is found by its jti.
    let jwt = &issued.values[2];
    assert!(cells.iter().all(|cell| !contains(cell, jwt.as_bytes())));
    let jti = jwt_claims(jwt)["jti"].as_str().unwrap().to_owned();
    let record = km.stores.tokens().token(&jti).await.unwrap().unwrap();
    assert_eq!(record.token_value, None);
    assert_eq!(km.introspect_as_admin(jwt).await["jti"], jti.as_str());
    // Client secrets are never stored in clear, whatever the mode.
    for secret in &issued.values[..2] {
        assert!(cells.iter().all(|cell| !contains(cell, secret.as_bytes())));
    }
}
