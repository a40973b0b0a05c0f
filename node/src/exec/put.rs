//! PutItem (dynamodb-semantics.md §7.1): validation before proposing, and the deterministic
//! apply step that creates or replaces the whole item.
//!
//! Invariant: `prepare_put` is pure and checks everything DynamoDB checks before anything is
//! proposed; `apply_put` re-runs it (the same inputs give the same verdict on every replica),
//! reads the current item when anything depends on it, evaluates the condition against it,
//! and either returns one put op or none.
//!
//! The current item matters to a condition, to `ReturnValues=ALL_OLD`, and to the units
//! (the larger of the old and the new item, §10.1) where they can be seen: a provisioned
//! table's throughput bucket, or `ReturnConsumedCapacity`. An unconditional put to an
//! on-demand table that asks for neither does not read it (a tree descent and a decode,
//! about a tenth of a shard's CPU per put); its outcome's `capacity` then counts the new
//! item only, which nothing charges or reports. Each replica decides this from its own
//! catalog copy; the write is the same either way. Only a failing read (a storage error on
//! one replica) could make replicas differ, as it already could for a conditional write.
//! Known gap: a read error should stop the shard rather than reject the one write.
//! Does not route (the server compares `PreparedPut::key.hash` with its partitions) and does
//! not apply ops.

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{Condition, PUT_ITEM_EXPRESSIONS, RequestExpressions, parse_request};
use shoal_wire::message::{
    PutItemRequest, PutItemResponse, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::validate::{validate_attributes, validate_item};
use shoal_wire::value::{Item, item_size};

use super::capacity::{consumed_capacity, is_provisioned, write_units};
use super::params::{
    check_conditional_operator, check_return_values_old_only, reject_mixed, write_condition,
};
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext};
use super::write::{WriteOutcome, put_op, read_item};

/// A validated PutItem.
#[derive(Clone, Debug)]
pub struct PreparedPut<'r> {
    /// Where the item lives (route on `key.hash`).
    pub key: ItemKey,
    /// The item to store.
    pub item: &'r Item,
    /// ConditionExpression or Expected, if any.
    pub condition: Option<Condition>,
    request: &'r PutItemRequest,
    table_name: String,
    /// The table has provisioned throughput (units are charged).
    provisioned: bool,
}

/// What [`prepare_put`] established about a request, apart from the request it borrows:
/// the proposer keeps it for its own replica's apply, which may use it instead of checking
/// again while the table's description is the one it was checked against (the checks are
/// a pure function of the description, its id and the request).
#[derive(Clone, Debug)]
pub struct PutChecks {
    key: ItemKey,
    condition: Option<Condition>,
    table_name: String,
    provisioned: bool,
}

impl<'r> PreparedPut<'r> {
    /// The checks, for [`PreparedPut::from_checks`] with the same request.
    pub fn into_checks(self) -> PutChecks {
        PutChecks {
            key: self.key,
            condition: self.condition,
            table_name: self.table_name,
            provisioned: self.provisioned,
        }
    }

    /// The prepared put `checks` describe; `request` must be the request they were made
    /// of, and the table's description unchanged since.
    pub fn from_checks(request: &'r PutItemRequest, checks: PutChecks) -> PreparedPut<'r> {
        PreparedPut {
            key: checks.key,
            item: &request.item,
            condition: checks.condition,
            request,
            table_name: checks.table_name,
            provisioned: checks.provisioned,
        }
    }
}

/// Validates a PutItem against its table.
pub fn prepare_put<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r PutItemRequest,
) -> Result<PreparedPut<'r>, Error> {
    let context = TableContext::new(table, table_id)?;
    context.check_usable()?;
    reject_mixed(
        &[
            ("Expected", request.expected.is_some()),
            (
                "ConditionalOperator",
                request.conditional_operator.is_some(),
            ),
        ],
        &[(
            "ConditionExpression",
            request.condition_expression.is_some(),
        )],
    )?;
    check_conditional_operator(
        request.conditional_operator,
        request.expected.as_ref().map(|e| e.len()),
    )?;
    check_return_values_old_only(request.return_values)?;
    validate_attributes(&request.item)?;
    let parsed = parse_request(&RequestExpressions {
        accepted: PUT_ITEM_EXPRESSIONS,
        condition: request.condition_expression.as_deref(),
        names: request.expression_attribute_names.as_ref(),
        values: request.expression_attribute_values.as_ref(),
        ..RequestExpressions::default()
    })?;
    let condition = write_condition(
        parsed.condition,
        request.expected.as_ref(),
        request.conditional_operator,
    )?;
    validate_item(&request.item, &context.schema, &[])?;
    Ok(PreparedPut {
        key: context.item_key(&request.item)?,
        item: &request.item,
        condition,
        request,
        table_name: context.name().to_owned(),
        provisioned: is_provisioned(table),
    })
}

/// Applies a committed PutItem against the current state.
pub async fn apply_put(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &PutItemRequest,
) -> WriteOutcome<PutItemResponse> {
    match prepare_put(table, table_id, request) {
        Ok(prepared) => prepared.apply(reader).await,
        Err(error) => WriteOutcome::rejected(error, Default::default()),
    }
}

impl PreparedPut<'_> {
    /// Whether the outcome depends on the item being replaced (see the module comment).
    pub fn reads_old_item(&self) -> bool {
        let reported = matches!(
            self.request.return_consumed_capacity,
            Some(ReturnConsumedCapacity::Total | ReturnConsumedCapacity::Indexes)
        );
        self.condition.is_some()
            || self.request.return_values == Some(ReturnValue::AllOld)
            || self.provisioned
            || reported
    }

    /// Runs the apply step of this put.
    pub async fn apply(&self, reader: &impl ItemReader) -> WriteOutcome<PutItemResponse> {
        let old = if self.reads_old_item() {
            match read_item(reader, &self.key).await {
                Ok(old) => old,
                Err(error) => return WriteOutcome::rejected(error, Default::default()),
            }
        } else {
            None
        };
        let old_size = old.as_ref().map_or(0, item_size);
        let capacity = write_units(old_size.max(item_size(self.item)));
        if let Some(condition) = &self.condition
            && !condition.evaluate_opt(old.as_ref())
        {
            // A failed condition costs the item that would be written, or 1 WCU when none
            // exists (§10.1).
            let charged = if old.is_some() {
                capacity
            } else {
                write_units(0)
            };
            let return_old = self.request.return_values_on_condition_check_failure
                == Some(ReturnValuesOnConditionCheckFailure::AllOld);
            return WriteOutcome::condition_failed(old, return_old, charged);
        }
        let op = match put_op(&self.key, self.item) {
            Ok(op) => op,
            Err(error) => return WriteOutcome::rejected(error, Default::default()),
        };
        let attributes = match self.request.return_values {
            Some(ReturnValue::AllOld) => old,
            _ => None,
        };
        let response = PutItemResponse {
            attributes,
            consumed_capacity: consumed_capacity(
                &self.table_name,
                capacity,
                self.request.return_consumed_capacity,
            ),
            item_collection_metrics: None,
        };
        WriteOutcome {
            ops: vec![op],
            result: Ok(response),
            capacity,
        }
    }
}
