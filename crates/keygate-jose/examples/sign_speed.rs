//! How many compact JWS a key signs per second of CPU time on one thread, to set keygate's
//! token throughput beside `openssl speed rsa2048` (which also counts CPU time, not wall
//! time, so a busy machine changes neither much). Run pinned to one core:
//! `taskset -c 1 cargo run --release -p keygate-jose --example sign_speed [seconds]`.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use keygate_jose::SigningKey;
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::time::{Duration, Instant};

/// CPU time this thread has used (Linux `schedstat`); wall time where that is missing.
fn cpu_time(wall: Instant) -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| wall.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3);
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
    let der = pair.as_der().map_err(|e| e.to_string())?;
    let key = SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(der.as_ref().to_vec()))?;
    let header = br#"{"alg":"RS256","typ":"at+jwt","kid":"bench"}"#;
    let payload = br#"{"iss":"https://localhost:9443/oauth2/token","sub":"admin","aud":"client","scope":"default"}"#;
    let wall = Instant::now();
    let start = cpu_time(wall);
    let run = Duration::from_secs(seconds);
    let mut signed = 0u32;
    while cpu_time(wall).saturating_sub(start) < run {
        for _ in 0..50 {
            key.sign_compact(header, payload)?;
        }
        signed += 50;
    }
    let used = cpu_time(wall).saturating_sub(start).as_secs_f64();
    let per_second = f64::from(signed) / used;
    println!("RS256 (RSA 2048) compact JWS: {per_second:.0} signs/s of CPU time on one thread");
    Ok(())
}
