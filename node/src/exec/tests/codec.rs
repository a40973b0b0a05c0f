//! The item codec: round trips, the 512 KiB bound for adversarial 400 KB items, corruption
//! detection, and a golden encoding that pins format version 1.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shoal_wire::validate::validate_item_size;
use shoal_wire::value::{AttributeValue, Item, item_size};
use shoal_wire::{ErrorKind, Number};

use super::support::{item, n, s};
use crate::exec::item_codec::{decode, encode};
use crate::storage::btree::VALUE_SIZE_MAX;

/// The bound the module doc argues: 1.25 × size, 1.125 bytes per top-level entry whose name
/// shares at most one byte with the previous one, and the header.
fn size_bound(item: &Item) -> usize {
    let mut previous: &[u8] = &[];
    let mut loose = 0usize;
    for name in item.keys() {
        let shared = previous
            .iter()
            .zip(name.as_bytes())
            .take_while(|(a, b)| a == b)
            .count();
        if shared <= 1 {
            loose += 1;
        }
        previous = name.as_bytes();
    }
    (item_size(item) as usize * 5).div_ceil(4) + (loose * 9).div_ceil(8) + 16
}

fn round_trip(item: &Item) -> usize {
    let bytes = encode(item).expect("encodes");
    let decoded = decode(&bytes).expect("decodes");
    assert_eq!(&decoded, item);
    bytes.len()
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (any::<i64>(), -20i32..20).prop_filter_map("in range", |(c, e)| {
            Number::from_parts(c < 0, u128::from(c.unsigned_abs()), e).ok()
        }),
        (1u128..10u128.pow(38), -167i32..=88, any::<bool>())
            .prop_filter_map("in range", |(c, e, neg)| Number::from_parts(neg, c, e).ok()),
    ]
}

fn value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        ".{0,6}".prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        proptest::collection::btree_set(".{0,4}", 1..5)
            .prop_map(|set| AttributeValue::Ss(set.into_iter().collect())),
        proptest::collection::btree_set(number(), 1..5)
            .prop_map(|set| AttributeValue::Ns(set.into_iter().collect())),
        proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..4), 1..5)
            .prop_map(|set| AttributeValue::Bs(set.into_iter().collect())),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::btree_map("[a-c\\x00é]{1,3}", inner.clone(), 0..5)
                .prop_map(AttributeValue::M),
            proptest::collection::vec(inner, 0..5).prop_map(AttributeValue::L),
        ]
    })
}

