//! The CLI's stored login, `$XDG_CONFIG_HOME/keygate/cli.toml` (or
//! `~/.config/keygate/cli.toml`), written with mode 0600 in a 0700 directory: the
//! server URL, how its certificate is trusted, and either the CLI's OAuth client and
//! tokens or — on a server without OAuth — the user's Basic credentials. It also turns
//! the command line's connection options into a [`Management`] connection.

use super::ConnectionArgs;
use super::manage::Failure;
use keygate_client::{Credentials, Management, OAuthClient, TokenSet, Trust};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds before expiry at which a stored token is refreshed.
const REFRESH_MARGIN_SECS: u64 = 30;

/// The stored login.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// The server's management URL.
    pub server: String,
    /// The user logged in.
    pub username: String,
    /// Accept any certificate.
    #[serde(default)]
    pub insecure: bool,
    /// Trust only this PEM file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// OAuth login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthSession>,
    /// Basic login (a server without OAuth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The CLI's client and its current tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthSession {
    /// The client registered for the CLI.
    pub client: OAuthClient,
    /// The tokens.
    pub tokens: TokenSet,
    /// When the access token expires (seconds since the epoch).
    pub expires_at: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl OAuthSession {
    /// A session for tokens just issued.
    pub fn new(client: OAuthClient, tokens: TokenSet) -> Self {
        let expires_at = now_secs() + tokens.expires_in.unwrap_or(3600);
        Self {
            client,
            tokens,
            expires_at,
        }
    }
}

/// Where the stored login lives.
pub fn path() -> Result<PathBuf, Failure> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".config"))
            .ok_or_else(|| Failure::Usage("neither XDG_CONFIG_HOME nor HOME is set".into()))?,
    };
    Ok(base.join("keygate").join("cli.toml"))
}

/// The stored login, if there is one.
pub fn load() -> Result<Option<Session>, Failure> {
    let file = path()?;
    match std::fs::read_to_string(&file) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| Failure::Usage(format!("{}: {e}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Usage(format!("{}: {e}", file.display()))),
    }
}

/// Stores the login, readable by its owner only.
pub fn save(session: &Session) -> Result<(), Failure> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let file = path()?;
    let fail = |e: std::io::Error| Failure::Usage(format!("{}: {e}", file.display()));
    if let Some(dir) = file.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let text = toml::to_string(session).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(fail)?;
    out.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    out.write_all(text.as_bytes()).map_err(fail)
}

/// Removes the stored login; whether there was one.
pub fn remove() -> Result<bool, Failure> {
    let file = path()?;
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::Usage(format!("{}: {e}", file.display()))),
    }
}

/// The first line of standard input, without its line ending.
pub fn read_stdin_line(what: &str) -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("reading the {what} from standard input: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(Failure::Usage(format!("no {what} on standard input")));
    }
    Ok(line)
}

/// How to trust the server: the command line's choice, else the stored one.
pub fn trust(insecure: bool, ca: Option<&Path>) -> Result<Trust, Failure> {
    if insecure {
        return Ok(Trust::Insecure);
    }
    match ca {
        Some(file) => std::fs::read(file)
            .map(Trust::Ca)
            .map_err(|e| Failure::Usage(format!("--ca {}: {e}", file.display()))),
        None => Ok(Trust::System),
    }
}

/// The password for `--username`: standard input when asked, else `KEYGATE_PASSWORD`.
pub fn password(args: &ConnectionArgs) -> Result<String, Failure> {
    if args.password_stdin {
        return read_stdin_line("password");
    }
    std::env::var("KEYGATE_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            Failure::Usage("a password is needed: --password-stdin or KEYGATE_PASSWORD".into())
        })
}

/// The connection a management command uses: explicit `--server`/`--username` (CI), or
/// the stored login, its token refreshed when close to expiry.
pub async fn connect(args: &ConnectionArgs) -> Result<Management, Failure> {
    let stored = load()?;
    let explicit_user = args.username.is_some();
    let stored = stored.filter(|s| {
        args.server
            .as_deref()
            .is_none_or(|url| same_server(url, &s.server))
    });
    let server = match (&args.server, &stored) {
        (Some(server), _) => server.clone(),
        (None, Some(session)) => session.server.clone(),
        (None, None) => {
            return Err(Failure::Usage(
                "no server: run `keygate login --server URL`, or pass --server / KEYGATE_SERVER"
                    .into(),
            ));
        }
    };
    let (insecure, ca) = match (&stored, args.insecure || args.ca.is_some()) {
        (Some(session), false) => (session.insecure, session.ca.clone()),
        _ => (args.insecure, args.ca.clone()),
    };
    let trust = trust(insecure, ca.as_deref())?;
    let base = Management::new(&server, &trust, Credentials::Anonymous).map_err(Failure::from)?;
    if explicit_user {
        let username = args.username.clone().unwrap_or_default();
        return Ok(base.with_credentials(Credentials::Basic {
            username,
            password: password(args)?,
        }));
    }
    let Some(mut session) = stored else {
        return Err(Failure::Usage(format!(
            "not logged in to {server}: run `keygate login`, or pass --username with KEYGATE_PASSWORD"
        )));
    };
    if let Some(password) = &session.password {
        return Ok(base.with_credentials(Credentials::Basic {
            username: session.username.clone(),
            password: password.clone(),
        }));
    }
    let Some(oauth) = session.oauth.as_mut() else {
        return Err(Failure::Usage(
            "the stored login has no credentials: run `keygate login`".into(),
        ));
    };
    if oauth.expires_at <= now_secs() + REFRESH_MARGIN_SECS {
        let Some(refresh_token) = oauth.tokens.refresh_token.clone() else {
            return Err(Failure::Usage(
                "the login has expired: run `keygate login`".into(),
            ));
        };
        let tokens = base
            .refresh(&oauth.client, &refresh_token)
            .await
            .map_err(|e| {
                Failure::Server(format!(
                    "the login has expired and cannot be renewed ({e}): run `keygate login`"
                ))
            })?;
        *oauth = OAuthSession::new(oauth.client.clone(), tokens);
        save(&session)?;
    }
    let token = session
        .oauth
        .map(|o| o.tokens.access_token)
        .unwrap_or_default();
    Ok(base.with_credentials(Credentials::Bearer(token)))
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}
