//! The sans-IO transport core of one shard: a quinn-proto endpoint, its connections, the
//! per-destination send queues and the deliveries waiting for the raft driver.
//!
//! Inputs: [`TransportCore::send`], [`TransportCore::handle_datagram`] and
//! [`TransportCore::drive`] (with the time); outputs: datagrams to put on the wire
//! ([`TransportCore::take_transmits`]), events for the application
//! ([`TransportCore::poll_event`]) and the next time `drive` is due
//! ([`TransportCore::poll_timeout`]).
//!
//! Invariants: a message is delivered only from a stream whose hello named a member node
//! and shard, aimed at this shard, from a connection whose client certificate names that
//! node; every queue is bounded (per-destination bytes, deliveries), and overflow drops
//! messages (raft retransmits) rather than buffering for a dead peer (pitfall 15); a lost
//! outbound connection drops what was queued for it and reports the destination
//! `Unreachable`, so raft can `report_unreachable`. Messages to one destination on one lane
//! arrive in the order they were sent, within a connection's life.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Endpoint, Event, ReadError,
    StreamEvent, StreamId, Transmit, VarInt, WriteError,
};

use super::frame::{Decoded, FrameError, HELLO_BYTES, Hello, MESSAGE_BYTES_MAX};
use super::frame::{StreamDecoder, encode_message};
use super::tls::{QuicConfigs, check_cluster_name, node_name, verify_peer_node};
use crate::config::ClusterFile;

/// A shard of a node: the address of one end of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardAddr {
    /// Node id.
    pub node: u32,
    /// Shard index on that node.
    pub shard: u16,
}

/// The stream a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Log appends and their acknowledgements: bulk.
    Raft,
    /// Votes, heartbeats, lease and read-index traffic: sent ahead of `Raft`.
    Control,
    /// Snapshot chunks and their acknowledgements: behind both.
    Snapshot,
}

impl Lane {
    const ALL: [Lane; 3] = [Lane::Raft, Lane::Control, Lane::Snapshot];

    fn index(self) -> usize {
        match self {
            Lane::Raft => 0,
            Lane::Control => 1,
            Lane::Snapshot => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Lane::Raft),
            1 => Some(Lane::Control),
            2 => Some(Lane::Snapshot),
            _ => None,
        }
    }

    /// quinn-proto priority: higher is sent first.
    fn priority(self) -> i32 {
        match self {
            Lane::Raft => 0,
            Lane::Control => 1,
            Lane::Snapshot => -1,
        }
    }
}

/// One node as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerNode {
    /// Its address.
    pub host: IpAddr,
    /// Shard `i` listens on `peer_port_base + i`.
    pub peer_port_base: u16,
    /// Its shard count.
    pub shards: u16,
}

/// The nodes of the cluster (static in this version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Cluster name (part of every node's certificate name).
    pub cluster: String,
    /// Node id → node.
    pub nodes: HashMap<u32, PeerNode>,
}

impl Membership {
    /// The membership a cluster file describes; host names are resolved once, here.
    pub fn from_cluster_file(file: &ClusterFile) -> Result<Self, String> {
        check_cluster_name(&file.name).map_err(|e| e.to_string())?;
        let mut nodes = HashMap::new();
        for n in &file.nodes {
            let host = (n.host.as_str(), n.peer_port_base)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("node {}: cannot resolve host {:?}", n.id, n.host))?
                .ip();
            nodes.insert(
                n.id,
                PeerNode {
                    host,
                    peer_port_base: n.peer_port_base,
                    shards: n.shards,
                },
            );
        }
        Ok(Self {
            cluster: file.name.clone(),
            nodes,
        })
    }

    /// The UDP address of `to`, if it is a member.
    pub fn addr(&self, to: ShardAddr) -> Option<SocketAddr> {
        let node = self.nodes.get(&to.node)?;
        (to.shard < node.shards).then(|| SocketAddr::new(node.host, node.peer_port_base + to.shard))
    }
}

