//! GetItem, Query and Scan: validation with DynamoDB's messages, projections, pagination
//! (LastEvaluatedKey round trips, reverse order, filters, COUNT, the 1 MB cap), parallel scan
//! segments over partitions, and read capacity (§7.2, §7.5, §7.6, §10).

use shoal_wire::message::{
    ComparisonOperator, Condition as LegacyCondition, ConditionalOperator, QueryRequest,
    ReturnConsumedCapacity, ScanRequest, Select,
};
use shoal_wire::schema::{ScalarType, TableDescription};
use shoal_wire::value::{AttributeValue, Item};

use super::support::*;
use crate::exec::capacity::MilliUnits;
use crate::exec::{
    apply_put, get_item, prepare_get, prepare_query, prepare_scan, query, scan_range,
};
use crate::storage::Engine;
use crate::storage::sim::SimDisk;

/// Stores items, committing their ops in batches of about 2 MB.
async fn load(engine: &Engine<SimDisk>, table: &TableDescription, items: Vec<Item>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for item in items {
        let request = put_req(&table.table_name, item);
        let outcome = apply_put(engine, table, TABLE_ID, &request).await;
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        for op in outcome.ops {
            bytes += op.value.as_ref().map_or(0, Vec::len);
            batch.push(op);
        }
        if bytes > 2 << 20 {
            engine.commit(1, std::mem::take(&mut batch)).await.unwrap();
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        engine.commit(1, batch).await.unwrap();
    }
}

fn row(pk: &str, sk: i64, extra: &[(&str, AttributeValue)]) -> Item {
    let mut row = item(&[("pk", s(pk)), ("sk", n(&sk.to_string()))]);
    row.extend(item(extra));
    row
}

/// The `sk` numbers of a page's items.
fn sort_keys(items: &Option<Vec<Item>>) -> Vec<String> {
    let items = items.as_ref().expect("items returned");
    items
        .iter()
        .map(|i| match &i["sk"] {
            AttributeValue::N(n) => n.to_string(),
            AttributeValue::S(s) => s.clone(),
            other => panic!("sk {other:?}"),
        })
        .collect()
}

#[test]
fn get_validation_follows_dynamodb() {
    let table = composite();
    let base = || get_req("tab", item(&[("pk", s("a")), ("sk", n("1"))]));
    let cases = vec![
        (
            shoal_wire::message::GetItemRequest {
                projection_expression: Some("a".into()),
                attributes_to_get: Some(vec!["a".into()]),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {AttributesToGet} Expression parameters: \
             {ProjectionExpression}",
        ),
        (
            shoal_wire::message::GetItemRequest {
                attributes_to_get: Some(vec!["a".into(), "a".into()]),
                ..base()
            },
            "One or more parameter values were invalid: Duplicate value in attribute name: a",
        ),
        (
            shoal_wire::message::GetItemRequest {
                expression_attribute_names: names(&[("#a", "a")]),
                ..base()
            },
            "ExpressionAttributeNames can only be specified when using expressions",
        ),
        (
            shoal_wire::message::GetItemRequest {
                projection_expression: Some("a".into()),
                expression_attribute_names: names(&[("#a", "a")]),
                ..base()
            },
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}",
        ),
        (
            shoal_wire::message::GetItemRequest {
                projection_expression: Some(String::new()),
                ..base()
            },
            "Invalid ProjectionExpression: The expression can not be empty;",
        ),
        (
            get_req("tab", item(&[("pk", s("a")), ("sk", s("1"))])),
            "One or more parameter values were invalid: Type mismatch for key sk expected: N \
             actual: S",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_get(&table, TABLE_ID, &request)),
            expected,
            "{request:?}"
        );
    }
    let long = get_req("tab", item(&[("pk", s(&"k".repeat(2049))), ("sk", n("1"))]));
    assert!(message(prepare_get(&table, TABLE_ID, &long)).contains("2048"));
}

