//! DescribeCluster and GetPartitionMap: how clients learn where every shard and every
//! partition lives; TransferLeader: an operator moving a partition's leadership.
//!
//! Any shard answers DescribeCluster from the cluster file. The partition map is answered
//! by the metadata group's leader from its catalog; other shards ask it (the map must never
//! come from a stale copy, or a client would route by it). TransferLeader is carried out by
//! the partition's leader; another replica answers `NotLeader` naming it.
//!
//! Invariant: a TransferLeader succeeds only once this shard's raft names the requested
//! replica the leader.
//! Does not change a partition's replicas, and does not forward requests between shards.

use shoal_wire::Error;
use shoal_wire::cluster::{Epoch, NodeId, ShardId};
use shoal_wire::message::{
    DescribeClusterResponse, GetPartitionMapRequest, GetPartitionMapResponse, NodeInfo,
    ShardReport, TablePartitions, TransferLeaderRequest, TransferLeaderResponse,
};
use shoal_wire::validate::table_name_from_parameter;

use super::shard::Shard;

/// The cluster's nodes and shard ports.
pub fn describe(shard: &Shard) -> DescribeClusterResponse {
    let mut nodes: Vec<NodeInfo> = shard
        .cluster
        .nodes
        .iter()
        .map(|n| NodeInfo {
            node: NodeId(n.id),
            host: n.host.clone(),
            client_port_base: n.client_port_base,
            shard_count: n.shards,
        })
        .collect();
    nodes.sort_by_key(|n| n.node);
    let report = shard.driver.report();
    let stats = shard.driver.transport_stats().unwrap_or_default();
    DescribeClusterResponse {
        cluster_name: shard.cluster.name.clone(),
        nodes,
        map_epoch: Epoch(shard.catalog.borrow().epoch),
        metadata_leader: Some(NodeId(metadata_leader(shard))),
        shard: ShardReport {
            node: NodeId(shard.node_id),
            shard: ShardId(shard.index),
            groups: report.groups as u32,
            leading: report.leading,
            hibernating: report.hibernating as u32,
            messages_sent: stats.messages_sent,
            snapshots_sent: report.snapshots_sent,
            snapshots_installed: report.snapshots_installed,
        },
    }
}

/// The node leading the metadata group as far as this shard knows: a metadata replica asks
/// its raft group, another shard names the replica its catalog client last reached; failing
/// both, the first metadata node (clients correct it by following `NotLeader`).
fn metadata_leader(shard: &Shard) -> u32 {
    let known = match &shard.sync {
        Some(sync) => sync.client().believed_leader(),
        None => shard
            .meta()
            .and_then(|_| shard.driver.leader_of(crate::meta::catalog::METADATA_GROUP))
            .map(|l| l as u32),
    };
    known.unwrap_or(shard.cluster.metadata_node().id)
}

/// The partition map of one table or of all tables.
pub async fn partition_map(
    shard: &Shard,
    request: GetPartitionMapRequest,
) -> Result<GetPartitionMapResponse, Error> {
    if let Some(sync) = &shard.sync {
        return sync.client().call(&request).await;
    }
    // A metadata replica answers only while it leads (the map must be the newest).
    super::control::local_meta(shard)?;
    let catalog = shard.catalog.borrow();
    let mut tables = Vec::new();
    match &request.table_name {
        Some(name) => {
            let name = table_name_from_parameter(name)?;
            let record = catalog
                .table(name)
                .ok_or_else(|| Error::resource_not_found_named(&format!("Table: {name}")))?;
            tables.push(entry(&record));
        }
        None => tables.extend(catalog.tables().map(|r| entry(r))),
    }
    Ok(GetPartitionMapResponse {
        epoch: Epoch(catalog.epoch),
        tables,
    })
}

fn entry(record: &crate::meta::catalog::TableRecord) -> TablePartitions {
    TablePartitions {
        table_name: record.name().to_string(),
        table: record.id,
        partitions: record.partitions.clone(),
    }
}

/// The longest a TransferLeader waits for raft to name the new leader (raft gives up on a
/// transfer after an election timeout, and is asked at most twice).
const TRANSFER_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Moves the leadership of a partition this shard leads to its replica on another node.
pub async fn transfer_leader(
    shard: &Shard,
    request: TransferLeaderRequest,
) -> Result<TransferLeaderResponse, Error> {
    use crate::replication::TransferError as T;
    let group = request.partition.0;
    let to = u64::from(request.to.0);
    match shard
        .driver
        .transfer_leader(group, to, TRANSFER_WAIT_MAX)
        .await
    {
        Ok(moved) => Ok(TransferLeaderResponse {
            leader: request.to,
            moved,
        }),
        Err(T::NotLeader { leader, .. }) => Err(super::data::not_leader(shard, leader)),
        Err(e @ T::NotAReplica { .. }) => Err(Error::validation(e.to_string())),
        // Not open here yet, a transferee out of contact, a transfer raft gave up on:
        // worth asking again later.
        Err(e @ (T::NoGroup(_) | T::OutOfContact { .. } | T::TimedOut { .. })) => Err(Error::new(
            shoal_wire::ErrorKind::ServiceUnavailable,
            e.to_string(),
        )),
    }
}
