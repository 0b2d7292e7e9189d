//! The ingestion wire format: length-prefixed JSON frames over TCP or TLS.
//!
//! A frame is a big-endian `u32` length followed by that many bytes of JSON, one object
//! tagged by `"frame"`. Frames longer than [`MAX_FRAME_BYTES`] are refused before their
//! body is read. Events inside a batch name their [`Topic`]: the subject they belong on,
//! without the prefix, so that a traffic manager republishes them under its own prefix and
//! a producer can reach no other subject.

use crate::Envelope;
use keygate_model::Secret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Version of the protocol a producer speaks, sent in its hello.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame accepted, length prefix excluded.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// Bytes of a frame's length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// One frame of the ingestion protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum Frame {
    /// Producer → traffic manager, first frame of a connection.
    Hello {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The producing node's name, for logs.
        node: String,
        /// `[apim.throttling] username`.
        username: String,
        /// `[apim.throttling] password`.
        password: Secret,
    },
    /// Traffic manager → producer: the hello was accepted.
    Welcome {
        /// The traffic manager's node name.
        node: String,
    },
    /// Traffic manager → producer: the hello was refused; the connection closes.
    Refused {
        /// Why, without secrets.
        reason: String,
    },
    /// Producer → traffic manager: events to apply, in order.
    Batch {
        /// Increases per connection; echoed in the [`Frame::Ack`].
        batch: u64,
        /// The events.
        events: Vec<IngestEvent>,
    },
    /// Traffic manager → producer: every event of the batch has been applied (counted or
    /// republished) or was a duplicate.
    Ack {
        /// The batch acknowledged.
        batch: u64,
    },
}

/// An event and the subject it belongs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestEvent {
    /// Where the event goes.
    pub topic: Topic,
    /// The event.
    pub event: Envelope,
}

/// The subject of an ingested event, without the prefix (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `throttle.request`: counted by the traffic manager, never republished.
    ThrottleRequest,
    /// `token.revocation`.
    TokenRevocation,
    /// `throttle.data`: blocking conditions and key templates.
    ThrottleData,
    /// `notification`.
    Notification,
    /// `cache.invalidation.<domain>`.
    CacheInvalidation(String),
}

const CACHE_INVALIDATION: &str = "cache.invalidation.";

impl Topic {
    /// The topic's wire name, e.g. `token.revocation`.
    pub fn name(&self) -> String {
        match self {
            Self::ThrottleRequest => "throttle.request".to_owned(),
            Self::TokenRevocation => "token.revocation".to_owned(),
            Self::ThrottleData => "throttle.data".to_owned(),
            Self::Notification => "notification".to_owned(),
            Self::CacheInvalidation(domain) => format!("{CACHE_INVALIDATION}{domain}"),
        }
    }

    /// Parses a wire name; a cache domain is 1 to 128 of `A-Z a-z 0-9 - _ .`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "throttle.request" => Some(Self::ThrottleRequest),
            "token.revocation" => Some(Self::TokenRevocation),
            "throttle.data" => Some(Self::ThrottleData),
            "notification" => Some(Self::Notification),
            other => {
                let domain = other.strip_prefix(CACHE_INVALIDATION)?;
                let valid = !domain.is_empty()
                    && domain.len() <= 128
                    && domain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                valid.then(|| Self::CacheInvalidation(domain.to_owned()))
            }
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Topic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).ok_or_else(|| serde::de::Error::custom("unknown topic"))
    }
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The peer announced a frame longer than [`MAX_FRAME_BYTES`].
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The frame is not JSON of a known shape.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The connection closed in the middle of a frame.
    #[error("connection closed mid-frame")]
    Truncated,
    /// The transport failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes a frame with its length prefix.
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, WireError> {
    let mut bytes = vec![0; LENGTH_PREFIX_BYTES];
    serde_json::to_writer(&mut bytes, frame).map_err(|e| WireError::Malformed(e.to_string()))?;
    seal_frame(bytes)
}