/// Bounds of a transport core.
#[derive(Debug, Clone, Copy)]
pub struct TransportLimits {
    /// Bytes queued for one destination before further messages are dropped.
    pub queued_bytes_per_destination_max: usize,
    /// Deliveries waiting for the application before reading from the network pauses.
    pub inbound_messages_max: usize,
    /// Wait before reconnecting after a first failure; doubles per failure.
    pub reconnect_delay_min: Duration,
    /// Longest wait before reconnecting.
    pub reconnect_delay_max: Duration,
    /// Connections (both directions) an endpoint keeps; further incoming ones are refused.
    pub connections_max: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            queued_bytes_per_destination_max: 64 << 20,
            inbound_messages_max: 65_536,
            reconnect_delay_min: Duration::from_millis(50),
            reconnect_delay_max: Duration::from_secs(2),
            connections_max: 4096,
        }
    }
}

/// Counters of a transport core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Outbound connections started.
    pub connections_opened: u64,
    /// Inbound connections accepted (before their identity is checked).
    pub connections_accepted: u64,
    /// Connections that ended (either direction, any reason).
    pub connections_lost: u64,
    /// Inbound connections closed because of their identity or their bytes.
    pub peers_refused: u64,
    /// Messages written completely to a stream.
    pub messages_sent: u64,
    /// Messages delivered to the application.
    pub messages_received: u64,
    /// Messages dropped: full queue, unreachable destination, or lost with a connection.
    pub messages_dropped: u64,
    /// Datagrams handed to the socket.
    pub datagrams_sent: u64,
    /// Datagrams received from the socket.
    pub datagrams_received: u64,
}

/// Why a message was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The destination is not a member (or is this node).
    #[error("{0:?} is not a remote member shard")]
    UnknownDestination(ShardAddr),
    /// The payload exceeds [`MESSAGE_BYTES_MAX`].
    #[error("message of {0} bytes exceeds the transport limit")]
    TooLarge(usize),
    /// The destination's queue is full; the message was dropped.
    #[error("queue to {0:?} is full; message dropped")]
    QueueFull(ShardAddr),
    /// The destination failed recently and is waiting to be retried; the message was dropped.
    #[error("{0:?} is unreachable; message dropped")]
    Unreachable(ShardAddr),
}

/// What the application receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A message from a verified peer shard.
    Message {
        /// The sender.
        from: ShardAddr,
        /// The lane it came on.
        lane: Lane,
        /// Its bytes.
        payload: Bytes,
    },
    /// The connection to this destination failed or ended; what was queued is lost.
    Unreachable(ShardAddr),
}

