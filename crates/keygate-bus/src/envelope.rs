//! The one envelope every event travels in (DESIGN §5):
//! `{id, type, revision, time, origin_node, payload}`, JSON on the wire.

use serde::{Deserialize, Serialize};

/// Largest encoded envelope accepted from a transport; larger ones are refused, not parsed.
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;

/// An event as it crosses a process boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per event; consumers use it to apply an event once.
    pub id: String,
    /// What happened, e.g. `API_CREATE`, `TOKEN_REVOKED`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Monotonically increasing per producer stream; a gap means events were missed.
    pub revision: u64,
    /// When the event was produced, in unix milliseconds.
    pub time: i64,
    /// The node that produced it.
    pub origin_node: String,
    /// The event's own data.
    pub payload: serde_json::Value,
}

/// Why bytes could not become an envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// More than [`MAX_ENVELOPE_BYTES`].
    #[error("event of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// Not a JSON envelope.
    #[error("malformed event: {0}")]
    Malformed(String),
}

impl Envelope {
    /// JSON bytes for a transport.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        let bytes =
            serde_json::to_vec(self).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        Ok(bytes)
    }

    /// Refuses an event whose encoded form would exceed [`MAX_ENVELOPE_BYTES`], without
    /// keeping the encoding: what a transport that carries no bytes checks, so that an event
    /// too large for a broker is too large everywhere.
    pub fn check_size(&self) -> Result<(), EnvelopeError> {
        let mut counter = ByteCounter(0);
        serde_json::to_writer(&mut counter, self)
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if counter.0 > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: counter.0,
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        Ok(())
    }

    /// Parses bytes from a transport, refusing oversized input before parsing it.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }
}

/// Counts what would be written.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            id: "0b1c".into(),
            event_type: "TOKEN_REVOKED".into(),
            revision: 7,
            time: 1_700_000_000_000,
            origin_node: "km-1".into(),
            payload: serde_json::json!({"jti": "abc", "expiry": 1_700_000_360_000_i64}),
        }
    }

    #[test]
    fn wire_form_uses_the_design_field_names() {
        let v: serde_json::Value = serde_json::from_slice(&sample().encode().unwrap()).unwrap();
        for field in ["id", "type", "revision", "time", "origin_node", "payload"] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        assert_eq!(v["type"], "TOKEN_REVOKED");
    }

    #[test]
    fn round_trips() {
        let e = sample();
        assert_eq!(Envelope::decode(&e.encode().unwrap()).unwrap(), e);
    }

    #[test]
    fn refuses_garbage_and_oversized_input() {
        assert!(matches!(
            Envelope::decode(b"{not json"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            Envelope::decode(br#"{"id":"x"}"#),
            Err(EnvelopeError::Malformed(_))
        ));
        let mut near = sample();
        near.payload = serde_json::Value::String(String::new());
        let base = near.encode().unwrap().len();
        near.payload = serde_json::Value::String("x".repeat(MAX_ENVELOPE_BYTES - base));
        assert!(near.check_size().is_ok());
        assert_eq!(near.encode().unwrap().len(), MAX_ENVELOPE_BYTES);
        near.payload = serde_json::Value::String("x".repeat(MAX_ENVELOPE_BYTES - base + 1));
        assert!(matches!(
            near.check_size(),
            Err(EnvelopeError::TooLarge { size, .. }) if size == MAX_ENVELOPE_BYTES + 1
        ));
        let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(
            Envelope::decode(&big),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }
}
