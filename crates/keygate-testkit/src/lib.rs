//! Test support for keygate: real nodes started in-process on ephemeral ports with their
//! own data directories, an HTTP client that trusts their self-signed certificates, and the
//! rules for tests that need a service this machine may not run (PostgreSQL, MariaDB,
//! RabbitMQ, NATS): a loud `SKIPPED:` line, or a failure under
//! `KEYGATE_TEST_REQUIRE_SERVICES=1`; and a mock API backend that records what a gateway
//! sends it.

#![forbid(unsafe_code)]

mod backend;
mod node;
mod services;

pub use backend::{MockBackend, ReceivedRequest};
pub use node::{TestNode, client};
pub use services::{ServiceAddr, require_services, service_unavailable};
