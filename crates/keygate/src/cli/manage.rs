//! The management commands: each turns its arguments into calls of
//! [`keygate_client::Management`] and prints the answers. Exit status 0 is success, 1 a
//! server that refused (its message and the fields it named go to standard error), 2 a
//! usage problem (clap's own errors exit 2 as well). Secrets are never printed, except
//! the consumer secret and the access token a user explicitly asks for.

use super::output::{self, print};
use super::session::{self, OAuthSession, Session};
use super::{
    ApiCommand, AppCommand, Command, ConnectionArgs, DenyCommand, DenyTypeArg, KeyTypeArg,
    KeysCommand, LoginArgs, OutputFormat, PolicyCommand, PolicyKindArg, SubCommand, TimeUnitArg,
};
use keygate_client::{
    Api, ApiImportProperties, ApplicationDraft, BlockCondition, ClientError, Credentials, Endpoint,
    EndpointConfig, KeyType, LifecycleAction, LoginOutcome, Management, PolicyKind, Subscription,
};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Why a command failed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The server refused or could not be reached (exit 1).
    Server(String),
    /// The command line or a local file is wrong (exit 2).
    Usage(String),
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Setup(message) => Self::Usage(message),
            other => Self::Server(other.to_string()),
        }
    }
}

/// Runs a management command on its own small runtime.
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keygate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Server(message)) => {
            eprintln!("keygate: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("keygate: {message}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Login(args) => login(args).await,
        Command::Logout => logout().await,
        Command::Api {
            connection,
            command,
        } => api(&connection, command).await,
        Command::App {
            connection,
            command,
        } => app(&connection, command).await,
        Command::Sub {
            connection,
            command,
        } => sub(&connection, command).await,
        Command::Policy {
            connection,
            command,
        } => policy(&connection, command).await,
        Command::Deny {
            connection,
            command,
        } => deny(&connection, command).await,
        Command::Server(_)
        | Command::Config { .. }
        | Command::Migrate(_)
        | Command::Init { .. } => Err(Failure::Usage("not a management command".into())),
    }
}

async fn login(args: LoginArgs) -> Result<(), Failure> {
    let c = &args.connection;
    let server = c
        .server
        .clone()
        .ok_or_else(|| Failure::Usage("login needs --server URL (or KEYGATE_SERVER)".into()))?;
    let username = c
        .username
        .clone()
        .ok_or_else(|| Failure::Usage("login needs --username (or KEYGATE_USERNAME)".into()))?;
    let password = session::password(c)?;
    let trust = session::trust(c.insecure, c.ca.as_deref())?;
    let management = Management::new(&server, &trust, Credentials::Anonymous)?;
    let ca = match &c.ca {
        Some(file) => Some(
            std::fs::canonicalize(file)
                .map_err(|e| Failure::Usage(format!("--ca {}: {e}", file.display())))?,
        ),
        None => None,
    };
    let mut stored = Session {
        server: management.server().to_owned(),
        username: username.clone(),
        insecure: c.insecure,
        ca,
        oauth: None,
        password: None,
    };
    let how = match management.login(&username, &password).await? {
        LoginOutcome::OAuth { client, tokens } => {
            stored.oauth = Some(OAuthSession::new(client, tokens));
            "OAuth token"
        }
        LoginOutcome::Basic => {
            stored.password = Some(password);
            "Basic credentials (the server offers no OAuth client registration to this user)"
        }
    };
    session::save(&stored)?;
    output::done(
        c.output,
        &format!("logged in to {} as {username} ({how})", stored.server),
        json!({"server": stored.server, "username": username, "oauth": stored.oauth.is_some()}),
    );
    Ok(())
}

