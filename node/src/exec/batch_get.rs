//! BatchGetItem (dynamodb-semantics.md §7.7): validation of the whole batch, and the reads of
//! the keys a shard owns.
//!
//! Invariant: a batch is validated whole before anything is read (≤ 100 keys in total, no
//! empty table lists, no duplicate keys within a table, every key and projection valid, every
//! table known). Reads stop before the response would exceed 16 MB of item data; the keys not
//! read are returned in `UnprocessedKeys` with their table's parameters. Each item is charged
//! on its own (rounded up to 4 KB; a missing item costs the minimum, as GetItem).
//! Does not route: the server drops the keys it does not own with
//! [`PreparedBatchGet::retain`] and merges the per-shard responses.

use std::collections::{BTreeMap, BTreeSet};

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{GET_ITEM_EXPRESSIONS, Projection, RequestExpressions, parse_request};
use shoal_wire::limits::{BATCH_GET_KEYS_MAX, BATCH_GET_RESPONSE_SIZE_MAX};
use shoal_wire::message::{
    BatchGetItemRequest, BatchGetItemResponse, ConsumedCapacity, KeysAndAttributes,
    ReturnConsumedCapacity,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::value::{Item, item_size};

use super::capacity::{Consistency, MilliUnits, consumed_capacity, get_item_units};
use super::read::{ReadOutcome, projection_of, reject_mixed_projection};
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext, table_name_from_parameter};
use super::write::read_item;

/// A validated BatchGetItem.
#[derive(Clone, Debug)]
pub struct PreparedBatchGet<'r> {
    /// One entry per requested table, in request order.
    pub tables: Vec<BatchGetTable<'r>>,
    return_consumed_capacity: Option<ReturnConsumedCapacity>,
}

/// The keys of one table.
#[derive(Clone, Debug)]
pub struct BatchGetTable<'r> {
    /// The table's name as the request spelled it (the key of `Responses`).
    pub request_name: &'r str,
    /// The table's internal id.
    pub table_id: TableId,
    /// The keys to read, with where they live.
    pub keys: Vec<(&'r Item, ItemKey)>,
    table_name: String,
    projection: Option<Projection>,
    consistency: Consistency,
    parameters: &'r KeysAndAttributes,
}

