//! Fuzz target: arbitrary bytes into the frame decoder, payload validation for every kind,
//! owned decoding of accepted payloads, and the incremental reader fed in two pieces.
//! Each input is tried twice: as it is, and with its length and CRC fields rewritten to match,
//! so mutations reach the header checks and the payload validation behind the checksum.
//! Invariant checked: no input panics. A payload that passes bytecheck may still fail to
//! deserialise, but only with `InvalidPayload` (numbers are re-checked for normal form and
//! range when they become `Number`s, which bytecheck cannot do).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::frame::{Decoded, FrameError, FrameReader, decode_frame};
use shoal_wire::message::{ErrorReply, MessageKind, PutItemRequest, QueryRequest};

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= 24 {
        let mut fixed = data.to_vec();
        let length = u32::try_from(fixed.len()).unwrap_or(u32::MAX);
        fixed[0..4].copy_from_slice(&length.to_le_bytes());
        let crc = crc32c::crc32c(&fixed[8..]);
        fixed[4..8].copy_from_slice(&crc.to_le_bytes());
        exercise(&fixed);
    }
});

fn exercise(data: &[u8]) {
    if let Ok(Decoded::Frame(frame)) = decode_frame(data) {
        if frame.check_payload().is_ok() {
            let decoded = match frame.header.kind {
                MessageKind::PutItemRequest => frame.decode::<PutItemRequest>().err(),
                MessageKind::QueryRequest => frame.decode::<QueryRequest>().err(),
                MessageKind::ErrorReply => frame.decode::<ErrorReply>().map(|r| r.to_error()).err(),
                _ => None,
            };
            if let Some(error) = decoded {
                assert!(
                    matches!(error, FrameError::InvalidPayload { .. }),
                    "{error}"
                );
            }
        }
    }
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let mut reader = FrameReader::new();
    reader.extend(&data[..split]);
    let _ = reader.next_frame();
    reader.extend(&data[split..]);
    // Bounded: each frame consumes at least 24 bytes.
    for _ in 0..data.len() / 24 + 1 {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                let _ = frame.check_payload();
            }
            Ok(None) => break,
            Err(error) if error.is_fatal() => break,
            Err(_) => {}
        }
    }
}
