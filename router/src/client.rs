//! The [`Client`] handle: connecting from a cluster file, the shared state behind every
//! clone (configuration, topology, partition-map cache, connection pool, jitter source),
//! fetching a table's route (key schema + partition map) and the periodic map refresh.
//!
//! Invariant: the cache holds, per table, a route fetched as one consistent snapshot
//! (description and map of the same table id); concurrent requests for an uncached table
//! share one fetch. The refresh task holds only a weak reference and ends with the client.
//! Does not decide retries (see `routing`) or build requests (see `requests`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};

use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg32;
use shoal_wire::cluster::{Epoch, NodeId, TableId};
use shoal_wire::message::{
    DescribeTableRequest, GetPartitionMapRequest, GetPartitionMapResponse, TablePartitions,
};
use shoal_wire::schema::KeySchema;
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::cluster_file::ClusterFile;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::partition_map::{PartitionMaps, TableRoute};
use crate::pool::Pool;
use crate::suspects::Suspects;
use crate::topology::{NodeAddress, Topology};

/// A handle to a Shoal cluster. Cheap to clone; clones share connections and caches.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cluster", &self.cluster_name())
            .finish_non_exhaustive()
    }
}

/// State shared by the clones of a client.
pub(crate) struct Inner {
    pub config: ClientConfig,
    pub backoff: Backoff,
    pub topology: RwLock<Arc<Topology>>,
    pub maps: Mutex<PartitionMaps>,
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub pool: Pool,
    jitter: Mutex<Pcg32>,
    refresher: Mutex<Option<JoinHandle<()>>>,
    /// Turns eventually consistent reads over a partition's replicas.
    pub spread: std::sync::atomic::AtomicUsize,
    /// Nodes passed over after a timeout or a failed connection.
    pub suspects: Suspects,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.refresher).take() {
            task.abort();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (single inserts,
/// removes and replacements only).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Client {
    /// Connects to the cluster named by a cluster file, with the default configuration.
    pub async fn connect(cluster_file: impl AsRef<Path>) -> Result<Client> {
        let file = ClusterFile::load(cluster_file.as_ref()).map_err(Error::Config)?;
        Client::connect_with(file, ClientConfig::default()).await
    }

    /// Connects with an explicit configuration: asks the seed nodes to describe the
    /// cluster (any one answering is enough) and starts the periodic map refresh.
    pub async fn connect_with(file: ClusterFile, config: ClientConfig) -> Result<Client> {
        let client = Client::offline(file, config)?;
        client.refresh_topology().await?;
        let task = tokio::spawn(refresh_loop(
            Arc::downgrade(&client.inner),
            client.inner.config.map_refresh_interval,
        ));
        *lock(&client.inner.refresher) = Some(task);
        Ok(client)
    }

    /// A client that knows only the cluster file and has contacted nobody yet.
    pub(crate) fn offline(file: ClusterFile, config: ClientConfig) -> Result<Client> {
        file.validate().map_err(Error::Config)?;
        config.validate().map_err(Error::Config)?;
        let seed = config.jitter_seed.unwrap_or_else(clock_seed);
        let inner = Inner {
            backoff: Backoff {
                min: config.retry_delay_min,
                max: config.retry_delay_max,
            },
            topology: RwLock::new(Arc::new(Topology::from_cluster_file(&file))),
            maps: Mutex::new(PartitionMaps::default()),
            fetching: Mutex::new(HashMap::new()),
            pool: Pool::new(
                config.connect_timeout,
                config.requests_in_flight_per_connection_max,
            ),
            jitter: Mutex::new(Pcg32::seed_from_u64(seed)),
            refresher: Mutex::new(None),
            spread: std::sync::atomic::AtomicUsize::new(0),
            suspects: Suspects::new(config.node_suspicion_period),
            config,
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The cluster's name.
    pub fn cluster_name(&self) -> String {
        self.topology().cluster_name.clone()
    }

    /// The nodes this client knows, by id.
    pub fn nodes(&self) -> Vec<NodeAddress> {
        self.topology().nodes.values().cloned().collect()
    }

    /// The node leading the metadata group, if known.
    pub fn metadata_leader(&self) -> Option<NodeId> {
        self.topology().metadata_leader
    }

    /// Where this client sends requests for the item whose partition key is
    /// `partition_key` in `table`: the replica its route cache holds for the leader of that
    /// key's partition (learned from `NotLeader` answers). For tools and fault tests.
    pub async fn target_of(
        &self,
        table: &str,
        partition_key: &shoal_wire::AttributeValue,
    ) -> Result<Option<shoal_wire::cluster::ReplicaLocation>> {
        let hash = shoal_wire::key::partition_hash(partition_key)
            .map_err(|e| Error::Config(format!("partition key: {e}")))?;
        let route = self.table_route(table).await?;
        Ok(route.lookup(hash).and_then(TableRoute::target))
    }

    /// The topology as known now (shared: requests read it on every attempt).
    pub(crate) fn topology(&self) -> Arc<Topology> {
        self.inner
            .topology
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_topology(&self, topology: Topology) {
        *self
            .inner
            .topology
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(topology);
    }

    /// Records that `node` leads the metadata group (if the topology knows it).
    pub(crate) fn learn_metadata_leader(&self, node: NodeId) {
        let mut topology = self
            .inner
            .topology
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if topology.metadata_leader != Some(node) && topology.nodes.contains_key(&node) {
            Arc::make_mut(&mut topology).metadata_leader = Some(node);
        }
    }

    /// A random number for back-off jitter.
    pub(crate) fn random(&self) -> u64 {
        lock(&self.inner.jitter).next_u64()
    }

    /// The route of a table: cached, or fetched once for all concurrent callers.
    pub(crate) async fn table_route(&self, table_name: &str) -> Result<Arc<TableRoute>> {
        if let Some(route) = lock(&self.inner.maps).get(table_name) {
            return Ok(route);
        }
        let fetch_lock = lock(&self.inner.fetching)
            .entry(table_name.to_owned())
            .or_default()
            .clone();
        let _fetching = fetch_lock.lock().await;
        if let Some(route) = lock(&self.inner.maps).get(table_name) {
            return Ok(route);
        }
        let route = self.fetch_route(table_name).await?;
        Ok(lock(&self.inner.maps).insert(table_name, route))
    }

    /// Fetches a table's description and partition map. A table deleted and created again
    /// between the two answers shows as different ids: fetched again, a bounded number of
    /// times.
    async fn fetch_route(&self, table_name: &str) -> Result<TableRoute> {
        const ROUTE_FETCHES_MAX: u32 = 3;
        let mut last = None;
        for _ in 0..ROUTE_FETCHES_MAX {
            let description = self
                .send_control(DescribeTableRequest {
                    table_name: table_name.to_owned(),
                })
                .await?
                .table;
            let schema =
                KeySchema::resolve(&description.key_schema, &description.attribute_definitions)
                    .map_err(|e| {
                        self.protocol_error(format!("table {table_name}: bad key schema: {e}"))
                    })?;
            let map = self
                .send_control(GetPartitionMapRequest {
                    table_name: Some(table_name.to_owned()),
                    known_epoch: Epoch(0),
                })
                .await?;
            let epoch = map.epoch;
            match find_table(map, description.shoal_table_id) {
                Some(partitions) if !partitions.partitions.is_empty() => {
                    let route =
                        TableRoute::new(partitions.table, schema, epoch, partitions.partitions)
                            .map_err(|e| self.protocol_error(format!("table {table_name}: {e}")))?;
                    if !route.is_complete() {
                        tracing::warn!(table_name, "partition map does not cover every hash");
                    }
                    return Ok(route);
                }
                _ => last = Some(description.shoal_table_id),
            }
        }
        tracing::debug!(table_name, table = ?last, "no partition map for the described table");
        Err(Error::from(shoal_wire::Error::resource_not_found()))
    }

    pub(crate) fn protocol_error(&self, message: String) -> Error {
        Error::Protocol {
            endpoint: self.cluster_name(),
            message,
        }
    }

    /// Forgets a table's cached route if `seen` is still the cached one.
    pub(crate) fn forget_route(&self, table_name: &str, seen: &Arc<TableRoute>) {
        lock(&self.inner.maps).invalidate(table_name, seen);
    }

    /// Replaces a table's cached route if `seen` is still the cached one.
    pub(crate) fn replace_route(
        &self,
        table_name: &str,
        seen: &Arc<TableRoute>,
        route: TableRoute,
    ) {
        lock(&self.inner.maps).replace(table_name, seen, route);
    }

    /// Refreshes every cached table's map with one request; tables that vanished or were
    /// created again (new id) are forgotten and fetched again on next use.
    pub(crate) async fn refresh_maps(&self) -> Result<()> {
        let names = lock(&self.inner.maps).table_names();
        if names.is_empty() {
            return Ok(());
        }
        let answer = self
            .send_control(GetPartitionMapRequest {
                table_name: None,
                known_epoch: Epoch(0),
            })
            .await?;
        let mut maps = lock(&self.inner.maps);
        for name in names {
            let Some(cached) = maps.get(&name) else {
                continue;
            };
            let fresh = answer.tables.iter().find(|t| t.table == cached.table);
            let route = fresh.and_then(|t| {
                TableRoute::new(
                    t.table,
                    cached.schema.clone(),
                    answer.epoch,
                    t.partitions.clone(),
                )
                .ok()
            });
            match route {
                Some(route) if route.epoch >= cached.epoch => {
                    maps.replace(&name, &cached, route.keeping_leaders_of(&cached));
                }
                Some(_) => {}
                None => maps.remove(&name),
            }
        }
        Ok(())
    }
}

/// The partitions of table `table` in a map answer.
fn find_table(answer: GetPartitionMapResponse, table: TableId) -> Option<TablePartitions> {
    answer.tables.into_iter().find(|t| t.table == table)
}

/// Refreshes the partition maps every `period` while the client lives.
async fn refresh_loop(client: Weak<Inner>, period: std::time::Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    // Runs until the client is dropped (the upgrade fails, or Drop aborts the task).
    loop {
        ticker.tick().await;
        let Some(inner) = client.upgrade() else {
            return;
        };
        let client = Client { inner };
        if let Err(error) = client.refresh_maps().await {
            tracing::debug!(%error, "periodic partition-map refresh failed");
        }
    }
}

/// A jitter seed that differs between processes and runs.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}
