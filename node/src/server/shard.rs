//! One shard: its storage engine, raft driver, catalog copy and client listener, all owned
//! by one glommio executor pinned to one CPU.
//!
//! Start-up order matters: the DMA probe file first (glommio's per-thread iopoll probe,
//! pitfall 2), then the engine (recovery), the metadata state (on the metadata shard), the
//! raft groups already present in the log, and only then the listener. Shutdown stops
//! accepting, hands the leadership of its groups to followers (a planned stop costs clients
//! no election), stops the driver and closes the engine with a final checkpoint.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use shoal_wire::Error;

use super::listener::BoundListener;
use super::machine::Machine;
use super::node_client::MetaClient;
use crate::config::{ClusterFile, NodeConfig};
use crate::exec::capacity::PartitionThrottle;
use crate::meta::catalog::{Catalog, METADATA_GROUP, table_of_group};
use crate::meta::machine::MetaMachine;
use crate::meta::sync::CatalogSync;
use crate::replication::transport::tls::{TlsIdentity, quic_configs};
use crate::replication::transport::{Membership, ShardAddr, Transport, TransportCore};
use crate::replication::{DriverConfig, RaftDriver};
use crate::storage::dma::DmaDisk;
use crate::storage::{Engine, StorageError};

/// How often a shard refreshes its catalog copy without being asked.
const CATALOG_REFRESH_PERIOD: Duration = Duration::from_secs(1);
/// Longest a metadata replica waits to catch up with its group on a refresh.
const META_CATCH_UP_WAIT: Duration = Duration::from_secs(2);
/// Longest a stopping shard waits for its groups' leadership to move to followers.
const LEADERSHIP_TRANSFER_WAIT: Duration = Duration::from_secs(3);
/// How often the shard checks for a shutdown request.
const SHUTDOWN_POLL: Duration = Duration::from_millis(50);

/// Everything a shard owns.
pub struct Shard {
    /// Shard index on this node.
    pub index: u16,
    /// This node's id.
    pub node_id: u32,
    /// Node configuration.
    pub config: Rc<NodeConfig>,
    /// The cluster file.
    pub cluster: Rc<ClusterFile>,
    /// The storage engine.
    pub engine: Engine<DmaDisk>,
    /// The raft driver of every group on this shard.
    pub driver: RaftDriver<DmaDisk, Machine>,
    /// The catalog (authoritative on the metadata shard, a copy elsewhere).
    pub catalog: Rc<RefCell<Catalog>>,
    /// On other shards: how the copy is refreshed (and where control requests go).
    pub sync: Option<CatalogSync>,
    /// Open client connections.
    pub connections: Cell<usize>,
    /// Throughput buckets of the partitions this shard leads, with the catalog epoch they
    /// were configured at.
    pub throttles: RefCell<HashMap<u64, (u64, PartitionThrottle)>>,
    /// The replication transport (absent on a lone node without `[tls]`).
    pub transport: Option<Rc<Transport>>,
    /// Groups being opened because a peer sent messages for them.
    opening: RefCell<HashSet<u64>>,
}

impl Shard {
    /// Whether this shard hosts a replica of the metadata group.
    pub fn is_meta(&self) -> bool {
        self.meta().is_some()
    }

    /// The metadata state machine (on the metadata shard).
    pub fn meta(&self) -> Option<&MetaMachine> {
        self.driver.machine().meta()
    }

    /// Brings the catalog up to date: a copy asks the metadata leader; a metadata replica
    /// (whose catalog its state machine keeps) catches up with what the group committed.
    pub async fn refresh_catalog(&self) -> Result<(), Error> {
        if let Some(sync) = &self.sync {
            return sync.refresh().await;
        }
        let caught_up = std::pin::pin!(self.driver.catch_up(METADATA_GROUP));
        let timer = std::pin::pin!(crate::rt::sleep(META_CATCH_UP_WAIT));
        match futures::future::select(caught_up, timer).await {
            futures::future::Either::Left((Ok(()), _)) => Ok(()),
            futures::future::Either::Left((Err(e), _)) => Err(Error::new(
                shoal_wire::ErrorKind::ServiceUnavailable,
                format!("metadata: {e}"),
            )),
            futures::future::Either::Right(_) => Err(Error::new(
                shoal_wire::ErrorKind::ServiceUnavailable,
                "metadata replica could not catch up in time",
            )),
        }
    }

