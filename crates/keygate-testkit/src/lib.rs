//! keygate-testkit
