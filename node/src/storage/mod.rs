//! The storage engine of one shard: write-ahead log, copy-on-write B+tree, page cache,
//! checkpoints and recovery, behind the [`io::Disk`] boundary.
//!
//! Invariant: nothing acknowledged is lost. Writes are acknowledged only once durable in the
//! log; the tree is made durable lazily by checkpoints; recovery = newest valid checkpoint +
//! replay of the log after it. Corruption is detected (CRC32C everywhere) and reported with
//! file, offset and reason, never returned as data. The first failed write or fsync stops
//! the shard's storage (fail-stop).

pub mod batch;
pub mod btree;
pub mod dma;
pub mod engine;
pub mod error;
pub mod fsck;
pub mod io;
pub mod page_cache;
pub mod prefetch;
pub mod replay;
pub mod sim;
pub mod wal;

pub use btree::Op;
pub use engine::{Committed, Engine, EngineConfig, EngineStats};
pub use error::StorageError;
