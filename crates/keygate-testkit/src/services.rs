//! Services a test may need, and what happens when one is not there.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Whether tests must fail, rather than skip, when a service is unreachable.
pub fn require_services() -> bool {
    std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A service a test needs, with the address it is expected at.
#[derive(Debug, Clone, Copy)]
pub struct ServiceAddr {
    pub name: &'static str,
    pub addr: &'static str,
}

impl ServiceAddr {
    pub const POSTGRES: Self = Self {
        name: "PostgreSQL",
        addr: "127.0.0.1:5432",
    };
    pub const MARIADB: Self = Self {
        name: "MariaDB",
        addr: "127.0.0.1:3306",
    };
    pub const RABBITMQ: Self = Self {
        name: "RabbitMQ",
        addr: "127.0.0.1:5672",
    };
    pub const NATS: Self = Self {
        name: "NATS",
        addr: "127.0.0.1:4222",
    };

    /// Whether something accepts TCP connections at the address.
    pub fn reachable(&self) -> bool {
        self.addr
            .parse::<SocketAddr>()
            .ok()
            .and_then(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
            .is_some()
    }

    /// `true` when the service answers. Otherwise prints the SKIPPED line and returns
    /// `false`, or panics when services are required.
    pub fn available_or_skip(&self, test: &str) -> bool {
        if self.reachable() {
            return true;
        }
        service_unavailable(self.name, self.addr, test);
        false
    }
}

/// Reports a missing service: a loud SKIPPED line, or a failure when services are
/// required.
#[allow(clippy::panic)]
pub fn service_unavailable(name: &str, addr: &str, test: &str) {
    if require_services() {
        panic!("{test}: {name} not reachable at {addr} and KEYGATE_TEST_REQUIRE_SERVICES=1");
    }
    eprintln!("\n*** SKIPPED: {test}: {name} not reachable at {addr} ***\n");
}
