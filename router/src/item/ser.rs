//! Serialising Rust values into attribute values (see the table in `item`).
//!
//! Invariant: integers and floats become exact decimal text parsed by `Number::parse`, so
//! the range and digit limits are DynamoDB's; the marked newtypes of `types` become N, SS,
//! NS or BS, and an empty set or a member of the wrong type is an error.
//! Does not validate item rules beyond the value shapes.

use std::collections::BTreeMap;

use serde::ser::{self, Serialize};
use shoal_wire::{AttributeValue, Item, Number};

use super::{BINARY_SET_TOKEN, ConvertError, NUMBER_SET_TOKEN, NUMBER_TOKEN, STRING_SET_TOKEN};
use crate::error::Error;

type Result<T, E = ConvertError> = std::result::Result<T, E>;

/// Converts a Rust value to an attribute value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<AttributeValue, Error> {
    Ok(value.serialize(ValueSerializer)?)
}

/// Converts a Rust value that serialises as a map or struct to an item.
pub fn to_item<T: Serialize + ?Sized>(value: &T) -> Result<Item, Error> {
    match to_value(value)? {
        AttributeValue::M(item) => Ok(item),
        other => Err(Error::Conversion(format!(
            "an item must serialise as a map or struct, not as {}",
            other.type_name()
        ))),
    }
}

fn number(text: &str) -> Result<AttributeValue> {
    Number::parse(text)
        .map(AttributeValue::N)
        .map_err(|e| ConvertError(format!("number {text}: {e}")))
}

fn float(value: f64) -> Result<AttributeValue> {
    if !value.is_finite() {
        return Err(ConvertError(format!("{value} is not a DynamoDB number")));
    }
    // `{:e}` is the shortest decimal that reads back as the same float.
    number(&format!("{value:e}"))
}

/// Turns the list a set newtype serialised into the set type; refuses empty sets.
fn into_set(token: &str, value: AttributeValue) -> Result<AttributeValue> {
    let AttributeValue::L(members) = value else {
        return Err(ConvertError(format!(
            "{token} must serialise as a sequence"
        )));
    };
    if members.is_empty() {
        return Err(ConvertError(
            "an empty set cannot be stored: DynamoDB sets must not be empty".into(),
        ));
    }
    let wrong = || ConvertError(format!("a member of a {} has the wrong type", &token[8..]));
    let set = match token {
        STRING_SET_TOKEN => AttributeValue::Ss(
            collect(members, |m| match m {
                AttributeValue::S(s) => Some(s),
                _ => None,
            })
            .ok_or_else(wrong)?,
        ),
        NUMBER_SET_TOKEN => AttributeValue::Ns(
            collect(members, |m| match m {
                AttributeValue::N(n) => Some(n),
                _ => None,
            })
            .ok_or_else(wrong)?,
        ),
        _ => AttributeValue::Bs(
            collect(members, |m| match m {
                AttributeValue::B(b) => Some(b),
                _ => None,
            })
            .ok_or_else(wrong)?,
        ),
    };
    Ok(set)
}

fn collect<T>(
    members: Vec<AttributeValue>,
    pick: fn(AttributeValue) -> Option<T>,
) -> Option<Vec<T>> {
    members.into_iter().map(pick).collect()
}

/// The serializer: every value becomes one attribute value.
pub(crate) struct ValueSerializer;

macro_rules! integer_methods {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, value: $t) -> Result<AttributeValue> {
            number(&value.to_string())
        }
    )*};
}

