//! DynamoDB attribute values: the ten types (dynamodb-semantics.md §1.2), deep equality
//! (§1.5), the type comparison rules (§1.6) and the size accounting of §2.3.
//!
//! Invariant: equality is DynamoDB's deep equality (sets compare as sets, maps ignore key
//! order, lists compare element-wise; different types are never equal), and sizes are
//! computed exactly by §2.3's table. Numbers are always normalised ([`Number`]).
//! Does not validate (empty sets, duplicates, nesting, key rules: see `validate`); a value in
//! memory may be invalid until it has passed validation.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use rkyv::{Archive, Deserialize, Serialize};

use crate::number::Number;

/// An item: attribute name → value. Names are case-sensitive UTF-8.
pub type Item = BTreeMap<String, AttributeValue>;

/// One typed DynamoDB value.
#[derive(Archive, Serialize, Deserialize, Clone, Debug)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(__C: rkyv::validation::ArchiveContext)))]
#[rkyv(derive(Debug))]
pub enum AttributeValue {
    /// String (UTF-8).
    S(String),
    /// Number.
    N(Number),
    /// Binary.
    B(Vec<u8>),
    /// Boolean (`BOOL`).
    Bool(bool),
    /// Null (`NULL`; always true on the wire).
    Null,
    /// Map (document).
    M(#[rkyv(omit_bounds)] BTreeMap<String, AttributeValue>),
    /// List (document).
    L(#[rkyv(omit_bounds)] Vec<AttributeValue>),
    /// String set.
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<Number>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
}

/// The ten attribute types, named as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeType {
    /// `S`
    S,
    /// `N`
    N,
    /// `B`
    B,
    /// `BOOL`
    Bool,
    /// `NULL`
    Null,
    /// `M`
    M,
    /// `L`
    L,
    /// `SS`
    Ss,
    /// `NS`
    Ns,
    /// `BS`
    Bs,
}

impl AttributeType {
    /// All types, in wire-name order of the table in §1.2.
    pub const ALL: [AttributeType; 10] = [
        AttributeType::S,
        AttributeType::N,
        AttributeType::B,
        AttributeType::Bool,
        AttributeType::Null,
        AttributeType::M,
        AttributeType::L,
        AttributeType::Ss,
        AttributeType::Ns,
        AttributeType::Bs,
    ];

    /// The wire name: "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS".
    pub fn name(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
            AttributeType::Bool => "BOOL",
            AttributeType::Null => "NULL",
            AttributeType::M => "M",
            AttributeType::L => "L",
            AttributeType::Ss => "SS",
            AttributeType::Ns => "NS",
            AttributeType::Bs => "BS",
        }
    }

    /// The type with this exact (case-sensitive) wire name.
    pub fn from_name(name: &str) -> Option<AttributeType> {
        AttributeType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AttributeValue {
    /// The value's type.
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            AttributeValue::S(_) => AttributeType::S,
            AttributeValue::N(_) => AttributeType::N,
            AttributeValue::B(_) => AttributeType::B,
            AttributeValue::Bool(_) => AttributeType::Bool,
            AttributeValue::Null => AttributeType::Null,
            AttributeValue::M(_) => AttributeType::M,
            AttributeValue::L(_) => AttributeType::L,
            AttributeValue::Ss(_) => AttributeType::Ss,
            AttributeValue::Ns(_) => AttributeType::Ns,
            AttributeValue::Bs(_) => AttributeType::Bs,
        }
    }

