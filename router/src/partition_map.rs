//! The client's cache of partition maps: per table, its key schema, internal id, the map
//! epoch and the partitions sorted by hash, and the updates routing errors bring
//! (a fresh entry from `WrongShard` / `NotLeader`, a leader hint).
//!
//! Invariant: a [`TableRoute`]'s partitions are sorted by `hash_start` and never overlap;
//! an entry from a routing error replaces the entries it overlaps only if none of them is
//! newer (higher epoch); after such a replacement the map may have gaps, and a lookup in a
//! gap answers `None` so the caller refetches the whole map. The route's epoch never
//! decreases.
//! Does not fetch anything (see `client`); routes are values, shared as `Arc` snapshots and
//! replaced whole, so readers never see a half-applied update.

use std::collections::HashMap;
use std::sync::Arc;

use shoal_wire::cluster::{Epoch, PartitionMapEntry, ReplicaLocation, TableId};
use shoal_wire::schema::KeySchema;

/// What a client knows about routing one table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TableRoute {
    /// Internal table id (changes when a table is deleted and created again).
    pub table: TableId,
    /// The table's primary key, to find the partition key of a request.
    pub schema: KeySchema,
    /// The newest map epoch seen for the table (sent as `map_epoch`).
    pub epoch: Epoch,
    /// Partitions sorted by `hash_start`, non-overlapping.
    pub partitions: Vec<PartitionMapEntry>,
}

impl TableRoute {
    /// A route from a fetched map; checks order, overlap and entry invariants.
    pub fn new(
        table: TableId,
        schema: KeySchema,
        epoch: Epoch,
        mut partitions: Vec<PartitionMapEntry>,
    ) -> Result<TableRoute, String> {
        partitions.sort_by_key(|p| p.hash_start);
        for entry in &partitions {
            entry.check()?;
        }
        if let Some(pair) = partitions
            .windows(2)
            .find(|w| w[0].hash_end >= w[1].hash_start)
        {
            return Err(format!(
                "partitions {} and {} overlap",
                pair[0].partition.0, pair[1].partition.0
            ));
        }
        let epoch = partitions.iter().map(|p| p.epoch).fold(epoch, Epoch::max);
        Ok(TableRoute {
            table,
            schema,
            epoch,
            partitions,
        })
    }

    /// The partition covering `hash`, `None` in a gap.
    pub fn lookup(&self, hash: u64) -> Option<&PartitionMapEntry> {
        let after = self.partitions.partition_point(|p| p.hash_start <= hash);
        let entry = self.partitions.get(after.checked_sub(1)?)?;
        entry.covers(hash).then_some(entry)
    }

    /// True when the partitions cover the whole hash space without gaps.
    pub fn is_complete(&self) -> bool {
        let Some(first) = self.partitions.first() else {
            return false;
        };
        let contiguous = self
            .partitions
            .windows(2)
            .all(|w| w[0].hash_end.checked_add(1) == Some(w[1].hash_start));
        first.hash_start == 0
            && contiguous
            && self.partitions.last().map(|p| p.hash_end) == Some(u64::MAX)
    }

    /// Where to send a request for `entry`: its leader, else its first replica.
    pub fn target(entry: &PartitionMapEntry) -> Option<ReplicaLocation> {
        entry.leader.or_else(|| entry.replicas.first().copied())
    }

    /// The route with a fresh entry applied; `None` if the entry is of another table
    /// incarnation or older than what it overlaps (nothing to learn from it).
    pub fn with_entry(&self, entry: &PartitionMapEntry) -> Option<TableRoute> {
        if entry.table != self.table || entry.check().is_err() {
            return None;
        }
        let overlaps = |p: &PartitionMapEntry| {
            p.hash_start <= entry.hash_end && entry.hash_start <= p.hash_end
        };
        if self
            .partitions
            .iter()
            .any(|p| overlaps(p) && p.epoch > entry.epoch)
        {
            return None;
        }
        let mut partitions: Vec<PartitionMapEntry> = self
            .partitions
            .iter()
            .filter(|p| !overlaps(p))
            .cloned()
            .collect();
        let at = partitions.partition_point(|p| p.hash_start < entry.hash_start);
        partitions.insert(at, entry.clone());
        Some(TableRoute {
            epoch: self.epoch.max(entry.epoch),
            partitions,
            ..self.clone()
        })
    }

