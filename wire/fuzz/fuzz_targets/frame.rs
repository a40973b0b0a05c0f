//! Fuzz target: arbitrary bytes into the frame decoder, payload validation for every kind,
//! owned decoding of accepted payloads, and the incremental reader fed in two pieces.
//! Invariant checked: no input panics; a frame that validates also deserialises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::frame::{Decoded, FrameReader, decode_frame};
use shoal_wire::message::{ErrorReply, MessageKind, PutItemRequest, QueryRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(Decoded::Frame(frame)) = decode_frame(data) {
        if frame.check_payload().is_ok() {
            match frame.header.kind {
                MessageKind::PutItemRequest => {
                    frame
                        .decode::<PutItemRequest>()
                        .expect("validated payload decodes");
                }
                MessageKind::QueryRequest => {
                    frame
                        .decode::<QueryRequest>()
                        .expect("validated payload decodes");
                }
                MessageKind::ErrorReply => {
                    frame
                        .decode::<ErrorReply>()
                        .expect("validated payload decodes")
                        .to_error();
                }
                _ => {}
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
});