#[test]
fn get_returns_projections_and_charges_the_whole_item() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let doc = AttributeValue::M([("c".to_owned(), n("1")), ("d".to_owned(), n("2"))].into());
        let list = AttributeValue::L(vec![s("x"), s("y"), s("z")]);
        let pad = s(&"p".repeat(5000));
        let stored = row(
            "a",
            1,
            &[("a", n("7")), ("b", doc), ("l", list), ("pad", pad)],
        );
        load(&engine, &table, vec![stored.clone()]).await;
        let key = item(&[("pk", s("a")), ("sk", n("1"))]);
        let get = |request| {
            let (engine, table) = (engine.clone(), table.clone());
            async move { get_item(&engine, &table, TABLE_ID, &request).await.unwrap() }
        };
        assert_eq!(get(get_req("tab", key.clone())).await.item, Some(stored));
        let mut projected = get_req("tab", key.clone());
        projected.projection_expression = Some("a, b.c, #l[1]".into());
        projected.expression_attribute_names = names(&[("#l", "l")]);
        let expected = item(&[
            ("a", n("7")),
            ("b", AttributeValue::M([("c".to_owned(), n("1"))].into())),
            ("l", AttributeValue::L(vec![s("y")])),
        ]);
        assert_eq!(get(projected).await.item, Some(expected));
        let mut legacy = get_req("tab", key.clone());
        legacy.attributes_to_get = Some(vec!["a".into(), "zz".into()]);
        assert_eq!(get(legacy).await.item, Some(item(&[("a", n("7"))])));
        let mut nothing = get_req("tab", key.clone());
        nothing.projection_expression = Some("zz".into());
        assert_eq!(
            get(nothing).await.item,
            Some(Item::new()),
            "an existing item gives {{}}"
        );
        // Capacity: the whole ~5 KB item, not the projection: 2 RCU strong, 1 eventual.
        let mut strong = get_req("tab", key.clone());
        strong.consistent_read = Some(true);
        strong.projection_expression = Some("a".into());
        strong.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let consumed = get(strong).await.consumed_capacity.unwrap();
        assert_eq!(consumed.capacity_units_milli, 2000);
        let eventual = get_req("tab", key);
        let prepared = prepare_get(&table, TABLE_ID, &eventual).unwrap();
        assert_eq!(
            prepared.execute(&engine).await.unwrap().capacity,
            MilliUnits(1000)
        );
        // Missing items: no Item, and the minimum charge.
        let missing = get_req("tab", item(&[("pk", s("zz")), ("sk", n("1"))]));
        let prepared = prepare_get(&table, TABLE_ID, &missing).unwrap();
        let outcome = prepared.execute(&engine).await.unwrap();
        assert_eq!(
            (outcome.response.item, outcome.capacity),
            (None, MilliUnits(500))
        );
    });
}

fn legacy_eq(value: AttributeValue) -> LegacyCondition {
    LegacyCondition {
        comparison_operator: ComparisonOperator::Eq,
        attribute_value_list: Some(vec![value]),
    }
}

