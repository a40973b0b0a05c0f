//! KeyConditionExpression (and legacy KeyConditions): a condition on the key attributes that
//! the storage layer turns into one key range (§8.5).
//!
//! Invariant: a `KeyConditionExpr` holds one or two conditions, at most one per attribute,
//! each on a top-level attribute with its values on the right (`:v < sk` is stored as
//! `sk > :v`). `bind` checks it against the queried key schema and yields a `KeyCondition`:
//! an exact partition key and at most one sort-key condition of the allowed forms, with
//! values of the key's declared type, non-empty and within the key size limits.
//! Does not scan anything: the node turns `KeyCondition` into a range of encoded keys.

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand};
use super::compare;
use super::condition::parse_condition;
use super::messages::ExpressionKind;
use super::placeholders::Substitutions;
use crate::error::Error;
use crate::schema::{KeyAttribute, KeySchema, KeyType};
use crate::validate::validate_key_value;
use crate::value::{AttributeValue, Item};

/// A parsed key condition, not yet checked against a key schema.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyConditionExpr {
    pub(crate) terms: Vec<KeyTerm>,
}

/// One condition on one key attribute.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KeyTerm {
    pub attribute: String,
    pub op: KeyOp,
    pub values: Vec<AttributeValue>,
}

/// The operator of a key term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
    BeginsWith,
    /// A legacy operator that cannot select a key range (NE, NULL, CONTAINS, IN...).
    Unindexable,
}

/// A key condition bound to a key schema: what the storage layer reads.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyCondition {
    /// The partition key value (equality is the only partition-key condition).
    pub partition: AttributeValue,
    /// The sort-key condition, if any.
    pub sort: Option<SortKeyCondition>,
}

