//! `shoal up`: create a local cluster in DIR (configs, cluster file, free ports) or reuse
//! the one there, start every node that is not running, wait until every shard answers
//! DescribeCluster, start the HTTP gateway (unless `--no-gateway`), and print the endpoints,
//! the gateway's URL and the `export AWS_...` lines of its credentials.
//!
//! Invariant: an existing DIR keeps its cluster file and node configs (its ports and data);
//! the flags that shape a new cluster are ignored for it. The wait is bounded; a node that
//! exits meanwhile fails the command at once with the end of its log.
//! Does not stop anything: a failed `up` leaves started nodes running for inspection
//! (`shoal down` stops them).

use std::process::Child;
use std::time::{Duration, Instant};

use shoal_router::{ClusterFile, ClusterNode};

use super::gateway;
use super::layout::{Layout, node_config_text};
use super::ports;
use super::process;
use crate::cli::CliError;
use crate::cli::args::UpArgs;

/// Most shards per node when `--shards-per-node` is not given.
pub const SHARDS_DEFAULT: u16 = 2;
/// Most nodes `shoal up` starts on one machine.
pub const NODES_MAX: u32 = 16;
/// Time one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between readiness rounds.
const PROBE_PAUSE: Duration = Duration::from_millis(100);

/// Runs `shoal up`.
pub async fn run(args: UpArgs) -> Result<(), CliError> {
    let layout = Layout::new(&args.dir)?;
    let cluster = match ClusterFile::load(&layout.cluster_file()) {
        Ok(existing) => existing,
        Err(_) if !layout.cluster_file().exists() => create(&layout, &args)?,
        Err(error) => return Err(CliError::Local(error)),
    };
    let binary = process::node_binary()?;
    let mut started = Vec::new();
    for node in &cluster.nodes {
        if let Some(pid) = process::running_pid(&layout, node.id) {
            println!("node {} already running (pid {pid})", node.id);
            continue;
        }
        if !layout.node_config(node.id).exists() {
            return Err(CliError::Local(format!(
                "{} is missing; remove {} to create a new cluster",
                layout.node_config(node.id).display(),
                layout.dir.display()
            )));
        }
        layout.create_node_dirs(node.id)?;
        started.push((node.id, process::start_node(&binary, &layout, node.id)?));
    }
    wait_until_serving(
        &layout,
        &cluster,
        &mut started,
        Duration::from_secs(args.wait_s),
    )
    .await?;
    print_endpoints(&layout, &cluster);
    if !args.no_gateway {
        let running = gateway::start(&layout, seed())?;
        gateway::print(&layout, &running)?;
    }
    Ok(())
}

/// Writes a new cluster's configs and cluster file.
fn create(layout: &Layout, args: &UpArgs) -> Result<ClusterFile, CliError> {
    if args.nodes == 0 || args.nodes > NODES_MAX {
        return Err(CliError::Invalid(format!(
            "--nodes {} not in 1..={NODES_MAX}",
            args.nodes
        )));
    }
    let shards = args
        .shards_per_node
        .unwrap_or_else(|| default_shards(args.nodes, cpus()));
    if shards == 0 {
        return Err(CliError::Invalid(
            "--shards-per-node must be at least 1".into(),
        ));
    }
    let count = args.nodes * 2 * u32::from(shards);
    let base = match args.base_port {
        Some(base) if ports::range_is_free(base, count) => base,
        Some(base) => {
            return Err(CliError::Local(format!(
                "ports {base}..{} are not all free on 127.0.0.1",
                u32::from(base) + count
            )));
        }
        None => ports::find_free_range(count, seed())
            .ok_or_else(|| CliError::Local(format!("no {count} consecutive free ports found")))?,
    };
    let nodes: Vec<ClusterNode> = ports::plan(args.nodes, shards, base).map_err(CliError::Local)?;
    let cluster = ClusterFile {
        name: "shoal-local".to_owned(),
        nodes,
    };
    process::mint_certs(layout, &cluster)?;
    let gateways = u64::from(!args.no_gateway);
    let servers = u64::from(args.nodes) * u64::from(shards) + gateways;
    let spin_us = spin_before_park_us(servers, cpus(), online_cpus());
    for node in &cluster.nodes {
        layout.create_node_dirs(node.id)?;
        let text = node_config_text(layout, node.id, shards, args.cache_bytes, spin_us);
        let path = layout.node_config(node.id);
        std::fs::write(&path, text)
            .map_err(|e| CliError::Local(format!("cannot write {}: {e}", path.display())))?;
    }
    cluster
        .save(&layout.cluster_file())
        .map_err(CliError::Local)?;
    Ok(cluster)
}

/// shoal-node's default `runtime.spin_before_park_us` (see its example configuration).
const SPIN_BEFORE_PARK_US_DEFAULT: u64 = 50;

/// How long the shards of a local cluster poll before parking, given the threads that want
/// a CPU of their own (`servers`: shards and the gateway), the CPUs this process may use
/// (`allowed`) and the machine's (`online`).
///
/// Shards outnumbering the CPUs share them: a shard polling for work would take its CPU
/// from the others (shoal-bench, three one-shard nodes on two CPUs, PutItem at 64 in
/// flight: 11% more throughput parking at once), so they park at once. A client counts too
/// when it runs on the same CPUs (one one-shard node and the gateway on two CPUs: GetItem
/// and PutItem through the gateway 8-13% faster parking at once); a cluster confined to
/// some of the machine's CPUs (`taskset`) leaves the others to its clients (one one-shard
/// node on CPU 1, shoal-bench on CPU 0, 3 rounds each: polling serves GetItem at 1 / 16 /
/// 64 in flight 1.98-2.28 / 1.30 / 1.12-1.16 times as fast as parking at once, PutItem at
/// 1 / 16 / 64 1.16-1.23 / 0.85-0.91 / 1.04-1.08).
fn spin_before_park_us(servers: u64, allowed: usize, online: usize) -> u64 {
    let clients = u64::from(allowed >= online);
    if servers + clients > allowed as u64 {
        0
    } else {
        SPIN_BEFORE_PARK_US_DEFAULT
    }
}