#[test]
fn query_validation_follows_dynamodb() {
    let table = composite();
    let p = || values(&[(":p", s("p"))]);
    let base = || query_req("tab", "pk = :p", p());
    let start = |pk: &str, sk: Option<&str>| {
        let mut key = item(&[("pk", s(pk))]);
        if let Some(sk) = sk {
            key.insert("sk".into(), n(sk));
        }
        Some(key)
    };
    let cases: Vec<(QueryRequest, &str)> = vec![
        (
            QueryRequest {
                key_condition_expression: None,
                expression_attribute_values: None,
                ..base()
            },
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in \
             the request.",
        ),
        (
            QueryRequest {
                limit: Some(0),
                ..base()
            },
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ),
        (
            query_req("tab", "sk = :v", values(&[(":v", n("1"))])),
            "Query condition missed key schema element: pk",
        ),
        (
            query_req("tab", "pk = :v", values(&[(":v", n("1"))])),
            "One or more parameter values were invalid: Condition parameter type does not match \
             schema type",
        ),
        (
            QueryRequest {
                filter_expression: Some("sk > :p".into()),
                ..base()
            },
            "Filter Expression can only contain non-primary key attributes: Primary key \
             attribute: sk",
        ),
        (
            QueryRequest {
                index_name: Some("idx".into()),
                ..base()
            },
            "The table does not have the specified index: idx",
        ),
        (
            QueryRequest {
                select: Some(Select::Count),
                projection_expression: Some("a".into()),
                ..base()
            },
            "1 validation error detected: Cannot specify the ProjectionExpression when choosing \
             to get only the Count",
        ),
        (
            QueryRequest {
                exclusive_start_key: start("p", None),
                ..base()
            },
            "The provided starting key is invalid: The provided key element does not match the \
             schema",
        ),
        (
            QueryRequest {
                exclusive_start_key: start("q", Some("1")),
                ..base()
            },
            "The provided starting key is outside query boundaries based on provided conditions",
        ),
        (
            QueryRequest {
                exclusive_start_key: start("p", Some("1")),
                ..query_req(
                    "tab",
                    "pk = :p AND sk > :lo",
                    values(&[(":p", s("p")), (":lo", n("5"))]),
                )
            },
            "The provided starting key does not match the range key predicate",
        ),
        (
            QueryRequest {
                key_conditions: Some([("pk".to_owned(), legacy_eq(s("p")))].into()),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {KeyConditions} Expression parameters: \
             {KeyConditionExpression}",
        ),
        (
            QueryRequest {
                conditional_operator: Some(ConditionalOperator::And),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {ConditionalOperator} Expression parameters: \
             {KeyConditionExpression}",
        ),
        (
            QueryRequest {
                key_condition_expression: None,
                expression_attribute_values: None,
                key_conditions: Some([("pk".to_owned(), legacy_eq(s("p")))].into()),
                query_filter: Some([("pk".to_owned(), legacy_eq(s("p")))].into()),
                ..base()
            },
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: pk",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_query(&table, TABLE_ID, &request)),
            expected,
            "{request:?}"
        );
    }
    // KeyConditions may go with FilterExpression (only KeyConditionExpression excludes it).
    let mixed = QueryRequest {
        key_condition_expression: None,
        key_conditions: Some([("pk".to_owned(), legacy_eq(s("p")))].into()),
        filter_expression: Some("a = :p".into()),
        ..base()
    };
    assert_eq!(message(prepare_query(&table, TABLE_ID, &mixed)), "");
    // A table without a sort key takes no ExclusiveStartKey in Query.
    let hashed = QueryRequest {
        exclusive_start_key: start("p", None),
        ..query_req("hsh", "pk = :p", p())
    };
    let error = message(prepare_query(&simple(), TABLE_ID, &hashed));
    assert!(
        error.starts_with("The provided starting key is invalid"),
        "{error}"
    );
}

/// Pages through a query, returning each page's sort keys and whether it had a
/// LastEvaluatedKey; every LastEvaluatedKey is fed back as ExclusiveStartKey.
async fn pages(
    engine: &Engine<SimDisk>,
    table: &TableDescription,
    request: QueryRequest,
) -> Vec<(Vec<String>, bool)> {
    let mut request = request;
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = query(engine, table, TABLE_ID, &request)
            .await
            .expect("query");
        let more = page.last_evaluated_key.is_some();
        out.push((sort_keys(&page.items), more));
        match page.last_evaluated_key {
            Some(key) => request.exclusive_start_key = Some(key),
            None => return out,
        }
    }
    panic!("query did not finish in 100 pages");
}

fn strings(keys: &[i64]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn query_pages_round_trip_forward_and_reverse() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let mut rows: Vec<Item> = (1..=10)
            .map(|sk| row("p", sk, &[("even", AttributeValue::Bool(sk % 2 == 0))]))
            .collect();
        rows.extend((1..=3).map(|sk| row("q", sk, &[])));
        load(&engine, &table, rows).await;
        let p = values(&[(":p", s("p"))]);
        let limited = |limit: u32, forward: bool| QueryRequest {
            limit: Some(limit),
            scan_index_forward: Some(forward),
            ..query_req("tab", "pk = :p", p.clone())
        };
        let got = pages(&engine, &table, limited(3, true)).await;
        let expected = vec![
            (strings(&[1, 2, 3]), true),
            (strings(&[4, 5, 6]), true),
            (strings(&[7, 8, 9]), true),
            (strings(&[10]), false),
        ];
        assert_eq!(got, expected);
        // Limit reached exactly at the end: LastEvaluatedKey anyway, then an empty page.
        let got = pages(&engine, &table, limited(5, true)).await;
        let expected = vec![
            (strings(&[1, 2, 3, 4, 5]), true),
            (strings(&[6, 7, 8, 9, 10]), true),
            (vec![], false),
        ];
        assert_eq!(got, expected);
        let got = pages(&engine, &table, limited(4, false)).await;
        let expected = vec![
            (strings(&[10, 9, 8, 7]), true),
            (strings(&[6, 5, 4, 3]), true),
            (strings(&[2, 1]), false),
        ];
        assert_eq!(got, expected);
        let between = QueryRequest {
            scan_index_forward: Some(false),
            ..query_req(
                "tab",
                "pk = :p AND sk BETWEEN :a AND :b",
                values(&[(":p", s("p")), (":a", n("3")), (":b", n("6"))]),
            )
        };
        assert_eq!(
            pages(&engine, &table, between).await,
            vec![(strings(&[6, 5, 4, 3]), false)]
        );
    });
}

