//! Fuzzes reading `deployment.toml`: TOML parsing, placeholder resolution (`$ref{}`,
//! `$env{}`, `${}`), typed assembly and diagnostics, on arbitrary bytes read as UTF-8
//! (lossily). Loading and checking must agree: a load that fails gives the same report as a
//! check, one that succeeds has the check's diagnostics as its warnings and no error, and
//! a refused file always names at least one error. Every report is also rendered, which
//! walks the line and column bookkeeping. Seeded by `corpus/config_load/`: copies of
//! `crates/keygate-config/tests/fixtures/` (the `broken/` ones prefixed `broken-`).

#![no_main]

use std::path::Path;

use keygate_config::{Diagnostic, check_str_with_env, load_str_with_env};
use libfuzzer_sys::fuzz_target;

/// The diagnostics as an order-free multiset, since problems on one line may be found in
/// any order.
fn sorted(diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut all: Vec<String> = diagnostics.iter().map(|d| format!("{d:?}")).collect();
    all.sort();
    all
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let origin = Path::new("fuzz.toml");
    let no_env = |_: &str| None;
    let loaded = load_str_with_env(&text, origin, &no_env);
    let checked = check_str_with_env(&text, origin, &no_env);
    let _ = checked.to_string();
    match loaded {
        Ok(loaded) => {
            if checked.has_errors() || sorted(&loaded.warnings) != sorted(&checked.diagnostics) {
                std::process::abort();
            }
            for warning in &loaded.warnings {
                let _ = warning.in_file(origin).to_string();
            }
        }
        Err(report) => {
            if !report.has_errors()
                || report.origin != checked.origin
                || sorted(&report.diagnostics) != sorted(&checked.diagnostics)
            {
                std::process::abort();
            }
            let _ = report.to_string();
        }
    }
});
