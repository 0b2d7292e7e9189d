//! The version handshake between a key manager and the nodes that call it (DESIGN §4): the
//! key manager answers `GET {service_url}keymanager-operations/v1/version` with its product,
//! release and the range of wire-contract protocol versions it speaks ([`ProductVersion`]);
//! a gateway or control plane asks before it serves, and refuses to start against a key
//! manager whose range does not meet its own.
//!
//! The protocol number changes only when a wire contract between roles changes
//! incompatibly (a path, a required member, a meaning); a release that only adds optional
//! members keeps it.

use serde::{Deserialize, Serialize};

/// Where the key manager answers, relative to `[apim.key_manager] service_url` (which ends
/// in `/`): `https://km:9444/services/` + this.
pub const KEY_MANAGER_VERSION_PATH: &str = "keymanager-operations/v1/version";

/// The product name a keygate key manager answers with.
pub const PRODUCT: &str = "keygate";

/// The wire-contract protocol this build speaks.
pub const PROTOCOL: u32 = 1;

/// The oldest protocol this build still speaks.
pub const OLDEST_PROTOCOL: u32 = 1;

/// The URL of the version endpoint under `service_url` (with or without its trailing `/`).
pub fn key_manager_version_url(service_url: &str) -> String {
    format!(
        "{}/{KEY_MANAGER_VERSION_PATH}",
        service_url.trim_end_matches('/')
    )
}

/// What a key manager says it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductVersion {
    /// The product, `keygate`.
    pub product: String,
    /// Its release, e.g. `0.1.0`.
    pub version: String,
    /// The newest protocol it speaks.
    pub protocol: u32,
    /// The oldest protocol it speaks; the same as `protocol` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_protocol: Option<u32>,
}

impl ProductVersion {
    /// This build, at release `version`.
    pub fn this_build(version: &str) -> Self {
        Self {
            product: PRODUCT.to_owned(),
            version: version.to_owned(),
            protocol: PROTOCOL,
            oldest_protocol: Some(OLDEST_PROTOCOL),
        }
    }

    /// The protocols it speaks, oldest first.
    pub fn protocols(&self) -> std::ops::RangeInclusive<u32> {
        self.oldest_protocol
            .unwrap_or(self.protocol)
            .min(self.protocol)..=self.protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_sits_under_the_service_url() {
        assert_eq!(
            key_manager_version_url("https://km:9444/services/"),
            "https://km:9444/services/keymanager-operations/v1/version"
        );
        assert_eq!(
            key_manager_version_url("https://km:9444/services"),
            "https://km:9444/services/keymanager-operations/v1/version"
        );
    }

    #[test]
    fn the_answer_round_trips_and_a_missing_oldest_protocol_is_the_newest() -> Result<(), String> {
        let ours = ProductVersion::this_build("1.2.3");
        let text = serde_json::to_string(&ours).map_err(|e| e.to_string())?;
        let back: ProductVersion = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        assert_eq!(back, ours);
        let bare: ProductVersion =
            serde_json::from_str(r#"{"product":"keygate","version":"2.0.0","protocol":3}"#)
                .map_err(|e| e.to_string())?;
        assert_eq!(bare.protocols(), 3..=3);
        Ok(())
    }
}
