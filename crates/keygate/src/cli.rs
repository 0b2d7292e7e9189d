//! The command line: `keygate server`, `keygate config check`, `keygate migrate`,
//! `keygate init`, and the management commands that call a server's REST APIs
//! (`keygate login|logout|api|app|sub|policy|deny`, run by [`manage`]).

pub mod manage;
mod output;
mod session;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// keygate: API management with an OAuth2 key manager, control plane, gateway and
/// traffic manager in one binary.
#[derive(Debug, Parser)]
#[command(name = "keygate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node: every role, or those of `--roles` / `[server] roles`.
    Server(ServerArgs),
    /// Work with deployment.toml files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate(ConfigArgs),
    /// Write a commented all-in-one deployment.toml to start from.
    Init {
        /// Where to write it.
        #[arg(long, default_value = "deployment.toml")]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Log in to a server and keep its URL and a token in the CLI's config file.
    Login(LoginArgs),
    /// Forget the stored login (and revoke its token).
    Logout,
    /// Publisher: create APIs from OpenAPI files and run their lifecycle.
    Api {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Developer Portal: applications, their keys and tokens.
    App {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Subscriptions of applications to APIs.
    Sub {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: SubCommand,
    },
    /// Admin: throttling policies.
    Policy {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Admin: blocking (deny) conditions.
    Deny {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: DenyCommand,
    },
}

/// Which server, how to trust it, as whom, and how to print answers.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// The server's management URL (https://host:9443); overrides the stored login.
    #[arg(long, global = true, env = "KEYGATE_SERVER")]
    pub server: Option<String>,
    /// Call as this user with HTTP Basic (password from KEYGATE_PASSWORD or
    /// --password-stdin) instead of the stored login.
    #[arg(long, global = true, env = "KEYGATE_USERNAME")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Accept any TLS certificate (a self-signed development server).
    #[arg(long, global = true, conflicts_with = "ca")]
    pub insecure: bool,
    /// Trust only the certificates in this PEM file.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// How to print answers.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Create an API from an OpenAPI 3 (or Swagger 2) JSON file.
    Create {
        /// The OpenAPI definition.
        #[arg(long, value_name = "FILE")]
        openapi: PathBuf,
        /// Name (default: info.title).
        #[arg(long)]
        name: Option<String>,
        /// Context (default: from the name, `/pet-store`).
        #[arg(long)]
        context: Option<String>,
        /// Version (default: info.version).
        #[arg(long = "version")]
        api_version: Option<String>,
        /// Production backend URL (default: the document's first absolute server URL).
        #[arg(long)]
        backend: Option<String>,
        /// Sandbox backend URL.
        #[arg(long)]
        sandbox: Option<String>,
        /// Subscription policies applications may subscribe with (comma separated).
        #[arg(long, value_delimiter = ',')]
        tiers: Vec<String>,
        /// Publish it once created.
        #[arg(long)]
        publish: bool,
    },
    /// List APIs.
    List {
        /// Only APIs in this lifecycle state (CREATED, PUBLISHED, …).
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one API (id, NAME or NAME:VERSION).
    Get { api: String },
    /// CREATED → PUBLISHED (or BLOCKED → PUBLISHED).
    Publish { api: String },
    /// PUBLISHED → DEPRECATED.
    Deprecate { api: String },
    /// DEPRECATED → RETIRED.
    Retire { api: String },
    /// PUBLISHED → BLOCKED: the gateway refuses its calls.
    Block { api: String },
    /// Delete an API.
    Delete { api: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum KeyTypeArg {
    Production,
    Sandbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum TokenTypeArg {
    Jwt,
    Oauth,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application.
    Create {
        /// Its name (unique per owner).
        name: String,
        /// Application throttling policy (50PerMin, 20PerMin, 10PerMin, Unlimited, …).
        #[arg(long)]
        policy: Option<String>,
        /// Access token type.
        #[arg(long, value_enum)]
        token_type: Option<TokenTypeArg>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List your applications.
    List,
    /// Show an application (id or name) and its keys.
    Get { app: String },
    /// Delete an application and its keys.
    Delete { app: String },
    /// Application keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Get an access token for an application (client credentials). The consumer
    /// secret comes from KEYGATE_CONSUMER_SECRET or --consumer-secret-stdin.
    Token {
        /// The application (id or name).
        app: String,
        /// Which keys.
        #[arg(long, value_enum, default_value_t = KeyTypeArg::Production)]
        key_type: KeyTypeArg,
        /// Scopes to ask for (comma separated).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Read the consumer secret from the first line of standard input.
        #[arg(long)]
        consumer_secret_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make the application's OAuth client; prints the consumer key and secret once.
    Generate {
        /// The application (id or name).
        app: String,
        /// Which keys.
        #[arg(long, value_enum)]
        key_type: KeyTypeArg,
        /// Grant types the client may use (comma separated; server default otherwise).
        #[arg(long, value_delimiter = ',')]
        grant_types: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubCommand {
    /// Subscribe an application to an API.
    Create {
        /// The application (id or name).
        #[arg(long)]
        app: String,
        /// The API (id, NAME or NAME:VERSION).
        #[arg(long)]
        api: String,
        /// Subscription policy.
        #[arg(long)]
        tier: String,
    },
    /// List subscriptions: your applications', or those to one API (publisher view).
    List {
        /// Only this application's.
        #[arg(long, conflicts_with = "api")]
        app: Option<String>,
        /// Those to this API (id, NAME or NAME:VERSION).
        #[arg(long)]
        api: Option<String>,
    },
    /// Block a subscription (publisher).
    Block {
        /// Subscription id.
        id: String,
        /// Block production keys only; sandbox keys keep working.
        #[arg(long)]
        production_only: bool,
    },
    /// Unblock a subscription (publisher).
    Unblock { id: String },
    /// Delete a subscription.
    Delete { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyKindArg {
    Subscription,
    Application,
    Advanced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeUnitArg {
    Sec,
    Min,
    Hour,
    Day,
    Month,
    Year,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policies of a kind.
    List { kind: PolicyKindArg },
    /// Create a request-count policy, or any policy from a JSON body (--file).
    Create {
        kind: PolicyKindArg,
        /// Policy name (unless --file).
        #[arg(required_unless_present = "file")]
        name: Option<String>,
        /// Requests allowed per unit of time.
        #[arg(long, required_unless_present = "file")]
        requests: Option<u64>,
        /// The unit of time.
        #[arg(long, value_enum, default_value_t = TimeUnitArg::Min)]
        per: TimeUnitArg,
        /// How many units of time the window spans.
        #[arg(long, default_value_t = 1)]
        unit_time: u64,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// The policy's JSON body, as the Admin API takes it.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "requests"])]
        file: Option<PathBuf>,
    },
    /// Delete a policy (id or name).
    Delete { kind: PolicyKindArg, policy: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum DenyTypeArg {
    Api,
    Application,
    Ip,
    Iprange,
    User,
}

#[derive(Debug, Subcommand)]
pub enum DenyCommand {
    /// List blocking conditions.
    List,
    /// Block an API context, an application (owner:name), an IP, an IP range or a user.
    Create {
        /// What kind of thing is blocked.
        #[arg(long = "type", value_enum)]
        condition_type: DenyTypeArg,
        /// The API context, `owner:application`, IP or user name.
        #[arg(long, required_unless_present = "start")]
        value: Option<String>,
        /// First address of an IP range.
        #[arg(long, requires = "end", conflicts_with = "value")]
        start: Option<String>,
        /// Last address of an IP range.
        #[arg(long, requires = "start")]
        end: Option<String>,
        /// Block every address except the range.
        #[arg(long)]
        invert: bool,
    },
    /// Delete a blocking condition by id.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every problem in a file at once; exit non-zero on any error.
    Check {
        /// The deployment.toml to check.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// deployment.toml; without it, embedded defaults (SQLite under ./data).
    #[arg(long, short, env = "KEYGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where keygate keeps its own files (overrides `[server] data_dir`).
    #[arg(long, env = "KEYGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Roles to run, comma separated: key-manager, control-plane, gateway, traffic-manager.
    #[arg(long, value_delimiter = ',', env = "KEYGATE_ROLES")]
    pub roles: Vec<String>,
    /// Added to every listener port, overriding `[server] offset` (WSO2's `-DportOffset`).
    #[arg(long, env = "KEYGATE_PORT_OFFSET")]
    pub port_offset: Option<u16>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Human, env = "KEYGATE_LOG_FORMAT")]
    pub log_format: LogFormatArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Human,
    Json,
}
