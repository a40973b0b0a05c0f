//! The driver's side of raft snapshots (see `replication::snapshot` for the protocol):
//! streaming a group's key range to a follower from a pinned checkpoint, receiving one into
//! the staging range, installing it when raft accepts it, and repairing the log after a
//! crash between the install's checkpoint and its log truncation.
//!
//! Invariants: at most one transfer per (group, follower) leaves this shard and at most one
//! per group arrives; a received snapshot is stepped into raft at the start of a pass and,
//! from then until that pass ends, no new transfer of the group may touch its staging range;
//! staged keys were checked against the group's key range when they arrived, so an install
//! cannot fail half-way except by a storage failure (which stops the shard).

use std::ops::Bound;
use std::time::{Duration, Instant};

use raft::prelude::{ConfState, Message, MessageType, Snapshot};
use raft::{SnapshotStatus, StateRole};

use super::{RaftDriver, State, StateMachine, wake};
use crate::replication::envelope::{decode_batch, encode_batch};
use crate::replication::log_store::GroupLog;
use crate::replication::snapshot::{
    ACK_TIMEOUT, CHUNK_BYTES, CHUNK_ENTRIES_MAX, CHUNKS_UNACKED_MAX, Frame, decode_index_term,
    encode_index_term, prefix_end, snapshot_term_key, staging_all, staging_prefix,
};
use crate::replication::transport::{Lane, ShardAddr};
use crate::storage::io::Disk;
use crate::storage::{Op, StorageError};

/// Entries deleted per batch while clearing a range.
const CLEAR_BATCH: usize = 1024;
/// A failed transfer is reported this long after failing, so a follower that keeps refusing
/// is not sent a new snapshot in a tight loop.
const FAILURE_BACKOFF: Duration = Duration::from_millis(500);

/// A transfer to a follower.
pub(super) struct Outgoing {
    id: u64,
    /// Frames the follower acknowledged (the next expected acknowledgement's seq).
    acked: u32,
    failed: Option<String>,
    /// The snapshot's index once chosen: the log after it is kept until the transfer ends.
    pub(super) index: u64,
}

/// A transfer from a leader.
pub(super) struct Incoming {
    from: u32,
    id: u64,
    next_seq: u32,
    /// The group's key range `[start, end)` when the transfer began.
    range: (Vec<u8>, Option<Vec<u8>>),
    /// Every chunk arrived: raft's `MsgSnapshot`, to step at the next pass.
    message: Option<Message>,
    /// Stepped in the current pass (the staging range is the install's until it ends).
    stepped: bool,
}

impl Incoming {
    /// Whether the next pass has a snapshot message to step.
    pub(super) fn ready_to_step(&self) -> bool {
        self.message.is_some() && !self.stepped
    }

    /// Whether the group's state is being replaced (from the step to the end of the pass).
    pub(super) fn installing(&self) -> bool {
        self.stepped
    }
}

/// A transfer id unlikely to repeat across restarts of the sender.
pub(super) fn first_transfer_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// At the start of a pass: reports ended transfers to raft and steps the snapshots that
/// arrived whole. Returns the groups whose snapshot was stepped.
pub(super) fn step_snapshots<O>(st: &mut State<O>) -> Vec<u64> {
    for (group, to, ok) in st.snapshot_reports.drain(..) {
        if st.installing.contains_key(&group) {
            continue;
        }
        if let Some(g) = st.groups.get_mut(&group) {
            let status = match ok {
                true => SnapshotStatus::Finish,
                false => SnapshotStatus::Failure,
            };
            g.raw.report_snapshot(to, status);
        }
    }
    let mut stepped = Vec::new();
    for (&group, inc) in st.snapshots_in.iter_mut() {
        if !inc.ready_to_step() {
            continue;
        }
        let msg = inc.message.clone().expect("checked");
        inc.stepped = true;
        stepped.push(group);
        if let Some(g) = st.groups.get_mut(&group)
            && let Err(e) = g.raw.step(msg)
        {
            tracing::debug!(group, "raft step of a snapshot: {e}");
        }
    }
    stepped
}

fn bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn end_bound(end: &Option<Vec<u8>>) -> Bound<&[u8]> {
    end.as_deref().map_or(Bound::Unbounded, Bound::Excluded)
}

