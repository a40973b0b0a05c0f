//! Value comparisons and the value functions of conditions (§1.6, §8.3).
//!
//! Invariant: ordering is defined only between two S (UTF-8 bytes), two N (numeric) or two B
//! (unsigned bytes) values; every other pair is unordered (`None`), which conditions treat as
//! false. Equality is the data model's deep equality (sets ignore order).
//! Does not know where operands come from: `resolve` rejects request values of the wrong
//! type before evaluation, `eval` turns `None` into false.

use std::cmp::Ordering;

use crate::number::Number;
use crate::value::AttributeValue;

/// Order of two scalars of the same type (S, N or B), else `None`.
pub(crate) fn compare_scalars(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    left.compare(right)
}

/// `size(value)`: string length in UTF-16 code units (as DynamoDB reports it), bytes of a
/// binary, elements of a set or list, entries of a map; `None` for N, BOOL and NULL.
pub(crate) fn size_of(value: &AttributeValue) -> Option<Number> {
    let size = match value {
        AttributeValue::S(text) => text.encode_utf16().count(),
        AttributeValue::B(bytes) => bytes.len(),
        AttributeValue::Ss(set) => set.len(),
        AttributeValue::Ns(set) => set.len(),
        AttributeValue::Bs(set) => set.len(),
        AttributeValue::L(list) => list.len(),
        AttributeValue::M(map) => map.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    };
    Some(Number::from(size as i64))
}

/// `begins_with(value, prefix)`: a string or binary prefix of the same type.
pub(crate) fn begins_with(value: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (value, prefix) {
        (AttributeValue::S(text), AttributeValue::S(prefix)) => text.starts_with(prefix.as_str()),
        (AttributeValue::B(bytes), AttributeValue::B(prefix)) => bytes.starts_with(prefix),
        _ => false,
    }
}

/// `contains(value, operand)`: substring, sub-bytes, set membership or list element.
pub(crate) fn contains(value: &AttributeValue, operand: &AttributeValue) -> bool {
    match (value, operand) {
        (AttributeValue::S(text), AttributeValue::S(part)) => text.contains(part.as_str()),
        (AttributeValue::B(bytes), AttributeValue::B(part)) => {
            part.is_empty()
                || bytes
                    .windows(part.len())
                    .any(|window| window == part.as_slice())
        }
        (AttributeValue::Ss(set), AttributeValue::S(member)) => set.contains(member),
        (AttributeValue::Ns(set), AttributeValue::N(member)) => set.contains(member),
        (AttributeValue::Bs(set), AttributeValue::B(member)) => set.contains(member),
        (AttributeValue::L(list), element) => list.contains(element),
        _ => false,
    }
}

/// DynamoDB's rendering of a value inside a message: `AttributeValue: {N:1}`.
pub(crate) fn describe(value: &AttributeValue) -> String {
    let body = match value {
        AttributeValue::S(text) => format!("S:{text}"),
        AttributeValue::N(number) => format!("N:{number}"),
        AttributeValue::B(bytes) => format!("B:{}", hex(bytes)),
        other => other.attribute_type().name().to_string(),
    };
    format!("AttributeValue: {{{body}}}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    #[test]
    fn ordering_is_by_type() {
        assert_eq!(compare_scalars(&s("a"), &s("B")), Some(Ordering::Greater));
        assert_eq!(compare_scalars(&s("¿"), &s("z")), Some(Ordering::Greater));
        assert_eq!(compare_scalars(&n("10"), &n("9")), Some(Ordering::Greater));
        assert_eq!(
            compare_scalars(&n("1e3"), &n("1000")),
            Some(Ordering::Equal)
        );
        let low = AttributeValue::B(vec![0x7f]);
        let high = AttributeValue::B(vec![0x80]);
        assert_eq!(compare_scalars(&low, &high), Some(Ordering::Less));
        assert_eq!(compare_scalars(&s("1"), &n("1")), None);
        assert_eq!(
            compare_scalars(&AttributeValue::Null, &AttributeValue::Null),
            None
        );
    }

    #[test]
    fn functions_follow_the_types() {
        assert_eq!(size_of(&s("héllo")), Some(Number::from(5)));
        assert_eq!(size_of(&s("😀")), Some(Number::from(2)));
        assert_eq!(size_of(&n("5")), None);
        assert!(begins_with(&s("hello"), &s("he")));
        assert!(!begins_with(
            &s("hello"),
            &AttributeValue::B(b"he".to_vec())
        ));
        assert!(contains(&s("hello"), &s("ll")));
        assert!(contains(
            &AttributeValue::B(b"hello".to_vec()),
            &AttributeValue::B(b"el".to_vec())
        ));
        assert!(contains(
            &AttributeValue::Ns(vec![Number::from(1)]),
            &n("1.0")
        ));
        assert!(contains(&AttributeValue::L(vec![s("x"), n("2")]), &n("2")));
        assert!(!contains(&AttributeValue::M(Default::default()), &s("k")));
        assert_eq!(describe(&n("1")), "AttributeValue: {N:1}");
        assert_eq!(describe(&s("a")), "AttributeValue: {S:a}");
    }
}
