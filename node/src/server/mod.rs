//! The storage node server: start-up, shards, client connections and request handling.
//!
//! Invariant: a client request is handled entirely on the shard whose port it arrived on;
//! data requests are never forwarded (a request for a key another shard owns is answered
//! `WrongShard` with the fresh map entry); only cold control-plane requests travel to the
//! metadata shard.

pub mod cluster;
pub mod conn;
pub mod control;
pub mod data;
pub mod dispatch;
pub mod listener;
pub mod machine;
pub mod node_client;
pub mod shard;
pub mod start;
pub mod sys;
