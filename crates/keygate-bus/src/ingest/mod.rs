//! The traffic-manager ingestion client (DESIGN §1, §3 `[[apim.throttling.url_group]]`, §5):
//! how gateways, key managers and the control plane hand their events to the traffic
//! managers, which count request events and republish the rest on the message broker.
//!
//! # Wire protocol (version 1)
//!
//! A producer opens a TCP connection to a traffic manager's ingestion port — 9611 plain
//! (`tcp://`), 9711 TLS (`ssl://`), each plus the traffic manager's `[server] offset` — and
//! exchanges frames: a big-endian `u32` length, then that many bytes of one JSON object
//! tagged by `"frame"` ([`wire::Frame`]). No frame may exceed [`MAX_FRAME_BYTES`].
//!
//! 1. Producer → `{"frame":"hello","protocol":1,"node":"gw-1","username":"…","password":"…"}`
//!    with `[apim.throttling] username/password`. The traffic manager compares both in
//!    constant time and answers `{"frame":"welcome","node":"tm-1"}`, or
//!    `{"frame":"refused","reason":"…"}` and closes. The plain port carries the password in
//!    clear, as WSO2's `tcp://` receivers do: use it on loopback or trusted networks, and
//!    `ssl://` elsewhere.
//! 2. Producer → `{"frame":"batch","batch":7,"events":[{"topic":"token.revocation","event":{…}}]}`:
//!    events in order, each an [`Envelope`](crate::Envelope) with its [`Topic`]
//!    (`throttle.request`, `token.revocation`, `throttle.data`, `notification`,
//!    `cache.invalidation.<domain>`), the subject without its prefix.
//! 3. Traffic manager → `{"frame":"ack","batch":7}` once every event has been applied:
//!    request events counted, others republished on the broker. Events whose id it has
//!    already applied are acknowledged without being applied again, so a batch resent after
//!    a lost acknowledgement changes nothing.
//!
//! One batch is in flight per connection. A malformed or oversized frame, an unknown frame
//! or a hello with wrong credentials closes the connection; the traffic manager logs the
//! peer and the reason, never the frame.
//!
//! # Producer
//!
//! [`Producer`] sends every event to every group. Within a group, [`Balance::LoadBalance`]
//! rotates batches over the receivers and [`Balance::Failover`] uses the first that is up,
//! returning to it when it comes back. A receiver that fails is retried with exponential
//! backoff. Request events wait up to [`ProducerSettings::linger`] to share a batch and are
//! dropped oldest-first (counted) when a group's buffer is full; every other event is kept
//! until acknowledged, its sender waiting for room when the buffer is full, and the returned
//! [`Delivery`] tells when one group (or all) acknowledged it.

mod link;
mod producer;
mod queue;
pub mod wire;

pub use producer::{
    Balance, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_EVENTS, DEFAULT_LINGER, DEFAULT_RELIABLE_BUFFER,
    DEFAULT_REQUEST_BUFFER, Producer, ProducerError, ProducerSettings, Receiver, ReceiverGroup,
};
pub use queue::{Delivery, DeliveryError, ProducerStats};
pub use wire::{Frame, IngestEvent, MAX_FRAME_BYTES, PROTOCOL_VERSION, Topic, WireError};
