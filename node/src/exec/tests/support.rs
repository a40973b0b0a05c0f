//! Test support: an engine on the simulated disk inside a glommio executor, tables, values,
//! requests with every optional parameter absent, and a helper that applies write outcomes.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;

use shoal_wire::cluster::{Epoch, TableId};
use shoal_wire::message::{
    CreateTableRequest, DeleteItemRequest, GetItemRequest, PutItemRequest, QueryRequest,
    ScanRequest, UpdateItemRequest,
};
use shoal_wire::schema::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarType, TableDescription,
};
use shoal_wire::value::{AttributeValue, Item};
use shoal_wire::{Error, Number};

use crate::exec::{WriteOutcome, tables};
use crate::storage::sim::SimDisk;
use crate::storage::wal::WalConfig;
use crate::storage::{Engine, EngineConfig};

/// The internal id of every test table.
pub const TABLE_ID: TableId = TableId(7);

/// Runs `body` on a fresh glommio executor.
pub fn run<T, F, Fut>(body: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    crate::rt::run_local("exec-test", 512 << 10, body).expect("glommio executor")
}

/// A fresh engine on a simulated disk, sized for 400 KB items.
pub async fn engine() -> Engine<SimDisk> {
    engine_on(SimDisk::new()).await
}

/// The engine of [`engine`] on `disk` in `/sim/exec` (opened afresh or recovered).
pub async fn engine_on(disk: SimDisk) -> Engine<SimDisk> {
    let mut config = EngineConfig::with_cache_bytes(8 << 20);
    config.wal = WalConfig {
        segment_size: 8 << 20,
        flush_bytes_max: 1 << 20,
        pending_bytes_max: 8 << 20,
        record_size_max: 4 << 20,
        spare_segments_max: 1,
        flushes_in_flight_max: 2,
    };
    Engine::open(disk, Path::new("/sim/exec"), config)
        .await
        .expect("open engine")
}

/// Commits a successful outcome's ops and returns its response.
pub async fn commit<R: std::fmt::Debug>(engine: &Engine<SimDisk>, outcome: WriteOutcome<R>) -> R {
    let response = outcome.result.expect("write succeeds");
    if !outcome.ops.is_empty() {
        engine.commit(1, outcome.ops).await.expect("commit");
    }
    response
}

/// Commits whatever ops an outcome has and returns its result's error, if any.
pub async fn commit_any<R>(engine: &Engine<SimDisk>, outcome: WriteOutcome<R>) -> Option<Error> {
    if !outcome.ops.is_empty() {
        engine.commit(1, outcome.ops).await.expect("commit");
    }
    outcome.result.err().map(|failure| failure.error)
}

/// An on-demand table `name` with the given key.
pub fn table(
    name: &str,
    partition: (&str, ScalarType),
    sort: Option<(&str, ScalarType)>,
) -> TableDescription {
    tables::create_table(
        &create_request(name, partition, sort),
        TABLE_ID,
        1_700_000_000_000,
    )
    .expect("valid table")
}

/// A CreateTableRequest for an on-demand table.
pub fn create_request(
    name: &str,
    partition: (&str, ScalarType),
    sort: Option<(&str, ScalarType)>,
) -> CreateTableRequest {
    let mut key_schema = vec![KeySchemaElement {
        attribute_name: partition.0.to_owned(),
        key_type: KeyType::Hash,
    }];
    let mut attribute_definitions = vec![AttributeDefinition {
        attribute_name: partition.0.to_owned(),
        attribute_type: partition.1,
    }];
    if let Some((name, scalar_type)) = sort {
        key_schema.push(KeySchemaElement {
            attribute_name: name.to_owned(),
            key_type: KeyType::Range,
        });
        attribute_definitions.push(AttributeDefinition {
            attribute_name: name.to_owned(),
            attribute_type: scalar_type,
        });
    }
    CreateTableRequest {
        table_name: name.to_owned(),
        key_schema,
        attribute_definitions,
        billing_mode: Some(BillingMode::PayPerRequest),
        provisioned_throughput: None,
        local_secondary_indexes: None,
        global_secondary_indexes: None,
        stream_specification: None,
        sse_specification: None,
        tags: None,
        table_class: None,
        deletion_protection_enabled: None,
        on_demand_throughput: None,
        warm_throughput: None,
    }
}

/// Table "tab" keyed by `pk` (S) and `sk` (N).
pub fn composite() -> TableDescription {
    table("tab", ("pk", ScalarType::S), Some(("sk", ScalarType::N)))
}

/// Table "hsh" keyed by `pk` (S) only.
pub fn simple() -> TableDescription {
    table("hsh", ("pk", ScalarType::S), None)
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

pub fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).expect("number"))
}

pub fn ss(members: &[&str]) -> AttributeValue {
    AttributeValue::Ss(members.iter().map(|m| (*m).to_owned()).collect())
}

pub fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

pub fn names(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

pub fn values(pairs: &[(&str, AttributeValue)]) -> Option<Item> {
    Some(item(pairs))
}

pub fn put_req(table: &str, item: Item) -> PutItemRequest {
    PutItemRequest {
        table_name: table.to_owned(),
        item,
        condition_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_values_on_condition_check_failure: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        expected: None,
        conditional_operator: None,
        map_epoch: Epoch(0),
    }
}

pub fn update_req(table: &str, key: Item) -> UpdateItemRequest {
    UpdateItemRequest {
        table_name: table.to_owned(),
        key,
        update_expression: None,
        condition_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_values_on_condition_check_failure: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        attribute_updates: None,
        expected: None,
        conditional_operator: None,
        map_epoch: Epoch(0),
    }
}

pub fn delete_req(table: &str, key: Item) -> DeleteItemRequest {
    DeleteItemRequest {
        table_name: table.to_owned(),
        key,
        condition_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_values_on_condition_check_failure: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        expected: None,
        conditional_operator: None,
        map_epoch: Epoch(0),
    }
}

pub fn get_req(table: &str, key: Item) -> GetItemRequest {
    GetItemRequest {
        table_name: table.to_owned(),
        key,
        consistent_read: None,
        projection_expression: None,
        expression_attribute_names: None,
        attributes_to_get: None,
        return_consumed_capacity: None,
        map_epoch: Epoch(0),
    }
}

pub fn query_req(table: &str, key_condition: &str, values: Option<Item>) -> QueryRequest {
    QueryRequest {
        table_name: table.to_owned(),
        index_name: None,
        key_condition_expression: Some(key_condition.to_owned()),
        filter_expression: None,
        projection_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: values,
        select: None,
        limit: None,
        consistent_read: None,
        scan_index_forward: None,
        exclusive_start_key: None,
        return_consumed_capacity: None,
        key_conditions: None,
        query_filter: None,
        conditional_operator: None,
        attributes_to_get: None,
        map_epoch: Epoch(0),
    }
}

pub fn scan_req(table: &str) -> ScanRequest {
    ScanRequest {
        table_name: table.to_owned(),
        index_name: None,
        filter_expression: None,
        projection_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: None,
        select: None,
        limit: None,
        consistent_read: None,
        exclusive_start_key: None,
        segment: None,
        total_segments: None,
        return_consumed_capacity: None,
        scan_filter: None,
        conditional_operator: None,
        attributes_to_get: None,
        hash_range: None,
        map_epoch: Epoch(0),
    }
}

/// The error message of a result, or "" when it succeeded.
pub fn message<T>(result: Result<T, Error>) -> String {
    result.err().map(|e| e.message).unwrap_or_default()
}