#[test]
fn query_filters_count_and_select() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let rows = (1..=10)
            .map(|sk| {
                row(
                    "p",
                    sk,
                    &[("even", AttributeValue::Bool(sk % 2 == 0)), ("v", n("1"))],
                )
            })
            .collect();
        load(&engine, &table, rows).await;
        let filtered = QueryRequest {
            limit: Some(4),
            filter_expression: Some("even = :t".into()),
            ..query_req(
                "tab",
                "pk = :p",
                values(&[(":p", s("p")), (":t", AttributeValue::Bool(true))]),
            )
        };
        let page = query(&engine, &table, TABLE_ID, &filtered).await.unwrap();
        assert_eq!((page.count, page.scanned_count), (2, 4));
        assert_eq!(sort_keys(&page.items), strings(&[2, 4]));
        assert_eq!(
            page.last_evaluated_key,
            Some(item(&[("pk", s("p")), ("sk", n("4"))]))
        );
        let count = QueryRequest {
            select: Some(Select::Count),
            ..query_req("tab", "pk = :p", values(&[(":p", s("p"))]))
        };
        let page = query(&engine, &table, TABLE_ID, &count).await.unwrap();
        assert_eq!((page.items, page.count, page.scanned_count), (None, 10, 10));
        let projected = QueryRequest {
            projection_expression: Some("v".into()),
            limit: Some(1),
            ..query_req("tab", "pk = :p", values(&[(":p", s("p"))]))
        };
        let page = query(&engine, &table, TABLE_ID, &projected).await.unwrap();
        assert_eq!(page.items, Some(vec![item(&[("v", n("1"))])]));
        // The legacy forms: KeyConditions, QueryFilter with ConditionalOperator, AttributesToGet.
        let legacy = QueryRequest {
            key_condition_expression: None,
            expression_attribute_values: None,
            key_conditions: Some([("pk".to_owned(), legacy_eq(s("p")))].into()),
            query_filter: Some(
                [
                    ("even".to_owned(), legacy_eq(AttributeValue::Bool(true))),
                    ("v".to_owned(), legacy_eq(n("1"))),
                ]
                .into(),
            ),
            conditional_operator: Some(ConditionalOperator::And),
            attributes_to_get: Some(vec!["sk".into()]),
            ..query_req("tab", "unused", None)
        };
        let page = query(&engine, &table, TABLE_ID, &legacy).await.unwrap();
        assert_eq!(sort_keys(&page.items), strings(&[2, 4, 6, 8, 10]));
    });
}

