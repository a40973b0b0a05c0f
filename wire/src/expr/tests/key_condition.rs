//! KeyConditionExpression and KeyConditions: structural rules, binding to a key schema, and
//! the key range handed to storage (§8.5).

use super::*;
use crate::message::{ComparisonOperator, Condition as LegacyCondition};
use crate::schema::{KeyAttribute, KeySchema, ScalarType};

fn schema(partition: (&str, ScalarType), sort: Option<(&str, ScalarType)>) -> KeySchema {
    let attribute = |(name, scalar_type): (&str, ScalarType)| KeyAttribute {
        name: name.to_string(),
        scalar_type,
    };
    KeySchema {
        partition: attribute(partition),
        sort: sort.map(attribute),
    }
}

fn range_table() -> KeySchema {
    schema(("p", ScalarType::S), Some(("r", ScalarType::N)))
}

fn hash_table() -> KeySchema {
    schema(("p", ScalarType::S), None)
}

fn key_values() -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":p", s("pk")),
        (":a", n("1")),
        (":b", n("5")),
        (":s", s("x")),
        (":empty", s("")),
    ]
}

fn parse(text: &str) -> Result<KeyConditionExpr, String> {
    let value_map = item(&key_values());
    let mut subs = Substitutions::new(None, Some(&value_map));
    parse_key_condition(text, &mut subs).map_err(|e| e.message)
}

fn bound(text: &str, schema: &KeySchema) -> Result<KeyCondition, String> {
    parse(text)?.bind(schema).map_err(|e| e.message)
}

#[test]
fn structural_errors() {
    let cases = [
        (
            "p = :p OR r = :a",
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "NOT p = :p",
            "Invalid operator used in KeyConditionExpression: NOT",
        ),
        (
            "p IN (:p)",
            "Invalid operator used in KeyConditionExpression: IN",
        ),
        (
            "p <> :p",
            "Invalid operator used in KeyConditionExpression: <>",
        ),
        (
            "attribute_exists(p)",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "contains(p, :s)",
            "Invalid operator used in KeyConditionExpression: contains",
        ),
        (
            "p = :p AND size(r) > :a",
            "KeyConditionExpressions cannot contain nested operations",
        ),
        (
            ":a between r and :b",
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key \
             attribute as its first operand",
        ),
        (
            "begins_with(:s, p)",
            "Invalid condition in KeyConditionExpression: begins_with operator must have the key \
             attribute as its first operand",
        ),
        (
            "p = r",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one \
             condition",
        ),
        (
            "p.x = :p",
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        (
            ":a = :b",
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ),
        (
            "r > :a AND r < :b",
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "p = :p AND r = :a AND q = :a",
            "Conditions can be of length 1 or 2 only",
        ),
        ("p = :p AND (r > :a)", ""),
        ("p > :p AND r > :a", ""),
        (
            "attribute_type(p, :a)",
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; \
             operator or function: attribute_type, operand type: N",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).err().unwrap_or_default(), expected, "{text}");
    }
}

#[test]
fn binding_to_the_schema() {
    let mut cases: Vec<(&str, KeySchema, &str)> = vec![
        (
            "r = :a",
            range_table(),
            "Query condition missed key schema element: p",
        ),
        (
            "p = :p AND q = :a",
            range_table(),
            "Query condition missed key schema element: r",
        ),
        (
            "p = :p AND r = :a",
            hash_table(),
            "Query key condition not supported",
        ),
        ("p > :p", hash_table(), "Query key condition not supported"),
        (
            "p = :a",
            hash_table(),
            "One or more parameter values were invalid: Condition parameter type does not match \
             schema type",
        ),
        (
            "p = :p AND begins_with(r, :s)",
            range_table(),
            "One or more parameter values were invalid: Condition parameter type does not match \
             schema type",
        ),
    ];
    cases.push((
        "p = :empty",
        hash_table(),
        "One or more parameter values are not valid. The AttributeValue for a key attribute \
         cannot contain an empty string value. Key: p",
    ));
    for (text, schema, expected) in cases {
        assert_eq!(
            bound(text, &schema).err().as_deref(),
            Some(expected),
            "{text}"
        );
    }
}

#[test]
fn bound_conditions_select_key_ranges() {
    let table = range_table();
    let check = |text: &str, sort: Option<SortKeyCondition>| {
        let condition = bound(text, &table).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            condition,
            KeyCondition {
                partition: s("pk"),
                sort
            },
            "{text}"
        );
    };
    check("p = :p", None);
    check(":p = p", None);
    check("p = :p AND r < :a", Some(SortKeyCondition::Lt(n("1"))));
    check(":a < r AND p = :p", Some(SortKeyCondition::Gt(n("1"))));
    check("p = :p AND :a >= r", Some(SortKeyCondition::Le(n("1"))));
    check(
        "(p = :p) AND (r BETWEEN :a AND :b)",
        Some(SortKeyCondition::Between(n("1"), n("5"))),
    );
    let text_schema = schema(("p", ScalarType::S), Some(("t", ScalarType::S)));
    let condition = bound("p = :p AND begins_with(t, :s)", &text_schema).expect("binds");
    assert_eq!(condition.sort, Some(SortKeyCondition::BeginsWith(s("x"))));
    let row = item(&[("p", s("pk")), ("t", s("xyz"))]);
    assert!(condition.matches(&row, &text_schema));
    let other = item(&[("p", s("pk")), ("t", s("abc"))]);
    assert!(!condition.matches(&other, &text_schema));

    let between = SortKeyCondition::Between(n("1"), n("5"));
    assert!(between.matches(&n("1")) && between.matches(&n("5")) && !between.matches(&n("6")));
    assert!(!between.matches(&s("3")));
}

#[test]
fn legacy_key_conditions() {
    let condition = |op: ComparisonOperator, values: Vec<AttributeValue>| LegacyCondition {
        comparison_operator: op,
        attribute_value_list: Some(values),
    };
    let mut map = BTreeMap::new();
    map.insert(
        "p".to_string(),
        condition(ComparisonOperator::Eq, vec![s("pk")]),
    );
    map.insert(
        "r".to_string(),
        condition(ComparisonOperator::Ge, vec![n("2")]),
    );
    let bound = key_conditions(&map)
        .and_then(|k| k.bind(&range_table()))
        .expect("ok");
    assert_eq!(bound.sort, Some(SortKeyCondition::Ge(n("2"))));

    map.insert(
        "r".to_string(),
        condition(ComparisonOperator::NotNull, vec![]),
    );
    let error = key_conditions(&map)
        .and_then(|k| k.bind(&range_table()))
        .unwrap_err();
    assert_eq!(
        error.message,
        "Attempted conditional constraint is not an indexable operation"
    );

    map.insert(
        "q".to_string(),
        condition(ComparisonOperator::Eq, vec![s("x")]),
    );
    let error = key_conditions(&map).unwrap_err();
    assert_eq!(error.message, "Conditions can be of length 1 or 2 only");
}
