//! The legacy parameters (§8.7): Expected, QueryFilter, ScanFilter, ConditionalOperator,
//! KeyConditions, AttributeUpdates and AttributesToGet, translated into the same trees as the
//! expressions that replaced them.
//!
//! Invariant: a translation validates like DynamoDB (argument counts, value types per
//! comparison operator, BETWEEN order, the Exists/Value rules) with DynamoDB's messages, and
//! the tree it returns behaves exactly like the legacy semantics when evaluated: for example
//! `NOT_CONTAINS` is false for a missing attribute and AttributeUpdates' ADD appends lists.
//! Does not check that legacy and expression parameters are not mixed: see
//! `reject_mixed_parameters`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::ast::{Comparator, Condition, Operand, Path, is_scalar};
use super::key_condition::{KeyConditionExpr, KeyOp, KeyTerm};
use super::projection::Projection;
use super::update::{SetOperand, SetValue, UpdateAction, UpdateExpr};
use crate::error::Error;
use crate::message::{
    AttributeAction, AttributeValueUpdate, ComparisonOperator, Condition as LegacyCondition,
    ConditionalOperator, ExpectedAttributeValue,
};
use crate::value::{AttributeType, AttributeValue};

/// Prefix of most legacy parameter errors.
const INVALID: &str = "One or more parameter values were invalid:";

/// True when `op` takes `count` arguments.
fn arity_ok(op: ComparisonOperator, count: usize) -> bool {
    match op {
        ComparisonOperator::Null | ComparisonOperator::NotNull => count == 0,
        ComparisonOperator::In => count >= 1,
        ComparisonOperator::Between => count == 2,
        _ => count == 1,
    }
}

/// True when `op` accepts arguments of `value_type` (EQ and NE take every type).
fn accepts(op: ComparisonOperator, value_type: AttributeType) -> bool {
    match op {
        ComparisonOperator::Eq | ComparisonOperator::Ne => true,
        ComparisonOperator::BeginsWith => {
            matches!(value_type, AttributeType::S | AttributeType::B)
        }
        _ => is_scalar(value_type),
    }
}

/// Translates `Expected` (+ `ConditionalOperator`); `None` for an empty map.
pub fn expected(
    expected: &BTreeMap<String, ExpectedAttributeValue>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, Error> {
    let mut conditions = Vec::with_capacity(expected.len());
    for (name, entry) in expected {
        conditions.push(expected_one(name, entry)?);
    }
    Ok(combine(
        conditions,
        operator.unwrap_or(ConditionalOperator::And),
    ))
}

fn expected_one(name: &str, entry: &ExpectedAttributeValue) -> Result<Condition, Error> {
    let invalid =
        |text: String| Error::validation(format!("{INVALID} {text} for Attribute: {name}"));
    if entry.value.is_some() && entry.attribute_value_list.is_some() {
        return Err(invalid(
            "Value and AttributeValueList cannot be used together".into(),
        ));
    }
    if let Some(op) = entry.comparison_operator {
        if entry.exists.is_some() {
            return Err(invalid(
                "Exists and ComparisonOperator cannot be used together".into(),
            ));
        }
        let values: Vec<AttributeValue> = match (&entry.attribute_value_list, &entry.value) {
            (Some(list), _) => list.clone(),
            (None, Some(value)) => vec![value.clone()],
            (None, None)
                if matches!(op, ComparisonOperator::Null | ComparisonOperator::NotNull) =>
            {
                Vec::new()
            }
            (None, None) => {
                return Err(invalid(format!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {}",
                    op.as_str()
                )));
            }
        };
        return condition(name, op, &values);
    }
    if entry.attribute_value_list.is_some() {
        return Err(invalid(
            "AttributeValueList can only be used with a ComparisonOperator".into(),
        ));
    }
    let path = Path::attribute(name);
    match (entry.exists, &entry.value) {
        (Some(false), None) => Ok(Condition::NotExists(path)),
        (Some(false), Some(_)) => Err(invalid("Value cannot be used when Exists is false".into())),
        (exists, None) => {
            let shown = if exists.is_some() { "true" } else { "null" };
            Err(invalid(format!(
                "Value must be provided when Exists is {shown}"
            )))
        }
        (_, Some(value)) => Ok(Condition::Compare {
            op: Comparator::Eq,
            left: Operand::Path(path),
            right: Operand::Value(value.clone()),
        }),
    }
}

