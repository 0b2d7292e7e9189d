//! Trust anchors for TLS broker connections, in the two shapes the clients take: a PEM
//! bundle for lapin (added to its bundled roots) and a rustls `ClientConfig` for
//! async-nats. Both trust the Mozilla roots of `webpki-roots` plus
//! [`BrokerTrust::extra_roots`].

use crate::BusError;
use crate::connect::BrokerTrust;
use base64::Engine as _;
use std::sync::Arc;

/// The extra roots as one PEM bundle; `None` when there are none.
pub(crate) fn extra_roots_pem(trust: &BrokerTrust) -> Option<String> {
    if trust.extra_roots.is_empty() {
        return None;
    }
    let mut pem = String::new();
    for cert in &trust.extra_roots {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Some(pem)
}

/// A rustls client configuration trusting the public roots and the extra ones.
pub(crate) fn client_config(trust: &BrokerTrust) -> Result<rustls::ClientConfig, BusError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in &trust.extra_roots {
        roots.add(cert.clone()).map_err(|e| {
            BusError::Settings(format!("a broker trust certificate is unusable: {e}"))
        })?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BusError::Settings(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn pem_bundle_parses_back_to_the_same_certificates() {
        let trust = BrokerTrust {
            extra_roots: vec![
                CertificateDer::from(vec![0x30u8; 100]),
                CertificateDer::from(vec![0x31u8; 3]),
            ],
        };
        let pem = extra_roots_pem(&trust).unwrap();
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed, trust.extra_roots);
        assert!(extra_roots_pem(&BrokerTrust::default()).is_none());
    }

    #[test]
    fn garbage_roots_are_a_settings_error() {
        let trust = BrokerTrust {
            extra_roots: vec![CertificateDer::from(vec![1u8, 2, 3])],
        };
        assert!(matches!(client_config(&trust), Err(BusError::Settings(_))));
        assert!(client_config(&BrokerTrust::default()).is_ok());
    }
}
