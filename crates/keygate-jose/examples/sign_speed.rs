//! How many compact JWS a key signs per second on one thread, to set keygate's token
//! throughput beside `openssl speed rsa2048` (bench/README.md). Run pinned to one core:
//! `taskset -c 1 cargo run --release -p keygate-jose --example sign_speed [seconds]`.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use keygate_jose::SigningKey;
use rustls_pki_types::PrivatePkcs8KeyDer;
use std::time::{Duration, Instant};

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
    let run = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut signed = 0u64;
    while start.elapsed() < run {
        key.sign_compact(header, payload)?;
        signed += 1;
    }
    let per_second = signed as f64 / start.elapsed().as_secs_f64();
    println!("RS256 (RSA 2048) compact JWS: {per_second:.0} signs/s on one thread");
    Ok(())
}
