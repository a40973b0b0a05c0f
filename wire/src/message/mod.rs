//! The protocol's messages: a request and a response for every operation of
//! dynamodb-semantics.md §6, §7 and §13, the cluster messages, and the error reply; plus the
//! message-kind table that frames carry (PROTOCOL.md, "Message kinds").
//!
//! Invariant: each message type has exactly one [`MessageKind`], whose `u16` code is fixed
//! forever; requests have even codes, responses odd codes (the error reply is 0x0001).
//! New kinds are appended, never renumbered. Does not frame or checksum (see `frame`).

pub mod cluster;
pub mod common;
pub mod control;
pub mod data;
pub mod reply;
pub mod streams;

use rkyv::api::high::HighSerializer;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;

pub use cluster::*;
pub use common::*;
pub use control::*;
pub use data::*;
pub use reply::*;
pub use streams::*;

/// A message type that travels in frames.
pub trait Message:
    rkyv::Archive + for<'a> rkyv::Serialize<HighSerializer<Vec<u8>, ArenaHandle<'a>, rancor::Error>>
{
    /// The kind written in the frame header.
    const KIND: MessageKind;
}

/// Declares the kind table once: the enum, its codes and names, the `Message` impls, and a
/// dispatcher that validates a payload of any kind.
macro_rules! message_kinds {
    ($( $kind:ident = $code:literal => $ty:ty ),* $(,)?) => {
        /// The kind of a frame's payload. Codes are fixed forever (PROTOCOL.md).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum MessageKind {
            $(
                #[doc = concat!("`", stringify!($ty), "`")]
                $kind = $code,
            )*
        }

        impl MessageKind {
            /// Every kind, in code order.
            pub const ALL: &'static [MessageKind] = &[ $( MessageKind::$kind ),* ];

            /// The wire code.
            pub fn code(self) -> u16 {
                self as u16
            }

            /// The kind with this code, if this build knows it.
            pub fn from_code(code: u16) -> Option<MessageKind> {
                match code {
                    $( $code => Some(MessageKind::$kind), )*
                    _ => None,
                }
            }

            /// The kind's name, as in PROTOCOL.md.
            pub fn name(self) -> &'static str {
                match self {
                    $( MessageKind::$kind => stringify!($kind), )*
                }
            }

            /// Responses (and the error reply) have odd codes.
            pub fn is_response(self) -> bool {
                self.code() & 1 == 1
            }
        }

        $( impl Message for $ty { const KIND: MessageKind = MessageKind::$kind; } )*

        /// Validates (bytecheck) a payload of the given kind without deserializing it.
        pub(crate) fn check_payload(
            kind: MessageKind,
            payload: &[u8],
        ) -> Result<(), crate::frame::FrameError> {
            match kind {
                $( MessageKind::$kind => crate::frame::access::<$ty>(kind, payload).map(|_| ()), )*
            }
        }

        /// Test support: encode a sample of every kind, decode it, compare.
        #[cfg(test)]
        pub(crate) fn round_trip_every_kind(seed: u64) -> Result<usize, String> {
            let mut g = crate::sample::Gen::new(seed);
            let mut frames = 0;
            $(
                frames += crate::frame::tests::round_trip::<$ty>(
                    &mut g,
                    <$ty as crate::sample::Sample>::sample,
                )?;
            )*
            Ok(frames)
        }
    };
}

