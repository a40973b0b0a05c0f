//! Test support: tables, values and requests with every optional parameter absent.

use shoal_wire::Number;
use shoal_wire::cluster::TableId;
use shoal_wire::message::CreateTableRequest;
use shoal_wire::schema::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarType, TableDescription,
};
use shoal_wire::value::{AttributeValue, Item};

use crate::exec::tables;

/// The internal id of every test table.
pub const TABLE_ID: TableId = TableId(7);

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

pub fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}
