//! The catalog a shard works from: every table's description and partition map.
//!
//! On the metadata shard it is the state of the metadata raft group, changed only by
//! applying committed metadata commands and stored in the engine under table id 0. Every
//! other shard keeps a copy refreshed from the metadata shard (`sync.rs`); the map epoch
//! tells a stale copy from a fresh one.
//!
//! Invariant: a table's partitions cover the whole partition-key hash space without gaps,
//! sorted by hash, and every entry passes `PartitionMapEntry::check`.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use rkyv::rancor;
use shoal_wire::cluster::{Epoch, NodeId, PartitionMapEntry, ReplicaLocation, ShardId, TableId};
use shoal_wire::schema::TableDescription;

/// Partition ids are `table_id << PARTITION_INDEX_BITS | index`.
pub const PARTITION_INDEX_BITS: u32 = 16;
/// Most partitions a table starts with.
pub const TABLE_PARTITIONS_MAX: u32 = 1 << PARTITION_INDEX_BITS;
/// The raft group (and stream) of the cluster metadata.
pub const METADATA_GROUP: u64 = 0;

/// One table: description and partitions.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Clone, Debug, PartialEq)]
pub struct TableRecord {
    /// Internal id (first component of every storage key of the table).
    pub id: TableId,
    /// What DescribeTable returns.
    pub description: TableDescription,
    /// Partitions sorted by hash.
    pub partitions: Vec<PartitionMapEntry>,
}

impl TableRecord {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.description.table_name
    }

    /// The partition whose range holds `hash`.
    pub fn partition_for(&self, hash: u64) -> &PartitionMapEntry {
        let i = self.partitions.partition_point(|p| p.hash_end < hash);
        &self.partitions[i.min(self.partitions.len() - 1)]
    }

    /// Encodes the record for storage.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        rkyv::to_bytes::<rancor::Error>(self)
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    /// Decodes a stored record (validated).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        rkyv::from_bytes::<TableRecord, rancor::Error>(bytes).map_err(|e| e.to_string())
    }
}

/// The raft group id of partition `index` of table `table`.
pub fn partition_group(table: TableId, index: u32) -> u64 {
    (table.0 << PARTITION_INDEX_BITS) | index as u64
}

/// The table a partition group belongs to.
pub fn table_of_group(group: u64) -> TableId {
    TableId(group >> PARTITION_INDEX_BITS)
}

/// Replicas per partition when the cluster has enough nodes.
pub const REPLICATION_FACTOR: usize = 3;

/// Places `count` partitions of `table` over `shards` ((node, shard) pairs, in order),
/// splitting the hash space evenly. Partition `i`'s first replica (its initial leader) is
/// `shards[i % shards.len()]`; the others are the same shard index on the next nodes in
/// order (wrapping), so the replicas of a partition sit on different nodes and their raft
/// traffic never crosses a core (RUNTIME-NOTES §2.5). A cluster of fewer than
/// [`REPLICATION_FACTOR`] nodes gives each partition one replica per node.
pub fn place_partitions(
    table: TableId,
    count: u32,
    shards: &[(u32, u16)],
    epoch: Epoch,
) -> Vec<PartitionMapEntry> {
    let count = count.clamp(1, TABLE_PARTITIONS_MAX);
    let mut nodes: Vec<(u32, u16)> = Vec::new();
    for &(node, _) in shards {
        match nodes.iter_mut().find(|(n, _)| *n == node) {
            Some((_, count)) => *count += 1,
            None => nodes.push((node, 1)),
        }
    }
    let factor = REPLICATION_FACTOR.min(nodes.len());
    (0..count)
        .map(|i| {
            let (start, end) =
                shoal_wire::key::scan_segment_hash_range(i, count).expect("i < count, count > 0");
            let (node, shard) = shards[i as usize % shards.len()];
            let first = nodes.iter().position(|(n, _)| *n == node).expect("listed");
            let replicas: Vec<ReplicaLocation> = (0..factor)
                .map(|k| {
                    let (n, shard_count) = nodes[(first + k) % nodes.len()];
                    ReplicaLocation {
                        node: NodeId(n),
                        shard: ShardId(shard % shard_count),
                    }
                })
                .collect();
            PartitionMapEntry {
                table,
                partition: shoal_wire::cluster::PartitionId(partition_group(table, i)),
                hash_start: start,
                hash_end: end,
                leader: Some(replicas[0]),
                replicas,
                epoch,
            }
        })
        .collect()
}