impl ser::Serializer for ValueSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = VariantSerializer<SeqSerializer>;
    type SerializeMap = MapSerializer;
    type SerializeStruct = MapSerializer;
    type SerializeStructVariant = VariantSerializer<MapSerializer>;

    integer_methods!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128
    );

    fn serialize_bool(self, value: bool) -> Result<AttributeValue> {
        Ok(AttributeValue::Bool(value))
    }

    fn serialize_f32(self, value: f32) -> Result<AttributeValue> {
        if !value.is_finite() {
            return Err(ConvertError(format!("{value} is not a DynamoDB number")));
        }
        number(&format!("{value:e}"))
    }

    fn serialize_f64(self, value: f64) -> Result<AttributeValue> {
        float(value)
    }

    fn serialize_char(self, value: char) -> Result<AttributeValue> {
        Ok(AttributeValue::S(value.to_string()))
    }

    fn serialize_str(self, value: &str) -> Result<AttributeValue> {
        Ok(AttributeValue::S(value.to_owned()))
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<AttributeValue> {
        Ok(AttributeValue::B(value.to_vec()))
    }

    fn serialize_none(self) -> Result<AttributeValue> {
        Ok(AttributeValue::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<AttributeValue> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<AttributeValue> {
        Ok(AttributeValue::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<AttributeValue> {
        Ok(AttributeValue::Null)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<AttributeValue> {
        Ok(AttributeValue::S(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<AttributeValue> {
        let inner = value.serialize(ValueSerializer)?;
        match name {
            NUMBER_TOKEN => match inner {
                AttributeValue::S(text) => number(&text),
                _ => Err(ConvertError("an exact number must carry its text".into())),
            },
            STRING_SET_TOKEN | NUMBER_SET_TOKEN | BINARY_SET_TOKEN => into_set(name, inner),
            _ => Ok(inner),
        }
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<AttributeValue> {
        Ok(wrap(variant, value.serialize(ValueSerializer)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer> {
        Ok(SeqSerializer(Vec::with_capacity(
            len.unwrap_or(0).min(1024),
        )))
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSerializer> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSerializer<SeqSerializer>> {
        Ok(VariantSerializer(variant, self.serialize_seq(Some(len))?))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapSerializer> {
        Ok(MapSerializer::default())
    }

    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<MapSerializer> {
        Ok(MapSerializer::default())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantSerializer<MapSerializer>> {
        Ok(VariantSerializer(variant, MapSerializer::default()))
    }
}

/// Collects a list.
pub(crate) struct SeqSerializer(Vec<AttributeValue>);

impl SeqSerializer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<AttributeValue> {
        Ok(AttributeValue::L(self.0))
    }
}

impl ser::SerializeTuple for SeqSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<AttributeValue> {
        Ok(AttributeValue::L(self.0))
    }
}

impl ser::SerializeTupleStruct for SeqSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<AttributeValue> {
        Ok(AttributeValue::L(self.0))
    }
}

/// Collects a map or struct.
#[derive(Default)]
pub(crate) struct MapSerializer {
    map: BTreeMap<String, AttributeValue>,
    key: Option<String>,
}

impl ser::SerializeMap for MapSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let name = match key.serialize(ValueSerializer)? {
            AttributeValue::S(name) => name,
            AttributeValue::N(number) => number.to_string(),
            other => {
                return Err(ConvertError(format!(
                    "map keys must be strings or integers, not {}",
                    other.type_name()
                )));
            }
        };
        self.key = Some(name);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ConvertError("map value without a key".into()))?;
        self.map.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<AttributeValue> {
        Ok(AttributeValue::M(self.map))
    }
}

impl ser::SerializeStruct for MapSerializer {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.map
            .insert(key.to_owned(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<AttributeValue> {
        Ok(AttributeValue::M(self.map))
    }
}

/// Wraps a tuple or struct variant's value in a one-entry map named after the variant.
pub(crate) struct VariantSerializer<S>(&'static str, S);

fn wrap(variant: &str, value: AttributeValue) -> AttributeValue {
    AttributeValue::M(BTreeMap::from([(variant.to_owned(), value)]))
}

impl ser::SerializeTupleVariant for VariantSerializer<SeqSerializer> {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.1.push(value)
    }
    fn end(self) -> Result<AttributeValue> {
        let VariantSerializer(variant, SeqSerializer(items)) = self;
        Ok(wrap(variant, AttributeValue::L(items)))
    }
}

impl ser::SerializeStructVariant for VariantSerializer<MapSerializer> {
    type Ok = AttributeValue;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        ser::SerializeStruct::serialize_field(&mut self.1, key, value)
    }
    fn end(self) -> Result<AttributeValue> {
        let VariantSerializer(variant, fields) = self;
        Ok(wrap(variant, AttributeValue::M(fields.map)))
    }
}
