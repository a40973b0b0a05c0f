//! Builders of the single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.
//!
//! Invariant: `send()` routes by the partition key found in the item or key; the request
//! is otherwise sent exactly as built.
//! Does not convert Rust values (see `item::to_item`).

use shoal_wire::Item;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{
    DeleteItemRequest, DeleteItemResponse, GetItemRequest, GetItemResponse, PutItemRequest,
    PutItemResponse, ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue,
    ReturnValuesOnConditionCheckFailure, UpdateItemRequest, UpdateItemResponse,
};

use crate::client::Client;
use crate::error::Result;
use crate::value::IntoAttributeValue;

/// PutItem: create or replace an item.
#[derive(Debug)]
pub struct PutItem {
    client: Client,
    request: PutItemRequest,
}

impl Client {
    /// Starts a PutItem on `table`.
    pub fn put_item(&self, table: impl Into<String>) -> PutItem {
        PutItem {
            client: self.clone(),
            request: PutItemRequest {
                table_name: table.into(),
                item: Item::new(),
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
            },
        }
    }

    /// Starts a GetItem on `table`.
    pub fn get_item(&self, table: impl Into<String>) -> GetItem {
        GetItem {
            client: self.clone(),
            request: GetItemRequest {
                table_name: table.into(),
                key: Item::new(),
                consistent_read: None,
                projection_expression: None,
                expression_attribute_names: None,
                attributes_to_get: None,
                return_consumed_capacity: None,
                map_epoch: Epoch(0),
            },
        }
    }

    /// Starts an UpdateItem on `table`.
    pub fn update_item(&self, table: impl Into<String>) -> UpdateItem {
        UpdateItem {
            client: self.clone(),
            request: UpdateItemRequest {
                table_name: table.into(),
                key: Item::new(),
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
            },
        }
    }

    /// Starts a DeleteItem on `table`.
    pub fn delete_item(&self, table: impl Into<String>) -> DeleteItem {
        DeleteItem {
            client: self.clone(),
            request: DeleteItemRequest {
                table_name: table.into(),
                key: Item::new(),
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
            },
        }
    }
}

impl PutItem {
    /// Sets the whole item (key attributes included).
    pub fn item(mut self, item: Item) -> Self {
        self.request.item = item;
        self
    }

    /// Adds one attribute to the item.
    pub fn attribute(mut self, name: impl Into<String>, value: impl IntoAttributeValue) -> Self {
        self.request
            .item
            .insert(name.into(), value.into_attribute_value());
        self
    }

    option_setters! {
        /// `ConditionExpression` on the existing item.
        condition_expression: String,
        /// `ReturnValues` (NONE or ALL_OLD).
        return_values: ReturnValue,
        /// `ReturnValuesOnConditionCheckFailure`.
        return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
        /// `ReturnItemCollectionMetrics`.
        return_item_collection_metrics: ReturnItemCollectionMetrics,
    }
    name_setters!();
    value_setters!();
    request_access!(PutItemRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<PutItemResponse> {
        self.client.send_keyed(self.request).await
    }
}

impl GetItem {
    key_setters!();
    option_setters! {
        /// `ConsistentRead`: read from the leader with every acknowledged write.
        consistent_read: bool,
        /// `ProjectionExpression`.
        projection_expression: String,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
    }
    name_setters!();
    request_access!(GetItemRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<GetItemResponse> {
        self.client.send_keyed(self.request).await
    }
}

/// GetItem: read one item by key.
#[derive(Debug)]
pub struct GetItem {
    client: Client,
    request: GetItemRequest,
}

/// UpdateItem: modify (or create) one item.
#[derive(Debug)]
pub struct UpdateItem {
    client: Client,
    request: UpdateItemRequest,
}

impl UpdateItem {
    key_setters!();
    option_setters! {
        /// `UpdateExpression` (SET, REMOVE, ADD, DELETE clauses).
        update_expression: String,
        /// `ConditionExpression` on the existing item.
        condition_expression: String,
        /// `ReturnValues`.
        return_values: ReturnValue,
        /// `ReturnValuesOnConditionCheckFailure`.
        return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
        /// `ReturnItemCollectionMetrics`.
        return_item_collection_metrics: ReturnItemCollectionMetrics,
    }
    name_setters!();
    value_setters!();
    request_access!(UpdateItemRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<UpdateItemResponse> {
        self.client.send_keyed(self.request).await
    }
}

/// DeleteItem: delete one item by key.
#[derive(Debug)]
pub struct DeleteItem {
    client: Client,
    request: DeleteItemRequest,
}

impl DeleteItem {
    key_setters!();
    option_setters! {
        /// `ConditionExpression` on the existing item.
        condition_expression: String,
        /// `ReturnValues` (NONE or ALL_OLD).
        return_values: ReturnValue,
        /// `ReturnValuesOnConditionCheckFailure`.
        return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
        /// `ReturnItemCollectionMetrics`.
        return_item_collection_metrics: ReturnItemCollectionMetrics,
    }
    name_setters!();
    value_setters!();
    request_access!(DeleteItemRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<DeleteItemResponse> {
        self.client.send_keyed(self.request).await
    }
}
