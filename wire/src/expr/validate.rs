//! Request-level validation of expressions: the placeholder maps, which parameters may appear
//! together, parsing every expression of the request, and the unused-placeholder rule.
//!
//! Invariant: `parse_request` checks in DynamoDB's order (placeholder maps without
//! expressions, empty maps, key syntax, values, then UpdateExpression, ConditionExpression,
//! KeyConditionExpression, FilterExpression, ProjectionExpression, then unused names, then
//! unused values), and returns either every expression parsed or the first error.
//! Does not know table schemas: key conditions are bound and key attributes checked by the
//! operation, with `KeyConditionExpr::bind` and `UpdateExpr::check_key_attributes`.

use std::collections::BTreeMap;

use super::ast::Condition;
use super::condition::parse_condition;
use super::key_condition::{KeyConditionExpr, parse_key_condition};
use super::limits::{EXPRESSION_PLACEHOLDER_SIZE_MAX, SUBSTITUTIONS_SIZE_MAX};
use super::messages::ExpressionKind;
use super::placeholders::Substitutions;
use super::projection::{Projection, parse_projection};
use super::update::{UpdateExpr, parse_update};
use crate::error::Error;
use crate::validate::validate_value;
use crate::value::AttributeValue;

/// Expression parameters of PutItem and DeleteItem.
pub const PUT_ITEM_EXPRESSIONS: &[ExpressionKind] = &[ExpressionKind::Condition];
/// Expression parameters of DeleteItem.
pub const DELETE_ITEM_EXPRESSIONS: &[ExpressionKind] = &[ExpressionKind::Condition];
/// Expression parameters of UpdateItem (and a transactional Update).
pub const UPDATE_ITEM_EXPRESSIONS: &[ExpressionKind] =
    &[ExpressionKind::Update, ExpressionKind::Condition];
/// Expression parameters of a transactional ConditionCheck.
pub const CONDITION_CHECK_EXPRESSIONS: &[ExpressionKind] = &[ExpressionKind::Condition];
/// Expression parameters of GetItem, BatchGetItem and TransactGetItems.
pub const GET_ITEM_EXPRESSIONS: &[ExpressionKind] = &[ExpressionKind::Projection];
/// Expression parameters of Query.
pub const QUERY_EXPRESSIONS: &[ExpressionKind] = &[
    ExpressionKind::KeyCondition,
    ExpressionKind::Filter,
    ExpressionKind::Projection,
];
/// Expression parameters of Scan.
pub const SCAN_EXPRESSIONS: &[ExpressionKind] =
    &[ExpressionKind::Filter, ExpressionKind::Projection];

/// The expression parameters of one request, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestExpressions<'a> {
    /// The expression parameters the operation has, in DynamoDB's order (one of the
    /// `*_EXPRESSIONS` constants); used to word the "can only be specified" errors.
    pub accepted: &'a [ExpressionKind],
    /// `UpdateExpression`.
    pub update: Option<&'a str>,
    /// `ConditionExpression`.
    pub condition: Option<&'a str>,
    /// `KeyConditionExpression`.
    pub key_condition: Option<&'a str>,
    /// `FilterExpression`.
    pub filter: Option<&'a str>,
    /// `ProjectionExpression`.
    pub projection: Option<&'a str>,
    /// `ExpressionAttributeNames`.
    pub names: Option<&'a BTreeMap<String, String>>,
    /// `ExpressionAttributeValues`.
    pub values: Option<&'a BTreeMap<String, AttributeValue>>,
}

/// Every expression of a request, parsed and resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedExpressions {
    /// The parsed `UpdateExpression`.
    pub update: Option<UpdateExpr>,
    /// The parsed `ConditionExpression`.
    pub condition: Option<Condition>,
    /// The parsed `KeyConditionExpression` (bind it to the queried key schema).
    pub key_condition: Option<KeyConditionExpr>,
    /// The parsed `FilterExpression`.
    pub filter: Option<Condition>,
    /// The parsed `ProjectionExpression`.
    pub projection: Option<Projection>,
}

impl RequestExpressions<'_> {
    /// Whether the request has no expression and no placeholder map.
    fn is_empty(&self) -> bool {
        self.update.is_none()
            && self.condition.is_none()
            && self.key_condition.is_none()
            && self.filter.is_none()
            && self.projection.is_none()
            && self.names.is_none()
            && self.values.is_none()
    }

    fn text(&self, kind: ExpressionKind) -> Option<&str> {
        match kind {
            ExpressionKind::Update => self.update,
            ExpressionKind::Condition => self.condition,
            ExpressionKind::KeyCondition => self.key_condition,
            ExpressionKind::Filter => self.filter,
            ExpressionKind::Projection => self.projection,
        }
    }
}

