//! The conditional-write race of the issue: concurrent clients increment one counter, each
//! write conditional on the value it read; the final value must equal the number of
//! writes that succeeded (a lost update or a phantom success would break the equality).

use futures::future::join_all;
use shoal_router::{AttributeValue, Client, ErrorKind, Number};

use crate::harness::{TestCluster, create_table};

/// Concurrent clients, each with its own connections.
const CLIENTS: usize = 6;
/// Increment attempts per client.
const ATTEMPTS: usize = 25;

async fn read_counter(client: &Client) -> i64 {
    let got = client
        .get_item("counters")
        .key("pk", "c")
        .consistent_read(true)
        .send()
        .await
        .expect("read the counter");
    match &got.item.expect("counter exists")["n"] {
        AttributeValue::N(n) => n.to_i64().expect("integer"),
        other => panic!("counter is {other:?}"),
    }
}

/// Tries `ATTEMPTS` read-then-conditionally-increment rounds; returns the successes.
async fn increment(client: Client) -> usize {
    let mut successes = 0;
    for _ in 0..ATTEMPTS {
        let seen = read_counter(&client).await;
        let result = client
            .update_item("counters")
            .key("pk", "c")
            .update_expression("SET n = :next")
            .condition_expression("n = :seen")
            .expression_attribute_value(":seen", AttributeValue::N(Number::from(seen)))
            .expression_attribute_value(":next", AttributeValue::N(Number::from(seen + 1)))
            .send()
            .await;
        match result {
            Ok(_) => successes += 1,
            Err(error) if error.kind() == Some(ErrorKind::ConditionalCheckFailed) => {}
            Err(error) => panic!("unexpected error in the race: {error}"),
        }
    }
    successes
}

#[tokio::test]
async fn conditional_increments_race_and_the_counter_equals_the_successes() {
    let cluster = TestCluster::start("race", 1, 2);
    let setup = cluster.client().await;
    create_table(&setup, "counters", false).await;
    setup
        .put_item("counters")
        .attribute("pk", "c")
        .attribute("n", 0)
        .send()
        .await
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(cluster.client().await);
    }
    let successes: usize = join_all(clients.into_iter().map(increment))
        .await
        .into_iter()
        .sum();
    let last = read_counter(&setup).await;
    assert!(successes >= ATTEMPTS, "too few successes: {successes}");
    assert_eq!(
        last, successes as i64,
        "counter {last} but {successes} successful increments"
    );
}
