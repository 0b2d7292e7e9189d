//! Key pairs and self-signed certificates made in-process for the keystore unit tests.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// A fresh key and a self-signed certificate for `localhost` over it.
pub(crate) struct TestIdentity {
    pub(crate) key: PrivatePkcs8KeyDer<'static>,
    pub(crate) certificate: CertificateDer<'static>,
}

fn certify(pkcs8: Vec<u8>, common_name: &str) -> TestIdentity {
    let key = PrivatePkcs8KeyDer::from(pkcs8);
    let signing = rcgen::KeyPair::try_from(&key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let certificate = params.self_signed(&signing).unwrap().der().clone();
    TestIdentity { key, certificate }
}

/// A P-256 key pair and its certificate.
pub(crate) fn ec_p256(common_name: &str) -> TestIdentity {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    certify(doc.as_ref().to_vec(), common_name)
}

/// An RSA 2048 key pair and its certificate.
pub(crate) fn rsa_2048(common_name: &str) -> TestIdentity {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().unwrap();
    certify(pkcs8.as_ref().to_vec(), common_name)
}

/// PEM text of one DER object.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
