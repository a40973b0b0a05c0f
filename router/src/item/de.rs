//! Deserialising attribute values into Rust values (see the table in `item`).
//!
//! Invariant: strings, binary and map keys are borrowed from the item, never copied unless
//! the target type owns them; N reaches visitors as an integer when it is one and fits 128
//! bits, else as an `f64`, except for [`super::ExactNumber`], which receives the exact text.
//! Does not coerce between types (an S never becomes a number).

use std::collections::btree_map;

use serde::de::value::{BorrowedBytesDeserializer, BorrowedStrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use shoal_wire::{AttributeValue, Item, Number};

use super::{ConvertError, NUMBER_TOKEN};
use crate::error::Error;

type Result<T, E = ConvertError> = std::result::Result<T, E>;

/// Converts an attribute value to a Rust value.
pub fn from_value<'de, T: de::Deserialize<'de>>(value: &'de AttributeValue) -> Result<T, Error> {
    Ok(T::deserialize(ValueDeserializer(value))?)
}

/// Converts an item to a Rust value (a struct or a map, usually).
pub fn from_item<'de, T: de::Deserialize<'de>>(item: &'de Item) -> Result<T, Error> {
    Ok(T::deserialize(ItemDeserializer(item))?)
}

/// Hands a number to a visitor: as an integer if it is one and fits, else as an `f64`.
fn visit_number<'de, V: Visitor<'de>>(number: &Number, visitor: V) -> Result<V::Value> {
    if let Some(value) = integer(number) {
        if let Ok(small) = i64::try_from(value) {
            return visitor.visit_i64(small);
        }
        if let Ok(small) = u64::try_from(value) {
            return visitor.visit_u64(small);
        }
        return visitor.visit_i128(value);
    }
    let text = number.to_string();
    let float: f64 = text
        .parse()
        .map_err(|_| ConvertError(format!("number {text} has no f64 form")))?;
    visitor.visit_f64(float)
}

/// The number as an `i128`, if it is an integer that fits.
fn integer(number: &Number) -> Option<i128> {
    let exponent = u32::try_from(number.exponent()).ok()?;
    let magnitude = i128::try_from(number.coefficient())
        .ok()?
        .checked_mul(10i128.checked_pow(exponent)?)?;
    Some(if number.is_negative() {
        -magnitude
    } else {
        magnitude
    })
}

/// Deserializer over one attribute value.
#[derive(Clone, Copy)]
pub(crate) struct ValueDeserializer<'de>(pub &'de AttributeValue);

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            AttributeValue::S(s) => visitor.visit_borrowed_str(s),
            AttributeValue::N(n) => visit_number(n, visitor),
            AttributeValue::B(b) => visitor.visit_borrowed_bytes(b),
            AttributeValue::Bool(b) => visitor.visit_bool(*b),
            AttributeValue::Null => visitor.visit_unit(),
            AttributeValue::M(map) => visitor.visit_map(MapAccess::new(map)),
            AttributeValue::L(list) => visitor.visit_seq(de::value::SeqDeserializer::new(
                list.iter().map(ValueDeserializer),
            )),
            AttributeValue::Ss(set) => visitor.visit_seq(de::value::SeqDeserializer::new(
                set.iter()
                    .map(|s| BorrowedStrDeserializer::<ConvertError>::new(s)),
            )),
            AttributeValue::Ns(set) => visitor.visit_seq(de::value::SeqDeserializer::new(
                set.iter().map(NumberDeserializer),
            )),
            AttributeValue::Bs(set) => visitor.visit_seq(de::value::SeqDeserializer::new(
                set.iter()
                    .map(|b| BorrowedBytesDeserializer::<ConvertError>::new(b)),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            AttributeValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        match (name, self.0) {
            (NUMBER_TOKEN, AttributeValue::N(n)) => visitor.visit_string(n.to_string()),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            AttributeValue::S(variant) => {
                visitor.visit_enum(BorrowedStrDeserializer::<ConvertError>::new(variant))
            }
            AttributeValue::M(map) if map.len() == 1 => {
                let (variant, value) = map.iter().next().expect("one entry");
                visitor.visit_enum(EnumAccess(variant, value))
            }
            other => Err(ConvertError(format!(
                "an enum must be an S or an M with one entry, not {}",
                other.type_name()
            ))),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// Deserializer over a whole item (a map).
pub(crate) struct ItemDeserializer<'de>(&'de Item);

impl<'de> Deserializer<'de> for ItemDeserializer<'de> {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(MapAccess::new(self.0))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// Deserializer over one member of a number set.
#[derive(Clone, Copy)]
struct NumberDeserializer<'de>(&'de Number);

impl<'de> IntoDeserializer<'de, ConvertError> for NumberDeserializer<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> IntoDeserializer<'de, ConvertError> for ValueDeserializer<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for NumberDeserializer<'de> {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visit_number(self.0, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        match name {
            NUMBER_TOKEN => visitor.visit_string(self.0.to_string()),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// Map access over an M's entries: keys borrowed, values as [`ValueDeserializer`]s.
struct MapAccess<'de> {
    entries: btree_map::Iter<'de, String, AttributeValue>,
    value: Option<&'de AttributeValue>,
}

impl<'de> MapAccess<'de> {
    fn new(map: &'de Item) -> MapAccess<'de> {
        MapAccess {
            entries: map.iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = ConvertError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let value = self
            .value
            .take()
            .ok_or_else(|| ConvertError("map value asked for before its key".into()))?;
        seed.deserialize(ValueDeserializer(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Enum access for a one-entry M: variant name → content.
struct EnumAccess<'de>(&'de str, &'de AttributeValue);

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = ConvertError;
    type Variant = ValueDeserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<ConvertError>::new(self.0))?;
        Ok((variant, ValueDeserializer(self.1)))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDeserializer<'de> {
    type Error = ConvertError;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }
}
