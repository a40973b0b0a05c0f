//! Cluster messages: what a client asks a node to learn the cluster's shape and the
//! partition map it routes by (DESIGN.md, "Cluster metadata").
//!
//! Invariant: every map answer carries the epoch it belongs to; a client never mixes entries
//! of different epochs for one table without refreshing.
//! Does not carry membership changes or placement commands (those are raft-internal).

use crate::cluster::{Epoch, NodeId, PartitionMapEntry, TableId};

wire_struct! {
    /// DescribeCluster: the nodes and how to reach their shards.
    pub struct DescribeClusterRequest {}
}

wire_struct! {
    /// One storage node.
    pub struct NodeInfo {
        /// Node id.
        pub node: NodeId,
        /// Host name or IP address clients connect to.
        pub host: String,
        /// Shard `i` listens on `client_port_base + i`.
        pub client_port_base: u16,
        /// Number of shards (cores) on the node.
        pub shard_count: u16,
    }
}

wire_struct! {
    /// DescribeCluster's result.
    pub struct DescribeClusterResponse {
        /// Cluster name.
        pub cluster_name: String,
        /// All nodes.
        pub nodes: Vec<NodeInfo>,
        /// Current partition-map epoch.
        pub map_epoch: Epoch,
        /// Node leading the metadata group, if known.
        pub metadata_leader: Option<NodeId>,
    }
}

wire_struct! {
    /// GetPartitionMap: the partition map of one table, or of all tables.
    pub struct GetPartitionMapRequest {
        /// One table, or all when absent.
        pub table_name: Option<String>,
        /// The epoch the client already has (0 = none); the node may answer with only the
        /// tables that changed since.
        pub known_epoch: Epoch,
    }
}

wire_struct! {
    /// The partitions of one table, covering the whole hash space without gaps.
    pub struct TablePartitions {
        /// Table name.
        pub table_name: String,
        /// Internal table id.
        pub table: TableId,
        /// Entries sorted by `hash_start`.
        pub partitions: Vec<PartitionMapEntry>,
    }
}

wire_struct! {
    /// GetPartitionMap's result.
    pub struct GetPartitionMapResponse {
        /// The map epoch of this answer.
        pub epoch: Epoch,
        /// Tables.
        pub tables: Vec<TablePartitions>,
    }
}
