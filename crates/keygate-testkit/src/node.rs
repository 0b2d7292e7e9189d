//! A keygate node started in-process for a test.

use anyhow::Context;
use keygate_config::Config;
use keygate_server::{ListenerKind, RunningNode, ServerOptions};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use tempfile::TempDir;

/// A running node on ephemeral loopback ports, with its own data directory.
pub struct TestNode {
    /// The node itself.
    pub node: RunningNode,
    /// An HTTP client that trusts the node's self-signed certificate.
    pub client: reqwest::Client,
    data_dir: Option<TempDir>,
}

impl TestNode {
    /// Every role, embedded SQLite, in a fresh data directory.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary data directory")?;
        let mut config = Config::embedded_default();
        config.set_data_dir(dir.path().to_path_buf());
        let mut node = Self::start_with(config).await?;
        node.data_dir = Some(dir);
        Ok(node)
    }

    /// A node for a given configuration (its data directory is the caller's).
    pub async fn start_with(config: Config) -> anyhow::Result<Self> {
        let options = ServerOptions {
            config,
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ephemeral_ports: true,
        };
        let node = keygate_server::start(options).await?;
        Ok(Self {
            node,
            client: client()?,
            data_dir: None,
        })
    }

    /// The node's data directory, when the test kit made it.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_ref().map(TempDir::path)
    }

    /// Takes ownership of the data directory, so it outlives this node (restart tests).
    pub fn keep_data_dir(&mut self) -> Option<TempDir> {
        self.data_dir.take()
    }

    /// `scheme://127.0.0.1:port{path}` on a listener of this node.
    pub fn url(&self, kind: ListenerKind, path: &str) -> anyhow::Result<String> {
        let addr = self
            .node
            .addr(kind)
            .with_context(|| format!("this node has no {} listener", kind.name()))?;
        Ok(format!("{}://{}{}", kind.scheme(), addr, path))
    }

    /// The management listener's URL for a path.
    pub fn management(&self, path: &str) -> anyhow::Result<String> {
        self.url(ListenerKind::Management, path)
    }

    /// Shuts the node down gracefully.
    pub async fn stop(self) {
        self.node.shutdown().await;
    }
}

/// A client for keygate's listeners: accepts the self-signed certificate, no proxy.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .context("HTTP client")
}