async fn logout() -> Result<(), Failure> {
    let Some(stored) = session::load()? else {
        println!("not logged in");
        return Ok(());
    };
    if let Some(oauth) = &stored.oauth {
        let trust = session::trust(stored.insecure, stored.ca.as_deref())?;
        let management = Management::new(&stored.server, &trust, Credentials::Anonymous)?;
        // Best effort: the local login is forgotten even when the server is away.
        if let Err(e) = management
            .forget(&oauth.client, &oauth.tokens.access_token)
            .await
        {
            eprintln!("keygate: could not revoke the token at the server: {e}");
        }
    }
    session::remove()?;
    println!("logged out of {}", stored.server);
    Ok(())
}

fn api_rows(apis: &[Api]) -> Vec<Vec<String>> {
    apis.iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.name.clone(),
                a.version.clone(),
                a.context.clone(),
                a.life_cycle_status.clone(),
            ]
        })
        .collect()
}

const API_HEADERS: &[&str] = &["ID", "NAME", "VERSION", "CONTEXT", "STATUS"];

async fn api(c: &ConnectionArgs, command: ApiCommand) -> Result<(), Failure> {
    if let ApiCommand::Create { openapi, .. } = &command {
        // Read the file before asking for credentials: a bad file is a usage error.
        std::fs::metadata(openapi)
            .map_err(|e| Failure::Usage(format!("--openapi {}: {e}", openapi.display())))?;
    }
    let m = session::connect(c).await?;
    let lifecycle = |action| (action, true);
    let (reference, action) = match command {
        ApiCommand::Create {
            openapi,
            name,
            context,
            api_version,
            backend,
            sandbox,
            tiers,
            publish,
        } => {
            let text = std::fs::read_to_string(&openapi)
                .map_err(|e| Failure::Usage(format!("--openapi {}: {e}", openapi.display())))?;
            let endpoint_config =
                (backend.is_some() || sandbox.is_some()).then(|| EndpointConfig {
                    production_endpoints: backend.map(|url| Endpoint { url }),
                    sandbox_endpoints: sandbox.map(|url| Endpoint { url }),
                });
            let properties = ApiImportProperties {
                name,
                context,
                version: api_version,
                endpoint_config,
                policies: tiers,
            };
            let mut created = m.import_openapi(&text, &properties).await?;
            if publish {
                m.change_lifecycle(&created.id, LifecycleAction::Publish)
                    .await?;
                created = m.api(&created.id).await?;
            }
            print(c.output, &created, API_HEADERS, || {
                api_rows(std::slice::from_ref(&created))
            });
            return Ok(());
        }
        ApiCommand::List { status } => {
            let apis = m.apis(status.as_deref()).await?;
            print(c.output, &apis, API_HEADERS, || api_rows(&apis));
            return Ok(());
        }
        ApiCommand::Get { api } => {
            let found = m.find_api(&api).await?;
            print(c.output, &found, API_HEADERS, || {
                api_rows(std::slice::from_ref(&found))
            });
            return Ok(());
        }
        ApiCommand::Delete { api } => {
            let found = m.find_api(&api).await?;
            m.delete_api(&found.id).await?;
            output::done(
                c.output,
                &format!("deleted API {} {}", found.name, found.version),
                json!({"deleted": found.id}),
            );
            return Ok(());
        }
        ApiCommand::Publish { api } => (api, lifecycle(LifecycleAction::Publish)),
        ApiCommand::Deprecate { api } => (api, lifecycle(LifecycleAction::Deprecate)),
        ApiCommand::Retire { api } => (api, lifecycle(LifecycleAction::Retire)),
        ApiCommand::Block { api } => (api, lifecycle(LifecycleAction::Block)),
    };
    let (mut action, _) = action;
    let found = m.find_api(&reference).await?;
    if action == LifecycleAction::Publish && found.life_cycle_status == "BLOCKED" {
        action = LifecycleAction::RePublish;
    }
    let state = m.change_lifecycle(&found.id, action).await?;
    let now = state
        .pointer("/lifecycleState/state")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    output::done(
        c.output,
        &format!(
            "{} {} {}: {} → {now}",
            action.as_str(),
            found.name,
            found.version,
            found.life_cycle_status
        ),
        state,
    );
    Ok(())
}

