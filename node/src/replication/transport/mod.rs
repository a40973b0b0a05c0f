//! The replication transport: QUIC between the shards of different nodes, with mutual TLS.
//!
//! Shape (RUNTIME-NOTES §2.5): one QUIC endpoint per shard on its own UDP port (peer base
//! port + shard index); a shard opens one connection to each remote shard it sends to and
//! receives on the connections remote shards opened to it, so a raft message never crosses a
//! core on either side. Each connection carries two long-lived unidirectional streams: the
//! `Raft` lane (appends, bulk) and the higher-priority `Control` lane (votes, heartbeats,
//! lease traffic), so an append backlog never delays a lease renewal. Every stream starts
//! with a hello naming the sender's (node, shard) and the target shard; the hello's node must
//! be the node named in the sender's certificate (pitfall 13); then length-prefixed frames
//! with a CRC32C (`frame.rs`).
//!
//! `core.rs` is sans-IO (datagrams and time in, datagrams and deliveries out), so tests can
//! run two cores against each other in memory; `endpoint.rs` drives a core on a glommio UDP
//! socket; `tls.rs` builds the TLS 1.3-only configurations (0-RTT off) and checks peer
//! identities; `certs.rs` mints a development CA and node certificates.
//!
//! Not here: what the messages mean (the raft driver decides), and snapshots (their own
//! streams, added with snapshot transfer).

pub mod certs;
mod core;
mod endpoint;
mod frame;
pub mod tls;

pub use self::core::{
    Lane, Membership, PeerNode, SendError, ShardAddr, TransportCore, TransportEvent,
    TransportLimits, TransportStats,
};
pub use endpoint::{Transport, bind_udp_exclusive};
pub use frame::MESSAGE_BYTES_MAX;

#[cfg(test)]
mod tests;
