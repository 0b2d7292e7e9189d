//! Tests of PKCE: the RFC 7636 Appendix B vector, syntax, the authorization-endpoint policy
//! and token-endpoint verification including downgrades.

use super::*;
use proptest::prelude::*;

/// RFC 7636 Appendix B.
const APPENDIX_B_OCTETS: [u8; 32] = [
    116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
    105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
];
const APPENDIX_B_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const APPENDIX_B_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const PLAIN_VERIFIER: &str = "abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDEFG";

fn confidential() -> PkcePolicy {
    PkcePolicy::new(false, false, false)
}

#[test]
fn rfc7636_appendix_b() {
    assert_eq!(
        URL_SAFE_NO_PAD.encode(APPENDIX_B_OCTETS),
        APPENDIX_B_VERIFIER
    );
    assert!(is_valid_verifier(APPENDIX_B_VERIFIER));
    assert_eq!(s256_challenge(APPENDIX_B_VERIFIER), APPENDIX_B_CHALLENGE);
    assert_eq!(
        transform(PkceMethod::S256, APPENDIX_B_VERIFIER),
        APPENDIX_B_CHALLENGE
    );
    assert!(is_valid_challenge(PkceMethod::S256, APPENDIX_B_CHALLENGE));
    verify(
        Some(APPENDIX_B_CHALLENGE),
        Some(PkceMethod::S256),
        Some(APPENDIX_B_VERIFIER),
        false,
    )
    .unwrap();
}

#[test]
fn verifier_syntax() {
    assert!(is_valid_verifier(&"a".repeat(43)));
    assert!(is_valid_verifier(&"a".repeat(128)));
    assert!(!is_valid_verifier(&"a".repeat(42)));
    assert!(!is_valid_verifier(&"a".repeat(129)));
    assert!(is_valid_verifier(PLAIN_VERIFIER));
    for bad in ['+', '/', '=', ' ', '%', '\u{e9}'] {
        let v = format!("{}{bad}", "a".repeat(43));
        assert!(!is_valid_verifier(&v), "{bad:?}");
    }
    assert!(!is_valid_challenge(PkceMethod::S256, &"a".repeat(44)));
    assert!(!is_valid_challenge(
        PkceMethod::S256,
        &format!("{}.", "a".repeat(42))
    ));
    assert!(is_valid_challenge(
        PkceMethod::Plain,
        &format!("{}.", "a".repeat(42))
    ));
}

#[test]
fn policy_for_public_and_confidential_clients() {
    assert_eq!(
        PkcePolicy::new(false, true, true),
        PkcePolicy {
            required: true,
            plain_allowed: false
        }
    );
    assert_eq!(
        PkcePolicy::new(false, true, false),
        PkcePolicy {
            required: false,
            plain_allowed: true
        }
    );
    assert_eq!(
        PkcePolicy::new(true, false, false),
        PkcePolicy {
            required: true,
            plain_allowed: false
        }
    );
}

#[test]
fn authorize_accepts_s256() {
    let accepted = accept_challenge(Some(APPENDIX_B_CHALLENGE), Some("S256"), confidential())
        .unwrap()
        .unwrap();
    assert_eq!(accepted.method, PkceMethod::S256);
    assert_eq!(accepted.challenge, APPENDIX_B_CHALLENGE);
}

#[test]
fn authorize_without_challenge() {
    assert_eq!(accept_challenge(None, None, confidential()).unwrap(), None);
    let public = PkcePolicy::new(false, false, true);
    let e = accept_challenge(None, None, public).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
    assert_eq!(e.description(), Some("code_challenge required"));
    let e = accept_challenge(None, Some("S256"), confidential()).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
}

#[test]
fn plain_needs_permission_and_is_the_default_method() {
    // Method absent means plain (RFC 7636 §4.3), refused unless allowed.
    let e = accept_challenge(Some(PLAIN_VERIFIER), None, confidential()).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
    let e = accept_challenge(Some(PLAIN_VERIFIER), Some("plain"), confidential()).unwrap_err();
    assert_eq!(e.as_str(), "invalid_request");
    let allowed = PkcePolicy::new(false, true, false);
    let accepted = accept_challenge(Some(PLAIN_VERIFIER), None, allowed)
        .unwrap()
        .unwrap();
    assert_eq!(accepted.method, PkceMethod::Plain);
    // Public clients never get plain, whatever the client record says.
    let public = PkcePolicy::new(false, true, true);
    assert!(accept_challenge(Some(PLAIN_VERIFIER), Some("plain"), public).is_err());
}

