//! keygate-jose
