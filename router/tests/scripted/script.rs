//! A scripted two-node cluster (one shard each) that speaks the real protocol: it answers
//! DescribeCluster, DescribeTable and GetPartitionMap, and item requests according to the
//! table they name (see each table's comment in `answer`), counting every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shoal_router::{ClusterFile, ClusterNode};
use shoal_wire::cluster::{
    Epoch, NodeId, PartitionId, PartitionMapEntry, ReplicaLocation, ShardId, TableId,
};
use shoal_wire::frame::{Frame, FrameReader, encode_frame};
use shoal_wire::message::*;
use shoal_wire::schema::*;
use shoal_wire::{AttributeValue, Error, ErrorKind, Item};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts and state shared by both nodes.
#[derive(Default)]
struct State {
    counts: HashMap<(u32, MessageKind), usize>,
    last_epoch: HashMap<u32, u64>,
    describes: HashMap<String, usize>,
}

/// The running script.
pub struct Script {
    ports: [u16; 2],
    state: Arc<Mutex<State>>,
}

pub fn key(pk: &str) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk.into()))])
}

fn at(node: u32) -> ReplicaLocation {
    ReplicaLocation {
        node: NodeId(node),
        shard: ShardId(0),
    }
}

fn entry(
    table: u64,
    start: u64,
    end: u64,
    leader: u32,
    replicas: &[u32],
    epoch: u64,
) -> PartitionMapEntry {
    PartitionMapEntry {
        table: TableId(table),
        partition: PartitionId(table * 10 + u64::from(leader)),
        hash_start: start,
        hash_end: end,
        replicas: replicas.iter().map(|n| at(*n)).collect(),
        leader: Some(at(leader)),
        epoch: Epoch(epoch),
    }
}

fn table_id(name: &str) -> Option<u64> {
    ["moved", "hinted", "throttled", "stale", "split"]
        .iter()
        .position(|t| *t == name)
        .map(|i| i as u64 + 1)
}

/// The map a client is given for each table.
fn partitions(name: &str, id: u64) -> Vec<PartitionMapEntry> {
    match name {
        // Stale: all on node 1, which will answer WrongShard naming node 2.
        "moved" => vec![entry(id, 0, u64::MAX, 1, &[1], 1)],
        // Node 1 is named leader, node 2 leads in truth.
        "hinted" => vec![entry(id, 0, u64::MAX, 1, &[1, 2], 1)],
        "split" => vec![
            entry(id, 0, u64::MAX / 2, 1, &[1], 1),
            entry(id, u64::MAX / 2 + 1, u64::MAX, 2, &[2], 1),
        ],
        _ => vec![entry(id, 0, u64::MAX, 1, &[1], 1)],
    }
}

fn description(name: &str, id: u64) -> TableDescription {
    TableDescription {
        table_name: name.to_owned(),
        table_arn: format!("arn:aws:dynamodb:local:0:table/{name}"),
        table_id: format!("id-{id}"),
        shoal_table_id: TableId(id),
        table_status: TableStatus::Active,
        creation_date_time_ms: 0,
        key_schema: vec![KeySchemaElement {
            attribute_name: "pk".into(),
            key_type: KeyType::Hash,
        }],
        attribute_definitions: vec![AttributeDefinition {
            attribute_name: "pk".into(),
            attribute_type: ScalarType::S,
        }],
        provisioned_throughput: ProvisionedThroughputDescription {
            read_capacity_units: 0,
            write_capacity_units: 0,
            number_of_decreases_today: 0,
            last_increase_date_time_ms: None,
            last_decrease_date_time_ms: None,
        },
        billing_mode_summary: None,
        on_demand_throughput: None,
        warm_throughput: None,
        table_size_bytes: 0,
        item_count: 0,
        local_secondary_indexes: Vec::new(),
        global_secondary_indexes: Vec::new(),
        stream_specification: None,
        latest_stream_arn: None,
        latest_stream_label: None,
        sse_description: None,
        restore_summary: None,
        table_class_summary: None,
        deletion_protection_enabled: false,
    }
}

