//! Evaluation of conditions against an item (§8.3 semantics).
//!
//! Invariant: evaluation is a pure function of the condition and the item, total (it never
//! fails and never panics), and follows DynamoDB on absent attributes: `=` is false and `<>`
//! is true when either side is absent; ordering, BETWEEN, IN and the functions are false,
//! except `attribute_not_exists`; any comparison with a `size()` that has no value (absent, or
//! N/BOOL/NULL) is false. Type mismatches with item values are false.
//! Does not validate: request values were checked when the condition was resolved.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand};
use super::compare::{begins_with, compare_scalars, contains, size_of};
use super::document;
use crate::value::{AttributeValue, Item};

/// The empty item, standing for an item that does not exist.
static NO_ITEM: Item = Item::new();

impl Condition {
    /// True when the condition holds for `item`.
    pub fn evaluate(&self, item: &Item) -> bool {
        match self {
            Condition::Compare { op, left, right } => {
                let (left_value, right_value) = (value(left, item), value(right, item));
                // `size()` of an absent or unsized value makes any comparison false, even
                // `<>` (which is true for a plain absent attribute).
                let unsized_size = |operand: &Operand, found: &Option<_>| {
                    matches!(operand, Operand::Size(_)) && found.is_none()
                };
                if unsized_size(left, &left_value) || unsized_size(right, &right_value) {
                    return false;
                }
                compare(*op, left_value.as_deref(), right_value.as_deref())
            }
            Condition::Between {
                subject,
                lower,
                upper,
            } => {
                let (Some(subject), Some(lower), Some(upper)) =
                    (value(subject, item), value(lower, item), value(upper, item))
                else {
                    return false;
                };
                let above = compare_scalars(&subject, &lower).is_some_and(Ordering::is_ge);
                above && compare_scalars(&subject, &upper).is_some_and(Ordering::is_le)
            }
            Condition::In { subject, list } => match value(subject, item) {
                Some(subject) => list.iter().any(|candidate| {
                    value(candidate, item).is_some_and(|candidate| *candidate == *subject)
                }),
                None => false,
            },
            Condition::Exists(path) => document::get(item, path).is_some(),
            Condition::NotExists(path) => document::get(item, path).is_none(),
            Condition::Type(operand, expected) => {
                value(operand, item).is_some_and(|found| found.attribute_type() == *expected)
            }
            Condition::BeginsWith(subject, prefix) => {
                both(subject, prefix, item).is_some_and(|(s, p)| begins_with(&s, &p))
            }
            Condition::Contains(subject, part) => {
                both(subject, part, item).is_some_and(|(s, p)| contains(&s, &p))
            }
            Condition::And(left, right) => left.evaluate(item) && right.evaluate(item),
            Condition::Or(left, right) => left.evaluate(item) || right.evaluate(item),
            Condition::Not(inner) => !inner.evaluate(item),
        }
    }

    /// Evaluates against an item that may not exist (then every attribute is absent).
    pub fn evaluate_opt(&self, item: Option<&Item>) -> bool {
        self.evaluate(item.unwrap_or(&NO_ITEM))
    }
}

fn compare(op: Comparator, left: Option<&AttributeValue>, right: Option<&AttributeValue>) -> bool {
    let (Some(left), Some(right)) = (left, right) else {
        return op == Comparator::Ne;
    };
    match op {
        Comparator::Eq => left == right,
        Comparator::Ne => left != right,
        Comparator::Lt => compare_scalars(left, right) == Some(Ordering::Less),
        Comparator::Le => compare_scalars(left, right).is_some_and(Ordering::is_le),
        Comparator::Gt => compare_scalars(left, right) == Some(Ordering::Greater),
        Comparator::Ge => compare_scalars(left, right).is_some_and(Ordering::is_ge),
    }
}

type Pair<'a> = (Cow<'a, AttributeValue>, Cow<'a, AttributeValue>);

fn both<'a>(left: &'a Operand, right: &'a Operand, item: &'a Item) -> Option<Pair<'a>> {
    Some((value(left, item)?, value(right, item)?))
}

/// The value of an operand for `item`, if it has one.
pub(crate) fn value<'a>(operand: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
    match operand {
        Operand::Path(path) => document::get(item, path).map(Cow::Borrowed),
        Operand::Value(value) => Some(Cow::Borrowed(value)),
        Operand::Size(inner) => {
            let size = size_of(value(inner, item)?.as_ref())?;
            Some(Cow::Owned(AttributeValue::N(size)))
        }
    }
}
