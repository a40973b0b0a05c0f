//! BatchGetItem and BatchWriteItem: whole-batch validation (limits, duplicates, empty lists,
//! unknown tables), partial results through Unprocessed*, the 16 MB response cap, and
//! per-item capacity (§7.7, §7.8, §10.1).

use shoal_wire::ErrorKind;
use shoal_wire::cluster::{Epoch, TableId};
use shoal_wire::message::{
    BatchGetItemRequest, BatchWriteItemRequest, DeleteRequest, KeysAndAttributes, PutRequest,
    ReturnConsumedCapacity, WriteRequest,
};
use shoal_wire::schema::TableDescription;
use shoal_wire::value::Item;

use super::support::*;
use crate::exec::capacity::MilliUnits;
use crate::exec::{
    BatchWriteProposal, BatchWriteResponse, add_unprocessed_keys, apply_batch_write, apply_delete,
    apply_put, batch_get, get_item, prepare_batch_get, prepare_batch_write,
};
use crate::storage::Engine;
use crate::storage::sim::SimDisk;

fn key(pk: &str, sk: &str) -> Item {
    item(&[("pk", s(pk)), ("sk", n(sk))])
}

fn keys_and_attributes(keys: Vec<Item>) -> KeysAndAttributes {
    KeysAndAttributes {
        keys,
        projection_expression: None,
        expression_attribute_names: None,
        consistent_read: None,
        attributes_to_get: None,
    }
}

fn get_batch(tables: Vec<(&str, KeysAndAttributes)>) -> BatchGetItemRequest {
    BatchGetItemRequest {
        request_items: tables.into_iter().map(|(t, k)| (t.to_owned(), k)).collect(),
        return_consumed_capacity: None,
        map_epoch: Epoch(0),
    }
}

fn write_batch(tables: Vec<(&str, Vec<WriteRequest>)>) -> BatchWriteItemRequest {
    BatchWriteItemRequest {
        request_items: tables.into_iter().map(|(t, w)| (t.to_owned(), w)).collect(),
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        map_epoch: Epoch(0),
    }
}

fn put(item: Item) -> WriteRequest {
    WriteRequest::Put(PutRequest { item })
}

fn delete(key: Item) -> WriteRequest {
    WriteRequest::Delete(DeleteRequest { key })
}

/// A catalog of one table, "tab".
fn lookup<'t>(
    table: &'t TableDescription,
) -> impl Fn(&str) -> Option<(&'t TableDescription, TableId)> + 't {
    move |name| (name == table.table_name).then_some((table, TABLE_ID))
}

#[test]
fn batch_get_validation_follows_dynamodb() {
    let table = composite();
    let many: Vec<Item> = (0..101).map(|i| key("p", &i.to_string())).collect();
    let cases = vec![
        (
            get_batch(vec![]),
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ),
        (
            get_batch(vec![("tab", keys_and_attributes(many))]),
            "Too many items requested for the BatchGetItem call",
        ),
        (
            get_batch(vec![(
                "tab",
                keys_and_attributes(vec![key("p", "1"), key("p", "1.0")]),
            )]),
            "Provided list of item keys contains duplicates",
        ),
        (
            get_batch(vec![("tab", keys_and_attributes(vec![]))]),
            "1 validation error detected: Value '[]' at 'requestItems.tab.member.keys' failed \
             to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            get_batch(vec![(
                "tab",
                keys_and_attributes(vec![item(&[("pk", s("p"))])]),
            )]),
            "The provided key element does not match the schema",
        ),
        (
            get_batch(vec![(
                "tab",
                KeysAndAttributes {
                    projection_expression: Some("a".into()),
                    attributes_to_get: Some(vec!["a".into()]),
                    ..keys_and_attributes(vec![key("p", "1")])
                },
            )]),
            "Can not use both expression and non-expression parameters in the same request: \
             Non-expression parameters: {AttributesToGet} Expression parameters: \
             {ProjectionExpression}",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_batch_get(&request, lookup(&table))),
            expected
        );
    }
    let unknown = get_batch(vec![("nope", keys_and_attributes(vec![key("p", "1")]))]);
    let error = prepare_batch_get(&unknown, lookup(&table)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ResourceNotFound);
    let bad_name = get_batch(vec![("x", keys_and_attributes(vec![key("p", "1")]))]);
    assert!(message(prepare_batch_get(&bad_name, lookup(&table))).contains("tableName"));
}

