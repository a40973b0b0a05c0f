//! One builder per operation, in DynamoDB's shape:
//! `client.put_item("users").item(item).condition_expression("...").send().await`.
//! Each builder wraps the wire request (`.request()` shows it), has one setter per
//! parameter, and `send()` runs it through the client's routing and retries; Query and
//! Scan also page (`pages()`, `items()`).
//!
//! Invariant: a setter only sets its own parameter (absent stays absent, so the node can
//! tell "absent" from "empty" as DynamoDB does); builders never validate, the node does
//! (with the exceptions the batch and scan splitting need).
//! Does not route (see `routing`).

#[macro_use]
mod setters;

mod batch;
mod cluster;
mod item;
mod query;
mod scan;
mod tables;

pub use batch::{BatchGetItem, BatchWriteItem};
pub use cluster::{DescribeCluster, GetPartitionMap, TransferLeader};
pub use item::{DeleteItem, GetItem, PutItem, UpdateItem};
pub use query::Query;
pub use scan::Scan;
pub use tables::{CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable};
