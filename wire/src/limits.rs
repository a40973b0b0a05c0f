//! Protocol limits: every size, count, depth and batch bound of the data model and the protocol.
//!
//! Invariant: each bound is named once, here, and the relations between bounds are checked at
//! compile time (`const _: () = assert!(...)`). Values follow dynamodb-semantics.md §15; sizes
//! are binary (1 KB = 1024 bytes).
//! Does not enforce anything itself: `validate`, `number`, `frame` and `message` do.

/// Largest item, in DynamoDB's size accounting (names + values, §2.3): 400 KB.
pub const ITEM_SIZE_MAX: u32 = 400 * 1024;
/// Largest partition-key value in bytes (UTF-8 for S, raw for B).
pub const PARTITION_KEY_SIZE_MAX: u32 = 2048;
/// Largest sort-key value in bytes (UTF-8 for S, raw for B).
pub const SORT_KEY_SIZE_MAX: u32 = 1024;
/// Deepest document: the item is level 1, a top-level attribute level 2, and so on.
pub const DOCUMENT_DEPTH_MAX: u32 = 32;
/// Longest attribute name in UTF-8 bytes (65535 accepted, 65536 rejected).
pub const ATTRIBUTE_NAME_SIZE_MAX: u32 = 65535;
/// Longest key-attribute name (table and index keys, projected non-key names), UTF-8 bytes.
pub const KEY_ATTRIBUTE_NAME_SIZE_MAX: u32 = 255;

/// Most significant digits a number may have.
pub const NUMBER_DIGITS_MAX: u32 = 38;
/// Largest decimal exponent of a number's leading digit (9.99…E+125 is the largest magnitude).
pub const NUMBER_EXPONENT_MAX: i32 = 125;
/// Smallest decimal exponent of a number's leading digit (1E-130 is the smallest magnitude).
pub const NUMBER_EXPONENT_MIN: i32 = -130;
/// Longest input text echoed back inside an error message; longer texts are cut.
pub const ERROR_ECHO_SIZE_MAX: usize = 256;

/// Shortest table, index or backup name.
pub const TABLE_NAME_SIZE_MIN: u32 = 3;
/// Longest table, index or backup name.
pub const TABLE_NAME_SIZE_MAX: u32 = 255;
/// Longest table ARN accepted where a table name is expected.
pub const TABLE_ARN_SIZE_MAX: u32 = 1024;
/// Most local secondary indexes per table.
pub const LOCAL_SECONDARY_INDEXES_MAX: u32 = 5;
/// Most global secondary indexes per table (DynamoDB's default quota).
pub const GLOBAL_SECONDARY_INDEXES_MAX: u32 = 20;
/// Most HASH (and, separately, RANGE) attributes in one multi-attribute GSI key.
pub const GSI_KEY_ATTRIBUTES_MAX: u32 = 4;
/// Most projected non-key attribute names, summed over all indexes of a table.
pub const PROJECTED_ATTRIBUTES_MAX: u32 = 100;
/// Most tags on one resource.
pub const TAGS_PER_RESOURCE_MAX: u32 = 50;
/// Longest tag key, in characters.
pub const TAG_KEY_SIZE_MAX: u32 = 128;
/// Longest tag value, in characters.
pub const TAG_VALUE_SIZE_MAX: u32 = 256;
/// Longest TTL attribute name, in characters.
pub const TTL_ATTRIBUTE_NAME_SIZE_MAX: u32 = 255;

/// Longest expression string, in bytes.
pub const EXPRESSION_SIZE_MAX: u32 = 4096;
/// Longest expression placeholder (`#name` or `:value`), in bytes.
pub const EXPRESSION_PLACEHOLDER_SIZE_MAX: u32 = 255;

/// Largest request body (and the base of the frame-size limit).
pub const REQUEST_SIZE_MAX: u32 = 16 * 1024 * 1024;
/// Most items read into one Query or Scan page, in bytes of item data.
pub const QUERY_PAGE_SIZE_MAX: u32 = 1024 * 1024;
/// Most keys in one BatchGetItem call.
pub const BATCH_GET_KEYS_MAX: u32 = 100;
/// Largest BatchGetItem response, in bytes of item data.
pub const BATCH_GET_RESPONSE_SIZE_MAX: u32 = 16 * 1024 * 1024;
/// Most put/delete requests in one BatchWriteItem call.
pub const BATCH_WRITE_REQUESTS_MAX: u32 = 25;
/// Most actions in one TransactWriteItems or TransactGetItems call.
pub const TRANSACT_ITEMS_MAX: u32 = 100;
/// Largest transaction request (and TransactGetItems result), in bytes.
pub const TRANSACT_SIZE_MAX: u32 = 4 * 1024 * 1024;
/// Longest ClientRequestToken, in characters.
pub const CLIENT_REQUEST_TOKEN_SIZE_MAX: u32 = 36;
/// Largest `Limit` of ListTables, ListStreams and DescribeStream.
pub const LIST_PAGE_LIMIT_MAX: u32 = 100;
/// Largest `Limit` of GetRecords.
pub const GET_RECORDS_LIMIT_MAX: u32 = 1000;
/// Largest `TotalSegments` of a parallel Scan.
pub const SCAN_TOTAL_SEGMENTS_MAX: u32 = 1_000_000;
/// Longest shard iterator, in characters.
pub const SHARD_ITERATOR_SIZE_MAX: u32 = 2048;

/// Largest frame on the binary protocol (header included). Twice the request-body limit: the
/// rkyv form of a document is larger than its DynamoDB size (every value carries a tag and a
/// relative pointer), and a full BatchGetItem response carries 16 MB of item data.
pub const FRAME_SIZE_MAX: u32 = 2 * REQUEST_SIZE_MAX;
/// Deepest nesting of relative pointers that frame validation follows. Documents nest at most
/// 32 levels, and each level costs at most a few pointers (a map's B-tree nodes, its key
/// strings); the bound keeps bytecheck's recursion off the end of the stack on hostile input.
pub const RKYV_SUBTREE_DEPTH_MAX: usize = 1024;
/// Most replicas named in one partition-map entry.
pub const PARTITION_REPLICAS_MAX: u32 = 7;

// A batch of maximum-size items must still fit in one request.
const _: () = assert!(BATCH_WRITE_REQUESTS_MAX * ITEM_SIZE_MAX <= REQUEST_SIZE_MAX);
// A full BatchGetItem response must fit in a frame.
const _: () = assert!(BATCH_GET_RESPONSE_SIZE_MAX < FRAME_SIZE_MAX);
// The frame length field is a u32 and the decoder adds to it: keep headroom.
const _: () = assert!(FRAME_SIZE_MAX <= u32::MAX / 2);
// A key must fit in an item.
const _: () = assert!(PARTITION_KEY_SIZE_MAX + SORT_KEY_SIZE_MAX < ITEM_SIZE_MAX);
// 38 decimal digits fit in a u128 coefficient (10^38 < 2^127).
const _: () = assert!(NUMBER_DIGITS_MAX == 38);
