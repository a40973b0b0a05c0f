//! Shoal's client library: a [`Client`] that reads the seed nodes from a cluster file, fetches
//! and caches each table's partition map, hashes every key to the (node, shard) that leads
//! its partition and sends the request straight to that shard's port, over one multiplexed
//! connection per (node, shard).
//!
//! ```no_run
//! # async fn demo() -> Result<(), shoal_router::Error> {
//! use shoal_router::{Client, to_item, from_item};
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct User { id: String, visits: u64 }
//!
//! let client = Client::connect("./shoal-data/cluster.toml").await?;
//! let item = to_item(&User { id: "alice".into(), visits: 1 })?;
//! client.put_item("users").item(item).condition_expression("attribute_not_exists(id)")
//!     .send().await?;
//! let got = client.get_item("users").key("id", "alice").consistent_read(true).send().await?;
//! let user: User = from_item(got.item.as_ref().expect("just written"))?;
//! # let _ = user; Ok(()) }
//! ```
//!
//! Map: `client` (the handle, connecting, map cache access), `routing` (the retry loop:
//! where a request goes, what a failure means), `requests` (one builder per operation),
//! `scan` (paging a table partition by partition), `batch` (splitting BatchGetItem and
//! BatchWriteItem by owner), `partition_map` (the cache and its updates from routing errors),
//! `topology` (nodes and shard ports), `suspects` (nodes
//! passed over after a timeout), `connection` + `pool` (multiplexed TCP), `backoff`,
//! `config`, `cluster_file` (the TOML cluster file), `error`, `item` (serde conversion
//! between Rust values and items), `value` (attribute-value conversions for builders),
//! `json` (DynamoDB's typed JSON), `gateway` (the HTTP gateway).
//!
//! Invariant: a request is retried only when its error kind says so (or a routing error
//! says where to go instead), a bounded number of times, within the operation timeout; a
//! write whose outcome is unknown (sent, then the connection failed or timed out) is never
//! retried blindly. `gateway` is the DynamoDB-compatible HTTP server of the `shoal-router`
//! binary, built on the same `Client`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backoff;
mod batch;
mod client;
pub mod cluster_file;
pub mod config;
mod connection;
mod error;
mod exchange;
pub mod gateway;
pub mod item;
pub mod json;
mod partition_map;
mod pool;
pub mod probe;
pub mod requests;
mod routing;
mod scan;
mod suspects;
mod topology;
pub mod value;

pub use client::Client;
pub use cluster_file::{ClusterFile, ClusterNode};
pub use config::ClientConfig;
pub use error::{Error, Result, ServiceError};
pub use item::{from_item, from_value, to_item, to_value};
pub use shoal_wire as wire;
pub use shoal_wire::{AttributeValue, ErrorKind, Item, Number};
pub use topology::{Endpoint, NodeAddress};
pub use value::IntoAttributeValue;
