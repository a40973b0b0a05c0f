//! Table catalog logic: CreateTable validation and descriptions, ListTables pages,
//! UpdateTable billing and throughput rules, DeleteTable (§6.1–6.5), and the refusals of
//! features not built yet.

use shoal_wire::ErrorKind;
use shoal_wire::cluster::TableId;
use shoal_wire::message::{CreateTableRequest, ListTablesRequest, UpdateTableRequest};
use shoal_wire::schema::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchema, KeySchemaElement, KeyType,
    Projection, ProjectionType, ProvisionedThroughput, ScalarType, StreamSpecification,
    StreamViewType, TableClass, TableStatus,
};

use super::support::create_request;
use crate::exec::tables::{
    create_table, delete_table, describe_table, list_tables, table_uuid, update_table,
    validate_create_table,
};

const NOW: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;

fn base() -> CreateTableRequest {
    create_request(
        "Music",
        ("Artist", ScalarType::S),
        Some(("Song", ScalarType::S)),
    )
}

fn provisioned(read: u64, write: u64) -> Option<ProvisionedThroughput> {
    Some(ProvisionedThroughput {
        read_capacity_units: read,
        write_capacity_units: write,
    })
}

fn definition(name: &str) -> AttributeDefinition {
    AttributeDefinition {
        attribute_name: name.to_owned(),
        attribute_type: ScalarType::S,
    }
}

fn message_of(request: &CreateTableRequest) -> (Option<ErrorKind>, String) {
    match validate_create_table(request) {
        Ok(()) => (None, String::new()),
        Err(e) => (Some(e.kind), e.message),
    }
}

#[test]
fn create_table_validation_follows_dynamodb() {
    let gsi = GlobalSecondaryIndex {
        index_name: "g1".into(),
        key_schema: vec![KeySchemaElement {
            attribute_name: "x".into(),
            key_type: KeyType::Hash,
        }],
        projection: Projection {
            projection_type: ProjectionType::All,
            non_key_attributes: vec![],
        },
        provisioned_throughput: None,
        on_demand_throughput: None,
        warm_throughput: None,
    };
    let cases: Vec<(CreateTableRequest, ErrorKind, &str)> = vec![
        (
            CreateTableRequest {
                table_name: "ab".into(),
                ..base()
            },
            ErrorKind::Validation,
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy \
             constraint: Member must have length greater than or equal to 3",
        ),
        (
            CreateTableRequest {
                attribute_definitions: vec![
                    definition("Artist"),
                    definition("Song"),
                    definition("x"),
                ],
                ..base()
            },
            ErrorKind::Validation,
            "One or more parameter values were invalid: Number of attributes in KeySchema does \
             not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            CreateTableRequest {
                attribute_definitions: vec![definition("Artist"), definition("Artist")],
                ..base()
            },
            ErrorKind::Validation,
            "One or more parameter values were invalid: Duplicate AttributeName: Artist",
        ),
        (
            CreateTableRequest {
                attribute_definitions: vec![definition("Artist")],
                ..base()
            },
            ErrorKind::Validation,
            "One or more parameter values were invalid: Some index key attributes are not \
             defined in AttributeDefinitions. Keys: [Song], AttributeDefinitions: [Artist]",
        ),
        (
            CreateTableRequest {
                billing_mode: None,
                ..base()
            },
            ErrorKind::Validation,
            "One or more parameter values were invalid: ReadCapacityUnits and \
             WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        (
            CreateTableRequest {
                provisioned_throughput: provisioned(5, 5),
                ..base()
            },
            ErrorKind::Validation,
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor \
             WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            CreateTableRequest {
                billing_mode: Some(BillingMode::Provisioned),
                provisioned_throughput: provisioned(0, 5),
                ..base()
            },
            ErrorKind::Validation,
            "1 validation error detected: Value '0' at 'provisionedThroughput.readCapacityUnits' \
             failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            CreateTableRequest {
                billing_mode: Some(BillingMode::Provisioned),
                provisioned_throughput: provisioned(1, 40_001),
                ..base()
            },
            ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: Provisioned throughput for a single table or global \
             secondary index cannot exceed 40000 write capacity units (requested 40001)",
        ),
        (
            CreateTableRequest {
                global_secondary_indexes: Some(vec![gsi]),
                ..base()
            },
            ErrorKind::NotSupportedYet,
            "Global secondary indexes are not supported yet by this node",
        ),
        (
            CreateTableRequest {
                local_secondary_indexes: Some(vec![]),
                ..base()
            },
            ErrorKind::NotSupportedYet,
            "Local secondary indexes are not supported yet by this node",
        ),
        (
            CreateTableRequest {
                stream_specification: Some(StreamSpecification {
                    stream_enabled: true,
                    stream_view_type: Some(StreamViewType::NewImage),
                }),
                ..base()
            },
            ErrorKind::NotSupportedYet,
            "DynamoDB Streams are not supported yet by this node",
        ),
    ];
    for (request, kind, expected) in cases {
        assert_eq!(message_of(&request), (Some(kind), expected.to_owned()));
    }
    // A disabled stream is no stream.
    let quiet = CreateTableRequest {
        stream_specification: Some(StreamSpecification {
            stream_enabled: false,
            stream_view_type: None,
        }),
        ..base()
    };
    assert_eq!(message_of(&quiet), (None, String::new()));
}

