//! A backend over TLS: its certificate is checked against the truststore's certificates,
//! HTTP/2 is negotiated by ALPN, and a backend the gateway cannot trust is 502.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use keygate_gateway::ReplicaChange;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A TLS backend answering with the HTTP version each request came in on.
async fn tls_backend(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, Arc<Mutex<Vec<http::Version>>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let versions: Arc<Mutex<Vec<http::Version>>> = Arc::default();
    let record = versions.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        record.lock().unwrap().push(request.version());
                        let path = request.uri().path().to_owned();
                        async move {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from(path),
                            )))
                        }
                    },
                );
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, versions)
}

struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        chain: vec![leaf.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

#[tokio::test]
async fn a_tls_backend_signed_by_a_trusted_certificate_speaks_http2() {
    let pki = pki();
    let (addr, versions) = tls_backend(pki.chain.clone(), pki.key.clone_key()).await;
    let h = Harness::with(Options {
        trusted: vec![pki.ca.clone()],
        ..Options::default()
    })
    .await;
    let mut secure = api(PETS, "/pets", &h.backend);
    secure.production_endpoint = Some(format!("https://localhost:{}/tls", addr.port()));
    h.replica.apply(ReplicaChange::ApiUpserted(secure)).unwrap();
    for _ in 0..2 {
        let response = h.get("/pets/1.0.0/items/1", Some(&user_token(""))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "/tls/items/1");
    }
    assert_eq!(
        *versions.lock().unwrap(),
        [http::Version::HTTP_2, http::Version::HTTP_2]
    );

    // A gateway that does not trust the backend's issuer refuses to talk to it.
    let untrusting = Harness::start().await;
    let mut secure = api(PETS, "/pets", &untrusting.backend);
    secure.production_endpoint = Some(format!("https://localhost:{}/tls", addr.port()));
    untrusting
        .replica
        .apply(ReplicaChange::ApiUpserted(secure))
        .unwrap();
    let response = untrusting
        .get("/pets/1.0.0/items/1", Some(&user_token("")))
        .await;
    assert_eq!(code_of(response).await, (502, 101_503));
    assert_eq!(
        versions.lock().unwrap().len(),
        2,
        "no request reached the backend"
    );
}