/// Validates a whole BatchGetItem; `lookup` resolves a table name to its description and
/// internal id (`None`: the table does not exist).
pub fn prepare_batch_get<'r, 't>(
    request: &'r BatchGetItemRequest,
    lookup: impl Fn(&str) -> Option<(&'t TableDescription, TableId)>,
) -> Result<PreparedBatchGet<'r>, Error> {
    if request.request_items.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    let total: usize = request.request_items.values().map(|t| t.keys.len()).sum();
    if total > BATCH_GET_KEYS_MAX as usize {
        return Err(Error::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let mut tables = Vec::with_capacity(request.request_items.len());
    for (name, parameters) in &request.request_items {
        tables.push(prepare_table(name, parameters, &lookup)?);
    }
    Ok(PreparedBatchGet {
        tables,
        return_consumed_capacity: request.return_consumed_capacity,
    })
}

fn prepare_table<'r, 't>(
    name: &'r str,
    parameters: &'r KeysAndAttributes,
    lookup: &impl Fn(&str) -> Option<(&'t TableDescription, TableId)>,
) -> Result<BatchGetTable<'r>, Error> {
    let table_name = table_name_from_parameter(name)?;
    if parameters.keys.is_empty() {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '[]' at 'requestItems.{table_name}.member.keys' \
             failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    reject_mixed_projection(
        parameters.attributes_to_get.is_some(),
        parameters.projection_expression.is_some(),
    )?;
    let parsed = parse_request(&RequestExpressions {
        accepted: GET_ITEM_EXPRESSIONS,
        projection: parameters.projection_expression.as_deref(),
        names: parameters.expression_attribute_names.as_ref(),
        ..RequestExpressions::default()
    })?;
    let projection = projection_of(parsed.projection, parameters.attributes_to_get.as_deref())?;
    let (description, table_id) = lookup(table_name).ok_or_else(Error::resource_not_found)?;
    let context = TableContext::new(description, table_id)?;
    context.check_usable()?;
    let mut keys = Vec::with_capacity(parameters.keys.len());
    let mut seen = BTreeSet::new();
    for key in &parameters.keys {
        let item_key = context.validated_key(key)?;
        if !seen.insert(item_key.storage_key.clone()) {
            return Err(Error::validation(
                "Provided list of item keys contains duplicates",
            ));
        }
        keys.push((key, item_key));
    }
    Ok(BatchGetTable {
        request_name: name,
        table_id,
        keys,
        table_name: context.name().to_owned(),
        projection,
        consistency: Consistency::from_request(parameters.consistent_read),
        parameters,
    })
}

impl PreparedBatchGet<'_> {
    /// Keeps only the keys for which `keep(table id, partition hash)` holds (the keys this
    /// shard owns). Tables stay listed even when none of their keys remain.
    pub fn retain(&mut self, mut keep: impl FnMut(TableId, u64) -> bool) {
        for table in &mut self.tables {
            let id = table.table_id;
            table.keys.retain(|(_, key)| keep(id, key.hash));
        }
    }

    /// Keys left to read.
    pub fn key_count(&self) -> usize {
        self.tables.iter().map(|t| t.keys.len()).sum()
    }
}

/// Reads the keys of a prepared batch.
pub async fn batch_get(
    reader: &impl ItemReader,
    prepared: &PreparedBatchGet<'_>,
) -> Result<ReadOutcome<BatchGetItemResponse>, Error> {
    let mut response = BatchGetItemResponse {
        responses: BTreeMap::new(),
        unprocessed_keys: BTreeMap::new(),
        consumed_capacity: Vec::new(),
    };
    let mut returned_size = 0u64;
    let mut capacity = MilliUnits::default();
    for table in &prepared.tables {
        let mut items = Vec::new();
        let mut unprocessed = Vec::new();
        let mut units = MilliUnits::default();
        for (key, item_key) in &table.keys {
            if !unprocessed.is_empty() || returned_size >= u64::from(BATCH_GET_RESPONSE_SIZE_MAX) {
                unprocessed.push((*key).clone());
                continue;
            }
            let found = read_item(reader, item_key).await?;
            units += get_item_units(found.as_ref().map(item_size), table.consistency);
            let Some(item) = found else { continue };
            let item = match &table.projection {
                Some(projection) => projection.apply(&item),
                None => item,
            };
            let size = item_size(&item);
            if returned_size + size > u64::from(BATCH_GET_RESPONSE_SIZE_MAX) {
                unprocessed.push((*key).clone());
                continue;
            }
            returned_size += size;
            items.push(item);
        }
        capacity += units;
        record_table(&mut response, table, items, unprocessed);
        let consumed =
            consumed_capacity(&table.table_name, units, prepared.return_consumed_capacity);
        response.consumed_capacity.extend(consumed);
    }
    merge_capacity(&mut response.consumed_capacity);
    Ok(ReadOutcome { response, capacity })
}

fn record_table(
    response: &mut BatchGetItemResponse,
    table: &BatchGetTable<'_>,
    items: Vec<Item>,
    unprocessed: Vec<Item>,
) {
    response
        .responses
        .insert(table.request_name.to_owned(), items);
    if !unprocessed.is_empty() {
        let mut parameters = table.parameters.clone();
        parameters.keys = unprocessed;
        response
            .unprocessed_keys
            .insert(table.request_name.to_owned(), parameters);
    }
}

/// One entry per table even if the request named it twice (by name and by ARN).
fn merge_capacity(list: &mut Vec<ConsumedCapacity>) {
    let mut merged: Vec<ConsumedCapacity> = Vec::with_capacity(list.len());
    for entry in list.drain(..) {
        match merged.iter_mut().find(|m| m.table_name == entry.table_name) {
            Some(existing) => {
                existing.capacity_units_milli += entry.capacity_units_milli;
                if let (Some(a), Some(b)) = (&mut existing.table, &entry.table) {
                    a.capacity_units_milli += b.capacity_units_milli;
                }
            }
            None => merged.push(entry),
        }
    }
    *list = merged;
}

/// Adds keys this shard did not read (not owned, or not ready) to `UnprocessedKeys`, with their
/// table's parameters from `request`, so the client retries them. Each key is
/// `(table name as the request spelled it, key)`.
pub fn add_unprocessed_keys<'a>(
    response: &mut BatchGetItemResponse,
    request: &BatchGetItemRequest,
    keys: impl IntoIterator<Item = (&'a str, &'a Item)>,
) {
    for (name, key) in keys {
        let Some(parameters) = request.request_items.get(name) else {
            continue;
        };
        response.responses.entry(name.to_owned()).or_default();
        response
            .unprocessed_keys
            .entry(name.to_owned())
            .or_insert_with(|| KeysAndAttributes {
                keys: Vec::new(),
                ..parameters.clone()
            })
            .keys
            .push(key.clone());
    }
}
