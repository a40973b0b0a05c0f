//! PutItem, UpdateItem and DeleteItem: validation with DynamoDB's messages, conditions,
//! ReturnValues, item creation by UpdateItem, and write capacity (§7.1, §7.3, §7.4, §10.1).

use std::collections::BTreeMap;

use shoal_wire::ErrorKind;
use shoal_wire::message::{
    AttributeAction, AttributeValueUpdate, ConditionalOperator, ExpectedAttributeValue,
    ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use shoal_wire::schema::{ScalarType, TableStatus};
use shoal_wire::value::{AttributeValue, Item};

use super::support::*;
use crate::exec::capacity::MilliUnits;
use crate::exec::{
    PreparedPut, apply_delete, apply_put, apply_update, get_item, prepare_delete, prepare_put,
    prepare_update,
};

fn key(pk: &str, sk: &str) -> Item {
    item(&[("pk", s(pk)), ("sk", n(sk))])
}

fn expected_eq(name: &str, value: AttributeValue) -> BTreeMap<String, ExpectedAttributeValue> {
    BTreeMap::from([(
        name.to_owned(),
        ExpectedAttributeValue {
            value: Some(value),
            exists: None,
            comparison_operator: None,
            attribute_value_list: None,
        },
    )])
}

#[test]
fn put_validation_follows_dynamodb() {
    let table = composite();
    let base = || put_req("tab", key("a", "1"));
    let with = |pairs: &[(&str, AttributeValue)]| put_req("tab", item(pairs));
    let long = "x".repeat(400 * 1024);
    let cases = vec![
        (
            with(&[("pk", s("a"))]),
            "One or more parameter values were invalid: Missing the key sk in the item",
        ),
        (
            with(&[("pk", n("1")), ("sk", n("1"))]),
            "One or more parameter values were invalid: Type mismatch for key pk expected: S \
             actual: N",
        ),
        (
            with(&[("pk", s("")), ("sk", n("1"))]),
            "One or more parameter values are not valid. The AttributeValue for a key attribute \
             cannot contain an empty string value. Key: pk",
        ),
        (
            with(&[
                ("pk", s("a")),
                ("sk", n("1")),
                ("e", AttributeValue::Ss(vec![])),
            ]),
            "One or more parameter values were invalid: An string set  may not be empty",
        ),
        (
            with(&[("pk", s("a")), ("sk", n("1")), ("big", s(&long))]),
            "Item size has exceeded the maximum allowed size",
        ),
        (
            shoal_wire::message::PutItemRequest {
                return_values: Some(ReturnValue::AllNew),
                ..base()
            },
            "ReturnValues can only be ALL_OLD or NONE",
        ),
        (
            shoal_wire::message::PutItemRequest {
                condition_expression: Some("attribute_exists(pk)".into()),
                expected: Some(expected_eq("a", n("1"))),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
        ),
        (
            shoal_wire::message::PutItemRequest {
                conditional_operator: Some(ConditionalOperator::And),
                ..base()
            },
            "ConditionalOperator cannot be used without Filter or Expected",
        ),
        (
            shoal_wire::message::PutItemRequest {
                conditional_operator: Some(ConditionalOperator::Or),
                expected: Some(expected_eq("a", n("1"))),
                ..base()
            },
            "ConditionalOperator can only be used when Filter or Expected has two or more \
             elements",
        ),
        (
            shoal_wire::message::PutItemRequest {
                expression_attribute_values: values(&[(":v", n("1"))]),
                ..base()
            },
            "ExpressionAttributeValues can only be specified when using expressions: \
             ConditionExpression is null",
        ),
        (
            shoal_wire::message::PutItemRequest {
                condition_expression: Some("a = :v".into()),
                expression_attribute_values: values(&[(":v", n("1")), (":w", n("2"))]),
                ..base()
            },
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        ),
        (
            shoal_wire::message::PutItemRequest {
                condition_expression: Some("a =".into()),
                ..base()
            },
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"",
        ),
    ];
    for (request, expected) in cases {
        let result = prepare_put(&table, TABLE_ID, &request);
        assert_eq!(message(result), expected, "{request:?}");
    }
    let long_sort = put_req("srt", item(&[("pk", s("a")), ("sk", s(&"k".repeat(1025)))]));
    let string_sorted = table_with_string_sort();
    assert!(message(prepare_put(&string_sorted, TABLE_ID, &long_sort)).contains("1024 bytes"));
    assert_eq!(message(prepare_put(&table, TABLE_ID, &base())), "");
}

fn table_with_string_sort() -> shoal_wire::schema::TableDescription {
    table("srt", ("pk", ScalarType::S), Some(("sk", ScalarType::S)))
}

#[test]
fn tables_not_yet_active_are_not_found() {
    let mut table = composite();
    table.table_status = TableStatus::Creating;
    let error = prepare_put(&table, TABLE_ID, &put_req("tab", key("a", "1"))).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ResourceNotFound);
}

#[test]
fn update_and_delete_validation_follow_dynamodb() {
    let table = composite();
    let base = || update_req("tab", key("a", "1"));
    let cases = vec![
        (
            shoal_wire::message::UpdateItemRequest {
                update_expression: Some(String::new()),
                ..base()
            },
            "Invalid UpdateExpression: The expression can not be empty;",
        ),
        (
            shoal_wire::message::UpdateItemRequest {
                update_expression: Some("SET a = :v".into()),
                expression_attribute_values: values(&[(":v", n("1"))]),
                attribute_updates: Some(BTreeMap::new()),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {AttributeUpdates} Expression parameters: \
             {UpdateExpression}",
        ),
        (
            shoal_wire::message::UpdateItemRequest {
                update_expression: Some("SET pk = :v".into()),
                expression_attribute_values: values(&[(":v", s("b"))]),
                ..base()
            },
            "One or more parameter values were invalid: Cannot update attribute pk. This \
             attribute is part of the key",
        ),
        (
            shoal_wire::message::UpdateItemRequest {
                attribute_updates: Some(BTreeMap::from([(
                    "sk".to_owned(),
                    AttributeValueUpdate {
                        action: Some(AttributeAction::Put),
                        value: Some(n("2")),
                    },
                )])),
                ..base()
            },
            "One or more parameter values were invalid: Cannot update attribute sk. This \
             attribute is part of the key",
        ),
        (
            update_req("tab", item(&[("pk", s("a"))])),
            "The provided key element does not match the schema",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_update(&table, TABLE_ID, &request)),
            expected,
            "{request:?}"
        );
    }
    let delete = |request| message(prepare_delete(&table, TABLE_ID, &request));
    let mut request = delete_req("tab", key("a", "1"));
    request.return_values = Some(ReturnValue::UpdatedNew);
    assert_eq!(delete(request), "ReturnValues can only be ALL_OLD or NONE");
    let extra = item(&[("pk", s("a")), ("sk", n("1")), ("x", n("1"))]);
    assert_eq!(
        delete(delete_req("tab", extra)),
        "The provided key element does not match the schema"
    );
}

#[test]
fn put_replaces_and_conditions_guard_it() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let first = item(&[
            ("pk", s("a")),
            ("sk", n("1")),
            ("x", n("1")),
            ("y", s("keep?")),
        ]);
        let mut request = put_req("tab", first.clone());
        request.condition_expression = Some("attribute_not_exists(pk)".into());
        commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &request).await,
        )
        .await;
        // The same guarded put fails now, with and without the old item in the error.
        let outcome = apply_put(&engine, &table, TABLE_ID, &request).await;
        assert!(outcome.ops.is_empty());
        let failure = outcome.result.unwrap_err();
        assert_eq!(failure.error.kind, ErrorKind::ConditionalCheckFailed);
        assert_eq!(failure.error.message, "The conditional request failed");
        assert_eq!(failure.item, None);
        request.return_values_on_condition_check_failure =
            Some(ReturnValuesOnConditionCheckFailure::AllOld);
        let failure = apply_put(&engine, &table, TABLE_ID, &request)
            .await
            .result
            .unwrap_err();
        assert_eq!(failure.item.as_ref(), Some(&first));
        assert_eq!(failure.reply().item, Some(first.clone()));
        // An unconditional put replaces the whole item and returns the old one with ALL_OLD.
        let second = item(&[("pk", s("a")), ("sk", n("1")), ("x", n("2"))]);
        let mut replace = put_req("tab", second.clone());
        replace.return_values = Some(ReturnValue::AllOld);
        let response = commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &replace).await,
        )
        .await;
        assert_eq!(response.attributes, Some(first));
        let got = get_item(&engine, &table, TABLE_ID, &get_req("tab", key("a", "1"))).await;
        assert_eq!(got.unwrap().item, Some(second));
        // Legacy Expected: x = 2 holds, x = 3 does not.
        let mut legacy = put_req("tab", key("a", "1"));
        legacy.expected = Some(expected_eq("x", n("2")));
        assert!(
            apply_put(&engine, &table, TABLE_ID, &legacy)
                .await
                .result
                .is_ok()
        );
        legacy.expected = Some(expected_eq("x", n("3")));
        let error = apply_put(&engine, &table, TABLE_ID, &legacy)
            .await
            .result
            .unwrap_err();
        assert_eq!(error.error.kind, ErrorKind::ConditionalCheckFailed);
    });
}