/// Fills in the length prefix of `bytes`, whose first [`LENGTH_PREFIX_BYTES`] are reserved
/// for it, refusing a body longer than [`MAX_FRAME_BYTES`].
pub fn seal_frame(mut bytes: Vec<u8>) -> Result<Vec<u8>, WireError> {
    let size = bytes.len().saturating_sub(LENGTH_PREFIX_BYTES);
    let too_large = WireError::TooLarge {
        size,
        limit: MAX_FRAME_BYTES,
    };
    if size > MAX_FRAME_BYTES {
        return Err(too_large);
    }
    let prefix = u32::try_from(size).map_err(|_| too_large)?.to_be_bytes();
    if let Some(head) = bytes.get_mut(..LENGTH_PREFIX_BYTES) {
        head.copy_from_slice(&prefix);
    }
    Ok(bytes)
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &Frame,
) -> Result<(), WireError> {
    let bytes = encode_frame(frame)?;
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one frame; `None` when the peer closed the connection between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Frame>, WireError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    let mut filled = 0;
    while filled < LENGTH_PREFIX_BYTES {
        let Some(rest) = prefix.get_mut(filled..) else {
            break;
        };
        let n = reader.read(rest).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(WireError::Truncated)
            };
        }
        filled += n;
    }
    let size = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if size > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge {
            size,
            limit: MAX_FRAME_BYTES,
        });
    }
    // Grow with what arrives rather than trusting the announced length up front, so that
    // idle peers announcing large frames hold little memory.
    let mut body = Vec::with_capacity(size.min(64 * 1024));
    let announced = u64::try_from(size).unwrap_or(u64::MAX);
    let read = (&mut *reader)
        .take(announced)
        .read_to_end(&mut body)
        .await?;
    if read < size {
        return Err(WireError::Truncated);
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| WireError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Envelope {
        Envelope {
            id: id.into(),
            event_type: "TOKEN_REVOKED".into(),
            revision: 3,
            time: 1_700_000_000_000,
            origin_node: "km-1".into(),
            payload: serde_json::json!({"jti": "abc"}),
        }
    }

    #[tokio::test]
    async fn frames_round_trip_over_a_stream() {
        let frames = vec![
            Frame::Hello {
                protocol: PROTOCOL_VERSION,
                node: "gw-1".into(),
                username: "admin".into(),
                password: Secret::new("admin"),
            },
            Frame::Welcome {
                node: "tm-1".into(),
            },
            Frame::Refused {
                reason: "bad credentials".into(),
            },
            Frame::Batch {
                batch: 9,
                events: vec![
                    IngestEvent {
                        topic: Topic::TokenRevocation,
                        event: event("a"),
                    },
                    IngestEvent {
                        topic: Topic::CacheInvalidation("km-domain".into()),
                        event: event("b"),
                    },
                ],
            },
            Frame::Ack { batch: 9 },
        ];
        let (mut a, mut b) = tokio::io::duplex(64 * 1024);
        for frame in &frames {
            write_frame(&mut a, frame).await.unwrap();
        }
        drop(a);
        for frame in &frames {
            assert_eq!(read_frame(&mut b).await.unwrap().as_ref(), Some(frame));
        }
        assert!(read_frame(&mut b).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_truncated_and_garbage_frames_are_errors() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(matches!(
            read_frame(&mut b).await,
            Err(WireError::TooLarge { .. })
        ));

        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[0, 0, 0, 5, b'{', b'"']).await.unwrap();
        drop(a);
        assert!(matches!(
            read_frame(&mut b).await,
            Err(WireError::Truncated)
        ));

        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[0, 0, 0, 4]).await.unwrap();
        a.write_all(b"nope").await.unwrap();
        assert!(matches!(
            read_frame(&mut b).await,
            Err(WireError::Malformed(_))
        ));

        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[0, 0]).await.unwrap();
        drop(a);
        assert!(matches!(
            read_frame(&mut b).await,
            Err(WireError::Truncated)
        ));
    }

    #[test]
    fn topics_parse_their_own_names_and_nothing_else() {
        for topic in [
            Topic::ThrottleRequest,
            Topic::TokenRevocation,
            Topic::ThrottleData,
            Topic::Notification,
            Topic::CacheInvalidation("keymanager-domain".into()),
        ] {
            assert_eq!(Topic::parse(&topic.name()), Some(topic));
        }
        for bad in [
            "",
            "token.revocations",
            "cache.invalidation.",
            "cache.invalidation.a b",
            "cache.invalidation.a>",
            "keygate.token.revocation",
        ] {
            assert_eq!(Topic::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sealing_refuses_bodies_over_the_limit() {
        let body = vec![b' '; LENGTH_PREFIX_BYTES + MAX_FRAME_BYTES + 1];
        assert!(matches!(seal_frame(body), Err(WireError::TooLarge { .. })));
        let sealed = seal_frame(vec![0, 0, 0, 0, b'{', b'}']).unwrap();
        assert_eq!(sealed, vec![0, 0, 0, 2, b'{', b'}']);
    }

    #[tokio::test]
    async fn arbitrary_bytes_never_panic_the_reader() {
        // xorshift: reproducible bytes without a dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = encode_frame(&Frame::Ack { batch: 1 }).unwrap();
        let mut outcomes = [0usize; 2];
        for round in 0..2_000 {
            let mut bytes: Vec<u8> = if round % 2 == 0 {
                let len = usize::try_from(next() % 64).unwrap();
                (0..len).map(|_| next().to_le_bytes()[0]).collect()
            } else {
                valid.clone()
            };
            if round % 2 == 1 {
                // Flip a few bytes of a valid frame, length prefix included.
                for _ in 0..=(next() % 3) {
                    let at = usize::try_from(next() % bytes.len() as u64).unwrap();
                    bytes[at] ^= next().to_le_bytes()[0] | 1;
                }
            }
            let (mut a, mut b) = tokio::io::duplex(256);
            a.write_all(&bytes).await.unwrap();
            drop(a);
            let ok = matches!(read_frame(&mut b).await, Ok(Some(_)));
            outcomes[usize::from(ok)] += 1;
        }
        assert!(
            outcomes[0] > 1_000,
            "most corrupted input must be refused: {outcomes:?}"
        );
    }
}
