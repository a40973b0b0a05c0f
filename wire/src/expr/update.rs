//! UpdateExpression: text to a validated `UpdateExpr` (§8.4).
//!
//! Invariant: an `UpdateExpr` holds its actions in source order, no two of its target paths
//! overlap or conflict, no clause appears twice, every ADD operand is a number or set and
//! every DELETE operand a set, and every `+`/`-`/`list_append` request value has the right
//! type. Validation walks the actions last to first, as DynamoDB does, so with several faults
//! the same one is reported (`SET a = :v, a.b = :w` names `[a]` as path one).
//! Does not apply the update: `apply` does.

use super::ast::{ArithOp, Path};
use super::checks;
use super::front::{invalid, lex_checked, parse_failure, redundant_parentheses};
use super::lexer::Tokens;
use super::messages::{self, ExpressionKind, OPERAND_COUNT, OPERAND_PATH, OPERAND_TYPE};
use super::parser;
use super::paths::check_overlap;
use super::placeholders::Substitutions;
use super::resolve::Resolver;
use super::syntax::{ClauseKind, RawAction, RawNode};
use crate::error::Error;
use crate::value::{AttributeType, AttributeValue};

/// A validated update: actions in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateExpr {
    pub(crate) actions: Vec<UpdateAction>,
    /// Translated from AttributeUpdates: ADD may append lists, and type errors use the legacy
    /// wording.
    pub(crate) legacy: bool,
}

/// One action of an update.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set {
        /// Target.
        path: Path,
        /// New value, computed from the item before the update.
        value: SetValue,
    },
    /// `REMOVE path`.
    Remove {
        /// Target.
        path: Path,
    },
    /// `ADD path :value` (number addition or set union).
    Add {
        /// Target.
        path: Path,
        /// Number or set to add.
        value: AttributeValue,
    },
    /// `DELETE path :value` (set difference).
    Delete {
        /// Target.
        path: Path,
        /// Set of elements to remove.
        value: AttributeValue,
    },
}

impl UpdateAction {
    /// The path the action writes.
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set { path, .. }
            | UpdateAction::Remove { path }
            | UpdateAction::Add { path, .. }
            | UpdateAction::Delete { path, .. } => path,
        }
    }
}

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    /// A single operand.
    Operand(SetOperand),
    /// `left + right` or `left - right` on numbers.
    Arith(ArithOp, SetOperand, SetOperand),
}

