//! DeleteItem (dynamodb-semantics.md §7.4): validation before proposing, and the deterministic
//! apply step. Idempotent without a condition: deleting a missing item succeeds and costs
//! 1 WCU.
//!
//! Invariant: `prepare_delete` is pure; `apply_delete` re-runs it, reads the current item,
//! evaluates the condition, and returns one delete op when an item existed (none otherwise).
//! Does not route or apply ops.

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{Condition, DELETE_ITEM_EXPRESSIONS, RequestExpressions, parse_request};
use shoal_wire::message::{
    DeleteItemRequest, DeleteItemResponse, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::value::item_size;

use super::capacity::{consumed_capacity, write_units};
use super::params::{
    check_conditional_operator, check_return_values_old_only, reject_mixed, write_condition,
};
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext};
use super::write::{WriteOutcome, delete_op, read_item};

/// A validated DeleteItem.
#[derive(Clone, Debug)]
pub struct PreparedDelete<'r> {
    /// Where the item lives (route on `key.hash`).
    pub key: ItemKey,
    /// ConditionExpression or Expected, if any.
    pub condition: Option<Condition>,
    request: &'r DeleteItemRequest,
    table_name: String,
}

/// Validates a DeleteItem against its table.
pub fn prepare_delete<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r DeleteItemRequest,
) -> Result<PreparedDelete<'r>, Error> {
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
    let parsed = parse_request(&RequestExpressions {
        accepted: DELETE_ITEM_EXPRESSIONS,
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
    Ok(PreparedDelete {
        key: context.validated_key(&request.key)?,
        condition,
        request,
        table_name: context.name().to_owned(),
    })
}

/// Applies a committed DeleteItem against the current state.
pub async fn apply_delete(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &DeleteItemRequest,
) -> WriteOutcome<DeleteItemResponse> {
    match prepare_delete(table, table_id, request) {
        Ok(prepared) => prepared.apply(reader).await,
        Err(error) => WriteOutcome::rejected(error, Default::default()),
    }
}

impl PreparedDelete<'_> {
    /// Runs the apply step of this delete.
    pub async fn apply(&self, reader: &impl ItemReader) -> WriteOutcome<DeleteItemResponse> {
        let old = match read_item(reader, &self.key).await {
            Ok(old) => old,
            Err(error) => return WriteOutcome::rejected(error, Default::default()),
        };
        let capacity = write_units(old.as_ref().map_or(0, item_size));
        if let Some(condition) = &self.condition
            && !condition.evaluate_opt(old.as_ref())
        {
            let return_old = self.request.return_values_on_condition_check_failure
                == Some(ReturnValuesOnConditionCheckFailure::AllOld);
            return WriteOutcome::condition_failed(old, return_old, capacity);
        }
        let ops = if old.is_some() {
            vec![delete_op(&self.key)]
        } else {
            Vec::new()
        };
        let attributes = match self.request.return_values {
            Some(ReturnValue::AllOld) => old,
            _ => None,
        };
        let response = DeleteItemResponse {
            attributes,
            consumed_capacity: consumed_capacity(
                &self.table_name,
                capacity,
                self.request.return_consumed_capacity,
            ),
            item_collection_metrics: None,
        };
        WriteOutcome {
            ops,
            result: Ok(response),
            capacity,
        }
    }
}
