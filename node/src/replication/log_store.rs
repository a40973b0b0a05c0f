//! The raft log of one group: its newest entries in memory, every entry in the shard's
//! write-ahead log.
//!
//! raft-rs reads its log through the synchronous `raft::Storage` trait. Durability is the
//! WAL's job: the driver appends each new entry as an `Entry` record of the group's stream,
//! the hard state and membership as a `State` record, and compaction (after a checkpoint
//! made the entries redundant) as a `Truncate` record carrying the term of the last
//! compacted entry. On restart the group's log is rebuilt from those records.
//!
//! Memory holds only the entries raft may still need at once: everything not yet applied,
//! plus applied entries a follower has not acknowledged, within a byte budget
//! ([`GroupLog::evict`]). The entries between the compaction point and the cache stay in the
//! WAL; their terms stay here as runs (one pair per term). When raft wants such entries to
//! send a lagging follower, the call answers `LogTemporarilyUnavailable` and records a
//! [`Fetch`]; the driver reads the range back from the WAL, hands it over
//! ([`GroupLog::set_fetched`]) and tells raft, which asks again. So a shard's memory does
//! not grow with the writes between two checkpoints (at 60k puts/s, 20 s of log was 240 MB,
//! and each growth step stalled the shard on fresh page faults).
//!
//! Estimate: an entry of a 100-byte put holds about 300 bytes with its struct; the cache
//! of a group in steady state is the entries of one or two raft passes.
//! Invariants: `entries` are contiguous and end at `last`; every entry in
//! `truncated_index + 1..=last` is in the WAL (or in the batch being flushed);
//! `terms` covers exactly `truncated_index + 1..=last`, ascending, with no two adjacent runs
//! of one term; `truncated_term` is the term of entry `truncated_index`; entries above
//! raft's applied index are never evicted.

use std::cell::RefCell;
use std::collections::VecDeque;

use raft::prelude::{ConfState, Entry, EntryType, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError as RaftStorageError};

use crate::storage::StorageError;
use crate::storage::io::Disk;
use crate::storage::wal::Wal;

/// Bytes of entry payload the driver reads back at once while rebuilding.
const REBUILD_READ_BYTES_MAX: usize = 16 << 20;

/// Entries raft asked for that memory does not hold: the driver reads them from the WAL.
#[derive(Debug)]
pub struct Fetch {
    /// First index wanted.
    pub low: u64,
    /// One past the last index wanted.
    pub high: u64,
    /// raft's size limit for the answer, bytes.
    pub max_bytes: u64,
    /// What raft needs the entries for; handed back to `RawNode::on_entries_fetched`.
    pub context: GetEntriesContext,
}

/// The log of one raft group.
#[derive(Debug, Default)]
pub struct GroupLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// The newest entries, up to `last`.
    entries: VecDeque<Entry>,
    /// Payload bytes of `entries`.
    cached_bytes: u64,
    /// Index of the last entry (`truncated_index` when the log is empty).
    last: u64,
    /// Term runs of `truncated_index + 1..=last`: (first index of the run, term).
    terms: VecDeque<(u64, u64)>,
    truncated_index: u64,
    truncated_term: u64,
    /// Consecutive entries below the cache, read back from the WAL for raft.
    fetched: VecDeque<Entry>,
    /// Reads raft asked for that neither the cache nor `fetched` could answer.
    wanted: RefCell<Vec<Fetch>>,
}

/// Bytes an entry is counted for (its payloads; raft's own size estimate).
fn entry_bytes(e: &Entry) -> u64 {
    (e.data.len() + e.context.len()) as u64
}

impl GroupLog {
    /// A new group whose only voter is `voters` (already initialised, so it can campaign).
    pub fn new(voters: Vec<u64>) -> Self {
        let mut conf_state = ConfState::default();
        conf_state.set_voters(voters);
        GroupLog {
            conf_state,
            ..GroupLog::default()
        }
    }

