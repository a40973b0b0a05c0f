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
