//! The authorization code flow over real HTTPS against a node the test kit starts, with
//! a reqwest client that keeps cookies by hand and never follows a redirect: the login
//! page, the consent page, the code, the tokens, and sign-out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keygate_config::Config;
use keygate_model::{
    ClientTokenLifetimes, OAuthClient, Secret, Tenant, TokenEndpointAuthMethod, TokenType,
};
use keygate_store::NewUser;
use keygate_testkit::TestNode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::collections::BTreeMap;

const CALLBACK: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A browser over reqwest: cookies by hand, no redirects followed.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Seen {
    status: u16,
    location: Option<String>,
    html: String,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Seen {
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(COOKIE, header);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Seen {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            html: response.text().await.unwrap(),
        }
    }
}

/// The `name`/`value` pairs of the inputs of the first form.
fn form_fields(html: &str) -> Vec<(String, String)> {
    let form = &html[html.find("<form").unwrap()..html.find("</form>").unwrap()];
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let needle = format!(" {name}=\"");
        let start = tag.find(&needle)? + needle.len();
        let end = tag[start..].find('"')? + start;
        Some(
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    };
    form.split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            Some((
                attribute(tag, "name")?,
                attribute(tag, "value").unwrap_or_default(),
            ))
        })
        .collect()
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(n, _)| n != name);
    fields.push((name.to_owned(), value.to_owned()));
}

#[tokio::test]
async fn the_code_flow_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded_default();
    config.set_data_dir(dir.path().join("data"));
    let node = TestNode::start_with(config).await.unwrap();
    let stores = node.node.stores();
    stores
        .users()
        .add_user(
            &NewUser {
                username: "carol".into(),
                password: Secret::new("carol-password"),
                roles: vec![],
                claims: BTreeMap::new(),
            },
            1,
        )
        .await
        .unwrap();
    stores
        .clients()
        .create_client(&OAuthClient {
            client_id: "spa".into(),
            tenant: Tenant::default(),
            secret_digest: None,
            client_name: "Single-page app".into(),
            owner: "admin".into(),
            redirect_uris: vec![CALLBACK.into()],
            grant_types: vec!["authorization_code".into()],
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            pkce_mandatory: true,
            pkce_plain_allowed: false,
            lifetimes: ClientTokenLifetimes::default(),
            token_type: TokenType::Jwt,
            jwks: None,
            jwks_uri: None,
            tls_client_auth_subject_dn: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        })
        .await
        .unwrap();

    let authorize = node.management("/oauth2/authorize").unwrap();
    let challenge = keygate_oauth::pkce::s256_challenge(VERIFIER);
    let query = keygate_oauth::form::encode_pairs([
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "st-node"),
        ("nonce", "n-node"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let mut browser = Browser::new();
    let login = browser
        .send(browser.http.get(format!("{authorize}?{query}")))
        .await;
    assert_eq!(login.status, 200, "{}", login.html);
    assert!(login.html.contains("Single-page app"));
    assert!(browser.cookies.contains_key("KGCSRF"));

    let mut fields = form_fields(&login.html);
    set(&mut fields, "username", "carol");
    set(&mut fields, "password", "carol-password");
    let consent = browser
        .send(browser.http.post(&authorize).form(&fields))
        .await;
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(browser.cookies.contains_key("KGSESSION"));

    let mut fields = form_fields(&consent.html);
    set(&mut fields, "kg_consent", "approve");
    let done = browser
        .send(browser.http.post(&authorize).form(&fields))
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let location = done.location.unwrap();
    let (base, response) = location.split_once('?').unwrap();
    assert_eq!(base, CALLBACK);
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(response.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params["state"], "st-node");

    let tokens: Value = browser
        .http
        .post(node.management("/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", CALLBACK),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "openid", "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();

    // Signing out with the ID token as hint ends the session.
    let logout = node.management("/oidc/logout").unwrap();
    let out = browser
        .send(
            browser
                .http
                .get(format!("{logout}?id_token_hint={id_token}")),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.html);
    assert!(out.html.contains("You have signed out"));
    assert!(!browser.cookies.contains_key("KGSESSION"));
    let again = browser
        .send(browser.http.get(format!("{authorize}?{query}")))
        .await;
    assert_eq!(again.status, 200);
    assert!(again.html.contains("name=\"kg_action\" value=\"login\""));
    node.stop().await;
}
