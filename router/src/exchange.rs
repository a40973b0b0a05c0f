//! Pairs every request message with its response message, its operation name, whether it
//! may be re-sent after an unknown outcome, and (for data-plane requests) how to stamp the
//! map epoch and find the partition key.
//!
//! Invariant: `Exchange::decode_response` reads exactly the kind that answers the request;
//! any other kind (except the error reply, handled by `connection`) is a protocol error.
//! Does not send anything.

use shoal_wire::cluster::Epoch;
use shoal_wire::expr::{Substitutions, key_conditions, parse_key_condition};
use shoal_wire::frame::{Frame, FrameError};
use shoal_wire::message::*;
use shoal_wire::schema::KeySchema;
use shoal_wire::validate::{validate_item, validate_key};
use shoal_wire::{AttributeValue, Item, Message};

use crate::error::Error;

/// A request message and what answers it.
pub(crate) trait Exchange: Message + Clone + Send + Sync + 'static {
    /// The response message.
    type Response: Message + Send + 'static;
    /// DynamoDB's operation name, for errors and logs.
    const OPERATION: &'static str;
    /// True if sending it twice has the effect of sending it once (reads, descriptions).
    const IDEMPOTENT: bool;
    /// Decodes the answer frame.
    fn decode_response(frame: &Frame<'_>) -> Result<Self::Response, FrameError>;
}

/// A data-plane request routed by its partition key.
pub(crate) trait Keyed: Exchange {
    /// The table named by the request.
    fn table_name(&self) -> &str;
    /// Stamps the client's map epoch.
    fn set_map_epoch(&mut self, epoch: Epoch);
    /// The partition-key value the request is about, if it can be found.
    fn partition_value(&self, schema: &KeySchema) -> Option<AttributeValue>;
    /// The error for a request without a usable partition key, when the shard it went to
    /// answered with a routing error instead of reporting the problem itself.
    fn unroutable_error(&self, schema: &KeySchema) -> Error;
    /// True for an eventually consistent read, which any replica may serve.
    fn any_replica(&self) -> bool {
        false
    }
}

/// DynamoDB's message for a key that does not fit the table's key schema.
const KEY_MISMATCH: &str = "The provided key element does not match the schema";

fn key_error(key: &Item, schema: &KeySchema) -> Error {
    let error = validate_key(key, schema).err();
    Error::from(error.unwrap_or_else(|| shoal_wire::Error::validation(KEY_MISMATCH)))
}

fn item_error(item: &Item, schema: &KeySchema) -> Error {
    let error = validate_item(item, schema, &[]).err();
    Error::from(error.unwrap_or_else(|| shoal_wire::Error::validation(KEY_MISMATCH)))
}

macro_rules! exchanges {
    ($( $request:ident => $response:ident, $operation:literal, $idempotent:literal; )*) => {$(
        impl Exchange for $request {
            type Response = $response;
            const OPERATION: &'static str = $operation;
            const IDEMPOTENT: bool = $idempotent;
            fn decode_response(frame: &Frame<'_>) -> Result<$response, FrameError> {
                frame.decode::<$response>()
            }
        }
    )*};
}

exchanges! {
    PutItemRequest => PutItemResponse, "PutItem", false;
    GetItemRequest => GetItemResponse, "GetItem", true;
    UpdateItemRequest => UpdateItemResponse, "UpdateItem", false;
    DeleteItemRequest => DeleteItemResponse, "DeleteItem", false;
    QueryRequest => QueryResponse, "Query", true;
    ScanRequest => ScanResponse, "Scan", true;
    BatchGetItemRequest => BatchGetItemResponse, "BatchGetItem", true;
    BatchWriteItemRequest => BatchWriteItemResponse, "BatchWriteItem", false;
    CreateTableRequest => CreateTableResponse, "CreateTable", false;
    DeleteTableRequest => DeleteTableResponse, "DeleteTable", false;
    DescribeTableRequest => DescribeTableResponse, "DescribeTable", true;
    ListTablesRequest => ListTablesResponse, "ListTables", true;
    UpdateTableRequest => UpdateTableResponse, "UpdateTable", false;
    DescribeClusterRequest => DescribeClusterResponse, "DescribeCluster", true;
    GetPartitionMapRequest => GetPartitionMapResponse, "GetPartitionMap", true;
    TransferLeaderRequest => TransferLeaderResponse, "TransferLeader", true;
}

