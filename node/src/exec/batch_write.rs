//! BatchWriteItem (dynamodb-semantics.md §7.8): validation of the whole batch, each put or
//! delete as its own replicated write, and the combined response.
//!
//! Invariant: a batch is validated whole before anything is proposed (≤ 25 writes in total, no
//! empty table lists, no duplicate keys within a table, every item and key valid, every table
//! known): one bad request fails the call and writes nothing. Each write then becomes an
//! unconditional PutItem or DeleteItem ([`BatchWrite::proposal`]) that the server replicates
//! and applies with `apply_put` / `apply_delete`; writes are atomic one by one, not together.
//! Does not route or retry: writes the server could not perform (throttled, not owned) go back
//! in `UnprocessedItems` through [`BatchWriteResponse::unprocessed`].

use std::collections::{BTreeMap, BTreeSet};

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::limits::BATCH_WRITE_REQUESTS_MAX;
use shoal_wire::message::{
    BatchWriteItemRequest, BatchWriteItemResponse, DeleteItemRequest, PutItemRequest,
    ReturnConsumedCapacity, WriteRequest,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::validate::validate_item;

use super::capacity::{MilliUnits, consumed_capacity};
use super::delete::apply_delete;
use super::put::apply_put;
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext, table_name_from_parameter};
use super::write::WriteOutcome;

/// A validated BatchWriteItem.
#[derive(Clone, Debug)]
pub struct PreparedBatchWrite<'r> {
    /// Every write, table by table in request order.
    pub writes: Vec<BatchWrite<'r>>,
}

/// One put or delete of a batch.
#[derive(Clone, Debug)]
pub struct BatchWrite<'r> {
    /// The table's name as the request spelled it (the key of `UnprocessedItems`).
    pub request_name: &'r str,
    /// The table's name in the catalog.
    pub table_name: String,
    /// The table's internal id.
    pub table_id: TableId,
    /// Where the item lives (route on `key.hash`).
    pub key: ItemKey,
    /// The write as requested.
    pub write: &'r WriteRequest,
    map_epoch: shoal_wire::cluster::Epoch,
}

/// The single-item write to replicate for one batch write.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchWriteProposal {
    /// An unconditional PutItem.
    Put(PutItemRequest),
    /// An unconditional DeleteItem.
    Delete(DeleteItemRequest),
}

