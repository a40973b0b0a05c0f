//! Bounds of the expression language, named once (DynamoDB's where it has one, §8.1 and §15).
//!
//! Invariant: every loop or recursion over expression input is bounded by one of these or by
//! `crate::limits::EXPRESSION_SIZE_MAX`, which caps the input itself.
//! Does not enforce anything: the parser, the resolver and `validate` do.

pub use crate::limits::{EXPRESSION_PLACEHOLDER_SIZE_MAX, EXPRESSION_SIZE_MAX};

/// Most operators (comparisons, BETWEEN, IN, AND, OR, NOT, `+`, `-`) in one expression.
pub const OPERATORS_MAX: u32 = 300;
/// Most candidates in one `IN (...)` list.
pub const IN_OPERANDS_MAX: usize = 100;
/// Most elements in one document path (`a.b[1]` has three).
pub const PATH_DEPTH_MAX: usize = 32;
/// Largest total size of ExpressionAttributeNames plus ExpressionAttributeValues, in bytes.
pub const SUBSTITUTIONS_SIZE_MAX: usize = 2 * 1024 * 1024;
/// Deepest nesting of parentheses and function calls the parser follows. DynamoDB has no such
/// limit below what 4 KB allows (about 2,000 levels); ours keeps the recursive parser far from
/// the end of a 2 MB thread stack. Real expressions nest a handful of levels.
pub const PARSE_NESTING_MAX: u32 = 256;
/// Largest list index a path may name (DynamoDB parses indexes as 32-bit signed integers).
pub const LIST_INDEX_MAX: u32 = i32::MAX as u32;

// Two characters per level is the cheapest nesting ("(" or "f("), so a 4 KB expression could
// nest 2,048 levels: the parser's own bound must be the one that stops it.
const _: () = assert!(PARSE_NESTING_MAX < EXPRESSION_SIZE_MAX / 2);
