//! The syntax tree: what the parser recognised, before names, values and rules are checked.
//!
//! Invariant: nodes refer to the source only through token indexes into the `Tokens` they were
//! parsed from, so the tree is cheap to build and never owns request data; parentheses leave
//! no node behind (the parser has already judged them). A condition tree may still hold an
//! operand where a condition belongs only for function calls (`size(a)` alone): the checks
//! reject that with DynamoDB's message rather than a syntax error.
//! Does not resolve anything: `checks` and `resolve` turn it into the `ast`.

use super::ast::{ArithOp, Comparator};

/// Index of a token in `Tokens::tokens`.
pub(crate) type TokenIndex = u32;

/// One element of a document path as written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RawElement {
    /// A bare name (`Ident` token).
    Name(TokenIndex),
    /// A `#name` reference.
    NameRef(TokenIndex),
    /// A list index (`Digits` token between brackets).
    Index(TokenIndex),
}

/// A document path as written: a name or reference followed by `.name` and `[index]` steps.
#[derive(Clone, Debug)]
pub(crate) struct RawPath {
    pub elements: Vec<RawElement>,
}

/// A node of a condition or of an update's SET value.
#[derive(Debug)]
pub(crate) enum RawNode {
    Path(RawPath),
    /// A `:value` reference.
    Value(TokenIndex),
    /// A function call: name token and arguments.
    Call {
        name: TokenIndex,
        args: Vec<RawNode>,
    },
    Compare {
        op: Comparator,
        left: Box<RawNode>,
        right: Box<RawNode>,
    },
    Between {
        subject: Box<RawNode>,
        lower: Box<RawNode>,
        upper: Box<RawNode>,
    },
    In {
        subject: Box<RawNode>,
        list: Vec<RawNode>,
    },
    And(Box<RawNode>, Box<RawNode>),
    Or(Box<RawNode>, Box<RawNode>),
    Not(Box<RawNode>),
    /// `+` or `-` in a SET value.
    Arith {
        op: ArithOp,
        left: Box<RawNode>,
        right: Box<RawNode>,
    },
}

impl RawNode {
    /// True for nodes that can only be conditions.
    pub fn is_condition(&self) -> bool {
        matches!(
            self,
            RawNode::Compare { .. }
                | RawNode::Between { .. }
                | RawNode::In { .. }
                | RawNode::And(..)
                | RawNode::Or(..)
                | RawNode::Not(..)
        )
    }

    /// True for nodes that can only be operands.
    pub fn is_operand(&self) -> bool {
        matches!(
            self,
            RawNode::Path(_) | RawNode::Value(_) | RawNode::Arith { .. }
        )
    }
}

/// The four clauses of an update expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClauseKind {
    Set,
    Remove,
    Add,
    Delete,
}

impl ClauseKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ClauseKind::Set => "SET",
            ClauseKind::Remove => "REMOVE",
            ClauseKind::Add => "ADD",
            ClauseKind::Delete => "DELETE",
        }
    }
}

/// One action of an update clause.
#[derive(Debug)]
pub(crate) enum RawAction {
    Set {
        path: RawPath,
        value: RawNode,
    },
    Remove {
        path: RawPath,
    },
    /// ADD or DELETE (the clause says which): a path and a `:value` token.
    Operand {
        path: RawPath,
        value: TokenIndex,
    },
}

impl RawAction {
    pub fn path(&self) -> &RawPath {
        match self {
            RawAction::Set { path, .. }
            | RawAction::Remove { path }
            | RawAction::Operand { path, .. } => path,
        }
    }
}

/// One clause of an update expression.
#[derive(Debug)]
pub(crate) struct RawClause {
    pub kind: ClauseKind,
    pub actions: Vec<RawAction>,
}