/// Tables by name and by id, at one map epoch.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// The map epoch this catalog reflects.
    pub epoch: u64,
    by_name: BTreeMap<String, Rc<TableRecord>>,
    by_id: HashMap<u64, Rc<TableRecord>>,
}

impl Catalog {
    /// A catalog holding `records` at `epoch`.
    pub fn from_records(epoch: u64, records: Vec<TableRecord>) -> Self {
        let mut c = Catalog {
            epoch,
            ..Catalog::default()
        };
        for r in records {
            c.insert(r);
        }
        c
    }

    /// Adds or replaces a table.
    pub fn insert(&mut self, record: TableRecord) {
        let r = Rc::new(record);
        if let Some(old) = self.by_name.insert(r.name().to_string(), r.clone()) {
            self.by_id.remove(&old.id.0);
        }
        self.by_id.insert(r.id.0, r);
    }

    /// Removes a table.
    pub fn remove(&mut self, name: &str) -> Option<Rc<TableRecord>> {
        let r = self.by_name.remove(name)?;
        self.by_id.remove(&r.id.0);
        Some(r)
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<Rc<TableRecord>> {
        self.by_name.get(name).cloned()
    }

    /// The table with internal id `id`.
    pub fn table_by_id(&self, id: TableId) -> Option<Rc<TableRecord>> {
        self.by_id.get(&id.0).cloned()
    }

    /// Every table, sorted by name.
    pub fn tables(&self) -> impl Iterator<Item = &Rc<TableRecord>> {
        self.by_name.values()
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are no tables.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_covers_the_hash_space_and_cycles_over_shards() {
        let parts = place_partitions(TableId(3), 5, &[(1, 0), (1, 1), (2, 0)], Epoch(4));
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].hash_start, 0);
        assert_eq!(parts[4].hash_end, u64::MAX);
        for w in parts.windows(2) {
            assert_eq!(w[0].hash_end + 1, w[1].hash_start);
        }
        assert_eq!(parts[3].leader.map(|l| l.node), Some(NodeId(1)));
        assert!(parts.iter().all(|p| p.check().is_ok()));
        assert_eq!(table_of_group(parts[2].partition.0), TableId(3));
        // Two nodes: every partition has a replica on each, at a shard the node has.
        let nodes: Vec<Vec<(u32, u16)>> = parts
            .iter()
            .map(|p| p.replicas.iter().map(|r| (r.node.0, r.shard.0)).collect())
            .collect();
        assert_eq!(nodes[1], vec![(1, 1), (2, 0)]);
        assert_eq!(nodes[2], vec![(2, 0), (1, 0)]);
    }

    #[test]
    fn three_replicas_on_three_different_nodes_at_the_same_shard() {
        let shards: Vec<(u32, u16)> = (1..=4).flat_map(|n| (0..2).map(move |s| (n, s))).collect();
        let parts = place_partitions(TableId(1), 8, &shards, Epoch(1));
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.replicas.len(), REPLICATION_FACTOR);
            let mut nodes: Vec<u32> = p.replicas.iter().map(|r| r.node.0).collect();
            assert_eq!(p.leader, Some(p.replicas[0]));
            assert_eq!((p.replicas[0].node.0, p.replicas[0].shard.0), shards[i]);
            assert!(p.replicas.iter().all(|r| r.shard == p.replicas[0].shard));
            nodes.sort_unstable();
            nodes.dedup();
            assert_eq!(nodes.len(), REPLICATION_FACTOR, "{p:?}");
        }
    }
}
