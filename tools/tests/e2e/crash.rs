//! SIGKILL and restart: writers put items as fast as they can, the node is killed with
//! SIGKILL in the middle of it, restarted with `shoal up`, and every write that was
//! acknowledged before the kill must be readable afterwards with its value.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::join_all;
use shoal_router::{AttributeValue, Client, Number};

use crate::harness::{TestCluster, create_table};

/// Concurrent writers.
const WRITERS: usize = 4;
/// Acknowledged writes to reach before the kill.
const ACKED_BEFORE_KILL: usize = 300;
/// Puts a writer makes at most (bounds the test if the kill never comes).
const PUTS_PER_WRITER_MAX: usize = 5000;

/// Puts `w{writer}-{i}` = i until a put fails; records every acknowledged key.
async fn write(client: Client, writer: usize, acked: Rc<RefCell<Vec<(String, i64)>>>) {
    for i in 0..PUTS_PER_WRITER_MAX {
        let id = format!("w{writer}-{i}");
        let put = client
            .put_item("durable")
            .attribute("pk", id.as_str())
            .attribute("v", i as i64)
            .send()
            .await;
        if put.is_err() {
            return;
        }
        acked.borrow_mut().push((id, i as i64));
    }
}

#[tokio::test]
async fn sigkill_then_restart_keeps_every_acknowledged_write() {
    let cluster = TestCluster::start("crash", 1, 2);
    let client = cluster.client().await;
    create_table(&client, "durable", false).await;
    let acked = Rc::new(RefCell::new(Vec::new()));
    let writers = join_all((0..WRITERS).map(|w| write(client.clone(), w, acked.clone())));
    let killer = async {
        while acked.borrow().len() < ACKED_BEFORE_KILL {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster.kill9(1);
    };
    tokio::join!(writers, killer);
    let acked = acked.borrow().clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL);
    cluster.restart();
    let client = cluster.client().await;
    let mut lost = Vec::new();
    for (id, value) in &acked {
        let got = client
            .get_item("durable")
            .key("pk", id.as_str())
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("read {id} after restart: {e}"));
        match got.item {
            Some(item) => assert_eq!(item["v"], AttributeValue::N(Number::from(*value)), "{id}"),
            None => lost.push(id.clone()),
        }
    }
    let total = acked.len();
    assert!(
        lost.is_empty(),
        "{} of {total} acknowledged writes lost: {lost:?}",
        lost.len()
    );
}