macro_rules! keyed_by_attribute {
    ($( $request:ident . $field:ident => $error:ident, $any:ident; )*) => {$(
        impl Keyed for $request {
            fn table_name(&self) -> &str {
                &self.table_name
            }
            fn set_map_epoch(&mut self, epoch: Epoch) {
                self.map_epoch = epoch;
            }
            fn partition_value(&self, schema: &KeySchema) -> Option<AttributeValue> {
                self.$field.get(&schema.partition.name).cloned()
            }
            fn unroutable_error(&self, schema: &KeySchema) -> Error {
                $error(&self.$field, schema)
            }
            fn any_replica(&self) -> bool {
                $any(self)
            }
        }
    )*};
}

fn leader_only<T>(_: &T) -> bool {
    false
}

fn eventually_consistent_get(request: &GetItemRequest) -> bool {
    request.consistent_read != Some(true)
}

keyed_by_attribute! {
    PutItemRequest.item => item_error, leader_only;
    GetItemRequest.key => key_error, eventually_consistent_get;
    UpdateItemRequest.key => key_error, leader_only;
    DeleteItemRequest.key => key_error, leader_only;
}

impl Keyed for QueryRequest {
    fn table_name(&self) -> &str {
        &self.table_name
    }

    fn set_map_epoch(&mut self, epoch: Epoch) {
        self.map_epoch = epoch;
    }

    /// The partition key of the key condition (expression or legacy form), bound to the
    /// table's key schema: local secondary indexes share it. `None` when the condition does
    /// not parse or bind: the node then reports DynamoDB's exact error.
    fn partition_value(&self, schema: &KeySchema) -> Option<AttributeValue> {
        query_partition(self, schema).ok()
    }

    fn unroutable_error(&self, schema: &KeySchema) -> Error {
        query_partition(self, schema)
            .err()
            .unwrap_or_else(|| Error::validation(KEY_MISMATCH))
    }

    fn any_replica(&self) -> bool {
        self.consistent_read != Some(true)
    }
}

/// The partition-key value a Query's key condition names, or DynamoDB's error for it.
fn query_partition(query: &QueryRequest, schema: &KeySchema) -> Result<AttributeValue, Error> {
    {
        let expression = match (&query.key_condition_expression, &query.key_conditions) {
            (Some(text), None) => {
                let mut subs = Substitutions::new(
                    query.expression_attribute_names.as_ref(),
                    query.expression_attribute_values.as_ref(),
                );
                parse_key_condition(text, &mut subs)?
            }
            (None, Some(conditions)) => key_conditions(conditions)?,
            _ => {
                return Err(Error::validation(
                    "Either the KeyConditions or KeyConditionExpression parameter must be \
                     specified in the request.",
                ));
            }
        };
        Ok(expression.bind(schema)?.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition_map::tests::schema;
    use std::collections::BTreeMap;

    fn query(condition: &str, values: &[(&str, &str)]) -> QueryRequest {
        let values: BTreeMap<String, AttributeValue> = values
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect();
        QueryRequest {
            table_name: "t".into(),
            index_name: None,
            key_condition_expression: Some(condition.into()),
            filter_expression: None,
            projection_expression: None,
            expression_attribute_names: None,
            expression_attribute_values: Some(values),
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

    #[test]
    fn query_partition_key_comes_from_the_key_condition() {
        let q = query("id = :v", &[(":v", "alice")]);
        assert_eq!(
            q.partition_value(&schema()),
            Some(AttributeValue::S("alice".into()))
        );
        let reversed = query(":v = id", &[(":v", "bob")]);
        assert_eq!(
            reversed.partition_value(&schema()),
            Some(AttributeValue::S("bob".into()))
        );
        assert_eq!(
            query("other = :v", &[(":v", "x")]).partition_value(&schema()),
            None
        );
        assert_eq!(query("id = :missing", &[]).partition_value(&schema()), None);
    }
}
