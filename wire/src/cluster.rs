//! Cluster identity types and the partition map as clients see it: which (node, shard)
//! replicas hold a range of partition-key hashes, which one leads, and at which epoch.
//!
//! Invariant: a [`PartitionMapEntry`] covers the inclusive hash range
//! `hash_start..=hash_end` (`hash_start <= hash_end`), names at most
//! [`PARTITION_REPLICAS_MAX`] replicas, and its leader (when known) is one of them.
//! Does not decide placement or move partitions (the metadata group in `node` does); this is
//! only the vocabulary that travels in messages and in `WrongShard` / `NotLeader` replies.

use rkyv::{Archive, Deserialize, Serialize};

use crate::limits::PARTITION_REPLICAS_MAX;

/// A storage node of the cluster.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct NodeId(pub u32);

/// A shard (one per CPU core) within a node; shard `i` listens on `client_base + i`.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct ShardId(pub u16);

/// A partition: a range of partition-key hashes of one table, replicated by one raft group.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct PartitionId(pub u64);

/// A table's internal identifier (the first component of every storage key).
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct TableId(pub u64);

/// Version of the partition map; every change (split, move, leader change) increases it.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct Epoch(pub u64);

/// Where one replica lives: a node and the shard on it.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct ReplicaLocation {
    /// The node.
    pub node: NodeId,
    /// The shard on that node.
    pub shard: ShardId,
}

/// One entry of the partition map.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[rkyv(derive(Debug))]
pub struct PartitionMapEntry {
    /// The table the partition belongs to.
    pub table: TableId,
    /// The partition.
    pub partition: PartitionId,
    /// First partition-key hash covered (inclusive).
    pub hash_start: u64,
    /// Last partition-key hash covered (inclusive).
    pub hash_end: u64,
    /// Every replica, leader included.
    pub replicas: Vec<ReplicaLocation>,
    /// The replica believed to lead, if known.
    pub leader: Option<ReplicaLocation>,
    /// The map epoch this entry belongs to.
    pub epoch: Epoch,
}

impl PartitionMapEntry {
    /// True if `hash` falls in this entry's range.
    pub fn covers(&self, hash: u64) -> bool {
        self.hash_start <= hash && hash <= self.hash_end
    }

    /// Checks the entry's invariant (see the module doc); returns a description of the first
    /// violation.
    pub fn check(&self) -> Result<(), String> {
        if self.hash_start > self.hash_end {
            return Err(format!(
                "hash range start {:#x} > end {:#x}",
                self.hash_start, self.hash_end
            ));
        }
        if self.replicas.len() > PARTITION_REPLICAS_MAX as usize {
            return Err(format!(
                "{} replicas exceeds {PARTITION_REPLICAS_MAX}",
                self.replicas.len()
            ));
        }
        if let Some(leader) = self.leader
            && !self.replicas.contains(&leader)
        {
            return Err(format!("leader {leader:?} is not a replica"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod sample_impls {
    use super::*;
    use crate::sample::{Gen, Sample};

    macro_rules! sample_newtype {
        ($($name:ident),*) => {$(
            impl Sample for $name {
                fn sample(g: &mut Gen) -> $name {
                    $name(Sample::sample(g))
                }
            }
        )*};
    }
    sample_newtype!(NodeId, ShardId, PartitionId, TableId, Epoch);

    impl Sample for ReplicaLocation {
        fn sample(g: &mut Gen) -> ReplicaLocation {
            ReplicaLocation {
                node: Sample::sample(g),
                shard: Sample::sample(g),
            }
        }
    }

    impl Sample for PartitionMapEntry {
        fn sample(g: &mut Gen) -> PartitionMapEntry {
            PartitionMapEntry {
                table: Sample::sample(g),
                partition: Sample::sample(g),
                hash_start: Sample::sample(g),
                hash_end: Sample::sample(g),
                replicas: Sample::sample(g),
                leader: Sample::sample(g),
                epoch: Sample::sample(g),
            }
        }
    }
}
