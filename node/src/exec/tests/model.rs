//! Property tests against naive models: random put/update/delete sequences through `apply_*`
//! and the engine must leave exactly the items a `BTreeMap` model predicts, with the same
//! condition outcomes; and conditional increments (`SET #c = :new` if `#c = :old`) from
//! interleaved clients must end with the counter equal to the number of successes.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use shoal_wire::ErrorKind;
use shoal_wire::message::{PutItemRequest, ReturnConsumedCapacity, ReturnValue, UpdateItemRequest};
use shoal_wire::value::{AttributeValue, Item};

use super::support::*;
use crate::exec::{apply_delete, apply_put, apply_update, get_item, scan_range};

#[derive(Clone, Debug)]
enum Guard {
    None,
    Exists,
    NotExists,
    AEquals(i64),
}

#[derive(Clone, Debug)]
enum Change {
    SetA(i64),
    AddA(i64),
    RemoveA,
    SetTag(String),
    RemoveTag,
    AddTags(BTreeSet<String>),
    Nothing,
}

#[derive(Clone, Debug)]
enum Action {
    Put {
        key: (u8, u8),
        a: Option<i64>,
        tag: Option<String>,
        guard: Guard,
    },
    Update {
        key: (u8, u8),
        change: Change,
        guard: Guard,
    },
    Delete {
        key: (u8, u8),
        guard: Guard,
    },
}

