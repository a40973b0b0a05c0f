//! The cluster's nodes and how to reach each shard: from the cluster file at first, then
//! from `DescribeCluster` answers, plus which node leads the metadata group.
//!
//! Invariant: shard `i` of a node is reached at `host:client_port_base + i`, for
//! `i < shard_count`; a location outside a node's shards has no endpoint.
//! Does not open connections (see `pool`) and does not know partitions (see
//! `partition_map`).

use std::collections::BTreeMap;
use std::fmt;

use shoal_wire::cluster::{NodeId, ReplicaLocation, ShardId};
use shoal_wire::message::DescribeClusterResponse;

use crate::cluster_file::ClusterFile;

/// How to reach one node's shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddress {
    /// The node.
    pub node: NodeId,
    /// Host name or address.
    pub host: String,
    /// Shard `i` listens on `client_port_base + i`.
    pub client_port_base: u16,
    /// Number of shards.
    pub shard_count: u16,
}

/// One shard's address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Node and shard.
    pub location: ReplicaLocation,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The nodes a client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Topology {
    /// Cluster name.
    pub cluster_name: String,
    /// Nodes by id.
    pub nodes: BTreeMap<NodeId, NodeAddress>,
    /// The node leading the metadata group, if known.
    pub metadata_leader: Option<NodeId>,
}

impl Topology {
    /// The seed topology of a cluster file (metadata leader not yet known).
    pub fn from_cluster_file(file: &ClusterFile) -> Topology {
        let nodes = file
            .nodes
            .iter()
            .map(|n| {
                let address = NodeAddress {
                    node: NodeId(n.id),
                    host: n.host.clone(),
                    client_port_base: n.client_port_base,
                    shard_count: n.shards,
                };
                (address.node, address)
            })
            .collect();
        Topology {
            cluster_name: file.name.clone(),
            nodes,
            metadata_leader: None,
        }
    }

    /// The topology a node described.
    pub fn from_describe(answer: &DescribeClusterResponse) -> Topology {
        let nodes = answer
            .nodes
            .iter()
            .map(|n| {
                let address = NodeAddress {
                    node: n.node,
                    host: n.host.clone(),
                    client_port_base: n.client_port_base,
                    shard_count: n.shard_count,
                };
                (address.node, address)
            })
            .collect();
        Topology {
            cluster_name: answer.cluster_name.clone(),
            nodes,
            metadata_leader: answer.metadata_leader,
        }
    }

    /// The address of a shard, if the node and shard exist.
    pub fn endpoint(&self, location: ReplicaLocation) -> Option<Endpoint> {
        let node = self.nodes.get(&location.node)?;
        if location.shard.0 >= node.shard_count {
            return None;
        }
        let port = node.client_port_base.checked_add(location.shard.0)?;
        Some(Endpoint {
            location,
            host: node.host.clone(),
            port,
        })
    }

    /// Where control-plane requests go first: shard 0 of the metadata leader, else of the
    /// lowest node id.
    pub fn control_target(&self) -> Option<ReplicaLocation> {
        let node = self
            .metadata_leader
            .filter(|id| self.nodes.contains_key(id))
            .or_else(|| self.nodes.keys().next().copied())?;
        Some(shard_zero(node))
    }

    /// Shard 0 of every node, starting after `after` (round robin for fail-over).
    pub fn control_candidates(&self, after: Option<NodeId>) -> Vec<ReplicaLocation> {
        let mut ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        if let Some(after) = after {
            let split = ids.partition_point(|id| *id <= after);
            ids.rotate_left(split);
        }
        ids.into_iter().map(shard_zero).collect()
    }

    /// Every shard of every node, in (node, shard) order.
    pub fn all_shards(&self) -> Vec<ReplicaLocation> {
        self.nodes
            .values()
            .flat_map(|n| {
                (0..n.shard_count).map(move |s| ReplicaLocation {
                    node: n.node,
                    shard: ShardId(s),
                })
            })
            .collect()
    }
}

/// Shard 0 of a node.
pub(crate) fn shard_zero(node: NodeId) -> ReplicaLocation {
    ReplicaLocation {
        node,
        shard: ShardId(0),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cluster_file::ClusterNode;

    pub(crate) fn topology() -> Topology {
        let node = |id: u32, base: u16| ClusterNode {
            id,
            host: "127.0.0.1".into(),
            client_port_base: base,
            peer_port_base: base + 100,
            shards: 2,
        };
        Topology::from_cluster_file(&ClusterFile {
            name: "t".into(),
            nodes: vec![node(2, 7200), node(1, 7000), node(3, 7400)],
        })
    }

    fn at(node: u32, shard: u16) -> ReplicaLocation {
        ReplicaLocation {
            node: NodeId(node),
            shard: ShardId(shard),
        }
    }

    #[test]
    fn endpoints_follow_the_port_rule() {
        let t = topology();
        assert_eq!(t.endpoint(at(2, 1)).unwrap().to_string(), "127.0.0.1:7201");
        assert!(t.endpoint(at(2, 2)).is_none(), "shard out of range");
        assert!(t.endpoint(at(9, 0)).is_none(), "unknown node");
        assert_eq!(t.all_shards().len(), 6);
    }

    #[test]
    fn control_goes_to_the_metadata_leader_then_round_robin() {
        let mut t = topology();
        assert_eq!(t.control_target(), Some(at(1, 0)));
        t.metadata_leader = Some(NodeId(3));
        assert_eq!(t.control_target(), Some(at(3, 0)));
        let order = t.control_candidates(Some(NodeId(2)));
        assert_eq!(order, vec![at(3, 0), at(1, 0), at(2, 0)]);
    }
}
