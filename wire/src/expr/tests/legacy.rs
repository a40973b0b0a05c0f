//! Legacy parameters: Expected, QueryFilter/ScanFilter, ConditionalOperator, AttributeUpdates
//! (§8.7), translated and evaluated.

use super::*;
use crate::message::{
    AttributeAction, AttributeValueUpdate, ComparisonOperator, Condition as LegacyCondition,
    ConditionalOperator, ExpectedAttributeValue,
};

fn filter(
    entries: &[(&str, ComparisonOperator, Vec<AttributeValue>)],
) -> BTreeMap<String, LegacyCondition> {
    entries
        .iter()
        .map(|(name, op, values)| {
            let condition = LegacyCondition {
                comparison_operator: *op,
                attribute_value_list: Some(values.clone()),
            };
            (name.to_string(), condition)
        })
        .collect()
}

fn filter_error(op: ComparisonOperator, values: Vec<AttributeValue>) -> String {
    filter_conditions(&filter(&[("a", op, values)]), None)
        .err()
        .map(|e| e.message)
        .unwrap_or_default()
}

#[test]
fn filter_validation_messages() {
    use ComparisonOperator::*;
    let p = "One or more parameter values were invalid: ";
    assert_eq!(
        filter_error(Eq, vec![]),
        format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator")
    );
    assert_eq!(
        filter_error(Null, vec![s("a")]),
        format!("{p}Invalid number of argument(s) for the NULL ComparisonOperator")
    );
    assert_eq!(
        filter_error(Between, vec![s("a")]),
        format!("{p}Invalid number of argument(s) for the BETWEEN ComparisonOperator")
    );
    assert_eq!(
        filter_error(In, vec![s("b"), n("1")]),
        format!("{p}AttributeValues inside AttributeValueList must be of same type")
    );
    assert_eq!(
        filter_error(Lt, vec![AttributeValue::Bool(true)]),
        format!("{p}ComparisonOperator LT is not valid for BOOL AttributeValue type")
    );
    assert_eq!(
        filter_error(Contains, vec![ss(&["a"])]),
        format!("{p}ComparisonOperator CONTAINS is not valid for SS AttributeValue type")
    );
    assert_eq!(
        filter_error(BeginsWith, vec![n("1")]),
        format!("{p}ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")
    );
    assert_eq!(
        filter_error(Between, vec![s("b"), s("a")]),
        "The BETWEEN condition was provided a range where the lower bound is greater than the \
         upper bound"
    );
    assert_eq!(filter_error(Eq, vec![l(vec![])]), "");
}

fn matches(
    entries: &[(&str, ComparisonOperator, Vec<AttributeValue>)],
    operator: Option<ConditionalOperator>,
    row: &Item,
) -> bool {
    let condition = filter_conditions(&filter(entries), operator)
        .expect("valid")
        .expect("non-empty");
    condition.evaluate(row)
}

#[test]
fn filters_evaluate_like_dynamodb() {
    use ComparisonOperator::*;
    let row = item(&[("a", n("5")), ("s", s("hello")), ("set", ss(&["x", "y"]))]);
    assert!(matches(&[("a", Eq, vec![n("5")])], None, &row));
    assert!(matches(&[("a", Ne, vec![n("4")])], None, &row));
    assert!(matches(&[("q", Ne, vec![n("4")])], None, &row));
    assert!(matches(&[("a", Between, vec![n("1"), n("5")])], None, &row));
    assert!(matches(&[("a", In, vec![n("1"), n("5")])], None, &row));
    assert!(matches(&[("a", NotNull, vec![])], None, &row));
    assert!(matches(&[("q", Null, vec![])], None, &row));
    assert!(matches(&[("s", BeginsWith, vec![s("he")])], None, &row));
    assert!(matches(&[("set", Contains, vec![s("x")])], None, &row));
    assert!(matches(&[("set", NotContains, vec![s("z")])], None, &row));
    assert!(!matches(&[("q", NotContains, vec![s("z")])], None, &row));
    assert!(!matches(&[("a", Lt, vec![s("9")])], None, &row));
    let both = [("a", Eq, vec![n("5")]), ("s", Eq, vec![s("nope")])];
    assert!(!matches(&both, None, &row));
    assert!(!matches(&both, Some(ConditionalOperator::And), &row));
    assert!(matches(&both, Some(ConditionalOperator::Or), &row));
    assert_eq!(
        filter_conditions(&BTreeMap::new(), None).expect("valid"),
        None
    );
}

fn none() -> ExpectedAttributeValue {
    ExpectedAttributeValue {
        value: None,
        exists: None,
        comparison_operator: None,
        attribute_value_list: None,
    }
}

fn expected_one(entry: ExpectedAttributeValue) -> Result<Condition, String> {
    let mut map = BTreeMap::new();
    map.insert("a".to_string(), entry);
    expected(&map, None)
        .map(|c| c.expect("non-empty"))
        .map_err(|e| e.message)
}

