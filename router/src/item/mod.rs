//! Conversion between plain Rust values (anything `serde` can serialize or deserialize) and
//! DynamoDB items and attribute values.
//!
//! | Rust (serde data model)                  | attribute value |
//! |------------------------------------------|-----------------|
//! | `String`, `&str`, `char`, unit variant    | S |
//! | integers (`i8`..`i128`, `u8`..`u128`)     | N, exactly (an `i128` beyond 38 digits is an error) |
//! | `f32`, `f64`                              | N from the shortest decimal that reads back as the same float; NaN and infinities are errors |
//! | [`ExactNumber`]                           | N, exactly (any DynamoDB number) |
//! | `bool`                                    | BOOL |
//! | `None`, `()`, unit structs                | NULL |
//! | bytes (`serde_bytes`, [`Binary`])         | B |
//! | `Vec<T>`, arrays, tuples, `HashSet<T>`    | L (serde has no set type: sets are lists) |
//! | [`StringSet`], [`NumberSet`], [`BinarySet`] | SS, NS, BS (must not be empty) |
//! | structs, maps with string or integer keys | M |
//! | newtype / tuple / struct variants         | M with one entry: variant name → value |
//!
//! Reading back, N becomes an integer when it is one and fits 128 bits, otherwise an `f64`
//! (lossy): read fields that must stay exact as [`ExactNumber`]. SS, NS and BS read as
//! sequences, so a `Vec<String>` or `BTreeSet<String>` field accepts an SS.
//!
//! Invariant: serialising never loses information silently: every value either converts
//! exactly (floats: to the decimal that round-trips) or fails with [`Error::Conversion`].
//! Does not validate items against DynamoDB's rules (empty strings in keys, sizes); the
//! node does.

mod de;
mod ser;
mod types;

pub use de::{from_item, from_value};
pub use ser::{to_item, to_value};
pub use types::{Binary, BinarySet, ExactNumber, NumberSet, StringSet};

use crate::error::Error;

/// The serde error of both directions; becomes [`Error::Conversion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError(String);

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConvertError {}

impl serde::ser::Error for ConvertError {
    fn custom<T: std::fmt::Display>(message: T) -> ConvertError {
        ConvertError(message.to_string())
    }
}

impl serde::de::Error for ConvertError {
    fn custom<T: std::fmt::Display>(message: T) -> ConvertError {
        ConvertError(message.to_string())
    }
}

impl From<ConvertError> for Error {
    fn from(error: ConvertError) -> Error {
        Error::Conversion(error.0)
    }
}

/// Newtype-struct names that mark Shoal's own types to this module's serializer and
/// deserializer; other serde formats see an ordinary newtype.
pub(crate) const NUMBER_TOKEN: &str = "$shoal::N";
pub(crate) const STRING_SET_TOKEN: &str = "$shoal::SS";
pub(crate) const NUMBER_SET_TOKEN: &str = "$shoal::NS";
pub(crate) const BINARY_SET_TOKEN: &str = "$shoal::BS";

#[cfg(test)]
mod tests;