fn key_type(arg: KeyTypeArg) -> KeyType {
    match arg {
        KeyTypeArg::Production => KeyType::Production,
        KeyTypeArg::Sandbox => KeyType::Sandbox,
    }
}

async fn app(c: &ConnectionArgs, command: AppCommand) -> Result<(), Failure> {
    let m = session::connect(c).await?;
    const HEADERS: &[&str] = &["ID", "NAME", "OWNER", "POLICY", "TOKEN TYPE"];
    let row = |a: &keygate_client::Application| {
        vec![
            a.application_id.clone(),
            a.name.clone(),
            a.owner.clone().unwrap_or_default(),
            a.throttling_policy.clone().unwrap_or_default(),
            a.token_type.clone().unwrap_or_default(),
        ]
    };
    match command {
        AppCommand::Create {
            name,
            policy,
            token_type,
            description,
        } => {
            let draft = ApplicationDraft {
                name,
                throttling_policy: policy,
                token_type: token_type.map(|t| match t {
                    super::TokenTypeArg::Jwt => "JWT".to_owned(),
                    super::TokenTypeArg::Oauth => "OAUTH".to_owned(),
                }),
                description,
            };
            let created = m.create_application(&draft).await?;
            print(c.output, &created, HEADERS, || vec![row(&created)]);
        }
        AppCommand::List => {
            let apps = m.applications().await?;
            print(c.output, &apps, HEADERS, || apps.iter().map(row).collect());
        }
        AppCommand::Get { app } => {
            let found = m.find_application(&app).await?;
            let keys = m.application_keys(&found.application_id).await?;
            let value = json!({"application": found, "keys": keys});
            print(c.output, &value, HEADERS, || vec![row(&found)]);
            if c.output == OutputFormat::Table && !keys.is_empty() {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.key_type.clone(),
                            k.consumer_key.clone(),
                            k.key_state.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "\n{}",
                    output::table(&["KEY TYPE", "CONSUMER KEY", "STATE"], &rows)
                );
            }
        }
        AppCommand::Delete { app } => {
            let found = m.find_application(&app).await?;
            m.delete_application(&found.application_id).await?;
            output::done(
                c.output,
                &format!("deleted application {}", found.name),
                json!({"deleted": found.application_id}),
            );
        }
        AppCommand::Keys {
            command:
                KeysCommand::Generate {
                    app,
                    key_type: kt,
                    grant_types,
                },
        } => {
            let found = m.find_application(&app).await?;
            let keys = m
                .generate_keys(&found.application_id, key_type(kt), &grant_types)
                .await?;
            match c.output {
                OutputFormat::Json => print(c.output, &keys, &[], Vec::new),
                OutputFormat::Table => {
                    println!("{} keys of {}", keys.key_type, found.name);
                    println!("consumer key:    {}", keys.consumer_key);
                    println!(
                        "consumer secret: {}",
                        keys.consumer_secret.as_deref().unwrap_or("(not returned)")
                    );
                    println!("The consumer secret is shown only now: keep it.");
                }
            }
        }
        AppCommand::Token {
            app,
            key_type: kt,
            scopes,
            consumer_secret_stdin,
        } => {
            let secret = if consumer_secret_stdin {
                session::read_stdin_line("consumer secret")?
            } else {
                std::env::var("KEYGATE_CONSUMER_SECRET").ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                    Failure::Usage("the consumer secret is needed: --consumer-secret-stdin or KEYGATE_CONSUMER_SECRET".into())
                })?
            };
            let found = m.find_application(&app).await?;
            let token = m
                .application_token(&found.application_id, key_type(kt), &secret, &scopes)
                .await?;
            match c.output {
                OutputFormat::Json => print(c.output, &token, &[], Vec::new),
                OutputFormat::Table => println!("{}", token.access_token),
            }
        }
    }
    Ok(())
}

fn sub_rows(subs: &[Subscription]) -> Vec<Vec<String>> {
    subs.iter()
        .map(|s| {
            vec![
                s.subscription_id.clone(),
                s.application_id.clone(),
                s.api_id.clone(),
                s.throttling_policy.clone(),
                s.status.clone(),
            ]
        })
        .collect()
}

