//! DeleteTable (§6.5): the reduced description DynamoDB returns with status DELETING.
//!
//! Invariant: a protected table is never deleted; a table being created or updated is busy;
//! deleting a table already DELETING succeeds again with the same answer.
//! Does not remove items: the caller drops the table's key range.

use shoal_wire::Error;
use shoal_wire::schema::{TableDescription, TableStatus};

use super::check_not_busy;

/// Validates a DeleteTable and returns the reduced DELETING description (name, ARN, id,
/// billing, throughput, counts; no key schema, definitions or indexes).
pub fn delete_table(current: &TableDescription) -> Result<TableDescription, Error> {
    if current.deletion_protection_enabled {
        return Err(Error::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable \
             deletion protection first.",
        ));
    }
    if current.table_status != TableStatus::Deleting {
        check_not_busy(current)?;
    }
    let mut table = current.clone();
    table.table_status = TableStatus::Deleting;
    table.key_schema = Vec::new();
    table.attribute_definitions = Vec::new();
    table.local_secondary_indexes = Vec::new();
    table.global_secondary_indexes = Vec::new();
    table.stream_specification = None;
    table.latest_stream_arn = None;
    table.latest_stream_label = None;
    Ok(table)
}
