//! Fuzz target for the expression language: arbitrary bytes as every kind of expression,
//! against fixed placeholders and a fixed item; parsing, evaluation, update application and
//! projection must never panic. `cargo +nightly fuzz run expr` from `wire/fuzz`.
//!
//! Invariant: the target only calls public API, so it checks what operations can reach.
//! Does not check results: the unit and property tests in `wire/src/expr/tests` do.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use shoal_wire::expr::{
    ExpressionKind, Substitutions, parse_condition, parse_key_condition, parse_projection,
    parse_update,
};
use shoal_wire::{AttributeValue, Item, Number};

fn fixtures() -> (BTreeMap<String, String>, Item, Item) {
    let mut names = BTreeMap::new();
    names.insert("#n".to_string(), "n".to_string());
    names.insert("#a".to_string(), "a".to_string());
    let mut values = Item::new();
    values.insert(":v".into(), AttributeValue::S("x".into()));
    values.insert(":n".into(), AttributeValue::N(Number::from(1)));
    values.insert(":l".into(), AttributeValue::L(vec![AttributeValue::Null]));
    values.insert(":s".into(), AttributeValue::Ss(vec!["x".into()]));
    let mut item = Item::new();
    item.insert("a".into(), AttributeValue::S("x".into()));
    item.insert(
        "l".into(),
        AttributeValue::L(vec![AttributeValue::N(Number::from(0))]),
    );
    item.insert("s".into(), AttributeValue::Ss(vec!["x".into(), "y".into()]));
    let mut inner = Item::new();
    inner.insert("n".into(), AttributeValue::Bool(true));
    item.insert("n".into(), AttributeValue::M(inner));
    (names, values, item)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (names, values, item) = fixtures();
    let mut subs = Substitutions::new(Some(&names), Some(&values));
    if let Ok(condition) = parse_condition(&text, ExpressionKind::Filter, &mut subs) {
        let _ = condition.evaluate(&item);
    }
    if let Ok(update) = parse_update(&text, &mut subs) {
        if let Ok(outcome) = update.apply(Some(&item), &item) {
            let _ = (outcome.updated_old(Some(&item)), outcome.updated_new());
        }
        let _ = update.apply(None, &item);
    }
    if let Ok(projection) = parse_projection(&text, &mut subs) {
        let _ = projection.apply(&item);
    }
    let _ = parse_key_condition(&text, &mut subs);
    let _ = subs.check_all_used();
});
