//! DynamoDB JSON request bodies → the wire requests the client library sends, one function
//! per operation the nodes execute.
//!
//! Invariant: every member DynamoDB names for the operation is read (absent stays `None`,
//! so the node can tell absent from empty); wrong JSON types fail as
//! `SerializationException` before anything is sent. Members the operation does not have
//! are ignored, as DynamoDB ignores them.
//! Does not validate values (table names, expressions, limits): the node does.

use shoal_wire::Error;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{
    AttributeAction, AttributeValueUpdate, BatchGetItemRequest, BatchWriteItemRequest,
    ComparisonOperator, Condition, ConditionalOperator, CreateTableRequest,
    DeleteGlobalSecondaryIndexAction, DeleteItemRequest, DeleteRequest, DeleteTableRequest,
    DescribeTableRequest, ExpectedAttributeValue, GetItemRequest, GlobalSecondaryIndexUpdate,
    KeysAndAttributes, ListTablesRequest, PutItemRequest, PutRequest, QueryRequest, ReplicaUpdate,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScanRequest, Select, UpdateGlobalSecondaryIndexAction,
    UpdateItemRequest, UpdateTableRequest, WriteRequest,
};
use shoal_wire::schema::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, OnDemandThroughput, Projection, ProjectionType, ProvisionedThroughput,
    ScalarType, SseSpecification, StreamSpecification, StreamViewType, TableClass, Tag,
    WarmThroughput,
};

use super::fields::{Fields, not_null};

type Result<T> = std::result::Result<T, Error>;

fn consumed(f: &Fields) -> Result<Option<ReturnConsumedCapacity>> {
    f.name_enum(
        "ReturnConsumedCapacity",
        ReturnConsumedCapacity::ALL,
        ReturnConsumedCapacity::parse,
    )
}

fn metrics(f: &Fields) -> Result<Option<ReturnItemCollectionMetrics>> {
    f.name_enum(
        "ReturnItemCollectionMetrics",
        ReturnItemCollectionMetrics::ALL,
        ReturnItemCollectionMetrics::parse,
    )
}

fn return_values(f: &Fields) -> Result<Option<ReturnValue>> {
    f.name_enum("ReturnValues", ReturnValue::ALL, ReturnValue::parse)
}

fn on_failure(f: &Fields) -> Result<Option<ReturnValuesOnConditionCheckFailure>> {
    f.name_enum(
        "ReturnValuesOnConditionCheckFailure",
        ReturnValuesOnConditionCheckFailure::ALL,
        ReturnValuesOnConditionCheckFailure::parse,
    )
}

fn operator(f: &Fields) -> Result<Option<ConditionalOperator>> {
    f.name_enum(
        "ConditionalOperator",
        ConditionalOperator::ALL,
        ConditionalOperator::parse,
    )
}

fn select(f: &Fields) -> Result<Option<Select>> {
    f.name_enum("Select", Select::ALL, Select::parse)
}

fn condition(_: &str, f: Fields) -> Result<Condition> {
    Ok(Condition {
        comparison_operator: f
            .name_enum(
                "ComparisonOperator",
                ComparisonOperator::ALL,
                ComparisonOperator::parse,
            )?
            .ok_or_else(|| not_null("ComparisonOperator"))?,
        attribute_value_list: f.values("AttributeValueList")?,
    })
}

fn expected(_: &str, f: Fields) -> Result<ExpectedAttributeValue> {
    Ok(ExpectedAttributeValue {
        value: f.value("Value")?,
        exists: f.bool("Exists")?,
        comparison_operator: f.name_enum(
            "ComparisonOperator",
            ComparisonOperator::ALL,
            ComparisonOperator::parse,
        )?,
        attribute_value_list: f.values("AttributeValueList")?,
    })
}

fn attribute_update(_: &str, f: Fields) -> Result<AttributeValueUpdate> {
    Ok(AttributeValueUpdate {
        action: f.name_enum("Action", AttributeAction::ALL, AttributeAction::parse)?,
        value: f.value("Value")?,
    })
}

