//! The `keygate` binary as a user runs it: `config check` on the example files and on
//! broken ones, `migrate`, and `server` started with no configuration, then stopped by
//! SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn keygate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keygate"));
    command
        .env_remove("KEYGATE_CONFIG")
        .env_remove("KEYGATE_ROLES");
    command
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keygate-config/tests/fixtures")
}

fn check(file: &Path) -> (bool, String) {
    let output = keygate()
        .args(["config", "check"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn config_check_accepts_the_seed_files_without_warnings() {
    for name in [
        "seed-key-manager.toml",
        "seed-api-manager.toml",
        "seed-key-manager-ha-tm.toml",
    ] {
        let (ok, text) = check(&fixtures().join(name));
        assert!(ok, "{name} rejected:\n{text}");
        assert!(text.contains("OK (0 warnings)"), "{name}:\n{text}");
    }
}

#[test]
fn config_check_accepts_the_shipped_examples_without_warnings() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let (ok, text) = check(&path);
            assert!(ok, "{} rejected:\n{text}", path.display());
            assert!(
                text.contains("OK (0 warnings)"),
                "{}:\n{text}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} examples found");
}

#[test]
fn init_writes_a_file_that_checks_clean_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deployment.toml");
    let first = keygate()
        .args(["init", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(first.status.success());
    let (ok, text) = check(&file);
    assert!(ok && text.contains("OK (0 warnings)"), "{text}");
    let again = keygate()
        .args(["init", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn config_check_accepts_a_real_wso2_file_with_warnings_only() {
    let (ok, text) = check(&fixtures().join("wso2-style-api-manager.toml"));
    assert!(ok, "rejected:\n{text}");
    assert!(text.contains("warning"), "expected warnings:\n{text}");
    assert!(!text.contains("error:"), "{text}");
}

#[test]
fn config_check_reports_every_error_with_its_key_path_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deployment.toml");
    std::fs::write(
        &file,
        "[server]\nhostnme = \"x\"\n\n[database.apim_db]\ntype = \"oracle\"\nurl = \"jdbc:mysql://h:3306/apim_db\"\npassword = \"Sup3r-Secret-Value\"\n",
    )
    .unwrap();
    let (ok, text) = check(&file);
    assert!(!ok, "a broken file passed:\n{text}");
    assert!(text.contains("server.hostnme"), "{text}");
    assert!(text.contains("hostname"), "no suggestion:\n{text}");
    assert!(text.contains("database.apim_db.type"), "{text}");
    assert!(
        !text.contains("Sup3r-Secret-Value"),
        "secret leaked:\n{text}"
    );
}

#[test]
fn config_check_of_a_missing_file_fails_cleanly() {
    let (ok, text) = check(Path::new("/nonexistent/deployment.toml"));
    assert!(!ok);
    assert!(text.contains("/nonexistent/deployment.toml"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn migrate_applies_the_schema_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = keygate()
            .arg("migrate")
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(dir.path().join("apim.db").exists());
    assert!(dir.path().join("shared.db").exists());
}

#[test]
fn an_unreachable_database_is_one_clear_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deployment.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{}\"\n\n[database.apim_db]\ntype = \"postgre\"\nurl = \"jdbc:postgresql://127.0.0.1:1/apim_db\"\nusername = \"apimadmin\"\npassword = \"Pg-Secret-Value\"\n\n[database.apim_db.pool_options]\nmaxWait = \"2s\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let output = keygate()
        .args(["migrate", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("Pg-Secret-Value"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Reads the server's stdout on a thread, line by line.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A port offset whose management and gateway ports are all free right now, so the test
/// runs beside anything else on this machine (a developer's own keygate on 9443, say).
fn free_offset() -> u16 {
    let base = 20_000 + (std::process::id() % 20_000) as u16;
    (0..200)
        .map(|step| base + step * 7)
        .find(|offset| {
            [9443u16, 8243, 8280]
                .iter()
                .all(|port| std::net::TcpListener::bind(("0.0.0.0", port + offset)).is_ok())
        })
        .expect("a free port offset")
}

#[test]
fn server_with_no_config_starts_prints_once_and_stops_on_sigterm() {
    let cwd = tempfile::tempdir().unwrap();
    let offset = free_offset();
    let mut printed = Vec::new();
    for run in 0..2 {
        // The second run logs JSON lines.
        let format = if run == 0 { "human" } else { "json" };
        let mut child = keygate()
            .args(["server", "--log-format", format, "--port-offset"])
            .arg(offset.to_string())
            .current_dir(cwd.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        while !out.iter().any(|l: &String| l.contains("TLS certificate")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let mut logs = String::new();
                    let _ =
                        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs);
                    panic!("run {run}: server not ready; printed {out:?}; logs:\n{logs}");
                }
            }
        }
        // Everything printed after the ready banner arrives right away.
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            out.push(line);
        }
        sigterm(child.id());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "run {run}: no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "run {run}: exit status {status}");
        let mut logs = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
        if run == 1 {
            let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!(!lines.is_empty(), "no log lines");
            for line in lines {
                let parsed: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
                assert!(parsed.get("level").is_some(), "{line}");
            }
        }
        printed.push(out.join("\n"));
    }
    assert!(printed[0].contains("ready in"), "{}", printed[0]);
    let management = format!("https://localhost:{}/", 9443 + offset);
    let gateway = format!("http://localhost:{}/", 8280 + offset);
    assert!(printed[0].contains(&management), "{}", printed[0]);
    assert!(printed[0].contains(&gateway), "{}", printed[0]);
    assert!(printed[0].contains("password"), "{}", printed[0]);
    assert!(
        !printed[1].contains("password"),
        "printed twice:\n{}",
        printed[1]
    );
    assert!(cwd.path().join("data/apim.db").exists());
    assert!(cwd.path().join("data/shared.db").exists());
}
