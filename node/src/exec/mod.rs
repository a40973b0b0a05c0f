//! Request execution: what a shard does with a data-plane request once it arrives, and the
//! table catalog logic of the metadata group.
//!
//! So far: the storage format of items (`item_codec`) and how execution reads them
//! ([`ItemReader`]), capacity units and per-partition throttling (`capacity`), and the table
//! catalog logic (`tables`).
//!
//! Invariant: nothing here reads a clock, draws randomness, or mutates storage; every error is
//! a `shoal_wire::Error` with DynamoDB's kind and wording; stored items are `item_codec` bytes
//! under `shoal_wire::key` storage keys.
//! Does not route, replicate, or talk to the network; secondary indexes, streams, TTL, tags,
//! backups and transactions are not executed yet.

mod bits;
pub mod capacity;
pub mod item_codec;
mod reader;
pub mod tables;

pub use reader::{ItemReader, storage_error};

#[cfg(test)]
mod tests;
