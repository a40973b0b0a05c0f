//! `shoal status`: every node and shard of the cluster file with its health (does it answer
//! DescribeCluster?) and replication state (raft groups hosted, led and hibernating,
//! snapshots), the metadata leader, and each table's partitions with their hash ranges,
//! leaders (as the shards' raft groups say) and replicas. Exits non-zero when a shard is
//! down.
//!
//! Invariant: health comes from one bounded probe per shard, never from the client's
//! fail-over, so a down shard is always reported.
//! Does not change anything.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use shoal_router::{Client, ClusterFile};
use shoal_wire::cluster::ReplicaLocation;

use super::gateway;
use super::layout::Layout;
use super::process;
use crate::cli::CliError;

/// Time one health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs `shoal status` for the cluster in `cluster_file`.
pub async fn run(cluster_file: &Path) -> Result<(), CliError> {
    let cluster = ClusterFile::load(cluster_file).map_err(CliError::Local)?;
    let local = cluster_file.parent().and_then(|dir| Layout::new(dir).ok());
    println!("cluster {:?} ({})", cluster.name, cluster_file.display());
    if let Some(gateway) = local.as_ref().and_then(gateway::running) {
        println!("gateway {} (pid {})", gateway.url, gateway.pid);
    }
    let (mut up, mut down) = (0, 0);
    let mut leaders: HashMap<u64, String> = HashMap::new();
    for node in &cluster.nodes {
        let pid = local
            .as_ref()
            .and_then(|layout| process::running_pid(layout, node.id))
            .map_or(String::new(), |pid| format!(", pid {pid}"));
        println!("node {} at {}{pid}", node.id, node.host);
        for shard in 0..node.shards {
            let address = format!("{}:{}", node.host, node.client_port_base + shard);
            let health = shoal_router::probe::describe_cluster(&address, PROBE_TIMEOUT).await;
            let state = match health {
                Ok(d) => {
                    up += 1;
                    let r = &d.shard;
                    for group in &r.leading {
                        leaders.insert(*group, format!("{}/{}", r.node.0, r.shard.0));
                    }
                    format!(
                        "up: {} raft groups, leads {}, {} hibernating; {} messages and {} \
                         snapshots sent, {} snapshots installed",
                        r.groups,
                        r.leading.len(),
                        r.hibernating,
                        r.messages_sent,
                        r.snapshots_sent,
                        r.snapshots_installed
                    )
                }
                Err(e) => {
                    down += 1;
                    format!("down ({})", e.message())
                }
            };
            println!("  shard {shard} {address} {state}");
        }
    }
    if up > 0 {
        print_partitions(cluster, &leaders).await?;
    }
    if down > 0 {
        return Err(CliError::Local(format!(
            "{down} of {} shards are down",
            up + down
        )));
    }
    Ok(())
}

fn location(l: &ReplicaLocation) -> String {
    format!("{}/{}", l.node.0, l.shard.0)
}

/// The metadata leader and every table's partitions.
async fn print_partitions(
    cluster: ClusterFile,
    leaders: &HashMap<u64, String>,
) -> Result<(), CliError> {
    let client = Client::connect_with(cluster, shoal_router::ClientConfig::default()).await?;
    let description = client.describe_cluster().send().await?;
    let leader = description
        .metadata_leader
        .map_or("unknown".to_owned(), |n| format!("node {}", n.0));
    println!(
        "metadata leader: {leader}; map epoch {}",
        description.map_epoch.0
    );
    let map = client.get_partition_map().send().await?;
    for table in &map.tables {
        println!(
            "table {} (id {}): {} partition(s)",
            table.table_name,
            table.table.0,
            table.partitions.len()
        );
        for p in &table.partitions {
            let replicas: Vec<String> = p.replicas.iter().map(location).collect();
            let leader = leaders
                .get(&p.partition.0)
                .cloned()
                .unwrap_or_else(|| "none known".to_owned());
            println!(
                "  partition {} hashes {:#018x}..={:#018x} leader {leader} replicas {} epoch {}",
                p.partition.0,
                p.hash_start,
                p.hash_end,
                replicas.join(","),
                p.epoch.0
            );
        }
    }
    Ok(())
}
