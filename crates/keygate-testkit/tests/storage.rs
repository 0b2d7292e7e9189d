//! Nodes on PostgreSQL and MariaDB: fresh databases for readiness and outages, and the
//! seed's own deployment files started unchanged against the seed's databases and users
//! (`apimadmin` on `apim_db`, `regadmin` on `shared_db`, as `.ci/run` creates them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

#[allow(dead_code, unused_imports)]
#[path = "../../keygate-store/tests/conformance/harness.rs"]
mod harness;

use harness::{Kind, TestDb};
use keygate_server::ListenerKind;
use keygate_testkit::{ServiceAddr, TestNode, service_unavailable};
use std::path::Path;

fn config_for(dir: &Path, backend: &str, apim: &str, shared: &str) -> keygate_config::Config {
    let file = dir.join("deployment.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{data}\"\n\n\
             [database.apim_db]\ntype = \"{backend}\"\nurl = \"{apim}\"\n\n\
             [database.shared_db]\ntype = \"{backend}\"\nurl = \"{shared}\"\n",
            data = dir.join("data").display()
        ),
    )
    .unwrap();
    keygate_config::load_file(&file).unwrap().config
}

async fn status(node: &TestNode, path: &str) -> (u16, serde_json::Value) {
    let response = node
        .client
        .get(node.url(ListenerKind::Management, path).unwrap())
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap_or_default())
}

async fn node_on(
    kind: Kind,
    backend: &str,
) -> Option<(TestNode, TestDb, TestDb, tempfile::TempDir)> {
    let apim = TestDb::create(kind).await?;
    let shared = TestDb::create(kind).await?;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), backend, &apim.url, &shared.url);
    let node = TestNode::start_with(config).await.unwrap();
    Some((node, apim, shared, dir))
}

#[tokio::test]
async fn a_node_on_postgresql_is_ready_and_says_so_when_its_database_goes() {
    let Some((node, apim, shared, _dir)) = node_on(Kind::Postgres, "postgre").await else {
        return;
    };
    assert_eq!(status(&node, "/health/ready").await.0, 200);
    let admin = node.node.admin.clone().unwrap();
    assert!(admin.created);
    // The database disappears under the running node: readiness turns 503, liveness stays.
    apim.drop_database().await;
    let (code, body) = status(&node, "/health/ready").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["storage"], "DOWN");
    assert_eq!(status(&node, "/health/live").await.0, 200);
    node.stop().await;
    shared.drop_database().await;
}

#[tokio::test]
async fn a_node_on_mariadb_is_ready_and_keeps_its_admin_across_restarts() {
    let Some((node, apim, shared, dir)) = node_on(Kind::MySql, "mariadb").await else {
        return;
    };
    assert_eq!(status(&node, "/health/ready").await.0, 200);
    let password = node.node.admin.clone().unwrap().generated_password.unwrap();
    node.stop().await;
    let again = TestNode::start_with(config_for(dir.path(), "mariadb", &apim.url, &shared.url))
        .await
        .unwrap();
    assert!(!again.node.admin.clone().unwrap().created);
    let user = again
        .node
        .stores()
        .users()
        .authenticate("admin", &password)
        .await
        .unwrap();
    assert!(user.is_some(), "admin password lost across restart");
    again.stop().await;
    apim.drop_database().await;
    shared.drop_database().await;
}

/// The seed's files and the WSO2-style file, unchanged, each start a node on the
/// databases they name. Run one after another: they share `apim_db` and `shared_db`.
#[tokio::test]
async fn the_seed_files_start_nodes_on_the_seed_databases() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keygate-config/tests/fixtures");
    for (file, service) in [
        ("seed-key-manager.toml", ServiceAddr::MARIADB),
        ("seed-api-manager.toml", ServiceAddr::MARIADB),
        ("wso2-style-api-manager.toml", ServiceAddr::MARIADB),
        ("seed-key-manager-ha-tm.toml", ServiceAddr::POSTGRES),
    ] {
        if !service.available_or_skip(file) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = keygate_config::load_file(&fixtures.join(file))
            .unwrap()
            .config;
        config.set_data_dir(dir.path().to_path_buf());
        let node = match TestNode::start_with(config).await {
            Ok(node) => node,
            Err(error) => {
                let message = format!("{error:#}");
                if message.contains("denied")
                    || message.contains("authentication")
                    || message.contains("does not exist")
                    || message.contains("Unknown database")
                {
                    service_unavailable(
                        "the seed databases (apim_db/shared_db with apimadmin/regadmin; .ci/run creates them)",
                        service.addr,
                        file,
                    );
                    continue;
                }
                panic!("{file}: {message}");
            }
        };
        assert_eq!(status(&node, "/health/ready").await.0, 200, "{file}");
        node.stop().await;
    }
}