#[test]
fn created_tables_are_described_like_dynamodb() {
    let on_demand = create_table(&base(), TableId(42), NOW).unwrap();
    assert_eq!(on_demand.table_status, TableStatus::Active);
    assert_eq!(
        on_demand.table_arn,
        "arn:aws:dynamodb:local:000000000000:table/Music"
    );
    assert_eq!(on_demand.table_id, table_uuid(TableId(42)));
    assert_eq!(on_demand.shoal_table_id, TableId(42));
    assert_eq!(on_demand.creation_date_time_ms, NOW);
    assert_eq!(on_demand.provisioned_throughput.read_capacity_units, 0);
    let summary = on_demand.billing_mode_summary.clone().unwrap();
    assert_eq!(summary.billing_mode, BillingMode::PayPerRequest);
    assert_eq!(
        summary.last_update_to_pay_per_request_date_time_ms,
        Some(NOW)
    );
    let resolved = KeySchema::resolve(&on_demand.key_schema, &on_demand.attribute_definitions);
    assert_eq!(resolved.unwrap().to_string(), "Artist(S), Song(S)");
    assert_eq!(describe_table(&on_demand).table, on_demand);
    let paid = CreateTableRequest {
        billing_mode: None,
        provisioned_throughput: provisioned(5, 7),
        table_class: Some(TableClass::StandardInfrequentAccess),
        ..base()
    };
    let paid = create_table(&paid, TableId(43), NOW).unwrap();
    assert_eq!(paid.provisioned_throughput.write_capacity_units, 7);
    assert_eq!(
        paid.billing_mode_summary.unwrap().billing_mode,
        BillingMode::Provisioned
    );
    assert!(paid.table_class_summary.is_some());
    // Table ids look like UUIDs, differ per table, and never change for an id.
    let id = table_uuid(TableId(1));
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4');
    assert_eq!(id, table_uuid(TableId(1)));
    assert_ne!(id, table_uuid(TableId(2)));
}

#[test]
fn list_tables_pages_in_sorted_order() {
    let names = ["delta", "alpha", "charlie", "bravo", "echo"];
    let request = |start: Option<&str>, limit: Option<u32>| ListTablesRequest {
        exclusive_start_table_name: start.map(str::to_owned),
        limit,
    };
    let page = list_tables(names, &request(None, Some(2))).unwrap();
    assert_eq!(page.table_names, ["alpha", "bravo"]);
    assert_eq!(page.last_evaluated_table_name.as_deref(), Some("bravo"));
    let page = list_tables(names, &request(Some("bravo"), Some(2))).unwrap();
    assert_eq!(page.table_names, ["charlie", "delta"]);
    let page = list_tables(names, &request(Some("delta"), Some(2))).unwrap();
    assert_eq!(page.table_names, ["echo"]);
    assert_eq!(page.last_evaluated_table_name, None);
    let all = list_tables(names.map(String::from), &request(None, None)).unwrap();
    assert_eq!(all.table_names.len(), 5);
    assert_eq!(all.last_evaluated_table_name, None);
    let error = list_tables(names, &request(None, Some(101))).unwrap_err();
    assert_eq!(
        error.message,
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 100"
    );
    assert!(list_tables(names, &request(None, Some(0))).is_err());
    assert!(list_tables(names, &request(Some("x"), None)).is_err());
}

fn update() -> UpdateTableRequest {
    UpdateTableRequest {
        table_name: "Music".into(),
        attribute_definitions: None,
        billing_mode: None,
        provisioned_throughput: None,
        global_secondary_index_updates: None,
        stream_specification: None,
        sse_specification: None,
        table_class: None,
        deletion_protection_enabled: None,
        replica_updates: None,
        on_demand_throughput: None,
        warm_throughput: None,
    }
}

