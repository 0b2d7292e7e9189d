//! The version handshake with the real binary: a gateway node pointed at a key manager
//! refuses to start, exiting non-zero with a message naming both versions, when the key
//! manager speaks another protocol or is not keygate (a WSO2 Identity Server 5.x key
//! manager has no version endpoint and answers 404); it waits while the key manager is
//! unreachable, and starts against a compatible one. The far side is a small HTTP server
//! in the test that answers as each of those key managers would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod piped;

use piped::{Piped, free_offset, keygate_server};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

const VERSION_PATH: &str = "/services/keymanager-operations/v1/version";

/// How a pretend key manager answers the version request.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    headers: &'static str,
    body: String,
}

/// Serves `answer` on `listener` for the version path, 404 for every other path, until
/// the test ends.
fn pretend_key_manager(listener: TcpListener, answer: Answer) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let answer = answer.clone();
            thread::spawn(move || respond(stream, &answer));
        }
    });
}

fn respond(mut stream: TcpStream, answer: &Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("");
    let (status, headers, body) = if path == VERSION_PATH {
        (answer.status, answer.headers, answer.body.as_str())
    } else {
        ("404 Not Found", answer.headers, "{}")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{headers}\r\n{body}",
        body.len()
    );
}

fn keygate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// A gateway node's configuration, its key manager at `service_url`.
fn write_config(dir: &Path, service_url: &str) -> std::path::PathBuf {
    let file = dir.join("deployment.toml");
    std::fs::write(
        &file,
        format!(
            r#"[server]
hostname = "localhost"
roles = ["gateway"]
data_dir = "{data}"

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[apim.key_manager]
service_url = "{service_url}"
username = "admin"
password = "admin"
"#,
            data = dir.join("data").display()
        ),
    )
    .unwrap();
    file
}

/// `keygate server` on `config`, at a free port offset, logging at info.
fn start(config: &Path) -> Piped {
    let mut command = keygate_server(config);
    command
        .arg("--port-offset")
        .arg(free_offset().to_string())
        .env("RUST_LOG", "info");
    Piped::spawn("keygate server", command)
}

fn start_against(answer: Answer) -> (tempfile::TempDir, Piped) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    pretend_key_manager(listener, answer);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("http://127.0.0.1:{port}/services/"));
    let server = start(&config);
    (dir, server)
}

#[test]
fn a_key_manager_of_another_protocol_version_stops_the_node_naming_both_versions() {
    let (dir, server) = start_against(Answer {
        status: "200 OK",
        headers: "",
        body: r#"{"product":"keygate","version":"9.0.0","protocol":9,"oldest_protocol":9}"#
            .to_owned(),
    });
    let (status, logs) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "exit status {status}; logs:\n{logs}");
    // Refused before anything was written: no database was created or migrated.
    for database in ["apim.db", "shared.db"] {
        let file = dir.path().join("data").join(database);
        assert!(
            !file.exists(),
            "{} exists after a refused start",
            file.display()
        );
    }
    assert!(logs.contains("incompatible key manager"), "logs:\n{logs}");
    assert!(
        logs.contains("keygate 9.0.0 (protocol 9)"),
        "the key manager's version: {logs}"
    );
    assert!(
        logs.contains(&format!("keygate {} (protocol 1)", keygate_version())),
        "this node's version: {logs}"
    );
    assert!(logs.contains("upgrade this node"), "{logs}");
    assert!(logs.contains("Product compatibility"), "{logs}");
}

#[test]
fn a_wso2_identity_server_5_key_manager_answering_404_stops_the_node() {
    let (_dir, server) = start_against(Answer {
        status: "404 Not Found",
        headers: "server: WSO2 Carbon Server\r\n",
        body: "{}".to_owned(),
    });
    let (status, logs) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "exit status {status}; logs:\n{logs}");
    assert!(logs.contains("no version endpoint (404)"), "{logs}");
    assert!(logs.contains("`WSO2 Carbon Server`"), "{logs}");
    assert!(logs.contains("WSO2 Identity Server 5.x"), "{logs}");
    assert!(
        logs.contains(&format!("keygate {} (protocol 1)", keygate_version())),
        "{logs}"
    );
}

#[test]
fn the_node_waits_for_an_unreachable_key_manager_then_refuses_an_incompatible_one() {
    // A port with nobody on it yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("http://127.0.0.1:{port}/services/"));
    let mut server = start(&config);
    let line = server.wait_for_log("key manager not reachable", Duration::from_secs(60));
    assert!(line.contains("asking again"), "{line}");
    assert!(server.running(), "the node keeps waiting");

    // The key manager comes up, of an older protocol.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    pretend_key_manager(
        listener,
        Answer {
            status: "200 OK",
            headers: "",
            body: r#"{"product":"keygate","version":"0.0.1","protocol":0}"#.to_owned(),
        },
    );
    let (status, logs) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "exit status {status}; logs:\n{logs}");
    assert!(logs.contains("keygate 0.0.1 (protocol 0)"), "{logs}");
    assert!(logs.contains("upgrade the key manager"), "{logs}");
}

#[test]
fn a_compatible_key_manager_lets_the_node_start() {
    let (_dir, mut server) = start_against(Answer {
        status: "200 OK",
        headers: "",
        body: format!(
            r#"{{"product":"keygate","version":"{}","protocol":1,"oldest_protocol":1}}"#,
            keygate_version()
        ),
    });
    server.wait_for_stdout("ready in", Duration::from_secs(60));
    server.wait_for_log(": compatible", Duration::from_secs(5));
}
