//! DynamoDB Streams messages (dynamodb-semantics.md §13.3): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords, and the record shape of §13.2.
//!
//! Invariant: sequence numbers and shard ids travel as the decimal / opaque strings DynamoDB
//! shows; times are milliseconds (creation request) or whole seconds (record approximate
//! creation time, rounded down as DynamoDB does).
//! Does not generate records or iterators; the node's stream log does.

use crate::schema::{KeySchemaElement, StreamViewType};
use crate::value::Item;

wire_struct! {
    /// ListStreams.
    pub struct ListStreamsRequest {
        /// Only this table's streams.
        pub table_name: Option<String>,
        /// 1..=100.
        pub limit: Option<u32>,
        /// Start after this stream.
        pub exclusive_start_stream_arn: Option<String>,
    }
}

wire_struct! {
    /// One stream in ListStreams.
    pub struct StreamSummary {
        /// Stream ARN.
        pub stream_arn: String,
        /// Table name.
        pub table_name: String,
        /// Label (ISO-8601 timestamp).
        pub stream_label: String,
    }
}

wire_struct! {
    /// ListStreams' page.
    pub struct ListStreamsResponse {
        /// Streams.
        pub streams: Vec<StreamSummary>,
        /// The last returned ARN when the page is full.
        pub last_evaluated_stream_arn: Option<String>,
    }
}

wire_names! {
    /// `ShardFilter.Type`.
    pub enum ShardFilterType {
        /// Children of the given shard.
        ChildShards = "CHILD_SHARDS",
    }
}

wire_struct! {
    /// `ShardFilter` of DescribeStream.
    pub struct ShardFilter {
        /// Filter type.
        pub filter_type: ShardFilterType,
        /// The parent shard.
        pub shard_id: String,
    }
}

wire_struct! {
    /// DescribeStream.
    pub struct DescribeStreamRequest {
        /// Stream ARN.
        pub stream_arn: String,
        /// 1..=100 shards.
        pub limit: Option<u32>,
        /// Start after this shard.
        pub exclusive_start_shard_id: Option<String>,
        /// Only children of a shard.
        pub shard_filter: Option<ShardFilter>,
    }
}

wire_struct! {
    /// `SequenceNumberRange` of a shard.
    pub struct SequenceNumberRange {
        /// First sequence number.
        pub starting_sequence_number: String,
        /// Last one; absent while the shard is open.
        pub ending_sequence_number: Option<String>,
    }
}

wire_struct! {
    /// A stream shard.
    pub struct Shard {
        /// Shard id (28–65 characters).
        pub shard_id: String,
        /// Parent shard.
        pub parent_shard_id: Option<String>,
        /// Sequence numbers.
        pub sequence_number_range: SequenceNumberRange,
    }
}

wire_names! {
    /// `StreamStatus`.
    pub enum StreamStatus {
        /// Being enabled.
        Enabling = "ENABLING",
        /// On.
        Enabled = "ENABLED",
        /// Being disabled.
        Disabling = "DISABLING",
        /// Off (still readable for 24 h).
        Disabled = "DISABLED",
    }
}

wire_struct! {
    /// `StreamDescription`.
    pub struct StreamDescription {
        /// Stream ARN.
        pub stream_arn: String,
        /// Label.
        pub stream_label: String,
        /// Status.
        pub stream_status: StreamStatus,
        /// View type.
        pub stream_view_type: StreamViewType,
        /// When the stream was requested.
        pub creation_request_date_time_ms: u64,
        /// Table name.
        pub table_name: String,
        /// The table's key schema.
        pub key_schema: Vec<KeySchemaElement>,
        /// Shards of this page.
        pub shards: Vec<Shard>,
        /// Continuation.
        pub last_evaluated_shard_id: Option<String>,
    }
}

wire_struct! {
    /// DescribeStream's result.
    pub struct DescribeStreamResponse {
        /// The stream.
        pub stream_description: StreamDescription,
    }
}

wire_names! {
    /// `ShardIteratorType`.
    pub enum ShardIteratorType {
        /// Oldest untrimmed record.
        TrimHorizon = "TRIM_HORIZON",
        /// After the newest record.
        Latest = "LATEST",
        /// At a sequence number.
        AtSequenceNumber = "AT_SEQUENCE_NUMBER",
        /// After a sequence number.
        AfterSequenceNumber = "AFTER_SEQUENCE_NUMBER",
    }
}

wire_struct! {
    /// GetShardIterator.
    pub struct GetShardIteratorRequest {
        /// Stream ARN.
        pub stream_arn: String,
        /// Shard id.
        pub shard_id: String,
        /// Where to start.
        pub shard_iterator_type: ShardIteratorType,
        /// Required for AT_/AFTER_SEQUENCE_NUMBER, forbidden otherwise.
        pub sequence_number: Option<String>,
    }
}

wire_struct! {
    /// GetShardIterator's result.
    pub struct GetShardIteratorResponse {
        /// Iterator (≤ 2048 characters, valid 15 minutes).
        pub shard_iterator: Option<String>,
    }
}

wire_struct! {
    /// GetRecords.
    pub struct GetRecordsRequest {
        /// Iterator.
        pub shard_iterator: String,
        /// 1..=1000 records.
        pub limit: Option<u32>,
    }
}

wire_names! {
    /// `eventName` of a stream record.
    pub enum OperationType {
        /// Item created.
        Insert = "INSERT",
        /// Item changed.
        Modify = "MODIFY",
        /// Item deleted.
        Remove = "REMOVE",
    }
}

wire_struct! {
    /// `userIdentity` of a TTL deletion record.
    pub struct Identity {
        /// `dynamodb.amazonaws.com`.
        pub principal_id: String,
        /// `Service`.
        pub identity_type: String,
    }
}

wire_struct! {
    /// The `dynamodb` part of a record.
    pub struct StreamRecord {
        /// Epoch seconds, rounded down.
        pub approximate_creation_date_time_s: u64,
        /// Key attributes.
        pub keys: Item,
        /// Item after (NEW_IMAGE / NEW_AND_OLD_IMAGES, not on REMOVE).
        pub new_image: Option<Item>,
        /// Item before (OLD_IMAGE / NEW_AND_OLD_IMAGES, not on INSERT).
        pub old_image: Option<Item>,
        /// 21–40 decimal digits, increasing within a shard.
        pub sequence_number: String,
        /// Record size.
        pub size_bytes: u64,
        /// View type.
        pub stream_view_type: StreamViewType,
    }
}

wire_struct! {
    /// One stream record.
    pub struct Record {
        /// Unique id.
        pub event_id: String,
        /// INSERT, MODIFY or REMOVE.
        pub event_name: OperationType,
        /// `1.1`.
        pub event_version: String,
        /// `aws:dynamodb`.
        pub event_source: String,
        /// Region.
        pub aws_region: String,
        /// The change.
        pub dynamodb: StreamRecord,
        /// Present for TTL deletions.
        pub user_identity: Option<Identity>,
    }
}

wire_struct! {
    /// GetRecords' result.
    pub struct GetRecordsResponse {
        /// Records (empty, never absent, when none are available).
        pub records: Vec<Record>,
        /// Absent once a closed shard is exhausted.
        pub next_shard_iterator: Option<String>,
    }
}
