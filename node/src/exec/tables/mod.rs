//! Table catalog logic (dynamodb-semantics.md §6.1–6.5): pure functions the metadata state
//! machine calls to create, describe, list, update and delete tables.
//!
//! Invariant: every function is a pure function of its inputs (the current description, the
//! request, the time passed in as milliseconds since the Unix epoch): replicas of the metadata
//! group reach the same catalog. Tables become ACTIVE at once (DynamoDB's CREATING/UPDATING
//! phases are instantaneous here), and descriptions always carry `ProvisionedThroughput`
//! (zeros for on-demand tables).
//! Does not store the catalog, allocate internal table ids, or touch items. Secondary
//! indexes, streams, tags, encryption keys and replicas are refused as `NotSupportedYet`.

mod create;
mod delete;
mod list;
mod update;

pub use create::{create_table, table_exists, validate_create_table};
pub use delete::delete_table;
pub use list::list_tables;
pub use update::update_table;

use shoal_wire::Error;
use shoal_wire::ErrorKind;
use shoal_wire::cluster::TableId;
use shoal_wire::message::DescribeTableResponse;
use shoal_wire::schema::{ProvisionedThroughput, TableDescription, TableStatus};

/// The region named in ARNs.
pub const REGION: &str = "local";
/// The account named in ARNs.
pub const ACCOUNT_ID: &str = "000000000000";
/// Most read or write capacity units a table may provision (DynamoDB's default quota).
pub const PROVISIONED_UNITS_MAX: u64 = 40_000;

/// `arn:aws:dynamodb:<region>:<account>:table/<name>`.
pub fn table_arn(name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}")
}

/// The UUID-like `TableId` of a table, derived deterministically from its internal id.
pub fn table_uuid(id: TableId) -> String {
    let high = mix(id.0);
    let low = mix(id.0 ^ 0x9E37_79B9_7F4A_7C15);
    // Version 4 and RFC 4122 variant bits, so the text looks like any UUID.
    let high = (high & !0xF000) | 0x4000;
    let low = (low & !(0xC000 << 48)) | (0x8000 << 48);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// SplitMix64's finaliser: a fixed bijection that spreads the bits of small ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// DescribeTable's response.
pub fn describe_table(table: &TableDescription) -> DescribeTableResponse {
    DescribeTableResponse {
        table: table.clone(),
    }
}

/// The `NotSupportedYet` refusal for a feature of the catalog.
pub(crate) fn not_supported(feature: &str) -> Error {
    Error::new(
        ErrorKind::NotSupportedYet,
        format!("{feature} are not supported yet by this node"),
    )
}

/// `ResourceInUseException` unless the table is ACTIVE.
pub(crate) fn check_not_busy(table: &TableDescription) -> Result<(), Error> {
    let doing = match table.table_status {
        TableStatus::Creating => "created",
        TableStatus::Updating => "updated",
        TableStatus::Deleting => "deleted",
        _ => return Ok(()),
    };
    Err(Error::resource_in_use(format!(
        "Attempt to change a resource which is still in use: Table is being {doing}: {}",
        table.table_name
    )))
}

/// Checks provisioned read and write units: at least 1, at most the quota.
pub(crate) fn check_throughput(throughput: &ProvisionedThroughput) -> Result<(), Error> {
    let units = [
        ("readCapacityUnits", throughput.read_capacity_units),
        ("writeCapacityUnits", throughput.write_capacity_units),
    ];
    for (field, value) in units {
        if value == 0 {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '0' at 'provisionedThroughput.{field}' \
                 failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
    }
    for (field, value) in units {
        if value > PROVISIONED_UNITS_MAX {
            let kind = if field.starts_with("read") {
                "read"
            } else {
                "write"
            };
            return Err(Error::limit_exceeded(format!(
                "Subscriber limit exceeded: Provisioned throughput for a single table or global \
                 secondary index cannot exceed {PROVISIONED_UNITS_MAX} {kind} capacity units \
                 (requested {value})"
            )));
        }
    }
    Ok(())
}
