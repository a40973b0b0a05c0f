//! Data-plane messages (dynamodb-semantics.md §7): PutItem, GetItem, UpdateItem, DeleteItem,
//! Query, Scan, BatchGetItem, BatchWriteItem, TransactWriteItems, TransactGetItems.
//!
//! Invariant: each request carries exactly the parameters DynamoDB names, expressions as
//! strings with their placeholder maps, legacy parameters as their own fields, plus the
//! client's partition-map epoch (`map_epoch`, 0 when unknown) so a shard can answer
//! `WrongShard` to a stale client. Responses carry what DynamoDB returns; an absent optional
//! output is `None`.
//! Does not validate: a request is only a shape until the node checks it.

use std::collections::BTreeMap;

use crate::cluster::Epoch;
use crate::message::common::{
    AttributeValueUpdate, Condition, ConditionalOperator, ConsumedCapacity, ExpectedAttributeValue,
    ExpressionAttributeNames, ExpressionAttributeValues, ItemCollectionMetrics,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select,
};
use crate::value::Item;

wire_struct! {
    /// PutItem: create or replace an item.
    pub struct PutItemRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// The whole item, key attributes included.
        pub item: Item,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values: Option<ReturnValue>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Item collection metrics wanted.
        pub return_item_collection_metrics: Option<ReturnItemCollectionMetrics>,
        /// Legacy condition.
        pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
        /// Legacy condition combinator.
        pub conditional_operator: Option<ConditionalOperator>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// PutItem's result.
    pub struct PutItemResponse {
        /// The replaced item with ALL_OLD.
        pub attributes: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
        /// Item collection metrics, if asked for (LSI tables).
        pub item_collection_metrics: Option<ItemCollectionMetrics>,
    }
}

wire_struct! {
    /// GetItem: read one item by key.
    pub struct GetItemRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Strongly consistent read.
        pub consistent_read: Option<bool>,
        /// Attributes to return.
        pub projection_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// Legacy projection.
        pub attributes_to_get: Option<Vec<String>>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// GetItem's result.
    pub struct GetItemResponse {
        /// The item, absent when it does not exist.
        pub item: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
    }
}

wire_struct! {
    /// UpdateItem: modify (or create) one item.
    pub struct UpdateItemRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// SET / REMOVE / ADD / DELETE clauses.
        pub update_expression: Option<String>,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// Any of the five values.
        pub return_values: Option<ReturnValue>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Item collection metrics wanted.
        pub return_item_collection_metrics: Option<ReturnItemCollectionMetrics>,
        /// Legacy update.
        pub attribute_updates: Option<BTreeMap<String, AttributeValueUpdate>>,
        /// Legacy condition.
        pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
        /// Legacy condition combinator.
        pub conditional_operator: Option<ConditionalOperator>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// UpdateItem's result.
    pub struct UpdateItemResponse {
        /// Attributes selected by ReturnValues.
        pub attributes: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
        /// Item collection metrics, if asked for.
        pub item_collection_metrics: Option<ItemCollectionMetrics>,
    }
}

wire_struct! {
    /// DeleteItem: delete one item by key (idempotent without a condition).
    pub struct DeleteItemRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values: Option<ReturnValue>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Item collection metrics wanted.
        pub return_item_collection_metrics: Option<ReturnItemCollectionMetrics>,
        /// Legacy condition.
        pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
        /// Legacy condition combinator.
        pub conditional_operator: Option<ConditionalOperator>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// DeleteItem's result.
    pub struct DeleteItemResponse {
        /// The deleted item with ALL_OLD.
        pub attributes: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
        /// Item collection metrics, if asked for.
        pub item_collection_metrics: Option<ItemCollectionMetrics>,
    }
}

