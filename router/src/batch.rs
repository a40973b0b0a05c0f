//! BatchGetItem and BatchWriteItem over partitions led by different shards: the batch is
//! checked whole, split by (owning shard, table), the parts sent concurrently, and their
//! answers merged. Parts that fail with a retryable or routing error, and what shards
//! return as unprocessed, are sent again in later rounds (after a back-off, with the
//! routes learned meanwhile); what is still left after `batch_rounds_max` rounds is
//! returned as `UnprocessedKeys` / `UnprocessedItems`, as DynamoDB does.
//!
//! Invariant: nothing is sent before every key and item of the batch passed the key checks
//! (DynamoDB writes nothing when one request of a batch is invalid); each part carries one
//! table, so its `map_epoch` is that table's. Batch writes are idempotent (whole-item puts
//! and deletes), so a part with an unknown outcome is simply sent again.
//! Does not check duplicates across parts: equal keys hash to the same part, where the
//! shard checks them.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use shoal_wire::cluster::{PartitionMapEntry, ReplicaLocation};
use shoal_wire::key::partition_hash;
use shoal_wire::limits::{BATCH_GET_KEYS_MAX, BATCH_WRITE_REQUESTS_MAX};
use shoal_wire::message::{
    BatchGetItemRequest, BatchGetItemResponse, BatchWriteItemRequest, BatchWriteItemResponse,
    ConsumedCapacity, KeysAndAttributes, WriteRequest,
};
use shoal_wire::validate::{validate_item, validate_key};
use shoal_wire::{ErrorKind, Item};
use tokio::time::{Instant, sleep};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::partition_map::TableRoute;
use crate::scan::add_capacity;

/// One part of a split batch: one table's members owned by one shard.
struct Part<T> {
    table: String,
    route: Arc<TableRoute>,
    target: ReplicaLocation,
    /// Hash of the first member (for leader hints).
    hash: u64,
    members: Vec<T>,
}

impl Client {
    /// BatchGetItem across shards (see the module doc).
    pub(crate) async fn batch_get(
        &self,
        request: BatchGetItemRequest,
    ) -> Result<BatchGetItemResponse> {
        check_batch_get(&request)?;
        let mut out = BatchGetItemResponse {
            responses: request
                .request_items
                .keys()
                .map(|t| (t.clone(), Vec::new()))
                .collect(),
            unprocessed_keys: BTreeMap::new(),
            consumed_capacity: Vec::new(),
        };
        let mut pending = request.request_items;
        for round in 0..self.inner.config.batch_rounds_max.max(1) {
            if pending.is_empty() {
                break;
            }
            self.pause_before(round).await;
            let mut parts = Vec::new();
            for (table, keys) in &pending {
                parts.extend(self.split(table, &keys.keys, key_of_get).await?);
            }
            let calls = parts.iter().map(|part| {
                let shape = &pending[&part.table];
                let single = BatchGetItemRequest {
                    request_items: BTreeMap::from([(
                        part.table.clone(),
                        with_keys(shape, part.members.clone()),
                    )]),
                    return_consumed_capacity: request.return_consumed_capacity,
                    map_epoch: part.route.epoch,
                };
                self.call_part(part.target, single)
            });
            let answers = join_all(calls).await;
            let mut next: BTreeMap<String, KeysAndAttributes> = BTreeMap::new();
            for (part, answer) in parts.into_iter().zip(answers) {
                let shape = &pending[&part.table];
                match answer {
                    Ok(answer) => {
                        for (table, items) in answer.responses {
                            out.responses.entry(table).or_default().extend(items);
                        }
                        for (table, keys) in answer.unprocessed_keys {
                            requeue_keys(&mut next, &table, shape, keys.keys);
                        }
                        merge_capacity(&mut out.consumed_capacity, answer.consumed_capacity);
                    }
                    Err(error) => {
                        self.settle_part_error(&part, error)?;
                        requeue_keys(&mut next, &part.table, shape, part.members);
                    }
                }
            }
            pending = next;
        }
        out.unprocessed_keys = pending;
        Ok(out)
    }

