//! Fuzzes the token endpoint's request reading: the first line of the input is an
//! `Authorization` header value, the second an `application/x-www-form-urlencoded` body,
//! and every further line one registered redirect URI (exact or WSO2 `regexp=`). The body
//! goes through [`Form::parse`], [`TokenRequest::from_form`],
//! [`ClientCredentials::from_request`] (with and without the header) and
//! [`ScopeSet::parse`]; the registrations through [`RegisteredRedirects::parse`], then
//! `matches` and `resolve` with the body's `redirect_uri` and with each line.
//!
//! Beyond not panicking: a parsed form re-encodes to a body that parses to the same form; a
//! parsed scope set prints to a parameter that parses to the same set; registrations that
//! parse one by one also parse together; an exact registration matches itself; and
//! `resolve` accepts exactly what `matches` accepts. Seeded by `corpus/oauth_form/`.

#![no_main]

use keygate_oauth::form::MAX_FORM_BYTES;
use keygate_oauth::redirect::RegisteredRedirect;
use keygate_oauth::{ClientCredentials, Form, RegisteredRedirects, ScopeSet, TokenRequest};
use libfuzzer_sys::fuzz_target;

/// Lines split on `\n`, with a trailing `\r` dropped as an HTTP header line would have it.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

fn check_form(form: &Form) {
    let encoded = form.encode();
    if encoded.len() <= MAX_FORM_BYTES && Form::parse(encoded.as_bytes()).as_ref() != Ok(form) {
        std::process::abort();
    }
}

fn check_scope(text: &str) {
    if let Ok(scopes) = ScopeSet::parse(text)
        && ScopeSet::parse(&scopes.to_string()).as_ref() != Ok(&scopes)
    {
        std::process::abort();
    }
}

fn check_redirects(candidates: &[String], requested: Option<&str>) {
    let accepted: Vec<&str> = candidates
        .iter()
        .map(String::as_str)
        .filter(|c| RegisteredRedirect::parse(c).is_ok())
        .collect();
    let _ = RegisteredRedirects::parse(candidates);
    let Ok(registered) = RegisteredRedirects::parse(&accepted) else {
        std::process::abort();
    };
    let probes = requested
        .into_iter()
        .chain(candidates.iter().map(String::as_str));
    for probe in probes {
        let matches = registered.matches(probe);
        if registered.resolve(Some(probe)).is_ok() != matches {
            std::process::abort();
        }
    }
    for entry in registered.entries() {
        if let RegisteredRedirect::Exact(uri) = entry
            && !registered.matches(uri)
        {
            std::process::abort();
        }
    }
    let _ = registered.resolve(None);
}

fuzz_target!(|data: &[u8]| {
    let mut lines = lines(data);
    let header = lines.next().map(String::from_utf8_lossy);
    let body = lines.next().unwrap_or_default();
    let candidates: Vec<String> = lines
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();

    check_scope(&String::from_utf8_lossy(body));
    let form = Form::parse(body);
    let requested = form.as_ref().ok().and_then(|f| f.get("redirect_uri"));
    check_redirects(&candidates, requested);
    let Ok(form) = form.as_ref() else {
        return;
    };
    check_form(form);
    if let Some(scope) = form.get("scope") {
        check_scope(scope);
    }
    for authorization in [header.as_deref(), None] {
        match ClientCredentials::from_request(authorization, form) {
            Ok(credentials) => {
                let _ = (credentials.client_id(), credentials.used_basic());
                let _ = (credentials.secret(), format!("{credentials:?}"));
            }
            Err(error) => {
                let _ = (error.to_json(), error.www_authenticate("keygate"));
            }
        }
    }
    match TokenRequest::from_form(form) {
        Ok(request) => {
            let _ = (
                request.grant_type(),
                request.scope().map(ScopeSet::to_string),
            );
            let _ = request.check_client_allowed(&[request.grant_type()], true);
        }
        Err(error) => {
            let _ = (error.to_string(), error.description().map(str::len));
        }
    }
});
