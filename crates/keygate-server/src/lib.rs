//! Composition of keygate's roles into one running node: storage opened and migrated, the
//! super admin ensured, TLS from the user's keystore or a self-signed certificate, one
//! listener per role and port (with `[server] offset`), health and metrics on every
//! listener, and a graceful shutdown that stops accepting, drains and returns.
//!
//! Roles never import each other; they meet here and on the wire (DESIGN §8).

#![forbid(unsafe_code)]

mod bootstrap;
mod cache_sync;
mod control;
mod error;
mod gateway;
mod handshake;
mod health;
mod listener;
mod metrics;
mod node;
pub mod telemetry;
pub mod tls;
mod traffic;

pub use bootstrap::{AdminBootstrap, store_options};
pub use error::ServerError;
pub use gateway::{GATEWAY_CERTIFICATE_ALIAS, REQUEST_EVENTS_TYPE};
pub use handshake::{NodeFailure, compatibility};
pub use listener::{ListenerKind, ListenerPlan};
pub use node::{BoundListener, RunningNode, ServerOptions, migrate, start};
