//! A typed async client for keygate's management REST APIs: the Publisher
//! (`/api/am/publisher/v1`), the Developer Portal (`/api/am/devportal/v1`) and the Admin
//! API (`/api/am/admin/v1`), plus the key manager calls a command-line login needs
//! (discovery, dynamic client registration, the password and refresh grants).
//!
//! [`Management`] holds the server's base URL, the TLS trust ([`Trust`]) and the
//! caller's [`Credentials`]; each API has its own module of methods on it. A refusal by
//! the server is [`ClientError::Refused`] carrying the server's error body
//! ([`ServerError`]), with every bad field it named. An API is made from an OpenAPI
//! definition by the server ([`Management::import_openapi`]).

#![forbid(unsafe_code)]

mod admin;
mod connection;
mod devportal;
mod error;
mod login;
mod model;
mod publisher;

pub use admin::PolicyKind;
pub use connection::{Credentials, Management, Trust};
pub use devportal::KeyType;
pub use error::{ClientError, ClientResult, FieldProblem, ServerError};
pub use login::{LoginOutcome, OAuthClient, TokenSet};
pub use model::{
    Api, ApiDraft, ApiImportProperties, Application, ApplicationDraft, ApplicationKey,
    ApplicationToken, BlockCondition, Endpoint, EndpointConfig, LifecycleAction, Operation,
    Subscription,
};
