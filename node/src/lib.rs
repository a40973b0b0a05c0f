//! Shoal storage node: the shard runtime, the storage engine and (later) replication and
//! request execution.
//!
//! Invariant: no lock is shared between shards; each shard owns its files, cache and log.
//! Only `rt` and `storage::dma` name glommio.

pub mod cmd;
pub mod config;
pub mod exec;
pub mod meta;
pub mod replication;
pub mod rt;
pub mod server;
pub mod storage;