wire_struct! {
    /// Query: read items of one partition key in sort-key order.
    pub struct QueryRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// Query an index instead of the table.
        pub index_name: Option<String>,
        /// Partition-key equality and optional sort-key condition.
        pub key_condition_expression: Option<String>,
        /// Filter applied after reading.
        pub filter_expression: Option<String>,
        /// Attributes to return.
        pub projection_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// What to return.
        pub select: Option<Select>,
        /// Most items to evaluate (≥ 1).
        pub limit: Option<u32>,
        /// Strongly consistent read (tables and LSIs).
        pub consistent_read: Option<bool>,
        /// Ascending (default) or descending.
        pub scan_index_forward: Option<bool>,
        /// Resume after this key.
        pub exclusive_start_key: Option<Item>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Legacy key condition.
        pub key_conditions: Option<BTreeMap<String, Condition>>,
        /// Legacy filter.
        pub query_filter: Option<BTreeMap<String, Condition>>,
        /// Legacy filter combinator.
        pub conditional_operator: Option<ConditionalOperator>,
        /// Legacy projection.
        pub attributes_to_get: Option<Vec<String>>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// Query's (and Scan's) page.
    pub struct QueryResponse {
        /// Items (absent with `Select=COUNT`).
        pub items: Option<Vec<Item>>,
        /// Items after the filter.
        pub count: u32,
        /// Items read.
        pub scanned_count: u32,
        /// Where the next page starts; absent when the range is exhausted.
        pub last_evaluated_key: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
    }
}

wire_struct! {
    /// Scan: read a table or index (or one segment of it).
    pub struct ScanRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// Scan an index instead of the table.
        pub index_name: Option<String>,
        /// Filter applied after reading.
        pub filter_expression: Option<String>,
        /// Attributes to return.
        pub projection_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// What to return.
        pub select: Option<Select>,
        /// Most items to evaluate (≥ 1).
        pub limit: Option<u32>,
        /// Strongly consistent read (tables and LSIs).
        pub consistent_read: Option<bool>,
        /// Resume after this key.
        pub exclusive_start_key: Option<Item>,
        /// Parallel scan: this segment.
        pub segment: Option<u32>,
        /// Parallel scan: number of segments.
        pub total_segments: Option<u32>,
        /// Shoal routing (not a DynamoDB parameter): scan only partition-key hashes
        /// `hash_start..=hash_end`, within the one partition that holds the starting point
        /// (the `exclusive_start_key`'s hash, else `hash_start`). The client library pages
        /// through a table partition by partition with it; `None` means from the start of the
        /// segment (or table) and to its end.
        pub hash_range: Option<HashRange>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Legacy filter.
        pub scan_filter: Option<BTreeMap<String, Condition>>,
        /// Legacy filter combinator.
        pub conditional_operator: Option<ConditionalOperator>,
        /// Legacy projection.
        pub attributes_to_get: Option<Vec<String>>,
        /// The client's partition-map epoch for the table (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// An inclusive range of partition-key hashes.
    pub struct HashRange {
        /// First hash (inclusive).
        pub start: u64,
        /// Last hash (inclusive).
        pub end: u64,
    }
}

wire_struct! {
    /// Scan's page (same shape as Query's).
    pub struct ScanResponse {
        /// Items (absent with `Select=COUNT`).
        pub items: Option<Vec<Item>>,
        /// Items after the filter.
        pub count: u32,
        /// Items read.
        pub scanned_count: u32,
        /// Where the next page starts; absent when the range is exhausted.
        pub last_evaluated_key: Option<Item>,
        /// Capacity, if asked for.
        pub consumed_capacity: Option<ConsumedCapacity>,
    }
}

wire_struct! {
    /// `KeysAndAttributes` of one table in BatchGetItem (also `UnprocessedKeys`).
    pub struct KeysAndAttributes {
        /// The keys (1..=100 in total over all tables).
        pub keys: Vec<Item>,
        /// Attributes to return.
        pub projection_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// Strongly consistent reads.
        pub consistent_read: Option<bool>,
        /// Legacy projection.
        pub attributes_to_get: Option<Vec<String>>,
    }
}

