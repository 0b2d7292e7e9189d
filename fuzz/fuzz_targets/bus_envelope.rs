//! Fuzzes decoding event envelopes from a transport ([`Envelope::decode`]): the size bound,
//! then JSON into `{id, type, revision, time, origin_node, payload}`. An envelope that
//! decodes must encode, and decode again to the same header fields (the payload is left
//! out of the comparison: JSON floats need not round-trip bit for bit). Seeded by
//! `corpus/bus_envelope/`.

#![no_main]

use keygate_bus::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let envelope = match Envelope::decode(data) {
        Ok(envelope) => envelope,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let Ok(again) = envelope.encode().and_then(|bytes| Envelope::decode(&bytes)) else {
        std::process::abort();
    };
    let header = |e: &Envelope| {
        (
            e.id.clone(),
            e.event_type.clone(),
            e.revision,
            e.time,
            e.origin_node.clone(),
        )
    };
    if header(&again) != header(&envelope) {
        std::process::abort();
    }
});
