//! The key manager's side of the version handshake (`keygate_model::handshake`): `GET
//! {service_url}keymanager-operations/v1/version` answers with the product, this release
//! and the wire-contract protocols it speaks, so that a gateway or control plane can refuse
//! to start against a key manager it cannot work with. It carries nothing secret and is
//! answered to anyone, so a node whose service credentials are wrong still learns whether
//! the versions match.

use axum::Json;
use keygate_model::handshake::{KEY_MANAGER_VERSION_PATH, ProductVersion};

/// The route of the version endpoint under WSO2's service base.
pub fn version_path() -> String {
    format!(
        "{}{KEY_MANAGER_VERSION_PATH}",
        crate::services::SERVICES_BASE_PATH
    )
}

/// What this key manager is.
pub fn this_key_manager() -> ProductVersion {
    ProductVersion::this_build(env!("CARGO_PKG_VERSION"))
}

/// `GET {service_url}keymanager-operations/v1/version`.
pub(crate) async fn version() -> Json<ProductVersion> {
    Json(this_key_manager())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_under_the_services_base() {
        assert_eq!(version_path(), "/services/keymanager-operations/v1/version");
        let ours = this_key_manager();
        assert_eq!(ours.product, "keygate");
        assert!(
            ours.protocols()
                .contains(&keygate_model::handshake::PROTOCOL)
        );
    }
}
