//! Node configuration: one TOML file (every key listed in `node/shoal-node.example.toml`),
//! overridden by command-line flags, checked by [`NodeConfig::validate`]; and the cluster
//! file (`cluster.toml`) that names every node of the cluster.
//!
//! Invariant: a configuration that passed `validate` describes a node that can start: sizes
//! are within their bounds and relations between fields hold. Errors name the field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::replication::transport::tls::TlsFiles;
use crate::storage::EngineConfig;

/// Largest shard count per node.
pub const SHARDS_MAX: u16 = 256;
/// Default registered DMA memory per shard (io_uring buffers).
pub const IO_MEMORY_DEFAULT: usize = 1 << 20;

/// One node's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id (1-based); must appear in the cluster file.
    pub node_id: u32,
    /// Path of the cluster file (`cluster.toml`).
    pub cluster_file: PathBuf,
    /// Data directory of this node (one `shard-N` directory per shard inside).
    pub data_dir: PathBuf,
    /// Shards (one per core). 0: as many as the CPUs this process may use.
    #[serde(default)]
    pub shards: u16,
    /// Storage settings, per shard.
    #[serde(default)]
    pub storage: StorageSection,
    /// Consensus settings.
    #[serde(default)]
    pub raft: RaftSection,
    /// Limits of the client listener.
    #[serde(default)]
    pub limits: LimitsSection,
    /// How each shard's executor uses its CPU.
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// Certificates of the replication transport (mutual TLS between nodes). Required when
    /// the cluster has more than one node.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
}

/// Storage settings of each shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Page cache budget per shard, bytes.
    pub cache_bytes: usize,
    /// Registered io_uring buffer memory per shard, bytes (counts against RLIMIT_MEMLOCK
    /// three times: glommio registers it with three rings).
    pub io_memory_bytes: usize,
    /// Log segment size, bytes.
    pub wal_segment_bytes: u64,
    /// Log flushes written at once (1: each waits for the one before it).
    #[serde(default = "wal_flushes_in_flight_default")]
    pub wal_flushes_in_flight: usize,
    /// Seconds between checkpoints while anything is dirty.
    pub checkpoint_interval_s: u64,
}

fn wal_flushes_in_flight_default() -> usize {
    crate::storage::wal::FLUSHES_IN_FLIGHT_DEFAULT
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            cache_bytes: 256 << 20,
            io_memory_bytes: IO_MEMORY_DEFAULT,
            wal_segment_bytes: 64 << 20,
            wal_flushes_in_flight: wal_flushes_in_flight_default(),
            checkpoint_interval_s: 10,
        }
    }
}

/// Consensus timing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RaftSection {
    /// Milliseconds per raft tick.
    pub tick_ms: u64,
    /// Ticks without a leader before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Log entries a leader keeps for a lagging follower after a checkpoint; a follower
    /// further behind is sent a snapshot. Followers keep as many, for when they lead.
    #[serde(default = "default_log_kept_for_followers")]
    pub log_kept_for_followers: u64,
    /// Bytes of applied log entries a group keeps in memory for followers that have not
    /// acknowledged them; a follower further behind is sent entries read back from the WAL.
    #[serde(default = "default_log_cache_bytes")]
    pub log_cache_bytes: u64,
}

fn default_log_kept_for_followers() -> u64 {
    crate::replication::driver::LOG_KEPT_FOR_FOLLOWERS_DEFAULT
}

fn default_log_cache_bytes() -> u64 {
    crate::replication::driver::LOG_CACHE_BYTES_DEFAULT
}

impl Default for RaftSection {
    fn default() -> Self {
        Self {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            log_kept_for_followers: default_log_kept_for_followers(),
            log_cache_bytes: default_log_cache_bytes(),
        }
    }
}

/// How each shard's executor uses its CPU.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// Microseconds a shard with nothing to do keeps polling before it parks its thread. A
    /// request hops between tasks and io_uring completions; polling through the gaps saves
    /// a wake-up per hop when the shard has its CPU to itself. 0 parks at once: right when
    /// several shards (several nodes of a local cluster) share a CPU, where one polling
    /// shard takes the CPU from the other. A client connection that has just been served
    /// and waits for nothing (its own requests, the log's flush) polls its socket as long
    /// before it arms an io_uring poll on it (server/conn.rs).
    pub spin_before_park_us: u64,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        Self {
            spin_before_park_us: SPIN_BEFORE_PARK_US_DEFAULT,
        }
    }
}

/// See [`RuntimeSection::spin_before_park_us`]: measured with shoal-bench on one node, one
/// shard, 2 vCPUs shared with the load generator (bench/README.md, "Polling before parking"):
/// 50 µs serves gets as fast as 200 µs (10-18% faster than parking at once) and durable puts
/// as fast as parking at once (1.3-1.6× faster than 200 µs, whose polling took the CPU the
/// fdatasync and the client needed).
pub const SPIN_BEFORE_PARK_US_DEFAULT: u64 = 50;

/// Polling longer than a raft tick only burns the CPU.
pub const SPIN_BEFORE_PARK_US_MAX: u64 = 100_000;

/// Bounds of the client listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Open client connections per shard; more are refused.
    pub connections_per_shard_max: usize,
    /// Requests in flight per connection; the reader pauses beyond it.
    pub requests_in_flight_per_connection_max: usize,
    /// Seconds a connection may stay idle before it is closed.
    pub idle_timeout_s: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            connections_per_shard_max: 4096,
            requests_in_flight_per_connection_max: 1024,
            idle_timeout_s: 600,
        }
    }
}