/// A datagram to send.
#[derive(Debug)]
pub struct Datagram {
    /// Where to.
    pub to: SocketAddr,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Application close codes.
const CLOSE_REFUSED: u32 = 1;
const CLOSE_BAD_STREAM: u32 = 2;
const CLOSE_SHUTDOWN: u32 = 3;

#[derive(Default)]
struct LaneQueue {
    frames: VecDeque<Vec<u8>>,
    head_written: usize,
}

#[derive(Default)]
struct Destination {
    conn: Option<ConnectionHandle>,
    lanes: [LaneQueue; 3],
    queued_bytes: usize,
    retry_at: Option<Instant>,
    failures: u32,
}

enum Role {
    Outbound(ShardAddr),
    Inbound,
}

struct Conn {
    quic: Connection,
    role: Role,
    established: bool,
    /// Inbound: the node the certificate was checked against.
    peer_node: Option<u32>,
    /// Outbound: the stream of each lane once connected.
    lanes: [Option<StreamId>; 3],
    /// Inbound: the decoder of each stream the peer opened.
    streams: HashMap<StreamId, StreamDecoder>,
    /// Inbound streams with unread data, left while deliveries were full.
    paused: Vec<StreamId>,
    closed: bool,
}

/// The transport state of one shard. See the module documentation.
pub struct TransportCore {
    local: ShardAddr,
    membership: Membership,
    limits: TransportLimits,
    endpoint: Endpoint,
    client_config: ClientConfig,
    /// Boxed: `drive` takes each connection out of the map and puts it back, and a quinn
    /// connection is kilobytes (moving it inline was 2-3% of a follower's CPU).
    conns: HashMap<ConnectionHandle, Box<Conn>>,
    /// `drive`'s list of connections, kept between calls.
    handles: Vec<ConnectionHandle>,
    /// quinn-proto's output buffer, kept between calls.
    scratch: Vec<u8>,
    destinations: HashMap<ShardAddr, Destination>,
    events: VecDeque<TransportEvent>,
    transmits: Vec<Datagram>,
    stats: TransportStats,
}

impl TransportCore {
    /// A core for shard `local` with the configurations of [`super::tls::quic_configs`].
    pub fn new(
        local: ShardAddr,
        membership: Membership,
        configs: QuicConfigs,
        limits: TransportLimits,
    ) -> Self {
        let endpoint = Endpoint::new(
            Arc::new(configs.endpoint),
            Some(Arc::new(configs.server)),
            true,
            None,
        );
        let client = configs.client;
        Self {
            local,
            membership,
            limits,
            endpoint,
            client_config: client,
            conns: HashMap::new(),
            handles: Vec::new(),
            scratch: Vec::new(),
            destinations: HashMap::new(),
            events: VecDeque::new(),
            transmits: Vec::new(),
            stats: TransportStats::default(),
        }
    }

    /// This shard.
    pub fn local(&self) -> ShardAddr {
        self.local
    }

    /// The counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Queues `payload` for `to` on `lane`, connecting if needed. The bytes leave at the next
    /// [`TransportCore::drive`].
    pub fn send(
        &mut self,
        now: Instant,
        to: ShardAddr,
        lane: Lane,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if to.node == self.local.node || self.membership.addr(to).is_none() {
            return Err(SendError::UnknownDestination(to));
        }
        if payload.len() > MESSAGE_BYTES_MAX {
            return Err(SendError::TooLarge(payload.len()));
        }
        let limit = self.limits.queued_bytes_per_destination_max;
        let dest = self.destinations.entry(to).or_default();
        if dest.conn.is_none() && dest.retry_at.is_some_and(|t| now < t) {
            self.stats.messages_dropped += 1;
            return Err(SendError::Unreachable(to));
        }
        let frame = encode_message(payload);
        if dest.queued_bytes + frame.len() > limit {
            self.stats.messages_dropped += 1;
            return Err(SendError::QueueFull(to));
        }
        dest.queued_bytes += frame.len();
        dest.lanes[lane.index()].frames.push_back(frame);
        if dest.conn.is_none() {
            self.connect(now, to);
        }
        Ok(())
    }

    /// Feeds one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: BytesMut) {
        self.stats.datagrams_received += 1;
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.handle_datagram_with(now, from, data, &mut buf);
        self.scratch = buf;
    }

    fn handle_datagram_with(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: BytesMut,
        buf: &mut Vec<u8>,
    ) {
        match self.endpoint.handle(now, from, None, None, data, buf) {
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                if let Some(conn) = self.conns.get_mut(&handle) {
                    conn.quic.handle_event(event);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if self.conns.len() >= self.limits.connections_max {
                    self.stats.peers_refused += 1;
                    tracing::warn!(%from, "transport: connection refused: too many connections");
                    let t = self.endpoint.refuse(incoming, buf);
                    self.push_transmit(&t, buf);
                    return;
                }
                match self.endpoint.accept(incoming, now, buf, None) {
                    Ok((handle, quic)) => {
                        self.stats.connections_accepted += 1;
                        self.conns
                            .insert(handle, Box::new(Conn::new(quic, Role::Inbound)));
                    }
                    Err(e) => {
                        tracing::debug!(%from, "transport: refused a connection: {}", e.cause);
                        if let Some(t) = e.response {
                            self.push_transmit(&t, buf);
                        }
                    }
                }
            }
            Some(DatagramEvent::Response(t)) => self.push_transmit(&t, buf),
            None => {}
        }
    }

