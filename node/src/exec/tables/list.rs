//! ListTables (§6.3): pages of table names in byte order.
//!
//! Invariant: names come sorted and unique, a page holds at most `Limit` (1..=100, default
//! 100) names strictly after `ExclusiveStartTableName`, and `LastEvaluatedTableName` is present
//! exactly when more names follow.
//! Does not hide anything itself: the caller passes only user tables.

use std::collections::BTreeSet;

use shoal_wire::Error;
use shoal_wire::limits::LIST_PAGE_LIMIT_MAX;
use shoal_wire::message::{ListTablesRequest, ListTablesResponse};
use shoal_wire::validate::validate_resource_name;

/// One page of the table names `names` (any order, duplicates ignored).
pub fn list_tables<N: AsRef<str>>(
    names: impl IntoIterator<Item = N>,
    request: &ListTablesRequest,
) -> Result<ListTablesResponse, Error> {
    let limit = request.limit.unwrap_or(LIST_PAGE_LIMIT_MAX);
    if !(1..=LIST_PAGE_LIMIT_MAX).contains(&limit) {
        let bound = if limit == 0 {
            "greater than or equal to 1".to_owned()
        } else {
            format!("less than or equal to {LIST_PAGE_LIMIT_MAX}")
        };
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
             constraint: Member must have value {bound}"
        )));
    }
    if let Some(start) = &request.exclusive_start_table_name {
        validate_resource_name(start, "exclusiveStartTableName")?;
    }
    let sorted: BTreeSet<String> = names
        .into_iter()
        .map(|name| name.as_ref().to_owned())
        .collect();
    let start = request.exclusive_start_table_name.as_deref();
    let mut after = sorted
        .into_iter()
        .filter(|name| start.is_none_or(|start| name.as_str() > start))
        .peekable();
    let mut table_names = Vec::new();
    while table_names.len() < limit as usize {
        match after.next() {
            Some(name) => table_names.push(name),
            None => break,
        }
    }
    let more = after.peek().is_some();
    Ok(ListTablesResponse {
        last_evaluated_table_name: more.then(|| table_names.last().cloned()).flatten(),
        table_names,
    })
}
