//! HAProxy as the seed's step 7 load balancer in front of the two key managers: TCP mode
//! (TLS passes through to the nodes), health checks on `/health/ready` over TLS,
//! `retries` with `option redispatch` so a connection refused by a dead node goes to the
//! other; and its server states read from the stats socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// The configuration of a load balancer on `port` in front of `servers` (name, port).
pub fn config(port: u16, servers: &[(&str, u16)], stats_socket: &Path) -> String {
    let mut text = format!(
        "\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1

frontend key_manager
    bind :{port}
    default_backend key_managers

backend key_managers
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server check check-ssl verify none inter 500ms fastinter 200ms downinter 300ms fall 2 rise 2
",
        socket = stats_socket.display()
    );
    for (name, server_port) in servers {
        text.push_str(&format!("    server {name} 127.0.0.1:{server_port}\n"));
    }
    text
}

/// The stats socket of a running HAProxy.
#[derive(Debug, Clone)]
pub struct Stats {
    pub socket: PathBuf,
}

impl Stats {
    /// `(server, status)` of every server of the key managers' backend (`UP`, `DOWN`,
    /// `UP 1/2`, …); empty while the socket does not answer.
    pub fn server_states(&self) -> Vec<(String, String)> {
        let Ok(mut stream) = UnixStream::connect(&self.socket) else {
            return Vec::new();
        };
        if stream.write_all(b"show stat\n").is_err() {
            return Vec::new();
        }
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let mut lines = text.lines();
        let Some(header) = lines.next() else {
            return Vec::new();
        };
        let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
        let column = |name: &str| columns.iter().position(|c| *c == name);
        let (Some(px), Some(sv), Some(status)) =
            (column("pxname"), column("svname"), column("status"))
        else {
            return Vec::new();
        };
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|f| {
                f.get(px) == Some(&"key_managers")
                    && !matches!(f.get(sv), Some(&"BACKEND") | Some(&"FRONTEND"))
            })
            .filter_map(|f| Some((f.get(sv)?.to_string(), f.get(status)?.to_string())))
            .collect()
    }

    /// The status of one server.
    pub fn state(&self, server: &str) -> Option<String> {
        self.server_states()
            .into_iter()
            .find(|(name, _)| name == server)
            .map(|(_, status)| status)
    }
}
