//! UpdateItem (dynamodb-semantics.md §7.3, §8.4): validation before proposing, and the
//! deterministic apply step that merges the update into the current item or creates it.
//!
//! Invariant: `prepare_update` is pure and rejects updates of key attributes; `apply_update`
//! re-runs it, evaluates the condition against the item before the update, applies the whole
//! update or nothing, and writes the result only if it is a valid item of at most 400 KB. An
//! update that only removes attributes of a missing item creates nothing; any other update
//! creates the item (with just its key when there is nothing to set).
//! Does not route or apply ops.

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{
    self, Condition, RequestExpressions, UPDATE_ITEM_EXPRESSIONS, UpdateExpr, UpdateOutcome,
    parse_request,
};
use shoal_wire::message::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, UpdateItemRequest, UpdateItemResponse,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::validate::{validate_attributes, validate_item_size, validate_value};
use shoal_wire::value::{Item, item_size};

use super::capacity::{MilliUnits, consumed_capacity, write_units};
use super::params::{check_conditional_operator, reject_mixed, write_condition};
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext};
use super::write::{WriteOutcome, put_op, read_item};

/// A validated UpdateItem.
#[derive(Clone, Debug)]
pub struct PreparedUpdate<'r> {
    /// Where the item lives (route on `key.hash`).
    pub key: ItemKey,
    /// UpdateExpression or AttributeUpdates (an empty update when neither is given).
    pub update: UpdateExpr,
    /// ConditionExpression or Expected, if any.
    pub condition: Option<Condition>,
    request: &'r UpdateItemRequest,
    table_name: String,
}

/// Validates an UpdateItem against its table.
pub fn prepare_update<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r UpdateItemRequest,
) -> Result<PreparedUpdate<'r>, Error> {
    let context = TableContext::new(table, table_id)?;
    context.check_usable()?;
    reject_mixed(
        &[
            ("AttributeUpdates", request.attribute_updates.is_some()),
            ("Expected", request.expected.is_some()),
            (
                "ConditionalOperator",
                request.conditional_operator.is_some(),
            ),
        ],
        &[
            ("UpdateExpression", request.update_expression.is_some()),
            (
                "ConditionExpression",
                request.condition_expression.is_some(),
            ),
        ],
    )?;
    check_conditional_operator(
        request.conditional_operator,
        request.expected.as_ref().map(|e| e.len()),
    )?;
    let parsed = parse_request(&RequestExpressions {
        accepted: UPDATE_ITEM_EXPRESSIONS,
        update: request.update_expression.as_deref(),
        condition: request.condition_expression.as_deref(),
        names: request.expression_attribute_names.as_ref(),
        values: request.expression_attribute_values.as_ref(),
        ..RequestExpressions::default()
    })?;
    let update = match (parsed.update, &request.attribute_updates) {
        (Some(update), _) => update,
        (None, Some(updates)) => {
            for value in updates.values().filter_map(|u| u.value.as_ref()) {
                validate_value(value, 2)?;
            }
            expr::attribute_updates(updates)?
        }
        (None, None) => expr::attribute_updates(&Default::default())?,
    };
    let condition = write_condition(
        parsed.condition,
        request.expected.as_ref(),
        request.conditional_operator,
    )?;
    let key = context.validated_key(&request.key)?;
    update.check_key_attributes(&context.key_names())?;
    Ok(PreparedUpdate {
        key,
        update,
        condition,
        request,
        table_name: context.name().to_owned(),
    })
}

/// Applies a committed UpdateItem against the current state.
pub async fn apply_update(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &UpdateItemRequest,
) -> WriteOutcome<UpdateItemResponse> {
    match prepare_update(table, table_id, request) {
        Ok(prepared) => prepared.apply(reader).await,
        Err(error) => WriteOutcome::rejected(error, Default::default()),
    }
}

impl PreparedUpdate<'_> {
    /// Runs the apply step of this update.
    pub async fn apply(&self, reader: &impl ItemReader) -> WriteOutcome<UpdateItemResponse> {
        let old = match read_item(reader, &self.key).await {
            Ok(old) => old,
            Err(error) => return WriteOutcome::rejected(error, Default::default()),
        };
        let old_size = old.as_ref().map_or(0, item_size);
        if let Some(condition) = &self.condition
            && !condition.evaluate_opt(old.as_ref())
        {
            let return_old = self.request.return_values_on_condition_check_failure
                == Some(ReturnValuesOnConditionCheckFailure::AllOld);
            return WriteOutcome::condition_failed(old, return_old, write_units(old_size));
        }
        let outcome = match self.updated_item(old.as_ref()) {
            Ok(outcome) => outcome,
            Err(error) => return WriteOutcome::rejected(error, Default::default()),
        };
        let new_size = outcome.item.as_ref().map_or(0, item_size);
        let capacity = write_units(old_size.max(new_size));
        let ops = match &outcome.item {
            Some(item) => match put_op(&self.key, item) {
                Ok(op) => vec![op],
                Err(error) => return WriteOutcome::rejected(error, Default::default()),
            },
            None => Vec::new(),
        };
        let response = self.response(old, outcome, capacity);
        WriteOutcome {
            ops,
            result: Ok(response),
            capacity,
        }
    }

    /// The update applied to `old` and checked as an item DynamoDB would store.
    fn updated_item(&self, old: Option<&Item>) -> Result<UpdateOutcome, Error> {
        let outcome = self.update.apply(old, &self.request.key)?;
        if let Some(item) = &outcome.item {
            validate_attributes(item)?;
            validate_item_size(item, true)?;
        }
        Ok(outcome)
    }

    fn response(
        &self,
        old: Option<Item>,
        outcome: UpdateOutcome,
        capacity: MilliUnits,
    ) -> UpdateItemResponse {
        let attributes = match self.request.return_values {
            Some(ReturnValue::AllOld) => old,
            Some(ReturnValue::UpdatedOld) => outcome.updated_old(old.as_ref()),
            Some(ReturnValue::AllNew) => outcome.item,
            Some(ReturnValue::UpdatedNew) => outcome.updated_new(),
            Some(ReturnValue::None) | None => None,
        };
        UpdateItemResponse {
            attributes,
            consumed_capacity: consumed_capacity(
                &self.table_name,
                capacity,
                self.request.return_consumed_capacity,
            ),
            item_collection_metrics: None,
        }
    }
}
