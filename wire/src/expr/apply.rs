//! Applying an `UpdateExpr` to an item (§8.4 runtime semantics, §5 UPDATED_OLD/UPDATED_NEW).
//!
//! Invariant: an update is all-or-nothing: it works on a copy and returns either the complete
//! new item or an error, never a half-applied item. Every SET value is computed from the item
//! as it was before the update. List indexes always mean positions in the original item: SET,
//! ADD and DELETE are applied first (writes past a list's end are collected and appended in
//! index order), then removals run from the highest path down, so removing `a[0]` and `a[2]`
//! removes the two original elements and later elements shift.
//! Does not check item size, nesting depth or key attributes of the result: the node does,
//! with `validate`, before it writes.

use std::collections::{BTreeMap, BTreeSet};

use super::ast::{ArithOp, Path, PathElement};
use super::document;
use super::messages::{
    LEGACY_TYPE_MISMATCH, UPDATE_MISSING_ATTRIBUTE, UPDATE_OPERAND_TYPE, UPDATE_PATH_INVALID,
};
use super::projection::project;
use super::update::{SetOperand, SetValue, UpdateAction, UpdateExpr};
use crate::error::Error;
use crate::value::{AttributeValue, Item};

/// The result of applying an update.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateOutcome {
    /// The item after the update; `None` when the item did not exist and the update (only
    /// REMOVE or DELETE actions) did not create it.
    pub item: Option<Item>,
    /// Every target path, in the old item's coordinates.
    old_paths: Vec<Path>,
    /// The paths of the values written, in the new item's coordinates.
    new_paths: Vec<Path>,
}

impl UpdateOutcome {
    /// `ReturnValues=UPDATED_OLD`: the touched attributes as they were (nested paths wrapped in
    /// their parents); `None` when nothing qualifies.
    pub fn updated_old(&self, old: Option<&Item>) -> Option<Item> {
        let projected = project(old?, &self.old_paths);
        (!projected.is_empty()).then_some(projected)
    }

    /// `ReturnValues=UPDATED_NEW`: the written attributes as they are now; `None` when nothing
    /// qualifies (removed attributes are not reported).
    pub fn updated_new(&self) -> Option<Item> {
        let projected = project(self.item.as_ref()?, &self.new_paths);
        (!projected.is_empty()).then_some(projected)
    }
}

/// A write past the end of a list, applied after the in-place writes.
struct Append {
    parent: Vec<PathElement>,
    index: u32,
    value: AttributeValue,
    action: usize,
}

/// The deferred work and the landing place of each action's value.
struct Plan {
    appends: Vec<Append>,
    removals: Vec<Path>,
    /// Where each action's value now sits, before removals (in original list positions,
    /// except appended elements, which sit at their landing index).
    landed: Vec<Option<Path>>,
}