/// PutItem.
pub fn put_item(f: Fields) -> Result<PutItemRequest> {
    Ok(PutItemRequest {
        table_name: f.required_string("TableName")?,
        item: f.required_item("Item")?,
        condition_expression: f.string("ConditionExpression")?,
        expression_attribute_names: f.names()?,
        expression_attribute_values: f.values_map()?,
        return_values: return_values(&f)?,
        return_values_on_condition_check_failure: on_failure(&f)?,
        return_consumed_capacity: consumed(&f)?,
        return_item_collection_metrics: metrics(&f)?,
        expected: f.map_of("Expected", expected)?,
        conditional_operator: operator(&f)?,
        map_epoch: Epoch(0),
    })
}

/// GetItem.
pub fn get_item(f: Fields) -> Result<GetItemRequest> {
    Ok(GetItemRequest {
        table_name: f.required_string("TableName")?,
        key: f.required_item("Key")?,
        consistent_read: f.bool("ConsistentRead")?,
        projection_expression: f.string("ProjectionExpression")?,
        expression_attribute_names: f.names()?,
        attributes_to_get: f.strings("AttributesToGet")?,
        return_consumed_capacity: consumed(&f)?,
        map_epoch: Epoch(0),
    })
}

/// UpdateItem.
pub fn update_item(f: Fields) -> Result<UpdateItemRequest> {
    Ok(UpdateItemRequest {
        table_name: f.required_string("TableName")?,
        key: f.required_item("Key")?,
        update_expression: f.string("UpdateExpression")?,
        condition_expression: f.string("ConditionExpression")?,
        expression_attribute_names: f.names()?,
        expression_attribute_values: f.values_map()?,
        return_values: return_values(&f)?,
        return_values_on_condition_check_failure: on_failure(&f)?,
        return_consumed_capacity: consumed(&f)?,
        return_item_collection_metrics: metrics(&f)?,
        attribute_updates: f.map_of("AttributeUpdates", attribute_update)?,
        expected: f.map_of("Expected", expected)?,
        conditional_operator: operator(&f)?,
        map_epoch: Epoch(0),
    })
}

/// DeleteItem.
pub fn delete_item(f: Fields) -> Result<DeleteItemRequest> {
    Ok(DeleteItemRequest {
        table_name: f.required_string("TableName")?,
        key: f.required_item("Key")?,
        condition_expression: f.string("ConditionExpression")?,
        expression_attribute_names: f.names()?,
        expression_attribute_values: f.values_map()?,
        return_values: return_values(&f)?,
        return_values_on_condition_check_failure: on_failure(&f)?,
        return_consumed_capacity: consumed(&f)?,
        return_item_collection_metrics: metrics(&f)?,
        expected: f.map_of("Expected", expected)?,
        conditional_operator: operator(&f)?,
        map_epoch: Epoch(0),
    })
}

/// Query.
pub fn query(f: Fields) -> Result<QueryRequest> {
    Ok(QueryRequest {
        table_name: f.required_string("TableName")?,
        index_name: f.string("IndexName")?,
        key_condition_expression: f.string("KeyConditionExpression")?,
        filter_expression: f.string("FilterExpression")?,
        projection_expression: f.string("ProjectionExpression")?,
        expression_attribute_names: f.names()?,
        expression_attribute_values: f.values_map()?,
        select: select(&f)?,
        limit: f.u32("Limit")?,
        consistent_read: f.bool("ConsistentRead")?,
        scan_index_forward: f.bool("ScanIndexForward")?,
        exclusive_start_key: f.item("ExclusiveStartKey")?,
        return_consumed_capacity: consumed(&f)?,
        key_conditions: f.map_of("KeyConditions", condition)?,
        query_filter: f.map_of("QueryFilter", condition)?,
        conditional_operator: operator(&f)?,
        attributes_to_get: f.strings("AttributesToGet")?,
        map_epoch: Epoch(0),
    })
}