fn in_range(key: &[u8], range: &(Vec<u8>, Option<Vec<u8>>)) -> bool {
    key >= range.0.as_slice() && range.1.as_ref().is_none_or(|end| key < end.as_slice())
}

impl<D: Disk, M: StateMachine> RaftDriver<D, M> {
    /// Tells each follower of a group that just hibernated (group, term, follower).
    pub(super) fn tell_hibernating(&self, notices: Vec<(u64, u64, u64)>) {
        let Some(transport) = &self.inner.transport else {
            return;
        };
        for (group, term, to) in notices {
            let addr = ShardAddr {
                node: to as u32,
                shard: self.inner.shard,
            };
            let frame = Frame::Hibernate { group, term };
            if let Err(e) = transport.send(addr, Lane::Snapshot, &frame.encode()) {
                tracing::debug!(group, to, "hibernation notice dropped: {e}");
            }
        }
    }

    /// Starts streaming a snapshot to `msg.to` (raft asked for it with `msg`), unless one
    /// is already on its way there.
    pub(super) fn start_snapshot(&self, group: u64, msg: Message) {
        let to = msg.to;
        let id = {
            let mut st = self.inner.state.borrow_mut();
            if st.snapshots_out.contains_key(&(group, to)) {
                return;
            }
            let id = st.next_snapshot_id;
            st.next_snapshot_id = st.next_snapshot_id.wrapping_add(2);
            let out = Outgoing {
                id,
                acked: 0,
                failed: None,
                index: 0,
            };
            st.snapshots_out.insert((group, to), out);
            id
        };
        let driver = self.clone();
        crate::rt::spawn_detached(async move {
            let result = driver.stream_snapshot(group, to, id, msg).await;
            if let Err(e) = &result {
                tracing::warn!(group, to, "snapshot transfer failed: {e}");
                crate::rt::sleep(FAILURE_BACKOFF).await;
            }
            let mut st = driver.inner.state.borrow_mut();
            st.snapshots_out.remove(&(group, to));
            st.snapshots_sent += u64::from(result.is_ok());
            st.snapshot_reports.push((group, to, result.is_ok()));
            wake(&mut st);
        });
    }

