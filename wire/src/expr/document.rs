//! Reading a document path out of an item.
//!
//! Invariant: a path resolves only through values of the right shape (a name step through a
//! map, an index step through a list, in range); anything else resolves to nothing, never to
//! an error, because conditions and projections treat a missing path as absent.
//! Does not modify items: `apply` owns mutation.

use super::ast::{Path, PathElement};
use crate::value::{AttributeValue, Item};

/// The value at `path` in `item`, if every step exists.
pub(crate) fn get<'i>(item: &'i Item, path: &Path) -> Option<&'i AttributeValue> {
    let (head, rest) = path.elements().split_first()?;
    let PathElement::Name(name) = head else {
        return None;
    };
    descend(item.get(name)?, rest)
}

/// The value reached from `value` by the steps `rest`.
pub(crate) fn descend<'v>(
    value: &'v AttributeValue,
    rest: &[PathElement],
) -> Option<&'v AttributeValue> {
    let mut current = value;
    for element in rest {
        current = step(current, element)?;
    }
    Some(current)
}

/// One step down from `value`.
pub(crate) fn step<'v>(
    value: &'v AttributeValue,
    element: &PathElement,
) -> Option<&'v AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Name(name)) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(index)) => list.get(*index as usize),
        _ => None,
    }
}
