//! Storage-key encoding and the partition-key hash.
//!
//! A storage key is `table id ‖ partition hash ‖ partition key ‖ [sort key]` in bytes whose
//! lexicographic (memcmp) order is DynamoDB's order (§2.2): S by UTF-8 bytes, N numerically,
//! B by unsigned bytes. Within one table and one partition key, keys sort by sort key, so a
//! Query is one range scan ([`sort_range`]); the hash after the table id makes every
//! partition (a hash range, see `cluster::PartitionMapEntry`) one contiguous range too
//! ([`hash_range`]), which splits, snapshots and parallel Scan segments use.
//!
//! Layout (documented byte by byte in wire/PROTOCOL.md, "Storage keys"):
//!
//! ```text
//! table id       u64 big-endian (8 bytes)
//! hash           u64 big-endian (8 bytes) = partition_hash(partition key)
//! partition key  component (below)
//! sort key       component (below), absent for tables without a sort key
//!
//! component B    0x01, bytes with 0x00 escaped as 0x00 0xFF, then 0x00
//! component S    0x02, UTF-8 bytes escaped like B, then 0x00
//! component N<0  0x03, 255 - (e + 130), 101 - pair..., 0xFF
//! component N=0  0x04
//! component N>0  0x05, e + 130, pair..., 0x00
//! ```
//!
//! where `e` is the exponent of the leading digit (-130..=125, so `e + 130` fits a byte) and
//! each `pair` is `1 + 10 × d1 + d2` for consecutive significant digits (the last pair of an
//! odd count has `d2 = 0`): pairs are 1..=100, so the terminators 0x00 and 0xFF never occur
//! inside a number, and every component is self-delimiting.
//!
//! The partition hash is frozen forever (it decides where data lives): XXH3-64 with seed 0
//! over the canonical key bytes `type letter ‖ payload` (`b'S' ‖ UTF-8`, `b'B' ‖ raw bytes`,
//! `b'N' ‖ canonical decimal text`, e.g. `N1000` for `1e3`). Golden vectors in the tests fail
//! if it ever changes.
//!
//! Invariant: `decode_key(encode_key(k)) == k`, and `encode(a) < encode(b)` exactly when
//! `a < b` in DynamoDB's order (property-tested). Does not validate keys against a schema
//! (see `validate`), and does not know about index keys beyond offering the components.

use std::ops::Bound;

use xxhash_rust::xxh3::xxh3_64;

use crate::cluster::TableId;
use crate::limits::{NUMBER_DIGITS_MAX, NUMBER_EXPONENT_MAX, NUMBER_EXPONENT_MIN};
use crate::number::Number;
use crate::value::AttributeValue;

/// Component tag of a binary value.
pub const TAG_B: u8 = 0x01;
/// Component tag of a string value.
pub const TAG_S: u8 = 0x02;
/// Component tag of a negative number.
pub const TAG_N_NEGATIVE: u8 = 0x03;
/// Component tag of zero.
pub const TAG_N_ZERO: u8 = 0x04;
/// Component tag of a positive number.
pub const TAG_N_POSITIVE: u8 = 0x05;
/// Bytes before the first component: table id and hash.
pub const KEY_PREFIX_SIZE: usize = 16;

/// Bias that maps a leading exponent (-130..=125) to one byte.
const EXPONENT_BIAS: i32 = -NUMBER_EXPONENT_MIN;
const _: () = assert!(NUMBER_EXPONENT_MAX + EXPONENT_BIAS <= 255);

/// Why a value cannot be a key or bytes are not a storage key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Only S, N and B values can be keys.
    #[error("a key value must be S, N or B, not {type_name}")]
    NotScalar {
        /// The offending type.
        type_name: &'static str,
    },
    /// `begins_with` applies to S and B sort keys only.
    #[error("begins_with is not defined for {type_name} keys")]
    PrefixNotSupported {
        /// The offending type.
        type_name: &'static str,
    },
    /// The bytes end in the middle of a key.
    #[error("storage key truncated at byte {offset}")]
    Truncated {
        /// Where the bytes ran out.
        offset: usize,
    },
    /// The bytes are not a valid storage key.
    #[error("malformed storage key at byte {offset}: {reason}")]
    Malformed {
        /// Where the problem starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A decoded storage key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageKey {
    /// The table.
    pub table: TableId,
    /// The partition hash stored in the key.
    pub hash: u64,
    /// The partition-key value.
    pub partition: AttributeValue,
    /// The sort-key value, for tables with a sort key.
    pub sort: Option<AttributeValue>,
}

