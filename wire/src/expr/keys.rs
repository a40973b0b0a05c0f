//! Rules about key attributes inside expressions that need the table's key schema: a Query's
//! FilterExpression may not name key attributes, and no expression may descend into a key
//! attribute (keys are scalars) (§7.5, §8.3).
//!
//! Invariant: these checks read only the resolved trees and the names the caller passes; they
//! run after `parse_request`, before any item is read.
//! Does not know which names are keys: the operation passes its table's (and index's) keys.

use super::ast::{Condition, Operand, Path};
use crate::error::Error;

impl Condition {
    /// Every document path the condition reads, in source order.
    pub fn paths(&self) -> Vec<&Path> {
        let mut paths = Vec::new();
        collect(self, &mut paths);
        paths
    }

    /// Rejects a path that descends into a key attribute (`k.x`, `k[0]`), and, when
    /// `filter_of_query` is set, any mention of a key attribute, with DynamoDB's messages.
    pub fn check_key_attributes(
        &self,
        key_names: &[&str],
        filter_of_query: bool,
    ) -> Result<(), Error> {
        for path in self.paths() {
            let head = path.head();
            if !key_names.contains(&head) {
                continue;
            }
            if path.elements().len() > 1 {
                return Err(Error::validation(format!(
                    "Key attributes must be scalars; list random access '[]' and map lookup '.' \
                     are not allowed: Key: {head}"
                )));
            }
            if filter_of_query {
                return Err(Error::validation(format!(
                    "Filter Expression can only contain non-primary key attributes: Primary key \
                     attribute: {head}"
                )));
            }
        }
        Ok(())
    }
}

fn collect<'c>(condition: &'c Condition, paths: &mut Vec<&'c Path>) {
    match condition {
        Condition::Compare { left, right, .. } => {
            operand(left, paths);
            operand(right, paths);
        }
        Condition::Between {
            subject,
            lower,
            upper,
        } => {
            for each in [subject, lower, upper] {
                operand(each, paths);
            }
        }
        Condition::In { subject, list } => {
            operand(subject, paths);
            list.iter().for_each(|each| operand(each, paths));
        }
        Condition::Exists(path) | Condition::NotExists(path) => paths.push(path),
        Condition::Type(first, _) => operand(first, paths),
        Condition::BeginsWith(first, second) | Condition::Contains(first, second) => {
            operand(first, paths);
            operand(second, paths);
        }
        Condition::And(left, right) | Condition::Or(left, right) => {
            collect(left, paths);
            collect(right, paths);
        }
        Condition::Not(inner) => collect(inner, paths),
    }
}

fn operand<'c>(operand: &'c Operand, paths: &mut Vec<&'c Path>) {
    match operand {
        Operand::Path(path) => paths.push(path),
        Operand::Value(_) => {}
        Operand::Size(inner) => self::operand(inner, paths),
    }
}
