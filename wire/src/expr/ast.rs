//! The resolved expression trees an operation keeps and evaluates.
//!
//! Invariant: a tree owns all its data (names from ExpressionAttributeNames substituted, values
//! from ExpressionAttributeValues copied in), so it borrows nothing from the request and can be
//! cached or shared; every tree was produced by `resolve`, `update`, `projection` or `legacy`
//! and has passed all static checks (placeholders, reserved words, types of request values,
//! path depth and overlap), so evaluation needs no further validation of the request.
//! Does not evaluate: see `eval`, `apply` and `projection`.

use std::fmt;

use crate::value::{AttributeType, AttributeValue};

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A map key (or, first in a path, a top-level attribute name).
    Name(String),
    /// A list index.
    Index(u32),
}

/// A document path: a top-level attribute name followed by map keys and list indexes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    elements: Vec<PathElement>,
}

impl Path {
    /// A path from its elements; the first must be a `Name` (the parser guarantees it).
    pub fn new(elements: Vec<PathElement>) -> Path {
        debug_assert!(matches!(elements.first(), Some(PathElement::Name(_))));
        Path { elements }
    }

    /// A path of one top-level attribute.
    pub fn attribute(name: &str) -> Path {
        Path {
            elements: vec![PathElement::Name(name.to_owned())],
        }
    }

    /// The elements, first to last.
    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute name.
    pub fn head(&self) -> &str {
        match self.elements.first() {
            Some(PathElement::Name(name)) => name,
            _ => "",
        }
    }
}

/// DynamoDB's rendering in messages: `[a, b, [2], c]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (position, element) in self.elements.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            match element {
                PathElement::Name(name) => f.write_str(name)?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        f.write_str("]")
    }
}

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator's symbol, as DynamoDB names it in messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// True for the ordering operators (defined on S, N and B only).
    pub fn is_ordering(self) -> bool {
        !matches!(self, Comparator::Eq | Comparator::Ne)
    }
}

/// `+` or `-` in a SET value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Subtract,
}

impl ArithOp {
    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Subtract => "-",
        }
    }
}

/// True for S, N and B, the types that can be ordered (§1.6).
pub fn is_scalar(value_type: AttributeType) -> bool {
    matches!(
        value_type,
        AttributeType::S | AttributeType::N | AttributeType::B
    )
}

/// An operand of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// An attribute of the item.
    Path(Path),
    /// A value from ExpressionAttributeValues (or a legacy AttributeValueList).
    Value(AttributeValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

/// A condition (ConditionExpression, FilterExpression, or a translated legacy condition).
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `left op right`.
    Compare {
        /// The comparator.
        op: Comparator,
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `subject BETWEEN lower AND upper`.
    Between {
        /// The tested operand.
        subject: Operand,
        /// Inclusive lower bound.
        lower: Operand,
        /// Inclusive upper bound.
        upper: Operand,
    },
    /// `subject IN (list...)`.
    In {
        /// The tested operand.
        subject: Operand,
        /// The candidates (1 to 100).
        list: Vec<Operand>,
    },
    /// `attribute_exists(path)`.
    Exists(Path),
    /// `attribute_not_exists(path)`.
    NotExists(Path),
    /// `attribute_type(operand, :type)`.
    Type(Operand, AttributeType),
    /// `begins_with(operand, prefix)`.
    BeginsWith(Operand, Operand),
    /// `contains(operand, element)`.
    Contains(Operand, Operand),
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
}
