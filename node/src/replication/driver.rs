//! The raft driver of one shard: every raft group the shard hosts, stepped by one loop.
//!
//! Each pass of the loop (RUNTIME-NOTES §3.5): tell raft which earlier Readies became
//! durable (`on_persist_ready`) and send the messages that waited for that (votes and
//! acknowledgements: pitfall 18); step the peers' messages that arrived since the last pass,
//! hand queued proposals and ReadIndex requests to their groups, tick the groups when a tick
//! is due; take the `Ready` of every group that has one, send its `messages()` (a leader's
//! appends may leave before its own fsync), append its entries and hard state to the
//! shard's write-ahead log and hand it back to raft at once (`advance_append_async`); then
//! apply, in log order through the shard's [`StateMachine`], the entries the Readies hand
//! over as committed (durable here and on a quorum). The pass never waits for a flush: the
//! WAL group-commits whatever the passes appended (one fdatasync for all groups) while the
//! loop goes on stepping acknowledgements and taking new proposals, and a task waiting on
//! the newest ticket wakes the loop when it is durable (the pipeline of raft-rs's
//! asynchronous Ready).
//!
//! Reads: a group serves strongly consistent reads only while it leads, has applied an
//! entry of its own term (so every write acknowledged by an earlier leader is visible) and,
//! with peers, a quorum confirmed its leadership after the read arrived (ReadIndex), or it
//! holds a lease: a ReadIndex round answered by a quorum proves that no follower will vote
//! for another candidate until an election timeout after the round's heartbeat was sent
//! (check-quorum), so until then, less a tick and a drift margin, reads are served from
//! local state (RUNTIME-NOTES §3.1, pitfall 17). A leadership transfer suspends the lease,
//! and no lease is taken from a round started within three lease spans of asking for one
//! (the transferee's election ignores leases).
//!
//! Hibernation: a led group with peers that has been idle for two election timeouts (log
//! and commit index unchanged, every follower holding the whole log, everything applied,
//! nothing waiting) stops ticking, so it sends no heartbeats, and tells its followers, which
//! stop ticking it too (no election timer). Any peer message for the group, a proposal, a
//! read round, a client read at a follower, an operator's leadership transfer, or the loss
//! of the leader's connection wakes it. A hibernating follower still refuses votes (its
//! last contact with the leader stays recent), so a lease is never shortened by
//! hibernation; an election after the leader died while its groups slept takes up to one
//! more election timeout. Snapshots (see `snapshots.rs`) are installed in a task beside the
//! loop.
//!
//! Proposals: a proposal waits under the log index raft appended it at, with the term it
//! was appended in; the entry applied at that index answers it only if it has that term
//! (one leader per term, and a leader never overwrites its own entries), so an entry an
//! earlier leader proposed, committed by this one, never answers a proposal of this
//! replica. A proposer may attach a decoded form of its entry (`propose_prepared`), which
//! this replica's state machine receives with exactly that entry.
//!
//! Invariants: only this module calls into `raft`; a proposal's reply is sent only after
//! its entry is committed and applied; entries are applied in index order, exactly once per
//! process life (the tree's applied index makes re-application after a restart start at the
//! right place); no peer message is stepped between a group's `ready` and its
//! `advance_append_async`; a message from `persisted_messages()` leaves only once the WAL is
//! durable up to everything appended before it was taken.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use raft::prelude::{Entry, Message, MessageType};
use raft::{Config, GetEntriesContext, RawNode, StateRole};

use super::envelope::{decode_batch, encode_batch};
use super::log_store::{GroupLog, decode_entry, encode_entry, encode_state};
use super::logger::raft_logger;
use super::transport::{Lane, SendError, ShardAddr, Transport, TransportEvent};

mod snapshots;
use crate::storage::io::Disk;
use crate::storage::wal::{Record, RecordKind};
use crate::storage::{Engine, StorageError};

/// Why a leadership transfer did not happen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransferError {
    /// The group is not open on this shard (not a replica, or not opened yet).
    #[error("partition {0} is not open on this shard")]
    NoGroup(u64),
    /// `to` is not one of the group's replicas.
    #[error("node {to} holds no replica of partition {group}")]
    NotAReplica {
        /// The group.
        group: u64,
        /// The requested leader.
        to: u64,
    },
    /// This replica does not lead the group (the hint names the leader if known).
    #[error("this replica does not lead partition {group}")]
    NotLeader {
        /// The group.
        group: u64,
        /// Raft id of the leader, if known.
        leader: Option<u64>,
    },
    /// The transferee has not been in contact with the leader lately (down, cut off).
    #[error("node {to}'s replica of partition {group} is not in contact with its leader")]
    OutOfContact {
        /// The group.
        group: u64,
        /// The requested leader.
        to: u64,
    },
    /// Raft did not report the new leader in time.
    #[error(
        "the leadership of partition {group} did not move to node {to} in time (at most {limit:?})"
    )]
    TimedOut {
        /// The group.
        group: u64,
        /// The requested leader.
        to: u64,
        /// The time waited.
        limit: Duration,
    },
}

/// Proposals queued per shard before `propose` waits.
pub const PROPOSALS_QUEUED_MAX: usize = 65_536;
/// Entries applied before the loop lets the shard's other tasks run (the answered requests'
/// tasks, the connections' writers and readers). Their clients get the first answers and
/// send their next requests while the rest of the flush applies, so the next flush starts
/// with part of them while this one's answers still go out: group commits overlap CPU work
/// instead of alternating with it. Applying a whole flush before answering any of it held
/// 64 clients of one shard in lockstep (one flush of 64 puts, then ~500 µs of CPU with the
/// disk idle). One node, one shard, PutItem at 64 in flight with synced log writes: 8
/// entries 95-106k/s, 4096 (a whole flush) 78-83k/s; 4 and 16 did no better than 8.
/// Replicated groups apply whole: their next commit waits for a follower's acknowledgement,
/// not for the local disk, and chunks only delayed the loop's next pass (three nodes,
/// PutItem at 64 in flight: 26-31k/s with chunks of 8, 28-35k/s without).
const APPLY_CHUNK: usize = 8;
/// Peer messages queued for the next pass before the receiver waits.
const INBOX_MESSAGES_MAX: usize = 65_536;
/// Snapshot frames queued for the snapshot task (8 transfers' windows) before more are
/// dropped.
const SNAPSHOT_FRAMES_QUEUED_MAX: usize = 64;
/// Default of [`DriverConfig::log_kept_for_followers`].
pub const LOG_KEPT_FOR_FOLLOWERS_DEFAULT: u64 = 100_000;
/// Default of [`DriverConfig::log_cache_bytes`].
pub const LOG_CACHE_BYTES_DEFAULT: u64 = 4 << 20;
/// Entry bytes read back from the WAL at once for a lagging follower (about four of raft's
/// 1 MiB append messages).
const LOG_FETCH_BYTES: usize = 4 << 20;

/// What applies committed entries: the partition or metadata state machine.
#[allow(async_fn_in_trait)]
pub trait StateMachine: 'static {
    /// What a proposer receives once its entry is applied.
    type Output: 'static;

    /// Applies entry `index` of `group`. Must be deterministic, must record the applied
    /// position in the engine (`Engine::apply_committed`), and must not fail for reasons
    /// that differ between replicas; a storage error stops the shard.
    ///
    /// `prepared` is what this replica's proposer attached to exactly this entry
    /// ([`RaftDriver::propose_prepared`]), on the replica that proposed it only: a decoded
    /// form of `data` the machine may use instead of decoding `data` again. The result
    /// must be the same with it as without it.
    async fn apply(
        &self,
        group: u64,
        index: u64,
        data: &[u8],
        prepared: Option<Prepared>,
    ) -> Result<Self::Output, StorageError>;

    /// The key range `[start, end)` (`end` None: unbounded) that holds `group`'s state, for
    /// snapshots; None if this shard cannot tell yet (the group's table is unknown here).
    fn snapshot_range(&self, group: u64) -> Option<(Vec<u8>, Option<Vec<u8>>)>;

    /// Called once a snapshot replaced `group`'s state: reload whatever was derived from it.
    async fn restored(&self, group: u64) -> Result<(), StorageError>;
}

/// Why a proposal did not produce an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This replica does not lead the group (the hint names the leader if known).
    #[error("not the leader of group {group}")]
    NotLeader {
        /// The group.
        group: u64,
        /// Raft id of the leader, if known.
        leader: Option<u64>,
    },
    /// The group does not exist on this shard.
    #[error("group {0} is not hosted here")]
    NoGroup(u64),
    /// Raft dropped the proposal (leadership changed); safe to retry.
    #[error("proposal dropped by group {0}")]
    Dropped(u64),
    /// The shard's storage failed or it is shutting down.
    #[error("{0}")]
    Storage(String),
    /// A snapshot replaced this replica's log up to or past the proposal's entry before it
    /// was applied here: the entry may be part of the snapshot's state or may have been
    /// overwritten, and this replica cannot tell which.
    #[error("outcome unknown: group {0} installed a snapshot that covers the proposal")]
    Unknown(u64),
}

/// Timing of the groups.
#[derive(Debug, Clone, Copy)]
pub struct DriverConfig {
    /// This replica's raft id (the node id).
    pub replica_id: u64,
    /// Time per tick.
    pub tick: Duration,
    /// Ticks before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between heartbeats.
    pub heartbeat_ticks: usize,
    /// Entries a leader keeps for a lagging follower after a checkpoint made them redundant
    /// here; beyond it the log is compacted anyway and that follower gets a snapshot. Other
    /// replicas keep this many too, for when they lead.
    pub log_kept_for_followers: u64,
    /// Bytes of applied entries a group keeps in memory for followers that have not
    /// acknowledged them; older ones are read back from the WAL when a follower needs them.
    pub log_cache_bytes: u64,
}