/// Scan.
pub fn scan(f: Fields) -> Result<ScanRequest> {
    Ok(ScanRequest {
        table_name: f.required_string("TableName")?,
        index_name: f.string("IndexName")?,
        filter_expression: f.string("FilterExpression")?,
        projection_expression: f.string("ProjectionExpression")?,
        expression_attribute_names: f.names()?,
        expression_attribute_values: f.values_map()?,
        select: select(&f)?,
        limit: f.u32("Limit")?,
        consistent_read: f.bool("ConsistentRead")?,
        exclusive_start_key: f.item("ExclusiveStartKey")?,
        segment: f.u32("Segment")?,
        total_segments: f.u32("TotalSegments")?,
        hash_range: None,
        return_consumed_capacity: consumed(&f)?,
        scan_filter: f.map_of("ScanFilter", condition)?,
        conditional_operator: operator(&f)?,
        attributes_to_get: f.strings("AttributesToGet")?,
        map_epoch: Epoch(0),
    })
}

/// One table's `KeysAndAttributes` of BatchGetItem.
pub fn keys_and_attributes(_: &str, f: Fields) -> Result<KeysAndAttributes> {
    Ok(KeysAndAttributes {
        keys: f.items("Keys")?.ok_or_else(|| not_null("Keys"))?,
        projection_expression: f.string("ProjectionExpression")?,
        expression_attribute_names: f.names()?,
        consistent_read: f.bool("ConsistentRead")?,
        attributes_to_get: f.strings("AttributesToGet")?,
    })
}

/// BatchGetItem.
pub fn batch_get_item(f: Fields) -> Result<BatchGetItemRequest> {
    Ok(BatchGetItemRequest {
        request_items: f
            .map_of("RequestItems", keys_and_attributes)?
            .ok_or_else(|| not_null("RequestItems"))?,
        return_consumed_capacity: consumed(&f)?,
        map_epoch: Epoch(0),
    })
}

fn write_request(f: Fields) -> Result<WriteRequest> {
    let put = f.object("PutRequest")?;
    let delete = f.object("DeleteRequest")?;
    match (put, delete) {
        (Some(put), None) => Ok(WriteRequest::Put(PutRequest {
            item: put.required_item("Item")?,
        })),
        (None, Some(delete)) => Ok(WriteRequest::Delete(DeleteRequest {
            key: delete.required_item("Key")?,
        })),
        _ => Err(Error::validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one \
             of the supported datatypes: a WriteRequest needs exactly one of PutRequest and \
             DeleteRequest",
        )),
    }
}

/// BatchWriteItem.
pub fn batch_write_item(f: Fields) -> Result<BatchWriteItemRequest> {
    let Some(tables) = f.object("RequestItems")? else {
        return Err(not_null("RequestItems"));
    };
    let request_items = tables.map_of_arrays(write_request)?;
    Ok(BatchWriteItemRequest {
        request_items,
        return_consumed_capacity: consumed(&f)?,
        return_item_collection_metrics: metrics(&f)?,
        map_epoch: Epoch(0),
    })
}