    /// The voters (node ids) of partition group `group` if the catalog lists this shard
    /// among its replicas.
    pub fn replica_voters(&self, group: u64) -> Option<Vec<u64>> {
        let catalog = self.catalog.borrow();
        let table = catalog.table_by_id(table_of_group(group))?;
        let entry = table.partitions.iter().find(|p| p.partition.0 == group)?;
        let here = entry
            .replicas
            .iter()
            .any(|r| r.node.0 == self.node_id && r.shard.0 == self.index);
        here.then(|| entry.replicas.iter().map(|r| u64::from(r.node.0)).collect())
    }

    /// Opens the raft group of a partition this shard replicates, if it is not open yet.
    pub async fn open_partition(&self, group: u64) -> Result<(), Error> {
        if self.driver.has_group(group) {
            return Ok(());
        }
        let voters = self.replica_voters(group).ok_or_else(|| {
            Error::internal(format!("partition {group} has no replica on this shard"))
        })?;
        self.driver
            .open_group(group, voters)
            .await
            .map_err(|e| Error::internal(format!("cannot open partition {group}: {e}")))
    }

    /// Opens the group of every partition the catalog places a replica of on this shard:
    /// followers take part in elections and replication before any client talks to them.
    pub async fn open_replicas(&self) {
        let groups: Vec<u64> = {
            let catalog = self.catalog.borrow();
            catalog
                .tables()
                .flat_map(|t| t.partitions.iter())
                .filter(|p| {
                    p.replicas
                        .iter()
                        .any(|r| r.node.0 == self.node_id && r.shard.0 == self.index)
                })
                .map(|p| p.partition.0)
                .filter(|&g| !self.driver.has_group(g))
                .collect()
        };
        for group in groups {
            if let Err(e) = self.open_partition(group).await {
                tracing::warn!(shard = self.index, group, error = %e, "cannot open a replica");
            }
        }
    }
}

/// Everything a shard thread needs to start.
pub struct ShardStart {
    /// Shard index.
    pub index: u16,
    /// Node configuration.
    pub config: NodeConfig,
    /// The cluster file.
    pub cluster: ClusterFile,
    /// The bound client listener.
    pub listener: BoundListener,
    /// The replication transport's socket and credentials (absent on a lone node without
    /// `[tls]`).
    pub peer: Option<PeerStart>,
    /// Set when the node should stop.
    pub shutdown: Arc<AtomicBool>,
}

/// What a shard needs to start its replication transport.
pub struct PeerStart {
    /// The bound peer port (peer base port + shard index).
    pub socket: std::net::UdpSocket,
    /// This node's certificates.
    pub identity: TlsIdentity,
    /// The cluster's nodes.
    pub membership: Membership,
}

/// The shard's main: runs until shutdown. Errors are start-up failures.
pub async fn run_shard(mut start: ShardStart) -> Result<(), String> {
    let transport = match start.peer.take() {
        Some(peer) => Some(Rc::new(start_transport(
            start.config.node_id,
            start.index,
            peer,
        )?)),
        None => None,
    };
    let shard = Rc::new(open_shard(&start, transport.clone()).await?);
    let queues = crate::rt::create_queues();
    shard.engine.start_background(Some(queues.background));
    let driver = shard.driver.clone();
    let driver_task =
        glommio::spawn_local_into(async move { driver.run().await }, queues.foreground)
            .map_err(|e| format!("spawn raft driver: {e}"))?;
    let driver = shard.driver.clone();
    let receive_task =
        glommio::spawn_local_into(async move { driver.receive().await }, queues.foreground)
            .map_err(|e| format!("spawn raft receiver: {e}"))?;
    let weak = Rc::downgrade(&shard);
    shard.driver.on_unknown_group(move |group| {
        if let Some(s) = weak.upgrade() {
            crate::rt::spawn_detached(async move { open_on_demand(s, group).await });
        }
    });
    catalog_ready(&shard).await;
    reopen_partitions(&shard)
        .await
        .map_err(|e| format!("shard {}: reopening partitions: {e}", start.index))?;
    let s = shard.clone();
    crate::rt::spawn_detached(async move { catalog_refresh_loop(s).await });
    let addr = start.listener.addr;
    let listener = start.listener.into_glommio();
    tracing::info!(shard = start.index, %addr, "shard serving");
    accept_loop(&shard, &listener, &start.shutdown, queues.foreground).await;
    if shard.transport.is_some() {
        let still = shard
            .driver
            .transfer_leaderships(LEADERSHIP_TRANSFER_WAIT)
            .await;
        if still > 0 {
            tracing::warn!(
                shard = start.index,
                groups = still,
                "stopping while still leading"
            );
        }
    }
    shard.driver.close();
    driver_task.await;
    drop(receive_task);
    if let Some(t) = &shard.transport {
        t.shut_down().await;
    }
    if let Err(e) = shard.engine.close().await {
        tracing::error!(shard = start.index, error = %e, "closing the storage engine failed");
    }
    Ok(())
}