/// An operand of a SET value.
#[derive(Clone, Debug, PartialEq)]
pub enum SetOperand {
    /// The current value of an attribute.
    Path(Path),
    /// A request value.
    Value(AttributeValue),
    /// `if_not_exists(path, default)`.
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(first, second)`.
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

impl UpdateExpr {
    /// The actions, in source order.
    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// True when applying the update to a missing item creates it (any SET or ADD; an update
    /// that only removes or deletes leaves a missing item missing).
    pub fn creates_item(&self) -> bool {
        self.actions.is_empty()
            || self
                .actions
                .iter()
                .any(|a| matches!(a, UpdateAction::Set { .. } | UpdateAction::Add { .. }))
    }

    /// Rejects an update that targets a key attribute, with DynamoDB's message.
    pub fn check_key_attributes(&self, key_names: &[&str]) -> Result<(), Error> {
        for action in &self.actions {
            let head = action.path().head();
            if key_names.contains(&head) {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {head}. \
                     This attribute is part of the key"
                )));
            }
        }
        Ok(())
    }
}

/// Parses and validates an UpdateExpression, substituting and marking its placeholders.
pub fn parse_update(text: &str, subs: &mut Substitutions<'_>) -> Result<UpdateExpr, Error> {
    let kind = ExpressionKind::Update;
    let tokens = lex_checked(text, kind)?;
    let parsed = parser::parse_update(&tokens).map_err(|e| parse_failure(&tokens, kind, e))?;
    if parsed.redundant_parentheses {
        return Err(redundant_parentheses(kind));
    }
    checks::check_update(&tokens, &parsed.tree).map_err(|m| invalid(kind, &m))?;
    let actions: Vec<(ClauseKind, &RawAction)> = parsed
        .tree
        .iter()
        .flat_map(|clause| {
            clause
                .actions
                .iter()
                .map(move |action| (clause.kind, action))
        })
        .collect();
    build(&tokens, &actions, subs).map_err(|m| invalid(kind, &m))
}

fn build(
    tokens: &Tokens<'_>,
    actions: &[(ClauseKind, &RawAction)],
    subs: &mut Substitutions<'_>,
) -> Result<UpdateExpr, String> {
    let mut resolver = Resolver::new(tokens, subs);
    // Paths first, last action to first, each checked against those already seen.
    let mut paths: Vec<Option<Path>> = vec![None; actions.len()];
    let mut seen: Vec<Path> = Vec::with_capacity(actions.len());
    for (position, (_, action)) in actions.iter().enumerate().rev() {
        let path = resolver.path(action.path())?;
        check_overlap(&path, &seen)?;
        seen.push(path.clone());
        paths[position] = Some(path);
    }
    // Then values, in the same order.
    let mut built: Vec<Option<UpdateAction>> = vec![None; actions.len()];
    for (position, (clause, action)) in actions.iter().enumerate().rev() {
        let path = paths[position]
            .take()
            .unwrap_or_else(|| Path::attribute(""));
        built[position] = Some(match (clause, action) {
            (_, RawAction::Set { value, .. }) => UpdateAction::Set {
                path,
                value: set_value(&mut resolver, value)?,
            },
            (_, RawAction::Remove { .. }) => UpdateAction::Remove { path },
            (ClauseKind::Add, RawAction::Operand { value, .. }) => {
                let value = resolver.value(*value)?;
                check_operand_type("ADD", &value)?;
                UpdateAction::Add { path, value }
            }
            (_, RawAction::Operand { value, .. }) => {
                let value = resolver.value(*value)?;
                check_operand_type("DELETE", &value)?;
                UpdateAction::Delete { path, value }
            }
        });
    }
    Ok(UpdateExpr {
        actions: built.into_iter().flatten().collect(),
        legacy: false,
    })
}

fn set_value(resolver: &mut Resolver<'_, '_, '_, '_>, node: &RawNode) -> Result<SetValue, String> {
    let RawNode::Arith { op, left, right } = node else {
        return Ok(SetValue::Operand(set_operand(resolver, node)?));
    };
    let left = set_operand(resolver, left)?;
    let right = set_operand(resolver, right)?;
    check_type(op.symbol(), AttributeType::N, &[&left, &right])?;
    resolver.count_operator()?;
    Ok(SetValue::Arith(*op, left, right))
}

fn set_operand(
    resolver: &mut Resolver<'_, '_, '_, '_>,
    node: &RawNode,
) -> Result<SetOperand, String> {
    match node {
        RawNode::Path(path) => Ok(SetOperand::Path(resolver.path(path)?)),
        RawNode::Value(token) => Ok(SetOperand::Value(resolver.value(*token)?)),
        RawNode::Call { name, args } => {
            let name = resolver_text(resolver, *name);
            let args = args
                .iter()
                .map(|a| set_operand(resolver, a))
                .collect::<Result<Vec<_>, _>>()?;
            function(&name, args)
        }
        // The update grammar allows no other node here; `checks` rejects it first.
        _ => Err(messages::detail(messages::SYNTAX_ERROR, &[])),
    }
}

fn resolver_text(resolver: &Resolver<'_, '_, '_, '_>, token: u32) -> String {
    resolver.token_text(token).to_owned()
}

fn function(name: &str, args: Vec<SetOperand>) -> Result<SetOperand, String> {
    if args.len() != 2 {
        let count = args.len();
        return Err(messages::detail(
            OPERAND_COUNT,
            &[
                ("operator or function", &name),
                ("number of operands", &count),
            ],
        ));
    }
    let mut args = args.into_iter();
    let (Some(first), Some(second)) = (args.next(), args.next()) else {
        return Err(messages::detail(messages::SYNTAX_ERROR, &[]));
    };
    if name == "list_append" {
        check_type(name, AttributeType::L, &[&first, &second])?;
        return Ok(SetOperand::ListAppend(Box::new(first), Box::new(second)));
    }
    let SetOperand::Path(path) = first else {
        return Err(messages::detail(
            OPERAND_PATH,
            &[("operator or function", &name)],
        ));
    };
    Ok(SetOperand::IfNotExists(path, Box::new(second)))
}

/// The statically known type of a SET operand.
fn static_type(operand: &SetOperand) -> Option<AttributeType> {
    match operand {
        SetOperand::Value(value) => Some(value.attribute_type()),
        SetOperand::ListAppend(..) => Some(AttributeType::L),
        SetOperand::Path(_) | SetOperand::IfNotExists(..) => None,
    }
}

fn check_type(name: &str, expected: AttributeType, operands: &[&SetOperand]) -> Result<(), String> {
    for operand in operands {
        if let Some(found) = static_type(operand).filter(|t| *t != expected) {
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

/// ADD takes numbers and sets, DELETE only sets; DynamoDB names the type in long form.
fn check_operand_type(operator: &str, value: &AttributeValue) -> Result<(), String> {
    let allowed = match value.attribute_type() {
        AttributeType::Ss | AttributeType::Ns | AttributeType::Bs => true,
        AttributeType::N => operator == "ADD",
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let long_name = match value.attribute_type() {
        AttributeType::S => "STRING",
        AttributeType::N => "NUMBER",
        AttributeType::B => "BINARY",
        AttributeType::Bool => "BOOLEAN",
        AttributeType::Null => "NULL",
        AttributeType::L => "LIST",
        AttributeType::M => "MAP",
        other => other.name(),
    };
    let type_set = format!("ALLOWED_FOR_{operator}_OPERAND");
    Err(messages::detail(
        OPERAND_TYPE,
        &[
            ("operator", &operator),
            ("operand type", &long_name),
            ("typeSet", &type_set),
        ],
    ))
}
