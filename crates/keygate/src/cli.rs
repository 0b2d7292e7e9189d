//! The command line: `keygate server`, `keygate config check`, `keygate migrate`,
//! `keygate init`.

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
