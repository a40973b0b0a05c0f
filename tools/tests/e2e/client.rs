//! Every operation through the client library against a real two-node cluster: items, conditions,
//! queries and scans across pages and partitions, parallel scan, batches, tables, and the
//! serde conversion of Rust values.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use shoal_router::item::{ExactNumber, StringSet};
use shoal_router::{AttributeValue, Client, ErrorKind, Item, Number, from_item, to_item};
use shoal_wire::message::ReturnValue;

use crate::harness::{TestCluster, create_table};

fn key(pk: &str, sk: i64) -> Item {
    Item::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::N(Number::from(sk))),
    ])
}

fn number(item: &Item, name: &str) -> i64 {
    match &item[name] {
        AttributeValue::N(n) => n.to_i64().expect("integer"),
        other => panic!("{name} is {other:?}"),
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Order {
    pk: String,
    sk: u32,
    total: ExactNumber,
    lines: Vec<String>,
    tags: StringSet,
    gift: Option<bool>,
}

#[tokio::test]
async fn client_library_serves_every_operation() {
    // Two nodes: partitions live on four shards of two processes, so routing, batches and
    // scans cross nodes.
    let cluster = TestCluster::start("client", 2, 2);
    let client = cluster.client().await;
    create_table(&client, "orders", true).await;
    single_items(&client).await;
    serde_round_trip(&client).await;
    query_pages(&client).await;
    scan_pages_and_segments(&client).await;
    batches(&client).await;
    tables(&client).await;
}

async fn single_items(client: &Client) {
    client
        .put_item("orders")
        .item(key("a", 1))
        .attribute("n", 5)
        .send()
        .await
        .unwrap();
    let got = client
        .get_item("orders")
        .key_item(key("a", 1))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(number(got.item.as_ref().unwrap(), "n"), 5);
    let error = client
        .put_item("orders")
        .item(key("a", 1))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::ConditionalCheckFailed));
    assert_eq!(error.name(), "ConditionalCheckFailedException");
    let updated = client
        .update_item("orders")
        .key_item(key("a", 1))
        .update_expression("SET n = n + :d, #t = :t")
        .expression_attribute_name("#t", "tag")
        .expression_attribute_value(":d", 2)
        .expression_attribute_value(":t", "x")
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(number(updated.attributes.as_ref().unwrap(), "n"), 7);
    let deleted = client
        .delete_item("orders")
        .key_item(key("a", 1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted.attributes.unwrap()["tag"],
        AttributeValue::S("x".into())
    );
    let gone = client
        .get_item("orders")
        .key_item(key("a", 1))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(gone.item.is_none());
    let missing = client
        .get_item("no_such_table")
        .key("pk", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), Some(ErrorKind::ResourceNotFound));
}

async fn serde_round_trip(client: &Client) {
    let order = Order {
        pk: "serde".into(),
        sk: 1,
        total: ExactNumber(Number::parse("12345678901234567890.123456789012345678").unwrap()),
        lines: vec!["x".into(), "y".into()],
        tags: StringSet(BTreeSet::from(["new".into(), "paid".into()])),
        gift: None,
    };
    client
        .put_item("orders")
        .item(to_item(&order).unwrap())
        .send()
        .await
        .unwrap();
    let got = client
        .get_item("orders")
        .key("pk", "serde")
        .key("sk", 1)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = got.item.unwrap();
    assert_eq!(item["tags"].type_name(), "SS");
    assert_eq!(from_item::<Order>(&item).unwrap(), order);
}

async fn query_pages(client: &Client) {
    for sk in 0..30 {
        client
            .put_item("orders")
            .item(key("q", sk))
            .attribute("v", sk)
            .send()
            .await
            .unwrap();
    }
    let query = || {
        client
            .query("orders")
            .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
            .expression_attribute_value(":p", "q")
            .expression_attribute_value(":lo", 5)
            .expression_attribute_value(":hi", 24)
            .consistent_read(true)
    };
    let all = query().limit(7).all_items().await.unwrap();
    let sks: Vec<i64> = all.iter().map(|i| number(i, "sk")).collect();
    assert_eq!(
        sks,
        (5..=24).collect::<Vec<_>>(),
        "pages of 7 cover the range in order"
    );
    let first = query()
        .limit(7)
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let sks: Vec<i64> = first
        .items
        .unwrap()
        .iter()
        .map(|i| number(i, "sk"))
        .collect();
    assert_eq!(sks, (18..=24).rev().collect::<Vec<_>>());
    assert!(first.last_evaluated_key.is_some());
    let filtered = query()
        .filter_expression("v > :ten")
        .expression_attribute_value(":ten", 10)
        .send()
        .await
        .unwrap();
    assert_eq!((filtered.count, filtered.scanned_count), (14, 20));
}