const SUB_HEADERS: &[&str] = &["ID", "APPLICATION", "API", "TIER", "STATUS"];

async fn sub(c: &ConnectionArgs, command: SubCommand) -> Result<(), Failure> {
    let m = session::connect(c).await?;
    match command {
        SubCommand::Create { app, api, tier } => {
            let application = m.find_application(&app).await?;
            // The Developer Portal lists the APIs the caller may subscribe to; an argument
            // it does not list is taken as an id, for the server to judge.
            let api_id = match m.find_portal_api(&api).await {
                Ok(found) => found.id,
                Err(ClientError::NotFound(_)) => api,
                Err(e) => return Err(e.into()),
            };
            let created = m
                .subscribe(&application.application_id, &api_id, &tier)
                .await?;
            print(c.output, &created, SUB_HEADERS, || {
                sub_rows(std::slice::from_ref(&created))
            });
        }
        SubCommand::List { app, api } => {
            let subs = match (app, api) {
                (_, Some(api)) => {
                    let api = m.find_api(&api).await?;
                    m.api_subscriptions(Some(&api.id)).await?
                }
                (Some(app), None) => {
                    let application = m.find_application(&app).await?;
                    m.subscriptions(Some(&application.application_id)).await?
                }
                (None, None) => m.subscriptions(None).await?,
            };
            print(c.output, &subs, SUB_HEADERS, || sub_rows(&subs));
        }
        SubCommand::Block {
            id,
            production_only,
        } => {
            let state = if production_only {
                "PROD_ONLY_BLOCKED"
            } else {
                "BLOCKED"
            };
            m.block_subscription(&id, state).await?;
            output::done(
                c.output,
                &format!("subscription {id}: {state}"),
                json!({"subscriptionId": id, "status": state}),
            );
        }
        SubCommand::Unblock { id } => {
            m.unblock_subscription(&id).await?;
            output::done(
                c.output,
                &format!("subscription {id}: UNBLOCKED"),
                json!({"subscriptionId": id, "status": "UNBLOCKED"}),
            );
        }
        SubCommand::Delete { id } => {
            m.unsubscribe(&id).await?;
            output::done(
                c.output,
                &format!("deleted subscription {id}"),
                json!({"deleted": id}),
            );
        }
    }
    Ok(())
}

fn policy_kind(arg: PolicyKindArg) -> PolicyKind {
    match arg {
        PolicyKindArg::Subscription => PolicyKind::Subscription,
        PolicyKindArg::Application => PolicyKind::Application,
        PolicyKindArg::Advanced => PolicyKind::Advanced,
    }
}

fn time_unit(arg: TimeUnitArg) -> &'static str {
    match arg {
        TimeUnitArg::Sec => "sec",
        TimeUnitArg::Min => "min",
        TimeUnitArg::Hour => "hour",
        TimeUnitArg::Day => "day",
        TimeUnitArg::Month => "month",
        TimeUnitArg::Year => "year",
    }
}

/// A policy's limit, as the table shows it (`5000/1min`).
fn limit_text(policy: &Value) -> String {
    let limit = policy.get("defaultLimit");
    let count = limit.and_then(|l| l.get("requestCount"));
    let bandwidth = limit.and_then(|l| l.get("bandwidth"));
    let text = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key))
            .map(|x| x.to_string().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    if count.is_some() {
        format!(
            "{} req/{}{}",
            text(count, "requestCount"),
            text(count, "unitTime"),
            text(count, "timeUnit")
        )
    } else if bandwidth.is_some() {
        format!(
            "{}{}/{}{}",
            text(bandwidth, "dataAmount"),
            text(bandwidth, "dataUnit"),
            text(bandwidth, "unitTime"),
            text(bandwidth, "timeUnit")
        )
    } else {
        String::new()
    }
}

