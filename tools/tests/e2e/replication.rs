//! Replication under faults: three nodes, each partition a raft group of three replicas.
//! Clients put, read (strongly consistent) and conditionally put a few keys while a nemesis
//! SIGKILLs the node of a partition leader and restarts it, then SIGSTOPs another node and
//! lets it go on, then stops a third gracefully (SIGTERM: it hands its leaderships over);
//! every key's history must be linearizable (no acknowledged write lost, no stale strongly
//! consistent read). Writes must resume on every key after each fault (the times are
//! printed), and the restarted node must have caught up: at the end, with the third node
//! gone, every key is read from the two that remain.
//!
//! A second history goes through a network cut of a leader's node, a phase of 30% datagram
//! loss between all nodes, and a phase where every peer datagram is delayed 40-80 ms and
//! reordered (iptables and NFQUEUE; see `netfilter.rs`).
//!
//! The budget is short in CI; `SHOAL_FAULT_SECONDS` lengthens every load phase.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shoal_router::{AttributeValue, Client, ClientConfig, ErrorKind, Number};

use crate::harness::{TestCluster, create_table};
use crate::linearizability::{Op, OpKind, check};
use crate::netfilter::Netfilter;

/// Keys (registers) under test.
const KEYS: usize = 6;
/// Concurrent clients, each with its own connections (and one more that only reads).
const CLIENTS: usize = 5;
/// Pause between a client's operations (keeps histories checkable).
const THINK: Duration = Duration::from_millis(3);
/// Search steps the checker may take per key.
const CHECK_BUDGET: u64 = 20_000_000;