    /// Streams the group's key range as the newest durable checkpoint holds it, then the
    /// snapshot message rewritten to that checkpoint's applied index and its term.
    async fn stream_snapshot(
        &self,
        group: u64,
        to: u64,
        id: u64,
        mut msg: Message,
    ) -> Result<(), String> {
        let transport = self.inner.transport.clone().ok_or("no transport")?;
        let addr = ShardAddr {
            node: to as u32,
            shard: self.inner.shard,
        };
        let view = self.inner.engine.checkpoint_view();
        let index = view.applied(group);
        let term = {
            let st = self.inner.state.borrow();
            let g = st.groups.get(&group).ok_or("group closed")?;
            if g.raw.raft.state != StateRole::Leader {
                return Err("no longer the leader".into());
            }
            g.raw
                .raft
                .raft_log
                .term(index)
                .map_err(|e| format!("term of entry {index}: {e}"))?
        };
        let asked = msg.get_snapshot().get_metadata().index;
        if index == 0 || index < asked {
            return Err(format!(
                "the newest checkpoint holds entry {index}, raft compacted up to {asked}"
            ));
        }
        {
            let meta = msg.mut_snapshot().mut_metadata();
            meta.index = index;
            meta.term = term;
        }
        if let Some(out) = self
            .inner
            .state
            .borrow_mut()
            .snapshots_out
            .get_mut(&(group, to))
        {
            out.index = index;
        }
        let (lo, hi) = self
            .inner
            .machine
            .snapshot_range(group)
            .ok_or("the group's key range is unknown")?;
        let started = Instant::now();
        let (mut bytes, mut rows) = (0usize, 0usize);
        let mut cursor = Bound::Included(lo);
        let mut seq = 0u32;
        loop {
            self.wait_acked(group, to, id, (seq + 1).saturating_sub(CHUNKS_UNACKED_MAX))
                .await?;
            let entries = view
                .scan(
                    bound(&cursor),
                    end_bound(&hi),
                    CHUNK_ENTRIES_MAX,
                    CHUNK_BYTES,
                )
                .await
                .map_err(|e| e.to_string())?;
            let Some((last, _)) = entries.last() else {
                break;
            };
            cursor = Bound::Excluded(last.clone());
            rows += entries.len();
            bytes += entries
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
            let frame = Frame::Chunk {
                group,
                id,
                seq,
                entries,
            };
            transport
                .send(addr, Lane::Snapshot, &frame.encode())
                .map_err(|e| e.to_string())?;
            seq += 1;
        }
        self.wait_acked(group, to, id, seq).await?;
        let message = encode_batch(&[(group, msg)]);
        let done = Frame::Done {
            group,
            id,
            seq,
            message,
        };
        transport
            .send(addr, Lane::Snapshot, &done.encode())
            .map_err(|e| e.to_string())?;
        self.wait_acked(group, to, id, seq + 1).await?;
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            group,
            to,
            index,
            rows,
            bytes,
            ms = (secs * 1000.0) as u64,
            mib_per_s = format!("{:.1}", bytes as f64 / (1 << 20) as f64 / secs.max(1e-6)),
            "snapshot sent"
        );
        Ok(())
    }

    /// Waits until the follower acknowledged `frames` frames of transfer `id`.
    async fn wait_acked(&self, group: u64, to: u64, id: u64, frames: u32) -> Result<(), String> {
        let deadline = Instant::now() + ACK_TIMEOUT;
        loop {
            {
                let st = self.inner.state.borrow();
                if st.closing {
                    return Err("shutting down".into());
                }
                let out = st
                    .snapshots_out
                    .get(&(group, to))
                    .filter(|o| o.id == id)
                    .ok_or("transfer replaced")?;
                if let Some(reason) = &out.failed {
                    return Err(format!("the follower gave up: {reason}"));
                }
                if out.acked >= frames {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("no acknowledgement within {ACK_TIMEOUT:?}"));
            }
            crate::rt::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Handles a frame of the snapshot lane from `from`.
    pub(super) async fn on_snapshot_frame(&self, from: ShardAddr, payload: &[u8]) {
        let frame = match Frame::decode(payload) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(?from, "bad snapshot frame: {e}");
                return;
            }
        };
        let peer = from.node as u64;
        match frame {
            Frame::Hibernate { group, term } => {
                let mut st = self.inner.state.borrow_mut();
                if let Some(g) = st.groups.get_mut(&group) {
                    let raft = &g.raw.raft;
                    let caught_up = raft.raft_log.committed == raft.raft_log.last_index();
                    if raft.state == StateRole::Follower
                        && raft.leader_id == peer
                        && raft.term == term
                        && caught_up
                    {
                        g.hibernating = true;
                    }
                }
            }
            Frame::Ack { group, id, seq } => {
                let mut st = self.inner.state.borrow_mut();
                if let Some(out) = st.snapshots_out.get_mut(&(group, peer))
                    && out.id == id
                {
                    out.acked = out.acked.max(seq + 1);
                }
            }
            Frame::Abort { group, id, reason } => {
                let mut st = self.inner.state.borrow_mut();
                if let Some(out) = st.snapshots_out.get_mut(&(group, peer))
                    && out.id == id
                {
                    out.failed = Some(reason);
                }
                let mine = st
                    .snapshots_in
                    .get(&group)
                    .is_some_and(|i| i.id == id && i.from == from.node && !i.stepped);
                if mine {
                    st.snapshots_in.remove(&group);
                }
            }
            Frame::Chunk {
                group,
                id,
                seq,
                entries,
            } => {
                let answer = match self.stage_chunk(from.node, group, id, seq, entries).await {
                    Ok(()) => Frame::Ack { group, id, seq },
                    Err(reason) => Frame::Abort { group, id, reason },
                };
                self.answer_sender(from, answer);
            }
            Frame::Done {
                group,
                id,
                seq,
                message,
            } => {
                let answer = match self.finish_receive(from.node, group, id, seq, &message) {
                    Ok(()) => Frame::Ack { group, id, seq },
                    Err(reason) => Frame::Abort { group, id, reason },
                };
                self.answer_sender(from, answer);
            }
        }
    }

    fn answer_sender(&self, to: ShardAddr, frame: Frame) {
        if let Some(t) = &self.inner.transport
            && let Err(e) = t.send(to, Lane::Snapshot, &frame.encode())
        {
            tracing::debug!(?to, "snapshot answer dropped: {e}");
        }
    }

    /// Writes a received chunk into the group's staging range; a first chunk starts a new
    /// transfer (and clears what an earlier one left).
    async fn stage_chunk(
        &self,
        from: u32,
        group: u64,
        id: u64,
        seq: u32,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), String> {
        let range = {
            let mut st = self.inner.state.borrow_mut();
            let Some(g) = st.groups.get(&group) else {
                return Err(format!("group {group} is not open here"));
            };
            if g.raw.raft.state == StateRole::Leader {
                return Err("this replica leads the group".into());
            }
            match st.snapshots_in.get(&group) {
                Some(inc) if inc.stepped => {
                    return Err("a snapshot of this group is being installed".into());
                }
                Some(inc) if seq > 0 && (inc.id != id || inc.from != from) => {
                    return Err("another transfer of this group is in progress".into());
                }
                Some(inc) if seq > 0 && inc.next_seq != seq => {
                    return Err(format!("chunk {seq} arrived, {} expected", inc.next_seq));
                }
                None if seq > 0 => return Err(format!("chunk {seq} of an unknown transfer")),
                _ => {}
            }
            if seq == 0 {
                let range = self
                    .inner
                    .machine
                    .snapshot_range(group)
                    .ok_or("the group's key range is unknown here")?;
                let inc = Incoming {
                    from,
                    id,
                    next_seq: 0,
                    range,
                    message: None,
                    stepped: false,
                };
                st.snapshots_in.insert(group, inc);
            }
            st.snapshots_in[&group].range.clone()
        };
        if seq == 0 {
            let prefix = staging_prefix(group);
            let end = prefix_end(&prefix);
            self.clear(&prefix, &end).await.map_err(|e| e.to_string())?;
        }
        let prefix = staging_prefix(group);
        let mut ops = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            if !in_range(&k, &range) {
                return Err(format!("key {k:?} lies outside group {group}"));
            }
            let mut key = Vec::with_capacity(prefix.len() + k.len());
            key.extend_from_slice(&prefix);
            key.extend_from_slice(&k);
            ops.push(Op {
                key,
                value: Some(v),
            });
        }
        self.inner
            .engine
            .apply_unlogged(ops, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut st = self.inner.state.borrow_mut();
        match st.snapshots_in.get_mut(&group) {
            Some(inc) if inc.id == id && inc.next_seq == seq && !inc.stepped => {
                inc.next_seq += 1;
                Ok(())
            }
            _ => Err("the transfer was replaced".into()),
        }
    }

    /// The last frame: every chunk is staged; the snapshot message waits for the next pass.
    fn finish_receive(
        &self,
        from: u32,
        group: u64,
        id: u64,
        seq: u32,
        message: &[u8],
    ) -> Result<(), String> {
        let mut batch = decode_batch(message)?;
        let me = self.inner.config.replica_id;
        let ok = batch.len() == 1
            && batch[0].0 == group
            && batch[0].1.get_msg_type() == MessageType::MsgSnapshot
            && batch[0].1.to == me;
        if !ok {
            return Err("the last frame does not hold this group's snapshot message".into());
        }
        let (_, msg) = batch.pop().expect("one message");
        let mut st = self.inner.state.borrow_mut();
        let Some(inc) = st.snapshots_in.get_mut(&group) else {
            return Err("unknown transfer".into());
        };
        if inc.id != id || inc.from != from || inc.next_seq != seq || inc.message.is_some() {
            return Err(format!(
                "last frame {seq} does not follow chunk {}",
                inc.next_seq
            ));
        }
        inc.message = Some(msg);
        wake(&mut st);
        Ok(())
    }

    /// Ends the pass's received snapshots that raft refused: their staging range is free for
    /// the next transfer (an accepted one is forgotten once installed).
    pub(super) fn forget_stepped(&self, groups: &[u64]) {
        let mut st = self.inner.state.borrow_mut();
        for group in groups {
            if st.installing.contains_key(group) {
                // Its install ends the transfer.
                continue;
            }
            if st.snapshots_in.get(group).is_some_and(|i| i.stepped) {
                st.snapshots_in.remove(group);
            }
        }
    }

    /// Replaces the group's state with the staged snapshot (raft accepted `snap`), records
    /// the snapshot's position, and makes it durable with a checkpoint; the caller then
    /// truncates the log up to it.
    pub(super) async fn install_snapshot(
        &self,
        group: u64,
        snap: &Snapshot,
    ) -> Result<(), StorageError> {
        let (index, term) = (snap.get_metadata().index, snap.get_metadata().term);
        let range = {
            let st = self.inner.state.borrow();
            let staged = st.snapshots_in.get(&group).filter(|i| {
                let m = i.message.as_ref().map(|m| m.get_snapshot().get_metadata());
                i.stepped && m.is_some_and(|m| m.index == index && m.term == term)
            });
            match staged {
                Some(inc) => inc.range.clone(),
                None => {
                    return Err(StorageError::Invalid(format!(
                        "group {group}: raft accepted snapshot {index}/{term} that is not staged"
                    )));
                }
            }
        };
        let started = Instant::now();
        let engine = &self.inner.engine;
        if engine.applied(group) >= index {
            return Err(StorageError::Invalid(format!(
                "group {group}: snapshot at {index} is not ahead of applied {}",
                engine.applied(group)
            )));
        }
        self.clear(&range.0, &range.1).await?;
        let prefix = staging_prefix(group);
        let end = prefix_end(&prefix);
        let mut rows = 0usize;
        loop {
            let staged = engine
                .scan(
                    Bound::Included(&prefix),
                    end_bound(&end),
                    false,
                    CHUNK_ENTRIES_MAX,
                    CHUNK_BYTES,
                )
                .await?;
            if staged.is_empty() {
                break;
            }
            rows += staged.len();
            let mut ops = Vec::with_capacity(2 * staged.len());
            for (k, v) in staged {
                ops.push(Op {
                    key: k[prefix.len()..].to_vec(),
                    value: Some(v),
                });
                ops.push(Op {
                    key: k,
                    value: None,
                });
            }
            engine.apply_unlogged(ops, None).await?;
        }
        let mark = Op {
            key: snapshot_term_key(group),
            value: Some(encode_index_term(index, term)),
        };
        engine
            .apply_unlogged(vec![mark], Some((group, index)))
            .await?;
        engine.checkpoint_all_applied().await?;
        self.inner.machine.restored(group).await?;
        tracing::info!(
            group,
            index,
            term,
            rows,
            ms = started.elapsed().as_millis() as u64,
            "snapshot installed"
        );
        Ok(())
    }

    /// Deletes every key in `[start, end)`.
    async fn clear(&self, start: &[u8], end: &Option<Vec<u8>>) -> Result<(), StorageError> {
        loop {
            let rows = self
                .inner
                .engine
                .scan(
                    Bound::Included(start),
                    end_bound(end),
                    false,
                    CLEAR_BATCH,
                    usize::MAX,
                )
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let ops = rows
                .into_iter()
                .map(|(key, _)| Op { key, value: None })
                .collect();
            self.inner.engine.apply_unlogged(ops, None).await?;
        }
    }

    /// Drops what unfinished transfers staged before a restart.
    pub async fn discard_staged_snapshots(&self) -> Result<(), StorageError> {
        let (start, end) = staging_all();
        self.clear(&start, &Some(end)).await
    }

    /// A snapshot whose checkpoint is durable may have lost its log truncation to a crash:
    /// the log then still ends before it (or holds another branch there). It restarts
    /// after the snapshot, as the install would have left it.
    pub(super) async fn restart_after_snapshot(
        &self,
        group: u64,
        log: &mut GroupLog,
    ) -> Result<(), StorageError> {
        let Some(v) = self.inner.engine.get(&snapshot_term_key(group)).await? else {
            return Ok(());
        };
        let Some((index, term)) = decode_index_term(&v) else {
            return Err(StorageError::Invalid(format!(
                "group {group}: unreadable snapshot position"
            )));
        };
        if index <= log.truncated() || log.has_entry(index, term) {
            return Ok(());
        }
        tracing::info!(
            group,
            index,
            term,
            "log restarts after an installed snapshot"
        );
        log.install_snapshot(index, term, ConfState::default());
        self.inner
            .engine
            .wal()
            .truncate_prefix(group, index, term)?;
        Ok(())
    }
}