#[test]
fn update_table_switches_billing_and_rations_decreases() {
    let on_demand = create_table(&base(), TableId(1), NOW).unwrap();
    let message = |table, request: &UpdateTableRequest| {
        update_table(table, request, NOW)
            .err()
            .map(|e| (e.kind, e.message))
    };
    let nothing = message(&on_demand, &update()).unwrap();
    assert!(
        nothing
            .1
            .starts_with("At least one of ProvisionedThroughput, BillingMode")
    );
    let throughput_on_demand = UpdateTableRequest {
        provisioned_throughput: provisioned(1, 1),
        ..update()
    };
    assert!(
        message(&on_demand, &throughput_on_demand)
            .unwrap()
            .1
            .contains("Neither")
    );
    let to_provisioned = UpdateTableRequest {
        billing_mode: Some(BillingMode::Provisioned),
        ..update()
    };
    assert!(
        message(&on_demand, &to_provisioned)
            .unwrap()
            .1
            .contains("must both be specified")
    );
    let gsi = UpdateTableRequest {
        global_secondary_index_updates: Some(vec![]),
        ..update()
    };
    assert_eq!(
        message(&on_demand, &gsi).unwrap().0,
        ErrorKind::NotSupportedYet
    );
    let stream = UpdateTableRequest {
        stream_specification: Some(StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(StreamViewType::KeysOnly),
        }),
        ..update()
    };
    assert_eq!(
        message(&on_demand, &stream).unwrap().0,
        ErrorKind::NotSupportedYet
    );
    // Switch to provisioned, then change throughput.
    let switch = UpdateTableRequest {
        billing_mode: Some(BillingMode::Provisioned),
        provisioned_throughput: provisioned(10, 10),
        ..update()
    };
    let mut table = update_table(&on_demand, &switch, NOW).unwrap();
    assert_eq!(table.provisioned_throughput.read_capacity_units, 10);
    let same = UpdateTableRequest {
        provisioned_throughput: provisioned(10, 10),
        ..update()
    };
    assert!(
        message(&table, &same)
            .unwrap()
            .1
            .starts_with("The provisioned throughput for the table will not change")
    );
    // Four decreases at once, then one per hour.
    let mut at = NOW - NOW % (24 * HOUR) + HOUR;
    for units in [9, 8, 7, 6] {
        let lower = UpdateTableRequest {
            provisioned_throughput: provisioned(units, units),
            ..update()
        };
        table = update_table(&table, &lower, at).unwrap();
        at += 1000;
    }
    assert_eq!(table.provisioned_throughput.number_of_decreases_today, 4);
    let fifth = UpdateTableRequest {
        provisioned_throughput: provisioned(5, 5),
        ..update()
    };
    let error = update_table(&table, &fifth, at).unwrap_err();
    assert_eq!(error.kind, ErrorKind::LimitExceeded);
    table = update_table(&table, &fifth, at + HOUR).unwrap();
    let raise = UpdateTableRequest {
        provisioned_throughput: provisioned(50, 50),
        ..update()
    };
    table = update_table(&table, &raise, at + HOUR).unwrap();
    assert_eq!(
        table.provisioned_throughput.last_increase_date_time_ms,
        Some(at + HOUR)
    );
    // A new UTC day resets the allowance.
    let next_day = at + 24 * HOUR;
    let lower = UpdateTableRequest {
        provisioned_throughput: provisioned(1, 1),
        ..update()
    };
    let table = update_table(&table, &lower, next_day).unwrap();
    assert_eq!(table.provisioned_throughput.number_of_decreases_today, 1);
    // Back to on demand: zeros and the switch time.
    let back = UpdateTableRequest {
        billing_mode: Some(BillingMode::PayPerRequest),
        ..update()
    };
    let table = update_table(&table, &back, next_day).unwrap();
    assert_eq!(table.provisioned_throughput.read_capacity_units, 0);
    let summary = table.billing_mode_summary.unwrap();
    assert_eq!(
        summary.last_update_to_pay_per_request_date_time_ms,
        Some(next_day)
    );
}

#[test]
fn delete_table_reduces_the_description() {
    let table = create_table(&base(), TableId(1), NOW).unwrap();
    let deleting = delete_table(&table).unwrap();
    assert_eq!(deleting.table_status, TableStatus::Deleting);
    assert!(deleting.key_schema.is_empty() && deleting.attribute_definitions.is_empty());
    assert_eq!(
        (deleting.table_name.as_str(), &deleting.table_arn),
        ("Music", &table.table_arn)
    );
    assert_eq!(
        delete_table(&deleting).unwrap(),
        deleting,
        "deleting again succeeds"
    );
    let mut protected = table.clone();
    protected.deletion_protection_enabled = true;
    assert_eq!(
        delete_table(&protected).unwrap_err().kind,
        ErrorKind::Validation
    );
    let mut creating = table;
    creating.table_status = TableStatus::Creating;
    assert_eq!(
        delete_table(&creating).unwrap_err().kind,
        ErrorKind::ResourceInUse
    );
}
