//! Request parameters shared by several operations: legacy-versus-expression mixing, the
//! `ConditionalOperator` rule, `ReturnValues`, `Limit`, legacy condition values and the write
//! condition (ConditionExpression or Expected).
//!
//! Invariant: each check reports DynamoDB's message for the first violation, and the lists of
//! parameters in mixing errors follow DynamoDB's per-operation order.
//! Does not parse expressions (`shoal_wire::expr` does) or check keys and items (`table`).

use std::collections::BTreeMap;

use shoal_wire::Error;
use shoal_wire::expr::{self, Condition, reject_mixed_parameters};
use shoal_wire::message::{
    Condition as LegacyCondition, ConditionalOperator, ExpectedAttributeValue, ReturnValue,
};
use shoal_wire::validate::validate_value;
use shoal_wire::value::AttributeValue;

/// A request parameter and whether the request carries it.
pub(crate) type Presence<'a> = (&'a str, bool);

/// Rejects legacy parameters combined with expression parameters; each list is in DynamoDB's
/// order for the operation.
pub(crate) fn reject_mixed(
    non_expression: &[Presence<'_>],
    expression: &[Presence<'_>],
) -> Result<(), Error> {
    reject_mixed_parameters(&present(non_expression), &present(expression))
}

fn present<'a>(list: &[Presence<'a>]) -> Vec<&'a str> {
    list.iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .collect()
}

/// `ConditionalOperator` needs a legacy map (`Expected`, `QueryFilter` or `ScanFilter`) with at
/// least two conditions. `legacy_len` is that map's size, if present.
pub(crate) fn check_conditional_operator(
    operator: Option<ConditionalOperator>,
    legacy_len: Option<usize>,
) -> Result<(), Error> {
    if operator.is_none() {
        return Ok(());
    }
    match legacy_len {
        None | Some(0) => Err(Error::validation(
            "ConditionalOperator cannot be used without Filter or Expected",
        )),
        Some(1) => Err(Error::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more \
             elements",
        )),
        Some(_) => Ok(()),
    }
}

/// PutItem and DeleteItem accept only NONE and ALL_OLD.
pub(crate) fn check_return_values_old_only(
    return_values: Option<ReturnValue>,
) -> Result<(), Error> {
    match return_values {
        None | Some(ReturnValue::None) | Some(ReturnValue::AllOld) => Ok(()),
        Some(_) => Err(Error::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        )),
    }
}

/// `Limit` must be at least 1.
pub(crate) fn check_limit(limit: Option<u32>) -> Result<(), Error> {
    match limit {
        Some(0) => Err(Error::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        )),
        _ => Ok(()),
    }
}

/// Checks the values of a legacy condition map (`Expected`, filters, `KeyConditions`).
pub(crate) fn check_legacy_values<'v>(
    values: impl IntoIterator<Item = &'v AttributeValue>,
) -> Result<(), Error> {
    values
        .into_iter()
        .try_for_each(|value| validate_value(value, 2))
}

/// The values of an `Expected` map.
pub(crate) fn expected_values(
    expected: &BTreeMap<String, ExpectedAttributeValue>,
) -> impl Iterator<Item = &AttributeValue> {
    expected.values().flat_map(|entry| {
        entry
            .value
            .iter()
            .chain(entry.attribute_value_list.iter().flatten())
    })
}

/// The values of a `QueryFilter`, `ScanFilter` or `KeyConditions` map.
pub(crate) fn filter_values(
    filter: &BTreeMap<String, LegacyCondition>,
) -> impl Iterator<Item = &AttributeValue> {
    filter
        .values()
        .flat_map(|entry| entry.attribute_value_list.iter().flatten())
}

/// The condition of a write: the parsed ConditionExpression, or `Expected` translated.
pub(crate) fn write_condition(
    parsed: Option<Condition>,
    expected: Option<&BTreeMap<String, ExpectedAttributeValue>>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, Error> {
    match (parsed, expected) {
        (Some(condition), _) => Ok(Some(condition)),
        (None, Some(expected)) => {
            check_legacy_values(expected_values(expected))?;
            expr::expected(expected, operator)
        }
        (None, None) => Ok(None),
    }
}

/// Top-level attribute names a condition reads (for Query's "no key attributes in the filter"
/// rule).
pub(crate) fn condition_attributes(condition: &Condition, names: &mut Vec<String>) {
    use shoal_wire::expr::Operand;
    fn operand(op: &Operand, names: &mut Vec<String>) {
        match op {
            Operand::Path(path) => names.push(path.head().to_owned()),
            Operand::Size(inner) => operand(inner, names),
            Operand::Value(_) => {}
        }
    }
    match condition {
        Condition::Compare { left, right, .. } => {
            operand(left, names);
            operand(right, names);
        }
        Condition::Between {
            subject,
            lower,
            upper,
        } => {
            operand(subject, names);
            operand(lower, names);
            operand(upper, names);
        }
        Condition::In { subject, list } => {
            operand(subject, names);
            list.iter().for_each(|o| operand(o, names));
        }
        Condition::Exists(path) | Condition::NotExists(path) => names.push(path.head().to_owned()),
        Condition::Type(subject, _) => operand(subject, names),
        Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
            operand(a, names);
            operand(b, names);
        }
        Condition::And(a, b) | Condition::Or(a, b) => {
            condition_attributes(a, names);
            condition_attributes(b, names);
        }
        Condition::Not(inner) => condition_attributes(inner, names),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_lists_only_present_parameters_in_order() {
        let error = reject_mixed(
            &[
                ("AttributeUpdates", true),
                ("Expected", false),
                ("ConditionalOperator", true),
            ],
            &[("UpdateExpression", true), ("ConditionExpression", true)],
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {AttributeUpdates, ConditionalOperator} Expression \
             parameters: {UpdateExpression, ConditionExpression}"
        );
        assert!(reject_mixed(&[("Expected", true)], &[("ConditionExpression", false)]).is_ok());
    }

    #[test]
    fn conditional_operator_needs_two_legacy_conditions() {
        let op = Some(ConditionalOperator::And);
        let cases = [
            (None, Some("cannot be used without Filter or Expected")),
            (Some(0), Some("cannot be used without Filter or Expected")),
            (Some(1), Some("two or more elements")),
            (Some(2), None),
        ];
        for (len, expected) in cases {
            let result = check_conditional_operator(op, len);
            match expected {
                Some(fragment) => assert!(result.unwrap_err().message.contains(fragment)),
                None => assert!(result.is_ok()),
            }
        }
        assert!(check_conditional_operator(None, None).is_ok());
    }

    #[test]
    fn return_values_and_limit() {
        assert!(check_return_values_old_only(Some(ReturnValue::AllOld)).is_ok());
        let error = check_return_values_old_only(Some(ReturnValue::AllNew)).unwrap_err();
        assert_eq!(error.message, "ReturnValues can only be ALL_OLD or NONE");
        assert!(check_limit(Some(1)).is_ok());
        assert!(
            check_limit(Some(0))
                .unwrap_err()
                .message
                .contains("'limit'")
        );
    }
}
