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
use shoal_wire::{AttributeValue, Item, Number};

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
    let Some((tag, inner)) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(format!(
            "typed value {value} must be an object with one type key"
        ));
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{tag} needs a string, got {v}"))
    };
    let list = |v: &Value| {
        v.as_array()
            .cloned()
            .ok_or_else(|| format!("{tag} needs an array, got {v}"))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(number(&text(inner)?)?),
        "B" => AttributeValue::B(base64::decode(&text(inner)?)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL needs true or false")?),
        "NULL" => match inner {
            Value::Bool(true) => AttributeValue::Null,
            _ => return Err("NULL must be true".into()),
        },
        "L" => AttributeValue::L(
            list(inner)?
                .iter()
                .map(typed_value)
                .collect::<Result<_, _>>()?,
        ),
        "M" => {
            let map = inner.as_object().ok_or("M needs an object")?;
            AttributeValue::M(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), typed_value(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        "SS" => AttributeValue::Ss(list(inner)?.iter().map(text).collect::<Result<_, _>>()?),
        "NS" => AttributeValue::Ns(
            list(inner)?
                .iter()
                .map(|v| number(&text(v)?))
                .collect::<Result<_, _>>()?,
        ),
        "BS" => AttributeValue::Bs(
            list(inner)?
                .iter()
                .map(|v| base64::decode(&text(v)?))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unknown attribute type {other}")),
    })
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
