//! Domain types shared by every keygate crate: the things WSO2 API Manager users know
//! (APIs, applications, subscriptions, OAuth clients, tokens, policies) as plain data,
//! with serde and nothing else — no I/O, no async runtime, no SQL.

#![forbid(unsafe_code)]

pub mod secret;

pub use secret::Secret;
