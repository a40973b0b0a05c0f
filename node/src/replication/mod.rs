//! Replication: every partition (and the cluster metadata) is a raft group, driven by the
//! shard that hosts it, with the shard's write-ahead log as the raft log of all its groups.
//!
//! Invariant: only `driver.rs` (and `envelope.rs`, which encodes raft messages for the
//! transport) call into the `raft` crate. A group has one replica per node listed in its
//! partition's replicas; peers talk over `transport` (QUIC, mutual TLS).

pub mod driver;
mod envelope;
pub mod log_store;
mod logger;
pub mod snapshot;
pub mod transport;

pub use driver::{
    DriverConfig, DriverReport, Prepared, ProposeError, RaftDriver, StateMachine, TransferError,
};
