//! Items and values as JSON, both ways: plain JSON (strings, numbers, booleans, null,
//! arrays, objects) and DynamoDB's typed JSON (`{"S": "x"}`, `{"N": "1"}`...).
//!
//! Plain JSON maps S, N, BOOL, NULL, L and M one to one; it has no binary or set types, so
//! reading it never produces B, SS, NS or BS (use typed JSON for those), and writing shows
//! B as a base64 string and the sets as arrays.
//! Invariant: numbers convert exactly in both directions: the JSON text of a number is
//! parsed by `Number::parse` (serde_json keeps it with `arbitrary_precision`), and a
//! `Number` is written as its canonical decimal text.
//! Does not validate items beyond their JSON shape; the node does.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{Map, Value};
use shoal_wire::{AttributeValue, Error as WireError, Item, Number};

use super::base64;

/// Which JSON dialect to read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Plain JSON values.
    Plain,
    /// DynamoDB's typed JSON.
    Typed,
}

/// Parses JSON text (keeping every number's exact text).
pub fn parse(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

/// A JSON object as an item.
pub fn item_from_json(value: &Value, dialect: Dialect, what: &str) -> Result<Item, String> {
    let Value::Object(object) = value else {
        return Err(format!("{what} must be a JSON object"));
    };
    object
        .iter()
        .map(|(name, value)| Ok((name.clone(), value_from_json(value, dialect)?)))
        .collect()
}

/// A JSON value as an attribute value.
pub fn value_from_json(value: &Value, dialect: Dialect) -> Result<AttributeValue, String> {
    match dialect {
        Dialect::Plain => plain_value(value),
        Dialect::Typed => typed_value(value),
    }
}

fn number(text: &str) -> Result<Number, String> {
    Number::parse(text).map_err(|e| format!("number {text}: {e}"))
}

fn plain_value(value: &Value) -> Result<AttributeValue, String> {
    Ok(match value {
        Value::Null => AttributeValue::Null,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(number(&n.to_string())?),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(list) => {
            AttributeValue::L(list.iter().map(plain_value).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), plain_value(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn typed_value(value: &Value) -> Result<AttributeValue, String> {
    typed_value_checked(value).map_err(|e| e.message)
}

/// A typed JSON value as an attribute value, failing with the kind DynamoDB answers: a
/// shape JSON cannot express (`{"N": 5}`, bad base64) is a `SerializationException`; a
/// value without exactly one known type key or a number out of range is a
/// `ValidationException` with DynamoDB's wording.
pub fn typed_value_checked(value: &Value) -> Result<AttributeValue, WireError> {
    let object = value.as_object().ok_or_else(|| {
        WireError::serialization(format!(
            "typed value {} must be an object with one type key",
            short(value)
        ))
    })?;
    let mut entries = object.iter();
    let (tag, inner) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        (None, _) => {
            return Err(WireError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported \
                 datatypes (typed value must be an object with one type key)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(WireError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly \
                 one of the supported datatypes (typed value must be an object with one type key)",
            ));
        }
    };
    let text = |v: &Value| {
        v.as_str().map(str::to_owned).ok_or_else(|| {
            WireError::serialization(format!("{tag} needs a string, got {}", short(v)))
        })
    };
    fn list<'v>(tag: &str, v: &'v Value) -> Result<&'v Vec<Value>, WireError> {
        v.as_array().ok_or_else(|| {
            WireError::serialization(format!("{tag} needs an array, got {}", short(v)))
        })
    }
    let number = |v: &Value| Number::parse(&text(v)?).map_err(WireError::from);
    let binary = |v: &Value| base64::decode(&text(v)?).map_err(WireError::serialization);
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(number(inner)?),
        "B" => AttributeValue::B(binary(inner)?),
        "BOOL" => AttributeValue::Bool(
            inner
                .as_bool()
                .ok_or_else(|| WireError::serialization("BOOL needs true or false"))?,
        ),
        "NULL" => match inner {
            Value::Bool(true) => AttributeValue::Null,
            Value::Bool(false) => {
                return Err(WireError::validation(
                    "One or more parameter values were invalid: Null attribute value types \
                     must have the value of true (NULL must be true)",
                ));
            }
            _ => return Err(WireError::serialization("NULL must be true")),
        },
        "L" => AttributeValue::L(
            list(tag, inner)?
                .iter()
                .map(typed_value_checked)
                .collect::<Result<_, _>>()?,
        ),
        "M" => {
            let map = inner
                .as_object()
                .ok_or_else(|| WireError::serialization("M needs an object"))?;
            AttributeValue::M(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), typed_value_checked(v)?)))
                    .collect::<Result<_, WireError>>()?,
            )
        }
        "SS" => AttributeValue::Ss(
            list(tag, inner)?
                .iter()
                .map(text)
                .collect::<Result<_, _>>()?,
        ),
        "NS" => AttributeValue::Ns(
            list(tag, inner)?
                .iter()
                .map(number)
                .collect::<Result<_, _>>()?,
        ),
        "BS" => AttributeValue::Bs(
            list(tag, inner)?
                .iter()
                .map(binary)
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(WireError::validation(format!(
                "Supplied AttributeValue is empty, must contain exactly one of the supported \
                 datatypes (unknown attribute type {other})"
            )));
        }
    })
}