#[test]
fn query_begins_with_on_string_sort_keys() {
    run(|| async {
        let engine = engine().await;
        let table = table("srt", ("pk", ScalarType::S), Some(("sk", ScalarType::S)));
        let rows = ["a", "ab", "abc", "abd", "b", "ab\u{0}"]
            .iter()
            .map(|sk| item(&[("pk", s("p")), ("sk", s(sk))]))
            .collect();
        load(&engine, &table, rows).await;
        let request = query_req(
            "srt",
            "pk = :p AND begins_with(sk, :x)",
            values(&[(":p", s("p")), (":x", s("ab"))]),
        );
        let page = query(&engine, &table, TABLE_ID, &request).await.unwrap();
        assert_eq!(sort_keys(&page.items), ["ab", "ab\u{0}", "abc", "abd"]);
    });
}

#[test]
fn query_pages_stop_at_one_megabyte_in_both_directions() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let big = s(&"x".repeat(300 * 1024));
        let rows = (1..=5)
            .map(|sk| row("big", sk, &[("pad", big.clone())]))
            .collect();
        load(&engine, &table, rows).await;
        let request = |forward: bool| QueryRequest {
            scan_index_forward: Some(forward),
            consistent_read: Some(true),
            return_consumed_capacity: Some(ReturnConsumedCapacity::Total),
            select: Some(Select::Count),
            ..query_req("tab", "pk = :p", values(&[(":p", s("big"))]))
        };
        // 300 KB items: the fourth crosses 1 MB and ends the page.
        let first = query(&engine, &table, TABLE_ID, &request(true))
            .await
            .unwrap();
        assert_eq!(first.scanned_count, 4);
        assert_eq!(first.last_evaluated_key.as_ref().unwrap()["sk"], n("4"));
        let size = 4 * (300 * 1024 + 3 + 5 + 2 + 2) as u64;
        let units = size.div_ceil(4096) * 1000;
        assert_eq!(first.consumed_capacity.unwrap().capacity_units_milli, units);
        let mut next = request(true);
        next.exclusive_start_key = first.last_evaluated_key;
        let second = query(&engine, &table, TABLE_ID, &next).await.unwrap();
        assert_eq!((second.scanned_count, second.last_evaluated_key), (1, None));
        let reverse = query(&engine, &table, TABLE_ID, &request(false))
            .await
            .unwrap();
        assert_eq!(reverse.scanned_count, 4);
        assert_eq!(reverse.last_evaluated_key.unwrap()["sk"], n("2"));
    });
}

#[test]
fn query_capacity_rounds_the_page_once() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        // 1500 items of exactly 64 bytes each, padded to size.
        let rows: Vec<Item> = (1000..2500)
            .map(|sk| {
                let bare = shoal_wire::value::item_size(&row("p", sk, &[])) as usize;
                row("p", sk, &[("pad", s(&"z".repeat(64 - bare - 3)))])
            })
            .collect();
        assert!(rows.iter().all(|r| shoal_wire::value::item_size(r) == 64));
        load(&engine, &table, rows).await;
        let mut request = query_req("tab", "pk = :p", values(&[(":p", s("p"))]));
        request.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let eventual = query(&engine, &table, TABLE_ID, &request).await.unwrap();
        assert_eq!(eventual.count, 1500);
        assert_eq!(
            eventual.consumed_capacity.unwrap().capacity_units_milli,
            12_000
        );
        request.consistent_read = Some(true);
        let strong = query(&engine, &table, TABLE_ID, &request).await.unwrap();
        assert_eq!(
            strong.consumed_capacity.unwrap().capacity_units_milli,
            24_000
        );
        // A query that reads nothing still costs the minimum.
        let mut empty = query_req("tab", "pk = :p", values(&[(":p", s("nothing"))]));
        empty.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let page = query(&engine, &table, TABLE_ID, &empty).await.unwrap();
        assert_eq!(page.consumed_capacity.unwrap().capacity_units_milli, 500);
        assert_eq!((page.count, page.last_evaluated_key), (0, None));
    });
}

