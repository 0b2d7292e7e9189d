//! The seed's deployment as separate processes, started from configuration files alone:
//! the seed's databases made anew on MariaDB or PostgreSQL, two key manager nodes
//! (copies of the seed's key manager file at their own `[server] offset`, advertising
//! the load balancer's port as `[transport.https.properties] proxyPort`) behind
//! HAProxy on 9444 — the `[apim.key_manager] service_url` of the API-M node — and the
//! API-M node itself (control plane, gateway, traffic manager), plus a second traffic
//! manager for the high-availability variant (run 2: PostgreSQL + NATS, where that
//! traffic manager at offset 1 holds 9444 and HAProxy listens on 9450 instead).
//!
//! [`Deployment::builder`] names the stack and the offsets; [`DeploymentBuilder::start`]
//! writes every file into a temporary directory, starts every process, waits until each
//! answers `/health/ready` and HAProxy sees both key managers up, and answers `None`
//! (after a loud `SKIPPED:` line) when a service the run needs is missing. Every process
//! logs to a file in its own directory; the logs are printed when a test fails, and every
//! process is killed when the deployment is dropped.
//!
//! The seed's files use fixed ports, so deployments run one at a time ([`serial`]).

#![allow(dead_code, reason = "each scenario uses part of the harness")]

pub mod haproxy;
pub mod process;
pub mod services;
pub mod user;

pub use process::Process;
pub use services::Stack;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The load balancer's port in run 1: the API-M file's `service_url` (9443 + offset 1).
pub const LOAD_BALANCER_PORT: u16 = 9444;
/// The load balancer's port in run 2, where the second traffic manager at offset 1 holds
/// 9444 with its management listener: the key managers' `proxyPort` and the `service_url`
/// of run 2's API-M file.
pub const RUN2_LOAD_BALANCER_PORT: u16 = 9450;
/// The API-M node's offset (management 9443, gateway 8243/8280, traffic manager
/// 9611/9711).
pub const API_MANAGER_OFFSET: u16 = 0;
/// The key managers' default offsets: 9445 and 9446.
pub const KEY_MANAGER_OFFSETS: [u16; 2] = [2, 3];

const MANAGEMENT_BASE: u16 = 9443;
const GATEWAY_HTTPS_BASE: u16 = 8243;
const GATEWAY_HTTP_BASE: u16 = 8280;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the machine's fixed ports for one deployment at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A client that accepts the nodes' self-signed certificate (`curl -k`), without
/// connection reuse, so a request never rides a connection to a node that died.
pub fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The seed's configuration files, as the repository keeps them.
pub fn seed_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keygate-config/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with its `[server] offset` set to `offset` (added when the file has none).
pub fn with_offset(text: &str, offset: u16) -> String {
    let mut out = Vec::new();
    let mut in_server = false;
    let mut done = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_server && !done {
                out.push(format!("offset = {offset}"));
                done = true;
            }
            in_server = trimmed == "[server]";
        }
        if in_server && trimmed.starts_with("offset") && trimmed.contains('=') {
            out.push(format!("offset = {offset}"));
            done = true;
            continue;
        }
        out.push(line.to_owned());
    }
    assert!(done, "no [server] table to set the offset in");
    out.join("\n") + "\n"
}

/// A copy of the seed's key manager file for one node behind the load balancer: its own
/// `[server] offset`, and the load balancer's port as `[transport.https.properties]
/// proxyPort`, so both copies advertise (and issue tokens as) the address the API-M node
/// knows them by.
pub fn key_manager_copy(text: &str, offset: u16, load_balancer_port: u16) -> String {
    format!(
        "{}\n[transport.https.properties]\nproxyPort = {load_balancer_port}\n",
        with_offset(text, offset)
    )
}

/// The seed's API-M file for the PostgreSQL + NATS run: only its database and broker
/// lines changed, the key managers' `service_url` on the load balancer's
/// `load_balancer_port`, and the second traffic manager's url group added.
pub fn api_manager_for_postgres_nats(text: &str, load_balancer_port: u16) -> String {
    let service_url = "service_url = \"https://localhost:9444/services/\"";
    assert!(text.contains(service_url), "the seed's service_url moved");
    let replaced = text
        .replace(
            service_url,
            &format!("service_url = \"https://localhost:{load_balancer_port}/services/\""),
        )
        .replace("type = \"mysql\"", "type = \"postgre\"")
        .replace(
            "jdbc:mysql://localhost:3306/",
            "jdbc:postgresql://localhost:5432/",
        )
        .replace("tcp://localhost:5672", "nats://localhost:4222");
    let first_group = "traffic_manager_auth_urls=[\"ssl://localhost:9711\"]\n";
    assert!(replaced.contains(first_group), "the seed's url group moved");
    replaced.replacen(
        first_group,
        &format!(
            "{first_group}\n[[apim.throttling.url_group]]\ntraffic_manager_urls=[\"tcp://localhost:9612\"]\ntraffic_manager_auth_urls=[\"ssl://localhost:9712\"]\n"
        ),
        1,
    )
}