pub(super) fn item_strategy() -> impl Strategy<Value = Item> {
    proptest::collection::btree_map("[a-d\\x00é]{1,4}|.{1,6}", value(), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn items_round_trip_within_the_size_bound(item in item_strategy()) {
        let len = round_trip(&item);
        prop_assert!(len <= size_bound(&item), "{len} > bound {}", size_bound(&item));
    }

    #[test]
    fn mutated_bytes_with_a_valid_checksum_never_panic(
        item in item_strategy(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&item).unwrap();
        for (at, byte) in edits {
            let at = 5 + at % (bytes.len() - 5).max(1);
            if at < bytes.len() {
                bytes[at] = byte;
            }
        }
        let checksum = crc32c::crc32c(&bytes[5..]);
        bytes[1..5].copy_from_slice(&checksum.to_le_bytes());
        if let Err(error) = decode(&bytes) {
            prop_assert_eq!(error.kind, ErrorKind::InternalServerError);
        }
    }
}

#[test]
fn every_flipped_bit_is_detected() {
    let sample = item(&[
        ("pk", s("user#1")),
        ("n", n("-12.5")),
        ("tags", AttributeValue::Ss(vec!["b".into(), "a".into()])),
        (
            "doc",
            AttributeValue::M(BTreeMap::from([("x".to_owned(), n("1e100"))])),
        ),
    ]);
    let bytes = encode(&sample).unwrap();
    for position in 0..bytes.len() * 8 {
        let mut corrupt = bytes.clone();
        corrupt[position / 8] ^= 0x80 >> (position % 8);
        let error = decode(&corrupt).expect_err("a flipped bit is caught");
        assert_eq!(error.kind, ErrorKind::InternalServerError);
        assert!(
            error.message.starts_with("corrupt item value"),
            "{}",
            error.message
        );
    }
    assert!(decode(&[]).is_err());
    assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    let mut future = bytes.clone();
    future[0] = 2;
    assert!(decode(&future).unwrap_err().message.contains("version 2"));
}

/// If this test fails, the stored format changed: bump `ITEM_FORMAT_VERSION` and keep a
/// decoder for version 1 instead of editing the expected bytes.
#[test]
fn golden_encoding_of_version_1() {
    let sample = item(&[
        ("a", s("hi")),
        ("ab", n("-12.5")),
        ("b", AttributeValue::Bool(true)),
        ("l", AttributeValue::L(vec![AttributeValue::Null, n("0")])),
        ("s", AttributeValue::Ss(vec!["yz".into(), "x".into()])),
    ]);
    let bytes = encode(&sample).unwrap();
    // Derived by hand from the module doc: structure 61 bits (8 bytes), data 12 bytes.
    let expected: &[u8] = &[
        0x01, 0x73, 0xEB, 0x5E, 0x2A, 0x08, 0x36, 0x6D, 0x5F, 0x97, 0x2C, 0x17, 0xA4, 0xB8, 0x61,
        0x68, 0x69, 0x62, 0x83, 0x7D, 0x62, 0x6C, 0x73, 0x78, 0x79, 0x7A,
    ];
    assert_eq!(bytes, expected, "{bytes:02X?}");
    assert_eq!(decode(expected).unwrap(), sample);
}

/// Distinct names of `len` bytes from a 94-character alphabet, in sorted order.
fn names(len: usize) -> impl Iterator<Item = String> {
    let alphabet: Vec<char> = ('!'..='~').collect();
    let total = alphabet.len().pow(len as u32);
    (0..total).map(move |mut index| {
        let mut name = vec!['!'; len];
        for slot in name.iter_mut().rev() {
            *slot = alphabet[index % alphabet.len()];
            index /= alphabet.len();
        }
        name.into_iter().collect()
    })
}

/// Adds entries from `entries` while the item stays within 400 KB.
fn fill(item: &mut Item, entries: impl Iterator<Item = (String, AttributeValue)>) {
    let mut size = item_size(item);
    for (name, value) in entries {
        let added = name.len() as u64 + value.size_bytes();
        if size + added > 400 * 1024 {
            break;
        }
        size += added;
        item.insert(name, value);
    }
}

fn adversarial_items() -> Vec<(&'static str, Item)> {
    let set = AttributeValue::Ss(vec![String::new(), "a".into()]);
    let mut shapes = Vec::new();
    let mut top = Item::new();
    fill(&mut top, names(3).map(|name| (name, set.clone())));
    shapes.push(("3-byte names with SS[\"\", \"a\"]", top));
    let mut pairs = Item::new();
    fill(&mut pairs, names(2).map(|name| (name, set.clone())));
    fill(&mut pairs, names(3).map(|name| (name, s(""))));
    shapes.push(("2-byte names with sets, then empty strings", pairs));
    let mut numbers = Item::new();
    let small = (0..).map(|i: i64| n(&format!("{}e{}", 10 + i % 89, i % 200 - 100)));
    fill(&mut numbers, names(3).zip(small));
    shapes.push(("3-byte names with 2-digit numbers", numbers));
    let list = |element: AttributeValue, count: usize| AttributeValue::L(vec![element; count]);
    let empty_set = AttributeValue::Ss(vec![String::new()]);
    shapes.push(("list of SS[\"\"]", item(&[("l", list(empty_set, 409_590))])));
    shapes.push((
        "list of empty strings",
        item(&[("l", list(s(""), 409_590))]),
    ));
    let map: BTreeMap<String, AttributeValue> = (0u8..128)
        .map(|b| (char::from(b).to_string(), s("")))
        .filter(|(name, _)| !name.is_empty())
        .collect();
    let map_size = AttributeValue::M(map.clone()).size_bytes() + 1;
    let count = (409_590 / map_size) as usize;
    shapes.push((
        "list of maps with 1-byte names",
        item(&[("l", list(AttributeValue::M(map), count))]),
    ));
    // Distinct by construction: coefficients without trailing zeros, each exponent and sign;
    // 2-digit numbers first (the tightest), then 4-digit ones to reach 400 KB.
    let coefficients = (11u128..100).chain(1001..10_000).filter(|c| c % 10 != 0);
    let mut ns = Vec::new();
    let mut ns_size = 0u64;
    'fill: for coefficient in coefficients {
        for exponent in -120..=100 {
            for negative in [false, true] {
                let number = Number::from_parts(negative, coefficient, exponent).unwrap();
                ns_size += u64::from(number.size_bytes());
                if ns_size > 409_000 {
                    break 'fill;
                }
                ns.push(number);
            }
        }
    }
    shapes.push((
        "number set of 2-digit numbers",
        item(&[("ns", AttributeValue::Ns(ns))]),
    ));
    shapes.push((
        "one large string",
        item(&[("big", s(&"é".repeat(204_790)))]),
    ));
    shapes.push((
        "one large binary of zeros",
        item(&[("big", AttributeValue::B(vec![0; 409_590]))]),
    ));
    shapes
}

#[test]
fn adversarial_items_fit() {
    for (shape, item) in adversarial_items() {
        let size = item_size(&item);
        validate_item_size(&item, false).unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert!(
            size > 390 * 1024,
            "{shape}: only {size} bytes; the test would prove little"
        );
        let len = round_trip(&item);
        assert!(
            len <= VALUE_SIZE_MAX,
            "{shape}: {len} bytes > {VALUE_SIZE_MAX}"
        );
        assert!(
            len <= size_bound(&item),
            "{shape}: {len} > bound {}",
            size_bound(&item)
        );
    }
}

#[test]
fn invalid_items_are_refused_not_encoded() {
    assert!(encode(&item(&[("", s("x"))])).is_err());
    assert!(encode(&item(&[("a", AttributeValue::Ss(vec![]))])).is_err());
    assert!(encode(&item(&[("a", AttributeValue::Ns(vec![]))])).is_err());
    assert!(encode(&Item::new()).is_ok());
}
