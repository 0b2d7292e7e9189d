//! keygate-config