async fn scan_pages_and_segments(client: &Client) {
    create_table(client, "scanned", false).await;
    let ids: BTreeSet<String> = (0..120).map(|i| format!("item-{i}")).collect();
    for id in &ids {
        client
            .put_item("scanned")
            .attribute("pk", id.as_str())
            .send()
            .await
            .unwrap();
    }
    let seen = |items: Vec<Item>| -> Vec<String> {
        items
            .into_iter()
            .map(|i| match &i["pk"] {
                AttributeValue::S(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    // Small pages cross both partitions; every item exactly once.
    let mut pages = 0;
    let mut all = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let mut scan = client.scan("scanned").limit(17).consistent_read(true);
        if let Some(key) = start.take() {
            scan = scan.exclusive_start_key(key);
        }
        let page = scan.send().await.unwrap();
        pages += 1;
        all.extend(seen(page.items.unwrap()));
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break,
        }
        assert!(pages < 100, "scan does not end");
    }
    assert!(pages >= 8, "120 items in pages of at most 17");
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), all.len(), "an item came twice");
    assert_eq!(sorted.into_iter().collect::<BTreeSet<_>>(), ids);
    // Parallel scan: 5 segments together return each item exactly once.
    let mut union = Vec::new();
    for segment in 0..5 {
        union.extend(seen(
            client
                .scan("scanned")
                .segment(segment, 5)
                .all_items()
                .await
                .unwrap(),
        ));
    }
    assert_eq!(union.len(), ids.len());
    assert_eq!(union.into_iter().collect::<BTreeSet<_>>(), ids);
}

async fn batches(client: &Client) {
    let mut write = client.batch_write_item();
    for i in 0..25 {
        write = write.put("orders", key("batch", i));
    }
    let written = write.send().await.unwrap();
    assert!(written.unprocessed_items.is_empty());
    let keys: Vec<Item> = (0..25)
        .map(|i| key("batch", i))
        .chain([key("nobody", 0)])
        .collect();
    let read = client
        .batch_get_item()
        .keys("orders", keys)
        .consistent_read("orders", true)
        .send()
        .await
        .unwrap();
    assert_eq!(read.responses["orders"].len(), 25);
    assert!(read.unprocessed_keys.is_empty());
    let mut too_many = client.batch_write_item();
    for i in 0..26 {
        too_many = too_many.delete("orders", key("batch", i));
    }
    let error = too_many.send().await.unwrap_err();
    assert_eq!(error.name(), "ValidationException");
    let deletes = (0..25).fold(client.batch_write_item(), |b, i| {
        b.delete("orders", key("batch", i))
    });
    deletes.send().await.unwrap();
    let after = client
        .batch_get_item()
        .key("orders", key("batch", 3))
        .send()
        .await
        .unwrap();
    assert!(after.responses["orders"].is_empty());
}

async fn tables(client: &Client) {
    let names = client.list_tables().all_names().await.unwrap();
    assert!(names.contains(&"orders".to_owned()) && names.contains(&"scanned".to_owned()));
    let described = client.describe_table("orders").send().await.unwrap();
    assert_eq!(described.table.key_schema.len(), 2);
    client.delete_table("scanned").send().await.unwrap();
    let error = client.describe_table("scanned").send().await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::ResourceNotFound));
    let error = client.scan("scanned").send().await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::ResourceNotFound));
    // A table created again under the same name is routed by its new map.
    create_table(client, "scanned", false).await;
    client
        .put_item("scanned")
        .attribute("pk", "again")
        .send()
        .await
        .unwrap();
    let all = client.scan("scanned").all_items().await.unwrap();
    assert_eq!(all.len(), 1);
}