    /// The route aimed at the replica after the current target of the partition covering
    /// `hash` (in replica order, wrapping): where to go when the target cannot be reached.
    /// `None` for a partition with a single replica.
    pub fn with_next_replica(&self, hash: u64) -> Option<TableRoute> {
        let index = self.partitions.iter().position(|p| p.covers(hash))?;
        let entry = &self.partitions[index];
        if entry.replicas.len() < 2 {
            return None;
        }
        let current = Self::target(entry)?;
        let at = entry
            .replicas
            .iter()
            .position(|r| *r == current)
            .unwrap_or(0);
        let mut route = self.clone();
        route.partitions[index].leader = Some(entry.replicas[(at + 1) % entry.replicas.len()]);
        Some(route)
    }

    /// This (freshly fetched) route with the leaders `known` had learned kept, for each
    /// partition whose id, range, replicas and epoch are unchanged: a fetched map names a
    /// partition's placement (its first replica), not raft's current leader, and forgetting
    /// what routing errors taught would send requests back to a lost leader.
    pub fn keeping_leaders_of(mut self, known: &TableRoute) -> TableRoute {
        for entry in &mut self.partitions {
            let learned = known.partitions.iter().find(|k| {
                k.partition == entry.partition
                    && (k.hash_start, k.hash_end, k.epoch)
                        == (entry.hash_start, entry.hash_end, entry.epoch)
                    && k.replicas == entry.replicas
            });
            if let Some(leader) = learned.and_then(|k| k.leader)
                && entry.replicas.contains(&leader)
            {
                entry.leader = Some(leader);
            }
        }
        self
    }

    /// The route with `leader` as the leader of the partition covering `hash`, if it is one
    /// of that partition's replicas.
    pub fn with_leader(&self, hash: u64, leader: ReplicaLocation) -> Option<TableRoute> {
        let index = self.partitions.iter().position(|p| p.covers(hash))?;
        let entry = &self.partitions[index];
        if !entry.replicas.contains(&leader) || entry.leader == Some(leader) {
            return None;
        }
        let mut route = self.clone();
        route.partitions[index].leader = Some(leader);
        Some(route)
    }
}

/// Table name (as the caller spells it) → route.
#[derive(Debug, Default)]
pub(crate) struct PartitionMaps {
    tables: HashMap<String, Arc<TableRoute>>,
}

impl PartitionMaps {
    /// The cached route of a table.
    pub fn get(&self, table_name: &str) -> Option<Arc<TableRoute>> {
        self.tables.get(table_name).cloned()
    }

    /// Stores a route.
    pub fn insert(&mut self, table_name: &str, route: TableRoute) -> Arc<TableRoute> {
        let route = Arc::new(route);
        self.tables.insert(table_name.to_owned(), route.clone());
        route
    }

    /// Replaces `seen` by `route` only if `seen` is still the cached route (so an update
    /// computed from an old snapshot never overwrites a newer one).
    pub fn replace(&mut self, table_name: &str, seen: &Arc<TableRoute>, route: TableRoute) {
        if let Some(current) = self.tables.get_mut(table_name)
            && Arc::ptr_eq(current, seen)
        {
            *current = Arc::new(route);
        }
    }

    /// Forgets a table's route if `seen` is still the cached one.
    pub fn invalidate(&mut self, table_name: &str, seen: &Arc<TableRoute>) {
        if self
            .tables
            .get(table_name)
            .is_some_and(|current| Arc::ptr_eq(current, seen))
        {
            self.tables.remove(table_name);
        }
    }

    /// Forgets a table's route whatever it is.
    pub fn remove(&mut self, table_name: &str) {
        self.tables.remove(table_name);
    }

    /// Names of the cached tables.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use shoal_wire::cluster::{NodeId, PartitionId, ShardId};
    use shoal_wire::schema::{KeyAttribute, ScalarType};

    pub(crate) fn at(node: u32, shard: u16) -> ReplicaLocation {
        ReplicaLocation {
            node: NodeId(node),
            shard: ShardId(shard),
        }
    }

    pub(crate) fn entry(
        id: u64,
        start: u64,
        end: u64,
        leader: ReplicaLocation,
        epoch: u64,
    ) -> PartitionMapEntry {
        PartitionMapEntry {
            table: TableId(7),
            partition: PartitionId(id),
            hash_start: start,
            hash_end: end,
            replicas: vec![leader, at(9, leader.shard.0)],
            leader: Some(leader),
            epoch: Epoch(epoch),
        }
    }

