//! Starting and stopping a node process.
//!
//! In the main thread, before any executor exists: load and check the configuration and the
//! cluster file, check the kernel (io_uring, memlock), claim or check the data directory's
//! identity (node id, cluster, format version), load the transport's certificates, and bind
//! every shard's client (TCP) and peer (UDP) port without SO_REUSEPORT, so each of these fails loudly with its cause before anything runs. Then one
//! glommio executor per shard, each pinned to its own CPU taken from the CPUs this process
//! may use (the affinity mask, not every online CPU: RUNTIME-NOTES E6, pitfall 26). SIGTERM
//! or SIGINT stop the shards cleanly (final checkpoint); the process exits when all have.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use glommio::{LocalExecutorBuilder, Placement};
use serde::{Deserialize, Serialize};

use super::listener::{BoundListener, bind_exclusive};
use super::shard::{PeerStart, ShardStart, run_shard};
use super::sys::{check_io_uring, check_memlock};
use crate::config::{ClusterFile, NodeConfig};
use crate::replication::transport::tls::TlsIdentity;
use crate::replication::transport::{Membership, bind_udp_exclusive};

/// Version of the data directory layout this build reads and writes.
pub const DATA_FORMAT_VERSION: u32 = 1;
/// Name of the identity file at the root of a node's data directory.
pub const IDENTITY_FILE: &str = "IDENTITY.toml";

/// Who a data directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Node id.
    pub node_id: u32,
    /// Cluster name.
    pub cluster: String,
    /// Data format version.
    pub format_version: u32,
}

