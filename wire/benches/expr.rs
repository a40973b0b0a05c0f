//! Criterion benchmarks of the expression language: parsing plus evaluating a typical
//! condition, evaluating a cached condition, parsing plus applying a three-clause update, and
//! applying a projection.
//!
//! Invariant: inputs are built once outside the timed closures; every timed closure does the
//! work an operation does per request.
//! Does not assert anything: numbers go in commit messages (`cargo bench -p shoal-wire --bench
//! expr`).
//!
//! Estimate before measuring: a condition of ~60 bytes lexes into ~15 tokens and allocates a
//! handful of small nodes and two cloned values; at a few ns per token and ~20 ns per
//! allocation that is well under 1 µs, and evaluation is three map lookups and comparisons
//! (tens of ns).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shoal_wire::expr::{
    ExpressionKind, Substitutions, parse_condition, parse_projection, parse_update,
};
use shoal_wire::{AttributeValue, Item, Number};

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(Number::from(value))
}

fn sample_item() -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s("user#1234"));
    item.insert("sk".into(), s("profile"));
    item.insert("status".into(), s("active"));
    item.insert("version".into(), n(41));
    item.insert("count".into(), n(7));
    item.insert("email".into(), s("someone@example.com"));
    item.insert("tmp".into(), s("scratch"));
    item.insert(
        "tags".into(),
        AttributeValue::Ss(vec!["a".into(), "b".into()]),
    );
    let mut address = BTreeMap::new();
    address.insert("city".into(), s("Lisbon"));
    address.insert("zip".into(), s("1000-001"));
    item.insert("address".into(), AttributeValue::M(address));
    item
}

fn placeholders() -> (BTreeMap<String, String>, Item) {
    let mut names = BTreeMap::new();
    names.insert("#s".into(), "status".into());
    names.insert("#c".into(), "count".into());
    let mut values = Item::new();
    values.insert(":active".into(), s("active"));
    values.insert(":v".into(), n(42));
    values.insert(":zero".into(), n(0));
    values.insert(":inc".into(), n(1));
    values.insert(":now".into(), s("2026-01-01T00:00:00Z"));
    values.insert(":t".into(), AttributeValue::Ss(vec!["c".into()]));
    (names, values)
}

const CONDITION: &str = "attribute_exists(pk) AND #s = :active AND version < :v";
const UPDATE: &str =
    "SET #c = if_not_exists(#c, :zero) + :inc, updated = :now REMOVE tmp ADD tags :t";

fn condition(c: &mut Criterion) {
    let (names, values) = placeholders();
    let item = sample_item();
    c.bench_function("condition parse + evaluate", |bench| {
        bench.iter(|| {
            let mut subs = Substitutions::new(Some(&names), Some(&values));
            let parsed =
                parse_condition(black_box(CONDITION), ExpressionKind::Condition, &mut subs)
                    .expect("valid condition");
            black_box(parsed.evaluate(black_box(&item)))
        })
    });
    let mut subs = Substitutions::new(Some(&names), Some(&values));
    let parsed =
        parse_condition(CONDITION, ExpressionKind::Condition, &mut subs).expect("valid condition");
    c.bench_function("condition evaluate (cached)", |bench| {
        bench.iter(|| black_box(parsed.evaluate(black_box(&item))))
    });
}

fn update(c: &mut Criterion) {
    let (names, values) = placeholders();
    let item = sample_item();
    let mut key = Item::new();
    key.insert("pk".into(), s("user#1234"));
    key.insert("sk".into(), s("profile"));
    c.bench_function("update parse + apply (3 clauses)", |bench| {
        bench.iter(|| {
            let mut subs = Substitutions::new(Some(&names), Some(&values));
            let update = parse_update(black_box(UPDATE), &mut subs).expect("valid update");
            black_box(update.apply(Some(black_box(&item)), &key).expect("applies"))
        })
    });
}

fn projection(c: &mut Criterion) {
    let item = sample_item();
    let mut subs = Substitutions::new(None, None);
    let projection = parse_projection("pk, address.city, tags", &mut subs).expect("valid");
    c.bench_function("projection apply", |bench| {
        bench.iter(|| black_box(projection.apply(black_box(&item))))
    });
}

criterion_group!(benches, condition, update, projection);
criterion_main!(benches);
