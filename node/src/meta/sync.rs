//! Keeping a shard's catalog copy in step with the metadata group.
//!
//! A shard that does not host a metadata replica asks the group's leader for the partition
//! map and, when the epoch moved, for every table's description. It refreshes on demand (a
//! request names a table it does not know, or a client's map epoch is newer than its own)
//! and periodically; concurrent refreshes collapse into one.

use std::cell::RefCell;
use std::rc::Rc;

use futures::lock::Mutex;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{
    DescribeTableRequest, DescribeTableResponse, GetPartitionMapRequest, GetPartitionMapResponse,
};
use shoal_wire::{Error, ErrorKind};

use super::catalog::{Catalog, TableRecord};
use crate::server::node_client::MetaClient;

/// Refreshes a catalog copy from the metadata shard.
pub struct CatalogSync {
    client: MetaClient,
    catalog: Rc<RefCell<Catalog>>,
    running: Mutex<()>,
}

impl CatalogSync {
    /// A sync of `catalog` through `client` (the metadata group's leader).
    pub fn new(client: MetaClient, catalog: Rc<RefCell<Catalog>>) -> Self {
        Self {
            client,
            catalog,
            running: Mutex::new(()),
        }
    }

    /// The client of the metadata group.
    pub fn client(&self) -> &MetaClient {
        &self.client
    }

    /// Fetches the map; when its epoch differs from the copy's, fetches every description
    /// and replaces the copy. Concurrent callers wait for one refresh.
    pub async fn refresh(&self) -> Result<(), Error> {
        let seen = self.catalog.borrow().epoch;
        let _guard = self.running.lock().await;
        if self.catalog.borrow().epoch != seen {
            return Ok(());
        }
        let map: GetPartitionMapResponse = self
            .client
            .call(&GetPartitionMapRequest {
                table_name: None,
                known_epoch: Epoch(0),
            })
            .await?;
        if map.epoch.0 == self.catalog.borrow().epoch && map.epoch.0 != 0 {
            return Ok(());
        }
        let mut records = Vec::with_capacity(map.tables.len());
        for t in map.tables {
            let request = DescribeTableRequest {
                table_name: t.table_name.clone(),
            };
            match self.client.call::<_, DescribeTableResponse>(&request).await {
                Ok(d) => records.push(TableRecord {
                    id: t.table,
                    description: d.table,
                    partitions: t.partitions,
                }),
                // Deleted between the two calls: the next refresh settles it.
                Err(e) if e.kind == ErrorKind::ResourceNotFound => {}
                Err(e) => return Err(e),
            }
        }
        *self.catalog.borrow_mut() = Catalog::from_records(map.epoch.0, records);
        Ok(())
    }
}
