//! Wire responses → DynamoDB JSON response bodies, one function per operation, plus the
//! shared shapes (items, consumed capacity, table descriptions).
//!
//! Invariant: absent optional outputs are omitted, never `null` (dynamodb-semantics.md
//! §3.2); capacity units (thousandths on the wire) become decimal JSON numbers exactly;
//! times are fractional epoch seconds.
//! Does not decide status codes or headers (see `server`).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{Map, Value, json};
use shoal_wire::Item;
use shoal_wire::message::{
    BatchGetItemResponse, BatchWriteItemResponse, Capacity, ConsumedCapacity,
    ItemCollectionMetrics, KeysAndAttributes, ListTablesResponse, QueryResponse, ScanResponse,
    WriteRequest,
};
use shoal_wire::schema::{
    KeySchemaElement, Projection, ProvisionedThroughputDescription, TableDescription,
};

use crate::json::{Dialect, item_to_json};

/// A JSON object built member by member, skipping absent ones.
#[derive(Default)]
pub(crate) struct Object(Map<String, Value>);

impl Object {
    /// Adds a member.
    pub fn put(mut self, name: &str, value: Value) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    /// Adds a member when present.
    pub fn opt(self, name: &str, value: Option<Value>) -> Self {
        match value {
            Some(value) => self.put(name, value),
            None => self,
        }
    }