type ReadWaiter = oneshot::Sender<Result<(), ProposeError>>;

/// One ReadIndex round of a group.
struct ReadRound {
    group: u64,
    waiters: Vec<ReadWaiter>,
    /// Started by a follower (the leader answers it, or the round expires).
    follower: bool,
    started: Instant,
}

/// A round whose answer did not come (its leader changed) fails after this long.
const READ_ROUND_EXPIRY: Duration = Duration::from_secs(10);
/// Called with the id of a group a peer sent messages for that is not open here.
type UnknownGroupHook = Box<dyn Fn(u64)>;

/// Where a proposal's outcome goes.
type Reply<O> = oneshot::Sender<Result<O, ProposeError>>;

/// What a proposer attaches to its entry for its own replica's state machine (see
/// [`StateMachine::apply`]): the request it already decoded, say.
pub type Prepared = Box<dyn std::any::Any>;

struct Proposal<O> {
    group: u64,
    data: Vec<u8>,
    prepared: Option<Prepared>,
    reply: Reply<O>,
}

/// A proposal appended to its group's log and not yet applied.
struct Waiter<O> {
    /// The term it was appended in: the entry applied at its index is this proposal only
    /// if it has this term (one leader per term, and a leader never overwrites its own
    /// entries), whatever replica proposed the entries around it.
    term: u64,
    prepared: Option<Prepared>,
    reply: Reply<O>,
}

struct Group<O> {
    raw: RawNode<GroupLog>,
    /// Voters when opened: a lone voter's leadership needs no confirmation.
    voters: usize,
    /// Leader lease: until this instant, in this term, no other replica can have been
    /// elected, so strongly consistent reads are served from local state without a round.
    lease: Option<(u64, Instant)>,
    /// A read was served under the lease since the last renewal round.
    lease_used: bool,
    /// No lease from a ReadIndex round started before this instant: raft was asked to
    /// transfer the leadership, and the transferee, once told to campaign, is elected
    /// whatever leases its voters' last leader holds (see [`ask_transfer`]).
    no_lease_before: Option<Instant>,
    /// Proposals appended to the log and not yet applied, by log index.
    waiting: BTreeMap<u64, Waiter<O>>,
    term_applied: bool,
    /// The commit index moved without a Ready and the hard state holding it is not yet in
    /// the WAL: it rides along with the next flush instead of costing a flush of its own.
    state_unsaved: bool,
    /// Idle: not ticked (a leader sends no heartbeats, a follower never campaigns) until a
    /// message, a proposal, a read round or a lost leader wakes it.
    hibernating: bool,
    /// Ticks since the group's log or commit index last moved.
    idle_ticks: usize,
    /// (last index, commit index) at the last tick.
    progress_mark: (u64, u64),
}

impl<O> Group<O> {
    /// Ends hibernation. Traffic of an awake group (heartbeats and their answers) is not
    /// activity: only a moving log or commit index resets the idle count (see
    /// `hibernation_due`).
    ///
    /// A leader restarts its check-quorum period: its followers said nothing while it slept
    /// (it sent them nothing), so checking before they have answered a heartbeat would
    /// depose a healthy leader.
    fn wake(&mut self) {
        if self.hibernating {
            self.hibernating = false;
            self.idle_ticks = 0;
            if self.raw.raft.state == StateRole::Leader {
                self.raw.raft.election_elapsed = 0;
            }
        }
    }
}

struct State<O> {
    groups: BTreeMap<u64, Group<O>>,
    proposals: VecDeque<Proposal<O>>,
    /// Peers' messages, stepped at the start of the next pass: never between a group's
    /// `ready` and its `advance` (raft-rs forbids a follower new messages in between).
    inbox: Vec<(u64, Message)>,
    /// Peers reported unreachable since the last pass.
    unreachable: Vec<u64>,
    /// Strongly consistent reads waiting for a ReadIndex round: group, waiter, and whether a
    /// follower may serve it (it then asks the leader for the read index).
    reads_queued: Vec<(u64, ReadWaiter, bool)>,
    /// ReadIndex rounds in flight: context → the round.
    reads_in_flight: HashMap<u64, ReadRound>,
    /// Rounds a quorum confirmed: group, read index, waiters (answered once applied).
    reads_confirmed: Vec<(u64, u64, Vec<ReadWaiter>)>,
    next_read_ctx: u64,
    /// A planned stop: hand every led group to a follower.
    transferring: bool,
    waker: Option<Waker>,
    space_waiters: Vec<Waker>,
    closing: bool,
    failed: Option<String>,
    compacted_at_checkpoint: u64,
    /// Snapshot transfers to followers, by (group, follower).
    snapshots_out: HashMap<(u64, u64), snapshots::Outgoing>,
    /// Snapshot transfers from leaders, by group.
    snapshots_in: HashMap<u64, snapshots::Incoming>,
    /// Ended transfers to report to raft at the next pass: group, follower, success.
    snapshot_reports: Vec<(u64, u64, bool)>,
    next_snapshot_id: u64,
    /// Groups whose accepted snapshot is being installed by a task of its own, with the
    /// Ready that carried it (persisted and advanced once the install is durable). Such a
    /// group is not ticked, stepped or readied meanwhile; the shard's other groups go on.
    installing: HashMap<u64, raft::Ready>,
    /// Installs that ended, for the next pass.
    installed: Vec<(u64, Result<(), String>)>,
    /// Peer messages for installing groups, stepped after their install.
    held: Vec<(u64, Message)>,
    /// Snapshots streamed to followers, and installed here, since start.
    snapshots_sent: u64,
    snapshots_installed: u64,
    /// Readies handed back to raft (`advance_append_async`) whose records are not yet known
    /// to be durable, in WAL order: their persisted messages wait here, and raft hears
    /// `on_persist_ready` when they are.
    unpersisted: VecDeque<Unpersisted>,
    /// The newest WAL ticket a task is waiting on.
    watching: u64,
    /// A flush failed: the shard's storage is fail-stopped.
    flush_failed: Option<StorageError>,
    /// Groups reading entries back from the WAL for raft, with the reads raft waits on.
    fetching: HashMap<u64, Vec<GetEntriesContext>>,
    /// Reads back that ended, for the next pass.
    fetched: Vec<(u64, Result<Vec<Entry>, String>)>,
}

/// A Ready of one group whose records wait for the WAL.
struct Unpersisted {
    /// Durable once this WAL batch is (the newest at the time: a follower's acknowledgement
    /// may cover entries of an earlier Ready).
    ticket: u64,
    group: u64,
    /// The Ready's number, for `on_persist_ready`.
    number: u64,
    /// Votes and acknowledgements, sent only once durable (pitfall 18).
    messages: Vec<Message>,
    /// The index of the snapshot the Ready installed: applied once durable (raft-rs
    /// refuses an applied index past what is persisted).
    snapshot: Option<u64>,
}

/// What a shard's driver reports about its groups (see [`RaftDriver::report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverReport {
    /// Groups hosted.
    pub groups: usize,
    /// Groups this replica leads.
    pub leading: Vec<u64>,
    /// Groups hibernating.
    pub hibernating: usize,
    /// Snapshots streamed to followers since start.
    pub snapshots_sent: u64,
    /// Snapshots installed since start.
    pub snapshots_installed: u64,
}

struct Inner<D: Disk, M: StateMachine> {
    config: DriverConfig,
    /// When this process may start voting (an election timeout after it started).
    votes_from: Instant,
    shard: u16,
    transport: Option<Rc<Transport>>,
    unknown_group: RefCell<Option<UnknownGroupHook>>,
    engine: Engine<D>,
    machine: M,
    logger: slog::Logger,
    state: RefCell<State<M::Output>>,
}

/// Handle to a shard's raft driver. Cloning gives another handle.
pub struct RaftDriver<D: Disk, M: StateMachine> {
    inner: Rc<Inner<D, M>>,
}

impl<D: Disk, M: StateMachine> Clone for RaftDriver<D, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Disk, M: StateMachine> RaftDriver<D, M> {
    /// A driver over `engine` applying through `machine`; call [`RaftDriver::run`] in a task
    /// (and [`RaftDriver::receive`] in another when there is a transport to peers).
    pub fn new(
        config: DriverConfig,
        engine: Engine<D>,
        machine: M,
        shard: u16,
        transport: Option<Rc<Transport>>,
    ) -> Self {
        Self {
            inner: Rc::new(Inner {
                config,
                votes_from: Instant::now() + config.tick * config.election_ticks as u32,
                shard,
                transport,
                unknown_group: RefCell::new(None),
                engine,
                machine,
                logger: raft_logger(config.replica_id, shard),
                state: RefCell::new(State {
                    groups: BTreeMap::new(),
                    proposals: VecDeque::new(),
                    inbox: Vec::new(),
                    unreachable: Vec::new(),
                    reads_queued: Vec::new(),
                    reads_in_flight: HashMap::new(),
                    reads_confirmed: Vec::new(),
                    next_read_ctx: 1,
                    transferring: false,
                    waker: None,
                    space_waiters: Vec::new(),
                    closing: false,
                    failed: None,
                    compacted_at_checkpoint: 0,
                    snapshots_out: HashMap::new(),
                    snapshots_in: HashMap::new(),
                    snapshot_reports: Vec::new(),
                    next_snapshot_id: snapshots::first_transfer_id(),
                    installing: HashMap::new(),
                    installed: Vec::new(),
                    held: Vec::new(),
                    snapshots_sent: 0,
                    snapshots_installed: 0,
                    unpersisted: VecDeque::new(),
                    watching: 0,
                    flush_failed: None,
                    fetching: HashMap::new(),
                    fetched: Vec::new(),
                }),
            }),
        }
    }

