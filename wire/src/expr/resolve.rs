//! Turns a checked condition syntax tree into a `Condition`, validating it as DynamoDB's
//! expression validator does: placeholders, path depth, operand counts and types, distinct
//! operands, BETWEEN bounds, IN size and the operator count.
//!
//! Invariant: nodes are validated children first, left to right, and each operator's checks
//! run in DynamoDB's order (operand count, operand types, distinct operands, then the
//! operator's own rule), so the first error reported is the one DynamoDB reports. A request
//! value of a type an operator cannot use is rejected here (ValidationException); an item
//! value of the wrong type is left to evaluation, where it makes the condition false.
//! Does not evaluate anything; `checks` has already run on the tree.

use super::ast::{Comparator, Condition, Operand, Path, PathElement, is_scalar};
use super::checks::parse_index;
use super::compare::{compare_scalars, describe};
use super::lexer::Tokens;
use super::limits::{IN_OPERANDS_MAX, OPERATORS_MAX, PATH_DEPTH_MAX};
use super::messages::{self, *};
use super::placeholders::Substitutions;
use super::syntax::{RawElement, RawNode, RawPath, TokenIndex};
use crate::value::{AttributeType, AttributeValue};

type Result<T> = std::result::Result<T, String>;

/// How DynamoDB names "any type" when a path stands where a typed operand is required.
const ANY_TYPE: &str = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}";

/// Resolution state for one expression: its tokens, the request's placeholders, and the
/// running operator count.
pub(crate) struct Resolver<'t, 's, 'a, 'u> {
    tokens: &'t Tokens<'s>,
    subs: &'u mut Substitutions<'a>,
    operators: u32,
}

impl<'t, 's, 'a, 'u> Resolver<'t, 's, 'a, 'u> {
    pub fn new(tokens: &'t Tokens<'s>, subs: &'u mut Substitutions<'a>) -> Self {
        Resolver {
            tokens,
            subs,
            operators: 0,
        }
    }