/// What to start.
#[derive(Debug, Clone)]
pub struct DeploymentBuilder {
    stack: Stack,
    key_manager_offsets: [u16; 2],
    second_traffic_manager_offset: Option<u16>,
    load_balancer_port: u16,
}

/// A running deployment; every process is killed when it is dropped.
pub struct Deployment {
    pub stack: Stack,
    /// Key managers A and B.
    pub key_managers: [Process; 2],
    /// Their management ports.
    pub key_manager_ports: [u16; 2],
    /// HAProxy on [`LOAD_BALANCER_PORT`] (run 1) or [`RUN2_LOAD_BALANCER_PORT`] (run 2).
    pub load_balancer: Process,
    /// The port HAProxy listens on.
    pub load_balancer_port: u16,
    pub load_balancer_stats: haproxy::Stats,
    /// The API-M node: control plane, gateway, traffic manager.
    pub api_manager: Process,
    /// The second traffic manager (PostgreSQL + NATS run).
    pub traffic_manager_2: Option<Process>,
    dir: tempfile::TempDir,
}

impl Deployment {
    /// A deployment on `stack`: run 1 (MariaDB + RabbitMQ) or run 2 (PostgreSQL + NATS,
    /// with the high-availability traffic manager pair).
    pub fn builder(stack: Stack) -> DeploymentBuilder {
        DeploymentBuilder {
            stack,
            key_manager_offsets: KEY_MANAGER_OFFSETS,
            second_traffic_manager_offset: (stack == Stack::PostgresNats).then_some(1),
            load_balancer_port: match stack {
                Stack::MariaDbRabbitMq => LOAD_BALANCER_PORT,
                Stack::PostgresNats => RUN2_LOAD_BALANCER_PORT,
            },
        }
    }

    /// `https://localhost:9443{path}`: the API-M node's management listener.
    pub fn management_url(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{path}",
            MANAGEMENT_BASE + API_MANAGER_OFFSET
        )
    }

    /// `https://localhost:9444{path}` (run 2: 9450): the load-balanced key managers.
    pub fn load_balancer_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.load_balancer_port)
    }

    /// `https://localhost:<port>{path}` on key manager `index` (0 = A, 1 = B) itself.
    pub fn key_manager_url(&self, index: usize, path: &str) -> String {
        format!("https://localhost:{}{path}", self.key_manager_ports[index])
    }

    /// `https://localhost:8243{path}`: the gateway over TLS.
    pub fn gateway_https_url(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{path}",
            GATEWAY_HTTPS_BASE + API_MANAGER_OFFSET
        )
    }

    /// `http://localhost:8280{path}`: the gateway in the clear.
    pub fn gateway_http_url(&self, path: &str) -> String {
        format!(
            "http://localhost:{}{path}",
            GATEWAY_HTTP_BASE + API_MANAGER_OFFSET
        )
    }

    /// The HAProxy server name of key manager `index`.
    pub fn key_manager_server(index: usize) -> &'static str {
        ["km-a", "km-b"][index]
    }

    /// Waits until HAProxy reports key manager `index` as `UP` (`up = true`) or `DOWN`.
    pub async fn wait_load_balancer(&self, index: usize, up: bool) {
        let server = Self::key_manager_server(index);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self.load_balancer_stats.state(server);
            let is_up = state.as_deref() == Some("UP");
            let is_down = state.as_deref().is_some_and(|s| s.starts_with("DOWN"));
            if (up && is_up) || (!up && is_down) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy: {server} still {state:?}, expected {}",
                if up { "UP" } else { "DOWN" }
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The directory everything runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn processes(&self) -> Vec<&Process> {
        let mut all: Vec<&Process> = self.key_managers.iter().collect();
        all.push(&self.load_balancer);
        all.push(&self.api_manager);
        all.extend(self.traffic_manager_2.iter());
        all
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for process in self.processes() {
                eprintln!(
                    "\n----- {} ({}) -----\n{}",
                    process.name,
                    process.dir().display(),
                    process.log_tail(150)
                );
            }
        }
    }
}

impl DeploymentBuilder {
    /// The key managers' `[server] offset`s.
    pub fn key_manager_offsets(mut self, a: u16, b: u16) -> Self {
        self.key_manager_offsets = [a, b];
        self
    }

    /// Runs a second traffic manager at `offset` (`None`: none).
    pub fn second_traffic_manager_offset(mut self, offset: Option<u16>) -> Self {
        self.second_traffic_manager_offset = offset;
        self
    }