#[test]
fn batch_get_reads_owned_keys_and_returns_the_rest_unprocessed() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let small = item(&[
            ("pk", s("a")),
            ("sk", n("1")),
            ("pad", s(&"x".repeat(1500))),
        ]);
        let large = item(&[
            ("pk", s("b")),
            ("sk", n("1")),
            ("pad", s(&"y".repeat(6600))),
        ]);
        for stored in [&small, &large] {
            let outcome =
                apply_put(&engine, &table, TABLE_ID, &put_req("tab", stored.clone())).await;
            commit(&engine, outcome).await;
        }
        let mut request = get_batch(vec![(
            "tab",
            KeysAndAttributes {
                consistent_read: Some(true),
                ..keys_and_attributes(vec![key("a", "1"), key("b", "1"), key("c", "1")])
            },
        )]);
        request.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let prepared = prepare_batch_get(&request, lookup(&table)).unwrap();
        let outcome = batch_get(&engine, &prepared).await.unwrap();
        let mut found = outcome.response.responses["tab"].clone();
        found.sort_by_key(|i| format!("{:?}", i["pk"]));
        assert_eq!(found, vec![small.clone(), large]);
        // 1.5 KB + 6.5 KB round to 4 KB + 8 KB = 3 RCU, plus 1 for the missing key.
        assert_eq!(outcome.capacity, MilliUnits::units(4));
        assert_eq!(
            outcome.response.consumed_capacity[0].capacity_units_milli,
            4000
        );
        assert!(outcome.response.unprocessed_keys.is_empty());
        // The server keeps the keys it owns and reports the others as unprocessed.
        let mut owned = prepared.clone();
        let hash_a = prepared.tables[0].keys[0].1.hash;
        owned.retain(|_, hash| hash == hash_a);
        assert_eq!(owned.key_count(), 1);
        let mut outcome = batch_get(&engine, &owned).await.unwrap();
        let unowned: Vec<(&str, &Item)> = prepared.tables[0]
            .keys
            .iter()
            .filter(|(_, k)| k.hash != hash_a)
            .map(|(key, _)| ("tab", *key))
            .collect();
        add_unprocessed_keys(&mut outcome.response, &request, unowned);
        assert_eq!(outcome.response.responses["tab"], vec![small]);
        let unprocessed = &outcome.response.unprocessed_keys["tab"];
        assert_eq!(unprocessed.keys, vec![key("b", "1"), key("c", "1")]);
        assert_eq!(unprocessed.consistent_read, Some(true));
    });
}

#[test]
fn batch_get_stops_at_sixteen_megabytes() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let pad = s(&"z".repeat(400 * 1024 - 100));
        for sk in 0..41 {
            let stored = item(&[
                ("pk", s("p")),
                ("sk", n(&sk.to_string())),
                ("pad", pad.clone()),
            ]);
            let outcome = apply_put(&engine, &table, TABLE_ID, &put_req("tab", stored)).await;
            commit(&engine, outcome).await;
        }
        let keys: Vec<Item> = (0..41).map(|sk| key("p", &sk.to_string())).collect();
        let request = get_batch(vec![("tab", keys_and_attributes(keys))]);
        let prepared = prepare_batch_get(&request, lookup(&table)).unwrap();
        let outcome = batch_get(&engine, &prepared).await.unwrap();
        let returned = outcome.response.responses["tab"].len();
        let unprocessed = outcome.response.unprocessed_keys["tab"].keys.len();
        assert_eq!((returned, unprocessed), (40, 1));
    });
}

#[test]
fn batch_write_validation_follows_dynamodb() {
    let table = composite();
    let puts = |count: usize| -> Vec<WriteRequest> {
        (0..count).map(|i| put(key("p", &i.to_string()))).collect()
    };
    let cases = vec![
        (
            write_batch(vec![]),
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ),
        (
            write_batch(vec![("tab", puts(26))]),
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to \
             25, Member must have length greater than or equal to 1]",
        ),
        (
            write_batch(vec![("tab", vec![])]),
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to \
             25, Member must have length greater than or equal to 1]",
        ),
        (
            write_batch(vec![("tab", puts(20)), ("tac", puts(6))]),
            "Too many items requested for the BatchWriteItem call",
        ),
        (
            write_batch(vec![(
                "tab",
                vec![put(key("p", "1")), delete(key("p", "1e0"))],
            )]),
            "Provided list of item keys contains duplicates",
        ),
        (
            write_batch(vec![(
                "tab",
                vec![put(key("p", "1")), put(item(&[("pk", s("p"))]))],
            )]),
            "One or more parameter values were invalid: Missing the key sk in the item",
        ),
        (
            write_batch(vec![(
                "tab",
                vec![delete(item(&[("pk", s("p")), ("sk", s("1"))]))],
            )]),
            "One or more parameter values were invalid: Type mismatch for key sk expected: N \
             actual: S",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            message(prepare_batch_write(&request, lookup(&table))),
            expected
        );
    }
    let unknown = write_batch(vec![("nope", puts(1))]);
    let error = prepare_batch_write(&unknown, lookup(&table)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ResourceNotFound);
}

