//! ConditionExpression and FilterExpression: text to a resolved `Condition`.
//!
//! Invariant: the phases run in DynamoDB's order (size limits, syntax, redundant parentheses,
//! the tree walk of `checks`, then `resolve`), each stopping at its first error, and every
//! error names the parameter (`Invalid FilterExpression: ...`).
//! Does not evaluate: `Condition::evaluate` does.

use super::ast::Condition;
use super::checks;
use super::front::{invalid, lex_checked, parse_failure, redundant_parentheses};
use super::messages::ExpressionKind;
use super::parser;
use super::placeholders::Substitutions;
use super::resolve::Resolver;
use crate::error::Error;

/// Parses and validates a condition of kind `kind` (Condition, Filter or KeyCondition),
/// substituting and marking the placeholders it uses.
pub fn parse_condition(
    text: &str,
    kind: ExpressionKind,
    subs: &mut Substitutions<'_>,
) -> Result<Condition, Error> {
    let tokens = lex_checked(text, kind)?;
    let parsed = parser::parse_condition(&tokens).map_err(|e| parse_failure(&tokens, kind, e))?;
    if parsed.redundant_parentheses {
        return Err(redundant_parentheses(kind));
    }
    checks::check_condition(&tokens, &parsed.tree).map_err(|m| invalid(kind, &m))?;
    Resolver::new(&tokens, subs)
        .condition(&parsed.tree)
        .map_err(|m| invalid(kind, &m))
}