/// Runs a node until it is told to stop.
pub fn run_node(config: NodeConfig) -> Result<(), String> {
    config.validate()?;
    let cluster = ClusterFile::load(&config.cluster_file)?;
    let me = cluster.node(config.node_id).ok_or_else(|| {
        format!(
            "node {} is not in cluster file {}",
            config.node_id,
            config.cluster_file.display()
        )
    })?;
    let cpus = allowed_cpus();
    let shards = if config.shards == 0 {
        cpus.len() as u16
    } else {
        config.shards
    };
    if shards != me.shards {
        return Err(format!(
            "this node runs {shards} shards but the cluster file says {} for node {}",
            me.shards, me.id
        ));
    }
    check_io_uring()?;
    check_memlock(config.storage.io_memory_bytes, shards as usize)?;
    claim_identity(&config.data_dir, config.node_id, &cluster.name)?;
    let peer = peer_setup(&config, &cluster)?;
    let listeners = bind_all(&me.host, me.client_port_base, shards)?;
    let mut peer_sockets: Vec<Option<UdpSocket>> = match &peer {
        Some(_) => bind_peer_ports(&me.host, me.peer_port_base, shards)?
            .into_iter()
            .map(Some)
            .collect(),
        None => (0..shards).map(|_| None).collect(),
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    install_signal_handler(shutdown.clone())?;
    let mut config = config;
    config.shards = shards;
    let mut handles = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        let peer = peer.as_ref().zip(peer_sockets[index].take()).map(
            |((identity, membership), socket)| PeerStart {
                socket,
                identity: identity.clone(),
                membership: membership.clone(),
            },
        );
        let start = ShardStart {
            index: index as u16,
            config: config.clone(),
            cluster: cluster.clone(),
            listener,
            peer,
            shutdown: shutdown.clone(),
        };
        // Rotated by node id: on a machine of its own a node still gives each shard its own
        // CPU, and several nodes of a local cluster on one machine spread over its CPUs
        // instead of all pinning their shard 0 to the first one.
        let rotation = (config.node_id as usize - 1) * shards as usize;
        let cpu = cpus[(index + rotation) % cpus.len()];
        let handle = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("shard-{index}"))
            .io_memory(config.storage.io_memory_bytes)
            .spin_before_park(std::time::Duration::from_micros(
                config.runtime.spin_before_park_us,
            ))
            .spawn(move || async move { run_shard(start).await })
            .map_err(|e| format!("cannot start shard {index} on CPU {cpu}: {e}"))?;
        tracing::info!(shard = index, cpu, "shard started");
        handles.push(handle);
    }
    let mut first_error = None;
    for (index, handle) in handles.into_iter().enumerate() {
        let result = match handle.join() {
            Ok(r) => r,
            Err(e) => Err(format!("shard {index} crashed: {e}")),
        };
        if let Err(e) = result {
            tracing::error!(shard = index, error = %e, "shard failed");
            shutdown.store(true, Ordering::Relaxed);
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The CPUs this process may run on, read once before anything is pinned.
fn allowed_cpus() -> Vec<usize> {
    let mut ids: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() {
        ids.push(0);
    }
    ids.sort_unstable();
    ids
}

fn bind_all(host: &str, base: u16, shards: u16) -> Result<Vec<BoundListener>, String> {
    (0..shards)
        .map(|i| {
            let addr = resolve(host, base, i)?;
            retry_in_use(|| bind_exclusive(addr, &format!("shard {i}")))
        })
        .collect()
}

/// The replication transport's identity and membership, if this node has peers or TLS
/// configured. A cluster of more than one node must configure `[tls]`.
fn peer_setup(
    config: &NodeConfig,
    cluster: &ClusterFile,
) -> Result<Option<(TlsIdentity, Membership)>, String> {
    let Some(files) = &config.tls else {
        if cluster.nodes.len() > 1 {
            return Err(format!(
                "the cluster has {} nodes: [tls] (ca_file, cert_file, key_file) is required \
                 for the replication transport",
                cluster.nodes.len()
            ));
        }
        return Ok(None);
    };
    let identity = TlsIdentity::load(files).map_err(|e| format!("[tls]: {e}"))?;
    identity
        .check_names(&cluster.name, config.node_id)
        .map_err(|e| format!("[tls]: {e}"))?;
    let membership = Membership::from_cluster_file(cluster)?;
    Ok(Some((identity, membership)))
}

fn bind_peer_ports(host: &str, base: u16, shards: u16) -> Result<Vec<UdpSocket>, String> {
    (0..shards)
        .map(|i| {
            let addr = resolve(host, base, i)?;
            retry_in_use(|| bind_udp_exclusive(addr, &format!("shard {i} peer transport")))
        })
        .collect()
}

/// The address of shard `shard` of a node whose ports start at `base` on `host`.
pub(super) fn resolve(host: &str, base: u16, shard: u16) -> Result<SocketAddr, String> {
    let port = base
        .checked_add(shard)
        .ok_or_else(|| format!("port {base} + shard {shard} overflows"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))
}

/// How long a port that is still in use is retried before start-up fails. A process that
/// was just killed can hold its listening sockets for a moment: io_uring releases the files
/// of pending operations asynchronously after the process exits.
const BIND_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn retry_in_use<T>(mut bind: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = std::time::Instant::now() + BIND_GRACE;
    let mut warned = false;
    loop {
        match bind() {
            Err(e) if e.contains("already in use") && std::time::Instant::now() < deadline => {
                if !warned {
                    tracing::warn!("{e}; retrying for a few seconds");
                    warned = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Writes the identity of a new data directory, or checks an existing one.
pub fn claim_identity(dir: &Path, node_id: u32, cluster: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(IDENTITY_FILE);
    let mine = Identity {
        node_id,
        cluster: cluster.to_string(),
        format_version: DATA_FORMAT_VERSION,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let found: Identity = toml::from_str(&text)
                .map_err(|e| format!("{} is unreadable: {e}", path.display()))?;
            if found.format_version != DATA_FORMAT_VERSION {
                return Err(format!(
                    "{} holds data format version {}, this build reads {DATA_FORMAT_VERSION}",
                    dir.display(),
                    found.format_version
                ));
            }
            if found.node_id != node_id || found.cluster != cluster {
                return Err(format!(
                    "{} belongs to node {} of cluster {:?}, not node {node_id} of {cluster:?}",
                    dir.display(),
                    found.node_id,
                    found.cluster
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let has_data = std::fs::read_dir(dir)
                .map_err(|e| e.to_string())?
                .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("shard-")));
            if has_data {
                return Err(format!(
                    "{} holds shard data but no {IDENTITY_FILE}: refusing to guess its owner",
                    dir.display()
                ));
            }
            let text = toml::to_string(&mine).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn install_signal_handler(shutdown: Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                tracing::info!(signal = sig, "stopping");
                shutdown.store(true, Ordering::Relaxed);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_claimed_once_and_checked_after() {
        let dir = std::env::temp_dir().join(format!("shoal-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        claim_identity(&dir, 1, "c").expect("claim");
        claim_identity(&dir, 1, "c").expect("same owner");
        let err = claim_identity(&dir, 2, "c").expect_err("another node");
        assert!(err.contains("belongs to node 1"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