    /// The finished object.
    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// An item as typed JSON.
pub fn item(item: &Item) -> Value {
    item_to_json(item, Dialect::Typed)
}

/// Thousandths as an exact decimal JSON number (`1500` → `1.5`).
pub fn milli(units_milli: u64) -> Value {
    let text = format!("{}.{:03}", units_milli / 1000, units_milli % 1000);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text.is_empty() { "0" } else { text };
    Value::Number(serde_json::Number::from_str(text).expect("decimal text is a JSON number"))
}

/// Milliseconds since the epoch as fractional seconds.
pub fn seconds(ms: u64) -> Value {
    milli(ms)
}

fn capacity(c: &Capacity) -> Value {
    Object::default()
        .put("CapacityUnits", milli(c.capacity_units_milli))
        .opt("ReadCapacityUnits", c.read_capacity_units_milli.map(milli))
        .opt(
            "WriteCapacityUnits",
            c.write_capacity_units_milli.map(milli),
        )
        .done()
}

fn capacity_map(map: &BTreeMap<String, Capacity>) -> Option<Value> {
    (!map.is_empty())
        .then(|| Value::Object(map.iter().map(|(k, c)| (k.clone(), capacity(c))).collect()))
}

/// One table's `ConsumedCapacity`.
pub fn consumed(c: &ConsumedCapacity) -> Value {
    Object::default()
        .put("TableName", json!(c.table_name))
        .put("CapacityUnits", milli(c.capacity_units_milli))
        .opt("ReadCapacityUnits", c.read_capacity_units_milli.map(milli))
        .opt(
            "WriteCapacityUnits",
            c.write_capacity_units_milli.map(milli),
        )
        .opt("Table", c.table.as_ref().map(capacity))
        .opt(
            "LocalSecondaryIndexes",
            capacity_map(&c.local_secondary_indexes),
        )
        .opt(
            "GlobalSecondaryIndexes",
            capacity_map(&c.global_secondary_indexes),
        )
        .done()
}

fn consumed_list(list: &[ConsumedCapacity]) -> Option<Value> {
    (!list.is_empty()).then(|| Value::Array(list.iter().map(consumed).collect()))
}

/// `ItemCollectionMetrics`.
pub fn collection_metrics(m: &ItemCollectionMetrics) -> Value {
    json!({
        "ItemCollectionKey": item(&m.item_collection_key),
        "SizeEstimateRangeGB": [
            milli(m.size_estimate_lower_gb_milli),
            milli(m.size_estimate_upper_gb_milli),
        ],
    })
}

/// The common shape of PutItem, UpdateItem and DeleteItem results.
pub fn write_result(
    attributes: Option<&Item>,
    capacity: Option<&ConsumedCapacity>,
    metrics: Option<&ItemCollectionMetrics>,
) -> Value {
    Object::default()
        .opt("Attributes", attributes.map(item))
        .opt("ConsumedCapacity", capacity.map(consumed))
        .opt("ItemCollectionMetrics", metrics.map(collection_metrics))
        .done()
}

/// GetItem's result.
pub fn get_result(found: Option<&Item>, capacity: Option<&ConsumedCapacity>) -> Value {
    Object::default()
        .opt("Item", found.map(item))
        .opt("ConsumedCapacity", capacity.map(consumed))
        .done()
}

fn page(
    items: Option<&Vec<Item>>,
    count: u32,
    scanned: u32,
    last: Option<&Item>,
    capacity: Option<&ConsumedCapacity>,
) -> Value {
    Object::default()
        .opt(
            "Items",
            items.map(|list| Value::Array(list.iter().map(item).collect())),
        )
        .put("Count", json!(count))
        .put("ScannedCount", json!(scanned))
        .opt("LastEvaluatedKey", last.map(item))
        .opt("ConsumedCapacity", capacity.map(consumed))
        .done()
}

/// Query's page.
pub fn query(r: &QueryResponse) -> Value {
    page(
        r.items.as_ref(),
        r.count,
        r.scanned_count,
        r.last_evaluated_key.as_ref(),
        r.consumed_capacity.as_ref(),
    )
}

/// Scan's page.
pub fn scan(r: &ScanResponse) -> Value {
    page(
        r.items.as_ref(),
        r.count,
        r.scanned_count,
        r.last_evaluated_key.as_ref(),
        r.consumed_capacity.as_ref(),
    )
}

fn keys_and_attributes(k: &KeysAndAttributes) -> Value {
    Object::default()
        .put("Keys", Value::Array(k.keys.iter().map(item).collect()))
        .opt(
            "ProjectionExpression",
            k.projection_expression.clone().map(Value::String),
        )
        .opt(
            "ExpressionAttributeNames",
            k.expression_attribute_names.as_ref().map(|n| json!(n)),
        )
        .opt("ConsistentRead", k.consistent_read.map(Value::Bool))
        .opt(
            "AttributesToGet",
            k.attributes_to_get.as_ref().map(|a| json!(a)),
        )
        .done()
}

/// BatchGetItem's result: `Responses` and `UnprocessedKeys` are always present.
pub fn batch_get(r: &BatchGetItemResponse) -> Value {
    let responses: Map<String, Value> = r
        .responses
        .iter()
        .map(|(t, items)| (t.clone(), Value::Array(items.iter().map(item).collect())))
        .collect();
    let unprocessed: Map<String, Value> = r
        .unprocessed_keys
        .iter()
        .map(|(t, k)| (t.clone(), keys_and_attributes(k)))
        .collect();
    Object::default()
        .put("Responses", Value::Object(responses))
        .put("UnprocessedKeys", Value::Object(unprocessed))
        .opt("ConsumedCapacity", consumed_list(&r.consumed_capacity))
        .done()
}

fn write_request(w: &WriteRequest) -> Value {
    match w {
        WriteRequest::Put(put) => json!({ "PutRequest": { "Item": item(&put.item) } }),
        WriteRequest::Delete(delete) => json!({ "DeleteRequest": { "Key": item(&delete.key) } }),
    }
}

/// BatchWriteItem's result: `UnprocessedItems` is always present.
pub fn batch_write(r: &BatchWriteItemResponse) -> Value {
    let unprocessed: Map<String, Value> = r
        .unprocessed_items
        .iter()
        .map(|(t, list)| {
            (
                t.clone(),
                Value::Array(list.iter().map(write_request).collect()),
            )
        })
        .collect();
    let metrics: Map<String, Value> = r
        .item_collection_metrics
        .iter()
        .map(|(t, list)| {
            (
                t.clone(),
                Value::Array(list.iter().map(collection_metrics).collect()),
            )
        })
        .collect();
    Object::default()
        .put("UnprocessedItems", Value::Object(unprocessed))
        .opt(
            "ItemCollectionMetrics",
            (!metrics.is_empty()).then_some(Value::Object(metrics)),
        )
        .opt("ConsumedCapacity", consumed_list(&r.consumed_capacity))
        .done()
}

/// ListTables' page.
pub fn list_tables(r: &ListTablesResponse) -> Value {
    Object::default()
        .put("TableNames", json!(r.table_names))
        .opt(
            "LastEvaluatedTableName",
            r.last_evaluated_table_name.clone().map(Value::String),
        )
        .done()
}

fn key_schema(keys: &[KeySchemaElement]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| json!({ "AttributeName": k.attribute_name, "KeyType": k.key_type.as_str() }))
            .collect(),
    )
}

fn projection(p: &Projection) -> Value {
    Object::default()
        .put("ProjectionType", json!(p.projection_type.as_str()))
        .opt(
            "NonKeyAttributes",
            (!p.non_key_attributes.is_empty()).then(|| json!(p.non_key_attributes)),
        )
        .done()
}