async fn policy(c: &ConnectionArgs, command: PolicyCommand) -> Result<(), Failure> {
    if let PolicyCommand::Create {
        file: Some(file), ..
    } = &command
    {
        std::fs::metadata(file)
            .map_err(|e| Failure::Usage(format!("--file {}: {e}", file.display())))?;
    }
    let m = session::connect(c).await?;
    const HEADERS: &[&str] = &["ID", "NAME", "LIMIT"];
    let row = |p: &Value| {
        let s = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        vec![s("policyId"), s("policyName"), limit_text(p)]
    };
    match command {
        PolicyCommand::List { kind } => {
            let policies = m.policies(policy_kind(kind)).await?;
            print(c.output, &policies, HEADERS, || {
                policies.iter().map(row).collect()
            });
        }
        PolicyCommand::Create {
            kind,
            name,
            requests,
            per,
            unit_time,
            description,
            file,
        } => {
            let body = match file {
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| Failure::Usage(format!("--file {}: {e}", file.display())))?;
                    serde_json::from_str(&text).map_err(|e| {
                        Failure::Usage(format!("--file {}: not JSON: {e}", file.display()))
                    })?
                }
                None => {
                    let mut body = json!({
                        "policyName": name.unwrap_or_default(),
                        "defaultLimit": {"type": "REQUESTCOUNTLIMIT", "requestCount": {
                            "requestCount": requests.unwrap_or_default(),
                            "timeUnit": time_unit(per),
                            "unitTime": unit_time,
                        }},
                    });
                    if let Some(description) = description {
                        body["description"] = json!(description);
                    }
                    body
                }
            };
            let created = m.create_policy(policy_kind(kind), &body).await?;
            print(c.output, &created, HEADERS, || vec![row(&created)]);
        }
        PolicyCommand::Delete { kind, policy } => {
            let kind = policy_kind(kind);
            let found = m.find_policy(kind, &policy).await?;
            let id = found
                .get("policyId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            m.delete_policy(kind, &id).await?;
            output::done(
                c.output,
                &format!("deleted {} policy {policy}", kind.as_str()),
                json!({"deleted": id}),
            );
        }
    }
    Ok(())
}

async fn deny(c: &ConnectionArgs, command: DenyCommand) -> Result<(), Failure> {
    let m = session::connect(c).await?;
    const HEADERS: &[&str] = &["ID", "TYPE", "VALUE", "ENABLED"];
    let row = |d: &BlockCondition| {
        let value = match &d.condition_value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vec![
            d.condition_id.clone(),
            d.condition_type.clone(),
            value,
            d.condition_status.to_string(),
        ]
    };
    match command {
        DenyCommand::List => {
            let list = m.deny_conditions().await?;
            print(c.output, &list, HEADERS, || list.iter().map(row).collect());
        }
        DenyCommand::Create {
            condition_type,
            value,
            start,
            end,
            invert,
        } => {
            let condition_value = match (value, start, end) {
                (Some(value), _, _) => json!(value),
                (None, Some(start), Some(end)) => {
                    json!({"startingIp": start, "endingIp": end, "invert": invert})
                }
                _ => {
                    return Err(Failure::Usage(
                        "--value, or --start with --end, is required".into(),
                    ));
                }
            };
            let condition_type = match condition_type {
                DenyTypeArg::Api => "API",
                DenyTypeArg::Application => "APPLICATION",
                DenyTypeArg::Ip => "IP",
                DenyTypeArg::Iprange => "IPRANGE",
                DenyTypeArg::User => "USER",
            };
            let created = m
                .create_deny_condition(&BlockCondition {
                    condition_id: String::new(),
                    condition_type: condition_type.to_owned(),
                    condition_value,
                    condition_status: true,
                })
                .await?;
            print(c.output, &created, HEADERS, || vec![row(&created)]);
        }
        DenyCommand::Delete { id } => {
            m.delete_deny_condition(&id).await?;
            output::done(
                c.output,
                &format!("deleted blocking condition {id}"),
                json!({"deleted": id}),
            );
        }
    }
    Ok(())
}