/// A JSON value cut to a length fit for an error message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// An item as a JSON object.
pub fn item_to_json(item: &Item, dialect: Dialect) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), value_to_json(value, dialect)))
            .collect(),
    )
}

/// An attribute value as JSON.
pub fn value_to_json(value: &AttributeValue, dialect: Dialect) -> Value {
    match dialect {
        Dialect::Plain => plain_json(value),
        Dialect::Typed => typed_json(value),
    }
}

/// A number as a JSON number with its exact text.
pub fn number_json(number: &Number) -> Value {
    let text = number.to_string();
    Value::Number(serde_json::Number::from_str(&text).expect("canonical decimal text is JSON"))
}

fn plain_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_json(n),
        AttributeValue::B(b) => Value::String(base64::encode(b)),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null => Value::Null,
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), plain_json(v)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(plain_json).collect()),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => Value::Array(set.iter().map(number_json).collect()),
        AttributeValue::Bs(set) => Value::Array(
            set.iter()
                .map(|b| Value::String(base64::encode(b)))
                .collect(),
        ),
    }
}

fn typed_json(value: &AttributeValue) -> Value {
    let inner = match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::String(n.to_string()),
        AttributeValue::B(b) => Value::String(base64::encode(b)),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null => Value::Bool(true),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), typed_json(v)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(typed_json).collect()),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => {
            Value::Array(set.iter().map(|n| Value::String(n.to_string())).collect())
        }
        AttributeValue::Bs(set) => Value::Array(
            set.iter()
                .map(|b| Value::String(base64::encode(b)))
                .collect(),
        ),
    };
    let mut object = Map::new();
    object.insert(value.type_name().to_owned(), inner);
    Value::Object(object)
}

/// `--names` JSON: an object of strings.
pub fn names_from_json(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(object) = value else {
        return Err("--names must be a JSON object of strings".into());
    };
    object
        .iter()
        .map(|(k, v)| match v {
            Value::String(name) => Ok((k.clone(), name.clone())),
            other => Err(format!("--names: {k} must map to a string, not {other}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> AttributeValue {
        value_from_json(&parse(text, "t").unwrap(), Dialect::Plain).unwrap()
    }

    #[test]
    fn plain_json_numbers_are_exact() {
        let cases = [
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            ("0.1", "0.1"),
            ("1e125", "1e125"),
            ("-0.000000000000000000000000000001", "-1e-30"),
            ("100", "1e2"),
        ];
        for (text, canonical) in cases {
            let expected = AttributeValue::N(Number::parse(canonical).unwrap());
            assert_eq!(plain(text), expected, "{text}");
            let back = serde_json::to_string(&value_to_json(&expected, Dialect::Plain)).unwrap();
            assert_eq!(
                Number::parse(&back).unwrap(),
                Number::parse(canonical).unwrap()
            );
        }
        assert!(value_from_json(&parse("1e200", "t").unwrap(), Dialect::Plain).is_err());
    }

    #[test]
    fn plain_item_round_trips() {
        let text = r#"{"id":"a","n":1.50,"ok":true,"none":null,"list":[1,"x"],"map":{"k":[]}}"#;
        let item = item_from_json(&parse(text, "t").unwrap(), Dialect::Plain, "item").unwrap();
        assert_eq!(item["n"], AttributeValue::N(Number::parse("1.5").unwrap()));
        let json = item_to_json(&item, Dialect::Plain);
        assert_eq!(
            serde_json::to_string(&json).unwrap(),
            r#"{"id":"a","list":[1,"x"],"map":{"k":[]},"n":1.5,"none":null,"ok":true}"#
        );
        assert!(
            item_from_json(&parse("[1]", "t").unwrap(), Dialect::Plain, "--item")
                .unwrap_err()
                .contains("--item must be a JSON object")
        );
    }

    #[test]
    fn typed_json_covers_every_type() {
        let text = r#"{"s":{"S":"x"},"n":{"N":"-1.0"},"b":{"B":"AAE="},"t":{"BOOL":true},
            "z":{"NULL":true},"m":{"M":{"k":{"S":"v"}}},"l":{"L":[{"N":"1"}]},
            "ss":{"SS":["a","b"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AA=="]}}"#;
        let item = item_from_json(&parse(text, "t").unwrap(), Dialect::Typed, "item").unwrap();
        assert_eq!(item["b"], AttributeValue::B(vec![0, 1]));
        assert_eq!(item["n"], AttributeValue::N(Number::from(-1)));
        assert_eq!(item["ns"].type_name(), "NS");
        let json = item_to_json(&item, Dialect::Typed);
        let again = item_from_json(&json, Dialect::Typed, "item").unwrap();
        assert_eq!(again, item);
        let bad = |t: &str| typed_value(&parse(t, "t").unwrap()).unwrap_err();
        assert!(bad(r#"{"X":"1"}"#).contains("unknown attribute type"));
        assert!(bad(r#"{"S":"1","N":"1"}"#).contains("one type key"));
        assert!(bad(r#"{"N":"abc"}"#).contains("numeric"));
        assert!(bad(r#"{"NULL":false}"#).contains("NULL must be true"));
    }
}
