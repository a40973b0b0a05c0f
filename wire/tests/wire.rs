//! Integration tests of shoal-wire's public API as the node and the client use it: a request
//! framed, streamed through a `FrameReader`, accessed in place without allocating, answered
//! with an error reply that keeps its kind.
//!
//! One integration-test binary per crate (CONVENTIONS §11); unit and property tests live
//! beside the code.

use std::collections::BTreeMap;

use shoal_wire::cluster::{Epoch, NodeId, PartitionId, PartitionMapEntry, ReplicaLocation};
use shoal_wire::cluster::{ShardId, TableId};
use shoal_wire::frame::{Decoded, FrameReader, decode_frame, encode_frame, encode_frame_into};
use shoal_wire::message::{ErrorReply, GetItemRequest, MessageKind};
use shoal_wire::{AttributeValue, Error, ErrorKind, Item, Number};

fn get_request() -> GetItemRequest {
    let mut key = Item::new();
    key.insert("pk".into(), AttributeValue::S("user#1".into()));
    key.insert(
        "sk".into(),
        AttributeValue::N(Number::parse("42").expect("valid")),
    );
    GetItemRequest {
        table_name: "Users".into(),
        key,
        consistent_read: Some(true),
        projection_expression: Some("#n, email".into()),
        expression_attribute_names: Some(BTreeMap::from([("#n".into(), "name".into())])),
        attributes_to_get: None,
        return_consumed_capacity: None,
        map_epoch: Epoch(12),
    }
}

/// The decode path (frame check + payload validation + field access) allocates nothing: the
/// archived request is read where the bytes lie.
#[test]
fn decode_validate_access_allocates_nothing() {
    let bytes = encode_frame(5, &get_request()).expect("encodes");
    // The counter works: one boxed value is one allocation.
    let boxed = allocation_counter::measure(|| drop(std::hint::black_box(Box::new(1u64))));
    assert_eq!(boxed.count_total, 1);
    let info = allocation_counter::measure(|| {
        let Ok(Decoded::Frame(frame)) = decode_frame(&bytes) else {
            panic!("frame")
        };
        let request = frame.access::<GetItemRequest>().expect("valid");
        assert_eq!(request.table_name.as_str(), "Users");
        assert_eq!(request.key.len(), 2);
        assert_eq!(request.map_epoch.0.to_native(), 12);
    });
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn pipelined_frames_stream_through_a_reader() {
    let mut wire = Vec::new();
    for id in 0..10u64 {
        encode_frame_into(&mut wire, id, &get_request()).expect("encodes");
    }
    let mut reader = FrameReader::new();
    let mut ids = Vec::new();
    for chunk in wire.chunks(37) {
        reader.extend(chunk);
        while let Some(frame) = reader.next_frame().expect("valid stream") {
            assert_eq!(frame.header.kind, MessageKind::GetItemRequest);
            let request: GetItemRequest = frame.decode().expect("valid");
            assert_eq!(request, get_request());
            ids.push(frame.header.request_id);
        }
    }
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
}

#[test]
fn routing_error_reply_carries_the_fresh_map_entry() {
    let leader = ReplicaLocation {
        node: NodeId(2),
        shard: ShardId(5),
    };
    let mut reply = ErrorReply::from_error(&Error::not_leader(Some(leader)));
    reply.partition = Some(PartitionMapEntry {
        table: TableId(1),
        partition: PartitionId(9),
        hash_start: 0,
        hash_end: u64::MAX / 2,
        replicas: vec![
            leader,
            ReplicaLocation {
                node: NodeId(3),
                shard: ShardId(5),
            },
        ],
        leader: Some(leader),
        epoch: Epoch(44),
    });
    let bytes = encode_frame(77, &reply).expect("encodes");
    let Ok(Decoded::Frame(frame)) = decode_frame(&bytes) else {
        panic!("frame")
    };
    assert!(frame.header.kind.is_response());
    let archived = frame.access::<ErrorReply>().expect("valid");
    assert_eq!(
        archived.kind(),
        Some(ErrorKind::NotLeader { hint: Some(leader) })
    );
    let back: ErrorReply = frame.decode().expect("valid");
    assert_eq!(
        back.to_error().kind,
        ErrorKind::NotLeader { hint: Some(leader) }
    );
    let entry = back.partition.expect("entry");
    assert!(entry.covers(7) && entry.check().is_ok());
    let unknown = ErrorReply {
        code: 999,
        ..ErrorReply::from_error(&Error::validation("x"))
    };
    assert_eq!(unknown.to_error().kind, ErrorKind::InternalServerError);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Protocol version 1 compatibility: these exact bytes were written by version 1 and must
/// keep decoding to the same messages, and encoding must keep producing them. A failure here
/// means a message layout changed (a field added, removed, reordered or retyped): that needs a
/// protocol version bump and a PROTOCOL.md entry (section 5), not a new golden string.
#[test]
fn version_1_golden_frames_are_stable() {
    let get = encode_frame(5, &get_request()).expect("encodes");
    let reply = ErrorReply::from_error(&Error::conditional_check_failed());
    let reply_bytes = encode_frame(6, &reply).expect("encodes");
    assert_eq!(hex(&get), GOLDEN_GET_ITEM_REQUEST);
    assert_eq!(hex(&reply_bytes), GOLDEN_ERROR_REPLY);
    let stored: Vec<u8> = (0..GOLDEN_GET_ITEM_REQUEST.len() / 2)
        .map(|i| u8::from_str_radix(&GOLDEN_GET_ITEM_REQUEST[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let Ok(Decoded::Frame(frame)) = decode_frame(&stored) else {
        panic!("golden frame")
    };
    assert_eq!(
        frame.decode::<GetItemRequest>().expect("valid"),
        get_request()
    );
}

const GOLDEN_GET_ITEM_REQUEST: &str = concat!(
    "3e01000009c1d3610100020100000000050000000000000000706bffffffffffff736bffffffffffff000000",
    "00000000000000000000000000000000000000000000757365722331ffff0000000000000000000000012a00",
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000002000000236e2c20656d61",
    "696c00236effffffffffff00000000000000000000000000000000000000000000000000000000000000006e",
    "616d65ffffffff00000000000000000000000000000000000000000000000000000000000000000100000055",
    "73657273ffffff09ffffff02000000010101890000008fffffff018fffffff01000000000000000000000000",
    "00000c00000000000000",
);
const GOLDEN_ERROR_REPLY: &str = concat!(
    "9000000027857c2e0100010001000000060000000000000054686520636f6e646974696f6e616c2072657175",
    "657374206661696c656405009e000000e0ffffff000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000b7ffffff00",
    "000000000000000000000000",
);