fn key_schema(f: &Fields) -> Result<Option<Vec<KeySchemaElement>>> {
    let Some(list) = f.objects("KeySchema")? else {
        return Ok(None);
    };
    list.iter()
        .map(|k| {
            Ok(KeySchemaElement {
                attribute_name: k.required_string("AttributeName")?,
                key_type: k
                    .name_enum("KeyType", KeyType::ALL, KeyType::parse)?
                    .ok_or_else(|| not_null("KeyType"))?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn attribute_definitions(f: &Fields) -> Result<Option<Vec<AttributeDefinition>>> {
    let Some(list) = f.objects("AttributeDefinitions")? else {
        return Ok(None);
    };
    list.iter()
        .map(|a| {
            Ok(AttributeDefinition {
                attribute_name: a.required_string("AttributeName")?,
                attribute_type: a
                    .name_enum("AttributeType", ScalarType::ALL, ScalarType::parse)?
                    .ok_or_else(|| not_null("AttributeType"))?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn throughput(f: &Fields) -> Result<Option<ProvisionedThroughput>> {
    let Some(t) = f.object("ProvisionedThroughput")? else {
        return Ok(None);
    };
    Ok(Some(ProvisionedThroughput {
        read_capacity_units: t
            .u64("ReadCapacityUnits")?
            .ok_or_else(|| not_null("ReadCapacityUnits"))?,
        write_capacity_units: t
            .u64("WriteCapacityUnits")?
            .ok_or_else(|| not_null("WriteCapacityUnits"))?,
    }))
}

fn on_demand(f: &Fields) -> Result<Option<OnDemandThroughput>> {
    let Some(t) = f.object("OnDemandThroughput")? else {
        return Ok(None);
    };
    Ok(Some(OnDemandThroughput {
        max_read_request_units: t.i64("MaxReadRequestUnits")?,
        max_write_request_units: t.i64("MaxWriteRequestUnits")?,
    }))
}

fn warm(f: &Fields) -> Result<Option<WarmThroughput>> {
    let Some(t) = f.object("WarmThroughput")? else {
        return Ok(None);
    };
    Ok(Some(WarmThroughput {
        read_units_per_second: t.i64("ReadUnitsPerSecond")?,
        write_units_per_second: t.i64("WriteUnitsPerSecond")?,
    }))
}

fn projection(f: &Fields) -> Result<Projection> {
    let Some(p) = f.object("Projection")? else {
        return Err(not_null("Projection"));
    };
    Ok(Projection {
        projection_type: p
            .name_enum("ProjectionType", ProjectionType::ALL, ProjectionType::parse)?
            .unwrap_or(ProjectionType::All),
        non_key_attributes: p.strings("NonKeyAttributes")?.unwrap_or_default(),
    })
}

fn stream(f: &Fields) -> Result<Option<StreamSpecification>> {
    let Some(s) = f.object("StreamSpecification")? else {
        return Ok(None);
    };
    Ok(Some(StreamSpecification {
        stream_enabled: s
            .bool("StreamEnabled")?
            .ok_or_else(|| not_null("StreamEnabled"))?,
        stream_view_type: s.name_enum(
            "StreamViewType",
            StreamViewType::ALL,
            StreamViewType::parse,
        )?,
    }))
}

fn sse(f: &Fields) -> Result<Option<SseSpecification>> {
    let Some(s) = f.object("SSESpecification")? else {
        return Ok(None);
    };
    Ok(Some(SseSpecification {
        enabled: s.bool("Enabled")?,
        sse_type: s.string("SSEType")?,
        kms_master_key_id: s.string("KMSMasterKeyId")?,
    }))
}

fn global_index(f: &Fields) -> Result<GlobalSecondaryIndex> {
    Ok(GlobalSecondaryIndex {
        index_name: f.required_string("IndexName")?,
        key_schema: key_schema(f)?.ok_or_else(|| not_null("KeySchema"))?,
        projection: projection(f)?,
        provisioned_throughput: throughput(f)?,
        on_demand_throughput: on_demand(f)?,
        warm_throughput: warm(f)?,
    })
}

/// CreateTable.
pub fn create_table(f: Fields) -> Result<CreateTableRequest> {
    let locals = f
        .objects("LocalSecondaryIndexes")?
        .map(|list| {
            list.iter()
                .map(|i| {
                    Ok(LocalSecondaryIndex {
                        index_name: i.required_string("IndexName")?,
                        key_schema: key_schema(i)?.ok_or_else(|| not_null("KeySchema"))?,
                        projection: projection(i)?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let globals = f
        .objects("GlobalSecondaryIndexes")?
        .map(|list| list.iter().map(global_index).collect::<Result<Vec<_>>>())
        .transpose()?;
    let tags = f
        .objects("Tags")?
        .map(|list| {
            list.iter()
                .map(|t| {
                    Ok(Tag {
                        key: t.required_string("Key")?,
                        value: t.required_string("Value")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    Ok(CreateTableRequest {
        table_name: f.required_string("TableName")?,
        key_schema: key_schema(&f)?.ok_or_else(|| not_null("KeySchema"))?,
        attribute_definitions: attribute_definitions(&f)?
            .ok_or_else(|| not_null("AttributeDefinitions"))?,
        billing_mode: f.name_enum("BillingMode", BillingMode::ALL, BillingMode::parse)?,
        provisioned_throughput: throughput(&f)?,
        local_secondary_indexes: locals,
        global_secondary_indexes: globals,
        stream_specification: stream(&f)?,
        sse_specification: sse(&f)?,
        tags,
        table_class: f.name_enum("TableClass", TableClass::ALL, TableClass::parse)?,
        deletion_protection_enabled: f.bool("DeletionProtectionEnabled")?,
        on_demand_throughput: on_demand(&f)?,
        warm_throughput: warm(&f)?,
    })
}

/// DeleteTable.
pub fn delete_table(f: Fields) -> Result<DeleteTableRequest> {
    Ok(DeleteTableRequest {
        table_name: f.required_string("TableName")?,
    })
}

/// DescribeTable.
pub fn describe_table(f: Fields) -> Result<DescribeTableRequest> {
    Ok(DescribeTableRequest {
        table_name: f.required_string("TableName")?,
    })
}

/// ListTables.
pub fn list_tables(f: Fields) -> Result<ListTablesRequest> {
    Ok(ListTablesRequest {
        exclusive_start_table_name: f.string("ExclusiveStartTableName")?,
        limit: f.u32("Limit")?,
    })
}

fn index_update(f: &Fields) -> Result<GlobalSecondaryIndexUpdate> {
    let create = f.object("Create")?.map(|c| global_index(&c)).transpose()?;
    let update = f
        .object("Update")?
        .map(|u| {
            Ok::<_, Error>(UpdateGlobalSecondaryIndexAction {
                index_name: u.required_string("IndexName")?,
                provisioned_throughput: throughput(&u)?,
                on_demand_throughput: on_demand(&u)?,
                warm_throughput: warm(&u)?,
            })
        })
        .transpose()?;
    let delete = f
        .object("Delete")?
        .map(|d| {
            Ok::<_, Error>(DeleteGlobalSecondaryIndexAction {
                index_name: d.required_string("IndexName")?,
            })
        })
        .transpose()?;
    Ok(GlobalSecondaryIndexUpdate {
        create,
        update,
        delete,
    })
}

/// UpdateTable.
pub fn update_table(f: Fields) -> Result<UpdateTableRequest> {
    let index_updates = f
        .objects("GlobalSecondaryIndexUpdates")?
        .map(|list| list.iter().map(index_update).collect::<Result<Vec<_>>>())
        .transpose()?;
    let replica_updates = f
        .objects("ReplicaUpdates")?
        .map(|list| {
            list.iter()
                .map(|r| {
                    let region = |name: &'static str| -> Result<Option<String>> {
                        r.object(name)?
                            .map(|o| o.required_string("RegionName"))
                            .transpose()
                    };
                    Ok(ReplicaUpdate {
                        create_region_name: region("Create")?,
                        delete_region_name: region("Delete")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    Ok(UpdateTableRequest {
        table_name: f.required_string("TableName")?,
        attribute_definitions: attribute_definitions(&f)?,
        billing_mode: f.name_enum("BillingMode", BillingMode::ALL, BillingMode::parse)?,
        provisioned_throughput: throughput(&f)?,
        global_secondary_index_updates: index_updates,
        stream_specification: stream(&f)?,
        sse_specification: sse(&f)?,
        table_class: f.name_enum("TableClass", TableClass::ALL, TableClass::parse)?,
        deletion_protection_enabled: f.bool("DeletionProtectionEnabled")?,
        replica_updates,
        on_demand_throughput: on_demand(&f)?,
        warm_throughput: warm(&f)?,
    })
}
