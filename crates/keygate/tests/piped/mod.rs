//! A `keygate server` process whose standard output and error are read line by line:
//! started from a config file (on a port offset that is free), waited for by a line it
//! prints, or for its exit with what it logged; killed when dropped.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running `keygate server`.
pub struct Piped {
    name: String,
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

/// `keygate server --config CONFIG`, run in the config's directory.
pub fn keygate_server(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keygate"));
    command.args(["server", "--config"]).arg(config);
    if let Some(dir) = config.parent() {
        command.current_dir(dir);
    }
    command
}

fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; every line seen before it when none came.
fn wait_for(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
) -> Result<String, Vec<String>> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(line) => seen.push(line),
            Err(_) => return Err(seen),
        }
    }
}

impl Piped {
    /// Starts `command` with piped output; `name` names it in failures.
    pub fn spawn(name: &str, mut command: Command) -> Piped {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} not started: {e}"));
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Piped {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        }
    }

    /// Starts `command` and waits for the node's ready banner on standard output.
    pub fn start(name: &str, command: Command, within: Duration) -> Piped {
        let mut node = Piped::spawn(name, command);
        node.wait_for_stdout("ready in", within);
        node
    }

    /// Waits for a line of standard output containing `needle`; kills the node and fails
    /// with its logs when none comes in time.
    pub fn wait_for_stdout(&mut self, needle: &str, within: Duration) -> String {
        let found = wait_for(&self.stdout, needle, within);
        self.found_or_fail(found.map_err(|_| None), "stdout", needle)
    }

    /// Waits for a line of standard error (the log) containing `needle`; kills the node
    /// and fails with the lines seen when none comes in time.
    pub fn wait_for_log(&mut self, needle: &str, within: Duration) -> String {
        let found = wait_for(&self.stderr, needle, within);
        self.found_or_fail(found.map_err(Some), "the log", needle)
    }

    /// The line found, or a failure naming `needle` with the log lines seen (or, when
    /// `None`, whatever is left to read of the log).
    fn found_or_fail(
        &mut self,
        found: Result<String, Option<Vec<String>>>,
        stream: &str,
        needle: &str,
    ) -> String {
        match found {
            Ok(line) => line,
            Err(seen) => {
                let _ = self.child.kill();
                let logs = seen.map_or_else(
                    || self.logs(Duration::from_millis(500)),
                    |seen| seen.join("\n"),
                );
                panic!("{}: no {needle:?} on {stream}; logs:\n{logs}", self.name);
            }
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What it has logged, waiting up to `quiet` for each further line.
    fn logs(&self, quiet: Duration) -> String {
        let mut logs = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(quiet) {
            logs.push(line);
        }
        logs.join("\n")
    }

    /// Waits for it to exit on its own; its status and what it logged.
    pub fn exit(mut self, within: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{} still running after {within:?}; logs:\n{}",
                    self.name,
                    self.logs(Duration::from_millis(500))
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end with the pipes.
        let logs = self.logs(Duration::from_secs(5));
        (status, logs)
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT_OFFSET: AtomicU16 = AtomicU16::new(0);

/// A port offset whose management and gateway ports are free now, never one handed out
/// before in this process.
pub fn free_offset() -> u16 {
    let base = 21_000 + (std::process::id() % 19_000) as u16;
    loop {
        let step = NEXT_OFFSET.fetch_add(1, Ordering::Relaxed);
        assert!(step < 2_000, "no free port offset");
        let offset = base.wrapping_add(step.wrapping_mul(11)) % 40_000 + 1_000;
        if [9443u16, 8243, 8280]
            .iter()
            .all(|port| TcpListener::bind(("0.0.0.0", port + offset)).is_ok())
        {
            return offset;
        }
    }
}