    /// The state machine.
    pub fn machine(&self) -> &M {
        &self.inner.machine
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<D> {
        &self.inner.engine
    }

    /// Whether the shard hosts `group`.
    pub fn has_group(&self, group: u64) -> bool {
        self.inner.state.borrow().groups.contains_key(&group)
    }

    /// Whether this replica of `group` may serve an eventually consistent read from its
    /// own state: it hosts the group and is not replacing its state with a snapshot.
    pub fn serves_local_reads(&self, group: u64) -> bool {
        let st = self.inner.state.borrow();
        st.groups.contains_key(&group)
            && st.snapshots_in.get(&group).is_none_or(|i| !i.installing())
    }

    /// Counts of the hosted groups, their leaders and hibernation, and snapshots.
    pub fn report(&self) -> DriverReport {
        let st = self.inner.state.borrow();
        DriverReport {
            groups: st.groups.len(),
            leading: st
                .groups
                .iter()
                .filter(|(_, g)| g.raw.raft.state == StateRole::Leader)
                .map(|(id, _)| *id)
                .collect(),
            hibernating: st.groups.values().filter(|g| g.hibernating).count(),
            snapshots_sent: st.snapshots_sent,
            snapshots_installed: st.snapshots_installed,
        }
    }

    /// The transport's counters, if the shard has peers.
    pub fn transport_stats(&self) -> Option<super::transport::TransportStats> {
        self.inner.transport.as_ref().map(|t| t.stats())
    }

    /// Ids of the hosted groups.
    pub fn groups(&self) -> Vec<u64> {
        self.inner.state.borrow().groups.keys().copied().collect()
    }

    /// Opens `group` with `voters` (its log rebuilt from the WAL) if it is not open yet. A
    /// single-voter group campaigns at once.
    pub async fn open_group(&self, group: u64, voters: Vec<u64>) -> Result<(), StorageError> {
        if self.has_group(group) {
            return Ok(());
        }
        let mut log = GroupLog::rebuild(self.inner.engine.wal(), group, voters.clone()).await?;
        self.restart_after_snapshot(group, &mut log).await?;
        let applied = self.inner.engine.applied(group);
        log.commit_at_least(applied);
        log.evict(applied, applied, self.inner.config.log_cache_bytes);
        if self.has_group(group) {
            return Ok(());
        }
        let c = &self.inner.config;
        let config = Config {
            id: c.replica_id,
            election_tick: c.election_ticks,
            heartbeat_tick: c.heartbeat_ticks,
            applied,
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            ..Config::default()
        };
        config
            .validate()
            .map_err(|e| StorageError::Invalid(format!("raft config of group {group}: {e}")))?;
        let logger = self.inner.logger.new(slog::o!("group" => group));
        let mut raw = RawNode::new(&config, log, &logger)
            .map_err(|e| StorageError::Invalid(format!("open raft group {group}: {e}")))?;
        // A lone voter campaigns at once; a new group's first voter too, so a fresh table
        // gets a leader without waiting for an election timeout.
        let fresh = raw.raft.raft_log.last_index() == 0 && raw.raft.term == 0;
        if voters == [c.replica_id] || (fresh && voters.first() == Some(&c.replica_id)) {
            raw.campaign()
                .map_err(|e| StorageError::Invalid(format!("campaign in group {group}: {e}")))?;
        }
        let mut st = self.inner.state.borrow_mut();
        st.groups.insert(
            group,
            Group {
                raw,
                voters: voters.len(),
                lease: None,
                lease_used: false,
                no_lease_before: None,
                waiting: BTreeMap::new(),
                term_applied: false,
                state_unsaved: false,
                hibernating: false,
                idle_ticks: 0,
                progress_mark: (0, 0),
            },
        );
        wake(&mut st);
        Ok(())
    }

    /// Whether this replica leads `group` and has applied an entry of its term, so reads
    /// here see every acknowledged write. Returns the leader hint otherwise.
    pub fn read_ready(&self, group: u64) -> Result<(), ProposeError> {
        let mut st = self.inner.state.borrow_mut();
        let g = st
            .groups
            .get_mut(&group)
            .ok_or(ProposeError::NoGroup(group))?;
        if g.raw.raft.state == StateRole::Leader && g.term_applied {
            return Ok(());
        }
        if g.hibernating {
            // A client asks this replica: its leader may be gone. Tick again, so an election
            // follows if nobody leads.
            g.wake();
            wake(&mut st);
            let g = &st.groups[&group];
            return Err(ProposeError::NotLeader {
                group,
                leader: Some(g.raw.raft.leader_id).filter(|&l| l != 0),
            });
        }
        Err(ProposeError::NotLeader {
            group,
            leader: Some(g.raw.raft.leader_id).filter(|&l| l != 0),
        })
    }

    /// Waits until a strongly consistent read of `group` may be served here: this replica
    /// leads and has applied an entry of its term (see [`RaftDriver::read_ready`]), a quorum
    /// confirmed that leadership after the read arrived (raft's ReadIndex: a deposed leader
    /// that has not heard of its successor yet cannot pass), and it has applied up to the
    /// commit index of that moment. A lone voter needs no round.
    pub async fn read_barrier(&self, group: u64) -> Result<(), ProposeError> {
        self.read_ready(group)?;
        let rx = {
            let mut st = self.inner.state.borrow_mut();
            if let Some(g) = st.groups.get_mut(&group) {
                if g.voters <= 1 {
                    return Ok(());
                }
                let raft = &g.raw.raft;
                let leased = g
                    .lease
                    .is_some_and(|(term, until)| term == raft.term && Instant::now() < until);
                if leased && raft.lead_transferee.is_none() {
                    g.lease_used = true;
                    return Ok(());
                }
            }
            let (tx, rx) = oneshot::channel();
            st.reads_queued.push((group, tx, false));
            wake(&mut st);
            rx
        };
        rx.await.unwrap_or(Err(ProposeError::Dropped(group)))
    }

    /// Waits until this replica of `group`, leader or follower, has applied everything the
    /// group had committed when the call was made (a follower asks the leader for its commit
    /// index: raft's ReadIndex). After it, reads of this replica's state see every write
    /// acknowledged before the call. Fails if no leader is known.
    pub async fn catch_up(&self, group: u64) -> Result<(), ProposeError> {
        let rx = {
            let mut st = self.inner.state.borrow_mut();
            let g = st.groups.get(&group).ok_or(ProposeError::NoGroup(group))?;
            if g.raw.raft.state == StateRole::Leader {
                // A leader answers writes only once applied, and has applied everything an
                // earlier leader acknowledged once it applied an entry of its own term.
                return match g.term_applied {
                    true => Ok(()),
                    false => Err(ProposeError::NotLeader {
                        group,
                        leader: None,
                    }),
                };
            }
            if g.raw.raft.leader_id == 0 {
                return Err(ProposeError::NotLeader {
                    group,
                    leader: None,
                });
            }
            let (tx, rx) = oneshot::channel();
            st.reads_queued.push((group, tx, true));
            wake(&mut st);
            rx
        };
        rx.await.unwrap_or(Err(ProposeError::Dropped(group)))
    }

    /// The raft id of `group`'s leader, if known.
    pub fn leader_of(&self, group: u64) -> Option<u64> {
        let st = self.inner.state.borrow();
        let g = st.groups.get(&group)?;
        Some(g.raw.raft.leader_id).filter(|&l| l != 0)
    }

    /// Proposes `data` to `group` and waits until it is committed and applied.
    pub async fn propose(&self, group: u64, data: Vec<u8>) -> Result<M::Output, ProposeError> {
        self.propose_prepared(group, data, None).await
    }

    /// Proposes `data` to `group`, handing `prepared` to this replica's state machine when
    /// it applies the entry (see [`StateMachine::apply`]), and waits until it is committed
    /// and applied.
    pub async fn propose_prepared(
        &self,
        group: u64,
        data: Vec<u8>,
        prepared: Option<Prepared>,
    ) -> Result<M::Output, ProposeError> {
        poll_fn(|cx| {
            let mut st = self.inner.state.borrow_mut();
            if st.proposals.len() < PROPOSALS_QUEUED_MAX || st.closing || st.failed.is_some() {
                Poll::Ready(())
            } else {
                st.space_waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let rx = {
            let mut st = self.inner.state.borrow_mut();
            if let Some(reason) = &st.failed {
                return Err(ProposeError::Storage(reason.clone()));
            }
            if st.closing {
                return Err(ProposeError::Storage("shard is shutting down".into()));
            }
            if !st.groups.contains_key(&group) {
                return Err(ProposeError::NoGroup(group));
            }
            let (tx, rx) = oneshot::channel();
            st.proposals.push_back(Proposal {
                group,
                data,
                prepared,
                reply: tx,
            });
            wake(&mut st);
            rx
        };
        rx.await.unwrap_or(Err(ProposeError::Dropped(group)))
    }

    /// Before a planned stop: hands the leadership of every group this replica leads (with
    /// peers) to its most caught-up follower, and waits until none is led here or `limit`
    /// passes. Clients then follow `NotLeader` hints instead of waiting out an election.
    /// Returns how many groups are still led here.
    pub async fn transfer_leaderships(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        {
            let mut st = self.inner.state.borrow_mut();
            st.transferring = true;
            wake(&mut st);
        }
        loop {
            let leading = self
                .inner
                .state
                .borrow()
                .groups
                .values()
                .filter(|g| g.voters > 1 && g.raw.raft.state == StateRole::Leader)
                .count();
            if leading == 0 || Instant::now() >= deadline {
                return leading;
            }
            crate::rt::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An operator's placement command: asks `group`'s raft, if this replica leads it, to
    /// hand the leadership to replica `to`, and waits until raft here names `to` the
    /// leader. Returns whether the leadership moved (false if raft named `to` already).
    ///
    /// While a transfer is pending raft refuses proposals, so it is asked at most twice
    /// (raft gives up on one after an election timeout, when the transferee has not caught
    /// up by then), and only while the transferee is in contact with this leader; a
    /// transferee out of contact is an error at once. Waits at most `limit` in all.
    pub async fn transfer_leader(
        &self,
        group: u64,
        to: u64,
        limit: Duration,
    ) -> Result<bool, TransferError> {
        const ASKS_MAX: usize = 2;
        let deadline = Instant::now() + limit;
        let span = self.lease_span();
        let mut first_leader = None;
        let mut asks = 0;
        loop {
            {
                let mut st = self.inner.state.borrow_mut();
                let g = st
                    .groups
                    .get_mut(&group)
                    .ok_or(TransferError::NoGroup(group))?;
                let raft = &g.raw.raft;
                let leader = *first_leader.get_or_insert(raft.leader_id);
                if raft.leader_id == to {
                    return Ok(leader != to);
                }
                let Some(progress) = raft.prs().get(to) else {
                    return Err(TransferError::NotAReplica { group, to });
                };
                if raft.state != StateRole::Leader {
                    // Mid-transfer the old leader steps down before it hears from the new
                    // one; during an election nobody is known.
                    if raft.leader_id != 0 || Instant::now() >= deadline {
                        return Err(TransferError::NotLeader {
                            group,
                            leader: Some(raft.leader_id).filter(|&l| l != 0),
                        });
                    }
                } else if raft.lead_transferee.is_none() {
                    if !progress.recent_active {
                        return Err(TransferError::OutOfContact { group, to });
                    }
                    if asks == ASKS_MAX {
                        return Err(TransferError::TimedOut { group, to, limit });
                    }
                    asks += 1;
                    ask_transfer(g, to, span);
                    wake(&mut st);
                }
            }
            if Instant::now() >= deadline {
                return Err(TransferError::TimedOut { group, to, limit });
            }
            crate::rt::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the loop after the current pass; pending proposals fail.
    pub fn close(&self) {
        let mut st = self.inner.state.borrow_mut();
        st.closing = true;
        wake(&mut st);
    }

    /// The loop: runs until [`RaftDriver::close`] or a storage failure.
    pub async fn run(&self) {
        let mut next_tick = Instant::now() + self.inner.config.tick;
        loop {
            self.wait_for_work(next_tick).await;
            if self.inner.state.borrow().closing {
                break;
            }
            let now = Instant::now();
            let tick = now >= next_tick;
            if tick {
                next_tick = now + self.inner.config.tick;
            }
            if let Err(e) = self.pass(tick).await {
                tracing::error!(error = %e, "raft driver stopped: storage failed");
                self.inner.state.borrow_mut().failed = Some(e.to_string());
                break;
            }
        }
        self.fail_all_waiting();
    }

    async fn wait_for_work(&self, next_tick: Instant) {
        let wal = self.inner.engine.wal();
        let pending = poll_fn(|cx| {
            let mut st = self.inner.state.borrow_mut();
            let durable = wal.durable_seq();
            let ready = st.closing
                || st.flush_failed.is_some()
                || st.unpersisted.front().is_some_and(|u| u.ticket <= durable)
                || !st.proposals.is_empty()
                || !st.reads_queued.is_empty()
                || !st.inbox.is_empty()
                || !st.unreachable.is_empty()
                || !st.snapshot_reports.is_empty()
                || !st.installed.is_empty()
                || st.snapshots_in.values().any(|s| s.ready_to_step())
                || st
                    .groups
                    .iter()
                    .any(|(id, g)| !st.installing.contains_key(id) && g.raw.has_ready());
            if ready {
                Poll::Ready(())
            } else {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let delay = next_tick.saturating_duration_since(Instant::now());
        futures::future::select(Box::pin(pending), Box::pin(crate::rt::sleep(delay))).await;
    }

    /// One pass: tell raft what became durable (and send the messages that waited for it),
    /// step, propose, tick, append every Ready to the WAL and hand it back to raft at once,
    /// then apply what is committed. The pass never waits for a flush.
    async fn pass(&self, tick: bool) -> Result<(), StorageError> {
        if let Some(e) = self.inner.state.borrow_mut().flush_failed.take() {
            return Err(e);
        }
        self.persisted();
        let (committed, snapshots, stepped, restored) = self.collect_readies(tick)?;
        if restored {
            // A group just restarted its log after a snapshot; until that is durable and
            // applied, raft's applied index lies below its log (a campaign would fail to
            // read the gap), so the loop waits for this one flush (a rare event).
            let wal = self.inner.engine.wal();
            wal.wait_durable(wal.last_ticket()).await?;
        }
        // A snapshot raft accepted replaces the group's state in a task of its own; the
        // group's Ready waits for it (see `State::installing`), the other groups go on.
        for (group, rd) in snapshots {
            let snap = rd.snapshot().clone();
            self.inner.state.borrow_mut().installing.insert(group, rd);
            let driver = self.clone();
            crate::rt::spawn_detached(async move {
                let result = driver.install_snapshot(group, &snap).await;
                let mut st = driver.inner.state.borrow_mut();
                st.installed
                    .push((group, result.map_err(|e| e.to_string())));
                wake(&mut st);
            });
        }
        self.forget_stepped(&stepped);
        // Readies with nothing new to persist may answer at once.
        self.persisted();
        self.watch_durable();
        // What a Ready hands over as committed is durable here and on a quorum already
        // (raft-rs returns committed entries only up to what this replica persisted).
        self.apply_groups(&committed).await?;
        {
            let mut st = self.inner.state.borrow_mut();
            let budget = self.inner.config.log_cache_bytes;
            for (group, _) in &committed {
                if let Some(g) = st.groups.get_mut(group) {
                    g.raw.advance_apply();
                    evict_applied(&mut g.raw, budget);
                }
            }
        }
        answer_reads(&mut self.inner.state.borrow_mut());
        self.compact_after_checkpoint()?;
        self.start_fetches();
        Ok(())
    }

    /// Tells raft which Readies are durable now and sends the messages that waited for
    /// them.
    fn persisted(&self) {
        let durable = self.inner.engine.wal().durable_seq();
        let mut outbox = Vec::new();
        {
            let mut st = self.inner.state.borrow_mut();
            let st = &mut *st;
            while st.unpersisted.front().is_some_and(|u| u.ticket <= durable) {
                let u = st.unpersisted.pop_front().expect("checked above");
                // An installing group holds a Ready raft has not had back: it hears about
                // its earlier ones with that Ready's (`on_persist_ready` covers all before).
                if !st.installing.contains_key(&u.group)
                    && let Some(g) = st.groups.get_mut(&u.group)
                {
                    g.raw.on_persist_ready(u.number);
                    if let Some(index) = u.snapshot {
                        g.raw.advance_apply_to(index);
                    }
                }
                outbox.extend(u.messages.into_iter().map(|m| (u.group, m)));
            }
        }
        self.send(outbox);
    }

    /// Makes sure a task waits for everything appended so far to become durable, and wakes
    /// the loop when it is.
    fn watch_durable(&self) {
        let wal = self.inner.engine.wal();
        let target = wal.last_ticket();
        {
            let mut st = self.inner.state.borrow_mut();
            if target <= wal.durable_seq() || target <= st.watching {
                return;
            }
            st.watching = target;
        }
        let driver = self.clone();
        crate::rt::spawn_detached(async move {
            let result = driver.inner.engine.wal().wait_durable(target).await;
            let mut st = driver.inner.state.borrow_mut();
            if let Err(e) = result
                && st.flush_failed.is_none()
            {
                st.flush_failed = Some(e);
            }
            wake(&mut st);
        });
    }

    /// Hands proposals to groups, ticks, takes every Ready, appends what it must persist to
    /// the WAL and hands it back to raft (`advance_append_async`; its persisted messages
    /// wait in `State::unpersisted`). Returns each group's committed entries, the Readies
    /// carrying snapshots, the groups whose staged snapshot was stepped, and whether an
    /// installed snapshot's Ready was handed back.
    #[allow(clippy::type_complexity)]
    fn collect_readies(
        &self,
        tick: bool,
    ) -> Result<
        (
            Vec<(u64, Vec<Entry>)>,
            Vec<(u64, raft::Ready)>,
            Vec<u64>,
            bool,
        ),
        StorageError,
    > {
        let mut guard = self.inner.state.borrow_mut();
        let st = &mut *guard;
        let wal = self.inner.engine.wal();
        step_inbox(st, self.inner.votes_from);
        hand_over_fetched(st);
        let stepped = snapshots::step_snapshots(st);
        let mut wrote = false;
        let mut committed = Vec::new();
        let mut outbox = Vec::new();
        let lease_span = self.lease_span();
        // Installs that finished: the log now restarts after the snapshot, then the rest
        // of the Ready that carried it is persisted and advanced like any other.
        let installed = std::mem::take(&mut st.installed);
        for (group, result) in &installed {
            let group = *group;
            let result = result.as_ref().map_err(|e| e.clone());
            result.map_err(|e| StorageError::Invalid(format!("snapshot install: {e}")))?;
            let rd = st.installing.remove(&group).expect("an installing group");
            let g = st.groups.get_mut(&group).expect("group of a ready");
            let meta = rd.snapshot().get_metadata();
            let (index, term) = (meta.index, meta.term);
            g.raw
                .mut_store()
                .install_snapshot(index, term, meta.get_conf_state().clone());
            wal.truncate_prefix(group, index, term)?;
            answer_up_to(&mut g.waiting, index, ProposeError::Unknown(group));
            hand_back(
                group,
                g,
                rd,
                &mut st.reads_in_flight,
                &mut st.reads_confirmed,
                lease_span,
                wal,
                &mut outbox,
                &mut st.unpersisted,
                &mut committed,
            )?;
            wrote = true;
            st.snapshots_in.remove(&group);
            st.snapshots_installed += 1;
            let (held, other): (Vec<_>, Vec<_>) = std::mem::take(&mut st.held)
                .into_iter()
                .partition(|(g, _)| *g == group);
            st.held = other;
            // Stepped at the next pass, after this Ready's advance.
            st.inbox.extend(held);
        }
        if tick {
            renew_leases(st, lease_span);
        }
        start_read_rounds(st);
        if st.transferring {
            start_transfers(st, self.inner.config.replica_id, lease_span);
        }
        while let Some(p) = st.proposals.pop_front() {
            let Some(g) = st.groups.get_mut(&p.group) else {
                let _ = p.reply.send(Err(ProposeError::NoGroup(p.group)));
                continue;
            };
            g.wake();
            if g.raw.raft.state != StateRole::Leader {
                let leader = Some(g.raw.raft.leader_id).filter(|&l| l != 0);
                let _ = p.reply.send(Err(ProposeError::NotLeader {
                    group: p.group,
                    leader,
                }));
                continue;
            }
            match g.raw.propose(Vec::new(), p.data) {
                Ok(()) => {
                    let index = g.raw.raft.raft_log.last_index();
                    let waiter = Waiter {
                        term: g.raw.raft.term,
                        prepared: p.prepared,
                        reply: p.reply,
                    };
                    g.waiting.insert(index, waiter);
                }
                Err(_) => {
                    let _ = p.reply.send(Err(ProposeError::Dropped(p.group)));
                }
            }
        }
        for w in st.space_waiters.drain(..) {
            w.wake();
        }
        let mut snapshots = Vec::new();
        let mut hibernated = Vec::new();
        for (&group, g) in st.groups.iter_mut() {
            // An installing group waits for its install; one whose install just ended has
            // its Ready in this pass already (raft allows one Ready until its advance).
            if st.installing.contains_key(&group) || installed.iter().any(|(i, _)| *i == group) {
                continue;
            }
            if tick && !g.hibernating {
                g.raw.tick();
                let in_rounds = st.reads_in_flight.values().any(|r| r.group == group);
                if hibernation_due(g, in_rounds, self.inner.config.election_ticks) {
                    g.hibernating = true;
                    let followers = g.raw.raft.prs().iter().map(|(id, _)| *id);
                    let me = self.inner.config.replica_id;
                    let term = g.raw.raft.term;
                    hibernated.extend(followers.filter(|&id| id != me).map(|id| (group, term, id)));
                }
            }
            if !g.raw.has_ready() {
                continue;
            }
            let rd = g.raw.ready();
            if !rd.snapshot().is_empty() {
                snapshots.push((group, rd));
                continue;
            }
            wrote |= hand_back(
                group,
                g,
                rd,
                &mut st.reads_in_flight,
                &mut st.reads_confirmed,
                lease_span,
                wal,
                &mut outbox,
                &mut st.unpersisted,
                &mut committed,
            )?;
        }
        if wrote || tick {
            // Lazily saved commit indexes join this flush; nothing waits for them.
            for (&group, g) in st.groups.iter_mut().filter(|(_, g)| g.state_unsaved) {
                g.state_unsaved = false;
                let hs = g.raw.store().hard_state();
                let state = encode_state(hs, g.raw.store().conf_state());
                wal.append_now(&Record {
                    kind: RecordKind::State,
                    stream: group,
                    term: hs.term,
                    index: hs.commit,
                    payload: &state,
                })?;
            }
        }
        drop(guard);
        self.send(outbox);
        self.tell_hibernating(hibernated);
        Ok((committed, snapshots, stepped, !installed.is_empty()))
    }

    /// Applies each group's committed entries in order: a replicated group's all at once, a
    /// single replica's [`APPLY_CHUNK`] at a time, letting the shard's other tasks run
    /// between chunks.
    async fn apply_groups(&self, batches: &[(u64, Vec<Entry>)]) -> Result<(), StorageError> {
        let mut first = true;
        for (group, entries) in batches {
            let replicated = self
                .inner
                .state
                .borrow()
                .groups
                .get(group)
                .is_some_and(|g| g.voters > 1);
            let chunk_len = if replicated {
                entries.len().max(1)
            } else {
                APPLY_CHUNK
            };
            for chunk in entries.chunks(chunk_len) {
                if !first {
                    glommio::executor().yield_now().await;
                }
                first = false;
                self.apply_entries(*group, chunk).await?;
            }
        }
        Ok(())
    }

    /// Applies committed entries of one group in order and answers their proposers.
    async fn apply_entries(&self, group: u64, entries: &[Entry]) -> Result<(), StorageError> {
        for e in entries {
            let mut waiter = self
                .inner
                .state
                .borrow_mut()
                .groups
                .get_mut(&group)
                .and_then(|g| take_waiter(&mut g.waiting, e.index, e.term));
            let applied = if e.data.is_empty() {
                // A leader's no-op (or a membership entry): only the position moves.
                self.inner
                    .engine
                    .apply_committed(group, e.index, Vec::new())
                    .await
                    .map(|()| None)
            } else {
                let prepared = waiter.as_mut().and_then(|w| w.prepared.take());
                let machine = &self.inner.machine;
                machine
                    .apply(group, e.index, &e.data, prepared)
                    .await
                    .map(Some)
            };
            let output = match applied {
                Ok(output) => output,
                Err(error) => {
                    if let Some(w) = waiter {
                        let _ = w.reply.send(Err(ProposeError::Storage(error.to_string())));
                    }
                    return Err(error);
                }
            };
            let mut st = self.inner.state.borrow_mut();
            let Some(g) = st.groups.get_mut(&group) else {
                continue;
            };
            if e.term == g.raw.raft.term {
                g.term_applied = true;
            }
            if let (Some(w), Some(out)) = (waiter, output) {
                let _ = w.reply.send(Ok(out));
            }
        }
        if let Some(last) = entries.last()
            && let Some(g) = self.inner.state.borrow_mut().groups.get_mut(&group)
        {
            answer_up_to(&mut g.waiting, last.index, ProposeError::Dropped(group));
        }
        Ok(())
    }

    /// After a checkpoint made entries redundant, drop them from memory and the WAL.
    /// Reads back from the WAL the entries raft asked for below the groups' caches (one
    /// read per group at a time; later asks wait for it and are told when it ends).
    fn start_fetches(&self) {
        let mut reads = Vec::new();
        {
            let mut st = self.inner.state.borrow_mut();
            let st = &mut *st;
            for (&group, g) in &st.groups {
                if !g.raw.store().has_wanted() {
                    continue;
                }
                let wanted = g.raw.store().take_wanted();
                let range = (wanted[0].low, wanted[0].high);
                let contexts = wanted.into_iter().map(|f| f.context);
                match st.fetching.entry(group) {
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        o.get_mut().extend(contexts);
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(contexts.collect());
                        reads.push((group, range));
                    }
                }
            }
        }
        for (group, (low, high)) in reads {
            let driver = self.clone();
            crate::rt::spawn_detached(async move {
                let wal = driver.inner.engine.wal();
                let result = match wal.read(group, low, high, LOG_FETCH_BYTES).await {
                    Ok(records) => records
                        .iter()
                        .map(|r| decode_entry(r.index, r.term, &r.payload))
                        .collect::<Result<Vec<_>, _>>(),
                    Err(e) => Err(e.to_string()),
                };
                match &result {
                    Ok(entries) => tracing::info!(
                        group,
                        from = low,
                        entries = entries.len(),
                        "log entries read back from the WAL for a follower"
                    ),
                    Err(e) => tracing::warn!(group, from = low, error = %e, "log read-back failed"),
                }
                let mut st = driver.inner.state.borrow_mut();
                st.fetched.push((group, result));
                wake(&mut st);
            });
        }
    }

    fn compact_after_checkpoint(&self) -> Result<(), StorageError> {
        let done = self.inner.engine.checkpoints_done();
        if done == self.inner.state.borrow().compacted_at_checkpoint {
            return Ok(());
        }
        let applied = self.inner.engine.checkpointed_applied();
        let mut st = self.inner.state.borrow_mut();
        st.compacted_at_checkpoint = done;
        let st = &mut *st;
        for (group, index) in applied {
            if st.installing.contains_key(&group) {
                continue;
            }
            let Some(g) = st.groups.get_mut(&group) else {
                continue;
            };
            let kept = self.inner.config.log_kept_for_followers;
            let mut index = compaction_point(slowest_follower(&g.raw), index, kept);
            // A transfer in flight needs the entries after its snapshot.
            for out in st
                .snapshots_out
                .iter()
                .filter(|((grp, _), out)| *grp == group && out.index > 0)
                .map(|(_, out)| out)
            {
                index = index.min(out.index);
            }
            if let Some(term) = g.raw.mut_store().compact(index) {
                self.inner
                    .engine
                    .wal()
                    .truncate_prefix(group, index, term)?;
            }
        }
        Ok(())
    }

    /// How long a confirmed leadership stays a lease: the election timeout followers wait
    /// before voting for anyone else (with check-quorum), less one tick (their elapsed time
    /// counts whole ticks) and a tenth for clock drift.
    fn lease_span(&self) -> Duration {
        let c = &self.inner.config;
        c.tick * (c.election_ticks.saturating_sub(1) as u32) * 9 / 10
    }

    /// Sends raft messages to their peers: one transport message per destination and lane.
    fn send(&self, mut outbox: Vec<(u64, Message)>) {
        if outbox.is_empty() {
            return;
        }
        if outbox
            .iter()
            .any(|(_, m)| m.get_msg_type() == MessageType::MsgSnapshot)
        {
            // A snapshot is streamed on its own lane by a task of its own.
            let (snaps, rest): (Vec<_>, Vec<_>) = outbox
                .into_iter()
                .partition(|(_, m)| m.get_msg_type() == MessageType::MsgSnapshot);
            for (group, msg) in snaps {
                self.start_snapshot(group, msg);
            }
            outbox = rest;
        }
        let Some(transport) = &self.inner.transport else {
            tracing::warn!(
                count = outbox.len(),
                "raft messages for peers but no transport"
            );
            return;
        };
        let mut batches: BTreeMap<(u64, bool), Vec<(u64, Message)>> = BTreeMap::new();
        for (group, msg) in outbox {
            batches
                .entry((msg.to, is_control(msg.get_msg_type())))
                .or_default()
                .push((group, msg));
        }
        for ((to, control), batch) in batches {
            let lane = if control { Lane::Control } else { Lane::Raft };
            let addr = ShardAddr {
                node: to as u32,
                shard: self.inner.shard,
            };
            match transport.send(addr, lane, &encode_batch(&batch)) {
                Ok(()) => {}
                Err(SendError::Unreachable(_)) => self.report_unreachable(to),
                Err(e) => tracing::debug!(to, "raft messages dropped: {e}"),
            }
        }
    }

    /// Tells every group (at the next pass) that messages to `peer` were lost, so leaders
    /// probe it again.
    fn report_unreachable(&self, peer: u64) {
        let mut st = self.inner.state.borrow_mut();
        if !st.unreachable.contains(&peer) {
            st.unreachable.push(peer);
        }
        wake(&mut st);
    }

    /// Sets what is called with the id of a group a peer sent messages for that this shard
    /// has not opened (the shard may have to open it: a new partition it replicates).
    pub fn on_unknown_group(&self, f: impl Fn(u64) + 'static) {
        *self.inner.unknown_group.borrow_mut() = Some(Box::new(f));
    }

    /// Receives peers' raft messages and steps them into their groups; runs until the
    /// driver closes. Without a transport it returns at once.
    pub async fn receive(&self) {
        let Some(transport) = self.inner.transport.clone() else {
            return;
        };
        // Snapshot frames are handled by a task of their own: staging a chunk may wait for
        // a checkpoint (dirty-page throttling), and raft traffic must not wait behind it.
        let (mut snapshot_frames, frames) = futures::channel::mpsc::channel::<(
            ShardAddr,
            bytes::Bytes,
        )>(SNAPSHOT_FRAMES_QUEUED_MAX);
        let driver = self.clone();
        crate::rt::spawn_detached(async move {
            use futures::StreamExt;
            let mut frames = frames;
            while let Some((from, payload)) = frames.next().await {
                driver.on_snapshot_frame(from, &payload).await;
            }
        });
        loop {
            let event = transport.next_event().await;
            if self.inner.state.borrow().closing {
                return;
            }
            match event {
                TransportEvent::Message {
                    from,
                    lane: Lane::Snapshot,
                    payload,
                } => {
                    if snapshot_frames.try_send((from, payload)).is_err() {
                        // Senders keep at most a few chunks unacknowledged; one that floods
                        // loses frames and its transfer times out (raft retries it).
                        tracing::warn!(?from, "snapshot frame dropped: queue full");
                    }
                }
                TransportEvent::Message { from, payload, .. } => match decode_batch(&payload) {
                    Ok(batch) => self.step_all(batch).await,
                    Err(e) => tracing::warn!(?from, "bad raft batch: {e}"),
                },
                TransportEvent::Unreachable(addr) => self.report_unreachable(addr.node as u64),
            }
        }
    }

    /// Queues a peer's messages for the next pass; reports groups this shard has not
    /// opened. Waits while the queue is full (the transport then stops reading, and QUIC
    /// flow control slows the peer).
    async fn step_all(&self, batch: Vec<(u64, Message)>) {
        while self.inner.state.borrow().inbox.len() >= INBOX_MESSAGES_MAX {
            crate::rt::sleep(Duration::from_millis(1)).await;
        }
        let me = self.inner.config.replica_id;
        let mut unknown = Vec::new();
        {
            let mut st = self.inner.state.borrow_mut();
            for (group, msg) in batch {
                // A snapshot message is only valid as the end of a staged transfer.
                if msg.to != me || msg.get_msg_type() == MessageType::MsgSnapshot {
                    continue;
                }
                if !st.groups.contains_key(&group) {
                    unknown.push(group);
                    continue;
                }
                st.inbox.push((group, msg));
            }
            wake(&mut st);
        }
        unknown.dedup();
        if let Some(f) = &*self.inner.unknown_group.borrow() {
            for group in unknown {
                f(group);
            }
        }
    }

    fn fail_all_waiting(&self) {
        let mut st = self.inner.state.borrow_mut();
        let reason = st
            .failed
            .clone()
            .unwrap_or_else(|| "shard is shutting down".to_string());
        for p in st.proposals.drain(..) {
            let _ = p.reply.send(Err(ProposeError::Storage(reason.clone())));
        }
        for g in st.groups.values_mut() {
            for (_, w) in std::mem::take(&mut g.waiting) {
                let _ = w.reply.send(Err(ProposeError::Storage(reason.clone())));
            }
        }
    }
}

/// Persists one Ready (a snapshot's once installed) and hands it back to raft: confirms its
/// ReadIndex rounds, queues its messages (a leader's may leave before its own fsync, §3.1),
/// appends its entries and hard state to the WAL, calls `advance_append_async` and queues
/// its persisted messages in `unpersisted` until the WAL is durable up to what was appended.
/// Adds its committed entries to `committed`; says whether it wrote to the WAL.
#[allow(clippy::too_many_arguments)]
fn hand_back<D: Disk, O>(
    group: u64,
    g: &mut Group<O>,
    mut rd: raft::Ready,
    reads_in_flight: &mut HashMap<u64, ReadRound>,
    reads_confirmed: &mut Vec<(u64, u64, Vec<ReadWaiter>)>,
    lease_span: Duration,
    wal: &crate::storage::wal::Wal<D>,
    outbox: &mut Vec<(u64, Message)>,
    unpersisted: &mut VecDeque<Unpersisted>,
    committed: &mut Vec<(u64, Vec<Entry>)>,
) -> Result<bool, StorageError> {
    let mut wrote = false;
    let mut payload = Vec::new();
    for rs in rd.take_read_states() {
        let ctx = context_id(&rs.request_ctx).unwrap_or(0);
        if let Some(round) = reads_in_flight.remove(&ctx) {
            let transfer_in_doubt = g.no_lease_before.is_some_and(|t| round.started < t);
            if !round.follower && g.raw.raft.state == StateRole::Leader && !transfer_in_doubt {
                // A quorum answered a heartbeat sent after `started`: no election
                // can end before `started` + the lease span.
                let until = round.started + lease_span;
                let term = g.raw.raft.term;
                if g.lease.is_none_or(|(t, u)| t != term || u < until) {
                    g.lease = Some((term, until));
                }
            }
            reads_confirmed.push((round.group, rs.index, round.waiters));
        }
    }
    if let Some(ss) = rd.ss() {
        tracing::debug!(group, role = ?ss.raft_state, leader = ss.leader_id, "raft role");
    }
    // A leader's appends and heartbeats may leave before its own fsync (§3.1).
    outbox.extend(rd.take_messages().into_iter().map(|m| (group, m)));
    let entries = rd.take_committed_entries();
    if !entries.is_empty() {
        committed.push((group, entries));
    }
    let entries = rd.take_entries();
    for e in &entries {
        payload.clear();
        encode_entry(e, &mut payload);
        wal.append_now(&Record {
            kind: RecordKind::Entry,
            stream: group,
            term: e.term,
            index: e.index,
            payload: &payload,
        })?;
        wrote = true;
    }
    g.raw.mut_store().append(&entries);
    if let Some(hs) = rd.hs() {
        let before = g.raw.store().hard_state();
        let commit_only = (hs.term, hs.vote) == (before.term, before.vote);
        g.raw.mut_store().set_hard_state(hs.clone());
        if commit_only {
            // Only the commit index moved. Persisting it is not needed for safety (after a
            // crash `open_group` restores it from the applied index, which never passes
            // it), so it is written lazily: with the next records of any group, or at the
            // next tick, never as a flush of its own on the write path.
            g.state_unsaved = true;
        } else {
            g.state_unsaved = false;
            let state = encode_state(hs, g.raw.store().conf_state());
            wal.append_now(&Record {
                kind: RecordKind::State,
                stream: group,
                term: hs.term,
                index: hs.commit,
                payload: &state,
            })?;
            wrote = true;
        }
    }
    let messages = rd.take_persisted_messages();
    let number = rd.number();
    let snapshot = Some(rd.snapshot().get_metadata().index).filter(|_| !rd.snapshot().is_empty());
    g.raw.advance_append_async(rd);
    unpersisted.push_back(Unpersisted {
        ticket: wal.last_ticket(),
        group,
        number,
        messages,
        snapshot,
    });
    Ok(wrote)
}

/// Asks every led group with peers to transfer leadership to the follower that has
/// replicated the most (raft aborts a transfer that does not finish within an election
/// timeout; the next pass asks again).
fn start_transfers<O>(st: &mut State<O>, me: u64, span: Duration) {
    for g in st.groups.values_mut() {
        g.wake();
        let raft = &g.raw.raft;
        if g.voters <= 1 || raft.state != StateRole::Leader || raft.lead_transferee.is_some() {
            continue;
        }
        let best = raft
            .prs()
            .iter()
            .filter(|(id, _)| **id != me)
            .max_by_key(|(_, pr)| pr.matched)
            .map(|(id, _)| *id);
        if let Some(to) = best {
            ask_transfer(g, to, span);
        }
    }
}

/// Asks raft to hand `g`'s leadership to `to`, and ends the group's lease until `span` after
/// the transfer could still be under way: raft tells the transferee to campaign
/// (`MsgTimeoutNow`) once it holds the whole log, and that election wins whatever leases
/// the voters' last leader holds, even if raft here has given up on the transfer (after an
/// election timeout) by the time the message arrives. Reads meanwhile pay a ReadIndex round
/// each, which a new leader's election makes fail.
fn ask_transfer<O>(g: &mut Group<O>, to: u64, span: Duration) {
    g.wake();
    g.lease = None;
    g.no_lease_before = Some(Instant::now() + span * 3);
    g.raw.transfer_leader(to);
}

/// Keeps the leases of groups that serve reads alive: a led group whose lease was used and
/// is past half its span gets a ReadIndex round with no reader waiting (its answer renews
/// the lease). Idle groups let their lease lapse; their next read pays a round.
fn renew_leases<O>(st: &mut State<O>, span: Duration) {
    let now = Instant::now();
    let State {
        groups,
        next_read_ctx,
        reads_in_flight,
        ..
    } = st;
    for (&group, g) in groups.iter_mut() {
        let due = g.lease.is_none_or(|(_, until)| until < now + span / 2);
        if !g.lease_used || !due || g.voters <= 1 || g.raw.raft.state != StateRole::Leader {
            continue;
        }
        g.lease_used = false;
        g.wake();
        let ctx = *next_read_ctx;
        *next_read_ctx += 1;
        g.raw.read_index(ctx.to_le_bytes().to_vec());
        let round = ReadRound {
            group,
            waiters: Vec::new(),
            follower: false,
            started: now,
        };
        reads_in_flight.insert(ctx, round);
    }
}

/// Starts one ReadIndex round per group for the reads queued since the last pass; reads of
/// a group this replica no longer leads fail at once.
fn start_read_rounds<O>(st: &mut State<O>) {
    let mut by_group: BTreeMap<(u64, bool), Vec<ReadWaiter>> = BTreeMap::new();
    for (group, tx, anywhere) in st.reads_queued.drain(..) {
        by_group.entry((group, anywhere)).or_default().push(tx);
    }
    for ((group, anywhere), waiters) in by_group {
        if st.installing.contains_key(&group) {
            // A follower replacing its state: the reader goes to the leader.
            let leader = st.groups.get(&group).map(|g| g.raw.raft.leader_id);
            let leader = leader.filter(|&l| l != 0);
            for tx in waiters {
                let _ = tx.send(Err(ProposeError::NotLeader { group, leader }));
            }
            continue;
        }
        let Some(g) = st.groups.get_mut(&group) else {
            waiters
                .into_iter()
                .for_each(|tx| drop(tx.send(Err(ProposeError::NoGroup(group)))));
            continue;
        };
        let leads = g.raw.raft.state == StateRole::Leader;
        let leader = Some(g.raw.raft.leader_id).filter(|&l| l != 0);
        let may_ask = leads || (anywhere && leader.is_some());
        if !may_ask {
            for tx in waiters {
                let _ = tx.send(Err(ProposeError::NotLeader { group, leader }));
            }
            continue;
        }
        let ctx = st.next_read_ctx;
        st.next_read_ctx += 1;
        g.wake();
        g.raw.read_index(ctx.to_le_bytes().to_vec());
        let round = ReadRound {
            group,
            waiters,
            follower: !leads,
            started: Instant::now(),
        };
        st.reads_in_flight.insert(ctx, round);
    }
}

/// Answers `error` to every proposal still waiting at or below `index`. After entries up
/// to `index` were applied, those left had another entry applied at their index (a newer
/// leader overwrote a deposed leader's tail): `Dropped`, safe to retry. After a snapshot
/// up to `index` was installed, their entries may or may not be in it: `Unknown`. Without
/// this their requests would wait until some later entry, or forever.
fn answer_up_to<O>(waiting: &mut BTreeMap<u64, Waiter<O>>, index: u64, error: ProposeError) {
    let above = waiting.split_off(&(index + 1));
    for (_, w) in std::mem::replace(waiting, above) {
        let _ = w.reply.send(Err(error.clone()));
    }
}

/// The proposal waiting for the entry at (`index`, `term`), taken out; None when the entry
/// is not one this replica proposed (another leader's, or one that overwrote ours: the
/// waiter then stays, to be answered `Dropped` once its index is applied).
fn take_waiter<O>(
    waiting: &mut BTreeMap<u64, Waiter<O>>,
    index: u64,
    term: u64,
) -> Option<Waiter<O>> {
    match waiting.get(&index) {
        Some(w) if w.term == term => waiting.remove(&index),
        _ => None,
    }
}

/// Answers confirmed reads whose group has applied up to their read index; fails rounds of
/// groups that lost leadership (raft drops their pending ReadIndex requests).
fn answer_reads<O>(st: &mut State<O>) {
    let groups = &st.groups;
    st.reads_confirmed.retain_mut(|(group, index, waiters)| {
        let applied = groups.get(group).map(|g| g.raw.raft.raft_log.applied);
        match applied {
            Some(applied) if applied < *index => true,
            Some(_) => {
                waiters.drain(..).for_each(|tx| drop(tx.send(Ok(()))));
                false
            }
            None => false,
        }
    });
    st.reads_in_flight.retain(|_, round| {
        let Some(g) = groups.get(&round.group) else {
            return false;
        };
        let expired = round.started.elapsed() > READ_ROUND_EXPIRY;
        let lost = !round.follower && g.raw.raft.state != StateRole::Leader;
        if !expired && !lost {
            return true;
        }
        let leader = Some(g.raw.raft.leader_id).filter(|&l| l != 0);
        for tx in round.waiters.drain(..) {
            let _ = tx.send(Err(ProposeError::NotLeader {
                group: round.group,
                leader,
            }));
        }
        false
    });
}

/// Steps queued peer messages into their groups and reports unreachable peers.
/// Before `votes_from` a replica ignores vote requests: it may have promised a leader, in an
/// earlier life, not to vote before an election timeout (the lease), and a restart forgot it.
fn step_inbox<O>(st: &mut State<O>, votes_from: Instant) {
    for peer in st.unreachable.drain(..) {
        for (id, g) in st.groups.iter_mut() {
            if !st.installing.contains_key(id) {
                g.raw.report_unreachable(peer);
            }
            if g.raw.raft.leader_id == peer {
                // The leader may be gone: tick again, so an election follows.
                g.wake();
            }
        }
    }
    let deaf = Instant::now() < votes_from;
    for (group, msg) in st.inbox.drain(..) {
        if st.installing.contains_key(&group) {
            // Raft takes no message between a Ready and its advance; a few seconds of a
            // leader's heartbeats are all that can pile up here.
            if st.held.len() < INBOX_MESSAGES_MAX {
                st.held.push((group, msg));
            }
            continue;
        }
        let vote = matches!(
            msg.get_msg_type(),
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        );
        if deaf && vote {
            continue;
        }
        if let Some(g) = st.groups.get_mut(&group) {
            let in_flight = |ctx| st.reads_in_flight.contains_key(&ctx);
            if !(g.hibernating && idle_traffic(&g.raw.raft, &msg, in_flight)) {
                g.wake();
            }
            if let Err(e) = g.raw.step(msg) {
                tracing::debug!(group, "raft step: {e}");
            }
        }
    }
}

/// Whether `msg` is the heartbeat traffic of a group that is idle as it is: a heartbeat
/// from the leader this replica follows, or a heartbeat answer to this leader that is
/// plain or answers a read round no longer in flight (`in_flight` says which are), both
/// of the current term. It is stepped without waking a hibernating group: the leader's
/// last heartbeats travel on another lane than its hibernation notice and may be stepped
/// after it, and the answers to them arrive after the leader went to sleep; waking for
/// them kept a follower awake with nobody left to hear from, so it called an election
/// every few seconds and woke the whole group each time. A read round is confirmed by the
/// first answer that makes a quorum; the last replica's answer may come after the leader
/// went to sleep, and raft ignores an answer to a round it no longer tracks.
fn idle_traffic<T: raft::Storage>(
    raft: &raft::Raft<T>,
    msg: &Message,
    in_flight: impl Fn(u64) -> bool,
) -> bool {
    if msg.term != raft.term {
        return false;
    }
    match msg.get_msg_type() {
        MessageType::MsgHeartbeat => {
            raft.state == StateRole::Follower && msg.from == raft.leader_id
        }
        MessageType::MsgHeartbeatResponse => {
            raft.state == StateRole::Leader
                && !msg.reject
                && (msg.context.is_empty()
                    || context_id(&msg.context).is_some_and(|ctx| !in_flight(ctx)))
        }
        _ => false,
    }
}

/// Ticks an idle led group waits before hibernating, in election timeouts.
const HIBERNATE_AFTER_ELECTIONS: usize = 2;

/// Counts a tick of `g` and says whether it should hibernate now: it leads with peers, every
/// follower has the whole log, everything is committed and applied, nothing waits (no
/// proposal, read round or transfer), and nothing moved for a while.
fn hibernation_due<O>(g: &mut Group<O>, in_rounds: bool, election_ticks: usize) -> bool {
    let raft = &g.raw.raft;
    let last = raft.raft_log.last_index();
    let mark = (last, raft.raft_log.committed);
    if mark != g.progress_mark {
        g.progress_mark = mark;
        g.idle_ticks = 0;
        return false;
    }
    g.idle_ticks += 1;
    g.idle_ticks >= HIBERNATE_AFTER_ELECTIONS * election_ticks
        && raft.state == StateRole::Leader
        && g.voters > 1
        && !in_rounds
        && g.waiting.is_empty()
        && raft.lead_transferee.is_none()
        && raft.raft_log.committed == last
        && raft.raft_log.applied == last
        && raft.prs().iter().all(|(_, pr)| pr.matched == last)
        && !g.raw.has_ready()
}

fn wake<O>(st: &mut State<O>) {
    if let Some(w) = st.waker.take() {
        w.wake();
    }
}

/// How far a group's log may be compacted once `checkpointed` is durable in the tree: a
/// leader keeps what its followers have not replicated yet (up to `kept` entries; past it
/// the laggard gets a snapshot).
/// Lets a group's applied entries leave memory: a leader keeps those a follower has not
/// acknowledged, within `budget` bytes.
fn evict_applied(raw: &mut RawNode<GroupLog>, budget: u64) {
    let applied = raw.raft.raft_log.applied;
    let needed_after = slowest_follower(raw).unwrap_or(applied);
    raw.mut_store().evict(applied, needed_after, budget);
}

/// On a leader, the lowest index a replica of the group acknowledged; None elsewhere.
fn slowest_follower(raw: &RawNode<GroupLog>) -> Option<u64> {
    if raw.raft.state != StateRole::Leader {
        return None;
    }
    raw.raft.prs().iter().map(|(_, pr)| pr.matched).min()
}

/// Hands the entries read back from the WAL to their groups and tells raft, which sends
/// the appends that waited for them (or asks again for what is still missing).
fn hand_over_fetched<O>(st: &mut State<O>) {
    for (group, result) in std::mem::take(&mut st.fetched) {
        let contexts = st.fetching.remove(&group).unwrap_or_default();
        let Some(g) = st.groups.get_mut(&group) else {
            continue;
        };
        // A failed read leaves raft to ask again: a follower's next heartbeat response
        // sends the append once more.
        let Ok(entries) = result else { continue };
        g.raw.mut_store().set_fetched(entries);
        for context in contexts {
            g.raw.on_entries_fetched(context);
        }
    }
}

/// Where a replica compacts its log after a checkpoint that holds `checkpointed`: a leader
/// keeps what its slowest follower (`slowest`) still lacks, at most `kept` entries; any
/// other replica keeps the last `kept` entries, since it may lead next and then catch a
/// lagging follower up from its log (compacting everything, a follower that won an election
/// under load sent a returning node a snapshot where entries would do).
fn compaction_point(slowest: Option<u64>, checkpointed: u64, kept: u64) -> u64 {
    let floor = checkpointed.saturating_sub(kept);
    match slowest {
        Some(slowest) => checkpointed.min(slowest.max(floor)),
        None => floor,
    }
}

/// Whether a message travels on the control lane (ahead of bulk appends).
fn is_control(t: MessageType) -> bool {
    !matches!(
        t,
        MessageType::MsgAppend | MessageType::MsgAppendResponse | MessageType::MsgSnapshot
    )
}

/// The read round a ReadIndex context names.
fn context_id(context: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(context.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_keeps_what_followers_lack_within_the_budget_and_the_budget_off_leaders() {
        // A leader: the slowest follower's position, within `kept` of the checkpoint.
        assert_eq!(compaction_point(Some(90), 100, 50), 90);
        assert_eq!(compaction_point(Some(10), 100, 50), 50);
        assert_eq!(compaction_point(Some(120), 100, 50), 100);
        // Not a leader: the last `kept` entries stay, whoever lacks them.
        assert_eq!(compaction_point(None, 100, 50), 50);
        assert_eq!(compaction_point(None, 100, 500), 0);
    }

    /// A replica of three voters at term 1, as `role` (follower of 2, or leader).
    fn replica(leader: bool) -> raft::Raft<raft::storage::MemStorage> {
        let storage = raft::storage::MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let config = Config {
            id: 1,
            ..Config::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raft = raft::Raft::new(&config, storage, &logger).expect("raft");
        if leader {
            raft.become_candidate();
            raft.become_leader();
        } else {
            raft.become_follower(1, 2);
        }
        raft
    }

    fn message(kind: MessageType, from: u64, term: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(kind);
        m.from = from;
        m.to = 1;
        m.term = term;
        m
    }

    #[test]
    fn only_the_current_leaders_heartbeats_and_their_plain_answers_leave_a_group_asleep() {
        use MessageType::*;
        let idle_traffic = |raft: &raft::Raft<raft::storage::MemStorage>, msg: &Message| {
            super::idle_traffic(raft, msg, |ctx| ctx == 7)
        };
        let follower = replica(false);
        assert!(idle_traffic(&follower, &message(MsgHeartbeat, 2, 1)));
        assert!(
            !idle_traffic(&follower, &message(MsgHeartbeat, 3, 1)),
            "not its leader"
        );
        assert!(
            !idle_traffic(&follower, &message(MsgHeartbeat, 2, 2)),
            "a new term"
        );
        assert!(
            !idle_traffic(&follower, &message(MsgAppend, 2, 1)),
            "entries"
        );
        assert!(
            !idle_traffic(&follower, &message(MsgRequestPreVote, 3, 2)),
            "an election"
        );
        assert!(!idle_traffic(
            &follower,
            &message(MsgHeartbeatResponse, 2, 1)
        ));
        let leader = replica(true);
        assert!(idle_traffic(&leader, &message(MsgHeartbeatResponse, 2, 1)));
        let mut read_round = message(MsgHeartbeatResponse, 2, 1);
        read_round.context = 7u64.to_le_bytes().to_vec().into();
        assert!(
            !idle_traffic(&leader, &read_round),
            "answers a read round in flight"
        );
        read_round.context = 6u64.to_le_bytes().to_vec().into();
        assert!(
            idle_traffic(&leader, &read_round),
            "a late answer to a round already confirmed"
        );
        read_round.context = vec![7].into();
        assert!(!idle_traffic(&leader, &read_round), "not a round's context");
        assert!(!idle_traffic(&leader, &message(MsgAppendResponse, 2, 1)));
        assert!(
            !idle_traffic(&leader, &message(MsgHeartbeat, 2, 1)),
            "not a follower"
        );
    }

    fn waiter(term: u64) -> (Waiter<u64>, oneshot::Receiver<Result<u64, ProposeError>>) {
        let (reply, rx) = oneshot::channel();
        let prepared = None;
        (
            Waiter {
                term,
                prepared,
                reply,
            },
            rx,
        )
    }

    /// Answers `error` up to index 11 to proposals waiting at 10, 11 and 12; checks that
    /// the first two got it and the third still waits.
    fn answer_three_up_to_11(error: ProposeError) {
        let mut waiting = BTreeMap::new();
        let mut replies = Vec::new();
        for index in [10u64, 11, 12] {
            let (w, rx) = waiter(1);
            waiting.insert(index, w);
            replies.push(rx);
        }
        answer_up_to(&mut waiting, 11, error.clone());
        assert_eq!(waiting.keys().copied().collect::<Vec<_>>(), vec![12]);
        let mut rx3 = replies.pop().unwrap();
        assert!(
            matches!(rx3.try_recv(), Ok(None)),
            "above the index: still waiting"
        );
        for mut rx in replies {
            let answer = rx.try_recv();
            assert!(
                matches!(&answer, Ok(Some(Err(e))) if *e == error),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn proposals_overwritten_below_the_applied_index_are_answered_dropped() {
        answer_three_up_to_11(ProposeError::Dropped(7));
    }

    #[test]
    fn proposals_a_snapshot_covers_are_answered_with_an_unknown_outcome() {
        answer_three_up_to_11(ProposeError::Unknown(7));
    }

    /// An applied entry answers the proposal appended at its index in its term only: not a
    /// proposal of this replica that an entry of a later leader overwrote, and not one that
    /// merely shares a counter value with an entry another replica proposed (the bug this
    /// replaced: proposals were matched by a per-process counter kept in the entry's
    /// context, so an earlier leader's entry, committed by this one, answered whichever of
    /// this replica's proposals had drawn the same number).
    #[test]
    fn an_entry_answers_only_the_proposal_appended_at_its_index_in_its_term() {
        let mut waiting = BTreeMap::new();
        let (w, _rx) = waiter(3);
        waiting.insert(12, w);
        assert!(take_waiter(&mut waiting, 10, 2).is_none(), "another index");
        assert!(
            take_waiter(&mut waiting, 12, 4).is_none(),
            "a later leader's entry at the same index"
        );
        assert_eq!(waiting.len(), 1, "left to be answered Dropped");
        let mine = take_waiter(&mut waiting, 12, 3).expect("its own entry");
        assert_eq!(mine.term, 3);
        assert!(waiting.is_empty());
    }
}