/// A range of storage keys, as the B+tree scans it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// Lower bound.
    pub start: Bound<Vec<u8>>,
    /// Upper bound.
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// True if `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.start {
            Bound::Included(start) => key >= start.as_slice(),
            Bound::Excluded(start) => key > start.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match &self.end {
            Bound::Included(end) => key <= end.as_slice(),
            Bound::Excluded(end) => key < end.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    }
}

/// A sort-key condition of a Query (§8.5), with values already resolved.
#[derive(Clone, Copy, Debug)]
pub enum SortCondition<'a> {
    /// `sk = v`
    Eq(&'a AttributeValue),
    /// `sk < v`
    Lt(&'a AttributeValue),
    /// `sk <= v`
    Le(&'a AttributeValue),
    /// `sk > v`
    Gt(&'a AttributeValue),
    /// `sk >= v`
    Ge(&'a AttributeValue),
    /// `sk BETWEEN low AND high` (inclusive)
    Between(&'a AttributeValue, &'a AttributeValue),
    /// `begins_with(sk, prefix)`, S and B only
    BeginsWith(&'a AttributeValue),
}

/// The frozen partition-key hash: XXH3-64, seed 0, over `type letter ‖ payload` (see the
/// module doc). Equal keys (`1000` and `1e3`) hash equally.
pub fn partition_hash(value: &AttributeValue) -> Result<u64, KeyError> {
    let mut canonical = Vec::with_capacity(1 + key_payload_hint(value));
    match value {
        AttributeValue::S(s) => {
            canonical.push(b'S');
            canonical.extend_from_slice(s.as_bytes());
        }
        AttributeValue::N(n) => {
            canonical.push(b'N');
            canonical.extend_from_slice(n.to_string().as_bytes());
        }
        AttributeValue::B(b) => {
            canonical.push(b'B');
            canonical.extend_from_slice(b);
        }
        other => {
            return Err(KeyError::NotScalar {
                type_name: other.type_name(),
            });
        }
    }
    Ok(xxh3_64(&canonical))
}

fn key_payload_hint(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        _ => 48,
    }
}

/// Encodes a full storage key.
pub fn encode_key(
    table: TableId,
    partition: &AttributeValue,
    sort: Option<&AttributeValue>,
) -> Result<Vec<u8>, KeyError> {
    encode_key_with_hash(table, partition, sort).map(|(key, _)| key)
}

/// [`encode_key`] and the [`partition_hash`] it holds, hashed once.
pub fn encode_key_with_hash(
    table: TableId,
    partition: &AttributeValue,
    sort: Option<&AttributeValue>,
) -> Result<(Vec<u8>, u64), KeyError> {
    let hash = partition_hash(partition)?;
    let mut key = prefix_with_hash(table, hash, partition)?;
    if let Some(sort) = sort {
        encode_component(&mut key, sort)?;
    }
    Ok((key, hash))
}

/// The key prefix shared by every item of one partition key: table id, hash and the
/// partition-key component. For tables without a sort key this is the whole key.
pub fn partition_prefix(table: TableId, partition: &AttributeValue) -> Result<Vec<u8>, KeyError> {
    prefix_with_hash(table, partition_hash(partition)?, partition)
}

fn prefix_with_hash(
    table: TableId,
    hash: u64,
    partition: &AttributeValue,
) -> Result<Vec<u8>, KeyError> {
    let mut key = Vec::with_capacity(KEY_PREFIX_SIZE + 2 + key_payload_hint(partition) + 16);
    key.extend_from_slice(&table.0.to_be_bytes());
    key.extend_from_slice(&hash.to_be_bytes());
    encode_component(&mut key, partition)?;
    Ok(key)
}

/// Appends one order-preserving, self-delimiting component for an S, N or B value.
pub fn encode_component(out: &mut Vec<u8>, value: &AttributeValue) -> Result<(), KeyError> {
    match value {
        AttributeValue::B(bytes) => {
            out.push(TAG_B);
            escape_into(out, bytes);
            out.push(0x00);
        }
        AttributeValue::S(text) => {
            out.push(TAG_S);
            escape_into(out, text.as_bytes());
            out.push(0x00);
        }
        AttributeValue::N(number) => encode_number(out, number),
        other => {
            return Err(KeyError::NotScalar {
                type_name: other.type_name(),
            });
        }
    }
    Ok(())
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len());
    for &byte in bytes {
        out.push(byte);
        if byte == 0x00 {
            out.push(0xFF);
        }
    }
}

fn encode_number(out: &mut Vec<u8>, number: &Number) {
    if number.is_zero() {
        out.push(TAG_N_ZERO);
        return;
    }
    let negative = number.is_negative();
    let exponent = u8::try_from(number.leading_exponent() + EXPONENT_BIAS)
        .expect("a valid number's leading exponent is within -130..=125");
    out.push(if negative {
        TAG_N_NEGATIVE
    } else {
        TAG_N_POSITIVE
    });
    out.push(if negative { 255 - exponent } else { exponent });
    let digits = number.coefficient().to_string();
    for pair in digits.as_bytes().chunks(2) {
        let high = pair[0] - b'0';
        let low = pair.get(1).map_or(0, |d| d - b'0');
        let code = 1 + 10 * high + low;
        out.push(if negative { 101 - code } else { code });
    }
    out.push(if negative { 0xFF } else { 0x00 });
}

/// Decodes a storage key produced by [`encode_key`].
pub fn decode_key(bytes: &[u8]) -> Result<StorageKey, KeyError> {
    if bytes.len() < KEY_PREFIX_SIZE {
        return Err(KeyError::Truncated {
            offset: bytes.len(),
        });
    }
    let table = TableId(u64::from_be_bytes(bytes[0..8].try_into().expect("8 bytes")));
    let hash = u64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let mut offset = KEY_PREFIX_SIZE;
    let partition = decode_component(bytes, &mut offset)?;
    let sort = if offset < bytes.len() {
        Some(decode_component(bytes, &mut offset)?)
    } else {
        None
    };
    if offset != bytes.len() {
        return Err(KeyError::Malformed {
            offset,
            reason: "bytes after the sort key",
        });
    }
    Ok(StorageKey {
        table,
        hash,
        partition,
        sort,
    })
}

/// Decodes one component starting at `*offset`, advancing it past the component.
pub fn decode_component(bytes: &[u8], offset: &mut usize) -> Result<AttributeValue, KeyError> {
    let tag = *bytes
        .get(*offset)
        .ok_or(KeyError::Truncated { offset: *offset })?;
    *offset += 1;
    match tag {
        TAG_B => Ok(AttributeValue::B(unescape(bytes, offset)?)),
        TAG_S => {
            let start = *offset;
            let raw = unescape(bytes, offset)?;
            let text = String::from_utf8(raw).map_err(|_| KeyError::Malformed {
                offset: start,
                reason: "invalid UTF-8",
            })?;
            Ok(AttributeValue::S(text))
        }
        TAG_N_ZERO => Ok(AttributeValue::N(Number::ZERO)),
        TAG_N_NEGATIVE | TAG_N_POSITIVE => {
            decode_number(bytes, offset, tag == TAG_N_NEGATIVE).map(AttributeValue::N)
        }
        _ => Err(KeyError::Malformed {
            offset: *offset - 1,
            reason: "unknown component tag",
        }),
    }
}

fn unescape(bytes: &[u8], offset: &mut usize) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    // Bounded by the input length: each step consumes at least one byte.
    loop {
        let byte = *bytes
            .get(*offset)
            .ok_or(KeyError::Truncated { offset: *offset })?;
        *offset += 1;
        if byte != 0x00 {
            out.push(byte);
            continue;
        }
        match bytes.get(*offset) {
            Some(0xFF) => {
                *offset += 1;
                out.push(0x00);
            }
            _ => return Ok(out),
        }
    }
}

fn decode_number(bytes: &[u8], offset: &mut usize, negative: bool) -> Result<Number, KeyError> {
    let start = *offset;
    let raw_exponent = *bytes
        .get(*offset)
        .ok_or(KeyError::Truncated { offset: *offset })?;
    *offset += 1;
    let exponent_byte = if negative {
        255 - raw_exponent
    } else {
        raw_exponent
    };
    let leading = i32::from(exponent_byte) - EXPONENT_BIAS;
    let terminator = if negative { 0xFF } else { 0x00 };
    let mut coefficient: u128 = 0;
    let mut digits: u32 = 0;
    let mut last_low_digit = 1;
    loop {
        let byte = *bytes
            .get(*offset)
            .ok_or(KeyError::Truncated { offset: *offset })?;
        *offset += 1;
        if byte == terminator {
            break;
        }
        let code = if negative {
            101u8.wrapping_sub(byte)
        } else {
            byte
        };
        if !(1..=100).contains(&code) || digits + 2 > NUMBER_DIGITS_MAX + 1 {
            return Err(KeyError::Malformed {
                offset: *offset - 1,
                reason: "bad digit pair",
            });
        }
        let pair = u128::from(code - 1);
        coefficient = coefficient * 100 + pair;
        digits += 2;
        last_low_digit = code - 1;
    }
    if digits == 0 {
        return Err(KeyError::Malformed {
            offset: start,
            reason: "number without digits",
        });
    }
    if last_low_digit % 10 == 0 {
        // An odd digit count: the last pair's low digit is padding.
        coefficient /= 10;
        digits -= 1;
    }
    let exponent = leading - i32::try_from(digits).expect("<= 39") + 1;
    let number =
        Number::from_parts(negative, coefficient, exponent).map_err(|_| KeyError::Malformed {
            offset: start,
            reason: "number out of range",
        })?;
    let canonical = number.coefficient() == coefficient && number.leading_exponent() == leading;
    if !canonical {
        return Err(KeyError::Malformed {
            offset: start,
            reason: "number not normalised",
        });
    }
    Ok(number)
}

/// Every key of a table.
pub fn table_range(table: TableId) -> KeyRange {
    let start = table.0.to_be_bytes().to_vec();
    let end = successor(&start).map_or(Bound::Unbounded, Bound::Excluded);
    KeyRange {
        start: Bound::Included(start),
        end,
    }
}

/// Every key of a table whose partition hash lies in `hash_start..=hash_end` (one partition
/// of the partition map).
pub fn hash_range(table: TableId, hash_start: u64, hash_end: u64) -> KeyRange {
    let mut start = table.0.to_be_bytes().to_vec();
    start.extend_from_slice(&hash_start.to_be_bytes());
    let mut last = table.0.to_be_bytes().to_vec();
    last.extend_from_slice(&hash_end.to_be_bytes());
    let end = successor(&last).map_or(Bound::Unbounded, Bound::Excluded);
    KeyRange {
        start: Bound::Included(start),
        end,
    }
}

/// Every key of one partition key (all sort keys), in sort-key order.
pub fn partition_range(table: TableId, partition: &AttributeValue) -> Result<KeyRange, KeyError> {
    let prefix = partition_prefix(table, partition)?;
    Ok(prefix_range(prefix))
}

/// The keys of one partition key that satisfy a sort-key condition.
pub fn sort_range(
    table: TableId,
    partition: &AttributeValue,
    condition: SortCondition<'_>,
) -> Result<KeyRange, KeyError> {
    let prefix = partition_prefix(table, partition)?;
    let with = |value: &AttributeValue| -> Result<Vec<u8>, KeyError> {
        let mut key = prefix.clone();
        encode_component(&mut key, value)?;
        Ok(key)
    };
    let after_partition = || successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
    let range = match condition {
        SortCondition::Eq(value) => {
            let key = with(value)?;
            KeyRange {
                start: Bound::Included(key.clone()),
                end: Bound::Included(key),
            }
        }
        SortCondition::Lt(value) => KeyRange {
            start: Bound::Included(prefix.clone()),
            end: Bound::Excluded(with(value)?),
        },
        SortCondition::Le(value) => KeyRange {
            start: Bound::Included(prefix.clone()),
            end: Bound::Included(with(value)?),
        },
        SortCondition::Gt(value) => KeyRange {
            start: Bound::Excluded(with(value)?),
            end: after_partition(),
        },
        SortCondition::Ge(value) => KeyRange {
            start: Bound::Included(with(value)?),
            end: after_partition(),
        },
        SortCondition::Between(low, high) => KeyRange {
            start: Bound::Included(with(low)?),
            end: Bound::Included(with(high)?),
        },
        SortCondition::BeginsWith(value) => {
            let mut key = prefix.clone();
            match value {
                AttributeValue::S(text) => {
                    key.push(TAG_S);
                    escape_into(&mut key, text.as_bytes());
                }
                AttributeValue::B(bytes) => {
                    key.push(TAG_B);
                    escape_into(&mut key, bytes);
                }
                other => {
                    return Err(KeyError::PrefixNotSupported {
                        type_name: other.type_name(),
                    });
                }
            }
            prefix_range(key)
        }
    };
    Ok(range)
}

/// The partition-hash range of one parallel-Scan segment (§7.6): the 2^64 hashes split into
/// `total_segments` contiguous, disjoint ranges that together cover them, in order. `None`
/// unless `segment < total_segments` (the node reports DynamoDB's message before asking).
pub fn scan_segment_hash_range(segment: u32, total_segments: u32) -> Option<(u64, u64)> {
    if segment >= total_segments {
        return None;
    }
    let boundary = |index: u32| (u128::from(index) << 64) / u128::from(total_segments);
    let start = u64::try_from(boundary(segment)).expect("below 2^64");
    let end = u64::try_from(boundary(segment + 1) - 1).expect("below 2^64");
    Some((start, end))
}

/// The parallel-Scan segment whose hash range holds `hash` (inverse of
/// [`scan_segment_hash_range`]); used to check that an `ExclusiveStartKey` belongs to the
/// requested segment. `None` if `total_segments` is zero.
pub fn scan_segment_of_hash(hash: u64, total_segments: u32) -> Option<u32> {
    if total_segments == 0 {
        return None;
    }
    // The smallest segment whose range ends at or after `hash`.
    let estimate = (u128::from(hash) * u128::from(total_segments)) >> 64;
    let segment = u32::try_from(estimate).expect("below total_segments");
    let (_, end) = scan_segment_hash_range(segment, total_segments).expect("in range");
    Some(if hash > end { segment + 1 } else { segment })
}

/// Every key that starts with `prefix`.
fn prefix_range(prefix: Vec<u8>) -> KeyRange {
    let end = successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
    KeyRange {
        start: Bound::Included(prefix),
        end,
    }
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&byte| byte != 0xFF)?;
    let mut next = prefix[..=keep].to_vec();
    next[keep] += 1;
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::tests::number_strategy;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn component(value: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_component(&mut out, value).unwrap();
        out
    }

    /// Golden vectors: the hash decides where data lives and must never change. If this test
    /// fails, the change is a data-loss bug, not a test to update.
    #[test]
    fn partition_hash_golden_vectors() {
        // XXH3-64 itself (reference value for the empty input, seed 0).
        assert_eq!(xxh3_64(b""), 0x2D06_8005_38D3_94C2);
        // Cross-checked against the reference C implementation (python-xxhash 3.x).
        let cases: [(AttributeValue, u64); 11] = [
            (s("a"), 0x0BB5_B3E1_E859_7F12),
            (s("user#42"), 0xAA59_D41B_82CB_6C79),
            (s(""), 0x89D1_30DA_47FB_908C),
            (s("¿"), 0x8E2B_2230_52AF_AC60),
            (n("1000"), 0x354C_D20E_726D_B288),
            (n("-0.5"), 0x02B4_595B_142B_A910),
            (AttributeValue::B(vec![0, 1, 2]), 0xD3D6_34DB_C6BA_FA13),
            (AttributeValue::B(vec![]), 0x74D3_766C_A024_23F3),
            // Longer inputs take XXH3's other code paths (> 240 bytes).
            (s(&"x".repeat(2048)), 0xEBD6_32BA_DAFC_2A4A),
            (
                AttributeValue::B((0..1024).map(|i| i as u8).collect()),
                0x2959_B9DD_1139_28C4,
            ),
            (
                n("-9.9999999999999999999999999999999999999"),
                0xE178_59A7_2119_49B8,
            ),
        ];
        for (value, expected) in cases {
            let actual = partition_hash(&value).unwrap();
            assert_eq!(actual, expected, "{value:?}: got {actual:#018X}");
        }
        assert_eq!(partition_hash(&n("1e3")), partition_hash(&n("1000.0")));
        assert!(partition_hash(&AttributeValue::Null).is_err());
    }

    #[test]
    fn golden_key_layout() {
        let key = encode_key(TableId(7), &s("a\0"), Some(&n("-12.5"))).unwrap();
        let hash = partition_hash(&s("a\0")).unwrap().to_be_bytes();
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 7];
        expected.extend_from_slice(&hash);
        expected.extend_from_slice(&[TAG_S, b'a', 0x00, 0xFF, 0x00]);
        // -12.5: leading exponent 1 → 255 - 131 = 124; pairs "12" → 13, "5" → 51; complemented.
        expected.extend_from_slice(&[TAG_N_NEGATIVE, 124, 101 - 13, 101 - 51, 0xFF]);
        assert_eq!(key, expected);
        let with_hash = encode_key_with_hash(TableId(7), &s("a\0"), Some(&n("-12.5"))).unwrap();
        assert_eq!(with_hash, (expected, u64::from_be_bytes(hash)));
        assert_eq!(component(&n("0")), vec![TAG_N_ZERO]);
        assert_eq!(component(&n("1e-130")), vec![TAG_N_POSITIVE, 0, 11, 0]);
        assert_eq!(component(&n("1e125")), vec![TAG_N_POSITIVE, 255, 11, 0]);
    }

    #[test]
    fn numbers_sort_numerically() {
        let ordered = [
            "-1e125",
            "-1000",
            "-999.9",
            "-10",
            "-9.5",
            "-1.25",
            "-1.2",
            "-1",
            "-0.5",
            "-1e-130",
            "0",
            "1e-130",
            "0.01",
            "0.5",
            "1",
            "1.2",
            "1.25",
            "9.5",
            "10",
            "101",
            "110",
            "999.9",
            "1000",
            "9.9999999999999999999999999999999999999e125",
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (component(&n(pair[0])), component(&n(pair[1])));
            assert!(a < b, "{} < {}: {a:?} vs {b:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn ranges_select_exactly_the_matching_keys() {
        let table = TableId(1);
        let pk = s("p");
        let sorts = ["", "a", "a\0", "a\0\u{1}", "ab", "abc", "b", "\u{ff}"].map(s);
        let keys: Vec<Vec<u8>> = sorts
            .iter()
            .map(|sk| encode_key(table, &pk, Some(sk)).unwrap())
            .collect();
        let other = encode_key(table, &s("q"), Some(&s("a"))).unwrap();
        let all = partition_range(table, &pk).unwrap();
        assert!(keys.iter().all(|k| all.contains(k)));
        assert!(!all.contains(&other));
        let prefix = s("a");
        let range = sort_range(table, &pk, SortCondition::BeginsWith(&prefix)).unwrap();
        let selected: Vec<&AttributeValue> = sorts
            .iter()
            .zip(&keys)
            .filter(|(_, k)| range.contains(k))
            .map(|(v, _)| v)
            .collect();
        assert_eq!(
            selected,
            [&s("a"), &s("a\0"), &s("a\0\u{1}"), &s("ab"), &s("abc")]
        );
        let prefix_nul = s("a\0");
        let range = sort_range(table, &pk, SortCondition::BeginsWith(&prefix_nul)).unwrap();
        assert_eq!(keys.iter().filter(|k| range.contains(k)).count(), 2);
        assert!(sort_range(table, &pk, SortCondition::BeginsWith(&n("1"))).is_err());
    }

    #[test]
    fn scan_segments_cover_the_hash_space_without_overlap() {
        assert_eq!(scan_segment_hash_range(0, 1), Some((0, u64::MAX)));
        assert_eq!(scan_segment_hash_range(1, 1), None);
        for total in [2u32, 3, 7, 1000, 1_000_000] {
            let mut next = 0u64;
            let probes = [0, 1, total / 2, total.saturating_sub(2), total - 1];
            for segment in probes.into_iter().filter(|s| *s < total) {
                let (start, end) = scan_segment_hash_range(segment, total).unwrap();
                assert!(start <= end);
                assert_eq!(scan_segment_of_hash(start, total), Some(segment));
                assert_eq!(scan_segment_of_hash(end, total), Some(segment));
                if segment == 0 {
                    assert_eq!(start, 0);
                }
                if segment + 1 < total {
                    let (following, _) = scan_segment_hash_range(segment + 1, total).unwrap();
                    assert_eq!(following, end + 1);
                } else {
                    assert_eq!(end, u64::MAX);
                }
                next = next.max(end);
            }
            assert_eq!(next, u64::MAX);
        }
    }

    fn bytes_value() -> impl Strategy<Value = AttributeValue> {
        proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..6)
            .prop_map(AttributeValue::B)
    }

    fn string_value() -> impl Strategy<Value = AttributeValue> {
        "[a\\x00\\x01\\xFF¿z]{0,5}".prop_map(AttributeValue::S)
    }

    fn number_value() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            number_strategy().prop_map(AttributeValue::N),
            (-3i64..3).prop_map(|v| AttributeValue::N(Number::from(v))),
        ]
    }

    fn key_value_strategy() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![bytes_value(), string_value(), number_value()]
    }

    /// Three values of one key type.
    fn same_type_triple() -> impl Strategy<Value = [AttributeValue; 3]> {
        prop_oneof![
            [bytes_value(), bytes_value(), bytes_value()],
            [string_value(), string_value(), string_value()],
            [number_value(), number_value(), number_value()],
        ]
    }

    /// DynamoDB's key order for two values of the same type; by tag otherwise (never mixed
    /// within one table, but the encoding stays total).
    fn semantic_cmp(a: &AttributeValue, b: &AttributeValue) -> Ordering {
        a.compare(b)
            .unwrap_or_else(|| component(a)[0].cmp(&component(b)[0]))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn component_order_matches_semantic_order([a, b, _] in same_type_triple()) {
            prop_assert_eq!(component(&a).cmp(&component(&b)), semantic_cmp(&a, &b));
        }

        #[test]
        fn sort_keys_order_within_a_partition(
            pk in key_value_strategy(),
            [a, b, _] in same_type_triple(),
        ) {
            let ka = encode_key(TableId(9), &pk, Some(&a)).unwrap();
            let kb = encode_key(TableId(9), &pk, Some(&b)).unwrap();
            prop_assert_eq!(ka.cmp(&kb), semantic_cmp(&a, &b));
        }

        #[test]
        fn decode_inverts_encode(
            table in any::<u64>(),
            pk in key_value_strategy(),
            sk in proptest::option::of(key_value_strategy()),
        ) {
            let key = encode_key(TableId(table), &pk, sk.as_ref()).unwrap();
            let decoded = decode_key(&key).unwrap();
            prop_assert_eq!(decoded.table, TableId(table));
            prop_assert_eq!(decoded.hash, partition_hash(&pk).unwrap());
            prop_assert_eq!(decoded.partition, pk);
            prop_assert_eq!(decoded.sort, sk);
        }

        #[test]
        fn sort_ranges_match_the_conditions(
            pk in key_value_strategy(),
            [sk, bound, high] in same_type_triple(),
        ) {
            let key = encode_key(TableId(3), &pk, Some(&sk)).unwrap();
            let cmp = |v: &AttributeValue| semantic_cmp(&sk, v);
            let checks = [
                (SortCondition::Eq(&bound), cmp(&bound).is_eq()),
                (SortCondition::Lt(&bound), cmp(&bound).is_lt()),
                (SortCondition::Le(&bound), cmp(&bound).is_le()),
                (SortCondition::Gt(&bound), cmp(&bound).is_gt()),
                (SortCondition::Ge(&bound), cmp(&bound).is_ge()),
                (SortCondition::Between(&bound, &high), cmp(&bound).is_ge() && cmp(&high).is_le()),
            ];
            for (condition, expected) in checks {
                let range = sort_range(TableId(3), &pk, condition).unwrap();
                prop_assert_eq!(range.contains(&key), expected, "{:?}", condition);
            }
            let starts = match (&sk, &bound) {
                (AttributeValue::S(x), AttributeValue::S(p)) => Some(x.starts_with(p.as_str())),
                (AttributeValue::B(x), AttributeValue::B(p)) => Some(x.starts_with(p)),
                _ => None,
            };
            if let Some(expected) = starts {
                let range = sort_range(TableId(3), &pk, SortCondition::BeginsWith(&bound)).unwrap();
                prop_assert_eq!(range.contains(&key), expected);
            }
            let other_pk = encode_key(TableId(3), &s("other-pk"), Some(&sk)).unwrap();
            if pk != s("other-pk") {
                prop_assert!(!partition_range(TableId(3), &pk).unwrap().contains(&other_pk));
            }
        }

        #[test]
        fn every_hash_falls_in_its_scan_segment(hash in any::<u64>(), total in 1u32..=1_000_000) {
            let segment = scan_segment_of_hash(hash, total).unwrap();
            prop_assert!(segment < total);
            let (start, end) = scan_segment_hash_range(segment, total).unwrap();
            prop_assert!(start <= hash && hash <= end);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = decode_key(&bytes);
        }
    }
}
