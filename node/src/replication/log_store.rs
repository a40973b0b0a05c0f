//! The raft log of one group, kept in memory and persisted in the shard's write-ahead log.
//!
//! raft-rs reads its log through the synchronous `raft::Storage` trait; the shard serves it
//! from this in-memory copy of every entry not yet compacted. Durability is the WAL's job:
//! the driver appends each new entry as an `Entry` record of the group's stream, the hard
//! state and membership as a `State` record, and compaction (after a checkpoint made the
//! entries redundant) as a `Truncate` record carrying the term of the last compacted entry.
//! On restart the group's log is rebuilt from those records.
//!
//! Invariant: `entries` are contiguous, start at `first_index()`, and every one of them is
//! in the WAL (or in the batch being flushed); `truncated_term` is the term of entry
//! `truncated_index`.

use raft::prelude::{ConfState, Entry, EntryType, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError as RaftStorageError};

use crate::storage::StorageError;
use crate::storage::io::Disk;
use crate::storage::wal::Wal;

/// Bytes of entry payload the driver reads back at once while rebuilding.
const REBUILD_READ_BYTES_MAX: usize = 16 << 20;

/// The log of one raft group.
#[derive(Debug, Default, Clone)]
pub struct GroupLog {
    hard_state: HardState,
    conf_state: ConfState,
    entries: Vec<Entry>,
    truncated_index: u64,
    truncated_term: u64,
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
        let mut next = stream.first_index();
        let last = stream.last_index();
        while next <= last {
            let batch = wal
                .read(group, next, last + 1, REBUILD_READ_BYTES_MAX)
                .await?;
            let Some(end) = batch.last().map(|e| e.index) else {
                break;
            };
            for rec in batch {
                let entry = decode_entry(rec.index, rec.term, &rec.payload).map_err(|e| {
                    StorageError::Invalid(format!("group {group} entry {}: {e}", rec.index))
                })?;
                log.entries.push(entry);
            }
            next = end + 1;
        }
        // After a snapshot the log may still hold a stale suffix of a branch the snapshot
        // replaced; whatever breaks term order is from that branch, never committed here.
        let mut prev = log.truncated_term;
        if let Some(cut) = log.entries.iter().position(|e| {
            let stale = e.term < prev;
            prev = e.term;
            stale
        }) {
            log.entries.truncate(cut);
        }
        if let Some(first) = log.entries.first()
            && first.index != log.truncated_index + 1
        {
            return Err(StorageError::Invalid(format!(
                "group {group}: log starts at {} after truncation at {}",
                first.index, log.truncated_index
            )));
        }
        Ok(log)
    }

    /// Appends entries from a Ready, replacing any conflicting suffix.
    pub fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        let keep = first.index.saturating_sub(self.first_idx()) as usize;
        self.entries.truncate(keep.min(self.entries.len()));
        self.entries.extend_from_slice(ents);
    }

    /// Records a new hard state.
    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Raises the commit index to `index` if it is lower: an applied entry was committed,
    /// even if the hard state recording that did not reach the disk before a crash.
    pub fn commit_at_least(&mut self, index: u64) {
        if self.hard_state.commit < index {
            self.hard_state.commit = index.min(self.last_idx());
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
        if index <= self.truncated_index || index > self.last_idx() {
            return None;
        }
        let term = self.term_of(index)?;
        let drop = (index - self.truncated_index) as usize;
        self.entries.drain(..drop.min(self.entries.len()));
        self.truncated_index = index;
        self.truncated_term = term;
        Some(term)
    }

    /// Replaces the log with a snapshot at (`index`, `term`): every entry goes, the log
    /// continues at `index + 1`, and the commit index is at least `index`.
    pub fn install_snapshot(&mut self, index: u64, term: u64, conf_state: ConfState) {
        self.entries.clear();
        self.truncated_index = index;
        self.truncated_term = term;
        if !conf_state.voters.is_empty() {
            self.conf_state = conf_state;
        }
        if self.hard_state.commit < index {
            self.hard_state.commit = index;
        }
    }

    /// Whether the log knows entry `index` with term `term` (as an entry or as the
    /// truncation point).
    pub fn has_entry(&self, index: u64, term: u64) -> bool {
        self.term_of(index) == Some(term)
    }

    /// The last index the log holds.
    pub fn last(&self) -> u64 {
        self.last_idx()
    }

    /// The index up to which the log is compacted.
    pub fn truncated(&self) -> u64 {
        self.truncated_index
    }

    fn first_idx(&self) -> u64 {
        self.truncated_index + 1
    }

    fn last_idx(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.truncated_index, |e| e.index)
    }

    fn term_of(&self, idx: u64) -> Option<u64> {
        if idx == self.truncated_index {
            return Some(self.truncated_term);
        }
        if idx < self.first_idx() || idx > self.last_idx() {
            return None;
        }
        Some(self.entries[(idx - self.first_idx()) as usize].term)
    }

    /// Number of entries held in memory.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
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
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first_idx() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if high > self.last_idx() + 1 {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        let lo = (low - self.first_idx()) as usize;
        let hi = (high - self.first_idx()) as usize;
        let max = max_size.into().unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(hi - lo);
        let mut size = 0u64;
        for e in &self.entries[lo..hi] {
            size += (e.data.len() + e.context.len() + 16) as u64;
            if !out.is_empty() && size > max {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
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
        Ok(self.last_idx())
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