/// The allowed sort-key conditions; values have the sort key's declared type.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKeyCondition {
    /// `sk = v`
    Eq(AttributeValue),
    /// `sk < v`
    Lt(AttributeValue),
    /// `sk <= v`
    Le(AttributeValue),
    /// `sk > v`
    Gt(AttributeValue),
    /// `sk >= v`
    Ge(AttributeValue),
    /// `sk BETWEEN low AND high` (inclusive; low <= high was checked).
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)` (S or B keys).
    BeginsWith(AttributeValue),
}

impl SortKeyCondition {
    /// True when a sort-key value satisfies the condition.
    pub fn matches(&self, value: &AttributeValue) -> bool {
        let order = |bound: &AttributeValue| value.compare(bound);
        match self {
            SortKeyCondition::Eq(bound) => order(bound) == Some(Ordering::Equal),
            SortKeyCondition::Lt(bound) => order(bound) == Some(Ordering::Less),
            SortKeyCondition::Le(bound) => order(bound).is_some_and(Ordering::is_le),
            SortKeyCondition::Gt(bound) => order(bound) == Some(Ordering::Greater),
            SortKeyCondition::Ge(bound) => order(bound).is_some_and(Ordering::is_ge),
            SortKeyCondition::Between(low, high) => {
                order(low).is_some_and(Ordering::is_ge) && order(high).is_some_and(Ordering::is_le)
            }
            SortKeyCondition::BeginsWith(prefix) => compare::begins_with(value, prefix),
        }
    }
}

impl KeyCondition {
    /// True when `item`'s key attributes (named by `schema`) satisfy the condition.
    pub fn matches(&self, item: &Item, schema: &KeySchema) -> bool {
        if item.get(&schema.partition.name) != Some(&self.partition) {
            return false;
        }
        match (&self.sort, &schema.sort) {
            (None, _) => true,
            (Some(condition), Some(sort)) => {
                item.get(&sort.name).is_some_and(|v| condition.matches(v))
            }
            (Some(_), None) => false,
        }
    }
}

/// Parses a KeyConditionExpression: the condition grammar and checks, then the key rules that
/// need no schema (operators, one condition per attribute, no nesting).
pub fn parse_key_condition(
    text: &str,
    subs: &mut Substitutions<'_>,
) -> Result<KeyConditionExpr, Error> {
    let condition = parse_condition(text, ExpressionKind::KeyCondition, subs)?;
    let mut terms = Vec::with_capacity(2);
    collect(&condition, &mut terms).map_err(Error::validation)?;
    if terms.len() > 2 {
        return Err(Error::validation("Conditions can be of length 1 or 2 only"));
    }
    Ok(KeyConditionExpr { terms })
}

fn collect(condition: &Condition, terms: &mut Vec<KeyTerm>) -> Result<(), String> {
    let invalid_operator =
        |name: &str| format!("Invalid operator used in KeyConditionExpression: {name}");
    let (op, args): (KeyOp, Vec<&Operand>) = match condition {
        Condition::And(left, right) => {
            collect(left, terms)?;
            return collect(right, terms);
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(..) => return Err(invalid_operator("NOT")),
        Condition::In { .. } => return Err(invalid_operator("IN")),
        Condition::Exists(_) => return Err(invalid_operator("attribute_exists")),
        Condition::NotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Condition::Type(..) => return Err(invalid_operator("attribute_type")),
        Condition::Contains(..) => return Err(invalid_operator("contains")),
        Condition::Compare {
            op: Comparator::Ne, ..
        } => return Err(invalid_operator("<>")),
        Condition::Compare { op, left, right } => (comparison(*op), vec![left, right]),
        Condition::Between {
            subject,
            lower,
            upper,
        } => {
            require_key_first("BETWEEN", subject)?;
            (KeyOp::Between, vec![subject, lower, upper])
        }
        Condition::BeginsWith(subject, prefix) => {
            require_key_first("begins_with", subject)?;
            (KeyOp::BeginsWith, vec![subject, prefix])
        }
    };
    let term = term(op, &args)?;
    if terms.iter().any(|t| t.attribute == term.attribute) {
        return Err("KeyConditionExpressions must only contain one condition per key".into());
    }
    terms.push(term);
    Ok(())
}

fn comparison(op: Comparator) -> KeyOp {
    match op {
        Comparator::Eq => KeyOp::Eq,
        Comparator::Lt => KeyOp::Lt,
        Comparator::Le => KeyOp::Le,
        Comparator::Gt => KeyOp::Gt,
        Comparator::Ge | Comparator::Ne => KeyOp::Ge,
    }
}

fn require_key_first(name: &str, subject: &Operand) -> Result<(), String> {
    if matches!(subject, Operand::Path(_)) {
        return Ok(());
    }
    Err(format!(
        "Invalid condition in KeyConditionExpression: {name} operator must have the key \
         attribute as its first operand"
    ))
}

/// One key term from an operator's operands: exactly one top-level attribute, values only.
fn term(op: KeyOp, args: &[&Operand]) -> Result<KeyTerm, String> {
    let mut attribute: Option<(usize, &str)> = None;
    let mut values = Vec::with_capacity(2);
    for (position, arg) in args.iter().enumerate() {
        match arg {
            Operand::Path(path) => {
                if attribute.is_some() {
                    return Err(
                        "Invalid condition in KeyConditionExpression: Multiple attribute \
                                names used in one condition"
                            .into(),
                    );
                }
                if path.elements().len() > 1 {
                    return Err(
                        "KeyConditionExpressions cannot have conditions on nested attributes"
                            .into(),
                    );
                }
                attribute = Some((position, path.head()));
            }
            Operand::Size(_) => {
                return Err("KeyConditionExpressions cannot contain nested operations".into());
            }
            Operand::Value(value) => values.push(value.clone()),
        }
    }
    let Some((position, name)) = attribute else {
        return Err(
            "Invalid condition in KeyConditionExpression: No key attribute specified".into(),
        );
    };
    let op = if position == 0 { op } else { flipped(op) };
    Ok(KeyTerm {
        attribute: name.to_owned(),
        op,
        values,
    })
}

/// The operator seen from the other side: `:v < k` is `k > :v`.
fn flipped(op: KeyOp) -> KeyOp {
    match op {
        KeyOp::Lt => KeyOp::Gt,
        KeyOp::Le => KeyOp::Ge,
        KeyOp::Gt => KeyOp::Lt,
        KeyOp::Ge => KeyOp::Le,
        other => other,
    }
}

impl KeyConditionExpr {
    /// Checks the condition against the queried key schema (the table's or an index's) and
    /// returns the key range to read, with DynamoDB's messages.
    pub fn bind(&self, schema: &KeySchema) -> Result<KeyCondition, Error> {
        let key_count = 1 + usize::from(schema.sort.is_some());
        if self.terms.len() > key_count {
            return Err(Error::validation("Query key condition not supported"));
        }
        let partition = self.term_for(&schema.partition)?;
        let sort = match (&schema.sort, self.terms.len()) {
            (Some(sort), 2) => Some(self.term_for(sort)?),
            _ => None,
        };
        if self.terms.iter().any(|t| t.op == KeyOp::Unindexable) {
            return Err(Error::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        check_type(partition, &schema.partition)?;
        if let (Some(term), Some(attribute)) = (sort, &schema.sort) {
            check_type(term, attribute)?;
        }
        let (KeyOp::Eq, Some(value)) = (partition.op, partition.values.first()) else {
            return Err(Error::validation("Query key condition not supported"));
        };
        // Key values must also be non-empty and within the key size limits, as in a Key.
        validate_key_value(&schema.partition, KeyType::Hash, value)?;
        if let (Some(term), Some(attribute)) = (sort, &schema.sort)
            && term.op != KeyOp::BeginsWith
        {
            for bound in &term.values {
                validate_key_value(attribute, KeyType::Range, bound)?;
            }
        }
        Ok(KeyCondition {
            partition: value.clone(),
            sort: sort.map(sort_condition),
        })
    }

    fn term_for(&self, attribute: &KeyAttribute) -> Result<&KeyTerm, Error> {
        self.terms
            .iter()
            .find(|t| t.attribute == attribute.name)
            .ok_or_else(|| {
                Error::validation(format!(
                    "Query condition missed key schema element: {}",
                    attribute.name
                ))
            })
    }
}

fn check_type(term: &KeyTerm, attribute: &KeyAttribute) -> Result<(), Error> {
    let expected = attribute.scalar_type.as_str();
    if term
        .values
        .iter()
        .all(|value| value.type_name() == expected)
    {
        return Ok(());
    }
    Err(Error::validation(
        "One or more parameter values were invalid: Condition parameter type does not match \
         schema type",
    ))
}

fn sort_condition(term: &KeyTerm) -> SortKeyCondition {
    let first = term.values.first().cloned().unwrap_or(AttributeValue::Null);
    match term.op {
        KeyOp::Eq | KeyOp::Unindexable => SortKeyCondition::Eq(first),
        KeyOp::Lt => SortKeyCondition::Lt(first),
        KeyOp::Le => SortKeyCondition::Le(first),
        KeyOp::Gt => SortKeyCondition::Gt(first),
        KeyOp::Ge => SortKeyCondition::Ge(first),
        KeyOp::BeginsWith => SortKeyCondition::BeginsWith(first),
        KeyOp::Between => {
            let second = term.values.get(1).cloned().unwrap_or(AttributeValue::Null);
            SortKeyCondition::Between(first, second)
        }
    }
}