#[test]
fn scan_validation_follows_dynamodb() {
    let table = composite();
    let base = || scan_req("tab");
    let key = |pk: &str| Some(item(&[("pk", s(pk)), ("sk", n("1"))]));
    // Find a key outside segment 0 of 2.
    let outside = (0..100)
        .map(|i| format!("k{i}"))
        .find(|pk| {
            let hash = shoal_wire::key::partition_hash(&s(pk)).unwrap();
            shoal_wire::key::scan_segment_of_hash(hash, 2) == Some(1)
        })
        .unwrap();
    let cases: Vec<(ScanRequest, &str)> = vec![
        (
            ScanRequest {
                segment: Some(0),
                ..base()
            },
            "The TotalSegments parameter is required but was not present in the request when \
             Segment parameter is present",
        ),
        (
            ScanRequest {
                total_segments: Some(2),
                ..base()
            },
            "The Segment parameter is required but was not present in the request when \
             parameter TotalSegments is present",
        ),
        (
            ScanRequest {
                segment: Some(2),
                total_segments: Some(2),
                ..base()
            },
            "The Segment parameter is zero-based and must be less than parameter \
             TotalSegments: Segment: 2 is not less than TotalSegments: 2",
        ),
        (
            ScanRequest {
                segment: Some(0),
                total_segments: Some(1_000_001),
                ..base()
            },
            "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy \
             constraint: Member must have value less than or equal to 1000000",
        ),
        (
            ScanRequest {
                segment: Some(0),
                total_segments: Some(0),
                ..base()
            },
            "1 validation error detected: Value '0' at 'totalSegments' failed to satisfy \
             constraint: Member must have value greater than or equal to 1",
        ),
        (
            ScanRequest {
                select: Some(Select::Count),
                projection_expression: Some("a".into()),
                ..base()
            },
            "Cannot specify the ProjectionExpression when choosing to get only the Count",
        ),
        (
            ScanRequest {
                exclusive_start_key: Some(item(&[("pk", s("a"))])),
                ..base()
            },
            "The provided starting key is invalid: The provided key element does not match the \
             schema",
        ),
        (
            ScanRequest {
                exclusive_start_key: key(&outside),
                segment: Some(0),
                total_segments: Some(2),
                ..base()
            },
            "The provided Exclusive start key does not map to the provided Segment and \
             TotalSegments values.",
        ),
        (
            ScanRequest {
                scan_filter: Some([("a".to_owned(), legacy_eq(n("1")))].into()),
                filter_expression: Some("a = :v".into()),
                expression_attribute_values: values(&[(":v", n("1"))]),
                ..base()
            },
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}",
        ),
        (
            ScanRequest {
                scan_filter: Some([("a".to_owned(), legacy_eq(n("1")))].into()),
                conditional_operator: Some(ConditionalOperator::Or),
                ..base()
            },
            "ConditionalOperator can only be used when Filter or Expected has two or more \
             elements",
        ),
        (
            ScanRequest {
                limit: Some(0),
                ..base()
            },
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_scan(&table, TABLE_ID, &request)),
            expected,
            "{request:?}"
        );
    }
}

/// Three partitions splitting the hash space, as a router would iterate them.
const PARTITIONS: [(u64, u64); 3] = [
    (0, u64::MAX / 3),
    (u64::MAX / 3 + 1, u64::MAX / 3 * 2),
    (u64::MAX / 3 * 2 + 1, u64::MAX),
];