#[test]
fn expected_forms() {
    let p = "One or more parameter values were invalid: ";
    let row = item(&[("a", n("1"))]);
    let equal = expected_one(ExpectedAttributeValue {
        value: Some(n("1")),
        ..none()
    })
    .expect("ok");
    assert!(equal.evaluate(&row));
    let absent = expected_one(ExpectedAttributeValue {
        exists: Some(false),
        ..none()
    })
    .expect("ok");
    assert!(!absent.evaluate(&row) && absent.evaluate_opt(None));
    let ranged = ExpectedAttributeValue {
        comparison_operator: Some(ComparisonOperator::Gt),
        attribute_value_list: Some(vec![n("0")]),
        ..none()
    };
    assert!(expected_one(ranged).expect("ok").evaluate(&row));
    let cases = [
        (
            ExpectedAttributeValue {
                exists: Some(true),
                ..none()
            },
            "Value must be provided when Exists is true for Attribute: a",
        ),
        (
            none(),
            "Value must be provided when Exists is null for Attribute: a",
        ),
        (
            ExpectedAttributeValue {
                exists: Some(false),
                value: Some(n("1")),
                ..none()
            },
            "Value cannot be used when Exists is false for Attribute: a",
        ),
        (
            ExpectedAttributeValue {
                exists: Some(true),
                comparison_operator: Some(ComparisonOperator::Eq),
                value: Some(n("1")),
                ..none()
            },
            "Exists and ComparisonOperator cannot be used together for Attribute: a",
        ),
        (
            ExpectedAttributeValue {
                value: Some(n("1")),
                attribute_value_list: Some(vec![n("1")]),
                ..none()
            },
            "Value and AttributeValueList cannot be used together for Attribute: a",
        ),
        (
            ExpectedAttributeValue {
                attribute_value_list: Some(vec![n("1")]),
                ..none()
            },
            "AttributeValueList can only be used with a ComparisonOperator for Attribute: a",
        ),
        (
            ExpectedAttributeValue {
                comparison_operator: Some(ComparisonOperator::Eq),
                ..none()
            },
            "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a",
        ),
    ];
    for (entry, message) in cases {
        assert_eq!(expected_one(entry).err(), Some(format!("{p}{message}")));
    }
}

fn updates(
    entries: &[(&str, Option<AttributeAction>, Option<AttributeValue>)],
) -> Result<UpdateExpr, String> {
    let map = entries
        .iter()
        .map(|(name, action, value)| {
            (
                name.to_string(),
                AttributeValueUpdate {
                    action: *action,
                    value: value.clone(),
                },
            )
        })
        .collect();
    attribute_updates(&map).map_err(|e| e.message)
}

#[test]
fn attribute_updates_translate_and_apply() {
    use AttributeAction::*;
    let p = "One or more parameter values were invalid: ";
    assert_eq!(
        updates(&[("a", Some(Put), None)]).err(),
        Some(format!(
            "{p}Only DELETE action is allowed when no attribute value is specified"
        ))
    );
    assert_eq!(
        updates(&[("a", Some(Delete), Some(s("x")))]).err(),
        Some(format!(
            "{p}DELETE action with value is not supported for the type S"
        ))
    );
    assert_eq!(
        updates(&[("a", Some(Add), Some(s("x")))]).err(),
        Some(format!("{p}ADD action is not supported for the type S"))
    );

    let update = updates(&[
        ("a", None, Some(n("1"))),
        ("gone", Some(Delete), None),
        ("l", Some(Add), Some(l(vec![s("y")]))),
        ("n", Some(Add), Some(n("2"))),
        ("set", Some(Delete), Some(ss(&["x"]))),
    ])
    .expect("valid");
    let key = item(&[("pk", s("k"))]);
    let old = item(&[
        ("pk", s("k")),
        ("gone", n("0")),
        ("l", l(vec![s("x")])),
        ("n", n("1")),
        ("set", ss(&["x", "y"])),
    ]);
    let new = update.apply(Some(&old), &key).expect("applies").item;
    let expected_item = item(&[
        ("pk", s("k")),
        ("a", n("1")),
        ("l", l(vec![s("x"), s("y")])),
        ("n", n("3")),
        ("set", ss(&["y"])),
    ]);
    assert_eq!(new, Some(expected_item));

    let mismatch = updates(&[("n", Some(Add), Some(n("1")))]).expect("valid");
    let error = mismatch
        .apply(Some(&item(&[("n", s("x"))])), &key)
        .unwrap_err();
    assert_eq!(error.message, "Type mismatch for attribute to update");
    let nothing = updates(&[]).expect("valid");
    assert_eq!(
        nothing.apply(None, &key).expect("applies").item,
        Some(key.clone())
    );
}
