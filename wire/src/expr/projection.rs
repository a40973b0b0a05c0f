//! ProjectionExpression (and AttributesToGet): choosing the parts of an item to return (§8.6).
//!
//! Invariant: a `Projection`'s paths neither overlap nor conflict, and its merged path tree is
//! built once at parse time, so applying it is one walk of the tree over the item. The result
//! keeps the original nesting: map steps keep their keys, selected list elements are kept in
//! index order and compacted; paths that do not resolve contribute nothing.
//! Does not decide whether key attributes are returned: only what is projected is.

use std::collections::BTreeMap;

use super::ast::{Path, PathElement};
use super::checks;
use super::front::{invalid, lex_checked, parse_failure};
use super::messages::ExpressionKind;
use super::parser;
use super::paths::check_overlap;
use super::placeholders::Substitutions;
use super::resolve::Resolver;
use crate::error::Error;
use crate::value::{AttributeValue, Item};

/// A validated projection.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    paths: Vec<Path>,
    tree: BTreeMap<String, Node>,
}

/// The merged tree of projected paths below one value.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    /// Take the whole value.
    Whole,
    /// Take these keys of a map.
    Keys(BTreeMap<String, Node>),
    /// Take these elements of a list.
    Elements(BTreeMap<u32, Node>),
}

impl Projection {
    /// A projection of the given paths; the caller guarantees they neither overlap nor conflict
    /// (parsing checks that; top-level attribute names never conflict).
    pub fn from_paths(paths: Vec<Path>) -> Projection {
        let mut tree = BTreeMap::new();
        for path in &paths {
            insert(&mut tree, path.elements());
        }
        Projection { paths, tree }
    }

    /// The projected paths, in request order.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// The projected part of `item` (possibly empty).
    pub fn apply(&self, item: &Item) -> Item {
        let mut projected = Item::new();
        for (name, node) in &self.tree {
            if let Some(value) = item.get(name).and_then(|value| take(value, node)) {
                projected.insert(name.clone(), value);
            }
        }
        projected
    }
}

/// Parses and validates a ProjectionExpression, substituting and marking its `#names`.
pub fn parse_projection(text: &str, subs: &mut Substitutions<'_>) -> Result<Projection, Error> {
    let kind = ExpressionKind::Projection;
    let tokens = lex_checked(text, kind)?;
    let raw = parser::parse_projection(&tokens).map_err(|e| parse_failure(&tokens, kind, e))?;
    checks::check_projection(&tokens, &raw).map_err(|m| invalid(kind, &m))?;
    let mut resolver = Resolver::new(&tokens, subs);
    let mut paths = Vec::with_capacity(raw.len());
    for raw_path in &raw {
        let path = resolver.path(raw_path).map_err(|m| invalid(kind, &m))?;
        check_overlap(&path, &paths).map_err(|m| invalid(kind, &m))?;
        paths.push(path);
    }
    Ok(Projection::from_paths(paths))
}

/// The parts of `item` at `paths` (used for UPDATED_OLD and UPDATED_NEW).
pub(crate) fn project(item: &Item, paths: &[Path]) -> Item {
    Projection::from_paths(paths.to_vec()).apply(item)
}

fn insert(tree: &mut BTreeMap<String, Node>, elements: &[PathElement]) {
    let Some((PathElement::Name(head), rest)) = elements.split_first() else {
        return;
    };
    let slot = tree.entry(head.clone()).or_insert_with(|| empty_for(rest));
    insert_below(slot, rest);
}

fn empty_for(rest: &[PathElement]) -> Node {
    match rest.first() {
        None => Node::Whole,
        Some(PathElement::Name(_)) => Node::Keys(BTreeMap::new()),
        Some(PathElement::Index(_)) => Node::Elements(BTreeMap::new()),
    }
}

fn insert_below(node: &mut Node, rest: &[PathElement]) {
    let Some((first, rest)) = rest.split_first() else {
        *node = Node::Whole;
        return;
    };
    let child = match (node, first) {
        (Node::Keys(keys), PathElement::Name(name)) => {
            keys.entry(name.clone()).or_insert_with(|| empty_for(rest))
        }
        (Node::Elements(elements), PathElement::Index(index)) => {
            elements.entry(*index).or_insert_with(|| empty_for(rest))
        }
        // Overlapping or conflicting paths were rejected; keep the broader selection.
        _ => return,
    };
    insert_below(child, rest);
}

fn take(value: &AttributeValue, node: &Node) -> Option<AttributeValue> {
    match (value, node) {
        (_, Node::Whole) => Some(value.clone()),
        (AttributeValue::M(map), Node::Keys(keys)) => {
            let picked: BTreeMap<String, AttributeValue> = keys
                .iter()
                .filter_map(|(key, child)| Some((key.clone(), take(map.get(key)?, child)?)))
                .collect();
            (!picked.is_empty()).then_some(AttributeValue::M(picked))
        }
        (AttributeValue::L(list), Node::Elements(elements)) => {
            let picked: Vec<AttributeValue> = elements
                .iter()
                .filter_map(|(index, child)| take(list.get(*index as usize)?, child))
                .collect();
            (!picked.is_empty()).then_some(AttributeValue::L(picked))
        }
        _ => None,
    }
}
