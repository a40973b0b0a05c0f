//! ExpressionAttributeNames and ExpressionAttributeValues of one request, and their use.
//!
//! Invariant: every successful lookup marks its key as used; a request's expressions are all
//! parsed against one `Substitutions`, so after parsing `check_all_used` reports exactly the
//! keys no expression mentioned (DynamoDB rejects those). Usage is recorded at parse time, not
//! during evaluation, so short-circuiting evaluation cannot hide a use.
//! Does not validate the maps' keys or sizes: `validate::check_substitution_maps` does.

use std::collections::BTreeMap;

use super::messages::{self, NAME_MISSING, VALUE_MISSING};
use crate::error::Error;
use crate::value::AttributeValue;

/// The placeholder maps of a request, with a record of which keys the expressions used.
#[derive(Debug, Default)]
pub struct Substitutions<'a> {
    names: Option<&'a BTreeMap<String, String>>,
    values: Option<&'a BTreeMap<String, AttributeValue>>,
    /// Keys looked up so far (with repeats; a few per expression, so a Vec beats a set).
    used_names: Vec<&'a str>,
    used_values: Vec<&'a str>,
}

impl<'a> Substitutions<'a> {
    /// Wraps the request's maps (either may be absent).
    pub fn new(
        names: Option<&'a BTreeMap<String, String>>,
        values: Option<&'a BTreeMap<String, AttributeValue>>,
    ) -> Substitutions<'a> {
        Substitutions {
            names,
            values,
            used_names: Vec::new(),
            used_values: Vec::new(),
        }
    }

    /// The attribute name `#key` stands for, marking it used.
    pub(crate) fn name(&mut self, key: &str) -> Result<&'a str, String> {
        match self.names.and_then(|names| names.get_key_value(key)) {
            Some((key, name)) => {
                self.used_names.push(key.as_str());
                Ok(name.as_str())
            }
            None => Err(messages::detail(NAME_MISSING, &[("attribute name", &key)])),
        }
    }

    /// The value `:key` stands for, marking it used.
    pub(crate) fn value(&mut self, key: &str) -> Result<&'a AttributeValue, String> {
        match self.values.and_then(|values| values.get_key_value(key)) {
            Some((key, value)) => {
                self.used_values.push(key.as_str());
                Ok(value)
            }
            None => Err(messages::detail(
                VALUE_MISSING,
                &[("attribute value", &key)],
            )),
        }
    }

    /// Fails with DynamoDB's message when a name, then a value, was never used.
    pub fn check_all_used(&self) -> Result<(), Error> {
        let unused_names = unused(self.names.map(|m| m.keys()), &self.used_names);
        if !unused_names.is_empty() {
            return Err(Error::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_names.join(", ")
            )));
        }
        let unused_values = unused(self.values.map(|m| m.keys()), &self.used_values);
        if !unused_values.is_empty() {
            return Err(Error::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            )));
        }
        Ok(())
    }
}

fn unused<'k>(keys: Option<impl Iterator<Item = &'k String>>, used: &[&str]) -> Vec<&'k str> {
    let mut used = used.to_vec();
    used.sort_unstable();
    keys.into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|key| used.binary_search(key).is_err())
        .collect()
}
