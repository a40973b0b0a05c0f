//! DynamoDB's expression language: ConditionExpression, FilterExpression,
//! KeyConditionExpression, UpdateExpression and ProjectionExpression (dynamodb-semantics.md
//! §8), their placeholders, and the legacy parameters that predate them.
//!
//! An operation calls [`parse_request`] once with all of its expressions and placeholder maps;
//! it gets resolved trees that own their data ([`Condition`], [`UpdateExpr`],
//! [`KeyConditionExpr`], [`Projection`]), which it may cache, and evaluates them as pure
//! functions of an item: [`Condition::evaluate`], [`UpdateExpr::apply`] (with
//! [`UpdateOutcome::updated_old`] / [`UpdateOutcome::updated_new`]), [`Projection::apply`] and
//! [`KeyConditionExpr::bind`], which yields the [`KeyCondition`] the storage layer scans.
//!
//! Pipeline of one expression: `front` (size limits, lexing) → `parser` (syntax tree) →
//! `checks` (reserved words, function placement, repeated clauses) → `resolve` / `update` /
//! `projection` (placeholders, types, overlaps), each stage reporting DynamoDB's first error.
//!
//! Invariant: no input makes this module panic or recurse without bound: input size, parse
//! nesting, path depth, IN lists and operator counts are bounded by the constants in
//! [`limits`]. Does not know table schemas beyond what callers pass in, and does no I/O.

mod apply;
mod ast;
mod checks;
mod compare;
mod condition;
mod document;
mod eval;
mod front;
mod key_condition;
mod keys;
mod legacy;
mod lexer;
pub mod limits;
mod messages;
mod parser;
mod paths;
mod placeholders;
mod projection;
pub mod reserved;
mod resolve;
mod syntax;
mod update;
mod validate;

#[cfg(test)]
mod tests;

pub use apply::UpdateOutcome;
pub use ast::{ArithOp, Comparator, Condition, Operand, Path, PathElement, is_scalar};
pub use condition::parse_condition;
pub use key_condition::{KeyCondition, KeyConditionExpr, SortKeyCondition, parse_key_condition};
pub use legacy::{
    attribute_updates, attributes_to_get, expected, filter_conditions, key_conditions,
};
pub use messages::ExpressionKind;
pub use placeholders::Substitutions;
pub use projection::{Projection, parse_projection};
pub use update::{SetOperand, SetValue, UpdateAction, UpdateExpr, parse_update};
pub use validate::{
    CONDITION_CHECK_EXPRESSIONS, DELETE_ITEM_EXPRESSIONS, GET_ITEM_EXPRESSIONS,
    PUT_ITEM_EXPRESSIONS, ParsedExpressions, QUERY_EXPRESSIONS, RequestExpressions,
    SCAN_EXPRESSIONS, UPDATE_ITEM_EXPRESSIONS, parse_request, reject_mixed_parameters,
};