fn start_transport(node: u32, index: u16, peer: PeerStart) -> Result<Transport, String> {
    let configs = quic_configs(&peer.identity, index).map_err(|e| format!("shard {index}: {e}"))?;
    let local = ShardAddr { node, shard: index };
    let core = TransportCore::new(local, peer.membership, configs, Default::default());
    let transport = Transport::start(peer.socket, core)
        .map_err(|e| format!("shard {index}: peer transport: {e}"))?;
    tracing::info!(shard = index, addr = %transport.local_addr(), "peer transport listening");
    Ok(transport)
}

/// Opens a group a peer sent raft messages for, if the catalog (refreshed) says this shard
/// replicates it. Messages that arrived meanwhile were dropped; raft sends them again.
async fn open_on_demand(shard: Rc<Shard>, group: u64) {
    if !shard.opening.borrow_mut().insert(group) {
        return;
    }
    if shard.replica_voters(group).is_none() {
        let _ = shard.refresh_catalog().await;
    }
    if shard.replica_voters(group).is_some()
        && let Err(e) = shard.open_partition(group).await
    {
        tracing::warn!(shard = shard.index, group, error = %e, "cannot open a replica");
    }
    // Forget after a pause, so a storm of messages for a group that is not ours costs one
    // catalog refresh per pause.
    crate::rt::sleep(Duration::from_millis(500)).await;
    shard.opening.borrow_mut().remove(&group);
}

async fn open_shard(start: &ShardStart, transport: Option<Rc<Transport>>) -> Result<Shard, String> {
    let cfg = &start.config;
    let dir = cfg.data_dir.join(format!("shard-{}", start.index));
    let disk = DmaDisk::new(&dir)
        .await
        .map_err(|e| format!("shard {}: {}: {e}", start.index, dir.display()))?;
    let engine = Engine::open(disk, &dir, cfg.engine_config().for_raft())
        .await
        .map_err(|e| format!("shard {}: storage recovery failed: {e}", start.index))?;
    let meta_nodes = start.cluster.metadata_nodes();
    let is_meta = start.index == 0 && meta_nodes.iter().any(|n| n.id == cfg.node_id);
    let catalog = Rc::new(RefCell::new(Catalog::default()));
    let meta = if is_meta {
        let placement = placement(&start.cluster);
        let m = MetaMachine::load(engine.clone(), catalog.clone(), placement)
            .await
            .map_err(|e| format!("metadata recovery failed: {e}"))?;
        Some(m)
    } else {
        None
    };
    let machine = Machine::new(engine.clone(), catalog.clone(), meta);
    let driver = RaftDriver::new(
        driver_config(cfg),
        engine.clone(),
        machine,
        start.index,
        transport.clone(),
    );
    let meta_addrs = meta_nodes
        .iter()
        .map(|n| super::start::resolve(&n.host, n.client_port_base, 0).map(|a| (n.id, a)))
        .collect::<Result<Vec<_>, String>>()?;
    let meta_voters: Vec<u64> = meta_nodes.iter().map(|n| u64::from(n.id)).collect();
    let sync = (!is_meta).then(|| CatalogSync::new(MetaClient::new(meta_addrs), catalog.clone()));
    let shard = Shard {
        index: start.index,
        node_id: cfg.node_id,
        config: Rc::new(cfg.clone()),
        cluster: Rc::new(start.cluster.clone()),
        engine,
        driver,
        catalog,
        sync,
        connections: Cell::new(0),
        throttles: RefCell::new(HashMap::new()),
        transport,
        opening: RefCell::new(HashSet::new()),
    };
    shard
        .driver
        .discard_staged_snapshots()
        .await
        .map_err(|e| format!("discarding unfinished snapshots: {e}"))?;
    if shard.is_meta() {
        shard
            .driver
            .open_group(METADATA_GROUP, meta_voters)
            .await
            .map_err(|e| format!("metadata group: {e}"))?;
    }
    Ok(shard)
}

