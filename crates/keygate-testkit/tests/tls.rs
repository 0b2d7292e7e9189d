//! TLS from the user's own keystore — JKS as WSO2 ships `wso2carbon.jks`, PKCS#12 and
//! PEM — and a clear refusal to start on a wrong password.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test they serve"
)]

use keygate_server::ServerError;
use keygate_testkit::{TestNode, service_unavailable};
use std::path::Path;
use std::process::Command;

fn config_with_tls(dir: &Path, tls_table: &str) -> keygate_config::Config {
    let file = dir.join("deployment.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{}\"\n\n[keystore.tls]\n{tls_table}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    keygate_config::load_file(&file).unwrap().config
}

async fn served_certificate(node: &TestNode) -> Vec<u8> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .no_proxy()
        .build()
        .unwrap();
    let response = client
        .get(node.management("/health/live").unwrap())
        .send()
        .await
        .unwrap();
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("TLS info");
    info.peer_certificate()
        .expect("a peer certificate")
        .to_vec()
}

fn keytool(args: &[&str]) -> bool {
    match Command::new("keytool").args(args).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "keytool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => false,
    }
}

/// A keystore made the way WSO2's `wso2carbon.jks` is: RSA 2048, alias `wso2carbon`.
fn make_keystore(dir: &Path, storetype: &str, file: &str) -> Option<Vec<u8>> {
    let store = dir.join(file);
    let store = store.to_str().unwrap();
    let made = keytool(&[
        "-genkeypair",
        "-alias",
        "wso2carbon",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-storetype",
        storetype,
        "-keystore",
        store,
        "-storepass",
        "wso2carbon",
        "-keypass",
        "wso2carbon",
        "-dname",
        "CN=localhost, O=keygate",
        "-validity",
        "30",
        "-ext",
        "SAN=dns:localhost,ip:127.0.0.1",
    ]);
    if !made {
        service_unavailable("keytool", "PATH", "TLS from a keytool keystore");
        return None;
    }
    let cert = dir.join("wso2carbon.cer");
    keytool(&[
        "-exportcert",
        "-alias",
        "wso2carbon",
        "-keystore",
        store,
        "-storepass",
        "wso2carbon",
        "-file",
        cert.to_str().unwrap(),
    ]);
    Some(std::fs::read(cert).unwrap())
}

#[tokio::test]
async fn serves_the_certificate_of_a_jks_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let Some(expected) = make_keystore(dir.path(), "JKS", "wso2carbon.jks") else {
        return;
    };
    let config = config_with_tls(
        dir.path(),
        "file_name = \"wso2carbon.jks\"\ntype = \"JKS\"\npassword = \"wso2carbon\"\nalias = \"wso2carbon\"\nkey_password = \"wso2carbon\"",
    );
    let node = TestNode::start_with(config).await.unwrap();
    assert_eq!(served_certificate(&node).await, expected);
    node.stop().await;
}

#[tokio::test]
async fn serves_the_certificate_of_a_pkcs12_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let Some(expected) = make_keystore(dir.path(), "PKCS12", "tls.p12") else {
        return;
    };
    let config = config_with_tls(
        dir.path(),
        "file_name = \"tls.p12\"\ntype = \"PKCS12\"\npassword = \"wso2carbon\"\nalias = \"wso2carbon\"",
    );
    let node = TestNode::start_with(config).await.unwrap();
    assert_eq!(served_certificate(&node).await, expected);
    node.stop().await;
}

#[tokio::test]
async fn serves_the_certificate_of_a_pem_pair() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = format!(
        "{}{}",
        generated.signing_key.serialize_pem(),
        generated.cert.pem()
    );
    std::fs::write(dir.path().join("tls.pem"), pem).unwrap();
    let config = config_with_tls(
        dir.path(),
        "file_name = \"tls.pem\"\ntype = \"PEM\"\npassword = \"\"\nalias = \"tls\"",
    );
    let node = TestNode::start_with(config).await.unwrap();
    assert_eq!(
        served_certificate(&node).await,
        generated.cert.der().to_vec()
    );
    node.stop().await;
}

#[tokio::test]
async fn a_wrong_keystore_password_stops_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    if make_keystore(dir.path(), "JKS", "wso2carbon.jks").is_none() {
        return;
    }
    let config = config_with_tls(
        dir.path(),
        "file_name = \"wso2carbon.jks\"\ntype = \"JKS\"\npassword = \"Not-The-Password\"\nalias = \"wso2carbon\"",
    );
    let error = match TestNode::start_with(config).await {
        Ok(_) => panic!("started with a wrong keystore password"),
        Err(error) => error,
    };
    let message = format!("{error:#}");
    assert!(
        matches!(
            error.downcast_ref::<ServerError>(),
            Some(ServerError::Keystore { .. })
        ),
        "{message}"
    );
    assert!(message.contains("wso2carbon.jks"), "{message}");
    assert!(!message.contains("Not-The-Password"), "{message}");
}

#[tokio::test]
async fn a_missing_alias_lists_the_ones_there() {
    let dir = tempfile::tempdir().unwrap();
    if make_keystore(dir.path(), "JKS", "wso2carbon.jks").is_none() {
        return;
    }
    let config = config_with_tls(
        dir.path(),
        "file_name = \"wso2carbon.jks\"\ntype = \"JKS\"\npassword = \"wso2carbon\"\nalias = \"nosuchalias\"",
    );
    let message = match TestNode::start_with(config).await {
        Ok(_) => panic!("started with a missing alias"),
        Err(error) => format!("{error:#}"),
    };
    assert!(message.contains("nosuchalias"), "{message}");
    assert!(message.contains("wso2carbon"), "{message}");
}