fn error(kind: ErrorKind, partition: Option<PartitionMapEntry>) -> ErrorReply {
    let mut reply = ErrorReply::from_error(&Error::new(kind, format!("scripted {kind}")));
    reply.partition = partition;
    reply
}

impl Script {
    /// Starts both nodes.
    pub async fn start() -> Script {
        let state = Arc::new(Mutex::new(State::default()));
        let mut ports = [0u16; 2];
        let mut listeners = Vec::new();
        for port in &mut ports {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            *port = listener.local_addr().unwrap().port();
            listeners.push(listener);
        }
        for (index, listener) in listeners.into_iter().enumerate() {
            let node = index as u32 + 1;
            let (state, ports) = (state.clone(), ports);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, node, ports, state.clone()));
                }
            });
        }
        Script { ports, state }
    }

    pub fn cluster_file(&self) -> ClusterFile {
        let node = |id: u32, port: u16| ClusterNode {
            id,
            host: "127.0.0.1".into(),
            client_port_base: port,
            peer_port_base: 1,
            shards: 1,
        };
        ClusterFile {
            name: "scripted".into(),
            nodes: vec![node(1, self.ports[0]), node(2, self.ports[1])],
        }
    }

    pub fn count(&self, node: u32, kind: MessageKind) -> usize {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(&(node, kind))
            .copied()
            .unwrap_or(0)
    }

    pub fn last_epoch(&self, node: u32) -> u64 {
        self.state
            .lock()
            .unwrap()
            .last_epoch
            .get(&node)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(mut stream: TcpStream, node: u32, ports: [u16; 2], state: Arc<Mutex<State>>) {
    let mut reader = FrameReader::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let Ok(count) = stream.read(&mut chunk).await else {
            return;
        };
        if count == 0 {
            return;
        }
        reader.extend(&chunk[..count]);
        let mut out = Vec::new();
        while let Ok(Some(frame)) = reader.next_frame() {
            out.extend(answer(&frame, node, ports, &state));
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// The answer frame to one request.
fn answer(frame: &Frame<'_>, node: u32, ports: [u16; 2], state: &Mutex<State>) -> Vec<u8> {
    let id = frame.header.request_id;
    let kind = frame.header.kind;
    *state
        .lock()
        .unwrap()
        .counts
        .entry((node, kind))
        .or_default() += 1;
    match kind {
        MessageKind::DescribeClusterRequest => {
            let info = |n: u32, port: u16| NodeInfo {
                node: NodeId(n),
                host: "127.0.0.1".into(),
                client_port_base: port,
                shard_count: 1,
            };
            let answer = DescribeClusterResponse {
                cluster_name: "scripted".into(),
                nodes: vec![info(1, ports[0]), info(2, ports[1])],
                map_epoch: Epoch(1),
                metadata_leader: Some(NodeId(1)),
                shard: ShardReport {
                    node: NodeId(1),
                    shard: ShardId(0),
                    groups: 0,
                    leading: Vec::new(),
                    hibernating: 0,
                    messages_sent: 0,
                    snapshots_sent: 0,
                    snapshots_installed: 0,
                },
            };
            encode_frame(id, &answer).unwrap()
        }
        MessageKind::DescribeTableRequest => {
            let request: DescribeTableRequest = frame.decode().unwrap();
            let name = request.table_name;
            *state
                .lock()
                .unwrap()
                .describes
                .entry(name.clone())
                .or_default() += 1;
            match table_id(&name) {
                Some(t) => encode_frame(
                    id,
                    &DescribeTableResponse {
                        table: description(&name, t),
                    },
                )
                .unwrap(),
                None => encode_frame(id, &error(ErrorKind::ResourceNotFound, None)).unwrap(),
            }
        }
        MessageKind::GetPartitionMapRequest => {
            let request: GetPartitionMapRequest = frame.decode().unwrap();
            let names: Vec<String> = match request.table_name {
                Some(name) => vec![name],
                None => ["moved", "hinted", "throttled", "stale", "split"]
                    .map(String::from)
                    .to_vec(),
            };
            let tables = names
                .into_iter()
                .filter_map(|name| {
                    let t = table_id(&name)?;
                    Some(TablePartitions {
                        partitions: partitions(&name, t),
                        table_name: name,
                        table: TableId(t),
                    })
                })
                .collect();
            encode_frame(
                id,
                &GetPartitionMapResponse {
                    epoch: Epoch(1),
                    tables,
                },
            )
            .unwrap()
        }
        // The metadata leadership moved to node 2: node 1 says so.
        MessageKind::ListTablesRequest => match node {
            1 => {
                encode_frame(id, &ErrorReply::from_error(&Error::not_leader(Some(at(2))))).unwrap()
            }
            _ => encode_frame(
                id,
                &ListTablesResponse {
                    table_names: vec!["hinted".into()],
                    last_evaluated_table_name: None,
                },
            )
            .unwrap(),
        },
        _ => item_answer(frame, node, state),
    }
}

/// Item requests, by table.
fn item_answer(frame: &Frame<'_>, node: u32, state: &Mutex<State>) -> Vec<u8> {
    let id = frame.header.request_id;
    match frame.header.kind {
        MessageKind::PutItemRequest => {
            let put: PutItemRequest = frame.decode().unwrap();
            state
                .lock()
                .unwrap()
                .last_epoch
                .insert(node, put.map_epoch.0);
            let puts = state.lock().unwrap().counts[&(node, MessageKind::PutItemRequest)];
            let describes = state
                .lock()
                .unwrap()
                .describes
                .get(&put.table_name)
                .copied()
                .unwrap_or(0);
            let pk = match &put.item["pk"] {
                AttributeValue::S(s) => s.clone(),
                _ => String::new(),
            };
            let reply = match (put.table_name.as_str(), node) {
                // Node 1 no longer owns "moved": WrongShard with the fresh entry.
                ("moved", 1) => Some(error(
                    ErrorKind::WrongShard,
                    Some(entry(1, 0, u64::MAX, 2, &[2], 2)),
                )),
                // Throttled twice, then served; "fail" fails its condition; "always" never passes.
                ("throttled", _) if pk == "always" || puts <= 2 => {
                    Some(error(ErrorKind::Throttling, None))
                }
                ("throttled", _) if pk == "fail" => {
                    Some(error(ErrorKind::ConditionalCheckFailed, None))
                }
                // The first route of "stale" is from before a restart: unknown until refetched.
                ("stale", _) if describes < 2 => Some(error(ErrorKind::ResourceNotFound, None)),
                _ => None,
            };
            match reply {
                Some(reply) => encode_frame(id, &reply).unwrap(),
                None => encode_frame(
                    id,
                    &PutItemResponse {
                        attributes: None,
                        consumed_capacity: None,
                        item_collection_metrics: None,
                    },
                )
                .unwrap(),
            }
        }
        MessageKind::GetItemRequest => {
            let get: GetItemRequest = frame.decode().unwrap();
            if get.table_name == "hinted" && node == 1 {
                let reply = ErrorReply::from_error(&Error::not_leader(Some(at(2))));
                return encode_frame(id, &reply).unwrap();
            }
            encode_frame(
                id,
                &GetItemResponse {
                    item: Some(get.key),
                    consumed_capacity: None,
                },
            )
            .unwrap()
        }
        MessageKind::BatchGetItemRequest => {
            let batch: BatchGetItemRequest = frame.decode().unwrap();
            let responses = batch
                .request_items
                .into_iter()
                .map(|(t, k)| (t, k.keys))
                .collect();
            let answer = BatchGetItemResponse {
                responses,
                unprocessed_keys: Default::default(),
                consumed_capacity: Vec::new(),
            };
            encode_frame(id, &answer).unwrap()
        }
        _ => encode_frame(id, &error(ErrorKind::NotSupportedYet, None)).unwrap(),
    }
}