#[test]
fn unknown_method_and_malformed_challenge() {
    let e = accept_challenge(Some(APPENDIX_B_CHALLENGE), Some("S512"), confidential()).unwrap_err();
    assert_eq!(e.description(), Some("unsupported code_challenge_method"));
    let e = accept_challenge(Some("short"), Some("S256"), confidential()).unwrap_err();
    assert_eq!(e.description(), Some("malformed code_challenge"));
    let e = accept_challenge(Some("s256"), Some("s256"), confidential()).unwrap_err();
    assert_eq!(e.description(), Some("unsupported code_challenge_method"));
}

#[test]
fn token_verification_refusals_are_invalid_grant() {
    let s256 = Some(PkceMethod::S256);
    let cases = [
        // Challenge stored, verifier missing.
        (
            Some(APPENDIX_B_CHALLENGE),
            s256,
            None,
            "code_verifier required",
        ),
        // No challenge stored, verifier sent.
        (
            None,
            None,
            Some(APPENDIX_B_VERIFIER),
            "code_verifier sent but the authorization request had no code_challenge",
        ),
        // Wrong verifier.
        (
            Some(APPENDIX_B_CHALLENGE),
            s256,
            Some(PLAIN_VERIFIER),
            "code_verifier does not match",
        ),
        // Downgrade: the challenge itself presented as a plain verifier.
        (
            Some(APPENDIX_B_CHALLENGE),
            s256,
            Some(APPENDIX_B_CHALLENGE),
            "code_verifier does not match",
        ),
        // Malformed verifier.
        (
            Some(APPENDIX_B_CHALLENGE),
            s256,
            Some("tooshort"),
            "malformed code_verifier",
        ),
    ];
    for (challenge, method, verifier, why) in cases {
        let e = verify(challenge, method, verifier, true).unwrap_err();
        assert_eq!(e.as_str(), "invalid_grant", "{why}");
        assert_eq!(e.description(), Some(why));
    }
    verify(None, None, None, false).unwrap();
}

#[test]
fn plain_codes_verify_only_while_plain_is_allowed() {
    verify(
        Some(PLAIN_VERIFIER),
        Some(PkceMethod::Plain),
        Some(PLAIN_VERIFIER),
        true,
    )
    .unwrap();
    // A stored challenge without a method is plain.
    verify(Some(PLAIN_VERIFIER), None, Some(PLAIN_VERIFIER), true).unwrap();
    let e = verify(Some(PLAIN_VERIFIER), None, Some(PLAIN_VERIFIER), false).unwrap_err();
    assert_eq!(e.as_str(), "invalid_grant");
    let e = verify(
        Some(PLAIN_VERIFIER),
        Some(PkceMethod::Plain),
        Some(&PLAIN_VERIFIER.replace('a', "b")),
        true,
    )
    .unwrap_err();
    assert_eq!(e.description(), Some("code_verifier does not match"));
}

proptest! {
    #[test]
    fn every_valid_verifier_verifies_its_own_s256_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
        let challenge = s256_challenge(&v);
        prop_assert!(is_valid_challenge(PkceMethod::S256, &challenge));
        let accepted = accept_challenge(Some(&challenge), Some("S256"), PkcePolicy::new(true, false, true));
        prop_assert!(accepted.is_ok());
        prop_assert!(verify(Some(&challenge), Some(PkceMethod::S256), Some(&v), false).is_ok());
    }

    #[test]
    fn arbitrary_input_never_panics(c in "\\PC{0,130}", m in "\\PC{0,8}", v in "\\PC{0,130}") {
        let _ = accept_challenge(Some(&c), Some(&m), PkcePolicy::default());
        let _ = verify(Some(&c), Some(PkceMethod::S256), Some(&v), true);
    }
}
