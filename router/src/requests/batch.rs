//! Builders of BatchGetItem and BatchWriteItem. `send()` splits the batch by owning shard,
//! sends the parts concurrently, retries unprocessed parts for a bounded number of rounds
//! and returns what is still unprocessed (see the crate's `batch` module).
//!
//! Invariant: the builder only accumulates keys and writes per table; limits are checked
//! when sending.
//! Does not deduplicate keys (DynamoDB rejects duplicates; so does the node).

use std::collections::BTreeMap;

use shoal_wire::Item;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{
    BatchGetItemRequest, BatchGetItemResponse, BatchWriteItemRequest, BatchWriteItemResponse,
    DeleteRequest, KeysAndAttributes, PutRequest, ReturnConsumedCapacity,
    ReturnItemCollectionMetrics, WriteRequest,
};

use crate::client::Client;
use crate::error::Result;

/// BatchGetItem: up to 100 keys over several tables.
#[derive(Debug)]
pub struct BatchGetItem {
    client: Client,
    request: BatchGetItemRequest,
}

/// BatchWriteItem: up to 25 puts and deletes over several tables.
#[derive(Debug)]
pub struct BatchWriteItem {
    client: Client,
    request: BatchWriteItemRequest,
}

impl Client {
    /// Starts a BatchGetItem.
    pub fn batch_get_item(&self) -> BatchGetItem {
        BatchGetItem {
            client: self.clone(),
            request: BatchGetItemRequest {
                request_items: BTreeMap::new(),
                return_consumed_capacity: None,
                map_epoch: Epoch(0),
            },
        }
    }

    /// Starts a BatchWriteItem.
    pub fn batch_write_item(&self) -> BatchWriteItem {
        BatchWriteItem {
            client: self.clone(),
            request: BatchWriteItemRequest {
                request_items: BTreeMap::new(),
                return_consumed_capacity: None,
                return_item_collection_metrics: None,
                map_epoch: Epoch(0),
            },
        }
    }
}

impl BatchGetItem {
    fn table(&mut self, table: String) -> &mut KeysAndAttributes {
        self.request
            .request_items
            .entry(table)
            .or_insert_with(|| KeysAndAttributes {
                keys: Vec::new(),
                projection_expression: None,
                expression_attribute_names: None,
                consistent_read: None,
                attributes_to_get: None,
            })
    }

    /// Adds one key of `table`.
    pub fn key(mut self, table: impl Into<String>, key: Item) -> Self {
        self.table(table.into()).keys.push(key);
        self
    }

    /// Adds keys of `table`.
    pub fn keys(mut self, table: impl Into<String>, keys: impl IntoIterator<Item = Item>) -> Self {
        self.table(table.into()).keys.extend(keys);
        self
    }

    /// Strongly consistent reads for `table`.
    pub fn consistent_read(mut self, table: impl Into<String>, consistent: bool) -> Self {
        self.table(table.into()).consistent_read = Some(consistent);
        self
    }

    /// `ProjectionExpression` for `table`.
    pub fn projection_expression(
        mut self,
        table: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.table(table.into()).projection_expression = Some(expression.into());
        self
    }

    /// `ExpressionAttributeNames` entry for `table`'s projection.
    pub fn expression_attribute_name(
        mut self,
        table: impl Into<String>,
        placeholder: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        self.table(table.into())
            .expression_attribute_names
            .get_or_insert_with(Default::default)
            .insert(placeholder.into(), name.into());
        self
    }

    option_setters! {
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
    }
    request_access!(BatchGetItemRequest);

    /// Sends the batch.
    pub async fn send(self) -> Result<BatchGetItemResponse> {
        self.client.batch_get(self.request).await
    }
}

impl BatchWriteItem {
    fn push(mut self, table: String, write: WriteRequest) -> Self {
        self.request
            .request_items
            .entry(table)
            .or_default()
            .push(write);
        self
    }

    /// Adds a put of a whole item into `table`.
    pub fn put(self, table: impl Into<String>, item: Item) -> Self {
        self.push(table.into(), WriteRequest::Put(PutRequest { item }))
    }

    /// Adds a delete of `key` from `table`.
    pub fn delete(self, table: impl Into<String>, key: Item) -> Self {
        self.push(table.into(), WriteRequest::Delete(DeleteRequest { key }))
    }

    option_setters! {
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
        /// `ReturnItemCollectionMetrics`.
        return_item_collection_metrics: ReturnItemCollectionMetrics,
    }
    request_access!(BatchWriteItemRequest);

    /// Sends the batch.
    pub async fn send(self) -> Result<BatchWriteItemResponse> {
        self.client.batch_write(self.request).await
    }
}