    fn text(&self, token: TokenIndex) -> &'s str {
        self.tokens.text(token as usize)
    }

    /// The source text of a token.
    pub fn token_text(&self, token: TokenIndex) -> &'s str {
        self.text(token)
    }

    /// A path with `#name` references substituted; at most `PATH_DEPTH_MAX` elements.
    pub fn path(&mut self, raw: &RawPath) -> Result<Path> {
        if raw.elements.len() > PATH_DEPTH_MAX {
            let levels = raw.elements.len();
            return Err(messages::detail(
                PATH_TOO_DEEP,
                &[("nesting levels", &levels)],
            ));
        }
        let mut elements = Vec::with_capacity(raw.elements.len());
        for element in &raw.elements {
            elements.push(match *element {
                RawElement::Name(token) => PathElement::Name(self.text(token).to_owned()),
                RawElement::NameRef(token) => {
                    PathElement::Name(self.subs.name(self.text(token))?.to_owned())
                }
                // `checks` has verified the range; 0 would only follow a broken invariant.
                RawElement::Index(token) => {
                    PathElement::Index(parse_index(self.text(token)).unwrap_or(0))
                }
            });
        }
        Ok(Path::new(elements))
    }

    /// The value a `:value` token stands for.
    pub fn value(&mut self, token: TokenIndex) -> Result<AttributeValue> {
        self.subs.value(self.text(token)).cloned()
    }

    /// Counts one operator against `OPERATORS_MAX`.
    pub fn count_operator(&mut self) -> Result<()> {
        self.operators += 1;
        if self.operators > OPERATORS_MAX {
            let count = self.operators;
            return Err(messages::detail(
                TOO_MANY_OPERATORS,
                &[("operator count", &count)],
            ));
        }
        Ok(())
    }

    /// Resolves a node standing where a condition belongs.
    pub fn condition(&mut self, node: &RawNode) -> Result<Condition> {
        let condition = match node {
            RawNode::Compare { op, left, right } => self.compare(*op, left, right)?,
            RawNode::Between {
                subject,
                lower,
                upper,
            } => self.between(subject, lower, upper)?,
            RawNode::In { subject, list } => self.in_list(subject, list)?,
            RawNode::And(left, right) | RawNode::Or(left, right) => {
                let left = Box::new(self.condition(left)?);
                let right = Box::new(self.condition(right)?);
                self.count_operator()?;
                if matches!(node, RawNode::And(..)) {
                    Condition::And(left, right)
                } else {
                    Condition::Or(left, right)
                }
            }
            RawNode::Not(inner) => {
                let inner = Box::new(self.condition(inner)?);
                self.count_operator()?;
                Condition::Not(inner)
            }
            RawNode::Call { name, args } => self.function(self.text(*name), args)?,
            // The parser never leaves a bare operand where a condition belongs.
            RawNode::Path(_) | RawNode::Value(_) | RawNode::Arith { .. } => {
                return Err(messages::detail(SYNTAX_ERROR, &[]));
            }
        };
        Ok(condition)
    }

    fn compare(&mut self, op: Comparator, left: &RawNode, right: &RawNode) -> Result<Condition> {
        let left = self.operand(left)?;
        let right = self.operand(right)?;
        let allowed = if op.is_ordering() {
            is_scalar
        } else {
            |_| true
        };
        check_types(op.symbol(), allowed, &[&left, &right])?;
        check_distinct(op.symbol(), &left, &[&right])?;
        self.count_operator()?;
        Ok(Condition::Compare { op, left, right })
    }

    fn between(
        &mut self,
        subject: &RawNode,
        lower: &RawNode,
        upper: &RawNode,
    ) -> Result<Condition> {
        let subject = self.operand(subject)?;
        let lower = self.operand(lower)?;
        let upper = self.operand(upper)?;
        check_types("BETWEEN", is_scalar, &[&subject, &lower, &upper])?;
        check_distinct("BETWEEN", &subject, &[&lower, &upper])?;
        if let (Operand::Value(low), Operand::Value(high)) = (&lower, &upper) {
            check_bounds(low, high)?;
        }
        self.count_operator()?;
        Ok(Condition::Between {
            subject,
            lower,
            upper,
        })
    }

    fn in_list(&mut self, subject: &RawNode, list: &[RawNode]) -> Result<Condition> {
        let subject = self.operand(subject)?;
        let list = list
            .iter()
            .map(|node| self.operand(node))
            .collect::<Result<Vec<_>>>()?;
        let others: Vec<&Operand> = list.iter().collect();
        check_distinct("IN", &subject, &others)?;
        if list.len() > IN_OPERANDS_MAX {
            let count = list.len();
            return Err(messages::detail(
                IN_TOO_MANY,
                &[("number of operands", &count)],
            ));
        }
        self.count_operator()?;
        Ok(Condition::In { subject, list })
    }

    /// A boolean function standing as a condition.
    fn function(&mut self, name: &str, args: &[RawNode]) -> Result<Condition> {
        let args = args
            .iter()
            .map(|node| self.operand(node))
            .collect::<Result<Vec<_>>>()?;
        let arity = if name.starts_with("attribute_") && name != "attribute_type" {
            1
        } else {
            2
        };
        check_arity(name, arity, args.len())?;
        let mut args = args.into_iter();
        let (first, second) = (args.next(), args.next());
        let (Some(first), second) = (first, second) else {
            return Err(messages::detail(SYNTAX_ERROR, &[]));
        };
        match (name, second) {
            ("attribute_exists" | "attribute_not_exists", _) => {
                let Operand::Path(path) = first else {
                    return Err(messages::detail(
                        OPERAND_PATH,
                        &[("operator or function", &name)],
                    ));
                };
                Ok(if name == "attribute_exists" {
                    Condition::Exists(path)
                } else {
                    Condition::NotExists(path)
                })
            }
            ("attribute_type", Some(second)) => {
                check_distinct(name, &first, &[&second])?;
                Ok(Condition::Type(first, attribute_type_name(&second)?))
            }
            ("begins_with", Some(second)) => {
                check_types(
                    name,
                    |t| matches!(t, AttributeType::S | AttributeType::B),
                    &[&first, &second],
                )?;
                check_distinct(name, &first, &[&second])?;
                Ok(Condition::BeginsWith(first, second))
            }
            ("contains", Some(second)) => {
                check_distinct(name, &first, &[&second])?;
                Ok(Condition::Contains(first, second))
            }
            _ => Err(messages::detail(FUNCTION_CONTEXT, &[("function", &name)])),
        }
    }

    /// Resolves a node standing where an operand belongs (`size` is the only function).
    fn operand(&mut self, node: &RawNode) -> Result<Operand> {
        match node {
            RawNode::Path(path) => Ok(Operand::Path(self.path(path)?)),
            RawNode::Value(token) => Ok(Operand::Value(self.value(*token)?)),
            RawNode::Call { name, args } => {
                let name = self.text(*name);
                let args = args
                    .iter()
                    .map(|arg| self.operand(arg))
                    .collect::<Result<Vec<_>>>()?;
                check_arity(name, 1, args.len())?;
                if name != "size" {
                    return Err(messages::detail(FUNCTION_CONTEXT, &[("function", &name)]));
                }
                let sizeable = |t: AttributeType| {
                    !matches!(
                        t,
                        AttributeType::N | AttributeType::Bool | AttributeType::Null
                    )
                };
                let Some(arg) = args.into_iter().next() else {
                    return Err(messages::detail(SYNTAX_ERROR, &[]));
                };
                check_types(name, sizeable, &[&arg])?;
                Ok(Operand::Size(Box::new(arg)))
            }
            _ => Err(messages::detail(SYNTAX_ERROR, &[])),
        }
    }
}

