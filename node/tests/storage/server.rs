//! The node server as a real process on loopback, spoken to in raw protocol frames: tables
//! and items end to end, routing answers, hostile input, and SIGKILL then restart.
//! (The client library and the CLI have their own end-to-end tests in `tools/tests/e2e`.)

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{self as msg, ErrorReply, Message, MessageKind};
use shoal_wire::number::Number;
use shoal_wire::schema::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarType};
use shoal_wire::value::{AttributeValue, Item};
use shoal_wire::{ErrorKind, FrameReader, encode_frame};

use crate::support::TempDir;

/// A running node; killed on drop.
struct Node {
    child: Option<Child>,
    dir: PathBuf,
    base: u16,
    _tmp: TempDir,
}

/// A base port with `shards` free ports after it, distinct across the tests of this process
/// (they run in parallel) and unlikely to collide with other processes.
fn free_base(shards: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = 20_000 + (std::process::id() % 2_000) * 16;
    for _ in 0..500 {
        let offset = NEXT.fetch_add(u32::from(shards) + 1, Ordering::Relaxed);
        let base = (start + offset % 30_000) as u16;
        let all_free = (0..shards).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free port range");
}

impl Node {
    fn start(shards: u16) -> Node {
        let tmp = TempDir::new("server");
        let dir = tmp.0.clone();
        let base = free_base(shards);
        let cluster = format!(
            "name = \"test\"\n[[node]]\nid = 1\nhost = \"127.0.0.1\"\nclient_port_base = {base}\n\
             peer_port_base = {}\nshards = {shards}\n",
            base + 100
        );
        std::fs::write(dir.join("cluster.toml"), cluster).expect("cluster file");
        let mut node = Node {
            child: None,
            dir,
            base,
            _tmp: tmp,
        };
        node.spawn(shards);
        node
    }

    fn spawn(&mut self, shards: u16) {
        let log = std::fs::File::create(self.dir.join("log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_shoal-node"))
            .args(["run", "--node-id", "1", "--shards", &shards.to_string()])
            .arg("--cluster-file")
            .arg(self.dir.join("cluster.toml"))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(["--cache-bytes", "16777216"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn shoal-node");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        for shard in 0..shards {
            while TcpStream::connect(("127.0.0.1", self.base + shard)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "node did not start:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            // The kernel may hold a killed process's listeners a moment longer (io_uring
            // releases files asynchronously); wait until the ports are free again.
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(("127.0.0.1", self.base)).is_ok() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn conn(&self, shard: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", self.base + shard)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Conn {
            stream,
            reader: FrameReader::new(),
            next_id: 1,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- shoal-node log ---\n{}", self.log());
        }
    }
}

struct Conn {
    stream: TcpStream,
    reader: FrameReader,
    next_id: u64,
}

/// An answer: the response or the error reply (with its payload).
type Answer<R> = Result<R, Box<ErrorReply>>;

impl Conn {
    fn call<Req, Resp>(&mut self, req: &Req) -> Answer<Resp>
    where
        Req: Message,
        Resp: Message,
        Resp::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        self.next_id += 1;
        let id = self.next_id;
        let frame = encode_frame(id, req).expect("encode");
        self.stream.write_all(&frame).expect("send");
        self.answer(id)
    }

    fn answer<Resp>(&mut self, id: u64) -> Answer<Resp>
    where
        Resp: Message,
        Resp::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            if let Some(f) = self.reader.next_frame().expect("framing") {
                assert_eq!(f.header.request_id, id, "answer for another request");
                if f.header.kind == MessageKind::ErrorReply {
                    return Err(Box::new(f.decode::<ErrorReply>().expect("error reply")));
                }
                return Ok(f.decode::<Resp>().expect("response"));
            }
            let n = self.stream.read(&mut buf).expect("receive");
            assert!(n > 0, "connection closed");
            self.reader.extend(&buf[..n]);
        }
    }
}

fn kind(reply: &ErrorReply) -> ErrorKind {
    reply.to_error().kind
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(Number::parse(&v.to_string()).expect("number"))
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn create_table(name: &str) -> msg::CreateTableRequest {
    msg::CreateTableRequest {
        table_name: name.into(),
        key_schema: vec![
            KeySchemaElement {
                attribute_name: "pk".into(),
                key_type: KeyType::Hash,
            },
            KeySchemaElement {
                attribute_name: "sk".into(),
                key_type: KeyType::Range,
            },
        ],
        attribute_definitions: vec![
            AttributeDefinition {
                attribute_name: "pk".into(),
                attribute_type: ScalarType::S,
            },
            AttributeDefinition {
                attribute_name: "sk".into(),
                attribute_type: ScalarType::N,
            },
        ],
        billing_mode: Some(BillingMode::PayPerRequest),
        provisioned_throughput: None,
        local_secondary_indexes: None,
        global_secondary_indexes: None,
        stream_specification: None,
        sse_specification: None,
        tags: None,
        table_class: None,
        deletion_protection_enabled: None,
        on_demand_throughput: None,
        warm_throughput: None,
    }
}

fn put(table: &str, it: Item) -> msg::PutItemRequest {
    msg::PutItemRequest {
        table_name: table.into(),
        item: it,
        condition_expression: None,
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_values_on_condition_check_failure: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        expected: None,
        conditional_operator: None,
        map_epoch: Epoch(0),
    }
}

fn get(table: &str, key: Item) -> msg::GetItemRequest {
    msg::GetItemRequest {
        table_name: table.into(),
        key,
        consistent_read: Some(true),
        projection_expression: None,
        expression_attribute_names: None,
        attributes_to_get: None,
        return_consumed_capacity: None,
        map_epoch: Epoch(0),
    }
}

/// Sends `req` to whichever shard owns the key, following one `WrongShard` answer.
fn put_anywhere(
    node: &Node,
    conns: &mut [Conn],
    req: &msg::PutItemRequest,
) -> Answer<msg::PutItemResponse> {
    let first: Answer<msg::PutItemResponse> = conns[0].call(req);
    match first {
        Err(reply) if kind(&reply) == ErrorKind::WrongShard => {
            let entry = reply
                .partition
                .expect("WrongShard carries the fresh map entry");
            let shard = entry.leader.expect("leader").shard.0;
            let _ = node;
            conns[shard as usize].call(req)
        }
        other => other,
    }
}

#[test]
fn tables_and_items_end_to_end_with_routing_and_restart() {
    let mut node = Node::start(2);
    let mut conns = vec![node.conn(0), node.conn(1)];

    let described: Answer<msg::DescribeClusterResponse> =
        conns[1].call(&msg::DescribeClusterRequest {});
    let described = described.expect("describe cluster");
    assert_eq!(described.nodes[0].shard_count, 2);

    // Create through shard 1: it forwards to the metadata shard.
    let created: Answer<msg::CreateTableResponse> = conns[1].call(&create_table("users"));
    let created = created.expect("create table");
    assert_eq!(created.table_description.table_name, "users");
    let again: Answer<msg::CreateTableResponse> = conns[0].call(&create_table("users"));
    assert_eq!(
        kind(&again.expect_err("duplicate")),
        ErrorKind::ResourceInUse
    );
    let map: Answer<msg::GetPartitionMapResponse> = conns[1].call(&msg::GetPartitionMapRequest {
        table_name: Some("users".into()),
        known_epoch: Epoch(0),
    });
    let map = map.expect("map");
    assert_eq!(map.tables[0].partitions.len(), 2, "one partition per shard");

    let mut expect = BTreeMap::new();
    for i in 0..40i64 {
        let pk = format!("user-{}", i % 7);
        let it = item(&[("pk", s(&pk)), ("sk", n(i)), ("v", n(i * 10))]);
        put_anywhere(&node, &mut conns, &put("users", it.clone())).expect("put");
        expect.insert((pk, i), it);
    }
    // A key owned by the other shard is answered WrongShard with the fresh entry.
    let mut wrong = 0;
    for i in 0..7 {
        let key = item(&[("pk", s(&format!("user-{i}"))), ("sk", n(i))]);
        let a: Answer<msg::GetItemResponse> = conns[0].call(&get("users", key.clone()));
        match a {
            Ok(r) => assert_eq!(r.item.as_ref(), expect.get(&(format!("user-{i}"), i))),
            Err(reply) => {
                assert_eq!(kind(&reply), ErrorKind::WrongShard);
                let shard = reply
                    .partition
                    .and_then(|p| p.leader)
                    .expect("leader")
                    .shard
                    .0;
                let r: Answer<msg::GetItemResponse> =
                    conns[shard as usize].call(&get("users", key));
                assert_eq!(
                    r.expect("get").item.as_ref(),
                    expect.get(&(format!("user-{i}"), i))
                );
                wrong += 1;
            }
        }
    }
    assert!(wrong > 0, "with two shards some keys live on the other one");

    // SIGKILL and restart: every acknowledged write is still there.
    node.kill();
    node.spawn(2);
    let mut conns = [node.conn(0), node.conn(1)];
    for ((pk, sk), it) in &expect {
        let key = item(&[("pk", s(pk)), ("sk", n(*sk))]);
        let mut found = None;
        let mut answers = Vec::new();
        for c in conns.iter_mut() {
            let a = c.call::<_, msg::GetItemResponse>(&get("users", key.clone()));
            if let Ok(r) = &a {
                found = Some(r.item.clone());
            }
            answers.push(format!("{a:?}"));
        }
        if found.is_none() {
            eprintln!("answers for {pk}/{sk}: {answers:#?}");
        }
        assert_eq!(
            found.flatten().as_ref(),
            Some(it),
            "lost {pk}/{sk} after SIGKILL"
        );
    }
    let listed: Answer<msg::ListTablesResponse> = conns[1].call(&msg::ListTablesRequest {
        exclusive_start_table_name: None,
        limit: None,
    });
    assert_eq!(listed.expect("list").table_names, vec!["users".to_string()]);
}

#[test]
fn hostile_input_gets_typed_errors_or_a_closed_connection_while_others_are_served() {
    let node = Node::start(1);
    let mut good = node.conn(0);
    let created: Answer<msg::CreateTableResponse> = good.call(&create_table("ttt"));
    created.expect("create");

    // Garbage bytes: framing is lost, the connection is closed.
    let mut bad = TcpStream::connect(("127.0.0.1", node.base)).expect("connect");
    bad.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    bad.write_all(&[0xffu8; 64]).expect("send garbage");
    let mut buf = [0u8; 64];
    assert_eq!(
        bad.read(&mut buf).unwrap_or(0),
        0,
        "garbage must close the connection"
    );

    // An oversized length: closed too.
    let mut big = TcpStream::connect(("127.0.0.1", node.base)).expect("connect");
    big.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut header = vec![0u8; 24];
    header[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    big.write_all(&header).expect("send");
    assert_eq!(
        big.read(&mut buf).unwrap_or(0),
        0,
        "an oversized frame must close"
    );

    // A truncated frame followed by silence leaves the others unaffected.
    let frame = encode_frame(5, &put("ttt", item(&[("pk", s("a")), ("sk", n(1))]))).expect("enc");
    let mut trunc = TcpStream::connect(("127.0.0.1", node.base)).expect("connect");
    trunc
        .write_all(&frame[..frame.len() / 2])
        .expect("send half");

    // Invalid items and expressions: typed validation errors on a working connection.
    let no_key = put("ttt", item(&[("pk", s("a"))]));
    let a: Answer<msg::PutItemResponse> = good.call(&no_key);
    assert_eq!(
        kind(&a.expect_err("missing sort key")),
        ErrorKind::Validation
    );
    let mut bad_expr = put("ttt", item(&[("pk", s("a")), ("sk", n(1))]));
    bad_expr.condition_expression = Some("attribute_exists(".into());
    let a: Answer<msg::PutItemResponse> = good.call(&bad_expr);
    let reply = a.expect_err("syntax error");
    assert_eq!(kind(&reply), ErrorKind::Validation);
    assert!(reply.message.contains("Syntax error"), "{}", reply.message);
    let a: Answer<msg::PutItemResponse> = good.call(&put("nope", item(&[("pk", s("a"))])));
    assert_eq!(
        kind(&a.expect_err("no such table")),
        ErrorKind::ResourceNotFound
    );

    // A response kind sent as a request, and an operation not executed yet: typed errors.
    let a: Answer<msg::DescribeTableResponse> = good.call(&msg::ListStreamsRequest {
        table_name: None,
        limit: None,
        exclusive_start_stream_arn: None,
    });
    assert_eq!(kind(&a.expect_err("streams")), ErrorKind::NotSupportedYet);

    // And the good connection still works.
    let ok: Answer<msg::PutItemResponse> =
        good.call(&put("ttt", item(&[("pk", s("a")), ("sk", n(1))])));
    ok.expect("served after hostile input");
}

/// A served connection first polls its socket, then waits through io_uring (server/conn.rs):
/// requests must be answered whichever of the two finds them, a frame may arrive in parts
/// across both, other connections are served meanwhile, and a client that hangs up while
/// its connection polls closes it.
#[test]
fn requests_are_answered_whether_the_connection_polls_or_waits_for_them() {
    let node = Node::start(1);
    let mut a = node.conn(0);
    let mut b = node.conn(0);
    let created: Answer<msg::CreateTableResponse> = a.call(&create_table("poll"));
    created.expect("create");
    let key = |i: i64| item(&[("pk", s("p")), ("sk", n(i))]);
    // Pauses shorter and longer than the polling window (50 µs by default) between requests,
    // alternating connections.
    let pauses = [0u64, 0, 1, 0, 5, 30, 0, 2, 100, 0];
    for (i, pause) in pauses.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(*pause));
        let conn = if i % 3 == 0 { &mut b } else { &mut a };
        let mut it = key(i as i64);
        it.insert("v".into(), n(i as i64 * 7));
        let put: Answer<msg::PutItemResponse> = conn.call(&put("poll", it));
        put.expect("put");
        std::thread::sleep(Duration::from_millis(*pause));
        let got: Answer<msg::GetItemResponse> = conn.call(&get("poll", key(i as i64)));
        let got = got.expect("get").item.expect("item");
        assert_eq!(got.get("v"), Some(&n(i as i64 * 7)), "item {i}");
    }

    // One frame in three parts: the first found by polling, the rest after the window.
    let id = 99;
    let frame = encode_frame(id, &get("poll", key(3))).expect("encode");
    let third = frame.len() / 3;
    for (part, pause) in [
        (0..third, 0),
        (third..2 * third, 20),
        (2 * third..frame.len(), 0),
    ] {
        std::thread::sleep(Duration::from_millis(pause));
        a.stream.write_all(&frame[part]).expect("send part");
    }
    let got: Answer<msg::GetItemResponse> = a.answer(id);
    assert_eq!(got.expect("get").item.expect("item").get("v"), Some(&n(21)));

    // A client that hangs up right after its answer: its connection ends, the others go on.
    let mut c = node.conn(0);
    let got: Answer<msg::GetItemResponse> = c.call(&get("poll", key(1)));
    got.expect("get");
    drop(c);
    let got: Answer<msg::GetItemResponse> = b.call(&get("poll", key(2)));
    assert_eq!(got.expect("get").item.expect("item").get("v"), Some(&n(14)));
}

/// Runs `shoal-node run` for node 1 of `node`'s cluster file on `data`, expecting it to
/// refuse to start: returns its stderr.
fn start_refused(node: &Node, data: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal-node"))
        .args(["run", "--node-id", "1", "--shards", "1"])
        .arg("--cluster-file")
        .arg(node.dir.join("cluster.toml"))
        .arg("--data-dir")
        .arg(data)
        .args(["--cache-bytes", "16777216"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shoal-node");
    // A refusal comes within the bind grace period (5 s); a node that starts is killed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shoal-node started where it must refuse to");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "refusal must exit non-zero: {stderr}");
    stderr
}

#[test]
fn start_up_refuses_a_taken_port_and_a_data_directory_it_does_not_own() {
    let mut node = Node::start(1);
    // Its port is taken by the running node: a second process refuses loudly (no
    // SO_REUSEPORT sharing), and the first keeps serving.
    let other = node.dir.join("other-data");
    let stderr = start_refused(&node, &other);
    assert!(stderr.contains("already in use"), "{stderr}");
    let created = node
        .conn(0)
        .call::<_, msg::CreateTableResponse>(&create_table("refusals"));
    assert!(
        created.is_ok(),
        "the first node stops serving: {:?}",
        created.err()
    );
    node.kill();

    // A data directory of another node, or of another data format version, is refused.
    let data = node.dir.join("data");
    let identity = data.join("IDENTITY.toml");
    let original = std::fs::read_to_string(&identity).expect("identity written at start-up");
    std::fs::write(&identity, original.replace("node_id = 1", "node_id = 7")).expect("edit");
    let stderr = start_refused(&node, &data);
    assert!(stderr.contains("belongs to node 7"), "{stderr}");
    let version = original
        .lines()
        .find(|l| l.starts_with("format_version"))
        .expect("format_version line");
    std::fs::write(&identity, original.replace(version, "format_version = 999")).expect("edit");
    let stderr = start_refused(&node, &data);
    assert!(stderr.contains("data format version 999"), "{stderr}");

    // With its identity back, the node starts on its own data again.
    std::fs::write(&identity, original).expect("restore");
    node.spawn(1);
    let table = node
        .conn(0)
        .call::<_, msg::CreateTableResponse>(&create_table("refusals"));
    assert!(
        matches!(&table, Err(reply) if kind(reply) == ErrorKind::ResourceInUse),
        "the table made before the refusals is still there"
    );
}
