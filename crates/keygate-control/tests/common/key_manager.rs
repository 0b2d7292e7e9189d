//! A real keygate key manager for control-plane tests: in-process over the fixture's own
//! database (as one node running both roles has it), served over HTTP on an ephemeral
//! port, and a control plane configured to make keys there and to accept its tokens.

use super::{Fixture, PASSWORD};
use keygate_bus::InProcessBus;
use keygate_control::{
    ControlSettings, IntrospectionEndpoint, KeyManagerEndpoint, KeySource, ServiceAccount,
    TokenValidationSettings,
};
use keygate_km::{KeyManager, KmSettings, SystemClock, SystemEntropy};
use keygate_model::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A key manager serving on `base`.
pub struct KmServer {
    pub base: String,
    pub km: KeyManager,
    task: JoinHandle<()>,
}

impl Drop for KmServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KmServer {
    /// Starts a key manager over `f`'s stores and reconfigures `f`'s control plane to
    /// use it, as `root` (an administrator).
    pub async fn start_for(f: &mut Fixture) -> KmServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let settings = KmSettings::from_config(&keygate_config::Config::embedded_default())
            .unwrap()
            .with_public_base_url(&base);
        let km = KeyManager::start_with(
            settings,
            f.stores.clone(),
            Arc::new(InProcessBus::default()),
            Arc::new(SystemClock),
            Arc::new(SystemEntropy::new()),
        )
        .await
        .unwrap();
        let app = km
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        let password = Secret::from(PASSWORD);
        let settings = ControlSettings {
            service_account: Some(ServiceAccount {
                username: "km".into(),
                password: Secret::from("km-secret"),
            }),
            token_validation: TokenValidationSettings {
                issuer: Some(km.issuer().to_owned()),
                keys: Some(KeySource::JwksUrl(format!("{base}/oauth2/jwks"))),
                introspection: Some(IntrospectionEndpoint {
                    url: format!("{base}/oauth2/introspect"),
                    username: "root".into(),
                    password: password.clone(),
                }),
            },
            key_manager: Some(KeyManagerEndpoint {
                base_url: base.clone(),
                username: "root".into(),
                password,
            }),
            ..ControlSettings::default()
        };
        f.reconfigure(settings);
        f.control.seed_defaults().await.unwrap();
        KmServer { base, km, task }
    }
}
