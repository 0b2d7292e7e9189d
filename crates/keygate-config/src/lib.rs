//! keygate's `deployment.toml`: the file WSO2 API Manager users already have, read as
//! written and turned once into typed settings.

#![forbid(unsafe_code)]

mod de;
pub mod defaults;
mod diagnostic;
mod document;
mod placeholder;

pub use diagnostic::{Diagnostic, Report, Severity};
pub use placeholder::EnvLookup;
mod duration;
mod file;
mod jdbc;