/// Stores item (p, 9) of 2 KB (2 WCU to replace or delete).
async fn store_2kb_item_at_p_9(engine: &Engine<SimDisk>, table: &TableDescription) {
    let old = item(&[
        ("pk", s("p")),
        ("sk", n("9")),
        ("pad", s(&"o".repeat(2000))),
    ]);
    let outcome = apply_put(engine, table, TABLE_ID, &put_req("tab", old)).await;
    commit(engine, outcome).await;
}

#[test]
fn batch_writes_apply_one_by_one_and_report_capacity() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        store_2kb_item_at_p_9(&engine, &table).await;
        let new = item(&[
            ("pk", s("p")),
            ("sk", n("1")),
            ("pad", s(&"n".repeat(1500))),
        ]);
        let mut request = write_batch(vec![(
            "tab",
            vec![
                put(new.clone()),
                delete(key("p", "9")),
                delete(key("p", "5")),
            ],
        )]);
        request.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let prepared = prepare_batch_write(&request, lookup(&table)).unwrap();
        let mut response = BatchWriteResponse::new(&request);
        for (index, write) in prepared.writes.iter().enumerate() {
            // The third write is "not owned here": it goes back unprocessed.
            if index == 2 {
                response.unprocessed(write);
                continue;
            }
            let outcome = match write.proposal(request.return_consumed_capacity) {
                BatchWriteProposal::Put(put) => {
                    let outcome = apply_put(&engine, &table, TABLE_ID, &put).await;
                    (outcome.capacity, commit_any(&engine, outcome).await)
                }
                BatchWriteProposal::Delete(delete) => {
                    let outcome = apply_delete(&engine, &table, TABLE_ID, &delete).await;
                    (outcome.capacity, commit_any(&engine, outcome).await)
                }
            };
            assert_eq!(outcome.1, None);
            response.applied(write, outcome.0);
        }
        let response = response.finish();
        // 1.5 KB put → 2 WCU; 2 KB delete → 2 WCU.
        assert_eq!(response.consumed_capacity[0].capacity_units_milli, 4000);
        assert_eq!(
            response.unprocessed_items["tab"],
            vec![delete(key("p", "5"))]
        );
        let got = get_item(&engine, &table, TABLE_ID, &get_req("tab", key("p", "1"))).await;
        assert_eq!(got.unwrap().item, Some(new));
        let gone = get_item(&engine, &table, TABLE_ID, &get_req("tab", key("p", "9"))).await;
        assert_eq!(gone.unwrap().item, None);
    });
}

#[test]
fn a_partition_share_of_a_batch_applies_as_one_entry() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        let rows: Vec<WriteRequest> = (0..5).map(|i| put(key("p", &i.to_string()))).collect();
        let mut request = write_batch(vec![("tab", rows)]);
        request.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
        let outcome = apply_batch_write(&engine, &table, TABLE_ID, &request).await;
        assert_eq!(
            (outcome.ops.len(), outcome.capacity),
            (5, MilliUnits::units(5))
        );
        let response = commit(&engine, outcome).await;
        assert_eq!(response.consumed_capacity.len(), 1);
        assert!(response.unprocessed_items.is_empty());
        let mut request = write_batch(vec![("tab", vec![delete(key("p", "0"))])]);
        request.request_items.insert(
            "tab".into(),
            vec![delete(key("p", "0")), put(key("p", "0"))],
        );
        let outcome = apply_batch_write(&engine, &table, TABLE_ID, &request).await;
        assert!(outcome.ops.is_empty());
        assert_eq!(
            outcome.result.unwrap_err().error.message,
            "Provided list of item keys contains duplicates"
        );
    });
}

#[test]
fn a_batch_put_reports_the_larger_of_the_item_it_replaces_and_its_own() {
    run(|| async {
        let engine = engine().await;
        let table = composite();
        store_2kb_item_at_p_9(&engine, &table).await;
        let mut request = write_batch(vec![("tab", vec![put(key("p", "9"))])]);
        request.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        // Through the proposal each write is replicated as (on-demand table, units asked).
        let prepared = prepare_batch_write(&request, lookup(&table)).unwrap();
        let BatchWriteProposal::Put(put) =
            prepared.writes[0].proposal(request.return_consumed_capacity)
        else {
            panic!("a put");
        };
        let outcome = apply_put(&engine, &table, TABLE_ID, &put).await;
        assert_eq!(outcome.capacity, MilliUnits::units(2), "2 KB replaced");
        // And as one entry.
        let outcome = apply_batch_write(&engine, &table, TABLE_ID, &request).await;
        assert_eq!(outcome.capacity, MilliUnits::units(2));
        let response = commit(&engine, outcome).await;
        assert_eq!(response.consumed_capacity[0].capacity_units_milli, 2000);
    });
}