message_kinds! {
    ErrorReply = 0x0001 => ErrorReply,

    PutItemRequest = 0x0100 => PutItemRequest,
    PutItemResponse = 0x0101 => PutItemResponse,
    GetItemRequest = 0x0102 => GetItemRequest,
    GetItemResponse = 0x0103 => GetItemResponse,
    UpdateItemRequest = 0x0104 => UpdateItemRequest,
    UpdateItemResponse = 0x0105 => UpdateItemResponse,
    DeleteItemRequest = 0x0106 => DeleteItemRequest,
    DeleteItemResponse = 0x0107 => DeleteItemResponse,
    QueryRequest = 0x0108 => QueryRequest,
    QueryResponse = 0x0109 => QueryResponse,
    ScanRequest = 0x010A => ScanRequest,
    ScanResponse = 0x010B => ScanResponse,
    BatchGetItemRequest = 0x010C => BatchGetItemRequest,
    BatchGetItemResponse = 0x010D => BatchGetItemResponse,
    BatchWriteItemRequest = 0x010E => BatchWriteItemRequest,
    BatchWriteItemResponse = 0x010F => BatchWriteItemResponse,
    TransactWriteItemsRequest = 0x0110 => TransactWriteItemsRequest,
    TransactWriteItemsResponse = 0x0111 => TransactWriteItemsResponse,
    TransactGetItemsRequest = 0x0112 => TransactGetItemsRequest,
    TransactGetItemsResponse = 0x0113 => TransactGetItemsResponse,

    CreateTableRequest = 0x0200 => CreateTableRequest,
    CreateTableResponse = 0x0201 => CreateTableResponse,
    DeleteTableRequest = 0x0202 => DeleteTableRequest,
    DeleteTableResponse = 0x0203 => DeleteTableResponse,
    DescribeTableRequest = 0x0204 => DescribeTableRequest,
    DescribeTableResponse = 0x0205 => DescribeTableResponse,
    ListTablesRequest = 0x0206 => ListTablesRequest,
    ListTablesResponse = 0x0207 => ListTablesResponse,
    UpdateTableRequest = 0x0208 => UpdateTableRequest,
    UpdateTableResponse = 0x0209 => UpdateTableResponse,
    DescribeTimeToLiveRequest = 0x020A => DescribeTimeToLiveRequest,
    DescribeTimeToLiveResponse = 0x020B => DescribeTimeToLiveResponse,
    UpdateTimeToLiveRequest = 0x020C => UpdateTimeToLiveRequest,
    UpdateTimeToLiveResponse = 0x020D => UpdateTimeToLiveResponse,
    TagResourceRequest = 0x020E => TagResourceRequest,
    TagResourceResponse = 0x020F => TagResourceResponse,
    UntagResourceRequest = 0x0210 => UntagResourceRequest,
    UntagResourceResponse = 0x0211 => UntagResourceResponse,
    ListTagsOfResourceRequest = 0x0212 => ListTagsOfResourceRequest,
    ListTagsOfResourceResponse = 0x0213 => ListTagsOfResourceResponse,
    CreateBackupRequest = 0x0214 => CreateBackupRequest,
    CreateBackupResponse = 0x0215 => CreateBackupResponse,
    DescribeBackupRequest = 0x0216 => DescribeBackupRequest,
    DescribeBackupResponse = 0x0217 => DescribeBackupResponse,
    ListBackupsRequest = 0x0218 => ListBackupsRequest,
    ListBackupsResponse = 0x0219 => ListBackupsResponse,
    DeleteBackupRequest = 0x021A => DeleteBackupRequest,
    DeleteBackupResponse = 0x021B => DeleteBackupResponse,
    RestoreTableFromBackupRequest = 0x021C => RestoreTableFromBackupRequest,
    RestoreTableFromBackupResponse = 0x021D => RestoreTableFromBackupResponse,
    UpdateContinuousBackupsRequest = 0x021E => UpdateContinuousBackupsRequest,
    UpdateContinuousBackupsResponse = 0x021F => UpdateContinuousBackupsResponse,
    DescribeContinuousBackupsRequest = 0x0220 => DescribeContinuousBackupsRequest,
    DescribeContinuousBackupsResponse = 0x0221 => DescribeContinuousBackupsResponse,
    RestoreTableToPointInTimeRequest = 0x0222 => RestoreTableToPointInTimeRequest,
    RestoreTableToPointInTimeResponse = 0x0223 => RestoreTableToPointInTimeResponse,

    ListStreamsRequest = 0x0300 => ListStreamsRequest,
    ListStreamsResponse = 0x0301 => ListStreamsResponse,
    DescribeStreamRequest = 0x0302 => DescribeStreamRequest,
    DescribeStreamResponse = 0x0303 => DescribeStreamResponse,
    GetShardIteratorRequest = 0x0304 => GetShardIteratorRequest,
    GetShardIteratorResponse = 0x0305 => GetShardIteratorResponse,
    GetRecordsRequest = 0x0306 => GetRecordsRequest,
    GetRecordsResponse = 0x0307 => GetRecordsResponse,

    DescribeClusterRequest = 0x0400 => DescribeClusterRequest,
    DescribeClusterResponse = 0x0401 => DescribeClusterResponse,
    GetPartitionMapRequest = 0x0402 => GetPartitionMapRequest,
    GetPartitionMapResponse = 0x0403 => GetPartitionMapResponse,
    TransferLeaderRequest = 0x0404 => TransferLeaderRequest,
    TransferLeaderResponse = 0x0405 => TransferLeaderResponse,
}