    /// Runs every connection: timers, events, queued writes, reads, and collects the
    /// datagrams to send.
    pub fn drive(&mut self, now: Instant) {
        let mut handles = std::mem::take(&mut self.handles);
        handles.clear();
        handles.extend(self.conns.keys().copied());
        for &handle in &handles {
            let Some(mut conn) = self.conns.remove(&handle) else {
                continue;
            };
            self.drive_conn(now, handle, &mut conn);
            if !conn.quic.is_drained() {
                self.conns.insert(handle, conn);
            }
        }
        self.handles = handles;
    }

    /// Datagrams produced since the last call.
    pub fn take_transmits(&mut self) -> Vec<Datagram> {
        std::mem::take(&mut self.transmits)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<TransportEvent> {
        self.events.pop_front()
    }

    /// Whether events are waiting.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`TransportCore::drive`] must run next, if any connection has a timer.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.conns
            .values_mut()
            .filter_map(|c| c.quic.poll_timeout())
            .min()
    }

    /// Closes every connection (their close frames leave at the next `drive`).
    pub fn close_all(&mut self, now: Instant) {
        for conn in self.conns.values_mut() {
            if !conn.closed {
                conn.quic.close(
                    now,
                    VarInt::from_u32(CLOSE_SHUTDOWN),
                    Bytes::from_static(b"shutdown"),
                );
                conn.closed = true;
            }
        }
    }

    fn connect(&mut self, now: Instant, to: ShardAddr) {
        let addr = self.membership.addr(to).expect("checked by send");
        let name = node_name(&self.membership.cluster, to.node);
        match self
            .endpoint
            .connect(now, self.client_config.clone(), addr, &name)
        {
            Ok((handle, quic)) => {
                self.stats.connections_opened += 1;
                self.conns
                    .insert(handle, Box::new(Conn::new(quic, Role::Outbound(to))));
                if let Some(dest) = self.destinations.get_mut(&to) {
                    dest.conn = Some(handle);
                }
            }
            Err(e) => {
                tracing::warn!(?to, %addr, "transport: cannot connect: {e}");
                self.fail_destination(now, to, None);
            }
        }
    }

    fn drive_conn(&mut self, now: Instant, handle: ConnectionHandle, conn: &mut Conn) {
        if conn.quic.poll_timeout().is_some_and(|t| t <= now) {
            conn.quic.handle_timeout(now);
        }
        while let Some(event) = conn.quic.poll() {
            self.on_event(now, handle, conn, event);
        }
        if conn.established && !conn.closed {
            if let Role::Outbound(to) = conn.role {
                self.flush_destination(now, handle, conn, to);
            } else if !conn.paused.is_empty() {
                for id in std::mem::take(&mut conn.paused) {
                    self.read_stream(now, conn, id);
                }
            }
        }
        while let Some(event) = conn.quic.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(handle, event) {
                conn.quic.handle_event(back);
            }
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        while let Some(t) = conn.quic.poll_transmit(now, 1, &mut buf) {
            self.push_transmit(&t, &buf);
            buf.clear();
        }
        self.scratch = buf;
    }

