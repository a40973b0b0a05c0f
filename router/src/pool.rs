//! Connections by (node, shard): at most one live connection per shard location, opened on
//! first use and replaced after it fails.
//!
//! Invariant: concurrent callers for one location share a single connection attempt (the
//! slot's connect lock); a closed connection, or one to an address the topology no longer
//! names, is never handed out.
//! Does not retry a failed connect: the caller's retry loop decides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_wire::cluster::ReplicaLocation;

use crate::connection::Connection;
use crate::error::Result;
use crate::topology::Endpoint;

/// One location's connection and the lock that serialises connecting.
#[derive(Default)]
struct Slot {
    /// The connection and the address it was opened to.
    current: Mutex<Option<(Endpoint, Arc<Connection>)>>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The live connection to `endpoint`'s address, if there is one.
    fn live(&self, endpoint: &Endpoint) -> Option<Arc<Connection>> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current
            .as_ref()
            .filter(|(to, c)| {
                to.host == endpoint.host && to.port == endpoint.port && !c.is_closed()
            })
            .map(|(_, c)| c.clone())
    }
}

/// The client's connections.
pub(crate) struct Pool {
    connect_timeout: Duration,
    in_flight_max: usize,
    slots: Mutex<HashMap<ReplicaLocation, Arc<Slot>>>,
}

impl Pool {
    /// An empty pool.
    pub fn new(connect_timeout: Duration, in_flight_max: usize) -> Pool {
        Pool {
            connect_timeout,
            in_flight_max,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// A live connection to `endpoint`, opening one if needed.
    pub async fn connection(&self, endpoint: &Endpoint) -> Result<Arc<Connection>> {
        let slot = self.slot(endpoint.location);
        if let Some(connection) = slot.live(endpoint) {
            return Ok(connection);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(connection) = slot.live(endpoint) {
            return Ok(connection);
        }
        let address = endpoint.to_string();
        let connection =
            Arc::new(Connection::open(address, self.connect_timeout, self.in_flight_max).await?);
        *slot
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((endpoint.clone(), connection.clone()));
        Ok(connection)
    }

    fn slot(&self, location: ReplicaLocation) -> Arc<Slot> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(location)
            .or_default()
            .clone()
    }
}