    pub(crate) fn schema() -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "id".into(),
                scalar_type: ScalarType::S,
            },
            sort: None,
        }
    }

    /// Four partitions of a quarter of the hash space each, on shards 0..3 of node 1.
    pub(crate) fn quarters() -> TableRoute {
        let q = u64::MAX / 4 + 1;
        let parts = (0..4u64)
            .map(|i| {
                let end = if i == 3 { u64::MAX } else { (i + 1) * q - 1 };
                entry(i, i * q, end, at(1, i as u16), 1)
            })
            .collect();
        TableRoute::new(TableId(7), schema(), Epoch(1), parts).unwrap()
    }

    #[test]
    fn lookup_finds_the_covering_partition() {
        let route = quarters();
        assert!(route.is_complete());
        let q = u64::MAX / 4 + 1;
        for (hash, expected) in [(0, 0), (q - 1, 0), (q, 1), (2 * q + 5, 2), (u64::MAX, 3)] {
            assert_eq!(
                route.lookup(hash).unwrap().partition.0,
                expected,
                "hash {hash:#x}"
            );
        }
    }

    #[test]
    fn overlapping_maps_are_rejected() {
        let parts = vec![
            entry(0, 0, 100, at(1, 0), 1),
            entry(1, 100, u64::MAX, at(1, 1), 1),
        ];
        assert!(TableRoute::new(TableId(7), schema(), Epoch(1), parts).is_err());
    }

    #[test]
    fn wrong_shard_entry_moves_a_partition() {
        let route = quarters();
        let q = u64::MAX / 4 + 1;
        let moved = entry(1, q, 2 * q - 1, at(2, 1), 5);
        let updated = route.with_entry(&moved).unwrap();
        assert_eq!(updated.epoch, Epoch(5));
        assert_eq!(updated.lookup(q + 1).unwrap().leader, Some(at(2, 1)));
        assert!(updated.is_complete());
        // The old entry is older: applying it again teaches nothing.
        assert!(updated.with_entry(&route.partitions[1]).is_none());
        // Another incarnation of the table is never mixed in.
        let mut foreign = moved.clone();
        foreign.table = TableId(8);
        assert!(route.with_entry(&foreign).is_none());
    }

    #[test]
    fn a_split_leaves_a_gap_until_the_map_is_refetched() {
        let route = quarters();
        let q = u64::MAX / 4 + 1;
        // Partition 1 split in two; the client hears about the lower half only.
        let lower = entry(10, q, q + q / 2, at(1, 1), 6);
        let updated = route.with_entry(&lower).unwrap();
        assert!(!updated.is_complete());
        assert_eq!(updated.lookup(q).unwrap().partition.0, 10);
        assert!(updated.lookup(q + q / 2 + 1).is_none(), "gap → refetch");
        assert_eq!(updated.lookup(2 * q).unwrap().partition.0, 2);
    }

    #[test]
    fn leader_hint_updates_only_replicas() {
        let route = quarters();
        let follower = route.partitions[0].replicas[1];
        let updated = route.with_leader(5, follower).unwrap();
        assert_eq!(updated.lookup(5).unwrap().leader, Some(follower));
        assert!(route.with_leader(5, at(4, 4)).is_none(), "not a replica");
    }

    #[test]
    fn a_refetched_map_keeps_the_leaders_learned_for_unchanged_partitions() {
        let known = quarters()
            .with_leader(0, at(9, 0))
            .unwrap()
            .with_leader(u64::MAX, at(9, 3))
            .unwrap();
        let mut fetched = quarters();
        // Partition 3 moved to a new epoch: what was learned about it no longer holds.
        fetched.partitions[3].epoch = Epoch(2);
        let kept = fetched.keeping_leaders_of(&known);
        assert_eq!(kept.partitions[0].leader, Some(at(9, 0)), "learned, kept");
        assert_eq!(kept.partitions[1].leader, Some(at(1, 1)), "nothing learned");
        assert_eq!(
            kept.partitions[3].leader,
            Some(at(1, 3)),
            "the map's, newer"
        );
    }

    #[test]
    fn cache_replaces_only_the_snapshot_it_saw() {
        let mut maps = PartitionMaps::default();
        let first = maps.insert("t", quarters());
        let second = maps.insert("t", quarters());
        maps.replace("t", &first, quarters().with_leader(5, at(9, 0)).unwrap());
        assert!(
            Arc::ptr_eq(&maps.get("t").unwrap(), &second),
            "stale update ignored"
        );
        maps.invalidate("t", &first);
        assert!(maps.get("t").is_some());
        maps.invalidate("t", &second);
        assert!(maps.get("t").is_none());
    }
}
