//! Rust types for the attribute values serde cannot express on its own: exact numbers,
//! binary, and the three set types.
//!
//! Invariant: each type serialises through a marked newtype (see `item::NUMBER_TOKEN` and
//! friends) that this crate's serializer turns into exactly one attribute type; with any
//! other serde format they behave as a string (numbers) or a sequence (sets).
//! Does not check set emptiness here: the serializer refuses empty sets.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use shoal_wire::Number;

use super::{BINARY_SET_TOKEN, NUMBER_SET_TOKEN, NUMBER_TOKEN, STRING_SET_TOKEN};

/// A number kept exact in both directions (N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExactNumber(pub Number);

/// Binary data (B) rather than a list of numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binary(pub Vec<u8>);

/// A string set (SS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StringSet(pub BTreeSet<String>);

/// A number set (NS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberSet(pub BTreeSet<Number>);

/// A binary set (BS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinarySet(pub BTreeSet<Vec<u8>>);

impl Serialize for ExactNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(NUMBER_TOKEN, &self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for ExactNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(NUMBER_TOKEN, NumberVisitor)
    }
}

/// Accepts a number's text, an integer or (for other formats) a float.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = ExactNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ExactNumber, E> {
        Number::parse(text).map(ExactNumber).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ExactNumber, E> {
        Ok(ExactNumber(Number::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ExactNumber, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<ExactNumber, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<ExactNumber, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ExactNumber, E> {
        self.visit_str(&format!("{value:e}"))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<ExactNumber, D::Error> {
        d.deserialize_any(self)
    }
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor).map(Binary)
    }
}

/// Accepts bytes, or a sequence of byte values (formats without a bytes type).
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("binary data")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::new();
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

/// Serialises a slice of members, each through `wrap`, as a sequence.
struct Members<'a, T, W>(&'a BTreeSet<T>, fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Members<'a, T, W> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for member in self.0 {
            seq.serialize_element(&(self.1)(member))?;
        }
        seq.end()
    }
}

/// Serialises borrowed bytes as bytes.
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl Serialize for StringSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(STRING_SET_TOKEN, &self.0)
    }
}

impl Serialize for NumberSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let members = Members(&self.0, |n: &Number| ExactNumber(*n));
        serializer.serialize_newtype_struct(NUMBER_SET_TOKEN, &members)
    }
}

impl Serialize for BinarySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let members = Members(&self.0, |b: &Vec<u8>| BytesRef(b));
        serializer.serialize_newtype_struct(BINARY_SET_TOKEN, &members)
    }
}

/// Deserialises a set type: a marked newtype around a sequence of members.
macro_rules! set_deserialize {
    ($set:ident, $token:ident, $member:ty, $unwrap:expr) => {
        impl<'de> Deserialize<'de> for $set {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct SetVisitor;
                impl<'de> Visitor<'de> for SetVisitor {
                    type Value = $set;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($set)))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$set, A::Error> {
                        let mut set = BTreeSet::new();
                        while let Some(member) = seq.next_element::<$member>()? {
                            set.insert($unwrap(member));
                        }
                        Ok($set(set))
                    }
                    fn visit_newtype_struct<D: Deserializer<'de>>(
                        self,
                        d: D,
                    ) -> Result<$set, D::Error> {
                        d.deserialize_seq(self)
                    }
                }
                deserializer.deserialize_newtype_struct($token, SetVisitor)
            }
        }
    };
}

set_deserialize!(StringSet, STRING_SET_TOKEN, String, |s: String| s);
set_deserialize!(
    NumberSet,
    NUMBER_SET_TOKEN,
    ExactNumber,
    |n: ExactNumber| n.0
);
set_deserialize!(BinarySet, BINARY_SET_TOKEN, Binary, |b: Binary| b.0);
