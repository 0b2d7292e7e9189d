//! The connection to one keygate server: its base URL, how its TLS certificate is
//! trusted, the caller's credentials, and the one place requests are sent and answers
//! read.

use crate::error::{ClientError, ClientResult, ServerError};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How the server's TLS certificate is trusted.
#[derive(Clone, Default)]
pub enum Trust {
    /// The platform's roots.
    #[default]
    System,
    /// Any certificate (a self-signed development server); never for production.
    Insecure,
    /// Only the certificates of this PEM bundle (a private CA, or the server's
    /// self-signed certificate itself).
    Ca(Vec<u8>),
}

/// Who the caller is.
#[derive(Clone, Default)]
pub enum Credentials {
    /// Nobody (discovery, open endpoints).
    #[default]
    Anonymous,
    /// HTTP Basic against the user store (RFC 7617).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// An OAuth 2.0 access token (RFC 6750).
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// A keygate server's management listener, as one caller.
#[derive(Debug, Clone)]
pub struct Management {
    base: String,
    http: reqwest::Client,
    credentials: Credentials,
}

impl Management {
    /// A connection to `server` (`https://host:9443`).
    pub fn new(server: &str, trust: &Trust, credentials: Credentials) -> ClientResult<Self> {
        let parsed = url::Url::parse(server)
            .map_err(|e| ClientError::Setup(format!("server URL `{server}`: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(ClientError::Setup(format!(
                "server URL `{server}`: expected https://host:port"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("keygate-client/", env!("CARGO_PKG_VERSION")));
        match trust {
            Trust::System => {}
            Trust::Insecure => builder = builder.danger_accept_invalid_certs(true),
            Trust::Ca(pem) => {
                let certificates = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| ClientError::Setup(format!("CA file: {e}")))?;
                if certificates.is_empty() {
                    return Err(ClientError::Setup(
                        "CA file: no PEM certificate in it".to_owned(),
                    ));
                }
                builder = builder.tls_certs_only(certificates);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            base: server.trim_end_matches('/').to_owned(),
            http,
            credentials,
        })
    }

    /// The same server and trust, as another caller.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            credentials,
        }
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// The caller's credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Credentials::Anonymous => request,
            Credentials::Basic { username, password } => {
                request.basic_auth(username, Some(password))
            }
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// A request without the caller's credentials (the OAuth endpoints authenticate the
    /// client, not the user).
    pub(crate) fn bare_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends a request and reads its JSON answer; an error status is a refusal.
    pub(crate) async fn send<T: DeserializeOwned>(request: RequestBuilder) -> ClientResult<T> {
        let text = Self::send_text(request).await?;
        let body = if text.trim().is_empty() {
            "null"
        } else {
            &text
        };
        serde_json::from_str(body).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// Sends a request; its body when the status is a success, a refusal otherwise.
    pub(crate) async fn send_text(request: RequestBuilder) -> ClientResult<String> {
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(ClientError::Refused(ServerError::from_body(
                status.as_u16(),
                &text,
            )))
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ClientResult<T> {
        Self::send(self.request(Method::GET, &with_query(path, query))).await
    }

    pub(crate) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ClientResult<T> {
        Self::send(self.request(Method::POST, path).json(body)).await
    }

    pub(crate) async fn post_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ClientResult<T> {
        Self::send(self.request(Method::POST, &with_query(path, query))).await
    }

    pub(crate) async fn delete(&self, path: &str) -> ClientResult<()> {
        Self::send_text(self.request(Method::DELETE, path))
            .await
            .map(drop)
    }
}

/// `path?query`, form-encoded (RFC 3986 query component).
fn with_query(path: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in query {
        encoded.append_pair(key, value);
    }
    format!("{path}?{}", encoded.finish())
}

/// Every page of a list, `limit` at a time (lists answer `{count, list, pagination}`).
pub(crate) async fn all_pages<T: DeserializeOwned>(
    management: &Management,
    path: &str,
    query: &[(&str, String)],
) -> ClientResult<Vec<T>> {
    const PAGE: usize = 100;
    let mut items = Vec::new();
    loop {
        let mut q = query.to_vec();
        q.push(("limit", PAGE.to_string()));
        q.push(("offset", items.len().to_string()));
        let page: crate::model::Page<T> = management.get(path, &q).await?;
        let got = page.list.len();
        items.extend(page.list);
        if got < PAGE {
            return Ok(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert!(Management::new("ftp://x", &Trust::System, Credentials::Anonymous).is_err());
        assert!(Management::new("not a url", &Trust::System, Credentials::Anonymous).is_err());
        let m = Management::new("https://h:9443/", &Trust::System, Credentials::Anonymous)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(m.server(), "https://h:9443");
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(with_query("/a", &[]), "/a");
        assert_eq!(
            with_query(
                "/a",
                &[
                    ("action", "Demote to Created".to_owned()),
                    ("x", "&".to_owned())
                ]
            ),
            "/a?action=Demote+to+Created&x=%26"
        );
    }

    #[test]
    fn a_ca_file_needs_a_certificate() {
        let e = Management::new(
            "https://h",
            &Trust::Ca(b"nothing".to_vec()),
            Credentials::Anonymous,
        );
        assert!(matches!(e, Err(ClientError::Setup(_))));
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let basic = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{basic:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Bearer("tok".into())).contains("tok"));
    }
}
