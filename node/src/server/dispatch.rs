//! From a request frame to an answer frame: decode (validated), route to the handler of its
//! kind, encode the response or the error reply with the same request id.
//!
//! Every kind in the protocol has an answer here: implemented operations run; operations
//! this node does not execute yet answer a typed `NotSupportedYet` error; response kinds sent
//! as requests are refused. Nothing here panics on input.

use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use shoal_wire::message::{self as msg, ErrorReply, Message, MessageKind};
use shoal_wire::{Error, encode_frame};

use super::shard::Shard;
use super::{cluster, control, data};

/// Decodes a validated payload of kind `M`.
pub fn decode<M>(kind: MessageKind, payload: &[u8]) -> Result<M, Error>
where
    M: Message,
    M::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
        + rkyv::Deserialize<M, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let archived = shoal_wire::frame::access::<M>(kind, payload)
        .map_err(|e| Error::serialization(format!("invalid {} payload: {e}", kind.name())))?;
    rkyv::deserialize::<M, rancor::Error>(archived)
        .map_err(|e| Error::serialization(format!("invalid {} payload: {e}", kind.name())))
}

/// Encodes `result` as an answer frame for `request_id`.
pub fn answer<M: Message>(request_id: u64, result: Result<M, Error>) -> Vec<u8> {
    match result {
        Ok(m) => match encode_frame(request_id, &m) {
            Ok(frame) => frame,
            Err(e) => error_frame(request_id, &Error::internal(format!("encode answer: {e}"))),
        },
        Err(e) => error_frame(request_id, &e),
    }
}

/// An error reply frame.
pub fn error_frame(request_id: u64, error: &Error) -> Vec<u8> {
    error_reply_frame(request_id, ErrorReply::from_error(error))
}

/// An error reply frame with extra payload (partition entry, item).
pub fn error_reply_frame(request_id: u64, reply: ErrorReply) -> Vec<u8> {
    encode_frame(request_id, &reply).unwrap_or_else(|e| {
        // An error reply with a plain message always encodes; keep the connection usable.
        let plain = ErrorReply::from_error(&Error::internal(format!("encode error reply: {e}")));
        encode_frame(request_id, &plain).expect("a plain error reply encodes")
    })
}

/// Answers one request frame.
pub async fn handle(shard: &Shard, kind: MessageKind, id: u64, payload: &[u8]) -> Vec<u8> {
    use MessageKind as K;
    match kind {
        K::DescribeClusterRequest => {
            let r = decode::<msg::DescribeClusterRequest>(kind, payload);
            answer(id, r.map(|_| cluster::describe(shard)))
        }
        K::GetPartitionMapRequest => match decode::<msg::GetPartitionMapRequest>(kind, payload) {
            Ok(req) => answer(id, cluster::partition_map(shard, req).await),
            Err(e) => error_frame(id, &e),
        },
        K::TransferLeaderRequest => match decode::<msg::TransferLeaderRequest>(kind, payload) {
            Ok(req) => answer(id, cluster::transfer_leader(shard, req).await),
            Err(e) => error_frame(id, &e),
        },
        K::CreateTableRequest
        | K::DeleteTableRequest
        | K::DescribeTableRequest
        | K::ListTablesRequest
        | K::UpdateTableRequest => control::handle(shard, kind, id, payload).await,
        K::PutItemRequest
        | K::GetItemRequest
        | K::UpdateItemRequest
        | K::DeleteItemRequest
        | K::QueryRequest
        | K::ScanRequest
        | K::BatchGetItemRequest
        | K::BatchWriteItemRequest => data::handle(shard, kind, id, payload).await,
        k if k.is_response() => error_frame(
            id,
            &Error::validation(format!("{} is a response, not a request", k.name())),
        ),
        other => error_frame(id, &Error::not_supported_yet(other.name())),
    }
}
