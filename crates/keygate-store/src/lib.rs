//! keygate-store
