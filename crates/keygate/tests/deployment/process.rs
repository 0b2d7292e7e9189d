//! One process of the deployment (a keygate node or HAProxy): started from its command
//! line in its own directory, its standard output and error appended to a log file,
//! stopped by SIGKILL or SIGTERM, restarted, and killed when dropped.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a process gets to exit after SIGTERM.
const TERM_WAIT: Duration = Duration::from_secs(20);
/// How long a node gets to answer `/health/ready`.
const READY_WAIT: Duration = Duration::from_secs(60);

/// A process of the deployment.
#[derive(Debug)]
pub struct Process {
    /// Its name in logs and messages (`km-a`, `apim`, `haproxy`).
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    log: PathBuf,
    /// `https://localhost:port/health/ready` for a keygate node.
    ready_url: Option<String>,
    child: Option<Child>,
}

impl Process {
    /// A process to run `program args` in `dir`, logging to `dir/<name>.log`.
    pub fn new(name: &str, program: &Path, args: &[&str], dir: &Path) -> Process {
        Process {
            name: name.to_owned(),
            program: program.to_path_buf(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            dir: dir.to_path_buf(),
            log: dir.join(format!("{name}.log")),
            ready_url: None,
            child: None,
        }
    }

    /// A keygate node: `keygate server --config deployment.toml --roles ROLES`, ready
    /// when its management listener at `management_port` answers `/health/ready`.
    pub fn keygate(name: &str, dir: &Path, roles: &str, management_port: u16) -> Process {
        let mut process = Process::new(
            name,
            Path::new(env!("CARGO_BIN_EXE_keygate")),
            &["server", "--config", "deployment.toml", "--roles", roles],
            dir,
        );
        process.ready_url = Some(format!("https://localhost:{management_port}/health/ready"));
        process
    }

    /// The directory it runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts it (its log file keeps what earlier runs wrote).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("{}: log file: {e}", self.name));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("{}: log file: {e}", self.name));
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .env_remove("KEYGATE_CONFIG")
            .env_remove("KEYGATE_ROLES")
            .env_remove("KEYGATE_DATA_DIR")
            .env_remove("KEYGATE_PORT_OFFSET")
            .env_remove("KEYGATE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: cannot start {}: {e}",
                    self.name,
                    self.program.display()
                )
            });
        self.child = Some(child);
    }

    /// Starts it and waits until it is ready.
    pub async fn start(&mut self) {
        self.spawn();
        self.wait_ready().await;
    }

    /// Waits until `/health/ready` answers 200 (a keygate node), failing with the log
    /// when the process exits first or takes too long.
    pub async fn wait_ready(&mut self) {
        let Some(url) = self.ready_url.clone() else {
            return;
        };
        let client = super::insecure_client();
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready at {url} after {READY_WAIT:?}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its exit status, when it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Whether it runs.
    pub fn running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// SIGKILL, and waits for the exit.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for the exit (SIGKILL after [`TERM_WAIT`]); answers the exit
    /// status.
    pub fn sigterm(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + TERM_WAIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then starts it again and waits until it is ready.
    pub async fn restart(&mut self) {
        if let Some(status) = self.sigterm() {
            assert!(
                status.success(),
                "{} exited {status} on SIGTERM:\n{}",
                self.name,
                self.log_text()
            );
        }
        self.start().await;
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Creates `path` with `text`.
pub fn write_file(path: &Path, text: &str) {
    let mut file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::Write::write_all(&mut file, text.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
