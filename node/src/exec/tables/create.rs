//! CreateTable (§6.1): validation and the new table's description.
//!
//! Invariant: a created description resolves (`KeySchema::resolve` succeeds on it), defines
//! exactly its key attributes, carries the billing mode it was created with and zero
//! throughput when on demand, and is ACTIVE.
//! Does not allocate the internal id or check name uniqueness: the catalog does both.

use std::collections::BTreeSet;

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::message::CreateTableRequest;
use shoal_wire::schema::{
    BillingMode, BillingModeSummary, KeySchema, ProvisionedThroughput,
    ProvisionedThroughputDescription, TableClassSummary, TableDescription, TableStatus,
};
use shoal_wire::validate::validate_resource_name;

use super::{check_throughput, not_supported, table_arn, table_uuid};

/// Checks a CreateTable request (everything but the name being free, which the catalog
/// knows): the same checks `create_table` runs, for validation before proposing.
pub fn validate_create_table(request: &CreateTableRequest) -> Result<(), Error> {
    checked(request).map(|_| ())
}

/// Validates a CreateTable request and builds the ACTIVE table with internal id `table_id`,
/// created at `now_ms`. The caller has checked that no table has this name ("Table already
/// exists: <name>", see [`table_exists`]).
pub fn create_table(
    request: &CreateTableRequest,
    table_id: TableId,
    now_ms: u64,
) -> Result<TableDescription, Error> {
    let (schema, mode, throughput) = checked(request)?;
    Ok(TableDescription {
        table_name: request.table_name.clone(),
        table_arn: table_arn(&request.table_name),
        table_id: table_uuid(table_id),
        shoal_table_id: table_id,
        table_status: TableStatus::Active,
        creation_date_time_ms: now_ms,
        key_schema: schema.elements(),
        attribute_definitions: request.attribute_definitions.clone(),
        provisioned_throughput: throughput,
        billing_mode_summary: Some(BillingModeSummary {
            billing_mode: mode,
            last_update_to_pay_per_request_date_time_ms: (mode == BillingMode::PayPerRequest)
                .then_some(now_ms),
        }),
        on_demand_throughput: request.on_demand_throughput.clone(),
        warm_throughput: request.warm_throughput.clone(),
        table_size_bytes: 0,
        item_count: 0,
        local_secondary_indexes: Vec::new(),
        global_secondary_indexes: Vec::new(),
        stream_specification: None,
        latest_stream_arn: None,
        latest_stream_label: None,
        sse_description: None,
        restore_summary: None,
        table_class_summary: request.table_class.map(|table_class| TableClassSummary {
            table_class,
            last_update_date_time_ms: None,
        }),
        deletion_protection_enabled: request.deletion_protection_enabled.unwrap_or(false),
    })
}

/// The `ResourceInUseException` for a CreateTable whose name is taken.
pub fn table_exists(name: &str) -> Error {
    Error::resource_in_use(format!("Table already exists: {name}"))
}

/// Every check of CreateTable, in DynamoDB's order; the resolved key, billing mode and
/// described throughput.
fn checked(
    request: &CreateTableRequest,
) -> Result<(KeySchema, BillingMode, ProvisionedThroughputDescription), Error> {
    validate_resource_name(&request.table_name, "tableName")?;
    check_unsupported(request)?;
    let schema = resolve_schema(request)?;
    let mode = request.billing_mode.unwrap_or(BillingMode::Provisioned);
    let throughput = billing_throughput(mode, request.provisioned_throughput.as_ref())?;
    Ok((schema, mode, throughput))
}

/// Features this node does not implement yet are refused, never silently dropped.
fn check_unsupported(request: &CreateTableRequest) -> Result<(), Error> {
    if request.local_secondary_indexes.is_some() {
        return Err(not_supported("Local secondary indexes"));
    }
    if request.global_secondary_indexes.is_some() {
        return Err(not_supported("Global secondary indexes"));
    }
    if request
        .stream_specification
        .as_ref()
        .is_some_and(|s| s.stream_enabled)
    {
        return Err(not_supported("DynamoDB Streams"));
    }
    if request.tags.as_ref().is_some_and(|tags| !tags.is_empty()) {
        return Err(not_supported("Tags"));
    }
    if request
        .sse_specification
        .as_ref()
        .is_some_and(|sse| sse.enabled == Some(true))
    {
        return Err(not_supported(
            "Customer-managed encryption keys (SSESpecification)",
        ));
    }
    Ok(())
}

/// The key schema, with AttributeDefinitions defining exactly its attributes.
fn resolve_schema(request: &CreateTableRequest) -> Result<KeySchema, Error> {
    let definitions = &request.attribute_definitions;
    let mut names = BTreeSet::new();
    for definition in definitions {
        if !names.insert(definition.attribute_name.as_str()) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Duplicate AttributeName: {}",
                definition.attribute_name
            )));
        }
    }
    let schema = KeySchema::resolve(&request.key_schema, definitions)?;
    if definitions.len() != schema.attributes().count() {
        return Err(Error::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does \
             not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    Ok(schema)
}

/// The described throughput for a billing mode: PROVISIONED needs units, on demand forbids
/// them and reports zeros.
pub(super) fn billing_throughput(
    mode: BillingMode,
    throughput: Option<&ProvisionedThroughput>,
) -> Result<ProvisionedThroughputDescription, Error> {
    let units = match (mode, throughput) {
        (BillingMode::Provisioned, None) => {
            return Err(Error::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and \
                 WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        (BillingMode::Provisioned, Some(throughput)) => {
            check_throughput(throughput)?;
            (
                throughput.read_capacity_units,
                throughput.write_capacity_units,
            )
        }
        (BillingMode::PayPerRequest, Some(_)) => return Err(pay_per_request_throughput()),
        (BillingMode::PayPerRequest, None) => (0, 0),
    };
    Ok(ProvisionedThroughputDescription {
        read_capacity_units: units.0,
        write_capacity_units: units.1,
        number_of_decreases_today: 0,
        last_increase_date_time_ms: None,
        last_decrease_date_time_ms: None,
    })
}

/// The error for throughput given to an on-demand table.
pub(super) fn pay_per_request_throughput() -> Error {
    Error::validation(
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor \
         WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
    )
}