#[test]
fn update_creates_items_unless_it_only_removes() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let get = |k: Item| {
            let engine = engine.clone();
            let table = table.clone();
            async move {
                get_item(&engine, &table, TABLE_ID, &get_req("tab", k))
                    .await
                    .unwrap()
                    .item
            }
        };
        // REMOVE on a missing item creates nothing.
        let mut remove = update_req("tab", key("a", "1"));
        remove.update_expression = Some("REMOVE x".into());
        remove.return_values = Some(ReturnValue::AllNew);
        let outcome = apply_update(&engine, &table, TABLE_ID, &remove).await;
        assert!(outcome.ops.is_empty());
        assert_eq!(outcome.capacity, MilliUnits::units(1));
        assert_eq!(commit(&engine, outcome).await.attributes, None);
        assert_eq!(get(key("a", "1")).await, None);
        // No update parameter at all creates an item with just its key.
        commit(
            &engine,
            apply_update(&engine, &table, TABLE_ID, &update_req("tab", key("a", "2"))).await,
        )
        .await;
        assert_eq!(get(key("a", "2")).await, Some(key("a", "2")));
        // So does an empty AttributeUpdates.
        let mut empty = update_req("tab", key("a", "3"));
        empty.attribute_updates = Some(BTreeMap::new());
        commit(
            &engine,
            apply_update(&engine, &table, TABLE_ID, &empty).await,
        )
        .await;
        assert_eq!(get(key("a", "3")).await, Some(key("a", "3")));
        // SET creates the item, with the key attributes from Key.
        let mut set = update_req("tab", key("a", "4"));
        set.update_expression = Some("SET c = if_not_exists(c, :zero) + :one".into());
        set.expression_attribute_values = values(&[(":zero", n("0")), (":one", n("1"))]);
        set.return_values = Some(ReturnValue::AllNew);
        let response = commit(&engine, apply_update(&engine, &table, TABLE_ID, &set).await).await;
        let created = item(&[("pk", s("a")), ("sk", n("4")), ("c", n("1"))]);
        assert_eq!(response.attributes, Some(created));
        let again = commit(&engine, apply_update(&engine, &table, TABLE_ID, &set).await).await;
        assert_eq!(again.attributes.unwrap()["c"], n("2"));
    });
}

