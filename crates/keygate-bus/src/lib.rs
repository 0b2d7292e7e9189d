//! keygate-bus
