//! Nodes this client suspects of being unreachable, and steering around them.
//!
//! A node that let an attempt time out, or whose connection failed, is suspected for
//! `ClientConfig::node_suspicion_period`: requests for every partition it leads go to its
//! partitions' other replicas instead (which answer, elect, or name the new leader), and a
//! leader hint naming it does not send a request back to it. Without this, a client learns
//! of a paused or cut-off node one partition at a time, paying one attempt timeout for each,
//! and a follower that has not yet noticed the loss (its election timer is still running)
//! points it straight back at the lost leader. Any answer from the node clears the
//! suspicion; so does the period ending, so a node that returns is used again even if no
//! request reached it meanwhile.
//!
//! Invariant: steering only ever picks one of the partition's own replicas, and picks the
//! usual target when no replica is suspected or all of them are.
//! Does not decide retries (see `routing`) and does not change the cached maps (see
//! `partition_map`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shoal_wire::cluster::{NodeId, PartitionMapEntry, ReplicaLocation};
use tokio::time::Instant;

use crate::client::lock;

/// The suspected nodes of one client, each with the time its suspicion ends.
pub(crate) struct Suspects {
    period: Duration,
    /// Entries in `until` (expired ones included until the next write); lets the hot path
    /// skip the lock when nobody is suspected.
    count: AtomicUsize,
    until: Mutex<HashMap<NodeId, Instant>>,
}

impl Suspects {
    /// No node suspected; each suspicion lasts `period`.
    pub fn new(period: Duration) -> Suspects {
        Suspects {
            period,
            count: AtomicUsize::new(0),
            until: Mutex::new(HashMap::new()),
        }
    }

    /// Suspects `node` from `now` for the period (extending a running suspicion).
    pub fn suspect(&self, node: NodeId, now: Instant) {
        let mut until = lock(&self.until);
        until.retain(|_, end| *end > now);
        until.insert(node, now + self.period);
        self.count.store(until.len(), Ordering::Release);
    }

    /// Clears the suspicion of `node` (it answered).
    pub fn clear(&self, node: NodeId) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut until = lock(&self.until);
        until.remove(&node);
        self.count.store(until.len(), Ordering::Release);
    }

    /// True if `node` is suspected at `now`.
    pub fn is_suspected(&self, node: NodeId, now: Instant) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        lock(&self.until).get(&node).is_some_and(|end| *end > now)
    }

    /// `preferred` unless its node is suspected; then the first replica of `replicas` after
    /// it (in order, wrapping) whose node is not; `preferred` when every one is suspected.
    pub fn steer(
        &self,
        preferred: ReplicaLocation,
        replicas: &[ReplicaLocation],
        now: Instant,
    ) -> ReplicaLocation {
        if !self.is_suspected(preferred.node, now) {
            return preferred;
        }
        let at = replicas.iter().position(|r| *r == preferred).unwrap_or(0);
        (1..=replicas.len())
            .map(|step| replicas[(at + step) % replicas.len()])
            .find(|r| !self.is_suspected(r.node, now))
            .unwrap_or(preferred)
    }

    /// Where a request for `entry` goes: its leader (else first replica), steered away from
    /// suspected nodes.
    pub fn target(&self, entry: &PartitionMapEntry, now: Instant) -> Option<ReplicaLocation> {
        let preferred = entry.leader.or_else(|| entry.replicas.first().copied())?;
        Some(self.steer(preferred, &entry.replicas, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition_map::tests::{at, entry};

    const PERIOD: Duration = Duration::from_secs(3);

    #[test]
    fn a_suspected_leader_is_passed_over_until_it_answers_or_the_period_ends() {
        let suspects = Suspects::new(PERIOD);
        let now = Instant::now();
        let mut e = entry(1, 0, u64::MAX, at(2, 0), 1);
        e.replicas = vec![at(1, 0), at(2, 0), at(3, 0)];
        assert_eq!(suspects.target(&e, now), Some(at(2, 0)));

        suspects.suspect(NodeId(2), now);
        assert_eq!(suspects.target(&e, now), Some(at(3, 0)), "the next replica");
        suspects.suspect(NodeId(3), now);
        assert_eq!(suspects.target(&e, now), Some(at(1, 0)), "wrapping round");
        suspects.suspect(NodeId(1), now);
        assert_eq!(suspects.target(&e, now), Some(at(2, 0)), "all suspected");

        suspects.clear(NodeId(3));
        assert_eq!(suspects.target(&e, now), Some(at(3, 0)), "it answered");
        assert_eq!(
            suspects.target(&e, now + PERIOD),
            Some(at(2, 0)),
            "every suspicion has ended"
        );
    }

    #[test]
    fn suspicion_costs_nothing_once_cleared() {
        let suspects = Suspects::new(PERIOD);
        let now = Instant::now();
        suspects.suspect(NodeId(7), now);
        assert!(suspects.is_suspected(NodeId(7), now));
        assert!(!suspects.is_suspected(NodeId(8), now));
        suspects.clear(NodeId(7));
        assert_eq!(suspects.count.load(Ordering::Acquire), 0);
        // An expired suspicion is dropped by the next one.
        suspects.suspect(NodeId(7), now);
        suspects.suspect(NodeId(8), now + PERIOD);
        assert_eq!(suspects.count.load(Ordering::Acquire), 1);
        assert!(!suspects.is_suspected(NodeId(7), now + PERIOD));
    }
}