#[test]
fn update_return_values_report_touched_attributes() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let old = item(&[
            ("pk", s("a")),
            ("sk", n("1")),
            ("a", n("1")),
            (
                "b",
                AttributeValue::M(BTreeMap::from([("c".to_owned(), n("2"))])),
            ),
            ("z", s("gone")),
            ("keep", s("k")),
        ]);
        commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &put_req("tab", old.clone())).await,
        )
        .await;
        let request = |rv: ReturnValue| {
            let mut r = update_req("tab", key("a", "1"));
            r.update_expression = Some("SET a = a + :one, b.c = :v, n = :v REMOVE z".into());
            r.expression_attribute_values = values(&[(":one", n("1")), (":v", s("x"))]);
            r.return_values = Some(rv);
            r
        };
        let new = item(&[
            ("pk", s("a")),
            ("sk", n("1")),
            ("a", n("2")),
            (
                "b",
                AttributeValue::M(BTreeMap::from([("c".to_owned(), s("x"))])),
            ),
            ("n", s("x")),
            ("keep", s("k")),
        ]);
        let cases = [
            (ReturnValue::None, None),
            (ReturnValue::AllOld, Some(old.clone())),
            (ReturnValue::AllNew, Some(new.clone())),
            (
                ReturnValue::UpdatedOld,
                Some(item(&[
                    ("a", n("1")),
                    (
                        "b",
                        AttributeValue::M(BTreeMap::from([("c".to_owned(), n("2"))])),
                    ),
                    ("z", s("gone")),
                ])),
            ),
            (
                ReturnValue::UpdatedNew,
                Some(item(&[
                    ("a", n("2")),
                    (
                        "b",
                        AttributeValue::M(BTreeMap::from([("c".to_owned(), s("x"))])),
                    ),
                    ("n", s("x")),
                ])),
            ),
        ];
        // Each variant is computed against the same old item (nothing is committed).
        for (rv, expected) in cases {
            let outcome = apply_update(&engine, &table, TABLE_ID, &request(rv)).await;
            assert_eq!(outcome.ops.len(), 1);
            assert_eq!(outcome.result.unwrap().attributes, expected, "{rv:?}");
        }
    });
}

