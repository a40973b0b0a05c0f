//! Replication: every partition (and the cluster metadata) is a raft group, driven by the
//! shard that hosts it, with the shard's write-ahead log as the raft log of all its groups.
//!
//! Invariant: only `driver.rs` calls into the `raft` crate. In this stage every group has a
//! single replica; adding peers adds a transport, not a new write path.

pub mod driver;
pub mod log_store;
mod logger;

pub use driver::{DriverConfig, ProposeError, RaftDriver, StateMachine};