wire_struct! {
    /// BatchGetItem: read up to 100 items from several tables.
    pub struct BatchGetItemRequest {
        /// Table name → keys.
        pub request_items: BTreeMap<String, KeysAndAttributes>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// The client's partition-map epoch (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// BatchGetItem's result.
    pub struct BatchGetItemResponse {
        /// Table name → items found (every requested table appears).
        pub responses: BTreeMap<String, Vec<Item>>,
        /// Keys not processed (empty when none).
        pub unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
        /// Capacity per table, if asked for.
        pub consumed_capacity: Vec<ConsumedCapacity>,
    }
}

wire_struct! {
    /// `PutRequest` of BatchWriteItem.
    pub struct PutRequest {
        /// The whole item.
        pub item: Item,
    }
}

wire_struct! {
    /// `DeleteRequest` of BatchWriteItem.
    pub struct DeleteRequest {
        /// The primary key.
        pub key: Item,
    }
}

wire_enum! {
    /// One `WriteRequest` of BatchWriteItem: exactly one of put or delete.
    pub enum WriteRequest {
        /// Put an item.
        Put(PutRequest),
        /// Delete an item.
        Delete(DeleteRequest),
    }
}

wire_struct! {
    /// BatchWriteItem: up to 25 puts and deletes over several tables.
    pub struct BatchWriteItemRequest {
        /// Table name → writes.
        pub request_items: BTreeMap<String, Vec<WriteRequest>>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Item collection metrics wanted.
        pub return_item_collection_metrics: Option<ReturnItemCollectionMetrics>,
        /// The client's partition-map epoch (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// BatchWriteItem's result.
    pub struct BatchWriteItemResponse {
        /// Writes not processed (empty when none).
        pub unprocessed_items: BTreeMap<String, Vec<WriteRequest>>,
        /// Table name → metrics, if asked for.
        pub item_collection_metrics: BTreeMap<String, Vec<ItemCollectionMetrics>>,
        /// Capacity per table, if asked for.
        pub consumed_capacity: Vec<ConsumedCapacity>,
    }
}

wire_struct! {
    /// `ConditionCheck` action of TransactWriteItems.
    pub struct ConditionCheck {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Required condition.
        pub condition_expression: String,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
    }
}

wire_struct! {
    /// `Put` action of TransactWriteItems.
    pub struct TransactPut {
        /// Table name or ARN.
        pub table_name: String,
        /// The whole item.
        pub item: Item,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
    }
}

wire_struct! {
    /// `Update` action of TransactWriteItems.
    pub struct TransactUpdate {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Required update.
        pub update_expression: String,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
    }
}

wire_struct! {
    /// `Delete` action of TransactWriteItems.
    pub struct TransactDelete {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Condition on the existing item.
        pub condition_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
        /// `:value` placeholders.
        pub expression_attribute_values: Option<ExpressionAttributeValues>,
        /// NONE or ALL_OLD.
        pub return_values_on_condition_check_failure: Option<ReturnValuesOnConditionCheckFailure>,
    }
}

wire_enum! {
    /// One action of TransactWriteItems.
    pub enum TransactWriteItem {
        /// Check a condition only.
        ConditionCheck(ConditionCheck),
        /// Put an item.
        Put(TransactPut),
        /// Update an item.
        Update(TransactUpdate),
        /// Delete an item.
        Delete(TransactDelete),
    }
}

wire_struct! {
    /// TransactWriteItems: up to 100 all-or-nothing actions.
    pub struct TransactWriteItemsRequest {
        /// The actions, in order.
        pub transact_items: Vec<TransactWriteItem>,
        /// Idempotency token (1–36 characters).
        pub client_request_token: Option<String>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// Item collection metrics wanted.
        pub return_item_collection_metrics: Option<ReturnItemCollectionMetrics>,
        /// The client's partition-map epoch (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// TransactWriteItems' result (failures travel as `TransactionCanceled` errors).
    pub struct TransactWriteItemsResponse {
        /// Capacity per table, if asked for.
        pub consumed_capacity: Vec<ConsumedCapacity>,
        /// Table name → metrics, if asked for.
        pub item_collection_metrics: BTreeMap<String, Vec<ItemCollectionMetrics>>,
    }
}

wire_struct! {
    /// `Get` action of TransactGetItems.
    pub struct TransactGet {
        /// Table name or ARN.
        pub table_name: String,
        /// The primary key.
        pub key: Item,
        /// Attributes to return.
        pub projection_expression: Option<String>,
        /// `#name` placeholders.
        pub expression_attribute_names: Option<ExpressionAttributeNames>,
    }
}

wire_struct! {
    /// TransactGetItems: up to 100 reads as one snapshot.
    pub struct TransactGetItemsRequest {
        /// The reads, in order.
        pub transact_items: Vec<TransactGet>,
        /// Capacity detail wanted.
        pub return_consumed_capacity: Option<ReturnConsumedCapacity>,
        /// The client's partition-map epoch (0 = unknown).
        pub map_epoch: Epoch,
    }
}

wire_struct! {
    /// One slot of TransactGetItems' result.
    pub struct ItemResponse {
        /// The item, absent when it does not exist.
        pub item: Option<Item>,
    }
}

wire_struct! {
    /// TransactGetItems' result, aligned with the request.
    pub struct TransactGetItemsResponse {
        /// One slot per read.
        pub responses: Vec<ItemResponse>,
        /// Capacity per table, if asked for.
        pub consumed_capacity: Vec<ConsumedCapacity>,
    }
}