    fn on_event(&mut self, now: Instant, handle: ConnectionHandle, conn: &mut Conn, event: Event) {
        match event {
            Event::Connected => {
                conn.established = true;
                if let Role::Outbound(to) = conn.role {
                    self.open_lanes(now, handle, conn, to);
                }
            }
            Event::ConnectionLost { reason } => {
                self.stats.connections_lost += 1;
                conn.closed = true;
                match conn.role {
                    Role::Outbound(to) => {
                        tracing::debug!(?to, "transport: connection lost: {reason}");
                        self.fail_destination(now, to, Some(handle));
                    }
                    Role::Inbound => {
                        tracing::debug!(peer = ?conn.peer_node, "transport: inbound lost: {reason}");
                    }
                }
            }
            Event::Stream(StreamEvent::Opened { dir: Dir::Uni }) => {
                while let Some(id) = conn.quic.streams().accept(Dir::Uni) {
                    conn.streams.insert(id, StreamDecoder::default());
                    // Data that came with the opening produces no Readable (pitfall 11).
                    self.read_stream(now, conn, id);
                }
            }
            Event::Stream(StreamEvent::Readable { id }) => self.read_stream(now, conn, id),
            Event::Stream(StreamEvent::Stopped { id, error_code }) => {
                if let Role::Outbound(to) = conn.role {
                    tracing::warn!(?to, ?id, "transport: peer stopped a lane ({error_code})");
                    self.close_conn(now, handle, conn, CLOSE_BAD_STREAM, "lane stopped");
                }
            }
            _ => {}
        }
    }

    fn open_lanes(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        conn: &mut Conn,
        to: ShardAddr,
    ) {
        for lane in Lane::ALL {
            let Some(id) = conn.quic.streams().open(Dir::Uni) else {
                self.close_conn(now, handle, conn, CLOSE_BAD_STREAM, "no stream credit");
                return;
            };
            let hello = Hello {
                lane: lane.index() as u8,
                node: self.local.node,
                shard: self.local.shard,
                target_shard: to.shard,
            }
            .encode();
            let mut stream = conn.quic.send_stream(id);
            let _ = stream.set_priority(lane.priority());
            if stream.write(&hello) != Ok(HELLO_BYTES) {
                self.close_conn(now, handle, conn, CLOSE_BAD_STREAM, "hello not written");
                return;
            }
            conn.lanes[lane.index()] = Some(id);
        }
    }

    fn flush_destination(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        conn: &mut Conn,
        to: ShardAddr,
    ) {
        let Some(dest) = self.destinations.get_mut(&to) else {
            return;
        };
        let mut broken = false;
        for lane in Lane::ALL {
            let Some(id) = conn.lanes[lane.index()] else {
                continue;
            };
            let queue = &mut dest.lanes[lane.index()];
            while let Some(frame) = queue.frames.front() {
                match conn
                    .quic
                    .send_stream(id)
                    .write(&frame[queue.head_written..])
                {
                    Ok(n) => queue.head_written += n,
                    Err(WriteError::Blocked) => break,
                    Err(_) => {
                        broken = true;
                        break;
                    }
                }
                if queue.head_written < frame.len() {
                    break;
                }
                dest.queued_bytes -= frame.len();
                queue.frames.pop_front();
                queue.head_written = 0;
                self.stats.messages_sent += 1;
            }
        }
        if broken {
            self.close_conn(now, handle, conn, CLOSE_BAD_STREAM, "lane closed");
        }
    }

    fn read_stream(&mut self, now: Instant, conn: &mut Conn, id: StreamId) {
        if !conn.streams.contains_key(&id) || conn.closed {
            return;
        }
        if self.events.len() >= self.limits.inbound_messages_max {
            if !conn.paused.contains(&id) {
                conn.paused.push(id);
            }
            return;
        }
        let mut ended = false;
        if let Ok(mut chunks) = conn.quic.recv_stream(id).read(true) {
            let decoder = conn.streams.get_mut(&id).expect("checked above");
            loop {
                match chunks.next(usize::MAX) {
                    Ok(Some(chunk)) => decoder.push(&chunk.bytes),
                    Ok(None) | Err(ReadError::Reset(_)) => {
                        ended = true;
                        break;
                    }
                    Err(ReadError::Blocked) => break,
                }
            }
            let _ = chunks.finalize();
        }
        if let Err(reason) = self.deliver(conn, id) {
            tracing::warn!(peer = ?conn.peer_node, "transport: refusing a peer: {reason}");
            self.stats.peers_refused += 1;
            conn.quic
                .close(now, VarInt::from_u32(CLOSE_REFUSED), Bytes::from(reason));
            conn.closed = true;
            return;
        }
        if ended {
            conn.streams.remove(&id);
        }
    }

