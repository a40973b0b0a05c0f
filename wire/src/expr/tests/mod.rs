//! Tests of the expression module through its public entry points: one table of
//! `(input, expected)` cases per feature with DynamoDB's messages, property tests against a
//! naive model, and a bounded arbitrary-input fuzz run.
//!
//! Invariant: cases go through the same entry points an operation uses (`parse_request`, the
//! `parse_*` functions, `evaluate`, `apply`, `bind`), so they check the phases in order.
//! Does not test the lexer, parser or reserved table in isolation: their modules do.

mod condition;
mod fuzz;
mod key_condition;
mod legacy;
mod projection;
mod properties;
mod request;
mod update;

use std::collections::BTreeMap;

use super::*;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

pub(super) fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

pub(super) fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).expect("test number"))
}

pub(super) fn b(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(bytes.to_vec())
}

pub(super) fn l(elements: Vec<AttributeValue>) -> AttributeValue {
    AttributeValue::L(elements)
}

pub(super) fn m(entries: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(item(entries))
}

pub(super) fn ss(members: &[&str]) -> AttributeValue {
    AttributeValue::Ss(members.iter().map(|m| m.to_string()).collect())
}

pub(super) fn ns(members: &[&str]) -> AttributeValue {
    AttributeValue::Ns(
        members
            .iter()
            .map(|m| Number::parse(m).expect("test number"))
            .collect(),
    )
}

pub(super) fn item(entries: &[(&str, AttributeValue)]) -> Item {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub(super) fn names(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parses a condition with these placeholders and checks every placeholder was used.
pub(super) fn condition_with(
    text: &str,
    name_map: &[(&str, &str)],
    value_map: &[(&str, AttributeValue)],
) -> Result<Condition, String> {
    let name_map = names(name_map);
    let value_map = item(value_map);
    let request = RequestExpressions {
        accepted: PUT_ITEM_EXPRESSIONS,
        condition: Some(text),
        names: (!name_map.is_empty()).then_some(&name_map),
        values: (!value_map.is_empty()).then_some(&value_map),
        ..RequestExpressions::default()
    };
    parse_request(&request)
        .map(|parsed| parsed.condition.expect("condition parsed"))
        .map_err(|error| error.message)
}
