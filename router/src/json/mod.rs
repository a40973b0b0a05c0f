//! DynamoDB's JSON, shared by the `shoal` CLI and the HTTP gateway: attribute values and
//! items as typed (`{"S": "x"}`) or plain JSON (`value`), and the standard base64 that
//! binary values travel in (`base64`).
//!
//! Invariant: numbers convert exactly both ways (serde_json keeps each number's text with
//! `arbitrary_precision`). Does not know any operation's request or response shape.

pub mod base64;
pub mod value;

pub use value::{
    Dialect, item_from_json, item_to_json, names_from_json, number_json, parse,
    typed_value_checked, value_from_json, value_to_json,
};