    /// Rebuilds the log of `group` from the records the WAL holds for it. `voters` is used
    /// when the WAL holds no state record yet.
    pub async fn rebuild<D: Disk>(
        wal: &Wal<D>,
        group: u64,
        voters: Vec<u64>,
    ) -> Result<Self, StorageError> {
        let mut log = GroupLog::new(voters);
        let Some(stream) = wal.stream(group) else {
            return Ok(log);
        };
        if let Some((payload, _)) = &stream.state {
            let (hs, cs) = decode_state(payload).map_err(|e| {
                StorageError::Invalid(format!("group {group}: bad raft state record: {e}"))
            })?;
            log.hard_state = hs;
            log.conf_state = cs;
        }
        log.truncated_index = stream.truncated_upto;
        log.truncated_term = stream.truncated_term;
        log.last = stream.truncated_upto;
        let mut next = stream.first_index();
        let last = stream.last_index();
        let mut prev = log.truncated_term;
        'read: while next <= last {
            let batch = wal
                .read(group, next, last + 1, REBUILD_READ_BYTES_MAX)
                .await?;
            let Some(end) = batch.last().map(|e| e.index) else {
                break;
            };
            for rec in batch {
                // After a snapshot the log may still hold a stale suffix of a branch the
                // snapshot replaced; whatever breaks term order is from that branch, never
                // committed here.
                if rec.term < prev {
                    break 'read;
                }
                prev = rec.term;
                let entry = decode_entry(rec.index, rec.term, &rec.payload).map_err(|e| {
                    StorageError::Invalid(format!("group {group} entry {}: {e}", rec.index))
                })?;
                if entry.index != log.last + 1 {
                    return Err(StorageError::Invalid(format!(
                        "group {group}: log holds entry {} after {}",
                        entry.index, log.last
                    )));
                }
                log.push(entry);
            }
            next = end + 1;
        }
        Ok(log)
    }

    fn push(&mut self, e: Entry) {
        if self.terms.back().is_none_or(|&(_, t)| t != e.term) {
            self.terms.push_back((e.index, e.term));
        }
        self.last = e.index;
        self.cached_bytes += entry_bytes(&e);
        self.entries.push_back(e);
    }

    /// Appends entries from a Ready, replacing any conflicting suffix (raft only replaces
    /// entries it has not committed, so never one that left memory).
    pub fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        debug_assert!(first.index > self.truncated_index && first.index <= self.last + 1);
        while self.entries.back().is_some_and(|e| e.index >= first.index) {
            let e = self.entries.pop_back().expect("checked above");
            self.cached_bytes -= entry_bytes(&e);
        }
        while self.terms.back().is_some_and(|&(at, _)| at >= first.index) {
            self.terms.pop_back();
        }
        while self.fetched.back().is_some_and(|e| e.index >= first.index) {
            self.fetched.pop_back();
        }
        self.last = first.index - 1;
        for e in ents {
            self.push(e.clone());
        }
    }

    /// Records a new hard state.
    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Raises the commit index to `index` if it is lower: an applied entry was committed,
    /// even if the hard state recording that did not reach the disk before a crash.
    pub fn commit_at_least(&mut self, index: u64) {
        if self.hard_state.commit < index {
            self.hard_state.commit = index.min(self.last);
        }
    }

    /// The hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// The membership.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// Drops entries up to `index` (a checkpoint holds their effects); returns the term of
    /// entry `index` for the WAL's truncation record, or None if nothing changes.
    pub fn compact(&mut self, index: u64) -> Option<u64> {
        if index <= self.truncated_index || index > self.last {
            return None;
        }
        let term = self.term_of(index)?;
        while self.entries.front().is_some_and(|e| e.index <= index) {
            let e = self.entries.pop_front().expect("checked above");
            self.cached_bytes -= entry_bytes(&e);
        }
        while self.fetched.front().is_some_and(|e| e.index <= index) {
            self.fetched.pop_front();
        }
        while self.terms.get(1).is_some_and(|&(at, _)| at <= index + 1) {
            self.terms.pop_front();
        }
        if index == self.last {
            self.terms.clear();
        } else if let Some(run) = self.terms.front_mut() {
            run.0 = run.0.max(index + 1);
        }
        self.truncated_index = index;
        self.truncated_term = term;
        Some(term)
    }

    /// Replaces the log with a snapshot at (`index`, `term`): every entry goes, the log
    /// continues at `index + 1`, and the commit index is at least `index`.
    pub fn install_snapshot(&mut self, index: u64, term: u64, conf_state: ConfState) {
        self.entries.clear();
        self.cached_bytes = 0;
        self.terms.clear();
        self.fetched.clear();
        self.truncated_index = index;
        self.truncated_term = term;
        self.last = index;
        if !conf_state.voters.is_empty() {
            self.conf_state = conf_state;
        }
        if self.hard_state.commit < index {
            self.hard_state.commit = index;
        }
    }

    /// Lets applied entries leave memory: every entry up to `applied` that no follower
    /// still needs (`needed_after`: the lowest index a follower acknowledged), and beyond
    /// that the oldest applied entries while the cache holds more than `budget` bytes.
    /// Entries above `applied` always stay (raft hands them out to apply).
    pub fn evict(&mut self, applied: u64, needed_after: u64, budget: u64) {
        while let Some(e) = self.entries.front() {
            if e.index > applied || (e.index > needed_after && self.cached_bytes <= budget) {
                break;
            }
            let e = self.entries.pop_front().expect("checked above");
            self.cached_bytes -= entry_bytes(&e);
        }
        while self
            .fetched
            .front()
            .is_some_and(|e| e.index <= needed_after)
        {
            self.fetched.pop_front();
        }
        // A burst (a restart's rebuild, a long apply) may have grown the deques far past
        // what steady state needs: give that memory back.
        let len = self.entries.len().max(1024);
        if self.entries.capacity() > 8 * len {
            self.entries.shrink_to(2 * len);
        }
    }

    /// First index held in memory (`last + 1` when none is).
    pub fn cached_from(&self) -> u64 {
        self.entries.front().map_or(self.last + 1, |e| e.index)
    }

    /// Bytes of entry payload held in memory.
    pub fn cached_bytes(&self) -> u64 {
        self.cached_bytes
    }

    /// The reads raft asked for since the last call, for the driver to run.
    pub fn take_wanted(&self) -> Vec<Fetch> {
        std::mem::take(&mut *self.wanted.borrow_mut())
    }

    /// Whether raft asked for entries memory does not hold.
    pub fn has_wanted(&self) -> bool {
        !self.wanted.borrow().is_empty()
    }

    /// Keeps entries read back from the WAL to answer raft's next reads below the cache.
    /// Only the consecutive prefix that still matches this log (its terms, below the
    /// cache) is kept: the log may have been compacted or replaced meanwhile.
    pub fn set_fetched(&mut self, entries: Vec<Entry>) {
        self.fetched.clear();
        let cached_from = self.cached_from();
        for e in entries {
            let next = self.fetched.back().map(|p| p.index + 1);
            if e.index < self.first_idx()
                || e.index >= cached_from
                || next.is_some_and(|n| n != e.index)
                || self.term_of(e.index) != Some(e.term)
            {
                break;
            }
            self.fetched.push_back(e);
        }
    }

    /// Whether the log knows entry `index` with term `term` (as an entry or as the
    /// truncation point).
    pub fn has_entry(&self, index: u64, term: u64) -> bool {
        self.term_of(index) == Some(term)
    }

    /// The last index the log holds.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The index up to which the log is compacted.
    pub fn truncated(&self) -> u64 {
        self.truncated_index
    }

    fn first_idx(&self) -> u64 {
        self.truncated_index + 1
    }

    fn term_of(&self, idx: u64) -> Option<u64> {
        if idx == self.truncated_index {
            return Some(self.truncated_term);
        }
        if idx < self.first_idx() || idx > self.last {
            return None;
        }
        let cached_from = self.cached_from();
        if idx >= cached_from {
            return Some(self.entries[(idx - cached_from) as usize].term);
        }
        let run = self.terms.partition_point(|&(at, _)| at <= idx);
        self.terms.get(run.checked_sub(1)?).map(|&(_, term)| term)
    }

    /// Number of entries held in memory.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entries are held in memory.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `count` entries of `from` from position `at`, cut after about `max` bytes (at least one).
