//! The control-plane role in a node: its settings completed with what only the running node
//! knows — the certificate its key manager serves, that key manager's issuer and address
//! (the port actually bound) — and its default policies and scopes seeded before any
//! listener serves, so the management APIs accept bearer tokens and make keys from the
//! first request.

use crate::ServerError;
use keygate_bus::EventBus;
use keygate_config::Config;
use keygate_control::key_manager::{INTROSPECT_PATH, JWKS_PATH, origin_of};
use keygate_control::{ControlPlane, ControlSettings, KeySource};
use keygate_km::KeyManager;
use keygate_store::Stores;
use rustls_pki_types::CertificateDer;
use std::sync::Arc;

/// The token endpoint's path: a remote key manager's `iss` is its origin plus this.
const TOKEN_PATH: &str = "/oauth2/token";

/// The control plane's settings for this node: `trusted` (the truststore and the node's own
/// chain) for calls to the key manager; a co-located key manager at the address it
/// advertises, with its issuer; a remote one's issuer derived from `service_url`.
pub(crate) fn settings(
    config: &Config,
    key_manager: Option<&KeyManager>,
    trusted: &[CertificateDer<'static>],
) -> ControlSettings {
    let mut settings = ControlSettings::from_config(config);
    settings.key_manager_trust = trusted.iter().map(|c| c.to_vec()).collect();
    let Some(km) = key_manager else {
        settings.token_validation.issuer =
            origin_of(&config.key_manager.service_url).map(|o| format!("{o}{TOKEN_PATH}"));
        return settings;
    };
    let base = km.settings().public_base_url.clone();
    if let Some(endpoint) = settings.key_manager.as_mut() {
        endpoint.base_url.clone_from(&base);
    }
    let validation = &mut settings.token_validation;
    validation.issuer = Some(km.issuer().to_owned());
    validation.keys = Some(KeySource::JwksUrl(format!("{base}{JWKS_PATH}")));
    if let Some(introspection) = validation.introspection.as_mut() {
        introspection.url = format!("{base}{INTROSPECT_PATH}");
    }
    settings
}

/// Starts the role: defaults seeded before it serves, then its outbox relay.
pub(crate) async fn start(
    settings: ControlSettings,
    stores: Arc<Stores>,
    bus: Arc<dyn EventBus>,
) -> Result<(ControlPlane, tokio::task::JoinHandle<()>), ServerError> {
    let control = ControlPlane::new(stores, bus, settings);
    control
        .seed_defaults()
        .await
        .map_err(|e| ServerError::Config(format!("control plane: seeding defaults: {e}")))?;
    let relay = control.spawn_relay(keygate_control::DEFAULT_RELAY_INTERVAL);
    Ok((control, relay))
}
