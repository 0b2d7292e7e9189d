//! The key manager role (DESIGN §1, §4): keygate's OAuth 2.0 / OpenID Connect
//! authorization server, the part WSO2 Identity Server plays as API Manager's Key
//! Manager — the HTTP surface over the pure protocol logic of `keygate-oauth` and the
//! cryptography of `keygate-jose`, persisting through `keygate-store` and announcing
//! revocations on `keygate-bus`.
//!
//! [`KeyManager::start`] builds it from the configuration, the node's stores, event bus,
//! clock and random source; [`KeyManager::router`] is what the server mounts on the
//! management listener: `/oauth2/token`, `/oauth2/introspect`, `/oauth2/revoke`,
//! `/oauth2/userinfo`, `/oauth2/jwks`, the discovery documents, and the pages people see:
//! `/oauth2/authorize` (login and consent) and `/oidc/logout`. Time and randomness
//! are injected ([`Clock`], [`Entropy`]) so tests move past expiries without sleeping.
//!
//! Modules: [`settings`] (what the configuration says), [`errors`] (every failure and the
//! one mapping to HTTP), [`http`] (routes and strict request reading), [`clients`] (client
//! authentication), [`assertion`] (RFC 7523 JWTs), [`mtls`] (RFC 8705), [`grants`] (the
//! token endpoint), [`tokens`] (minting), [`token_keys`] (what access tokens are stored and
//! found under), [`introspection`], [`revocation`], [`events`]
//! (revocations on the bus), [`userinfo`], [`discovery`], [`signing`] (keys and
//! rotation), [`protection`] (at-rest protection), [`cache`] (clients, scopes and roles
//! kept in memory, with their invalidation), [`clock`]; for people at a browser,
//! [`authorize`] (the authorization endpoint), [`session`] (login sessions and their
//! settings), [`consent`], [`logout`] (RP-initiated logout), [`csrf`] (form tokens),
//! [`limiter`] (failed-login brake) and [`pages`] (the HTML).
//!
//! Beyond OAuth, for registrants and for the other roles: [`services`] mounts
//! [`dcr`] (RFC 7591/7592 client registration, metadata checked by [`client_metadata`]),
//! [`operations`] (the control plane's `/keymanager-operations/`), [`validation`] (the key
//! validation service gateways ask about opaque tokens) and [`throttle_data`], all behind
//! the one middleware of [`access_control`] (`[[resource.access_control]]`).

#![forbid(unsafe_code)]

pub mod access_control;
pub mod assertion;
pub mod authorize;
pub mod cache;
pub mod client_metadata;
pub mod clients;
pub mod clock;
pub mod consent;
pub mod csrf;
pub mod dcr;
pub mod discovery;
pub mod errors;
pub mod events;
pub mod grants;
pub mod http;
pub mod introspection;
pub mod limiter;
pub mod logout;
mod manager;
pub mod mtls;
pub mod operations;
pub mod pages;
pub mod protection;
pub mod revocation;
pub mod services;
pub mod session;
pub mod settings;
pub mod signing;
pub mod throttle_data;
pub mod token_keys;
pub mod tokens;
pub mod userinfo;
pub mod validation;
pub mod version;

pub use clock::{Clock, Entropy, ManualClock, SystemClock, SystemEntropy};
pub use errors::{Failure, KmError};
pub use manager::KeyManager;
pub use mtls::ClientCertificates;
pub use session::{ConsentPolicy, LoginSettings};
pub use settings::{IssuerKeys, KmSettings, TrustedIssuer};
pub use signing::KeySource;