impl UpdateExpr {
    /// Applies the update to `old` (the current item, if any). A missing item starts as
    /// `key` (its key attributes). Errors are DynamoDB's runtime ValidationExceptions.
    pub fn apply(&self, old: Option<&Item>, key: &Item) -> Result<UpdateOutcome, Error> {
        let old_paths: Vec<Path> = self.actions.iter().map(|a| a.path().clone()).collect();
        if old.is_none() && !self.creates_item() {
            return Ok(UpdateOutcome {
                item: None,
                old_paths,
                new_paths: Vec::new(),
            });
        }
        let base = old.unwrap_or(key);
        let mut values = self
            .actions
            .iter()
            .map(|action| match action {
                UpdateAction::Set { value, .. } => set_value(value, base).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut item = base.clone();
        let mut plan = Plan {
            appends: Vec::new(),
            removals: Vec::new(),
            landed: vec![None; self.actions.len()],
        };
        for (position, action) in self.actions.iter().enumerate() {
            let value = values[position].take();
            self.apply_action(&mut item, action, value, position, &mut plan)?;
        }
        finish_appends(&mut item, &mut plan)?;
        let removals = finish_removals(&mut item, plan.removals);
        let new_paths = plan
            .landed
            .into_iter()
            .flatten()
            .filter(|path| !removals.contains(path))
            .map(|path| shift(&path, &removals))
            .collect();
        Ok(UpdateOutcome {
            item: Some(item),
            old_paths,
            new_paths,
        })
    }

    fn apply_action(
        &self,
        item: &mut Item,
        action: &UpdateAction,
        value: Option<AttributeValue>,
        position: usize,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        let path = action.path();
        let slot = slot_of(item, path).ok_or_else(|| Error::validation(UPDATE_PATH_INVALID))?;
        let current = slot.current().cloned();
        let new_value = match (action, value) {
            (UpdateAction::Set { .. }, value) => value,
            (UpdateAction::Add { value, .. }, _) => {
                Some(add(current.as_ref(), value, self.legacy)?)
            }
            (UpdateAction::Delete { value, .. }, _) => match &current {
                None => return Ok(()),
                Some(existing) => match delete(existing, value, self.legacy)? {
                    Some(remaining) => Some(remaining),
                    None => {
                        plan.removals.push(path.clone());
                        return Ok(());
                    }
                },
            },
            (UpdateAction::Remove { .. }, _) => {
                if current.is_some() {
                    plan.removals.push(path.clone());
                }
                return Ok(());
            }
        };
        let Some(new_value) = new_value else {
            return Ok(());
        };
        match slot {
            Slot::Past { .. } => {
                let (parent, last) = path.elements().split_at(path.elements().len() - 1);
                let index = match last.first() {
                    Some(PathElement::Index(index)) => *index,
                    _ => 0,
                };
                plan.appends.push(Append {
                    parent: parent.to_vec(),
                    index,
                    value: new_value,
                    action: position,
                });
            }
            slot => {
                slot.put(new_value);
                plan.landed[position] = Some(path.clone());
            }
        }
        Ok(())
    }
}

/// Where an action's target lives in the (copied) item.
enum Slot<'i> {
    /// A key of a map (or a top-level attribute).
    Key(&'i mut BTreeMap<String, AttributeValue>, &'i str),
    /// An existing element of a list.
    Element(&'i mut AttributeValue),
    /// A position at or past the end of a list.
    Past,
}

impl<'i> Slot<'i> {
    fn current(&self) -> Option<&AttributeValue> {
        match self {
            Slot::Key(map, key) => map.get(*key),
            Slot::Element(value) => Some(value),
            Slot::Past => None,
        }
    }

    fn put(self, value: AttributeValue) {
        match self {
            Slot::Key(map, key) => {
                map.insert(key.to_owned(), value);
            }
            Slot::Element(slot) => *slot = value,
            Slot::Past => {}
        }
    }
}

/// The slot `path` names, or `None` when its parent is missing or of the wrong type.
fn slot_of<'i>(item: &'i mut Item, path: &'i Path) -> Option<Slot<'i>> {
    let (last, parents) = path.elements().split_last()?;
    let container: &mut BTreeMap<String, AttributeValue> = match parents.split_first() {
        None => item,
        Some((PathElement::Name(head), rest)) => {
            let parent = descend_mut(item.get_mut(head)?, rest)?;
            return match (parent, last) {
                (AttributeValue::M(map), PathElement::Name(key)) => Some(Slot::Key(map, key)),
                (AttributeValue::L(list), PathElement::Index(index)) => {
                    let len = list.len();
                    match list.get_mut(*index as usize) {
                        Some(element) => Some(Slot::Element(element)),
                        None if *index as usize >= len => Some(Slot::Past),
                        None => None,
                    }
                }
                _ => None,
            };
        }
        Some((PathElement::Index(_), _)) => return None,
    };
    match last {
        PathElement::Name(key) => Some(Slot::Key(container, key)),
        PathElement::Index(_) => None,
    }
}

fn descend_mut<'v>(
    value: &'v mut AttributeValue,
    rest: &[PathElement],
) -> Option<&'v mut AttributeValue> {
    let mut current = value;
    for element in rest {
        current = match (current, element) {
            (AttributeValue::M(map), PathElement::Name(name)) => map.get_mut(name)?,
            (AttributeValue::L(list), PathElement::Index(index)) => {
                list.get_mut(*index as usize)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Appends collected writes past list ends, each list in index order.
fn finish_appends(item: &mut Item, plan: &mut Plan) -> Result<(), Error> {
    let mut appends = std::mem::take(&mut plan.appends);
    appends.sort_by(|a, b| (&a.parent, a.index).cmp(&(&b.parent, b.index)));
    for append in appends {
        let parent_path = Path::new(append.parent.clone());
        let list = match append.parent.split_first() {
            Some((PathElement::Name(head), rest)) => {
                item.get_mut(head).and_then(|v| descend_mut(v, rest))
            }
            _ => None,
        };
        let Some(AttributeValue::L(list)) = list else {
            return Err(Error::validation(UPDATE_PATH_INVALID));
        };
        let landing = list.len() as u32;
        list.push(append.value);
        let mut landed = parent_path.elements().to_vec();
        landed.push(PathElement::Index(landing));
        plan.landed[append.action] = Some(Path::new(landed));
    }
    Ok(())
}

/// Removes the collected paths, deepest and highest index first; returns them.
fn finish_removals(item: &mut Item, mut removals: Vec<Path>) -> Vec<Path> {
    removals.sort_unstable_by(|a, b| b.cmp(a));
    for path in &removals {
        let Some((last, parents)) = path.elements().split_last() else {
            continue;
        };
        match (parents.split_first(), last) {
            (None, PathElement::Name(name)) => {
                item.remove(name);
            }
            (Some((PathElement::Name(head), rest)), _) => {
                match (item.get_mut(head).and_then(|v| descend_mut(v, rest)), last) {
                    (Some(AttributeValue::M(map)), PathElement::Name(key)) => {
                        map.remove(key);
                    }
                    (Some(AttributeValue::L(list)), PathElement::Index(index))
                        if (*index as usize) < list.len() =>
                    {
                        list.remove(*index as usize);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    removals
}

/// `path` (original list positions) moved to its place after `removals`.
fn shift(path: &Path, removals: &[Path]) -> Path {
    let elements = path.elements();
    let shifted = elements
        .iter()
        .enumerate()
        .map(|(depth, element)| match element {
            PathElement::Index(index) => {
                let before = removals
                    .iter()
                    .filter(|removed| {
                        let removed = removed.elements();
                        removed.len() == depth + 1
                            && removed[..depth] == elements[..depth]
                            && matches!(removed[depth], PathElement::Index(i) if i < *index)
                    })
                    .count() as u32;
                PathElement::Index(index - before)
            }
            name => name.clone(),
        })
        .collect();
    Path::new(shifted)
}

fn set_value(value: &SetValue, base: &Item) -> Result<AttributeValue, Error> {
    match value {
        SetValue::Operand(operand) => set_operand(operand, base),
        SetValue::Arith(op, left, right) => {
            let (AttributeValue::N(left), AttributeValue::N(right)) =
                (set_operand(left, base)?, set_operand(right, base)?)
            else {
                return Err(Error::validation(UPDATE_OPERAND_TYPE));
            };
            let result = match op {
                ArithOp::Add => left.checked_add(&right),
                ArithOp::Subtract => left.checked_sub(&right),
            };
            Ok(AttributeValue::N(result?))
        }
    }
}

fn set_operand(operand: &SetOperand, base: &Item) -> Result<AttributeValue, Error> {
    match operand {
        SetOperand::Path(path) => document::get(base, path)
            .cloned()
            .ok_or_else(|| Error::validation(UPDATE_MISSING_ATTRIBUTE)),
        SetOperand::Value(value) => Ok(value.clone()),
        SetOperand::IfNotExists(path, default) => match document::get(base, path) {
            Some(value) => Ok(value.clone()),
            None => set_operand(default, base),
        },
        SetOperand::ListAppend(first, second) => {
            match (set_operand(first, base)?, set_operand(second, base)?) {
                (AttributeValue::L(mut first), AttributeValue::L(second)) => {
                    first.extend(second);
                    Ok(AttributeValue::L(first))
                }
                _ => Err(Error::validation(UPDATE_OPERAND_TYPE)),
            }
        }
    }
}

fn type_error(legacy: bool) -> Error {
    Error::validation(if legacy {
        LEGACY_TYPE_MISMATCH
    } else {
        UPDATE_OPERAND_TYPE
    })
}

/// ADD: number addition, set union, and (legacy AttributeUpdates only) list append.
fn add(
    current: Option<&AttributeValue>,
    value: &AttributeValue,
    legacy: bool,
) -> Result<AttributeValue, Error> {
    let Some(current) = current else {
        return Ok(value.clone());
    };
    Ok(match (current, value) {
        (AttributeValue::N(a), AttributeValue::N(b)) => AttributeValue::N(a.checked_add(b)?),
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => AttributeValue::Ss(union(a, b)),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => AttributeValue::Ns(union(a, b)),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => AttributeValue::Bs(union(a, b)),
        (AttributeValue::L(a), AttributeValue::L(b)) if legacy => {
            AttributeValue::L(a.iter().chain(b).cloned().collect())
        }
        _ => return Err(type_error(legacy)),
    })
}

/// DELETE: set difference; `None` when no element is left.
fn delete(
    current: &AttributeValue,
    value: &AttributeValue,
    legacy: bool,
) -> Result<Option<AttributeValue>, Error> {
    let remaining = match (current, value) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => AttributeValue::Ss(difference(a, b)),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => AttributeValue::Ns(difference(a, b)),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => AttributeValue::Bs(difference(a, b)),
        _ => return Err(type_error(legacy)),
    };
    let empty = match &remaining {
        AttributeValue::Ss(set) => set.is_empty(),
        AttributeValue::Ns(set) => set.is_empty(),
        AttributeValue::Bs(set) => set.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(remaining))
}

/// `current` followed by the members of `added` it lacks (sets are small to huge: no O(n²)).
fn union<T: Clone + Ord>(current: &[T], added: &[T]) -> Vec<T> {
    let mut present: BTreeSet<&T> = current.iter().collect();
    let mut result = current.to_vec();
    for member in added {
        if present.insert(member) {
            result.push(member.clone());
        }
    }
    result
}

fn difference<T: Clone + Ord>(current: &[T], removed: &[T]) -> Vec<T> {
    let removed: BTreeSet<&T> = removed.iter().collect();
    current
        .iter()
        .filter(|member| !removed.contains(member))
        .cloned()
        .collect()
}