fn take_entries(from: &VecDeque<Entry>, at: usize, count: usize, max: u64) -> Vec<Entry> {
    let mut out = Vec::with_capacity(count.min(1024));
    let mut size = 0u64;
    for e in from.range(at..at + count) {
        size += entry_bytes(e) + 16;
        if !out.is_empty() && size > max {
            break;
        }
        out.push(e.clone());
    }
    out
}

impl raft::Storage for GroupLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first_idx() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if high > self.last + 1 {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        let max = max_size.into().unwrap_or(u64::MAX);
        if low >= high {
            return Ok(Vec::new());
        }
        let cached_from = self.cached_from();
        if low >= cached_from {
            let at = (low - cached_from) as usize;
            return Ok(take_entries(&self.entries, at, (high - low) as usize, max));
        }
        if let Some(first) = self.fetched.front().map(|e| e.index)
            && low >= first
            && low < first + self.fetched.len() as u64
        {
            let at = (low - first) as usize;
            let count = (high - low).min(self.fetched.len() as u64 - at as u64) as usize;
            return Ok(take_entries(&self.fetched, at, count, max));
        }
        if !context.can_async() {
            // raft reads below its applied index only to send appends (an async context);
            // nothing at or above it ever leaves memory.
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        self.wanted.borrow_mut().push(Fetch {
            low,
            high: high.min(cached_from),
            max_bytes: max,
            context,
        });
        Err(raft::Error::Store(
            RaftStorageError::LogTemporarilyUnavailable,
        ))
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx < self.truncated_index {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        self.term_of(idx)
            .ok_or(raft::Error::Store(RaftStorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first_idx())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last)
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        // Raft asks when a follower needs entries compacted away. The data is not built
        // here: the driver streams the group's key range as the newest durable checkpoint
        // holds it (`replication::snapshot`) and rewrites this metadata to that checkpoint's
        // applied index, which is never below the compaction point named here.
        if self.truncated_index == 0 {
            return Err(raft::Error::Store(
                RaftStorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        let mut snap = Snapshot::default();
        let meta = snap.mut_metadata();
        meta.index = self.truncated_index;
        meta.term = self.truncated_term;
        meta.set_conf_state(self.conf_state.clone());
        Ok(snap)
    }
}

/// Encodes an entry's type, context and data as a WAL payload (term and index travel in the
/// record header).
pub fn encode_entry(e: &Entry, out: &mut Vec<u8>) {
    out.push(e.get_entry_type() as u8);
    out.extend_from_slice(&(e.context.len() as u32).to_le_bytes());
    out.extend_from_slice(&e.context);
    out.extend_from_slice(&e.data);
}

/// Decodes a WAL payload back into an entry.
pub fn decode_entry(index: u64, term: u64, payload: &[u8]) -> Result<Entry, String> {
    if payload.len() < 5 {
        return Err(format!("entry payload of {} bytes", payload.len()));
    }
    let entry_type = match payload[0] {
        0 => EntryType::EntryNormal,
        1 => EntryType::EntryConfChange,
        2 => EntryType::EntryConfChangeV2,
        t => return Err(format!("unknown entry type {t}")),
    };
    let ctx_len = u32::from_le_bytes(payload[1..5].try_into().expect("4 bytes")) as usize;
    if payload.len() < 5 + ctx_len {
        return Err(format!("context of {ctx_len} bytes past the payload end"));
    }
    let mut e = Entry {
        index,
        term,
        context: payload[5..5 + ctx_len].to_vec().into(),
        data: payload[5 + ctx_len..].to_vec().into(),
        ..Entry::default()
    };
    e.set_entry_type(entry_type);
    Ok(e)
}

/// Encodes hard state and membership as a WAL state payload.
pub fn encode_state(hs: &HardState, cs: &ConfState) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 8 * cs.voters.len());
    out.extend_from_slice(&hs.term.to_le_bytes());
    out.extend_from_slice(&hs.vote.to_le_bytes());
    out.extend_from_slice(&hs.commit.to_le_bytes());
    out.extend_from_slice(&(cs.voters.len() as u32).to_le_bytes());
    for v in &cs.voters {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes a WAL state payload.
pub fn decode_state(b: &[u8]) -> Result<(HardState, ConfState), String> {
    if b.len() < 28 {
        return Err(format!("state payload of {} bytes", b.len()));
    }
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let hs = HardState {
        term: u64_at(0),
        vote: u64_at(8),
        commit: u64_at(16),
        ..HardState::default()
    };
    let n = u32::from_le_bytes(b[24..28].try_into().expect("4 bytes")) as usize;
    if b.len() != 28 + 8 * n {
        return Err(format!("state payload of {} bytes for {n} voters", b.len()));
    }
    let mut cs = ConfState::default();
    cs.set_voters((0..n).map(|i| u64_at(28 + 8 * i)).collect());
    Ok((hs, cs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            index,
            term,
            data: data.to_vec().into(),
            ..Entry::default()
        }
    }

    #[test]
    fn append_overwrites_suffix_and_compacts() {
        let mut log = GroupLog::new(vec![1]);
        log.append(&[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")]);
        log.append(&[entry(3, 2, b"C"), entry(4, 2, b"d")]);
        assert_eq!(log.last_index().expect("last"), 4);
        assert_eq!(log.term(3).expect("term"), 2);
        assert_eq!(log.compact(2), Some(1));
        assert_eq!(log.first_index().expect("first"), 3);
        assert_eq!(log.term(2).expect("term of compacted index"), 1);
        assert!(
            log.entries(2, 4, None, GetEntriesContext::empty(false))
                .is_err()
        );
        let got = log
            .entries(3, 5, None, GetEntriesContext::empty(false))
            .expect("entries");
        assert_eq!(got.len(), 2);
    }

    fn unavailable_for_now(r: &raft::Result<Vec<Entry>>) -> bool {
        matches!(
            r,
            Err(raft::Error::Store(
                RaftStorageError::LogTemporarilyUnavailable
            ))
        )
    }

    #[test]
    fn evicted_entries_keep_their_terms_and_are_read_back_on_demand() {
        let mut log = GroupLog::new(vec![1]);
        let model: Vec<Entry> = (1..=100u64)
            .map(|i| entry(i, 1 + i / 40, format!("v{i}").as_bytes()))
            .collect();
        log.append(&model);
        // A follower acknowledged 40 entries; a budget of 50..=100 keeps 50..=90 for it.
        let budget: u64 = model[49..].iter().map(entry_bytes).sum();
        log.evict(90, 40, budget);
        assert_eq!(log.cached_from(), 50);
        log.evict(90, 40, 0);
        assert_eq!(log.cached_from(), 91, "over budget: applied entries leave");
        assert_eq!(
            log.cached_bytes(),
            model[90..].iter().map(entry_bytes).sum::<u64>()
        );
        for e in &model {
            assert_eq!(
                log.term(e.index).expect("term"),
                e.term,
                "term of {}",
                e.index
            );
        }
        assert_eq!(log.first_index().expect("first"), 1);
        let cached = log.entries(91, 101, None, GetEntriesContext::empty(false));
        assert_eq!(cached.expect("cached"), model[90..].to_vec());
        // Below the cache: raft may wait (async), never read synchronously.
        assert!(
            log.entries(30, 101, None, GetEntriesContext::empty(false))
                .is_err()
        );
        assert!(!log.has_wanted());
        assert!(unavailable_for_now(&log.entries(
            30,
            101,
            None,
            GetEntriesContext::empty(true)
        )));
        let wanted = log.take_wanted();
        assert_eq!((wanted.len(), wanted[0].low, wanted[0].high), (1, 30, 91));
        // A read-back that does not match this log's terms is not used.
        let mut wrong = model[29..90].to_vec();
        wrong[5].term += 1;
        log.set_fetched(wrong);
        let partial = log.entries(30, 101, None, GetEntriesContext::empty(true));
        assert_eq!(
            partial.expect("the matching prefix"),
            model[29..34].to_vec()
        );
        assert!(unavailable_for_now(&log.entries(
            35,
            101,
            None,
            GetEntriesContext::empty(true)
        )));
        log.set_fetched(model[29..90].to_vec());
        let back = log.entries(30, 101, None, GetEntriesContext::empty(true));
        assert_eq!(back.expect("read back"), model[29..90].to_vec());
        let limited = log.entries(30, 101, Some(1), GetEntriesContext::empty(true));
        assert_eq!(limited.expect("at least one").len(), 1);
        // Compaction drops terms and read-back entries up to its point.
        assert_eq!(log.compact(60), Some(2));
        assert_eq!(log.term(60).expect("truncation point"), 2);
        assert!(log.term(59).is_err());
        assert_eq!(log.term(61).expect("after the point"), 2);
        assert!(
            log.entries(60, 101, None, GetEntriesContext::empty(true))
                .is_err()
        );
        let after = log.entries(61, 101, None, GetEntriesContext::empty(true));
        assert_eq!(
            after.expect("read back after compaction"),
            model[60..90].to_vec()
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Append `count` entries from `back` entries before the end (never at or below
        /// the applied index), with a term at least the last one plus `bump`.
        Append { back: u64, count: u64, bump: u64 },
        /// Apply up to `ahead` more entries, then evict with a follower `lag` behind.
        Evict { ahead: u64, lag: u64, budget: u64 },
        /// Compact `behind` entries below the applied index.
        Compact { behind: u64 },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u64..4, 1u64..20, 0u64..2)
                .prop_map(|(back, count, bump)| Op::Append { back, count, bump }),
            3 => (0u64..20, 0u64..30, 0u64..200)
                .prop_map(|(ahead, lag, budget)| Op::Evict { ahead, lag, budget }),
            1 => (0u64..30).prop_map(|behind| Op::Compact { behind }),
        ]
    }

    proptest::proptest! {
        /// Whatever appends, evictions and compactions happen, the log answers every term
        /// and every read at or above the cache as a plain vector of entries does, and a
        /// read below the cache is answered, after the driver's read-back, with the same
        /// entries.
        #[test]
        fn the_cached_log_reads_like_the_whole_log(ops in proptest::collection::vec(op(), 1..60)) {
            let mut log = GroupLog::new(vec![1]);
            let mut model: Vec<Entry> = Vec::new(); // model[i] is entry i + 1
            let (mut applied, mut truncated) = (0u64, 0u64);
            for op in ops {
                let last = model.len() as u64;
                match op {
                    Op::Append { back, count, bump } => {
                        let first = (last + 1).saturating_sub(back).max(applied + 1);
                        let term = model.last().map_or(1, |e| e.term) + bump;
                        model.truncate(first as usize - 1);
                        let ents: Vec<Entry> = (first..first + count)
                            .map(|i| entry(i, term, format!("{i}/{term}").as_bytes()))
                            .collect();
                        model.extend(ents.iter().cloned());
                        log.append(&ents);
                    }
                    Op::Evict { ahead, lag, budget } => {
                        applied = (applied + ahead).min(last);
                        log.evict(applied, applied.saturating_sub(lag), budget);
                    }
                    Op::Compact { behind } => {
                        let at = applied.saturating_sub(behind);
                        if at > truncated {
                            proptest::prop_assert_eq!(log.compact(at), Some(model[at as usize - 1].term));
                            truncated = at;
                        }
                    }
                }
                let last = model.len() as u64;
                proptest::prop_assert_eq!(log.last_index().unwrap(), last);
                proptest::prop_assert_eq!(log.first_index().unwrap(), truncated + 1);
                proptest::prop_assert!(log.cached_from() <= applied + 1, "an unapplied entry left memory");
                for i in truncated + 1..=last {
                    proptest::prop_assert_eq!(log.term(i).unwrap(), model[i as usize - 1].term);
                }
                let from = log.cached_from();
                let got = log.entries(from, last + 1, None, GetEntriesContext::empty(false)).unwrap();
                proptest::prop_assert_eq!(&got[..], &model[from as usize - 1..]);
                if from > truncated + 1 {
                    // Below the cache: served from an earlier read-back, or after this one.
                    let low = truncated + 1;
                    let mut back = log.entries(low, last + 1, None, GetEntriesContext::empty(true));
                    if unavailable_for_now(&back) {
                        let wanted = log.take_wanted();
                        proptest::prop_assert_eq!((wanted[0].low, wanted[0].high), (low, from));
                        log.set_fetched(model[low as usize - 1..from as usize - 1].to_vec());
                        back = log.entries(low, last + 1, None, GetEntriesContext::empty(true));
                    }
                    let back = back.unwrap();
                    proptest::prop_assert!(!back.is_empty() && low as usize - 1 + back.len() < from as usize);
                    proptest::prop_assert_eq!(&back[..], &model[low as usize - 1..low as usize - 1 + back.len()]);
                }
            }
        }
    }

    #[test]
    fn payloads_round_trip() {
        let mut e = entry(7, 3, b"data");
        e.context = b"ctx".to_vec().into();
        let mut buf = Vec::new();
        encode_entry(&e, &mut buf);
        assert_eq!(decode_entry(7, 3, &buf).expect("decode"), e);
        assert!(decode_entry(7, 3, &buf[..3]).is_err());
        let hs = HardState {
            term: 5,
            vote: 1,
            commit: 9,
            ..HardState::default()
        };
        let cs = GroupLog::new(vec![1, 2, 3]).conf_state().clone();
        let (hs2, cs2) = decode_state(&encode_state(&hs, &cs)).expect("state");
        assert_eq!((hs2, cs2), (hs, cs));
    }
}
