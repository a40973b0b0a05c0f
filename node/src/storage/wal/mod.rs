//! Write-ahead log of one shard, shared by many logical streams.
//!
//! Invariant: a record is acknowledged only after the fdatasync covering it has completed;
//! recovery cuts a torn, never-acknowledged tail and refuses to open on corruption of
//! acknowledged data. Does not know about raft or the B+tree: callers hand it opaque
//! payloads tagged with a stream id, index and term.

pub mod format;
pub mod index;
mod log;
pub mod recovery;
pub mod segment;

pub use format::{Record, RecordKind};
pub use index::{RecordLoc, StreamIndex};
pub use log::{FLUSHES_IN_FLIGHT_DEFAULT, LogEntry, Wal, WalConfig, WalStats};