    /// Starts everything; `None` (after the SKIPPED line) when a service is missing.
    ///
    /// Run 1 starts key manager A first: it makes the databases' schema, the super admin
    /// of its file, and the TLS certificate every node then shares (each node a copy of
    /// one installation, as the seed's step 7 copies the key manager). Run 2's key manager
    /// file has no `[super_admin]`, so a key manager started first would create the admin
    /// with a generated password and the API-M node's `admin`/`admin` would be refused:
    /// there the API-M node starts first (creating `admin`/`admin` in shared_db, serving
    /// after its key-manager version handshake's wait and asking again in the background),
    /// and the key managers find the admin already there.
    pub async fn start(self, test: &str) -> Option<Deployment> {
        if !self.stack.available_or_skip(test) {
            return None;
        }
        self.stack.recreate_databases().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let (key_manager_file, api_manager_file, api_manager_first) = match self.stack {
            Stack::MariaDbRabbitMq => (
                seed_file("seed-key-manager.toml"),
                seed_file("seed-api-manager.toml"),
                false,
            ),
            Stack::PostgresNats => (
                seed_file("seed-key-manager-ha-tm.toml"),
                api_manager_for_postgres_nats(
                    &seed_file("seed-api-manager.toml"),
                    self.load_balancer_port,
                ),
                true,
            ),
        };
        let node_dir = |name: &str, text: &str, tls: Option<&PathBuf>| -> PathBuf {
            let path = dir.path().join(name);
            std::fs::create_dir_all(&path).expect("node directory");
            process::write_file(&path.join("deployment.toml"), text);
            if let Some(tls) = tls {
                copy_dir(tls, &path.join("data/tls"));
            }
            path
        };
        let start_api_manager = |tls: Option<&PathBuf>| {
            let apim_dir = node_dir("apim", &api_manager_file, tls);
            let mut api_manager = Process::keygate(
                "apim",
                &apim_dir,
                "control-plane,gateway,traffic-manager",
                MANAGEMENT_BASE + API_MANAGER_OFFSET,
            );
            async move {
                api_manager.start().await;
                (api_manager, apim_dir.join("data/tls"))
            }
        };

        // The node started first makes the certificate every other node shares.
        let mut shared_tls: Option<PathBuf> = None;
        let mut api_manager = None;
        if api_manager_first {
            let (apim, tls) = start_api_manager(None).await;
            api_manager = Some(apim);
            shared_tls = Some(tls);
        }

        let names = ["km-a", "km-b"];
        let mut key_managers = Vec::new();
        let mut key_manager_ports = [0; 2];
        for (i, offset) in self.key_manager_offsets.iter().enumerate() {
            let km_dir = node_dir(
                names[i],
                &key_manager_copy(&key_manager_file, *offset, self.load_balancer_port),
                shared_tls.as_ref(),
            );
            key_manager_ports[i] = MANAGEMENT_BASE + offset;
            let mut km = Process::keygate(names[i], &km_dir, "key-manager", key_manager_ports[i]);
            km.start().await;
            shared_tls.get_or_insert_with(|| km_dir.join("data/tls"));
            key_managers.push(km);
        }
        let shared_tls = shared_tls.expect("the first node's certificate");
        let key_managers: [Process; 2] = key_managers.try_into().expect("two key managers");

        let lb_dir = dir.path().join("haproxy");
        std::fs::create_dir_all(&lb_dir).expect("haproxy directory");
        let socket = lb_dir.join("stats.sock");
        process::write_file(
            &lb_dir.join("haproxy.cfg"),
            &haproxy::config(
                self.load_balancer_port,
                &[
                    ("km-a", key_manager_ports[0]),
                    ("km-b", key_manager_ports[1]),
                ],
                &socket,
            ),
        );
        let mut load_balancer = Process::new(
            "haproxy",
            Path::new("haproxy"),
            &["-db", "-f", "haproxy.cfg"],
            &lb_dir,
        );
        load_balancer.spawn();
        let stats = haproxy::Stats { socket };
        wait_servers_up(&stats).await;

        // The second traffic manager: a copy of the API-M file at its own offset, running
        // the traffic manager role only.
        let mut traffic_manager_2 = None;
        if let Some(offset) = self.second_traffic_manager_offset {
            let tm_dir = node_dir(
                "tm2",
                &with_offset(&api_manager_file, offset),
                Some(&shared_tls),
            );
            let mut tm =
                Process::keygate("tm2", &tm_dir, "traffic-manager", MANAGEMENT_BASE + offset);
            tm.start().await;
            traffic_manager_2 = Some(tm);
        }

        let api_manager = match api_manager {
            Some(api_manager) => api_manager,
            None => start_api_manager(Some(&shared_tls)).await.0,
        };

        let deployment = Deployment {
            stack: self.stack,
            key_managers,
            key_manager_ports,
            load_balancer,
            load_balancer_port: self.load_balancer_port,
            load_balancer_stats: stats,
            api_manager,
            traffic_manager_2,
            dir,
        };
        Some(deployment)
    }
}

/// Waits until HAProxy reports both key managers up.
async fn wait_servers_up(stats: &haproxy::Stats) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states = stats.server_states();
        if states.len() == 2 && states.iter().all(|(_, s)| s == "UP") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy: key managers not up: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies a directory's files (one level, as `data/tls` is).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("target directory");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
    }
}
