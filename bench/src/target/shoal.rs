//! The Shoal target: the client library (`shoal_router::Client`), one client per load thread
//! shared by that thread's tasks (it multiplexes one connection per shard).
//!
//! The table has a string partition key `pk` and a number sort key `sk`; record `r` lives in
//! partition `r / items_per_partition`. A scan of `n` records queries the partitions covering
//! them in order, at most `n / items_per_partition + 2` queries.
//! Invariant: every request carries the run's `ConsistentRead` choice for reads.
//! Does not retry: the client library's retry policy applies, nothing more.

use std::path::PathBuf;
use std::time::Duration;

use shoal_router::wire::schema::{BillingMode, ScalarType};
use shoal_router::{
    AttributeValue, Client, ClientConfig, ClusterFile, ClusterNode, ErrorKind, Item,
};

use super::{Found, Layout, OpError};
use crate::workload::OpKind;

/// Where the cluster is: a cluster file, or one node's client port (a one-shard node).
#[derive(Debug, Clone)]
pub enum ShoalAddress {
    File(PathBuf),
    Node { host: String, port: u16 },
}

impl ShoalAddress {
    /// `HOST:PORT` when it parses as one and no such file exists, else a cluster-file path.
    pub fn parse(text: &str) -> ShoalAddress {
        if !std::path::Path::new(text).exists()
            && super::check_host_port(text).is_ok()
            && let Some((host, port)) = text.rsplit_once(':')
            && let Ok(port) = port.parse()
        {
            return ShoalAddress::Node {
                host: host.to_string(),
                port,
            };
        }
        ShoalAddress::File(PathBuf::from(text))
    }

    fn cluster_file(&self) -> Result<ClusterFile, String> {
        match self {
            ShoalAddress::File(path) => ClusterFile::load(path),
            ShoalAddress::Node { host, port } => Ok(ClusterFile {
                name: "shoal-bench".into(),
                nodes: vec![ClusterNode {
                    id: 1,
                    host: host.clone(),
                    client_port_base: *port,
                    peer_port_base: *port,
                    shards: 1,
                }],
            }),
        }
    }
}

async fn connect(address: &ShoalAddress, op_timeout: Duration) -> Result<Client, String> {
    let file = address.cluster_file()?;
    let config = ClientConfig {
        operation_timeout: op_timeout,
        attempt_timeout: op_timeout,
        ..ClientConfig::default()
    };
    Client::connect_with(file, config)
        .await
        .map_err(|e| format!("connect to Shoal: {e}"))
}

/// Creates the table (an existing one is reused).
pub async fn prepare(address: &ShoalAddress, layout: &Layout) -> Result<(), String> {
    let client = connect(address, Duration::from_secs(30)).await?;
    let created = client
        .create_table(&layout.table)
        .partition_key("pk", ScalarType::S)
        .sort_key("sk", ScalarType::N)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == Some(ErrorKind::ResourceInUse) => Ok(()),
        Err(e) => Err(format!("create table {}: {e}", layout.table)),
    }
}

/// One load thread's client.
pub struct ShoalThread {
    client: Client,
}

impl ShoalThread {
    /// Connects (reads the cluster file, fetches the topology).
    pub async fn connect(
        address: &ShoalAddress,
        op_timeout: Duration,
    ) -> Result<ShoalThread, String> {
        Ok(ShoalThread {
            client: connect(address, op_timeout).await?,
        })
    }

    /// A session sharing this thread's client.
    pub fn session(&self, layout: Layout) -> ShoalSession {
        ShoalSession {
            client: self.client.clone(),
            layout,
        }
    }
}

/// One task's view: the shared client and the layout.
pub struct ShoalSession {
    client: Client,
    layout: Layout,
}

fn failed(e: shoal_router::Error) -> OpError {
    OpError(e.to_string())
}

impl ShoalSession {
    fn partition_key(&self, partition: u64) -> String {
        format!("{}-p{partition:010}", self.layout.table)
    }

    fn item(&self, record: u64) -> Item {
        let mut item = Item::new();
        let pk = self.partition_key(record / self.layout.items_per_partition);
        item.insert("pk".into(), AttributeValue::S(pk));
        item.insert("sk".into(), AttributeValue::N((record as i64).into()));
        item.insert("v".into(), AttributeValue::B(self.layout.value.clone()));
        item
    }

    /// Executes one operation.
    pub async fn execute(
        &mut self,
        kind: OpKind,
        record: u64,
        length: u64,
    ) -> Result<Found, OpError> {
        match kind {
            OpKind::Read => self.read(record).await,
            OpKind::Update | OpKind::Insert => self.write(record).await,
            OpKind::Rmw => {
                self.read(record).await?;
                self.write(record).await
            }
            OpKind::Scan => self.scan(record, length).await,
            OpKind::Query => {
                let page = self.layout.page_size;
                self.query(record, record * self.layout.items_per_partition, page)
                    .await
                    .map(|n| if n > 0 { Found::Yes } else { Found::No })
            }
        }
    }

    async fn read(&self, record: u64) -> Result<Found, OpError> {
        let pk = self.partition_key(record / self.layout.items_per_partition);
        let got = self
            .client
            .get_item(&self.layout.table)
            .key("pk", pk)
            .key("sk", record)
            .consistent_read(self.layout.consistent)
            .send()
            .await
            .map_err(failed)?;
        Ok(if got.item.is_some() {
            Found::Yes
        } else {
            Found::No
        })
    }

    async fn write(&self, record: u64) -> Result<Found, OpError> {
        let put = self
            .client
            .put_item(&self.layout.table)
            .item(self.item(record));
        put.send().await.map_err(failed)?;
        Ok(Found::Yes)
    }

    /// One page of partition `partition` from sort key `from`, at most `limit` items.
    async fn query(&self, partition: u64, from: u64, limit: u32) -> Result<u64, OpError> {
        let page = self
            .client
            .query(&self.layout.table)
            .key_condition_expression("pk = :p AND sk >= :s")
            .expression_attribute_value(":p", self.partition_key(partition))
            .expression_attribute_value(":s", from)
            .consistent_read(self.layout.consistent)
            .limit(limit)
            .send()
            .await
            .map_err(failed)?;
        Ok(u64::from(page.count))
    }

    async fn scan(&self, start: u64, length: u64) -> Result<Found, OpError> {
        let per = self.layout.items_per_partition;
        let end = start + length.max(1);
        let mut read = 0;
        // Bounded: one query per partition covering start..end, at most length / per + 2.
        for partition in start / per..=(end - 1) / per {
            let from = start.max(partition * per);
            let to = end.min((partition + 1) * per);
            read += self.query(partition, from, (to - from) as u32).await?;
        }
        Ok(if read > 0 { Found::Yes } else { Found::No })
    }
}