/// Validates a whole BatchWriteItem; `lookup` resolves a table name to its description and
/// internal id (`None`: the table does not exist).
pub fn prepare_batch_write<'r, 't>(
    request: &'r BatchWriteItemRequest,
    lookup: impl Fn(&str) -> Option<(&'t TableDescription, TableId)>,
) -> Result<PreparedBatchWrite<'r>, Error> {
    check_counts(request)?;
    let mut writes = Vec::new();
    for (name, list) in &request.request_items {
        let table_name = table_name_from_parameter(name)?;
        let (description, table_id) = lookup(table_name).ok_or_else(Error::resource_not_found)?;
        let context = TableContext::new(description, table_id)?;
        context.check_usable()?;
        let mut seen = BTreeSet::new();
        for write in list {
            let key = match write {
                WriteRequest::Put(put) => {
                    validate_item(&put.item, &context.schema, &[])?;
                    context.item_key(&put.item)?
                }
                WriteRequest::Delete(delete) => context.validated_key(&delete.key)?,
            };
            if !seen.insert(key.storage_key.clone()) {
                return Err(Error::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            writes.push(BatchWrite {
                request_name: name,
                table_name: context.name().to_owned(),
                table_id,
                key,
                write,
                map_epoch: request.map_epoch,
            });
        }
    }
    Ok(PreparedBatchWrite { writes })
}

/// Applies a BatchWriteItem whose writes all belong to `table` (one partition's share of a
/// batch, replicated as one entry): each write as an unconditional put or delete, all ops
/// together. If any write fails (a storage error), the whole entry changes nothing.
pub async fn apply_batch_write(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &BatchWriteItemRequest,
) -> WriteOutcome<BatchWriteItemResponse> {
    let lookup = |name: &str| (name == table.table_name).then_some((table, table_id));
    let prepared = match prepare_batch_write(request, lookup) {
        Ok(prepared) => prepared,
        Err(error) => return WriteOutcome::rejected(error, MilliUnits::default()),
    };
    let mut ops = Vec::with_capacity(prepared.writes.len());
    let mut capacity = MilliUnits::default();
    let mut response = BatchWriteResponse::new(request);
    for write in &prepared.writes {
        let (write_ops, units, result) = match write.proposal(request.return_consumed_capacity) {
            BatchWriteProposal::Put(put) => {
                let outcome = apply_put(reader, table, table_id, &put).await;
                (outcome.ops, outcome.capacity, outcome.result.map(|_| ()))
            }
            BatchWriteProposal::Delete(delete) => {
                let outcome = apply_delete(reader, table, table_id, &delete).await;
                (outcome.ops, outcome.capacity, outcome.result.map(|_| ()))
            }
        };
        if let Err(failure) = result {
            return WriteOutcome::rejected(failure.error, MilliUnits::default());
        }
        ops.extend(write_ops);
        capacity += units;
        response.applied(write, units);
    }
    WriteOutcome {
        ops,
        result: Ok(response.finish()),
        capacity,
    }
}

/// Non-empty, at most 25 writes per table and in total.
fn check_counts(request: &BatchWriteItemRequest) -> Result<(), Error> {
    if request.request_items.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    let max = BATCH_WRITE_REQUESTS_MAX as usize;
    if request
        .request_items
        .values()
        .any(|list| list.is_empty() || list.len() > max)
    {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to \
             {max}, Member must have length greater than or equal to 1]"
        )));
    }
    let total: usize = request.request_items.values().map(Vec::len).sum();
    if total > max {
        return Err(Error::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    Ok(())
}

impl BatchWrite<'_> {
    /// The unconditional single-item request to replicate and apply for this write;
    /// `capacity` is the batch's `ReturnConsumedCapacity`, so that the applied write
    /// counts the units the batch reports (a put counts the item it replaces only when they
    /// are seen).
    pub fn proposal(&self, capacity: Option<ReturnConsumedCapacity>) -> BatchWriteProposal {
        match self.write {
            WriteRequest::Put(put) => BatchWriteProposal::Put(PutItemRequest {
                table_name: self.request_name.to_owned(),
                item: put.item.clone(),
                condition_expression: None,
                expression_attribute_names: None,
                expression_attribute_values: None,
                return_values: None,
                return_values_on_condition_check_failure: None,
                return_consumed_capacity: capacity,
                return_item_collection_metrics: None,
                expected: None,
                conditional_operator: None,
                map_epoch: self.map_epoch,
            }),
            WriteRequest::Delete(delete) => BatchWriteProposal::Delete(DeleteItemRequest {
                table_name: self.request_name.to_owned(),
                key: delete.key.clone(),
                condition_expression: None,
                expression_attribute_names: None,
                expression_attribute_values: None,
                return_values: None,
                return_values_on_condition_check_failure: None,
                return_consumed_capacity: capacity,
                return_item_collection_metrics: None,
                expected: None,
                conditional_operator: None,
                map_epoch: self.map_epoch,
            }),
        }
    }
}

/// Assembles a BatchWriteItem response from the outcomes of its writes.
#[derive(Debug)]
pub struct BatchWriteResponse {
    mode: Option<ReturnConsumedCapacity>,
    /// Units per table, in first-seen order.
    capacity: Vec<(String, MilliUnits)>,
    unprocessed: BTreeMap<String, Vec<WriteRequest>>,
}

impl BatchWriteResponse {
    /// An empty response for `request`.
    pub fn new(request: &BatchWriteItemRequest) -> BatchWriteResponse {
        BatchWriteResponse {
            mode: request.return_consumed_capacity,
            capacity: Vec::new(),
            unprocessed: BTreeMap::new(),
        }
    }

    /// Records a write that was applied (successfully or not) and the units it consumed.
    pub fn applied(&mut self, write: &BatchWrite<'_>, units: MilliUnits) {
        match self
            .capacity
            .iter_mut()
            .find(|(t, _)| *t == write.table_name)
        {
            Some((_, total)) => *total += units,
            None => self.capacity.push((write.table_name.clone(), units)),
        }
    }

    /// Records a write the server did not perform; the client retries it.
    pub fn unprocessed(&mut self, write: &BatchWrite<'_>) {
        self.unprocessed
            .entry(write.request_name.to_owned())
            .or_default()
            .push(write.write.clone());
    }

    /// The response.
    pub fn finish(self) -> BatchWriteItemResponse {
        let mode = self.mode;
        BatchWriteItemResponse {
            unprocessed_items: self.unprocessed,
            item_collection_metrics: BTreeMap::new(),
            consumed_capacity: self
                .capacity
                .iter()
                .filter_map(|(table, units)| consumed_capacity(table, *units, mode))
                .collect(),
        }
    }
}