/// The machine's online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-3,6`), or the CPUs
/// this process may use if that cannot be read.
fn online_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| count_cpu_list(list.trim()))
        .unwrap_or_else(cpus)
}

/// The number of CPUs in a kernel CPU list (`0-3,6`); `None` if it is malformed.
fn count_cpu_list(list: &str) -> Option<usize> {
    list.split(',').try_fold(0usize, |count, range| {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let (first, last): (usize, usize) = (first.parse().ok()?, last.parse().ok()?);
        Some(count + last.checked_sub(first)? + 1)
    })
}

/// The local nodes share one machine: its CPUs are shared out among them, one shard per
/// CPU, between 1 and [`SHARDS_DEFAULT`] per node. Three nodes of two shards on two CPUs
/// (six shards for two CPUs) did 5.8-6.5k replicated PutItem/s at 16 in flight against
/// 12-14k/s with one shard each (bench/README.md, 2026-12-07 evening).
fn default_shards(nodes: u32, cpus: usize) -> u16 {
    let share = cpus / (nodes.max(1) as usize);
    u16::try_from(share)
        .unwrap_or(u16::MAX)
        .clamp(1, SHARDS_DEFAULT)
}

/// The CPUs this process may use.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// Polls every shard until all answer DescribeCluster, a started node exits, or `limit`
/// passes.
async fn wait_until_serving(
    layout: &Layout,
    cluster: &ClusterFile,
    started: &mut [(u32, Child)],
    limit: Duration,
) -> Result<(), CliError> {
    let deadline = Instant::now() + limit;
    let mut waiting: Vec<(u32, String)> = cluster
        .nodes
        .iter()
        .flat_map(|n| {
            (0..n.shards).map(move |s| (n.id, format!("{}:{}", n.host, n.client_port_base + s)))
        })
        .collect();
    // Bounded by `deadline`.
    loop {
        for (node, child) in started.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = layout.log_file(*node);
                return Err(CliError::Local(format!(
                    "node {node} exited ({status}); end of {}:\n{}",
                    log.display(),
                    process::log_tail(&log, 20)
                )));
            }
        }
        let mut still = Vec::new();
        for (node, address) in waiting {
            if shoal_router::probe::describe_cluster(&address, PROBE_TIMEOUT)
                .await
                .is_err()
            {
                still.push((node, address));
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let list: Vec<String> = waiting
                .iter()
                .map(|(n, a)| format!("node {n} at {a}"))
                .collect();
            return Err(CliError::Local(format!(
                "not serving after {limit:?}: {} (logs in {}/node-N/log)",
                list.join(", "),
                layout.dir.display()
            )));
        }
        tokio::time::sleep(PROBE_PAUSE).await;
    }
}

fn print_endpoints(layout: &Layout, cluster: &ClusterFile) {
    let shards: u32 = cluster.nodes.iter().map(|n| u32::from(n.shards)).sum();
    println!(
        "cluster {:?} is up: {} node(s), {shards} shard(s), in {}",
        cluster.name,
        cluster.nodes.len(),
        layout.dir.display()
    );
    for node in &cluster.nodes {
        let pid = process::running_pid(layout, node.id).map_or("?".to_owned(), |p| p.to_string());
        let last = node.client_port_base + node.shards - 1;
        println!(
            "  node {} (pid {pid}): {}:{}-{} (log {})",
            node.id,
            node.host,
            node.client_port_base,
            last,
            layout.log_file(node.id).display()
        );
    }
    println!("cluster file: {}", layout.cluster_file().display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_poll_only_with_a_cpu_each_and_clients_count_unless_the_cluster_is_confined() {
        let polling = SPIN_BEFORE_PARK_US_DEFAULT;
        // One shard and a client on two CPUs: each has one.
        assert_eq!(spin_before_park_us(1, 2, 2), polling);
        // A gateway too: three threads for two CPUs.
        assert_eq!(spin_before_park_us(2, 2, 2), 0);
        // Three one-shard nodes on two CPUs.
        assert_eq!(spin_before_park_us(3, 2, 2), 0);
        // `taskset -c 1`: the shard has CPU 1, the clients the other.
        assert_eq!(spin_before_park_us(1, 1, 2), polling);
        // ...but a shard and a gateway on that one CPU share it.
        assert_eq!(spin_before_park_us(2, 1, 2), 0);
        assert_eq!(spin_before_park_us(3, 4, 8), polling);
    }

    #[test]
    fn local_nodes_share_the_cpus_out() {
        assert_eq!(default_shards(1, 2), 2);
        assert_eq!(default_shards(3, 2), 1);
        assert_eq!(default_shards(1, 1), 1);
        assert_eq!(default_shards(3, 8), 2);
        assert_eq!(default_shards(16, 64), 2);
        assert_eq!(default_shards(16, 4), 1);
    }

    #[test]
    fn cpu_lists_are_counted_and_malformed_ones_refused() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("a-b"), None);
        assert_eq!(count_cpu_list(""), None);
    }
}