#[test]
fn update_errors_at_apply_time_change_nothing() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let base = item(&[("pk", s("a")), ("sk", n("1")), ("s", s("text"))]);
        commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &put_req("tab", base)).await,
        )
        .await;
        let attempt = |expression: &str, vals: Option<Item>| {
            let mut r = update_req("tab", key("a", "1"));
            r.update_expression = Some(expression.to_owned());
            r.expression_attribute_values = vals;
            r
        };
        let cases = [
            (
                attempt("SET a = nothere + :one", values(&[(":one", n("1"))])),
                "The provided expression refers to an attribute that does not exist in the item",
            ),
            (
                attempt(
                    "SET big = :big",
                    values(&[(":big", s(&"x".repeat(409_600)))]),
                ),
                "Item size to update has exceeded the maximum allowed size",
            ),
            (
                attempt("SET x.y = :one", values(&[(":one", n("1"))])),
                "The document path provided in the update expression is invalid for update",
            ),
        ];
        for (request, expected) in cases {
            let outcome = apply_update(&engine, &table, TABLE_ID, &request).await;
            assert!(outcome.ops.is_empty(), "{expected}");
            let error = outcome.result.unwrap_err().error;
            assert_eq!(error.kind, ErrorKind::Validation);
            assert!(error.message.contains(expected), "{}", error.message);
        }
        // A failed condition with ALL_OLD returns the item as it was.
        let mut guarded = attempt(
            "SET s = :v",
            values(&[(":v", s("new")), (":old", s("nope"))]),
        );
        guarded.condition_expression = Some("s = :old".into());
        guarded.return_values_on_condition_check_failure =
            Some(ReturnValuesOnConditionCheckFailure::AllOld);
        let failure = apply_update(&engine, &table, TABLE_ID, &guarded)
            .await
            .result
            .unwrap_err();
        assert_eq!(failure.error.kind, ErrorKind::ConditionalCheckFailed);
        assert_eq!(failure.item.unwrap()["s"], s("text"));
    });
}

#[test]
fn delete_is_idempotent_and_conditional() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let stored = item(&[("pk", s("a")), ("sk", n("1")), ("v", n("5"))]);
        commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &put_req("tab", stored.clone())).await,
        )
        .await;
        let mut guarded = delete_req("tab", key("a", "1"));
        guarded.condition_expression = Some("v > :v".into());
        guarded.expression_attribute_values = values(&[(":v", n("5"))]);
        let outcome = apply_delete(&engine, &table, TABLE_ID, &guarded).await;
        assert_eq!(
            outcome.result.unwrap_err().error.kind,
            ErrorKind::ConditionalCheckFailed
        );
        let mut delete = delete_req("tab", key("a", "1"));
        delete.return_values = Some(ReturnValue::AllOld);
        let outcome = apply_delete(&engine, &table, TABLE_ID, &delete).await;
        assert_eq!(outcome.ops.len(), 1);
        assert_eq!(commit(&engine, outcome).await.attributes, Some(stored));
        // Deleting again succeeds, returns nothing, writes nothing and costs 1 WCU.
        let outcome = apply_delete(&engine, &table, TABLE_ID, &delete).await;
        assert!(outcome.ops.is_empty());
        assert_eq!(outcome.capacity, MilliUnits::units(1));
        assert_eq!(outcome.result.unwrap().attributes, None);
    });
}

