//! Conversions from plain Rust values to attribute values for the request builders
//! (`.key("id", "alice")`, `.expression_attribute_value(":n", 5)`).
//!
//! Invariant: every conversion is exact: strings become S, integers N (all of `i64`/`u64`
//! fit in 38 digits), booleans BOOL, byte slices B. Floating point has no conversion here:
//! use [`Number::parse`] on the decimal text you mean, or `to_value` for serde values.
//! Does not convert whole structs (see `item`).

use shoal_wire::{AttributeValue, Number};

/// A value that converts exactly to an attribute value.
pub trait IntoAttributeValue {
    /// The attribute value.
    fn into_attribute_value(self) -> AttributeValue;
}

impl IntoAttributeValue for AttributeValue {
    fn into_attribute_value(self) -> AttributeValue {
        self
    }
}

impl IntoAttributeValue for &str {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::S(self.to_owned())
    }
}

impl IntoAttributeValue for String {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::S(self)
    }
}

impl IntoAttributeValue for &String {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::S(self.clone())
    }
}

impl IntoAttributeValue for bool {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::Bool(self)
    }
}

impl IntoAttributeValue for Number {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::N(self)
    }
}

impl IntoAttributeValue for &[u8] {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::B(self.to_vec())
    }
}

impl IntoAttributeValue for Vec<u8> {
    fn into_attribute_value(self) -> AttributeValue {
        AttributeValue::B(self)
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl IntoAttributeValue for $t {
            fn into_attribute_value(self) -> AttributeValue {
                AttributeValue::N(integer(self))
            }
        }
    )*};
}

integers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// The exact number of an integer (at most 20 digits, always within DynamoDB's range).
pub(crate) fn integer(value: impl std::fmt::Display) -> Number {
    Number::parse(&value.to_string()).expect("a 64-bit integer is a valid number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact() {
        assert_eq!("a".into_attribute_value(), AttributeValue::S("a".into()));
        assert_eq!(
            u64::MAX.into_attribute_value(),
            AttributeValue::N(Number::parse("18446744073709551615").unwrap())
        );
        assert_eq!(
            i64::MIN.into_attribute_value(),
            AttributeValue::N(Number::parse("-9223372036854775808").unwrap())
        );
        assert_eq!(true.into_attribute_value(), AttributeValue::Bool(true));
        assert_eq!(
            [1u8, 2].as_slice().into_attribute_value(),
            AttributeValue::B(vec![1, 2])
        );
    }
}
