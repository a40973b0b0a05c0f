//! Reading one JSON object of a request body member by member, with DynamoDB's error for
//! each way a member can be wrong.
//!
//! Invariant: a member of the wrong JSON type is a `SerializationException` naming the
//! member; an absent required member and an enum value outside its set are
//! `ValidationException`s in DynamoDB's "1 validation error detected" form; a present
//! `null` counts as absent (as the AWS SDKs send it).
//! Does not check values beyond their type: the node validates requests.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use shoal_wire::message::{ExpressionAttributeNames, ExpressionAttributeValues};
use shoal_wire::{Error, Item};

use crate::json::typed_value_checked;

/// One JSON object of a request, with the path used in error messages.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

type Result<T> = std::result::Result<T, Error>;

impl<'a> Fields<'a> {
    /// The request body's top-level object.
    pub fn top(value: &'a Value) -> Result<Fields<'a>> {
        Fields::of(value, "")
    }

    /// Any object, `path` naming it in messages.
    pub fn of(value: &'a Value, path: &'a str) -> Result<Fields<'a>> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(Error::serialization(format!(
                "Start of structure or map found where not expected{}",
                at(path)
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn wrong(&self, name: &str, expected: &str) -> Error {
        Error::serialization(format!(
            "Unexpected value type in payload: {name}{} must be {expected}",
            at(self.path)
        ))
    }

    /// An optional string.
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    /// A required string: absent is DynamoDB's "Member must not be null".
    pub fn required_string(&self, name: &str) -> Result<String> {
        self.string(name)?.ok_or_else(|| not_null(name))
    }

    /// An optional boolean.
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(name, "a boolean")),
        }
    }

    /// An optional non-negative integer; DynamoDB's range message for values out of `u32`.
    pub fn u32(&self, name: &str) -> Result<Option<u32>> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let Value::Number(number) = value else {
            return Err(self.wrong(name, "an integer"));
        };
        if let Some(n) = number.as_u64() {
            return u32::try_from(n)
                .map(Some)
                .map_err(|_| range_error(name, &number.to_string()));
        }
        if number.as_i64().is_some() {
            // Negative: the node's own checks give DynamoDB's "at least 1" wording for 0;
            // below 0 cannot travel as u32, so say it here.
            return Err(range_error(name, &number.to_string()));
        }
        Err(self.wrong(name, "an integer"))
    }

    /// An optional unsigned 64-bit integer (capacity units).
    pub fn u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| range_error(name, &n.to_string())),
            Some(_) => Err(self.wrong(name, "an integer")),
        }
    }

    /// An optional signed 64-bit integer.
    pub fn i64(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| range_error(name, &n.to_string())),
            Some(_) => Err(self.wrong(name, "an integer")),
        }
    }

    /// An optional enum given by its DynamoDB name.
    pub fn name_enum<T: Copy + std::fmt::Display>(
        &self,
        name: &str,
        all: &[T],
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        parse(&text).map(Some).ok_or_else(|| {
            let set: Vec<String> = all.iter().map(ToString::to_string).collect();
            Error::validation(format!(
                "1 validation error detected: Value '{text}' at '{}' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                member(name),
                set.join(", ")
            ))
        })
    }

    /// An optional nested object.
    pub fn object(&self, name: &'a str) -> Result<Option<Fields<'a>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map, path: name })),
            Some(_) => Err(self.wrong(name, "an object")),
        }
    }

    /// An optional array of objects.
    pub fn objects(&self, name: &'a str) -> Result<Option<Vec<Fields<'a>>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| Fields::of(v, name))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong(name, "an array")),
        }
    }

    /// An optional array of strings.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.wrong(name, "an array of strings")),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong(name, "an array")),
        }
    }

    /// An optional map of objects, each read by `read`.
    pub fn map_of<T>(
        &self,
        name: &'a str,
        read: impl Fn(&str, Fields<'a>) -> Result<T>,
    ) -> Result<Option<BTreeMap<String, T>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), read(k, Fields::of(v, name)?)?)))
                .collect::<Result<BTreeMap<_, _>>>()
                .map(Some),
            Some(_) => Err(self.wrong(name, "an object")),
        }
    }

    /// This object as a map whose values are arrays of objects, each read by `read`.
    pub fn map_of_arrays<T>(
        &self,
        read: impl Fn(Fields<'a>) -> Result<T>,
    ) -> Result<BTreeMap<String, Vec<T>>> {
        self.map
            .iter()
            .map(|(k, v)| match v {
                Value::Array(list) => Ok((
                    k.clone(),
                    list.iter()
                        .map(|w| read(Fields::of(w, self.path)?))
                        .collect::<Result<Vec<_>>>()?,
                )),
                _ => Err(self.wrong(k, "an array")),
            })
            .collect()
    }

    /// An optional item (a map of typed attribute values).
    pub fn item(&self, name: &str) -> Result<Option<Item>> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => item(value, name).map(Some),
        }
    }

    /// A required item.
    pub fn required_item(&self, name: &str) -> Result<Item> {
        self.item(name)?.ok_or_else(|| not_null(name))
    }

    /// An optional list of items.
    pub fn items(&self, name: &str) -> Result<Option<Vec<Item>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| item(v, name))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong(name, "an array")),
        }
    }

    /// An optional single typed attribute value.
    pub fn value(&self, name: &str) -> Result<Option<shoal_wire::AttributeValue>> {
        self.get(name).map(typed_value_checked).transpose()
    }

    /// An optional list of typed attribute values.
    pub fn values(&self, name: &str) -> Result<Option<Vec<shoal_wire::AttributeValue>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(typed_value_checked)
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong(name, "an array")),
        }
    }

    /// `ExpressionAttributeNames`.
    pub fn names(&self) -> Result<Option<ExpressionAttributeNames>> {
        const NAME: &str = "ExpressionAttributeNames";
        match self.get(NAME) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(self.wrong(NAME, "a map of strings")),
                })
                .collect::<Result<BTreeMap<_, _>>>()
                .map(Some),
            Some(_) => Err(self.wrong(NAME, "an object")),
        }
    }

    /// `ExpressionAttributeValues`.
    pub fn values_map(&self) -> Result<Option<ExpressionAttributeValues>> {
        self.item("ExpressionAttributeValues")
    }
}

/// A JSON object of typed attribute values as an item.
pub(crate) fn item(value: &Value, name: &str) -> Result<Item> {
    let Value::Object(map) = value else {
        return Err(Error::serialization(format!(
            "Unexpected value type in payload: {name} must be a map of attribute values"
        )));
    };
    map.iter()
        .map(|(k, v)| Ok((k.clone(), typed_value_checked(v)?)))
        .collect()
}

/// DynamoDB's member path: the parameter name with a lower-case first letter.
pub(crate) fn member(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "Value null at 'x' failed to satisfy constraint: Member must not be null".
pub(crate) fn not_null(name: &str) -> Error {
    Error::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
         Member must not be null",
        member(name)
    ))
}

fn range_error(name: &str, text: &str) -> Error {
    Error::validation(format!(
        "1 validation error detected: Value '{text}' at '{}' failed to satisfy constraint: \
         Member must have value between 0 and {}",
        member(name),
        u32::MAX
    ))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (in {path})")
    }
}