#[test]
fn write_capacity_follows_section_10_1() {
    run(|| async {
        let engine = engine().await;
        let table = simple();
        let sized = |bytes: usize| item(&[("pk", s("k")), ("pad", s(&"x".repeat(bytes)))]);
        let mut put = put_req("hsh", sized(1500));
        put.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let outcome = apply_put(&engine, &table, TABLE_ID, &put).await;
        assert_eq!(
            outcome.capacity,
            MilliUnits::units(2),
            "1.5 KB rounds up to 2 WCU"
        );
        let response = commit(&engine, outcome).await;
        let consumed = response.consumed_capacity.expect("asked for");
        assert_eq!(
            (consumed.table_name.as_str(), consumed.capacity_units_milli),
            ("hsh", 2000)
        );
        // Replacing a 1.5 KB item with a small one charges the larger of the two, where the
        // units are seen: reported to the client, or charged to a provisioned table.
        let mut small = put_req("hsh", sized(10));
        small.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let reported = apply_put(&engine, &table, TABLE_ID, &small).await;
        assert_eq!(reported.capacity, MilliUnits::units(2));
        let consumed = reported.result.as_ref().unwrap().consumed_capacity.as_ref();
        assert_eq!(consumed.unwrap().capacity_units_milli, 2000);
        let mut provisioned = table.clone();
        provisioned.billing_mode_summary = None;
        let unasked = put_req("hsh", sized(10));
        let charged = apply_put(&engine, &provisioned, TABLE_ID, &unasked).await;
        assert_eq!(charged.capacity, MilliUnits::units(2));
        // An on-demand table that is not asked does not read the old item: the units count
        // the new one (nothing charges or reports them).
        let unseen = apply_put(&engine, &table, TABLE_ID, &unasked).await;
        assert_eq!(unseen.capacity, MilliUnits::units(1));
        assert_eq!(unseen.ops, charged.ops, "the same write either way");
        commit(&engine, unseen).await;
        // A failed condition on a missing item costs 1 WCU; on an existing one, its size.
        let mut guarded = put_req("hsh", item(&[("pk", s("other"))]));
        guarded.condition_expression = Some("attribute_exists(pk)".into());
        assert_eq!(
            apply_put(&engine, &table, TABLE_ID, &guarded)
                .await
                .capacity,
            MilliUnits::units(1)
        );
        commit(
            &engine,
            apply_put(&engine, &table, TABLE_ID, &put_req("hsh", sized(3000))).await,
        )
        .await;
        let mut failing = update_req("hsh", item(&[("pk", s("k"))]));
        failing.condition_expression = Some("attribute_not_exists(pk)".into());
        assert_eq!(
            apply_update(&engine, &table, TABLE_ID, &failing)
                .await
                .capacity,
            MilliUnits::units(3)
        );
        // Rejected requests cost nothing.
        let bad = put_req("hsh", item(&[("nokey", s("x"))]));
        assert_eq!(
            apply_put(&engine, &table, TABLE_ID, &bad).await.capacity,
            MilliUnits(0)
        );
    });
}

#[test]
fn apply_is_deterministic_across_replicas() {
    run(|| async {
        let table = composite();
        let (a, b) = (engine().await, engine().await);
        let mut request = update_req("tab", key("a", "1"));
        request.update_expression =
            Some("ADD tags :t, n :one SET l = list_append(if_not_exists(l, :e), :l)".into());
        request.expression_attribute_values = values(&[
            (":t", ss(&["x", "y"])),
            (":one", n("1")),
            (":e", AttributeValue::L(vec![])),
            (":l", AttributeValue::L(vec![s("v")])),
        ]);
        request.return_values = Some(ReturnValue::UpdatedNew);
        for _ in 0..3 {
            let left = apply_update(&a, &table, TABLE_ID, &request).await;
            let right = apply_update(&b, &table, TABLE_ID, &request).await;
            assert_eq!(left, right);
            commit(&a, left).await;
            commit(&b, right).await;
        }
    });
}

/// The proposer's replica applies a put with the checks it made before proposing
/// (`PutChecks`); every other replica checks again. Both give the same outcome.
#[test]
fn a_put_applied_with_the_proposers_checks_matches_one_checked_again() {
    run(|| async {
        let table = composite();
        let (proposer, follower) = (engine().await, engine().await);
        let mut plain = put_req(
            "tab",
            item(&[("pk", s("a")), ("sk", n("1")), ("v", n("1"))]),
        );
        plain.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let mut replace = plain.clone();
        replace.item.insert("v".into(), n("2"));
        replace.return_values = Some(ReturnValue::AllOld);
        replace.condition_expression = Some("v = :one".into());
        replace.expression_attribute_values = values(&[(":one", n("1"))]);
        let failing = replace.clone();
        for request in [plain, replace, failing] {
            let checks = prepare_put(&table, TABLE_ID, &request)
                .unwrap()
                .into_checks();
            let mine = PreparedPut::from_checks(&request, checks)
                .apply(&proposer)
                .await;
            let theirs = apply_put(&follower, &table, TABLE_ID, &request).await;
            assert_eq!(mine, theirs);
            commit_any(&proposer, mine).await;
            commit_any(&follower, theirs).await;
        }
    });
}