/// The static type of an operand: a value's own, `N` for `size`, unknown for a path.
fn static_type(operand: &Operand) -> Option<AttributeType> {
    match operand {
        Operand::Path(_) => None,
        Operand::Value(value) => Some(value.attribute_type()),
        Operand::Size(_) => Some(AttributeType::N),
    }
}

fn check_arity(name: &str, expected: usize, actual: usize) -> Result<()> {
    if expected == actual {
        return Ok(());
    }
    Err(messages::detail(
        OPERAND_COUNT,
        &[
            ("operator or function", &name),
            ("number of operands", &actual),
        ],
    ))
}

/// Rejects an operand whose static type the operator cannot use.
fn check_types(
    name: &str,
    allowed: fn(AttributeType) -> bool,
    operands: &[&Operand],
) -> Result<()> {
    for operand in operands {
        if let Some(found) = static_type(operand).filter(|t| !allowed(*t)) {
            return Err(messages::detail(
                OPERAND_TYPE,
                &[
                    ("operator or function", &name),
                    ("operand type", &found.name()),
                ],
            ));
        }
    }
    Ok(())
}

/// Rejects a later operand that is the same document path as the first.
fn check_distinct(name: &str, first: &Operand, rest: &[&Operand]) -> Result<()> {
    let Operand::Path(first) = first else {
        return Ok(());
    };
    if rest
        .iter()
        .any(|other| matches!(other, Operand::Path(path) if path == first))
    {
        return Err(messages::detail(
            OPERAND_DISTINCT,
            &[("operator", &name), ("first operand", first)],
        ));
    }
    Ok(())
}

fn check_bounds(lower: &AttributeValue, upper: &AttributeValue) -> Result<()> {
    let bounds = |base: &str| {
        messages::detail(
            base,
            &[
                ("lower bound operand", &describe(lower)),
                ("upper bound operand", &describe(upper)),
            ],
        )
    };
    match compare_scalars(lower, upper) {
        None => Err(bounds(BETWEEN_TYPES)),
        Some(std::cmp::Ordering::Greater) => Err(bounds(BETWEEN_ORDER)),
        Some(_) => Ok(()),
    }
}

/// The type named by `attribute_type`'s second operand, which must be a string value.
fn attribute_type_name(operand: &Operand) -> Result<AttributeType> {
    let type_error = |shown: &str| {
        messages::detail(
            OPERAND_TYPE,
            &[
                ("operator or function", &"attribute_type"),
                ("operand type", &shown),
            ],
        )
    };
    match operand {
        Operand::Value(AttributeValue::S(name)) => {
            AttributeType::from_name(name).ok_or_else(|| {
                messages::detail(
                    INVALID_TYPE_NAME,
                    &[
                        ("type", name),
                        ("valid types", &"{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
                    ],
                )
            })
        }
        Operand::Path(_) => Err(type_error(ANY_TYPE)),
        other => Err(type_error(
            static_type(other).map_or(ANY_TYPE, AttributeType::name),
        )),
    }
}