/// Translates `QueryFilter` or `ScanFilter` (+ `ConditionalOperator`); `None` for an empty map.
pub fn filter_conditions(
    filter: &BTreeMap<String, LegacyCondition>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, Error> {
    let mut conditions = Vec::with_capacity(filter.len());
    for (name, entry) in filter {
        let values = entry.attribute_value_list.as_deref().unwrap_or_default();
        conditions.push(condition(name, entry.comparison_operator, values)?);
    }
    Ok(combine(
        conditions,
        operator.unwrap_or(ConditionalOperator::And),
    ))
}

/// Validates one legacy condition's arguments, with DynamoDB's messages.
fn check_arguments(op: ComparisonOperator, values: &[AttributeValue]) -> Result<(), Error> {
    if !arity_ok(op, values.len()) {
        return Err(Error::validation(format!(
            "{INVALID} Invalid number of argument(s) for the {} ComparisonOperator",
            op.as_str()
        )));
    }
    if let Some(first) = values.first() {
        let first_type = first.attribute_type();
        if values.iter().any(|v| v.attribute_type() != first_type) {
            return Err(Error::validation(format!(
                "{INVALID} AttributeValues inside AttributeValueList must be of same type"
            )));
        }
        if !accepts(op, first_type) {
            return Err(Error::validation(format!(
                "{INVALID} ComparisonOperator {} is not valid for {} AttributeValue type",
                op.as_str(),
                first_type.name()
            )));
        }
    }
    let reversed = |low: &AttributeValue, high| low.compare(high) == Some(Ordering::Greater);
    if let (ComparisonOperator::Between, [low, high]) = (op, values)
        && reversed(low, high)
    {
        return Err(Error::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than \
             the upper bound",
        ));
    }
    Ok(())
}

fn condition(
    name: &str,
    op: ComparisonOperator,
    values: &[AttributeValue],
) -> Result<Condition, Error> {
    check_arguments(op, values)?;
    let path = || Operand::Path(Path::attribute(name));
    let value = |i: usize| Operand::Value(values.get(i).cloned().unwrap_or(AttributeValue::Null));
    let compare = |op| Condition::Compare {
        op,
        left: path(),
        right: value(0),
    };
    Ok(match op {
        ComparisonOperator::Eq => compare(Comparator::Eq),
        ComparisonOperator::Ne => compare(Comparator::Ne),
        ComparisonOperator::Le => compare(Comparator::Le),
        ComparisonOperator::Lt => compare(Comparator::Lt),
        ComparisonOperator::Ge => compare(Comparator::Ge),
        ComparisonOperator::Gt => compare(Comparator::Gt),
        ComparisonOperator::NotNull => Condition::Exists(Path::attribute(name)),
        ComparisonOperator::Null => Condition::NotExists(Path::attribute(name)),
        ComparisonOperator::Contains => Condition::Contains(path(), value(0)),
        ComparisonOperator::NotContains => Condition::And(
            Box::new(Condition::Exists(Path::attribute(name))),
            Box::new(Condition::Not(Box::new(Condition::Contains(
                path(),
                value(0),
            )))),
        ),
        ComparisonOperator::BeginsWith => Condition::BeginsWith(path(), value(0)),
        ComparisonOperator::In => Condition::In {
            subject: path(),
            list: values.iter().cloned().map(Operand::Value).collect(),
        },
        ComparisonOperator::Between => Condition::Between {
            subject: path(),
            lower: value(0),
            upper: value(1),
        },
    })
}