    /// BatchWriteItem across shards (see the module doc).
    pub(crate) async fn batch_write(
        &self,
        request: BatchWriteItemRequest,
    ) -> Result<BatchWriteItemResponse> {
        check_batch_write(&request)?;
        let mut out = BatchWriteItemResponse {
            unprocessed_items: BTreeMap::new(),
            item_collection_metrics: BTreeMap::new(),
            consumed_capacity: Vec::new(),
        };
        let mut pending = request.request_items;
        for round in 0..self.inner.config.batch_rounds_max.max(1) {
            if pending.is_empty() {
                break;
            }
            self.pause_before(round).await;
            let mut parts = Vec::new();
            for (table, writes) in &pending {
                parts.extend(self.split(table, writes, key_of_write).await?);
            }
            let calls = parts.iter().map(|part| {
                let single = BatchWriteItemRequest {
                    request_items: BTreeMap::from([(part.table.clone(), part.members.clone())]),
                    return_consumed_capacity: request.return_consumed_capacity,
                    return_item_collection_metrics: request.return_item_collection_metrics,
                    map_epoch: part.route.epoch,
                };
                self.call_part(part.target, single)
            });
            let answers = join_all(calls).await;
            let mut next: BTreeMap<String, Vec<WriteRequest>> = BTreeMap::new();
            for (part, answer) in parts.into_iter().zip(answers) {
                match answer {
                    Ok(answer) => {
                        for (table, writes) in answer.unprocessed_items {
                            next.entry(table).or_default().extend(writes);
                        }
                        for (table, metrics) in answer.item_collection_metrics {
                            out.item_collection_metrics
                                .entry(table)
                                .or_default()
                                .extend(metrics);
                        }
                        merge_capacity(&mut out.consumed_capacity, answer.consumed_capacity);
                    }
                    Err(error) => {
                        self.settle_part_error(&part, error)?;
                        next.entry(part.table).or_default().extend(part.members);
                    }
                }
            }
            pending = next;
        }
        out.unprocessed_items = pending;
        Ok(out)
    }

    /// Sleeps the back-off before round `round` (none before the first).
    async fn pause_before(&self, round: u32) {
        if round > 0 {
            sleep(self.inner.backoff.delay(round - 1, self.random())).await;
        }
    }

    /// One attempt of one part, bounded by the attempt timeout.
    async fn call_part<Q: crate::exchange::Exchange>(
        &self,
        target: ReplicaLocation,
        request: Q,
    ) -> Result<Q::Response> {
        let deadline = Instant::now() + self.inner.config.attempt_timeout;
        self.call_at(target, &request, deadline).await
    }

    /// Learns from a failed part; `Err` if the failure ends the whole call.
    fn settle_part_error<T>(&self, part: &Part<T>, error: Error) -> Result<()> {
        let again = match &error {
            Error::Service(service) => {
                service.error.kind.is_routing() || service.error.kind.is_retryable()
            }
            Error::Transport { .. } | Error::Timeout { .. } => true,
            _ => false,
        };
        if !again {
            return Err(error);
        }
        self.learn(&part.table, &part.route, &error, Some(part.hash));
        Ok(())
    }

    /// Checks every member's key and groups the members by owning shard.
    async fn split<T: Clone>(
        &self,
        table: &str,
        members: &[T],
        key_of: fn(&T, &TableRoute) -> Result<Item>,
    ) -> Result<Vec<Part<T>>> {
        let mut route = self.table_route(table).await?;
        let now = Instant::now();
        let steer = |entry: &PartitionMapEntry| self.inner.suspects.target(entry, now);
        let mut groups: BTreeMap<ReplicaLocation, Part<T>> = BTreeMap::new();
        for member in members {
            let key = key_of(member, &route)?;
            let value = &key[&route.schema.partition.name];
            let hash = partition_hash(value).map_err(|e| Error::validation(e.to_string()))?;
            let target = match route.lookup(hash).and_then(steer) {
                Some(target) => target,
                None => {
                    // A gap: fetch the whole map once more; a second gap is the node's fault.
                    self.forget_route(table, &route);
                    route = self.table_route(table).await?;
                    route.lookup(hash).and_then(steer).ok_or_else(|| {
                        self.protocol_error(format!("no partition of {table} covers {hash:#x}"))
                    })?
                }
            };
            groups
                .entry(target)
                .or_insert_with(|| Part {
                    table: table.to_owned(),
                    route: route.clone(),
                    target,
                    hash,
                    members: Vec::new(),
                })
                .members
                .push(member.clone());
        }
        Ok(groups.into_values().collect())
    }
}

/// A get's key, checked against the table's key schema.
fn key_of_get(key: &Item, route: &TableRoute) -> Result<Item> {
    validate_key(key, &route.schema)?;
    Ok(key.clone())
}

/// A write's key, after checking the put item or the delete key.
fn key_of_write(write: &WriteRequest, route: &TableRoute) -> Result<Item> {
    match write {
        WriteRequest::Put(put) => {
            validate_item(&put.item, &route.schema, &[])?;
            Ok(shoal_wire::validate::key_of(&put.item, &route.schema))
        }
        WriteRequest::Delete(delete) => {
            validate_key(&delete.key, &route.schema)?;
            Ok(delete.key.clone())
        }
    }
}

/// The request's per-table settings with other keys.
fn with_keys(shape: &KeysAndAttributes, keys: Vec<Item>) -> KeysAndAttributes {
    KeysAndAttributes {
        keys,
        ..shape.clone()
    }
}

