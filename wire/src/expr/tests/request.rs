//! Request-level validation: placeholder maps, unused placeholders, parameters that may not
//! appear together, and the order of checks across expressions (§8.1, §8.7).

use super::*;

#[derive(Default)]
struct Request {
    accepted: &'static [ExpressionKind],
    update: Option<&'static str>,
    condition: Option<&'static str>,
    key_condition: Option<&'static str>,
    filter: Option<&'static str>,
    projection: Option<&'static str>,
    names: Option<BTreeMap<String, String>>,
    values: Option<Item>,
}

fn check(request: Request, expected: &str) {
    let borrowed = RequestExpressions {
        accepted: request.accepted,
        update: request.update,
        condition: request.condition,
        key_condition: request.key_condition,
        filter: request.filter,
        projection: request.projection,
        names: request.names.as_ref(),
        values: request.values.as_ref(),
    };
    let result = parse_request(&borrowed)
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert_eq!(result, expected);
}

fn value_map(keys: &[&str]) -> Option<Item> {
    Some(keys.iter().map(|k| (k.to_string(), s("v"))).collect())
}

#[test]
fn placeholder_bookkeeping() {
    check(
        Request {
            accepted: SCAN_EXPRESSIONS,
            filter: Some("a = :v"),
            values: value_map(&[":v", ":w"]),
            ..Default::default()
        },
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
    );
    check(
        Request {
            accepted: SCAN_EXPRESSIONS,
            filter: Some("a = :v"),
            names: Some(names(&[("#x", "x"), ("#y", "y")])),
            values: value_map(&[":v", ":w"]),
            ..Default::default()
        },
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x, #y}",
    );
    // A placeholder used in any expression of the request counts as used.
    check(
        Request {
            accepted: QUERY_EXPRESSIONS,
            key_condition: Some("#p = :v"),
            filter: Some("attribute_exists(#q)"),
            projection: Some("#p, #q"),
            names: Some(names(&[("#p", "p"), ("#q", "q")])),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "",
    );
    // Use is recorded at parse time, even where evaluation would short-circuit.
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("attribute_not_exists(a) OR a = :v"),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "",
    );
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("a = :v"),
            values: Some(Item::new()),
            ..Default::default()
        },
        "ExpressionAttributeValues must not be empty",
    );
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("a = :v"),
            names: Some(BTreeMap::new()),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "ExpressionAttributeNames must not be empty",
    );
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("a = :v"),
            values: value_map(&["v"]),
            ..Default::default()
        },
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\"",
    );
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("#a = :v"),
            names: Some(names(&[("a", "a")])),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"",
    );
    let long_key = format!(":{}", "k".repeat(255));
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("a = :v"),
            values: value_map(&[":v", &long_key]),
            ..Default::default()
        },
        "ExpressionAttributeValues contains invalid key: The expression attribute map contains a \
         key that is too long; size of key: 256",
    );
    let mut bad_values = Item::new();
    bad_values.insert(":v".into(), AttributeValue::Ss(vec![]));
    check(
        Request {
            accepted: PUT_ITEM_EXPRESSIONS,
            condition: Some("a = :v"),
            values: Some(bad_values),
            ..Default::default()
        },
        "ExpressionAttributeValues contains invalid value: One or more parameter values were \
         invalid: An string set  may not be empty for key :v",
    );
}

#[test]
fn maps_without_expressions_are_rejected() {
    check(
        Request {
            accepted: SCAN_EXPRESSIONS,
            names: Some(names(&[("#a", "a")])),
            ..Default::default()
        },
        "ExpressionAttributeNames can only be specified when using expressions",
    );
    check(
        Request {
            accepted: SCAN_EXPRESSIONS,
            projection: Some("a"),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "ExpressionAttributeValues can only be specified when using expressions: FilterExpression \
         is null",
    );
    check(
        Request {
            accepted: UPDATE_ITEM_EXPRESSIONS,
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "ExpressionAttributeValues can only be specified when using expressions: \
         UpdateExpression and ConditionExpression are null",
    );
    check(
        Request {
            accepted: GET_ITEM_EXPRESSIONS,
            projection: Some("a"),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
    );
}

#[test]
fn expressions_are_checked_in_dynamodb_order() {
    // UpdateExpression is parsed before ConditionExpression.
    check(
        Request {
            accepted: UPDATE_ITEM_EXPRESSIONS,
            update: Some("SET"),
            condition: Some("a ="),
            ..Default::default()
        },
        "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\"",
    );
    check(
        Request {
            accepted: QUERY_EXPRESSIONS,
            key_condition: Some("p = :v"),
            filter: Some(""),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "Invalid FilterExpression: The expression can not be empty;",
    );
    check(
        Request {
            accepted: QUERY_EXPRESSIONS,
            key_condition: Some("p = :v"),
            filter: Some("a > b"),
            projection: Some(""),
            values: value_map(&[":v"]),
            ..Default::default()
        },
        "Invalid ProjectionExpression: The expression can not be empty;",
    );
}

#[test]
fn mixing_legacy_and_expression_parameters() {
    assert!(reject_mixed_parameters(&[], &["FilterExpression"]).is_ok());
    assert!(reject_mixed_parameters(&["ScanFilter"], &[]).is_ok());
    assert_eq!(
        reject_mixed_parameters(
            &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
            &["ProjectionExpression", "FilterExpression"]
        )
        .unwrap_err()
        .message,
        "Can not use both expression and non-expression parameters in the same request: \
         Non-expression parameters: {AttributesToGet, ScanFilter, ConditionalOperator} \
         Expression parameters: {ProjectionExpression, FilterExpression}"
    );
}