/// Joins conditions with AND or OR into a balanced tree (depth log n, not n).
fn combine(mut conditions: Vec<Condition>, operator: ConditionalOperator) -> Option<Condition> {
    while conditions.len() > 1 {
        let mut joined = Vec::with_capacity(conditions.len().div_ceil(2));
        let mut pairs = conditions.into_iter();
        while let Some(left) = pairs.next() {
            joined.push(match pairs.next() {
                None => left,
                Some(right) => match operator {
                    ConditionalOperator::And => Condition::And(Box::new(left), Box::new(right)),
                    ConditionalOperator::Or => Condition::Or(Box::new(left), Box::new(right)),
                },
            });
        }
        conditions = joined;
    }
    conditions.pop()
}

/// Translates `KeyConditions` (check it with `KeyConditionExpr::bind` as usual).
pub fn key_conditions(
    conditions: &BTreeMap<String, LegacyCondition>,
) -> Result<KeyConditionExpr, Error> {
    for entry in conditions.values() {
        let values = entry.attribute_value_list.as_deref().unwrap_or_default();
        check_arguments(entry.comparison_operator, values)?;
    }
    if conditions.is_empty() || conditions.len() > 2 {
        return Err(Error::validation("Conditions can be of length 1 or 2 only"));
    }
    let terms = conditions
        .iter()
        .map(|(name, entry)| KeyTerm {
            attribute: name.clone(),
            op: match entry.comparison_operator {
                ComparisonOperator::Eq => KeyOp::Eq,
                ComparisonOperator::Lt => KeyOp::Lt,
                ComparisonOperator::Le => KeyOp::Le,
                ComparisonOperator::Gt => KeyOp::Gt,
                ComparisonOperator::Ge => KeyOp::Ge,
                ComparisonOperator::Between => KeyOp::Between,
                ComparisonOperator::BeginsWith => KeyOp::BeginsWith,
                _ => KeyOp::Unindexable,
            },
            values: entry.attribute_value_list.clone().unwrap_or_default(),
        })
        .collect();
    Ok(KeyConditionExpr { terms })
}

/// Translates `AttributeUpdates`. An empty map is a valid update that changes nothing (it
/// still creates a missing item, as DynamoDB does).
pub fn attribute_updates(
    updates: &BTreeMap<String, AttributeValueUpdate>,
) -> Result<UpdateExpr, Error> {
    let mut actions = Vec::with_capacity(updates.len());
    for (name, update) in updates {
        let path = Path::attribute(name);
        let action = update.action.unwrap_or(AttributeAction::Put);
        actions.push(match (action, &update.value) {
            (AttributeAction::Delete, None) => UpdateAction::Remove { path },
            (_, None) => {
                return Err(Error::validation(format!(
                    "{INVALID} Only DELETE action is allowed when no attribute value is specified"
                )));
            }
            (AttributeAction::Put, Some(value)) => UpdateAction::Set {
                path,
                value: SetValue::Operand(SetOperand::Value(value.clone())),
            },
            (AttributeAction::Add, Some(value)) => {
                let ok =
                    value.is_set() || matches!(value, AttributeValue::N(_) | AttributeValue::L(_));
                if !ok {
                    return Err(Error::validation(format!(
                        "{INVALID} ADD action is not supported for the type {}",
                        value.type_name()
                    )));
                }
                UpdateAction::Add {
                    path,
                    value: value.clone(),
                }
            }
            (AttributeAction::Delete, Some(value)) => {
                if !value.is_set() {
                    return Err(Error::validation(format!(
                        "{INVALID} DELETE action with value is not supported for the type {}",
                        value.type_name()
                    )));
                }
                UpdateAction::Delete {
                    path,
                    value: value.clone(),
                }
            }
        });
    }
    Ok(UpdateExpr {
        actions,
        legacy: true,
    })
}

/// Translates `AttributesToGet` (non-empty, no duplicates) into a projection.
pub fn attributes_to_get(names: &[String]) -> Result<Projection, Error> {
    if names.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(Error::validation(format!(
                "{INVALID} Duplicate value in attribute name: {name}"
            )));
        }
    }
    Ok(Projection::from_paths(
        names.iter().map(|name| Path::attribute(name)).collect(),
    ))
}