/// Reopens the partition groups whose log this shard holds. Only once the catalog is known:
/// re-applying an entry needs its table's key schema, and an entry applied against an
/// unknown table would be skipped (what a deleted table's entries rightly get).
async fn reopen_partitions(shard: &Shard) -> Result<(), StorageError> {
    for stream in shard.engine.wal().stream_ids() {
        if stream == METADATA_GROUP || table_of_group(stream).0 == 0 {
            continue;
        }
        // A partition the catalog no longer lists (its table was deleted) stays closed.
        if let Some(voters) = shard.replica_voters(stream) {
            shard.driver.open_group(stream, voters).await?;
        }
    }
    shard.open_replicas().await;
    Ok(())
}

/// Every (node, shard) of the cluster, in order: where partitions go.
pub fn placement(cluster: &ClusterFile) -> Vec<(u32, u16)> {
    let mut nodes: Vec<_> = cluster.nodes.iter().collect();
    nodes.sort_by_key(|n| n.id);
    nodes
        .iter()
        .flat_map(|n| (0..n.shards).map(move |s| (n.id, s)))
        .collect()
}

fn driver_config(cfg: &NodeConfig) -> DriverConfig {
    DriverConfig {
        replica_id: cfg.node_id as u64,
        tick: Duration::from_millis(cfg.raft.tick_ms),
        election_ticks: cfg.raft.election_ticks,
        heartbeat_ticks: cfg.raft.heartbeat_ticks,
        log_kept_for_followers: cfg.raft.log_kept_for_followers,
        log_cache_bytes: cfg.raft.log_cache_bytes,
    }
}

async fn accept_loop(
    shard: &Rc<Shard>,
    listener: &glommio::net::TcpListener,
    shutdown: &AtomicBool,
    queue: crate::rt::TaskQueueHandle,
) {
    super::listener::accept_until(listener, shutdown, SHUTDOWN_POLL, |accepted| {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                return;
            }
        };
        if shard.connections.get() >= shard.config.limits.connections_per_shard_max {
            tracing::warn!(
                shard = shard.index,
                "connection refused: too many connections"
            );
            return;
        }
        shard.connections.set(shard.connections.get() + 1);
        let s = shard.clone();
        crate::rt::spawn_detached_into(
            async move {
                super::conn::serve(s.clone(), stream).await;
                s.connections.set(s.connections.get() - 1);
            },
            queue,
        );
    })
    .await;
}

/// Longest a shard waits at start for a usable catalog before serving anyway.
const CATALOG_READY_WAIT_MAX: Duration = Duration::from_secs(30);

/// Waits until the catalog is usable: on the metadata shard, until its group has applied
/// everything committed before the restart (the catalog in memory is rebuilt by re-applying
/// the log after the last checkpoint); elsewhere, until a first copy arrived.
async fn catalog_ready(shard: &Shard) {
    let deadline = std::time::Instant::now() + CATALOG_READY_WAIT_MAX;
    loop {
        let ready = shard.refresh_catalog().await.is_ok();
        if ready {
            return;
        }
        if std::time::Instant::now() >= deadline {
            tracing::warn!(
                shard = shard.index,
                "serving without a catalog: metadata unreachable"
            );
            return;
        }
        crate::rt::sleep(Duration::from_millis(if shard.is_meta() { 2 } else { 100 })).await;
    }
}

/// Refreshes the catalog copy periodically, and opens the groups of partitions this shard
/// has become a replica of. A metadata replica's catalog follows what its group applies, so
/// it is not refreshed here: asking the leader for its commit index every period would keep
/// the metadata group from ever hibernating (requests that need a fresher catalog than the
/// one applied still catch up, in `table_for`).
async fn catalog_refresh_loop(shard: Rc<Shard>) {
    // Runs for the shard's life; errors are retried next period.
    loop {
        if shard.sync.is_some()
            && let Err(e) = shard.refresh_catalog().await
        {
            tracing::debug!(shard = shard.index, error = %e, "catalog refresh failed");
        }
        shard.open_replicas().await;
        crate::rt::sleep(CATALOG_REFRESH_PERIOD).await;
    }
}
