//! The front end shared by every expression kind: emptiness and size limits, lexing, and
//! turning parse failures into DynamoDB's `Invalid <Parameter>: ...` errors.
//!
//! Invariant: no text longer than `EXPRESSION_SIZE_MAX` bytes reaches the lexer, so every later
//! stage works on bounded input; every message about an expression carries its parameter name.
//! Does not parse: `parser` does.

use super::lexer::{self, Tokens};
use super::limits::{EXPRESSION_SIZE_MAX, PARSE_NESTING_MAX};
use super::messages::{self, EMPTY_EXPRESSION, EXPRESSION_SIZE, ExpressionKind, NESTING_TOO_DEEP};
use super::parser::ParseError;
use crate::error::Error;

/// `Invalid <Parameter>: <message>` as a ValidationException.
pub(crate) fn invalid(kind: ExpressionKind, message: &str) -> Error {
    Error::validation(format!("Invalid {}: {message}", kind.parameter_name()))
}

/// Checks that `text` is non-empty and within the size limit, then lexes it.
pub(crate) fn lex_checked(text: &str, kind: ExpressionKind) -> Result<Tokens<'_>, Error> {
    if text.is_empty() {
        return Err(invalid(kind, &messages::detail(EMPTY_EXPRESSION, &[])));
    }
    if text.len() > EXPRESSION_SIZE_MAX as usize {
        let size = text.len();
        let message = if kind.reports_size() {
            messages::detail(EXPRESSION_SIZE, &[("expression size", &size)])
        } else {
            messages::detail(EXPRESSION_SIZE, &[])
        };
        return Err(invalid(kind, &message));
    }
    Ok(lexer::lex(text))
}

/// The error for a failed parse of `tokens`.
pub(crate) fn parse_failure(tokens: &Tokens<'_>, kind: ExpressionKind, error: ParseError) -> Error {
    match error {
        ParseError::Syntax(index) => invalid(kind, &tokens.syntax_error(index as usize)),
        ParseError::TooDeep => {
            let levels = PARSE_NESTING_MAX + 1;
            invalid(
                kind,
                &messages::detail(NESTING_TOO_DEEP, &[("nesting levels", &levels)]),
            )
        }
    }
}

/// The error for redundant parentheses found while parsing.
pub(crate) fn redundant_parentheses(kind: ExpressionKind) -> Error {
    invalid(
        kind,
        &messages::detail(messages::REDUNDANT_PARENTHESES, &[]),
    )
}
