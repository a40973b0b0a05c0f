//! Static checks that DynamoDB makes while walking the parse tree, in source order: reserved
//! words, list-index range, function names and where functions may appear, repeated clauses.
//!
//! Invariant: the walk visits nodes in the order DynamoDB's tree listener does (a function's
//! name before its arguments, a clause's actions before the clause itself), and stops at the
//! first failure, so an expression with several faults reports the same one DynamoDB does.
//! Functions nest as DynamoDB allows: in a condition only `size` may stand inside another
//! operator and a function standing alone must return a boolean; in an update only
//! `if_not_exists` may stand inside `+`, `-` or another function.
//! Does not resolve placeholders or check types: `resolve` does that afterwards.

use super::lexer::Tokens;
use super::limits::LIST_INDEX_MAX;
use super::messages::{self, *};
use super::reserved::is_reserved;
use super::syntax::{ClauseKind, RawAction, RawClause, RawElement, RawNode, RawPath};

/// Functions of conditions and whether each returns a boolean.
const CONDITION_FUNCTIONS: [(&str, bool); 6] = [
    ("attribute_exists", true),
    ("attribute_not_exists", true),
    ("attribute_type", true),
    ("begins_with", true),
    ("contains", true),
    ("size", false),
];
/// Functions of update expressions.
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];

type Result = std::result::Result<(), String>;

/// Checks a condition tree (ConditionExpression, FilterExpression, KeyConditionExpression).
pub(crate) fn check_condition(tokens: &Tokens<'_>, node: &RawNode) -> Result {
    walk_condition(tokens, node, 0)
}

/// Checks an update expression's clauses.
pub(crate) fn check_update(tokens: &Tokens<'_>, clauses: &[RawClause]) -> Result {
    let mut seen: Vec<ClauseKind> = Vec::with_capacity(4);
    for clause in clauses {
        for action in &clause.actions {
            check_path(tokens, action.path())?;
            if let RawAction::Set { value, .. } = action {
                walk_set_value(tokens, value, 0)?;
            }
        }
        if seen.contains(&clause.kind) {
            let sentence = format!(
                "The \"{}\" section can only be used once in an update expression",
                clause.kind.keyword()
            );
            return Err(messages::detail(&sentence, &[]));
        }
        seen.push(clause.kind);
    }
    Ok(())
}

/// Checks the paths of a projection.
pub(crate) fn check_projection(tokens: &Tokens<'_>, paths: &[RawPath]) -> Result {
    paths.iter().try_for_each(|path| check_path(tokens, path))
}

fn walk_condition(tokens: &Tokens<'_>, node: &RawNode, nesting: u32) -> Result {
    match node {
        RawNode::Path(path) => check_path(tokens, path),
        RawNode::Value(_) => Ok(()),
        RawNode::Call { name, args } => {
            check_condition_call(tokens.text(*name as usize), nesting)?;
            args.iter()
                .try_for_each(|arg| walk_condition(tokens, arg, nesting + 1))
        }
        RawNode::Compare { left, right, .. } | RawNode::Arith { left, right, .. } => {
            walk_condition(tokens, left, nesting + 1)?;
            walk_condition(tokens, right, nesting + 1)
        }
        RawNode::Between {
            subject,
            lower,
            upper,
        } => [subject, lower, upper]
            .into_iter()
            .try_for_each(|n| walk_condition(tokens, n, nesting + 1)),
        RawNode::In { subject, list } => {
            walk_condition(tokens, subject, nesting + 1)?;
            list.iter()
                .try_for_each(|n| walk_condition(tokens, n, nesting + 1))
        }
        RawNode::And(left, right) | RawNode::Or(left, right) => {
            walk_condition(tokens, left, nesting)?;
            walk_condition(tokens, right, nesting)
        }
        RawNode::Not(inner) => walk_condition(tokens, inner, nesting),
    }
}

fn check_condition_call(name: &str, nesting: u32) -> Result {
    let Some(&(_, boolean)) = CONDITION_FUNCTIONS.iter().find(|(known, _)| *known == name) else {
        let base = if UPDATE_FUNCTIONS.contains(&name) {
            CONDITION_FUNCTION
        } else {
            INVALID_FUNCTION_NAME
        };
        return Err(messages::detail(base, &[("function", &name)]));
    };
    let misplaced = if nesting == 0 {
        !boolean
    } else {
        name != "size"
    };
    if misplaced {
        return Err(messages::detail(FUNCTION_CONTEXT, &[("function", &name)]));
    }
    Ok(())
}

fn walk_set_value(tokens: &Tokens<'_>, node: &RawNode, nesting: u32) -> Result {
    match node {
        RawNode::Path(path) => check_path(tokens, path),
        RawNode::Value(_) => Ok(()),
        RawNode::Call { name, args } => {
            check_update_call(tokens.text(*name as usize), nesting)?;
            args.iter()
                .try_for_each(|arg| walk_set_value(tokens, arg, nesting + 1))
        }
        RawNode::Arith { left, right, .. } => {
            walk_set_value(tokens, left, nesting + 1)?;
            walk_set_value(tokens, right, nesting + 1)
        }
        // The update grammar produces no conditions; walk them as a condition would be.
        other => walk_condition(tokens, other, nesting),
    }
}

fn check_update_call(name: &str, nesting: u32) -> Result {
    if !UPDATE_FUNCTIONS.contains(&name) {
        let base = if CONDITION_FUNCTIONS.iter().any(|(known, _)| *known == name) {
            UPDATE_FUNCTION
        } else {
            INVALID_FUNCTION_NAME
        };
        return Err(messages::detail(base, &[("function", &name)]));
    }
    if nesting > 0 && name != "if_not_exists" {
        return Err(messages::detail(FUNCTION_CONTEXT, &[("function", &name)]));
    }
    Ok(())
}

/// Reserved words among bare names, and list indexes beyond a signed 32-bit integer.
fn check_path(tokens: &Tokens<'_>, path: &RawPath) -> Result {
    for element in &path.elements {
        match *element {
            RawElement::Name(token) => {
                let name = tokens.text(token as usize);
                if is_reserved(name) {
                    return Err(messages::detail(
                        RESERVED_KEYWORD,
                        &[("reserved keyword", &name)],
                    ));
                }
            }
            RawElement::Index(token) => {
                let digits = tokens.text(token as usize);
                if parse_index(digits).is_none() {
                    let shown = format!("[{digits}]");
                    return Err(messages::detail(INVALID_LIST_INDEX, &[("index", &shown)]));
                }
            }
            RawElement::NameRef(_) => {}
        }
    }
    Ok(())
}

/// A list index written as decimal digits, if it fits DynamoDB's range.
pub(crate) fn parse_index(digits: &str) -> Option<u32> {
    digits
        .parse::<u64>()
        .ok()
        .filter(|&i| i <= u64::from(LIST_INDEX_MAX))
        .map(|i| i as u32)
}
