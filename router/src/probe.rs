//! One-off exchanges with a single shard by address, without a cluster file or a partition
//! map: `shoal up` waits with it until every shard serves, `shoal status` checks each
//! shard's health with it.
//!
//! Invariant: each probe opens its own connection and closes it before returning; it never
//! retries, so its time is bounded by `timeout`.
//! Does not route or cache anything.

use std::time::Duration;

use shoal_wire::message::{DescribeClusterRequest, DescribeClusterResponse};
use tokio::time::Instant;

use crate::connection::Connection;
use crate::error::Result;

/// Asks the shard at `address` (`host:port`) to describe the cluster, within `timeout`.
pub async fn describe_cluster(address: &str, timeout: Duration) -> Result<DescribeClusterResponse> {
    let deadline = Instant::now() + timeout;
    let connection = Connection::open(address.to_owned(), timeout, 1).await?;
    connection.call(&DescribeClusterRequest {}, deadline).await
}
