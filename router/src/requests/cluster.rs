//! Builders of the cluster messages: DescribeCluster (of the cluster, or of one shard for
//! health checks), GetPartitionMap and TransferLeader (an operator moving a partition's
//! leadership).
//!
//! Invariant: a DescribeCluster sent `at` a shard makes exactly one attempt at that shard
//! (a health check must not be hidden by fail-over); without `at`, it follows the control
//! plane's routing and retries.
//! Does not change the client's cached topology except through `refresh`.

use shoal_wire::ErrorKind;
use shoal_wire::cluster::{Epoch, NodeId, PartitionId, ReplicaLocation, ShardId};
use shoal_wire::message::{
    DescribeClusterRequest, DescribeClusterResponse, GetPartitionMapRequest,
    GetPartitionMapResponse, TransferLeaderRequest, TransferLeaderResponse,
};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exchange::Exchange;
use crate::routing::Attempts;

/// DescribeCluster: the nodes, their shard ports and the metadata leader.
#[derive(Debug)]
pub struct DescribeCluster {
    client: Client,
    at: Option<ReplicaLocation>,
    refresh: bool,
}

/// GetPartitionMap: the partitions of one table, or of every table.
#[derive(Debug)]
pub struct GetPartitionMap {
    client: Client,
    request: GetPartitionMapRequest,
}

impl Client {
    /// Starts a DescribeCluster.
    pub fn describe_cluster(&self) -> DescribeCluster {
        DescribeCluster {
            client: self.clone(),
            at: None,
            refresh: false,
        }
    }

    /// Starts a GetPartitionMap (every table unless `table_name` is set).
    pub fn get_partition_map(&self) -> GetPartitionMap {
        GetPartitionMap {
            client: self.clone(),
            request: GetPartitionMapRequest {
                table_name: None,
                known_epoch: Epoch(0),
            },
        }
    }
}

/// TransferLeader: moves a partition's leadership to its replica on another node.
#[derive(Debug)]
pub struct TransferLeader {
    client: Client,
    request: TransferLeaderRequest,
}

impl Client {
    /// Starts a TransferLeader of `partition` (its id, as `shoal status` lists it) to its
    /// replica on node `to`.
    pub fn transfer_leader(&self, partition: u64, to: u32) -> TransferLeader {
        TransferLeader {
            client: self.clone(),
            request: TransferLeaderRequest {
                partition: PartitionId(partition),
                to: NodeId(to),
            },
        }
    }
}

impl TransferLeader {
    /// Sends the request: first to the replica a fresh partition map names (the catalog's
    /// placement, not always raft's leader), then where `NotLeader` hints point, and to the
    /// partition's other replicas when one cannot be reached; other retryable errors
    /// (`ServiceUnavailable`: not open there yet, raft gave up on the transfer) are asked
    /// again after the client's back-off, within its usual attempt budget.
    pub async fn send(self) -> Result<TransferLeaderResponse> {
        let client = &self.client;
        let partition = self.request.partition;
        let map = client.get_partition_map().send().await?;
        let entry = map
            .tables
            .iter()
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition == partition)
            .ok_or_else(|| Error::Config(format!("no table has a partition {}", partition.0)))?;
        let mut untried: Vec<ReplicaLocation> = entry.replicas.clone();
        let mut target = entry
            .leader
            .or_else(|| untried.first().copied())
            .ok_or_else(|| Error::Config(format!("partition {} has no replicas", partition.0)))?;
        let mut run = Attempts::new(client);
        loop {
            untried.retain(|r| *r != target);
            let error = match client.call_at(target, &self.request, run.deadline).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let next = match (&error, error.kind()) {
                (_, Some(ErrorKind::NotLeader { hint: Some(leader) })) => leader,
                (Error::Transport { .. } | Error::Timeout { .. }, _) => {
                    untried.first().copied().unwrap_or(target)
                }
                _ => target,
            };
            run.next(client, error, TransferLeaderRequest::IDEMPOTENT, false)
                .await?;
            target = next;
        }
    }
}

impl DescribeCluster {
    /// Asks exactly this shard, once.
    pub fn at(mut self, node: u32, shard: u16) -> Self {
        self.at = Some(ReplicaLocation {
            node: NodeId(node),
            shard: ShardId(shard),
        });
        self
    }

    /// Also replaces the client's topology with the answer.
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Sends the request.
    pub async fn send(self) -> Result<DescribeClusterResponse> {
        let client = &self.client;
        if let Some(location) = self.at {
            let deadline = Instant::now() + client.inner.config.attempt_timeout;
            return client
                .call_at(location, &DescribeClusterRequest {}, deadline)
                .await;
        }
        if self.refresh {
            return client.refresh_topology().await;
        }
        client.send_control(DescribeClusterRequest {}).await
    }
}

impl GetPartitionMap {
    /// Only this table.
    pub fn table_name(mut self, table: impl Into<String>) -> Self {
        self.request.table_name = Some(table.into());
        self
    }

    request_access!(GetPartitionMapRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<GetPartitionMapResponse> {
        self.client.send_control(self.request).await
    }
}