impl NodeConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }

    /// Checks the fields and their relations, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.node_id == 0 {
            return Err("node_id must be at least 1".into());
        }
        if self.shards > SHARDS_MAX {
            return Err(format!("shards {} exceeds {SHARDS_MAX}", self.shards));
        }
        let r = &self.raft;
        if r.tick_ms == 0 || r.heartbeat_ticks == 0 || r.election_ticks <= 2 * r.heartbeat_ticks {
            return Err(format!(
                "raft.election_ticks {} must exceed twice raft.heartbeat_ticks {} (and ticks > 0)",
                r.election_ticks, r.heartbeat_ticks
            ));
        }
        if self.storage.io_memory_bytes < 64 << 10 {
            return Err("storage.io_memory_bytes must be at least 64 KiB".into());
        }
        if self.runtime.spin_before_park_us > SPIN_BEFORE_PARK_US_MAX {
            return Err(format!(
                "runtime.spin_before_park_us {} exceeds {SPIN_BEFORE_PARK_US_MAX}",
                self.runtime.spin_before_park_us
            ));
        }
        if self.limits.connections_per_shard_max == 0
            || self.limits.requests_in_flight_per_connection_max == 0
        {
            return Err("limits must be at least 1".into());
        }
        self.engine_config()
            .validate()
            .map_err(|e| format!("storage: {e}"))
    }

    /// The storage engine configuration of each shard.
    pub fn engine_config(&self) -> EngineConfig {
        let mut c = EngineConfig::with_cache_bytes(self.storage.cache_bytes);
        c.wal.segment_size = self.storage.wal_segment_bytes;
        c.wal.flushes_in_flight_max = self.storage.wal_flushes_in_flight;
        c.checkpoint_interval = Duration::from_secs(self.storage.checkpoint_interval_s);
        c
    }
}

/// The cluster file: every node and how to reach it. Written by `shoal up` or an operator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Cluster name.
    pub name: String,
    /// The nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<ClusterNode>,
}

/// One node in the cluster file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    /// Node id.
    pub id: u32,
    /// Host clients and peers connect to.
    pub host: String,
    /// Shard `i` serves clients on `client_port_base + i`.
    pub client_port_base: u16,
    /// Shard `i` talks to peers on `peer_port_base + i` (replication).
    pub peer_port_base: u16,
    /// Number of shards.
    pub shards: u16,
}

impl ClusterFile {
    /// Reads and checks a cluster file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read cluster file {}: {e}", path.display()))?;
        let file: ClusterFile =
            toml::from_str(&text).map_err(|e| format!("cluster file {}: {e}", path.display()))?;
        file.validate()
            .map_err(|e| format!("cluster file {}: {e}", path.display()))?;
        Ok(file)
    }

    /// Checks ids are unique, shard counts and port ranges are sane.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("no [[node]] entries".into());
        }
        let mut ids: Vec<u32> = self.nodes.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("node ids are not unique".into());
        }
        for n in &self.nodes {
            if n.shards == 0 || n.shards > SHARDS_MAX {
                return Err(format!(
                    "node {}: shards {} not in 1..={SHARDS_MAX}",
                    n.id, n.shards
                ));
            }
            for (what, base) in [("client", n.client_port_base), ("peer", n.peer_port_base)] {
                if base == 0 || base as u32 + n.shards as u32 > 65_536 {
                    return Err(format!(
                        "node {}: {what}_port_base {base} out of range",
                        n.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// The node with id `id`.
    pub fn node(&self, id: u32) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node that hosts the metadata group's first replica (the lowest id).
    pub fn metadata_node(&self) -> &ClusterNode {
        self.metadata_nodes()[0]
    }

    /// The nodes whose shard 0 holds a replica of the metadata group: the lowest ids, as
    /// many as partitions have replicas.
    pub fn metadata_nodes(&self) -> Vec<&ClusterNode> {
        let mut nodes: Vec<&ClusterNode> = self.nodes.iter().collect();
        nodes.sort_by_key(|n| n.id);
        nodes.truncate(crate::meta::catalog::REPLICATION_FACTOR);
        nodes
    }

    /// Writes the file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = toml::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let text = include_str!("../shoal-node.example.toml");
        let cfg: NodeConfig = toml::from_str(text).expect("example parses");
        cfg.validate().expect("example validates");
        assert_eq!(cfg.runtime, RuntimeSection::default());
        let mut spinning = cfg.clone();
        spinning.runtime.spin_before_park_us = SPIN_BEFORE_PARK_US_MAX + 1;
        let e = spinning.validate().expect_err("too long a spin");
        assert!(e.contains("runtime.spin_before_park_us"), "{e}");
        let bad = "node_id = 1\ncluster_file = \"c\"\ndata_dir = \"d\"\nunknown = 3\n";
        assert!(
            toml::from_str::<NodeConfig>(bad).is_err(),
            "unknown keys are rejected"
        );
    }

    #[test]
    fn cluster_file_round_trips_and_rejects_duplicates() {
        let file = ClusterFile {
            name: "t".into(),
            nodes: vec![ClusterNode {
                id: 1,
                host: "127.0.0.1".into(),
                client_port_base: 7000,
                peer_port_base: 7100,
                shards: 2,
            }],
        };
        let text = toml::to_string_pretty(&file).expect("serialise");
        assert!(text.contains("[[node]]"), "{text}");
        let back: ClusterFile = toml::from_str(&text).expect("parse");
        assert_eq!(back, file);
        let mut dup = file.clone();
        dup.nodes.push(file.nodes[0].clone());
        assert!(dup.validate().is_err());
    }
}
