//! Fuzzes how the gateway reads a caller's token: `extract_token` over an arbitrary
//! credentials header (`Authorization` with its `Bearer` scheme, or a configured header
//! such as `apikey` that carries the bare token), then the JWT header and claims of what
//! it extracted, read as the authentication phase reads them before any signature check.
//! The first byte picks the header name; the rest is the header value.
//!
//! Invariants: an extracted token is a non-empty slice of the header value without
//! whitespace and within the JWT size limit; nothing panics.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use keygate_gateway::auth::extract_token;
use keygate_jose::jws::{MAX_TOKEN_LEN, peek_header};
use keygate_jose::jwt::Claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, value)) = data.split_first() else {
        return;
    };
    let name = if mode % 2 == 0 {
        AUTHORIZATION
    } else {
        HeaderName::from_static("apikey")
    };
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(name.clone(), value.clone());
    let Ok(token) = extract_token(&headers, &name) else {
        return;
    };
    assert!(!token.is_empty());
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert!(!token.contains(char::is_whitespace));
    let text = value.to_str().unwrap_or_default();
    assert!(text.contains(token));

    let _ = peek_header(token);
    let mut segments = token.split('.');
    if let (Some(_), Some(payload), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) && let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload)
    {
        let _ = serde_json::from_slice::<Claims>(&bytes);
    }
});