fn requeue_keys(
    next: &mut BTreeMap<String, KeysAndAttributes>,
    table: &str,
    shape: &KeysAndAttributes,
    keys: Vec<Item>,
) {
    next.entry(table.to_owned())
        .or_insert_with(|| with_keys(shape, Vec::new()))
        .keys
        .extend(keys);
}

/// Adds per-table capacity entries to the totals.
fn merge_capacity(total: &mut Vec<ConsumedCapacity>, more: Vec<ConsumedCapacity>) {
    for capacity in more {
        match total
            .iter_mut()
            .find(|c| c.table_name == capacity.table_name)
        {
            Some(existing) => {
                let mut sum = Some(existing.clone());
                add_capacity(&mut sum, Some(capacity));
                *existing = sum.expect("present");
            }
            None => total.push(capacity),
        }
    }
}

fn invalid(message: &str) -> Error {
    Error::from(shoal_wire::Error::new(ErrorKind::Validation, message))
}

/// The whole-batch checks of BatchGetItem that no single shard can make.
fn check_batch_get(request: &BatchGetItemRequest) -> Result<()> {
    if request.request_items.is_empty() {
        return Err(invalid(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    if let Some((table, _)) = request
        .request_items
        .iter()
        .find(|(_, k)| k.keys.is_empty())
    {
        return Err(invalid(&format!(
            "1 validation error detected: Value '[]' at 'requestItems.{table}.member.keys' \
             failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    let keys: usize = request.request_items.values().map(|k| k.keys.len()).sum();
    if keys > BATCH_GET_KEYS_MAX as usize {
        return Err(invalid(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    Ok(())
}

/// The whole-batch checks of BatchWriteItem that no single shard can make.
fn check_batch_write(request: &BatchWriteItemRequest) -> Result<()> {
    let writes: usize = request.request_items.values().map(Vec::len).sum();
    if request.request_items.is_empty() || request.request_items.values().any(Vec::is_empty) {
        return Err(invalid(
            "1 validation error detected: Value at 'requestItems' failed to satisfy \
             constraint: Map value must satisfy constraint: [Member must have length less \
             than or equal to 25, Member must have length greater than or equal to 1]",
        ));
    }
    if writes > BATCH_WRITE_REQUESTS_MAX as usize {
        return Err(invalid(&format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy \
             constraint: Map value must satisfy constraint: [Member must have length less \
             than or equal to {BATCH_WRITE_REQUESTS_MAX}, Member must have length greater \
             than or equal to 1] ({writes} requests)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::AttributeValue;
    use shoal_wire::cluster::Epoch;
    use shoal_wire::message::{DeleteRequest, PutRequest};

    fn key(id: &str) -> Item {
        Item::from([("id".to_owned(), AttributeValue::S(id.into()))])
    }

    #[test]
    fn whole_batch_limits() {
        let get = |tables: Vec<(&str, usize)>| BatchGetItemRequest {
            request_items: tables
                .into_iter()
                .map(|(t, n)| {
                    let keys = (0..n).map(|i| key(&i.to_string())).collect();
                    (
                        t.to_owned(),
                        KeysAndAttributes {
                            keys,
                            projection_expression: None,
                            expression_attribute_names: None,
                            consistent_read: None,
                            attributes_to_get: None,
                        },
                    )
                })
                .collect(),
            return_consumed_capacity: None,
            map_epoch: Epoch(0),
        };
        assert!(check_batch_get(&get(vec![])).is_err());
        assert!(check_batch_get(&get(vec![("a", 0)])).is_err());
        assert!(check_batch_get(&get(vec![("a", 60), ("b", 40)])).is_ok());
        let too_many = check_batch_get(&get(vec![("a", 60), ("b", 41)])).unwrap_err();
        assert_eq!(
            too_many.message(),
            "Too many items requested for the BatchGetItem call"
        );
        let write = |n: usize| BatchWriteItemRequest {
            request_items: BTreeMap::from([(
                "a".to_owned(),
                (0..n)
                    .map(|i| match i % 2 {
                        0 => WriteRequest::Put(PutRequest {
                            item: key(&i.to_string()),
                        }),
                        _ => WriteRequest::Delete(DeleteRequest {
                            key: key(&i.to_string()),
                        }),
                    })
                    .collect(),
            )]),
            return_consumed_capacity: None,
            return_item_collection_metrics: None,
            map_epoch: Epoch(0),
        };
        assert!(check_batch_write(&write(25)).is_ok());
        let error = check_batch_write(&write(26)).unwrap_err();
        assert_eq!(error.name(), "ValidationException");
        assert!(error.message().contains("less than or equal to 25"));
        assert!(check_batch_write(&write(0)).is_err());
    }
}