fn guard() -> impl Strategy<Value = Guard> {
    prop_oneof![
        3 => Just(Guard::None),
        1 => Just(Guard::Exists),
        1 => Just(Guard::NotExists),
        1 => (-2i64..3).prop_map(Guard::AEquals),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (-3i64..4).prop_map(Change::SetA),
        (-3i64..4).prop_map(Change::AddA),
        Just(Change::RemoveA),
        "[a-c]{0,2}".prop_map(Change::SetTag),
        Just(Change::RemoveTag),
        proptest::collection::btree_set("[x-z]", 1..3).prop_map(Change::AddTags),
        Just(Change::Nothing),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    let key = (0u8..3, 0u8..3);
    prop_oneof![
        (
            key.clone(),
            proptest::option::of(-2i64..3),
            proptest::option::of("[a-c]{0,2}"),
            guard()
        )
            .prop_map(|(key, a, tag, guard)| Action::Put { key, a, tag, guard }),
        (key.clone(), change(), guard()).prop_map(|(key, change, guard)| Action::Update {
            key,
            change,
            guard
        }),
        (key, guard()).prop_map(|(key, guard)| Action::Delete { key, guard }),
    ]
}

fn key_item((pk, sk): (u8, u8)) -> Item {
    item(&[("pk", s(&format!("p{pk}"))), ("sk", n(&sk.to_string()))])
}

fn number(value: i64) -> AttributeValue {
    n(&value.to_string())
}

fn holds(guard: &Guard, current: Option<&Item>) -> bool {
    match guard {
        Guard::None => true,
        Guard::Exists => current.is_some(),
        Guard::NotExists => current.is_none(),
        Guard::AEquals(v) => current.and_then(|i| i.get("a")) == Some(&number(*v)),
    }
}

/// The condition expression and its values for a guard.
fn condition(guard: &Guard) -> (Option<String>, Vec<(&'static str, AttributeValue)>) {
    match guard {
        Guard::None => (None, vec![]),
        Guard::Exists => (Some("attribute_exists(pk)".into()), vec![]),
        Guard::NotExists => (Some("attribute_not_exists(pk)".into()), vec![]),
        Guard::AEquals(v) => (Some("a = :g".into()), vec![(":g", number(*v))]),
    }
}

/// The model's new state of one item after a change (None: no item).
fn model_change(change: &Change, current: Option<&Item>, key: Item) -> Option<Item> {
    let creates = !matches!(change, Change::RemoveA | Change::RemoveTag);
    let mut item = match (current, creates) {
        (Some(item), _) => item.clone(),
        (None, true) => key,
        (None, false) => return None,
    };
    match change {
        Change::SetA(v) => {
            item.insert("a".into(), number(*v));
        }
        Change::AddA(v) => {
            let old = match item.get("a") {
                Some(AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
                _ => 0,
            };
            item.insert("a".into(), number(old + v));
        }
        Change::RemoveA => {
            item.remove("a");
        }
        Change::SetTag(tag) => {
            item.insert("tag".into(), s(tag));
        }
        Change::RemoveTag => {
            item.remove("tag");
        }
        Change::AddTags(tags) => {
            let mut all: BTreeSet<String> = match item.get("tags") {
                Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
                _ => BTreeSet::new(),
            };
            all.extend(tags.iter().cloned());
            item.insert("tags".into(), AttributeValue::Ss(all.into_iter().collect()));
        }
        Change::Nothing => {}
    }
    Some(item)
}

fn update_request(key: Item, change: &Change, guard: &Guard) -> UpdateItemRequest {
    let (expression, mut vals) = match change {
        Change::SetA(v) => (Some("SET a = :v"), vec![(":v", number(*v))]),
        Change::AddA(v) => (Some("ADD a :v"), vec![(":v", number(*v))]),
        Change::RemoveA => (Some("REMOVE a"), vec![]),
        Change::SetTag(tag) => (Some("SET tag = :v"), vec![(":v", s(tag))]),
        Change::RemoveTag => (Some("REMOVE tag"), vec![]),
        Change::AddTags(tags) => {
            let set = AttributeValue::Ss(tags.iter().cloned().collect());
            (Some("ADD tags :v"), vec![(":v", set)])
        }
        Change::Nothing => (None, vec![]),
    };
    let (condition, guard_values) = condition(guard);
    vals.extend(guard_values);
    UpdateItemRequest {
        update_expression: expression.map(str::to_owned),
        condition_expression: condition,
        expression_attribute_values: (!vals.is_empty()).then(|| item(&vals)),
        return_values: Some(ReturnValue::AllNew),
        return_consumed_capacity: Some(ReturnConsumedCapacity::Total),
        ..update_req("tab", key)
    }
}

fn put_request(key: Item, a: Option<i64>, tag: &Option<String>, guard: &Guard) -> PutItemRequest {
    let mut stored = key;
    if let Some(a) = a {
        stored.insert("a".into(), number(a));
    }
    if let Some(tag) = tag {
        stored.insert("tag".into(), s(tag));
    }
    let (condition, vals) = condition(guard);
    PutItemRequest {
        condition_expression: condition,
        expression_attribute_values: (!vals.is_empty()).then(|| item(&vals)),
        ..put_req("tab", stored)
    }
}

fn check_sequence(actions: Vec<Action>) {
    run(move || async move {
        let engine = engine().await;
        let table = composite();
        let mut model: BTreeMap<(u8, u8), Item> = BTreeMap::new();
        for (step, action) in actions.iter().enumerate() {
            let (key, guard) = match action {
                Action::Put { key, guard, .. }
                | Action::Update { key, guard, .. }
                | Action::Delete { key, guard } => (*key, guard),
            };
            let current = model.get(&key).cloned();
            let expected_ok = holds(guard, current.as_ref());
            let error = match action {
                Action::Put { a, tag, .. } => {
                    let request = put_request(key_item(key), *a, tag, guard);
                    if expected_ok {
                        model.insert(key, request.item.clone());
                    }
                    commit_any(
                        &engine,
                        apply_put(&engine, &table, TABLE_ID, &request).await,
                    )
                    .await
                }
                Action::Update { change, .. } => {
                    let request = update_request(key_item(key), change, guard);
                    let outcome = apply_update(&engine, &table, TABLE_ID, &request).await;
                    if expected_ok {
                        let new = model_change(change, current.as_ref(), key_item(key));
                        let returned = outcome
                            .result
                            .as_ref()
                            .ok()
                            .and_then(|r| r.attributes.clone());
                        assert_eq!(returned, new, "step {step} {action:?}: ALL_NEW");
                        match new {
                            Some(item) => model.insert(key, item),
                            None => model.remove(&key),
                        };
                    }
                    commit_any(&engine, outcome).await
                }
                Action::Delete { .. } => {
                    let (condition, vals) = condition(guard);
                    let mut request = delete_req("tab", key_item(key));
                    request.condition_expression = condition;
                    request.expression_attribute_values = (!vals.is_empty()).then(|| item(&vals));
                    if expected_ok {
                        model.remove(&key);
                    }
                    commit_any(
                        &engine,
                        apply_delete(&engine, &table, TABLE_ID, &request).await,
                    )
                    .await
                }
            };
            let kind = error.map(|e| e.kind);
            let expected_kind = (!expected_ok).then_some(ErrorKind::ConditionalCheckFailed);
            assert_eq!(kind, expected_kind, "step {step} {action:?}");
            let got = get_item(&engine, &table, TABLE_ID, &get_req("tab", key_item(key))).await;
            assert_eq!(
                got.unwrap().item,
                model.get(&key).cloned(),
                "step {step} {action:?}"
            );
        }
        let page = scan_range(&engine, &table, TABLE_ID, &scan_req("tab"), 0, u64::MAX)
            .await
            .unwrap();
        let mut stored = page.response.items.unwrap();
        stored.sort_by_key(|i| format!("{i:?}"));
        let mut expected: Vec<Item> = model.into_values().collect();
        expected.sort_by_key(|i| format!("{i:?}"));
        assert_eq!(stored, expected);
    });
}

/// Clients read the counter, then try `SET #c = :new` if `#c = :old`; the schedule says which
/// client moves next.
fn check_conditional_increments(schedule: Vec<u8>, clients: u8) {
    run(move || async move {
        let engine = engine().await;
        let table = simple();
        let key = item(&[("pk", s("counter"))]);
        let init = put_req("hsh", item(&[("pk", s("counter")), ("c", n("0"))]));
        commit(&engine, apply_put(&engine, &table, TABLE_ID, &init).await).await;
        let mut seen: Vec<Option<i64>> = vec![None; usize::from(clients)];
        let mut successes = 0i64;
        for who in schedule {
            let slot = &mut seen[usize::from(who % clients)];
            match slot.take() {
                None => {
                    let got = get_item(&engine, &table, TABLE_ID, &get_req("hsh", key.clone()))
                        .await
                        .unwrap();
                    let AttributeValue::N(c) = &got.item.unwrap()["c"] else {
                        panic!("counter is a number")
                    };
                    *slot = Some(c.to_string().parse().unwrap());
                }
                Some(old) => {
                    let request = UpdateItemRequest {
                        update_expression: Some("SET #c = :new".into()),
                        condition_expression: Some("#c = :old".into()),
                        expression_attribute_names: names(&[("#c", "c")]),
                        expression_attribute_values: values(&[
                            (":new", number(old + 1)),
                            (":old", number(old)),
                        ]),
                        ..update_req("hsh", key.clone())
                    };
                    let outcome = apply_update(&engine, &table, TABLE_ID, &request).await;
                    match commit_any(&engine, outcome).await {
                        None => successes += 1,
                        Some(error) => assert_eq!(error.kind, ErrorKind::ConditionalCheckFailed),
                    }
                }
            }
        }
        let got = get_item(&engine, &table, TABLE_ID, &get_req("hsh", key))
            .await
            .unwrap();
        assert_eq!(got.item.unwrap()["c"], number(successes));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn writes_match_a_btreemap_model(actions in proptest::collection::vec(action(), 1..40)) {
        check_sequence(actions);
    }

    #[test]
    fn conditional_increments_count_successes(
        schedule in proptest::collection::vec(any::<u8>(), 1..60),
        clients in 1u8..5,
    ) {
        check_conditional_increments(schedule, clients);
    }
}