/// Scans one segment the way a router does: partition by partition in hash order, each
/// until exhausted, resuming from every LastEvaluatedKey. Returns the items and page count.
async fn scan_segment(
    engine: &Engine<SimDisk>,
    table: &TableDescription,
    template: &ScanRequest,
) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    for (start, end) in PARTITIONS {
        let mut request = template.clone();
        loop {
            let page = scan_range(engine, table, TABLE_ID, &request, start, end)
                .await
                .expect("scan");
            pages += 1;
            assert!(pages < 1000, "scan does not end");
            items.extend(page.response.items.unwrap_or_default());
            assert_eq!(page.exhausted, page.response.last_evaluated_key.is_none());
            match page.response.last_evaluated_key {
                Some(key) => request.exclusive_start_key = Some(key),
                None => break,
            }
        }
    }
    (items, pages)
}

#[test]
fn scan_pages_cover_segments_and_partitions_exactly_once() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let rows: Vec<Item> = (0..40).map(|i| row(&format!("k{i}"), i % 3, &[])).collect();
        load(&engine, &table, rows.clone()).await;
        // Another table's items share the engine and must never show up.
        let other = table_with_id("oth", shoal_wire::cluster::TableId(8));
        let foreign = put_req("oth", row("k1", 0, &[]));
        let outcome = apply_put(&engine, &other, shoal_wire::cluster::TableId(8), &foreign).await;
        commit(&engine, outcome).await;
        let sorted = |mut items: Vec<Item>| {
            items.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            items
        };
        let expected = sorted(rows);
        let whole = ScanRequest {
            limit: Some(7),
            ..scan_req("tab")
        };
        let (items, pages) = scan_segment(&engine, &table, &whole).await;
        assert!(
            pages > 6,
            "Limit 7 over 40 items needs several pages, got {pages}"
        );
        assert_eq!(sorted(items), expected);
        let mut union = Vec::new();
        for segment in 0..4 {
            let request = ScanRequest {
                segment: Some(segment),
                total_segments: Some(4),
                limit: Some(3),
                ..scan_req("tab")
            };
            let (items, _) = scan_segment(&engine, &table, &request).await;
            union.extend(items);
        }
        assert_eq!(
            sorted(union),
            expected,
            "segments are disjoint and cover the table"
        );
    });
}

fn table_with_id(name: &str, id: shoal_wire::cluster::TableId) -> TableDescription {
    crate::exec::tables::create_table(
        &create_request(name, ("pk", ScalarType::S), Some(("sk", ScalarType::N))),
        id,
        0,
    )
    .unwrap()
}

#[test]
fn scan_filters_count_and_reports_exhaustion() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let rows = (0..20)
            .map(|i| row(&format!("k{i}"), i, &[("v", n(&(i % 4).to_string()))]))
            .collect();
        load(&engine, &table, rows).await;
        let filtered = ScanRequest {
            filter_expression: Some("v = :z".into()),
            expression_attribute_values: values(&[(":z", n("0"))]),
            select: Some(Select::Count),
            ..scan_req("tab")
        };
        let page = scan_range(&engine, &table, TABLE_ID, &filtered, 0, u64::MAX)
            .await
            .unwrap();
        assert_eq!((page.response.count, page.response.scanned_count), (5, 20));
        assert_eq!(page.response.items, None);
        assert!(page.exhausted);
        assert!(
            page.last_key.is_some(),
            "the last key read is reported even when exhausted"
        );
        // Limit stops before the end: not exhausted.
        let limited = ScanRequest {
            limit: Some(20),
            ..scan_req("tab")
        };
        let page = scan_range(&engine, &table, TABLE_ID, &limited, 0, u64::MAX)
            .await
            .unwrap();
        assert!(!page.exhausted);
        assert_eq!(page.last_key, page.response.last_evaluated_key);
        // An empty range costs the minimum and is exhausted.
        let empty = scan_range(&engine, &table, TABLE_ID, &scan_req("tab"), 5, 5)
            .await
            .unwrap();
        assert_eq!((empty.response.count, empty.exhausted), (0, true));
        assert_eq!(empty.capacity, MilliUnits(500));
    });
}
