//! `amqps://`: the RabbitMQ transport over TLS, through a TLS-terminating proxy in front of
//! the real broker (127.0.0.1:5672) whose certificate a test CA signed. The bus connects
//! when the CA is among its trust anchors, and refuses the broker when it is not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use keygate_bus::conformance::event;
use keygate_bus::{BrokerTrust, BusError, BusSettings, Subject, SubjectPrefix};
use keygate_config::BrokerTransport;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::Duration;
use support::{
    RABBITMQ, broker_or_skip, delete_amqp_exchange, endpoint, outage, settings, test_prefix,
};
use tokio::net::{TcpListener, TcpStream};

/// A TLS listener on an ephemeral port forwarding to RabbitMQ; the CA that signed it.
async fn tls_front() -> (String, CertificateDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                if let Ok(mut broker) = TcpStream::connect(RABBITMQ).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                }
            });
        }
    });
    (addr, ca.der().clone())
}

/// `amqps://guest:guest@addr`, trusting `extra_roots` besides the public roots.
fn tls_settings(
    addr: &str,
    prefix: &SubjectPrefix,
    extra_roots: Vec<CertificateDer<'static>>,
    publish_timeout: Duration,
) -> BusSettings {
    BusSettings {
        trust: BrokerTrust { extra_roots },
        ..settings(
            endpoint(BrokerTransport::AmqpTls, addr, Some(("guest", "guest"))),
            prefix,
            publish_timeout,
        )
    }
}

#[tokio::test]
async fn a_broker_signed_by_a_trusted_ca_carries_events() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqps::a_broker_signed_by_a_trusted_ca_carries_events",
    ) {
        return;
    }
    let (addr, ca) = tls_front().await;
    let prefix = test_prefix();
    let settings = tls_settings(&addr, &prefix, vec![ca], Duration::from_secs(10));
    outage::connect_picks(&settings, "amqp").await;
    delete_amqp_exchange(&format!("{}.events", prefix.as_str())).await;
}

#[tokio::test]
async fn a_broker_signed_by_an_unknown_ca_is_refused() {
    if !broker_or_skip(
        "RabbitMQ",
        RABBITMQ,
        "amqps::a_broker_signed_by_an_unknown_ca_is_refused",
    ) {
        return;
    }
    let (addr, _ca) = tls_front().await;
    let prefix = test_prefix();
    let settings = tls_settings(&addr, &prefix, Vec::new(), Duration::from_secs(1));
    let bus = keygate_bus::connect(&settings).await.unwrap();
    let outcome = bus
        .publish(&Subject::notification(&prefix), &event(1))
        .await;
    let Err(BusError::Unavailable { broker, reason }) = outcome else {
        panic!("an untrusted broker was used: {outcome:?}");
    };
    assert!(broker.starts_with("amqps://guest@127.0.0.1:"), "{broker}");
    assert!(!reason.is_empty());
}