    /// The wire name of the value's type: "S", "N", "B", "BOOL", "NULL", "M", "L", "SS",
    /// "NS", "BS".
    pub fn type_name(&self) -> &'static str {
        self.attribute_type().name()
    }

    /// True for the set types (SS, NS, BS).
    pub fn is_set(&self) -> bool {
        matches!(
            self,
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
        )
    }

    /// True for the document types (M, L).
    pub fn is_document(&self) -> bool {
        matches!(self, AttributeValue::M(_) | AttributeValue::L(_))
    }

    /// The §1.6 ordering: defined for S with S (UTF-8 bytes), N with N (numeric) and B with B
    /// (unsigned bytes); `None` for every other pair (the caller decides whether that is
    /// `false` or a `ValidationException`).
    pub fn compare(&self, other: &AttributeValue) -> Option<Ordering> {
        match (self, other) {
            (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
            (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.as_slice().cmp(b.as_slice())),
            _ => None,
        }
    }

    /// Size in DynamoDB's item-size accounting (§2.3), without any attribute name.
    pub fn size_bytes(&self) -> u64 {
        match self {
            AttributeValue::S(s) => s.len() as u64,
            AttributeValue::N(n) => u64::from(n.size_bytes()),
            AttributeValue::B(b) => b.len() as u64,
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(map) => {
                let entries: u64 = map
                    .iter()
                    .map(|(name, value)| name.len() as u64 + value.size_bytes())
                    .sum();
                DOCUMENT_OVERHEAD_BYTES + entries + map.len() as u64
            }
            AttributeValue::L(list) => {
                let elements: u64 = list.iter().map(AttributeValue::size_bytes).sum();
                DOCUMENT_OVERHEAD_BYTES + elements + list.len() as u64
            }
            AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
            AttributeValue::Ns(set) => set.iter().map(|n| u64::from(n.size_bytes())).sum(),
            AttributeValue::Bs(set) => set.iter().map(|b| b.len() as u64).sum(),
        }
    }

    /// Nesting depth of documents inside this value: 0 for scalars and sets, 1 for a map or
    /// list of scalars, 1 + the deepest child for documents. The item is level 1 and a
    /// top-level attribute that is a document sits at level 2, so a top-level value is valid
    /// when `1 + document_depth() <= DOCUMENT_DEPTH_MAX`.
    pub fn document_depth(&self) -> u32 {
        match self {
            AttributeValue::M(map) => 1 + map.values().map(Self::document_depth).max().unwrap_or(0),
            AttributeValue::L(list) => 1 + list.iter().map(Self::document_depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// Per-document overhead of M and L in §2.3's size accounting.
pub const DOCUMENT_OVERHEAD_BYTES: u64 = 3;

/// Size of an item in DynamoDB's accounting (§2.3): Σ (UTF-8 name length + value size).
pub fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value.size_bytes())
        .sum()
}

impl PartialEq for AttributeValue {
    /// Deep equality (§1.5): sets are order-insensitive, maps key-order-insensitive, lists
    /// ordered; different types are never equal.
    fn eq(&self, other: &AttributeValue) -> bool {
        match (self, other) {
            (AttributeValue::S(a), AttributeValue::S(b)) => a == b,
            (AttributeValue::N(a), AttributeValue::N(b)) => a == b,
            (AttributeValue::B(a), AttributeValue::B(b)) => a == b,
            (AttributeValue::Bool(a), AttributeValue::Bool(b)) => a == b,
            (AttributeValue::Null, AttributeValue::Null) => true,
            (AttributeValue::M(a), AttributeValue::M(b)) => a == b,
            (AttributeValue::L(a), AttributeValue::L(b)) => a == b,
            (AttributeValue::Ss(a), AttributeValue::Ss(b)) => set_eq(a, b),
            (AttributeValue::Ns(a), AttributeValue::Ns(b)) => set_eq(a, b),
            (AttributeValue::Bs(a), AttributeValue::Bs(b)) => set_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for AttributeValue {}

/// Set equality: the same distinct members, in any order.
fn set_eq<T: Ord>(a: &[T], b: &[T]) -> bool {
    if a.len() == b.len() && a == b {
        return true;
    }
    let mut a: Vec<&T> = a.iter().collect();
    let mut b: Vec<&T> = b.iter().collect();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

impl From<Number> for AttributeValue {
    fn from(number: Number) -> AttributeValue {
        AttributeValue::N(number)
    }
}

impl From<&str> for AttributeValue {
    fn from(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(text: String) -> AttributeValue {
        AttributeValue::S(text)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> AttributeValue {
        AttributeValue::Bool(value)
    }
}

impl From<Vec<u8>> for AttributeValue {
    fn from(bytes: Vec<u8>) -> AttributeValue {
        AttributeValue::B(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    /// Strategy for numbers: random digit counts, digits and exponents, all within range.
    pub(crate) fn number_strategy() -> impl Strategy<Value = Number> {
        (any::<bool>(), 1u32..=38)
            .prop_flat_map(|(negative, digits)| {
                let low = 10u128.pow(digits - 1);
                let span = digits as i32 - 1;
                (Just(negative), low..low * 10, -130 - span..=125 - span)
            })
            .prop_map(|(negative, coefficient, exponent)| {
                Number::from_parts(negative, coefficient, exponent).expect("in range")
            })
    }

    /// Strategy for arbitrary (not necessarily valid) attribute values, small and shallow.
    pub(crate) fn value_strategy() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            ".{0,8}".prop_map(AttributeValue::S),
            number_strategy().prop_map(AttributeValue::N),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null),
            proptest::collection::vec(".{0,4}", 1..4).prop_map(AttributeValue::Ss),
            proptest::collection::vec(number_strategy(), 1..4).prop_map(AttributeValue::Ns),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), 1..4)
                .prop_map(AttributeValue::Bs),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::btree_map("[a-z]{1,4}", inner.clone(), 0..4)
                    .prop_map(AttributeValue::M),
                proptest::collection::vec(inner, 0..4).prop_map(AttributeValue::L),
            ]
        })
    }

    #[test]
    fn type_names() {
        let cases = [
            (AttributeValue::S(String::new()), "S"),
            (n("1"), "N"),
            (AttributeValue::B(vec![]), "B"),
            (AttributeValue::Bool(true), "BOOL"),
            (AttributeValue::Null, "NULL"),
            (AttributeValue::M(BTreeMap::new()), "M"),
            (AttributeValue::L(vec![]), "L"),
            (AttributeValue::Ss(vec![]), "SS"),
            (AttributeValue::Ns(vec![]), "NS"),
            (AttributeValue::Bs(vec![]), "BS"),
        ];
        for (value, name) in cases {
            assert_eq!(value.type_name(), name);
            assert_eq!(AttributeType::from_name(name), Some(value.attribute_type()));
        }
        assert_eq!(AttributeType::from_name("bool"), None);
    }

    #[test]
    fn deep_equality() {
        let ss = |v: &[&str]| AttributeValue::Ss(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(ss(&["a", "b"]), ss(&["b", "a"]));
        assert_ne!(ss(&["a", "b"]), ss(&["a", "c"]));
        assert_ne!(ss(&["a"]), ss(&["a", "b"]));
        let ns =
            |v: &[&str]| AttributeValue::Ns(v.iter().map(|s| Number::parse(s).unwrap()).collect());
        assert_eq!(ns(&["1", "2.50"]), ns(&["2.5", "1.0"]));
        assert_eq!(n("1000"), n("1e3"));
        assert_ne!(n("1"), AttributeValue::S("1".into()));
        let list = |v: Vec<AttributeValue>| AttributeValue::L(v);
        assert_ne!(list(vec![n("1"), n("2")]), list(vec![n("2"), n("1")]));
        let map_a = AttributeValue::M(BTreeMap::from([
            ("x".to_owned(), ss(&["p", "q"])),
            ("y".to_owned(), list(vec![n("1")])),
        ]));
        let map_b = AttributeValue::M(BTreeMap::from([
            ("y".to_owned(), list(vec![n("1.0")])),
            ("x".to_owned(), ss(&["q", "p"])),
        ]));
        assert_eq!(map_a, map_b);
        assert_ne!(AttributeValue::Null, AttributeValue::Bool(false));
    }

    #[test]
    fn comparison_rules() {
        let s = |t: &str| AttributeValue::S(t.to_owned());
        assert_eq!(s("a").compare(&s("A")), Some(Ordering::Greater));
        assert_eq!(s("¿").compare(&s("z")), Some(Ordering::Greater));
        assert_eq!(n("10").compare(&n("9")), Some(Ordering::Greater));
        let b = |v: &[u8]| AttributeValue::B(v.to_vec());
        assert_eq!(b(&[0x80]).compare(&b(&[0x7f])), Some(Ordering::Greater));
        assert_eq!(s("1").compare(&n("1")), None);
        assert_eq!(
            AttributeValue::Bool(true).compare(&AttributeValue::Bool(true)),
            None
        );
    }

    #[test]
    fn sizes_follow_the_accounting_table() {
        let item: Item = BTreeMap::from([
            ("shirt-color".to_owned(), AttributeValue::S("R".into())),
            ("shirt-size".to_owned(), AttributeValue::S("M".into())),
        ]);
        assert_eq!(item_size(&item), 23);
        assert_eq!(n("12345").size_bytes(), 4);
        assert_eq!(AttributeValue::Null.size_bytes(), 1);
        assert_eq!(AttributeValue::Bool(false).size_bytes(), 1);
        assert_eq!(AttributeValue::B(vec![1, 2, 3]).size_bytes(), 3);
        // L: 3 + (1 + 1) + (2 + 1) = 8.
        assert_eq!(
            AttributeValue::L(vec![AttributeValue::Null, n("7")]).size_bytes(),
            8
        );
        // M: 3 + ("ab" 2 + "xyz" 3 + 1) = 9.
        let map = AttributeValue::M(BTreeMap::from([("ab".to_owned(), "xyz".into())]));
        assert_eq!(map.size_bytes(), 9);
        assert_eq!(
            AttributeValue::Ss(vec!["a".into(), "bc".into()]).size_bytes(),
            3
        );
        let ns = AttributeValue::Ns(vec![Number::from(1), Number::from(123)]);
        assert_eq!(ns.size_bytes(), 2 + 3);
    }

    #[test]
    fn document_depth() {
        let mut value = AttributeValue::S("leaf".into());
        assert_eq!(value.document_depth(), 0);
        for depth in 1..=5 {
            value = AttributeValue::L(vec![value]);
            assert_eq!(value.document_depth(), depth);
        }
    }

    proptest! {
        #[test]
        fn rkyv_round_trip(value in value_strategy()) {
            let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&value).unwrap();
            let archived =
                rkyv::access::<ArchivedAttributeValue, rkyv::rancor::Error>(&bytes).unwrap();
            let back: AttributeValue =
                rkyv::deserialize::<AttributeValue, rkyv::rancor::Error>(archived).unwrap();
            prop_assert_eq!(back, value);
        }

        #[test]
        fn equality_is_reflexive_and_symmetric(a in value_strategy(), b in value_strategy()) {
            prop_assert_eq!(&a, &a.clone());
            prop_assert_eq!(a == b, b == a);
        }
    }
}