/// Validates a request's expressions and placeholder maps and parses every expression.
pub fn parse_request(request: &RequestExpressions<'_>) -> Result<ParsedExpressions, Error> {
    if request.is_empty() {
        // Nothing to check or parse (most writes): no rule below can fail.
        return Ok(ParsedExpressions::default());
    }
    check_parameters_present(request)?;
    let names_size = check_names(request.names)?;
    let values_size = check_values(request.values)?;
    check_size(names_size + values_size)?;
    let mut subs = Substitutions::new(request.names, request.values);
    let parsed = ParsedExpressions {
        update: request
            .update
            .map(|text| parse_update(text, &mut subs))
            .transpose()?,
        condition: request
            .condition
            .map(|text| parse_condition(text, ExpressionKind::Condition, &mut subs))
            .transpose()?,
        key_condition: request
            .key_condition
            .map(|text| parse_key_condition(text, &mut subs))
            .transpose()?,
        filter: request
            .filter
            .map(|text| parse_condition(text, ExpressionKind::Filter, &mut subs))
            .transpose()?,
        projection: request
            .projection
            .map(|text| parse_projection(text, &mut subs))
            .transpose()?,
    };
    subs.check_all_used()?;
    Ok(parsed)
}

/// Rejects a request that mixes legacy and expression parameters, with DynamoDB's message.
/// Each list names the parameters present, in DynamoDB's order (for example
/// `["AttributesToGet", "ScanFilter", "ConditionalOperator"]` and
/// `["ProjectionExpression", "FilterExpression"]`).
pub fn reject_mixed_parameters(non_expression: &[&str], expression: &[&str]) -> Result<(), Error> {
    if non_expression.is_empty() || expression.is_empty() {
        return Ok(());
    }
    Err(Error::validation(format!(
        "Can not use both expression and non-expression parameters in the same request: \
         Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        non_expression.join(", "),
        expression.join(", ")
    )))
}

fn check_parameters_present(request: &RequestExpressions<'_>) -> Result<(), Error> {
    let present = |kind: &&ExpressionKind| request.text(**kind).is_some();
    let any_expression = [
        ExpressionKind::Update,
        ExpressionKind::Condition,
        ExpressionKind::KeyCondition,
        ExpressionKind::Filter,
        ExpressionKind::Projection,
    ]
    .iter()
    .any(|kind| present(&kind));
    if request.names.is_some() && !any_expression {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    let value_kinds: Vec<&ExpressionKind> = request
        .accepted
        .iter()
        .filter(|kind| **kind != ExpressionKind::Projection)
        .collect();
    if request.values.is_some() && !value_kinds.is_empty() && !value_kinds.iter().any(present) {
        let names: Vec<&str> = value_kinds
            .iter()
            .map(|kind| kind.parameter_name())
            .collect();
        let verb = if names.len() > 1 { "are" } else { "is" };
        return Err(Error::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} \
             null",
            names.join(" and ")
        )));
    }
    Ok(())
}

fn valid_key(key: &str, marker: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(marker)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_key(map: &str, key: &str, marker: char) -> Result<(), Error> {
    if key.len() > EXPRESSION_PLACEHOLDER_SIZE_MAX as usize {
        return Err(Error::validation(format!(
            "{map} contains invalid key: The expression attribute map contains a key that is too \
             long; size of key: {}",
            key.len()
        )));
    }
    if !valid_key(key, marker) {
        return Err(Error::validation(format!(
            "{map} contains invalid key: Syntax error; key: \"{key}\""
        )));
    }
    Ok(())
}

/// Checks ExpressionAttributeNames; returns its size in bytes.
fn check_names(names: Option<&BTreeMap<String, String>>) -> Result<usize, Error> {
    let Some(names) = names else { return Ok(0) };
    if names.is_empty() {
        return Err(Error::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    let mut size = 0usize;
    for (key, name) in names {
        check_key("ExpressionAttributeNames", key, '#')?;
        if name.is_empty() {
            return Err(Error::validation(format!(
                "ExpressionAttributeNames contains invalid value: Empty attribute name for key \
                 {key}"
            )));
        }
        size += key.len() + name.len();
    }
    Ok(size)
}

/// Checks ExpressionAttributeValues; returns its size in bytes.
fn check_values(values: Option<&BTreeMap<String, AttributeValue>>) -> Result<usize, Error> {
    let Some(values) = values else { return Ok(0) };
    if values.is_empty() {
        return Err(Error::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    for key in values.keys() {
        check_key("ExpressionAttributeValues", key, ':')?;
    }
    let mut size = 0usize;
    for (key, value) in values {
        validate_value(value, 2).map_err(|error| {
            Error::validation(format!(
                "ExpressionAttributeValues contains invalid value: {} for key {key}",
                error.message
            ))
        })?;
        size += key.len() + value.size_bytes() as usize;
    }
    Ok(size)
}

fn check_size(size: usize) -> Result<(), Error> {
    if size <= SUBSTITUTIONS_SIZE_MAX {
        return Ok(());
    }
    Err(Error::validation(format!(
        "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum allowed size; \
         size: {size}, limit: {SUBSTITUTIONS_SIZE_MAX}"
    )))
}
