//! Request execution: what a shard does with a data-plane request once it arrives, and the
//! table catalog logic of the metadata group.
//!
//! Shape of the data path (the server drives it):
//! 1. `prepare_*` (pure, no I/O) validates a request against its table like DynamoDB and
//!    reports where the item or range lives (`ItemKey::hash`, `PreparedQuery::hash`, ...), so
//!    the server can route and answer `WrongShard` itself.
//! 2. Writes (`PutItem`, `UpdateItem`, `DeleteItem`, each write of `BatchWriteItem`) are
//!    replicated as the request; at apply time, in log order, `apply_*` reads the current item
//!    through an [`ItemReader`] and returns a deterministic [`WriteOutcome`]: storage ops, the
//!    response, the units consumed.
//! 3. Reads (`get_item`, `query`, `scan_range`, `batch_get`) run at the shard.
//! 4. `capacity` computes units and throttles PROVISIONED tables per partition; `tables` builds
//!    and changes table descriptions.
//!
//! Invariant: nothing here reads a clock, draws randomness, or mutates storage; every error is
//! a `shoal_wire::Error` with DynamoDB's kind and wording; stored items are `item_codec` bytes
//! under `shoal_wire::key` storage keys.
//! Does not route, replicate, or talk to the network; secondary indexes, streams, TTL, tags,
//! backups and transactions are not executed yet.

mod batch_get;
mod batch_write;
mod bits;
pub mod capacity;
mod delete;
mod get;
pub mod item_codec;
mod page;
mod params;
mod put;
mod query;
mod read;
mod reader;
mod scan;
mod select;
mod table;
pub mod tables;
mod update;
mod write;

pub use batch_get::{
    BatchGetTable, PreparedBatchGet, add_unprocessed_keys, batch_get, prepare_batch_get,
};
pub use batch_write::{
    BatchWrite, BatchWriteProposal, BatchWriteResponse, PreparedBatchWrite, apply_batch_write,
    prepare_batch_write,
};
pub use delete::{PreparedDelete, apply_delete, prepare_delete};
pub use get::{PreparedGet, get_item, prepare_get};
pub use page::{PAGE_CHUNK_BYTES_MAX, PAGE_CHUNK_ITEMS_MAX};
pub use put::{PreparedPut, PutChecks, apply_put, prepare_put};
pub use query::{PreparedQuery, prepare_query, query};
pub use read::ReadOutcome;
pub use reader::{ItemReader, storage_error};
pub use scan::{PreparedScan, ScanPage, prepare_scan, scan_range};
pub use select::Selection;
pub use table::{ItemKey, TableContext, table_name_from_parameter};
pub use update::{PreparedUpdate, apply_update, prepare_update};
pub use write::{WriteError, WriteOutcome};

#[cfg(test)]
pub(crate) mod tests;
