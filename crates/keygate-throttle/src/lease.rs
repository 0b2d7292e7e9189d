//! Quota leases: how a global limit holds across gateways to within a request or two
//! however fast requests come, instead of overshooting by what the gateways admit while a
//! throttle decision is on its way.
//!
//! The traffic manager that leads (one at a time, [`TRAFFIC_MANAGER_HEARTBEAT`]s elect it)
//! grants each gateway a cumulative cap per key and window: "you may have admitted up to
//! `cap` under this key in the window ending at `expiry`". The caps it has granted in a
//! window never add up to more than the limit, so the gateways together never admit more
//! than it, whatever the latency between them and the traffic manager. A gateway counts
//! locally what it admits and stops at its cap (or at the limit, whichever is lower); the
//! traffic manager grants more, from what no gateway holds yet, as a gateway's reports show
//! its lease running low — a share of what is left in proportion to the gateway's part of
//! the key's traffic, so an 80/20 load gets 80/20 leases.
//!
//! Before its first lease of a window a gateway may admit a [`starter_cap`] (1 % of the
//! limit, at least one request); the traffic manager counts that starter as granted to
//! every gateway it knows. A gateway follows leases only while a leading traffic manager's
//! heartbeat is recent ([`DecisionTable::follow_leases_until`](crate::DecisionTable)); without
//! one it counts against the whole limit alone, as before leases (Kong's `local` policy).

use serde::{Deserialize, Serialize};

/// Envelope type of a batch of leases on `keygate.throttle.data`.
pub const THROTTLE_LEASE: &str = "THROTTLE_LEASE";
/// Envelope type of a traffic manager's heartbeat on `keygate.throttle.data`.
pub const TRAFFIC_MANAGER_HEARTBEAT: &str = "TRAFFIC_MANAGER_HEARTBEAT";
/// Envelope type of a gateway's request for the decisions and leases in force, sent to the
/// traffic managers when it (re)connects.
pub const THROTTLE_CATCH_UP: &str = "THROTTLE_CATCH_UP";

/// One grant: `node` may have admitted up to `cap` under `key` in the window that ends at
/// `expiry_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuotaLease {
    /// The throttle key.
    pub key: String,
    /// The gateway the lease is for (the origin node of its request events).
    pub node: String,
    /// Requests (or bytes) the gateway may have admitted in the window, counting all it
    /// admitted there.
    pub cap: u64,
    /// The limit the lease is carved from.
    pub max: u64,
    /// Length of the window, milliseconds.
    pub window_ms: u64,
    /// End of the window, unix milliseconds (exclusive).
    #[serde(rename = "expiry")]
    pub expiry_ms: i64,
}

/// A batch of leases, the payload of a [`THROTTLE_LEASE`] event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeaseBatch {
    /// The traffic manager instance that granted them.
    pub instance: String,
    /// The leases.
    pub leases: Vec<QuotaLease>,
}

/// The payload of a [`TRAFFIC_MANAGER_HEARTBEAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The traffic manager instance (unique per start).
    pub instance: String,
    /// Whether it grants leases now.
    pub leader: bool,
}

/// The payload of a [`THROTTLE_CATCH_UP`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// The gateway asking (the origin node of its request events).
    pub node: String,
}

/// What a gateway may admit under a limit of `max` before its first lease of a window: 1 %
/// of it, at least 1.
pub const fn starter_cap(max: u64) -> u64 {
    let share = max / 100;
    if share == 0 { 1 } else { share }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starters_are_one_percent_and_at_least_one() {
        assert_eq!(starter_cap(0), 1);
        assert_eq!(starter_cap(50), 1);
        assert_eq!(starter_cap(1_000), 10);
    }

    #[test]
    fn leases_read_as_they_are_written() {
        let batch = LeaseBatch {
            instance: "tm-1".into(),
            leases: vec![QuotaLease {
                key: "5:admin@carbon.super".into(),
                node: "gw-1".into(),
                cap: 20,
                max: 50,
                window_ms: 60_000,
                expiry_ms: 120_000,
            }],
        };
        let json = serde_json::to_value(&batch).unwrap();
        assert_eq!(json["leases"][0]["expiry"], 120_000);
        assert_eq!(serde_json::from_value::<LeaseBatch>(json).unwrap(), batch);
    }
}
