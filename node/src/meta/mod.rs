//! Cluster metadata: the catalog of tables and partitions, the metadata raft group's state
//! machine that changes it, and the copy every other shard keeps in sync.
//!
//! Invariant: the catalog changes only by applying committed metadata commands on the
//! metadata shard; every other shard's copy is a cache refreshed from it.

pub mod catalog;
pub mod machine;
pub mod sync;
