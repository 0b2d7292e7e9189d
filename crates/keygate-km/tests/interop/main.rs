//! Interoperability with OAuth 2.0 and OpenID Connect clients keygate did not write: a
//! real node (the test kit's) answers `openid-client`, `oauth4webapi` (npm), `authlib`
//! and PyJWT (PyPI), each driven by a script under the repository's `interop/` folder.
//! The scripts do the protocol work with the library; the tests check their JSON output
//! and look at the same tokens from the key manager's side. TLS is verified throughout,
//! with the node's self-signed certificate as the clients' trusted CA.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod oauth4webapi;
mod openid_client;
mod python;