    /// Decodes what a stream holds: checks its hello, queues its messages.
    fn deliver(&mut self, conn: &mut Conn, id: StreamId) -> Result<(), String> {
        let decoder = conn.streams.get_mut(&id).expect("caller checked");
        loop {
            let unit = decoder.next().map_err(|e: FrameError| e.to_string())?;
            match unit {
                None => return Ok(()),
                Some(Decoded::Hello(hello)) => {
                    check_hello(&self.membership, self.local, &hello)?;
                    match conn.peer_node {
                        Some(node) if node != hello.node => {
                            return Err(format!(
                                "stream claims node {} on a connection of node {node}",
                                hello.node
                            ));
                        }
                        Some(_) => {}
                        None => {
                            verify_peer_node(&conn.quic, &self.membership.cluster, hello.node)
                                .map_err(|e| e.to_string())?;
                            conn.peer_node = Some(hello.node);
                        }
                    }
                }
                Some(Decoded::Message(payload)) => {
                    let hello = decoder.hello().expect("a hello precedes every message");
                    self.stats.messages_received += 1;
                    self.events.push_back(TransportEvent::Message {
                        from: ShardAddr {
                            node: hello.node,
                            shard: hello.shard,
                        },
                        lane: Lane::from_byte(hello.lane).expect("checked with the hello"),
                        payload,
                    });
                }
            }
        }
    }

    fn close_conn(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        conn: &mut Conn,
        code: u32,
        reason: &'static str,
    ) {
        if conn.closed {
            return;
        }
        conn.quic.close(
            now,
            VarInt::from_u32(code),
            Bytes::from_static(reason.as_bytes()),
        );
        conn.closed = true;
        if let Role::Outbound(to) = conn.role {
            self.fail_destination(now, to, Some(handle));
        }
    }

    /// The connection to `to` is gone: drop its queue, back off, tell the application.
    fn fail_destination(&mut self, now: Instant, to: ShardAddr, handle: Option<ConnectionHandle>) {
        let Some(dest) = self.destinations.get_mut(&to) else {
            return;
        };
        if handle.is_some() && dest.conn != handle {
            return;
        }
        dest.conn = None;
        let dropped: usize = dest.lanes.iter().map(|l| l.frames.len()).sum();
        self.stats.messages_dropped += dropped as u64;
        dest.lanes = Default::default();
        dest.queued_bytes = 0;
        let delay = self
            .limits
            .reconnect_delay_min
            .saturating_mul(1 << dest.failures.min(16))
            .min(self.limits.reconnect_delay_max);
        dest.failures += 1;
        dest.retry_at = Some(now + delay);
        self.events.push_back(TransportEvent::Unreachable(to));
    }

    fn push_transmit(&mut self, t: &Transmit, buf: &[u8]) {
        self.stats.datagrams_sent += 1;
        self.transmits.push(Datagram {
            to: t.destination,
            bytes: buf[..t.size].to_vec(),
        });
    }
}

impl Conn {
    fn new(quic: Connection, role: Role) -> Self {
        Self {
            quic,
            role,
            established: false,
            peer_node: None,
            lanes: [None, None, None],
            streams: HashMap::new(),
            paused: Vec::new(),
            closed: false,
        }
    }
}

/// A hello is acceptable if it names a member shard of another node, a known lane, and this
/// shard as its target.
fn check_hello(membership: &Membership, local: ShardAddr, hello: &Hello) -> Result<(), String> {
    if Lane::from_byte(hello.lane).is_none() {
        return Err(format!("unknown lane {}", hello.lane));
    }
    let from = ShardAddr {
        node: hello.node,
        shard: hello.shard,
    };
    if from.node == local.node || membership.addr(from).is_none() {
        return Err(format!("{from:?} is not a remote member shard"));
    }
    if hello.target_shard != local.shard {
        return Err(format!(
            "stream meant for shard {} reached shard {}",
            hello.target_shard, local.shard
        ));
    }
    Ok(())
}
