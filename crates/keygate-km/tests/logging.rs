//! No token, code, secret or password ever reaches the log: every flow and every refusal
//! runs with the most verbose logging captured, and the capture is searched for each
//! value issued or presented. The log is known to be written (it names client ids), so
//! the search is over real output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use keygate_model::TokenType;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::*;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_token_code_or_secret_is_ever_logged() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let km = Km::start().await;
    let grants = ["client_credentials", "password", "refresh_token"];
    km.secret_client("logged-app", "S3cret-app-value", &grants, TokenType::Jwt)
        .await;
    km.secret_client(
        "logged-opaque",
        "S3cret-opaque-value",
        &grants,
        TokenType::Oauth,
    )
    .await;
    let mut sensitive = vec![
        "S3cret-app-value".to_owned(),
        "S3cret-opaque-value".to_owned(),
        "alice-password".to_owned(),
        "bob-password".to_owned(),
        "Wr0ng-secret-value".to_owned(),
        "Wr0ng-user-password".to_owned(),
    ];

    let jwt = km
        .client_credentials("logged-app", "S3cret-app-value", Some("read"))
        .await
        .ok()
        .field("access_token");
    let password = km
        .password(
            "logged-opaque",
            "S3cret-opaque-value",
            "alice",
            "alice-password",
            "openid read",
        )
        .await
        .ok();
    let refreshed = km
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &password.field("refresh_token")),
            ],
            Some(("logged-opaque", "S3cret-opaque-value")),
        )
        .await
        .ok();
    // Refusals log too: a wrong secret, a wrong password, a reused refresh token.
    km.client_credentials("logged-app", "Wr0ng-secret-value", None)
        .await;
    km.password(
        "logged-opaque",
        "S3cret-opaque-value",
        "alice",
        "Wr0ng-user-password",
        "read",
    )
    .await;
    km.post(
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &password.field("refresh_token")),
        ],
        Some(("logged-opaque", "S3cret-opaque-value")),
    )
    .await;
    km.introspect_as_admin(&jwt).await;
    km.post(
        "/oauth2/revoke",
        &[("token", &jwt)],
        Some(("logged-app", "S3cret-app-value")),
    )
    .await
    .ok();
    km.get("/oauth2/userinfo", Some(&refreshed.field("access_token")))
        .await;
    sensitive.extend([
        jwt.clone(),
        password.field("access_token"),
        password.field("refresh_token"),
        password.field("id_token"),
        refreshed.field("access_token"),
        refreshed.field("refresh_token"),
    ]);
    // A JWT's signature alone must not appear either.
    sensitive.push(jwt.rsplit('.').next().unwrap().to_owned());

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("logged-app"),
        "the log names client ids:\n{log}"
    );
    assert!(log.contains("client authentication failed"), "{log}");
    assert!(log.contains("refresh token reused"), "{log}");
    for value in &sensitive {
        assert!(
            !log.contains(value.as_str()),
            "a sensitive value reached the log"
        );
    }
}