fn throughput(t: &ProvisionedThroughputDescription) -> Value {
    Object::default()
        .put("ReadCapacityUnits", json!(t.read_capacity_units))
        .put("WriteCapacityUnits", json!(t.write_capacity_units))
        .put("NumberOfDecreasesToday", json!(t.number_of_decreases_today))
        .opt(
            "LastIncreaseDateTime",
            t.last_increase_date_time_ms.map(seconds),
        )
        .opt(
            "LastDecreaseDateTime",
            t.last_decrease_date_time_ms.map(seconds),
        )
        .done()
}

/// A `TableDescription` as DynamoDB shows it.
pub fn table(d: &TableDescription) -> Value {
    let definitions: Vec<Value> = d
        .attribute_definitions
        .iter()
        .map(|a| json!({ "AttributeName": a.attribute_name, "AttributeType": a.attribute_type.as_str() }))
        .collect();
    let locals: Vec<Value> = d
        .local_secondary_indexes
        .iter()
        .map(|i| {
            json!({
                "IndexName": i.index_name,
                "KeySchema": key_schema(&i.key_schema),
                "Projection": projection(&i.projection),
                "IndexSizeBytes": i.index_size_bytes,
                "ItemCount": i.item_count,
                "IndexArn": i.index_arn,
            })
        })
        .collect();
    let globals: Vec<Value> = d
        .global_secondary_indexes
        .iter()
        .map(|i| {
            Object::default()
                .put("IndexName", json!(i.index_name))
                .put("KeySchema", key_schema(&i.key_schema))
                .put("Projection", projection(&i.projection))
                .put("IndexStatus", json!(i.index_status.as_str()))
                .opt("Backfilling", i.backfilling.map(Value::Bool))
                .opt(
                    "ProvisionedThroughput",
                    i.provisioned_throughput.as_ref().map(throughput),
                )
                .put("IndexSizeBytes", json!(i.index_size_bytes))
                .put("ItemCount", json!(i.item_count))
                .put("IndexArn", json!(i.index_arn))
                .done()
        })
        .collect();
    Object::default()
        .put("TableName", json!(d.table_name))
        .put("TableArn", json!(d.table_arn))
        .put("TableId", json!(d.table_id))
        .put("TableStatus", json!(d.table_status.as_str()))
        .put("CreationDateTime", seconds(d.creation_date_time_ms))
        .put("KeySchema", key_schema(&d.key_schema))
        .put("AttributeDefinitions", Value::Array(definitions))
        .put(
            "ProvisionedThroughput",
            throughput(&d.provisioned_throughput),
        )
        .opt(
            "BillingModeSummary",
            d.billing_mode_summary.as_ref().map(|b| {
                Object::default()
                    .put("BillingMode", json!(b.billing_mode.as_str()))
                    .opt(
                        "LastUpdateToPayPerRequestDateTime",
                        b.last_update_to_pay_per_request_date_time_ms.map(seconds),
                    )
                    .done()
            }),
        )
        .put("TableSizeBytes", json!(d.table_size_bytes))
        .put("ItemCount", json!(d.item_count))
        .opt(
            "LocalSecondaryIndexes",
            (!locals.is_empty()).then_some(Value::Array(locals)),
        )
        .opt(
            "GlobalSecondaryIndexes",
            (!globals.is_empty()).then_some(Value::Array(globals)),
        )
        .opt(
            "StreamSpecification",
            d.stream_specification.as_ref().map(|s| {
                Object::default()
                    .put("StreamEnabled", json!(s.stream_enabled))
                    .opt(
                        "StreamViewType",
                        s.stream_view_type.map(|v| json!(v.as_str())),
                    )
                    .done()
            }),
        )
        .opt(
            "LatestStreamArn",
            d.latest_stream_arn.clone().map(Value::String),
        )
        .opt(
            "LatestStreamLabel",
            d.latest_stream_label.clone().map(Value::String),
        )
        .opt(
            "TableClassSummary",
            d.table_class_summary
                .as_ref()
                .map(|c| json!({ "TableClass": c.table_class.as_str() })),
        )
        .put(
            "DeletionProtectionEnabled",
            json!(d.deletion_protection_enabled),
        )
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousandths_are_exact_decimals() {
        for (milli_units, text) in [
            (0, "0"),
            (500, "0.5"),
            (1000, "1"),
            (1500, "1.5"),
            (5, "0.005"),
        ] {
            assert_eq!(milli(milli_units).to_string(), text);
        }
    }
}
