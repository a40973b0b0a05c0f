//! Shoal's wire crate: everything the storage node and the client library both need.
//!
//! It owns the DynamoDB data model (attribute values, decimal numbers, items, key schemas),
//! the order-preserving key encoding and the frozen partition-key hash, the expression
//! language (parse and evaluate), and the binary protocol (frames, messages, error kinds).
//!
//! Map: `number` (exact decimals), `value` (the ten attribute types, deep equality, sizes),
//! `schema` (key schemas, table descriptions), `validate` (DynamoDB's value, item, key and
//! name rules), `key` (storage keys, sort-key ranges, the frozen partition hash), `error`
//! (kinds that cross the network), `cluster` (partition map vocabulary), `message` (every
//! request and response), `frame` (framing and incremental decoding), `limits` (every bound),
//! `expr` (the expression language). The byte formats are documented in `wire/PROTOCOL.md`.
//!
//! Invariant: no I/O and no async here; every function is a pure transformation of values.
//! Does not know about storage, replication or HTTP: `node` and `router` build on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod cluster;
pub mod error;
pub mod expr;
pub mod frame;
pub mod key;
pub mod limits;
pub mod message;
pub mod number;
#[cfg(test)]
mod sample;
pub mod schema;
pub mod validate;
pub mod value;

pub use error::{Error, ErrorKind};
pub use frame::{Decoded, Frame, FrameError, FrameReader, decode_frame, encode_frame};
pub use message::{Message, MessageKind};
pub use number::{Number, NumberError};
pub use value::{AttributeValue, Item};
