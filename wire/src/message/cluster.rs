//! Cluster messages: what a client asks a node to learn the cluster's shape and the
//! partition map it routes by (DESIGN.md, "Cluster metadata").
//!
//! Invariant: every map answer carries the epoch it belongs to; a client never mixes entries
//! of different epochs for one table without refreshing.
//! Does not carry membership changes; the one placement command is TransferLeader (an
//! operator moving a partition's leadership to another of its replicas).

use crate::cluster::{Epoch, NodeId, PartitionId, PartitionMapEntry, ShardId, TableId};

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
    /// The replication state of the shard that answers a DescribeCluster.
    pub struct ShardReport {
        /// Its node.
        pub node: NodeId,
        /// Its index on the node.
        pub shard: ShardId,
        /// Raft groups (partition replicas, and the metadata group) it hosts.
        pub groups: u32,
        /// The groups it leads now, as raft says.
        pub leading: Vec<u64>,
        /// Groups idle enough to hibernate (neither heartbeats nor election timers).
        pub hibernating: u32,
        /// Transport messages it sent to peers since it started.
        pub messages_sent: u64,
        /// Snapshots it streamed to followers since it started.
        pub snapshots_sent: u64,
        /// Snapshots it installed since it started.
        pub snapshots_installed: u64,
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
        /// The answering shard's replication state.
        pub shard: ShardReport,
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

wire_struct! {
    /// TransferLeader: asks the shard that leads `partition` to hand its leadership to the
    /// partition's replica on node `to`. Another replica answers `NotLeader` (naming the
    /// leader when known), or success if it knows `to` leads already.
    pub struct TransferLeaderRequest {
        /// The partition (its raft group).
        pub partition: PartitionId,
        /// The node of the replica that should lead.
        pub to: NodeId,
    }
}

wire_struct! {
    /// TransferLeader's result, sent once raft reports the new leader.
    pub struct TransferLeaderResponse {
        /// The node that leads the partition now (`to`).
        pub leader: NodeId,
        /// False if the answering replica knew `to` led the partition already.
        pub moved: bool,
    }
}
