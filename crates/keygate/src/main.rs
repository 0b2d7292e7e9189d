//! The `keygate` binary: parses the command line and hands over to the libraries.

#![forbid(unsafe_code)]

mod cli;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, ConfigArgs, ConfigCommand, LogFormatArg, ServerArgs};
use keygate_config::{Config, Role};
use keygate_server::telemetry::{self, LogFormat};
use keygate_server::{ListenerKind, RunningNode, ServerOptions};
use std::collections::BTreeSet;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the request path allocates and frees many
/// small, short-lived buffers (headers, bodies, futures), where glibc's malloc was a
/// fifth of the gateway's CPU under load and grew slower as its free lists fragmented.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Server(args) => server(args),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => return config_check(&file),
        Command::Migrate(args) => migrate(args),
        Command::Init { out, force } => init(&out, force),
        management => return cli::manage::run(management),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keygate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(args: &ConfigArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let loaded = keygate_config::load_file(path)
                .map_err(|report| anyhow::anyhow!("{} has errors:\n{report}", path.display()))?;
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            loaded.config
        }
        None => Config::embedded_default(),
    };
    if let Some(dir) = &args.data_dir {
        config.set_data_dir(dir.clone());
    }
    Ok(config)
}

fn runtime(config: &Config) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = config.server.worker_threads {
        builder.worker_threads(threads.max(1));
    }
    builder.build().context("cannot start the async runtime")
}

fn server(args: ServerArgs) -> anyhow::Result<()> {
    telemetry::init(match args.log_format {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    });
    let mut config = load_config(&args.config)?;
    if !args.roles.is_empty() {
        let mut roles = BTreeSet::new();
        for name in &args.roles {
            let role: Role = name
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--roles: unknown role `{name}` (known: key-manager, control-plane, gateway, traffic-manager)"))?;
            roles.insert(role);
        }
        config.set_roles(roles);
    }
    if let Some(offset) = args.port_offset {
        config
            .set_offset(offset)
            .map_err(|e| anyhow::anyhow!("--port-offset: {e}"))?;
    }
    let runtime = runtime(&config)?;
    runtime.block_on(async move {
        let node = keygate_server::start(ServerOptions::new(config.clone())).await?;
        announce(&config, &node);
        let failure = node.failure();
        let stop = node.shutdown_handle();
        tokio::spawn(async move {
            let signal = wait_for_signal().await;
            tracing::info!("{signal} received: draining connections");
            let _ = stop.send(true);
        });
        node.wait().await;
        if let Some(reason) = failure.get() {
            anyhow::bail!("{reason}");
        }
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    })
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

fn announce(config: &Config, node: &RunningNode) {
    let roles: Vec<String> = node.roles.iter().map(ToString::to_string).collect();
    println!(
        "keygate {} ready in {} ms: roles {}",
        env!("CARGO_PKG_VERSION"),
        node.startup.as_millis(),
        roles.join(", ")
    );
    let host = &config.server.hostname;
    for listener in &node.listeners {
        let url = format!(
            "{}://{host}:{}/",
            listener.kind.scheme(),
            listener.addr.port()
        );
        let label = match listener.kind {
            ListenerKind::Management => "management",
            ListenerKind::GatewayHttps => "gateway (https)",
            ListenerKind::GatewayHttp => "gateway (http)",
        };
        println!("  {label:<16} {url}");
    }
    println!("  {:<16} {}", "TLS certificate", node.tls_source);
    if let Some(admin) = &node.admin {
        match &admin.generated_password {
            Some(password) => println!(
                "  super admin      `{}` created with password {} (shown once: keep it)",
                admin.username,
                password.expose()
            ),
            None if admin.created => {
                println!("  super admin      `{}` created", admin.username)
            }
            None => {}
        }
    }
}

fn config_check(file: &std::path::Path) -> ExitCode {
    let report = keygate_config::check_file(file);
    for diagnostic in &report.diagnostics {
        println!("{diagnostic}");
    }
    let mut failed = report.has_errors();
    if !failed && let Ok(loaded) = keygate_config::load_file(file) {
        for problem in keygate_server::tls::check_keystores(&loaded.config) {
            println!("error: {}: {problem}", file.display());
            failed = true;
        }
    }
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == keygate_config::Severity::Error)
        .count();
    let warnings = report.diagnostics.len() - errors;
    if failed {
        println!(
            "{}: not usable ({errors} errors, {warnings} warnings)",
            file.display()
        );
        ExitCode::FAILURE
    } else {
        println!("{}: OK ({warnings} warnings)", file.display());
        ExitCode::SUCCESS
    }
}

/// The all-in-one example, as `keygate init` writes it.
const ALL_IN_ONE: &str = include_str!("../../../examples/all-in-one.toml");

fn init(out: &std::path::Path, force: bool) -> anyhow::Result<()> {
    if out.exists() && !force {
        anyhow::bail!("{} exists; pass --force to replace it", out.display());
    }
    std::fs::write(out, ALL_IN_ONE).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {}; start with: keygate server --config {}",
        out.display(),
        out.display()
    );
    Ok(())
}

fn migrate(args: ConfigArgs) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Human);
    let config = load_config(&args)?;
    runtime(&config)?.block_on(async {
        keygate_server::migrate(&config).await?;
        println!(
            "migrations applied: apim_db {}, shared_db {}",
            config.apim_db.display_url, config.shared_db.display_url
        );
        Ok(())
    })
}
