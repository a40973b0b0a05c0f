//! The client's routing and retries against a scripted two-node cluster on loopback: a
//! shard that answers `WrongShard` with a fresh map entry, `NotLeader` with a hint,
//! throttling, a failed condition, or `ResourceNotFound` from a stale map, which a one-node
//! real cluster never does. Real nodes are exercised by `tools/tests/e2e`.

mod script;

use std::time::Duration;

use shoal_router::{Client, ClientConfig, ErrorKind};
use shoal_wire::message::MessageKind;

use script::Script;

async fn client(script: &Script) -> Client {
    let config = ClientConfig {
        retry_delay_min: Duration::from_millis(1),
        retry_delay_max: Duration::from_millis(20),
        operation_timeout: Duration::from_secs(10),
        jitter_seed: Some(7),
        ..ClientConfig::default()
    };
    Client::connect_with(script.cluster_file(), config)
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_shard_entry_moves_the_route_for_good() {
    let script = Script::start().await;
    let client = client(&script).await;
    client
        .put_item("moved")
        .attribute("pk", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.count(1, MessageKind::PutItemRequest),
        1,
        "stale leader asked once"
    );
    assert_eq!(
        script.count(2, MessageKind::PutItemRequest),
        1,
        "then the fresh one"
    );
    client
        .put_item("moved")
        .attribute("pk", "b")
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.count(1, MessageKind::PutItemRequest),
        1,
        "the cache learned the move"
    );
    assert_eq!(script.count(2, MessageKind::PutItemRequest), 2);
    assert_eq!(script.last_epoch(2), 2, "requests carry the fresh epoch");
    assert_eq!(
        script.count(1, MessageKind::GetPartitionMapRequest),
        1,
        "no refetch needed"
    );
}

#[tokio::test]
async fn not_leader_hint_is_followed() {
    let script = Script::start().await;
    let client = client(&script).await;
    // Strongly consistent: only the leader serves it (eventually consistent reads go to
    // any replica).
    client
        .get_item("hinted")
        .key("pk", "a")
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(script.count(1, MessageKind::GetItemRequest), 1);
    assert_eq!(script.count(2, MessageKind::GetItemRequest), 1);
    client
        .get_item("hinted")
        .key("pk", "b")
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.count(1, MessageKind::GetItemRequest),
        1,
        "the hint stuck"
    );
}

#[tokio::test]
async fn only_retryable_errors_are_retried() {
    let script = Script::start().await;
    let client = client(&script).await;
    // The shard throttles the first two attempts.
    client
        .put_item("throttled")
        .attribute("pk", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(script.count(1, MessageKind::PutItemRequest), 3);
    // A failed condition is final at once.
    let error = client
        .put_item("throttled")
        .attribute("pk", "fail")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::ConditionalCheckFailed));
    assert_eq!(script.count(1, MessageKind::PutItemRequest), 4);
}

#[tokio::test]
async fn retries_stop_at_the_bound() {
    let script = Script::start().await;
    let config = ClientConfig {
        retries_max: 3,
        retry_delay_min: Duration::from_millis(1),
        retry_delay_max: Duration::from_millis(5),
        ..ClientConfig::default()
    };
    let client = Client::connect_with(script.cluster_file(), config)
        .await
        .unwrap();
    let error = client
        .put_item("throttled")
        .attribute("pk", "always")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Throttling));
    assert_eq!(
        script.count(1, MessageKind::PutItemRequest),
        4,
        "1 attempt + 3 retries"
    );
}

#[tokio::test]
async fn resource_not_found_refetches_the_route_once() {
    let script = Script::start().await;
    let client = client(&script).await;
    client
        .put_item("stale")
        .attribute("pk", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.count(1, MessageKind::DescribeTableRequest),
        2,
        "route fetched again"
    );
    assert_eq!(script.count(1, MessageKind::PutItemRequest), 2);
    let error = client
        .put_item("missing")
        .attribute("pk", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::ResourceNotFound));
}

#[tokio::test]
async fn batch_parts_go_to_their_owners_and_are_merged() {
    let script = Script::start().await;
    let client = client(&script).await;
    let keys = (0..40).map(|i| script::key(&format!("k{i}")));
    let answer = client
        .batch_get_item()
        .keys("split", keys)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.responses["split"].len(), 40);
    assert!(answer.unprocessed_keys.is_empty());
    let (first, second) = (
        script.count(1, MessageKind::BatchGetItemRequest),
        script.count(2, MessageKind::BatchGetItemRequest),
    );
    assert_eq!((first, second), (1, 1), "one part per owning shard");
}

#[tokio::test]
async fn control_requests_learn_the_metadata_leader_from_a_hint() {
    let script = Script::start().await;
    let client = client(&script).await;
    for _ in 0..3 {
        let names = client.list_tables().send().await.unwrap().table_names;
        assert_eq!(names, ["hinted"]);
    }
    assert_eq!(
        script.count(1, MessageKind::ListTablesRequest),
        1,
        "the former leader is asked once"
    );
    assert_eq!(script.count(2, MessageKind::ListTablesRequest), 3);
    assert_eq!(
        client.metadata_leader(),
        Some(shoal_wire::cluster::NodeId(2))
    );
}
