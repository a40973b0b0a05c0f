//! DynamoDB's expression error texts and the one way they are formatted.
//!
//! Invariant: every expression validation message is built here, as DynamoDB builds it: a fixed
//! sentence followed by `"; key: value, key: value"` (or a bare `";"` when there are no details),
//! and prefixed with `"Invalid <Parameter>: "` by the caller that knows the parameter. Clients
//! and conformance suites match these texts, so they are copied exactly, odd spellings included.
//! Does not decide when an error applies: the parser, the checks and the resolver do.

use std::fmt::{self, Display, Write};

/// The expression parameters of a request, named as DynamoDB names them in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExpressionKind {
    /// `ConditionExpression` (PutItem, UpdateItem, DeleteItem, transaction actions).
    Condition,
    /// `FilterExpression` (Query, Scan).
    Filter,
    /// `KeyConditionExpression` (Query).
    KeyCondition,
    /// `UpdateExpression` (UpdateItem, transactional Update).
    Update,
    /// `ProjectionExpression` (GetItem, BatchGetItem, Query, Scan, TransactGetItems).
    Projection,
}

impl ExpressionKind {
    /// The request parameter's name, e.g. `"ConditionExpression"`.
    pub fn parameter_name(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }

    /// True for the kinds whose size error carries `"; expression size: N"`.
    pub(crate) fn reports_size(self) -> bool {
        matches!(
            self,
            ExpressionKind::Condition | ExpressionKind::Filter | ExpressionKind::KeyCondition
        )
    }
}

impl Display for ExpressionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.parameter_name())
    }
}

pub(crate) const SYNTAX_ERROR: &str = "Syntax error";
pub(crate) const REDUNDANT_PARENTHESES: &str = "The expression has redundant parentheses";
pub(crate) const RESERVED_KEYWORD: &str = "Attribute name is a reserved keyword";
pub(crate) const INVALID_LIST_INDEX: &str = "List index is not within the allowable range";
pub(crate) const INVALID_FUNCTION_NAME: &str = "Invalid function name";
pub(crate) const CONDITION_FUNCTION: &str = "The function is not allowed in a condition expression";
pub(crate) const UPDATE_FUNCTION: &str = "The function is not allowed in an update expression";
pub(crate) const FUNCTION_CONTEXT: &str =
    "The function is not allowed to be used this way in an expression";
pub(crate) const INVALID_TYPE_NAME: &str = "Invalid attribute type name found";
pub(crate) const PATH_TOO_DEEP: &str = "The document path has too many nesting levels";
pub(crate) const PATH_CONFLICT: &str =
    "Two document paths conflict with each other; must remove or rewrite one of these paths";
pub(crate) const PATH_OVERLAP: &str =
    "Two document paths overlap with each other; must remove or rewrite one of these paths";
pub(crate) const NAME_MISSING: &str =
    "An expression attribute name used in the document path is not defined";
pub(crate) const VALUE_MISSING: &str =
    "An expression attribute value used in expression is not defined";
pub(crate) const OPERAND_COUNT: &str = "Incorrect number of operands for operator or function";
pub(crate) const OPERAND_TYPE: &str = "Incorrect operand type for operator or function";
pub(crate) const OPERAND_PATH: &str = "Operator or function requires a document path";
pub(crate) const OPERAND_DISTINCT: &str =
    "The first operand must be distinct from the remaining operands for this operator or function";
pub(crate) const TOO_MANY_OPERATORS: &str = "The expression contains too many operators";
pub(crate) const EMPTY_EXPRESSION: &str = "The expression can not be empty";
pub(crate) const EXPRESSION_SIZE: &str = "Expression size has exceeded the maximum allowed size";
pub(crate) const BETWEEN_ORDER: &str =
    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound";
pub(crate) const BETWEEN_TYPES: &str =
    "The BETWEEN operator requires same data type for lower and upper bounds";
pub(crate) const IN_TOO_MANY: &str = "The IN operator is provided with too many operands";
pub(crate) const NESTING_TOO_DEEP: &str = "The expression has too many nesting levels";

/// Runtime update failures (no `Invalid UpdateExpression:` prefix, as in DynamoDB).
pub(crate) const UPDATE_PATH_INVALID: &str =
    "The document path provided in the update expression is invalid for update";
pub(crate) const UPDATE_OPERAND_TYPE: &str =
    "An operand in the update expression has an incorrect data type";
pub(crate) const UPDATE_MISSING_ATTRIBUTE: &str =
    "The provided expression refers to an attribute that does not exist in the item";
pub(crate) const LEGACY_TYPE_MISMATCH: &str = "Type mismatch for attribute to update";

/// Formats `base; k1: v1, k2: v2`, or `base;` when there are no details, as DynamoDB does.
pub(crate) fn detail(base: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut text = String::with_capacity(base.len() + 32);
    text.push_str(base);
    text.push(';');
    for (position, (key, value)) in args.iter().enumerate() {
        text.push_str(if position == 0 { " " } else { ", " });
        // Writing to a String cannot fail.
        let _ = write!(text, "{key}: {value}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_joined_like_dynamodb() {
        assert_eq!(
            detail(EMPTY_EXPRESSION, &[]),
            "The expression can not be empty;"
        );
        assert_eq!(
            detail(INVALID_FUNCTION_NAME, &[("function", &"f")]),
            "Invalid function name; function: f"
        );
        assert_eq!(
            detail(
                OPERAND_COUNT,
                &[
                    ("operator or function", &"size"),
                    ("number of operands", &2)
                ]
            ),
            "Incorrect number of operands for operator or function; \
             operator or function: size, number of operands: 2"
        );
    }
}