fn phase() -> Duration {
    let seconds = std::env::var("SHOAL_FAULT_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.5);
    Duration::from_secs_f64(seconds)
}

struct History {
    start: Instant,
    ops: RefCell<Vec<(usize, Op)>>,
    /// Per key: when its last acknowledged write completed.
    last_write: RefCell<Vec<Option<Instant>>>,
    next_value: Cell<i64>,
}

impl History {
    /// p50 and max latency of the puts acknowledged that were called after `since`.
    fn put_latencies(&self, since: Instant) -> (Duration, Duration) {
        let from = since.duration_since(self.start).as_micros() as u64;
        let mut took: Vec<u64> = self
            .ops
            .borrow()
            .iter()
            .filter(|(_, op)| op.call >= from && op.ret != u64::MAX)
            .filter(|(_, op)| matches!(op.kind, OpKind::Put(_)))
            .map(|(_, op)| op.ret - op.call)
            .collect();
        took.sort_unstable();
        let at = |i: usize| Duration::from_micros(took.get(i).copied().unwrap_or(0));
        (at(took.len() / 2), at(took.len().saturating_sub(1)))
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn record(&self, key: usize, call: u64, ret: u64, kind: OpKind) {
        self.ops.borrow_mut().push((key, Op { call, ret, kind }));
        let wrote = match kind {
            OpKind::Put(_) => true,
            OpKind::Cas { ok, .. } => ok == Some(true),
            OpKind::Get(_) => false,
        };
        if wrote && ret != u64::MAX {
            self.last_write.borrow_mut()[key] = Some(Instant::now());
        }
    }
}

fn key_name(key: usize) -> String {
    format!("reg-{key}")
}

fn value_of(item: &Option<shoal_router::Item>) -> Option<i64> {
    match &item.as_ref()?["v"] {
        AttributeValue::N(n) => n.to_i64(),
        other => panic!("register holds {other:?}"),
    }
}

/// One operation on `key`: a put, a strongly consistent get, or a conditional put.
async fn operate(client: &Client, history: &History, key: usize, choice: u64) {
    let name = key_name(key);
    let call = history.now();
    match choice % 10 {
        0..=3 => {
            let v = history.next_value.get();
            history.next_value.set(v + 1);
            let put = client
                .put_item("registers")
                .attribute("pk", name.as_str())
                .attribute("v", v)
                .send()
                .await;
            // Any failure may still have been applied: the outcome is unknown.
            let ret = if put.is_ok() { history.now() } else { u64::MAX };
            history.record(key, call, ret, OpKind::Put(v));
        }
        4..=7 => {
            let got = client
                .get_item("registers")
                .key("pk", name.as_str())
                .consistent_read(true)
                .send()
                .await;
            if let Ok(got) = got {
                let kind = OpKind::Get(value_of(&got.item));
                history.record(key, call, history.now(), kind);
            }
        }
        _ => {
            let Some(expect) = latest_value(history, key) else {
                return;
            };
            let new = history.next_value.get();
            history.next_value.set(new + 1);
            let put = client
                .put_item("registers")
                .attribute("pk", name.as_str())
                .attribute("v", new)
                .condition_expression("v = :e")
                .expression_attribute_value(":e", AttributeValue::N(Number::from(expect)))
                .send()
                .await;
            let (ok, ret) = match put {
                Ok(_) => (Some(true), history.now()),
                Err(e) if e.kind() == Some(ErrorKind::ConditionalCheckFailed) => {
                    (Some(false), history.now())
                }
                Err(_) => (None, u64::MAX),
            };
            history.record(key, call, ret, OpKind::Cas { expect, new, ok });
        }
    }
}

/// The value most recently seen for `key` (read or written), a plausible expectation.
fn latest_value(history: &History, key: usize) -> Option<i64> {
    history.ops.borrow().iter().rev().find_map(|(k, op)| {
        if *k != key {
            return None;
        }
        match op.kind {
            OpKind::Get(v) => v,
            OpKind::Put(v) => Some(v),
            OpKind::Cas {
                new,
                ok: Some(true),
                ..
            } => Some(new),
            OpKind::Cas { .. } => None,
        }
    })
}

/// Runs operations until `stop`. A reader (`reads_only`) never writes, so its route stays
/// on a partition's old leader as long as that one keeps answering reads: the client that
/// would expose a stale read.
async fn client_loop(
    client: Client,
    history: Rc<History>,
    stop: Rc<Cell<bool>>,
    seed: u64,
    reads_only: bool,
) {
    let mut x = seed | 1;
    while !stop.get() {
        // xorshift: a fixed, seeded mix of keys and operations.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let choice = if reads_only { 4 } else { x >> 8 };
        operate(&client, &history, (x % KEYS as u64) as usize, choice).await;
        tokio::time::sleep(THINK).await;
    }
}

async fn fault_client(cluster: &TestCluster) -> Client {
    let config = ClientConfig {
        attempt_timeout: Duration::from_millis(1500),
        operation_timeout: Duration::from_secs(6),
        ..ClientConfig::default()
    };
    Client::connect_with(cluster.file.clone(), config)
        .await
        .expect("connect")
}

fn signal(cluster: &TestCluster, node: u32, sig: Signal) {
    let pid = cluster.pid(node).expect("node pid");
    kill(Pid::from_raw(pid as i32), sig).expect("signal the node");
}

/// Waits (bounded) until every key has had a write acknowledged after `since`; returns how
/// long that took.
async fn writes_resume(history: &History, since: Instant, limit: Duration) -> Duration {
    loop {
        let all = history
            .last_write
            .borrow()
            .iter()
            .all(|w| w.is_some_and(|t| t > since));
        if all {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "writes did not resume on every key within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A cluster of three one-shard nodes with a `registers` table and clients recording a
/// history until `stop` is set.
struct Workload {
    cluster: TestCluster,
    history: Rc<History>,
    stop: Rc<Cell<bool>>,
}

async fn workload(label: &str) -> (Workload, Vec<impl std::future::Future<Output = ()>>) {
    let cluster = TestCluster::start(label, 3, 1);
    let setup = cluster.client().await;
    create_table(&setup, "registers", false).await;
    let history = Rc::new(History {
        start: Instant::now(),
        ops: RefCell::new(Vec::new()),
        last_write: RefCell::new(vec![None; KEYS]),
        next_value: Cell::new(1),
    });
    let stop = Rc::new(Cell::new(false));
    let mut clients = Vec::new();
    for i in 0..=CLIENTS {
        let client = fault_client(&cluster).await;
        let seed = 0x9e37_79b9 + i as u64;
        let reads_only = i == CLIENTS;
        clients.push(client_loop(
            client,
            history.clone(),
            stop.clone(),
            seed,
            reads_only,
        ));
    }
    let w = Workload {
        cluster,
        history,
        stop,
    };
    (w, clients)
}

impl Workload {
    /// Reads every key once more (retrying while leaders settle), adds the reads to the
    /// history, and checks each key's history.
    async fn read_all_and_check(&self) {
        let reader = fault_client(&self.cluster).await;
        for key in 0..KEYS {
            let call = self.history.now();
            let deadline = Instant::now() + Duration::from_secs(20);
            let got = loop {
                match reader
                    .get_item("registers")
                    .key("pk", key_name(key).as_str())
                    .consistent_read(true)
                    .send()
                    .await
                {
                    Ok(got) => break got,
                    Err(e) => {
                        assert!(Instant::now() < deadline, "final read of key {key}: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            let kind = OpKind::Get(value_of(&got.item));
            self.history.record(key, call, self.history.now(), kind);
        }
        let ops = self.history.ops.borrow();
        assert!(
            ops.len() > 100,
            "too little happened: {} operations",
            ops.len()
        );
        for key in 0..KEYS {
            let mine: Vec<Op> = ops
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, op)| *op)
                .collect();
            let verdict = check(&mine, CHECK_BUDGET);
            assert_eq!(
                verdict,
                Some(true),
                "key {key}: history of {} operations is not linearizable (None: undecided): \
                 {mine:?}",
                mine.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_stay_linearizable_through_leader_kill_restart_and_pause() {
    let (w, clients) = workload("replication").await;
    let (cluster, history) = (&w.cluster, &w.history);
    let nemesis = async {
        tokio::time::sleep(phase()).await;
        let victim = leader_of(cluster, history, 0).await;
        let killed = Instant::now();
        tokio::task::block_in_place(|| cluster.kill9(victim));
        let resumed = writes_resume(history, killed, Duration::from_secs(20)).await;
        eprintln!("writes resumed on every key {resumed:?} after SIGKILL of a leader's node");
        tokio::time::sleep(phase()).await;
        tokio::task::block_in_place(|| cluster.restart());
        tokio::time::sleep(phase()).await;
        let paused_node = leader_of(cluster, history, 1).await;
        signal(cluster, paused_node, Signal::SIGSTOP);
        let paused = Instant::now();
        let resumed = writes_resume(history, paused, Duration::from_secs(20)).await;
        eprintln!("writes resumed on every key {resumed:?} after SIGSTOP of a leader's node");
        tokio::time::sleep(phase()).await;
        signal(cluster, paused_node, Signal::SIGCONT);
        tokio::time::sleep(phase()).await;
        // A planned stop of a leader's node other than the restarted one: it hands its
        // leaderships over before it exits.
        let leader = leader_of(cluster, history, 2).await;
        let stopped = if leader != victim {
            leader
        } else {
            victim % 3 + 1
        };
        let stopping = Instant::now();
        signal(cluster, stopped, Signal::SIGTERM);
        let resumed = writes_resume(history, stopping, Duration::from_secs(20)).await;
        eprintln!("writes resumed on every key {resumed:?} after SIGTERM of node {stopped}");
        let pid = cluster.pid(stopped).expect("node pid");
        let exited = tokio::task::block_in_place(|| {
            crate::harness::wait_for(Duration::from_secs(15), || {
                !crate::harness::alive(pid as i32)
            })
        });
        assert!(exited, "node {stopped} did not stop on SIGTERM");
        w.stop.set(true);
    };
    tokio::join!(join_all(clients), nemesis);
    // The restarted node must have caught up: with the stopped one gone, every partition
    // needs it.
    w.read_all_and_check().await;
}

/// The node leading the partition of register `key`, as a client learns it: a write (part
/// of the history) finds the leader, following `NotLeader`, then the client's route names it.
async fn leader_of(cluster: &TestCluster, history: &History, key: usize) -> u32 {
    let client = fault_client(cluster).await;
    let name = key_name(key);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    // Every failed attempt, with when it ended, for the message if no write ever succeeds.
    let mut failures: Vec<String> = Vec::new();
    loop {
        let v = history.next_value.get();
        history.next_value.set(v + 1);
        let call = history.now();
        let put = client
            .put_item("registers")
            .attribute("pk", name.as_str())
            .attribute("v", v)
            .send()
            .await;
        let ret = if put.is_ok() { history.now() } else { u64::MAX };
        history.record(key, call, ret, OpKind::Put(v));
        match put {
            Ok(_) => break,
            Err(e) => failures.push(format!("at {:?}: {e}", started.elapsed())),
        }
        assert!(
            Instant::now() < deadline,
            "no leader for key {key}: every write failed:\n{}\n{}",
            failures.join("\n"),
            log_tails(cluster, 40)
        );
    }
    let target = client
        .target_of("registers", &AttributeValue::S(name))
        .await
        .expect("the route");
    target.expect("a known leader").node.0
}

/// The peer ports of `node`.
fn peer_ports(cluster: &TestCluster, node: u32) -> Vec<u16> {
    let n = cluster
        .file
        .nodes
        .iter()
        .find(|n| n.id == node)
        .expect("node listed");
    (0..n.shards).map(|s| n.peer_port_base + s).collect()
}

/// A network cut isolates a leader's node from its peers (its clients still reach it), then
/// a phase drops 30% of all peer datagrams, then one delays every peer datagram by 40-80 ms
/// (out of order): no acknowledged write lost, no stale read, writes resume on every key
/// while the node is cut off, and go on while datagrams are delayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_stay_linearizable_through_a_network_cut_packet_loss_and_delay() {
    let Some(net) = Netfilter::new() else {
        return;
    };
    let (w, clients) = workload("netcut").await;
    let (cluster, history) = (&w.cluster, &w.history);
    let all: Vec<u16> = (1..=3).flat_map(|n| peer_ports(cluster, n)).collect();
    let nemesis = async {
        tokio::time::sleep(phase()).await;
        let victim = leader_of(cluster, history, 0).await;
        let cut = Instant::now();
        net.cut(&peer_ports(cluster, victim));
        let resumed = writes_resume(history, cut, Duration::from_secs(20)).await;
        eprintln!("writes resumed on every key {resumed:?} after cutting a leader's node off");
        tokio::time::sleep(phase()).await;
        net.heal();
        tokio::time::sleep(phase()).await;
        net.lose(&all, 0.3);
        tokio::time::sleep(phase() * 2).await;
        net.heal();
        tokio::time::sleep(phase()).await;
        let slow = Instant::now();
        let delay = net.delay(&all, Duration::from_millis(40), Duration::from_millis(40));
        let resumed = writes_resume(history, slow, Duration::from_secs(20)).await;
        eprintln!("with peer datagrams delayed 40-80 ms, every key written within {resumed:?}");
        tokio::time::sleep(phase() * 2).await;
        let took = history.put_latencies(slow);
        net.heal();
        let stats = delay.finish();
        eprintln!("delayer: {stats:?}; puts acknowledged while delayed took (p50, max) {took:?}");
        assert!(stats.delayed > 0, "no datagram went through the delayer");
        tokio::time::sleep(phase()).await;
        w.stop.set(true);
    };
    tokio::join!(join_all(clients), nemesis);
    w.read_all_and_check().await;
}

/// Puts one item into `table` and reads it back strongly consistently, retrying (bounded)
/// while the cluster elects leaders.
async fn put_and_read(client: &Client, table: &str, id: &str) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    // Every failed attempt: when, the replica the client's route named, and the error.
    let mut failures: Vec<String> = Vec::new();
    loop {
        let target = client
            .target_of(table, &AttributeValue::S(id.to_owned()))
            .await
            .ok()
            .flatten()
            .map(|t| (t.node.0, t.shard.0));
        let put = client
            .put_item(table)
            .attribute("pk", id)
            .attribute("v", 1)
            .send()
            .await;
        let got = match put {
            Ok(_) => {
                client
                    .get_item(table)
                    .key("pk", id)
                    .consistent_read(true)
                    .send()
                    .await
            }
            Err(e) => Err(e),
        };
        match got {
            Ok(got) if got.item.is_some() => return,
            Ok(_) => panic!("{table}/{id}: acknowledged put not readable"),
            Err(e) => {
                failures.push(format!("at {:?} to {target:?}: {e}", started.elapsed()));
                assert!(
                    Instant::now() < deadline,
                    "{table}/{id}: every attempt failed:\n{}",
                    failures.join("\n")
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The metadata group has three replicas too: with the node of its leader killed, tables
/// can still be created, listed and used; the restarted node catches up with the tables
/// created while it was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_survive_the_loss_of_the_metadata_leader() {
    let cluster = TestCluster::start("metadata", 3, 1);
    let client = fault_client(&cluster).await;
    create_table(&client, "before", false).await;
    put_and_read(&client, "before", "a").await;
    // Node 1 holds the metadata group's first replica, its leader after start.
    tokio::task::block_in_place(|| cluster.kill9(1));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        use shoal_wire::schema::{BillingMode, ScalarType};
        let created = client
            .create_table("during")
            .partition_key("pk", ScalarType::S)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => break,
            Err(e) if e.kind() == Some(ErrorKind::ResourceInUse) => break,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "create a table without node 1: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    put_and_read(&client, "during", "b").await;
    put_and_read(&client, "before", "c").await;
    let names = client
        .list_tables()
        .send()
        .await
        .expect("list tables")
        .table_names;
    assert_eq!(names, vec!["before".to_string(), "during".to_string()]);
    // Node 1 returns and node 2 goes: node 1 must know the table created without it.
    tokio::task::block_in_place(|| cluster.restart());
    tokio::task::block_in_place(|| cluster.kill9(2));
    put_and_read(&client, "during", "d").await;
    let described = client
        .describe_table("during")
        .send()
        .await
        .expect("describe");
    assert_eq!(described.table.table_name, "during");
}

/// Eventually consistent reads go to any replica, so they keep being served while the
/// leader of the key's partition is stopped, and they return what was written before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventually_consistent_reads_are_served_by_followers() {
    let cluster = TestCluster::start("followers", 3, 1);
    let client = fault_client(&cluster).await;
    create_table(&client, "registers", false).await;
    let history = History {
        start: Instant::now(),
        ops: RefCell::new(Vec::new()),
        last_write: RefCell::new(vec![None; KEYS]),
        next_value: Cell::new(7),
    };
    let leader = leader_of(&cluster, &history, 0).await;
    // leader_of may have needed more than one put: the last one is what it acknowledged.
    let written = history.next_value.get() - 1;
    signal(&cluster, leader, Signal::SIGSTOP);
    let stopped = Instant::now();
    // Followers apply the write once they learn it is committed: from the stopped leader's
    // next heartbeat (never) or from the leader they elect, within a few election timeouts;
    // one read in three goes to the stopped node and waits out the attempt timeout.
    let deadline = stopped + Duration::from_secs(30);
    let mut served = 0;
    let mut seen = Vec::new();
    while served < 6 {
        let got = client
            .get_item("registers")
            .key("pk", key_name(0).as_str())
            .send()
            .await;
        match got {
            Ok(got) if value_of(&got.item) == Some(written) => served += 1,
            // A follower may not have applied the write yet: eventually consistent.
            Ok(got) => seen.push(format!(
                "{:?} at {:?}",
                value_of(&got.item),
                stopped.elapsed()
            )),
            Err(e) => seen.push(format!("{e} at {:?}", stopped.elapsed())),
        }
        if Instant::now() >= deadline {
            let (first, last) = (
                &seen[..seen.len().min(20)],
                &seen[seen.len().saturating_sub(20)..],
            );
            panic!(
                "followers did not serve the value {written} in time; {served} served, {} \
                 other answers, the first: {first:?}, the last: {last:?}",
                seen.len()
            );
        }
    }
    eprintln!(
        "followers served the value 6 times {:?} after the stop",
        stopped.elapsed()
    );
    signal(&cluster, leader, Signal::SIGCONT);
}

/// Rewrites `key = ...` lines of every node's configuration (before a restart).
fn set_node_option(cluster: &TestCluster, key: &str, value: &str) {
    for node in &cluster.file.nodes {
        let path = cluster
            .cluster_dir()
            .join(format!("node-{}/node.toml", node.id));
        let text = std::fs::read_to_string(&path).expect("node config");
        let prefix = format!("{key} = ");
        let mut found = false;
        let edited: Vec<String> = text
            .lines()
            .map(|line| match line.starts_with(&prefix) {
                true => {
                    found = true;
                    format!("{prefix}{value}")
                }
                false => line.to_string(),
            })
            .collect();
        assert!(found, "{} has no {key}", path.display());
        std::fs::write(&path, edited.join("\n") + "\n").expect("write node config");
    }
}

/// A node that missed more writes than leaders keep in their logs for a laggard (a short
/// `log_kept_for_followers`, a checkpoint every second) gets a snapshot of the partition
/// when it returns: its log says so, and with the two other nodes gone it alone serves
/// (eventually consistent reads) every item as last written, deletes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_far_behind_catches_up_by_snapshot() {
    let (cluster, client, mut expected) = items_with_node_3_down(
        "snapshot",
        &[
            ("checkpoint_interval_s", "1"),
            ("log_kept_for_followers", "20"),
        ],
    )
    .await;
    write_and_delete(&client, &mut expected).await;
    // Two checkpoints later the leaders have compacted their logs past what node 3 has.
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| cluster.restart());
    // Every partition's leader compacted its log past node 3: each sends a snapshot.
    let partitions = client
        .get_partition_map()
        .table_name("items")
        .send()
        .await
        .expect("partition map")
        .tables[0]
        .partitions
        .len();
    let log = cluster.cluster_dir().join("node-3/log");
    let mut installed = std::collections::BTreeSet::new();
    let all = tokio::task::block_in_place(|| {
        crate::harness::wait_for(Duration::from_secs(30), || {
            installed = installed_snapshots(&log);
            installed.len() >= partitions
        })
    });
    assert!(all, "node 3 installed snapshots of {installed:?} only");
    tokio::task::block_in_place(|| {
        cluster.kill9(1);
        cluster.kill9(2);
    });
    assert_serves(&client, &expected).await;
}

/// A node that missed writes the leaders still have in their logs, but no longer in memory
/// (`log_cache_bytes = 0`: applied entries leave memory at once), catches up from entries
/// the leaders read back from their write-ahead logs: their logs say so, it installs no
/// snapshot, and once the two other nodes are gone it alone serves every item as last
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_catches_up_from_entries_read_back_from_the_log() {
    let (cluster, client, mut expected) =
        items_with_node_3_down("readback", &[("log_cache_bytes", "0")]).await;
    write_and_delete(&client, &mut expected).await;
    tokio::task::block_in_place(|| cluster.restart());
    let logs: Vec<_> = (1..=2)
        .map(|n| cluster.cluster_dir().join(format!("node-{n}/log")))
        .collect();
    let read_back = tokio::task::block_in_place(|| {
        crate::harness::wait_for(Duration::from_secs(30), || {
            logs.iter()
                .any(|log| plain_log(log).contains("read back from the WAL for a follower"))
        })
    });
    assert!(
        read_back,
        "no leader read entries back from its log for node 3"
    );
    // With node 2 gone, a write needs node 3's acknowledgement, which it gives only once
    // its log holds every entry before it: so once writes to every partition succeed, node
    // 3 has caught up (the markers themselves it may not know committed).
    tokio::task::block_in_place(|| cluster.kill9(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    for m in 0..32 {
        let id = format!("marker-{m:02}");
        while let Err(e) = client
            .put_item("items")
            .attribute("pk", id.as_str())
            .send()
            .await
        {
            assert!(
                Instant::now() < deadline,
                "write {id} with nodes 1 and 3: {e}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::task::block_in_place(|| cluster.kill9(1));
    assert_serves(&client, &expected).await;
    let log = cluster.cluster_dir().join("node-3/log");
    let installed = installed_snapshots(&log);
    assert!(
        installed.is_empty(),
        "node 3 installed snapshots of {installed:?}"
    );
}

/// A three-node cluster restarted with node options `options`, a table `items` with 20
/// items written and read back, then node 3 killed; returns the cluster, a client and
/// what each item holds.
async fn items_with_node_3_down(
    label: &str,
    options: &[(&str, &str)],
) -> (
    TestCluster,
    Client,
    std::collections::BTreeMap<String, Option<i64>>,
) {
    let cluster = TestCluster::start(label, 3, 1);
    let down = crate::harness::shoal_command()
        .args(["down", "--dir"])
        .arg(cluster.cluster_dir())
        .output()
        .expect("shoal down");
    assert!(down.status.success(), "{}", crate::harness::text(&down));
    for (key, value) in options {
        set_node_option(&cluster, key, value);
    }
    tokio::task::block_in_place(|| cluster.restart());
    let client = fault_client(&cluster).await;
    create_table(&client, "items", false).await;
    let mut expected = std::collections::BTreeMap::new();
    for k in 0..20 {
        put_and_read(&client, "items", &format!("k{k:03}")).await;
        expected.insert(format!("k{k:03}"), Some(1));
    }
    tokio::task::block_in_place(|| cluster.kill9(3));
    (cluster, client, expected)
}

/// 600 puts and deletes over 150 items, each retried until acknowledged (one node may be
/// down); `expected` gets what each item holds afterwards (None: deleted).
async fn write_and_delete(
    client: &Client,
    expected: &mut std::collections::BTreeMap<String, Option<i64>>,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..600i64 {
        let id = format!("k{:03}", i % 150);
        loop {
            let done = if i % 7 == 0 {
                client
                    .delete_item("items")
                    .key("pk", id.as_str())
                    .send()
                    .await
                    .map(|_| None)
            } else {
                client
                    .put_item("items")
                    .attribute("pk", id.as_str())
                    .attribute("v", i)
                    .send()
                    .await
                    .map(|_| Some(i))
            };
            match done {
                Ok(v) => {
                    expected.insert(id.clone(), v);
                    break;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "write {id} without node 3: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Every item of `expected` is served as expected by eventually consistent reads (the
/// reads retry while the serving node catches up).
async fn assert_serves(
    client: &Client,
    expected: &std::collections::BTreeMap<String, Option<i64>>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut wrong = Vec::new();
    for (id, want) in expected {
        loop {
            let got = client
                .get_item("items")
                .key("pk", id.as_str())
                .consistent_read(false)
                .send()
                .await;
            let got = match got {
                Ok(got) => value_of(&got.item).or(got.item.as_ref().map(|_| 1)),
                Err(e) => {
                    assert!(Instant::now() < deadline, "read {id} from node 3: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if got == *want {
                break;
            }
            if Instant::now() >= deadline {
                wrong.push((id.clone(), *want, got));
                break;
            }
            // The log after the snapshot may still be arriving.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        wrong.is_empty(),
        "node 3 serves (key, expected, got): {wrong:?}"
    );
}

/// The data groups (partitions) a node's log says it installed a snapshot of.
fn installed_snapshots(log: &std::path::Path) -> std::collections::BTreeSet<u64> {
    plain_log(log)
        .lines()
        .filter(|l| l.contains("snapshot installed"))
        .filter_map(|l| {
            l.split("group=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .filter(|&g| g != 0)
        .collect()
}

/// A node's log without its colour codes.
fn plain_log(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut plain = String::with_capacity(text.len());
    let mut escape = false;
    for c in text.chars() {
        match (escape, c) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, c) => plain.push(c),
        }
    }
    plain
}

/// The last `lines` lines of every node's log that are not raft's own debug chatter, for a
/// failure message.
fn log_tails(cluster: &TestCluster, lines: usize) -> String {
    let mut out = String::new();
    for node in &cluster.file.nodes {
        let log = cluster.cluster_dir().join(format!("node-{}/log", node.id));
        let text = plain_log(&log);
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(" DEBUG ")).collect();
        out.push_str(&format!("--- node {} log, last {lines} lines:\n", node.id));
        for line in &kept[kept.len().saturating_sub(lines)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every node's shard 0 as it reports itself (DescribeCluster).
async fn shard_reports(cluster: &TestCluster) -> Vec<shoal_wire::message::ShardReport> {
    let mut out = Vec::new();
    for node in &cluster.file.nodes {
        let address = format!("{}:{}", node.host, node.client_port_base);
        if let Ok(d) = shoal_router::probe::describe_cluster(&address, Duration::from_secs(2)).await
        {
            out.push(d.shard);
        }
    }
    out
}

/// Waits (bounded) until every group on every node, the metadata group's among them,
/// hibernates.
async fn wait_hibernating(cluster: &TestCluster, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reports = shard_reports(cluster).await;
        if all_hibernating(cluster, &reports) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not hibernating: {reports:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn all_hibernating(cluster: &TestCluster, reports: &[shoal_wire::message::ShardReport]) -> bool {
    reports.len() == cluster.file.nodes.len()
        && reports
            .iter()
            .all(|r| r.groups >= 2 && r.hibernating == r.groups)
}

/// Checks that hibernating groups stay asleep for three election timeouts while `client`
/// keeps asking for a table's description (control requests go to the metadata leader and
/// do not wake its group; one asked at a follower would wake it, and it would call an
/// election after one timeout and wake the whole group). Every node's answer is awaited (a
/// node slow to answer on a loaded machine is not a woken group).
async fn assert_stays_hibernating(cluster: &TestCluster, client: &Client, table: &str, what: &str) {
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        client
            .describe_table(table)
            .send()
            .await
            .expect("describe the table");
        let deadline = Instant::now() + Duration::from_secs(20);
        let reports = loop {
            let reports = shard_reports(cluster).await;
            if reports.len() == cluster.file.nodes.len() || Instant::now() > deadline {
                break reports;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            all_hibernating(cluster, &reports),
            "{what}: a group woke up with nothing to do: {reports:?}"
        );
    }
}

/// Idle partitions hibernate (no heartbeats, no election timers) on every replica; a write
/// wakes its partition; and when the node leading a hibernating partition is killed, writes
/// to it resume (the client's attempt at a follower wakes it, an election follows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_groups_hibernate_and_wake() {
    let cluster = TestCluster::start("hibernate", 3, 1);
    let client = fault_client(&cluster).await;
    create_table(&client, "idle", false).await;
    for id in ["a", "b", "c"] {
        put_and_read(&client, "idle", id).await;
    }
    wait_hibernating(&cluster, "after the first writes").await;
    assert_stays_hibernating(&cluster, &client, "idle", "after the first writes").await;
    let woke = Instant::now();
    put_and_read(&client, "idle", "d").await;
    eprintln!(
        "a write to a hibernating partition took {:?}",
        woke.elapsed()
    );
    let leader = client
        .target_of("idle", &AttributeValue::S("c".into()))
        .await
        .expect("the route")
        .expect("a known leader")
        .node
        .0;
    wait_hibernating(&cluster, "after the wake-up").await;
    tokio::task::block_in_place(|| cluster.kill9(leader));
    let killed = Instant::now();
    put_and_read(&client, "idle", "c").await;
    eprintln!(
        "writes resumed {:?} after SIGKILL of node {leader}, leading a hibernating partition",
        killed.elapsed()
    );
    // Item "a" may sit in another partition the killed node led, still electing: the read
    // retries (bounded), and says what failed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut failures = Vec::new();
    let got = loop {
        match client
            .get_item("idle")
            .key("pk", "a")
            .consistent_read(true)
            .send()
            .await
        {
            Ok(got) => break got,
            Err(e) => failures.push(format!("at {:?}: {e}", killed.elapsed())),
        }
        assert!(
            Instant::now() < deadline,
            "no strongly consistent read after failover:\n{}",
            failures.join("\n")
        );
    };
    if !failures.is_empty() {
        eprintln!("the read after failover first failed: {failures:?}");
    }
    assert_eq!(value_of(&got.item), Some(1));
}

/// Which node each of `groups` is led by, as the shards' raft groups report it.
async fn leaders_of(cluster: &TestCluster, groups: &[u64]) -> Vec<Option<u32>> {
    let reports = shard_reports(cluster).await;
    groups
        .iter()
        .map(|g| {
            reports
                .iter()
                .find(|r| r.leading.contains(g))
                .map(|r| r.node.0)
        })
        .collect()
}

/// Waits (bounded) until the shards report `groups` led by `want` (a probe of a busy shard
/// may miss its time limit once).
async fn wait_leaders(cluster: &TestCluster, groups: &[u64], want: &[Option<u32>], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = leaders_of(cluster, groups).await;
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: leaders {now:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `shoal leader move` hands a partition's leadership to the replica asked for (raft's own
/// report agrees), refuses a node without a replica, and `shoal leader spread` puts every
/// partition's leadership on its first listed replica; clients keep reading and writing
/// throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_move_partition_leaders() {
    let cluster = TestCluster::start("leaders", 3, 1);
    let client = cluster.client().await;
    create_table(&client, "placed", false).await;
    let map = client
        .get_partition_map()
        .table_name("placed")
        .send()
        .await
        .expect("partition map");
    let partitions = &map.tables[0].partitions;
    let groups: Vec<u64> = partitions.iter().map(|p| p.partition.0).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while leaders_of(&cluster, &groups)
        .await
        .iter()
        .any(Option::is_none)
    {
        assert!(
            Instant::now() < deadline,
            "the new table's partitions elected no leaders"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every partition to node 3, one by one.
    for p in partitions {
        let id = p.partition.0.to_string();
        let output = cluster.shoal(&["leader", "move", &id, "--to", "3"]);
        let out = crate::harness::text(&output);
        assert!(output.status.success(), "shoal leader move {id}: {out}");
        assert!(
            out.contains(&format!("partition {id}: led by node 3 (moved)"))
                || out.contains(&format!("partition {id}: led by node 3 (already there)")),
            "{out}"
        );
    }
    wait_leaders(
        &cluster,
        &groups,
        &vec![Some(3); groups.len()],
        "after the moves",
    )
    .await;
    put_and_read(&client, "placed", "after-move").await;
    // Moving again changes nothing and says so.
    let id = groups[0].to_string();
    let output = cluster.shoal(&["leader", "move", &id, "--to", "3"]);
    let out = crate::harness::text(&output);
    assert!(
        output.status.success()
            && out.contains(&format!("partition {id}: led by node 3 (already there)")),
        "{out}"
    );

    let output = cluster.shoal(&["leader", "move", &id, "--to", "9"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        crate::harness::text(&output)
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("ValidationException") && err.contains("node 9 holds no replica"),
        "{err}"
    );

    let output = cluster.shoal(&["leader", "spread", "--table", "placed"]);
    let out = crate::harness::text(&output);
    assert!(output.status.success(), "shoal leader spread: {out}");
    let firsts: Vec<Option<u32>> = partitions
        .iter()
        .map(|p| Some(p.replicas[0].node.0))
        .collect();
    let moved = firsts.iter().filter(|f| **f != Some(3)).count();
    assert!(
        out.contains(&format!("{moved} leadership(s) moved")),
        "{out}"
    );
    wait_leaders(&cluster, &groups, &firsts, "after spread").await;
    let spread: std::collections::BTreeSet<_> = firsts.iter().collect();
    assert_eq!(
        spread.len(),
        groups.len().min(3),
        "one leader per node: {firsts:?}"
    );
    put_and_read(&client, "placed", "after-spread").await;
}
