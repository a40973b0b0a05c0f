//! In-memory index of the log: where each stream's entries live, and which segments are
//! still needed.
//!
//! Rebuilt from the records during recovery and kept current as flushes complete. Entry
//! locations let a stream's range be read back without scanning; per-segment summaries
//! (highest index per stream, and which streams' newest truncation or state record lives
//! there) decide when a segment can be recycled: only once every stream in it has been
//! truncated past it, and after re-appending any newest truncation or state record it holds.
//!
//! Invariant: a stream's entries are kept sorted by index with no duplicates; appending an
//! entry at index `i` drops every indexed entry at or above `i` (raft's suffix overwrite).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::format::{Record, RecordKind};

/// Where one record lives on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLoc {
    /// Segment sequence number.
    pub segment: u64,
    /// Byte offset of the record in the segment file.
    pub offset: u64,
    /// Encoded length of the record.
    pub len: u32,
}

/// One indexed entry of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLoc {
    /// Position in the stream.
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// Where it lives.
    pub loc: RecordLoc,
}

/// What the log knows about one stream.
#[derive(Debug, Default, Clone)]
pub struct StreamIndex {
    /// Entries not truncated, sorted by index.
    pub entries: VecDeque<EntryLoc>,
    /// Entries with index <= this are truncated away.
    pub truncated_upto: u64,
    /// Term of entry `truncated_upto` (as given to the truncation).
    pub truncated_term: u64,
    /// Segment holding the newest truncation record of this stream.
    pub truncate_segment: Option<u64>,
    /// Newest state payload and the segment holding it.
    pub state: Option<(Vec<u8>, u64)>,
}

impl StreamIndex {
    /// Index of the first entry still available (`truncated_upto + 1` when empty).
    pub fn first_index(&self) -> u64 {
        self.entries
            .front()
            .map_or(self.truncated_upto + 1, |e| e.index)
    }

    /// Index of the last entry (`truncated_upto` when empty).
    pub fn last_index(&self) -> u64 {
        self.entries.back().map_or(self.truncated_upto, |e| e.index)
    }
}

/// Records that must be re-appended before a segment is recycled: (stream, truncated up
/// to, its term) triples and (stream, state payload) pairs.
pub type StickyRecords = (Vec<(u64, u64, u64)>, Vec<(u64, Vec<u8>)>);

/// Per-segment summary used for recycling decisions.
#[derive(Debug, Default, Clone)]
pub struct SegmentSummary {
    /// Highest entry index per stream in this segment.
    pub max_index: HashMap<u64, u64>,
}

/// The whole index: streams and segment summaries.
#[derive(Debug, Default)]
pub struct LogIndex {
    /// Streams by id.
    pub streams: HashMap<u64, StreamIndex>,
    /// Summaries of live segments by sequence number.
    pub segments: BTreeMap<u64, SegmentSummary>,
}

impl LogIndex {
    /// Accounts for a record that is now on disk at `loc`.
    pub fn add(&mut self, rec: &Record<'_>, loc: RecordLoc) {
        let stream = self.streams.entry(rec.stream).or_default();
        match rec.kind {
            RecordKind::Entry => {
                if rec.index <= stream.truncated_upto {
                    return;
                }
                while stream.entries.back().is_some_and(|e| e.index >= rec.index) {
                    stream.entries.pop_back();
                }
                stream.entries.push_back(EntryLoc {
                    index: rec.index,
                    term: rec.term,
                    loc,
                });
                let summary = self.segments.entry(loc.segment).or_default();
                let max = summary.max_index.entry(rec.stream).or_insert(0);
                *max = (*max).max(rec.index);
            }
            RecordKind::Truncate => {
                if rec.index >= stream.truncated_upto {
                    stream.truncated_term = rec.term;
                }
                stream.truncated_upto = stream.truncated_upto.max(rec.index);
                let upto = stream.truncated_upto;
                while stream.entries.front().is_some_and(|e| e.index <= upto) {
                    stream.entries.pop_front();
                }
                stream.truncate_segment = Some(loc.segment);
                self.segments.entry(loc.segment).or_default();
            }
            RecordKind::State => {
                stream.state = Some((rec.payload.to_vec(), loc.segment));
                self.segments.entry(loc.segment).or_default();
            }
        }
    }

    /// Whether segment `seq` holds nothing still needed, apart from newest truncation or
    /// state records (which the caller re-appends before recycling).
    pub fn entries_obsolete(&self, seq: u64) -> bool {
        let Some(summary) = self.segments.get(&seq) else {
            return true;
        };
        summary.max_index.iter().all(|(stream, max)| {
            self.streams
                .get(stream)
                .is_none_or(|s| *max <= s.truncated_upto)
        })
    }

    /// Records whose newest copy lives in segment `seq` and must be re-appended before it
    /// is recycled: (stream, truncated_upto) and (stream, state payload).
    pub fn sticky_records(&self, seq: u64) -> StickyRecords {
        let mut truncations = Vec::new();
        let mut states = Vec::new();
        for (&id, s) in &self.streams {
            if s.truncate_segment == Some(seq) {
                truncations.push((id, s.truncated_upto, s.truncated_term));
            }
            if let Some((payload, at)) = &s.state
                && *at == seq
            {
                states.push((id, payload.clone()));
            }
        }
        truncations.sort_unstable();
        states.sort_unstable();
        (truncations, states)
    }

    /// Forgets segment `seq` (it is being recycled).
    pub fn remove_segment(&mut self, seq: u64) {
        self.segments.remove(&seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(segment: u64, offset: u64) -> RecordLoc {
        RecordLoc {
            segment,
            offset,
            len: 40,
        }
    }

    fn entry(stream: u64, index: u64, term: u64) -> Record<'static> {
        Record {
            kind: RecordKind::Entry,
            stream,
            term,
            index,
            payload: b"",
        }
    }

    #[test]
    fn suffix_overwrite_and_truncation() {
        let mut ix = LogIndex::default();
        for i in 1..=5 {
            ix.add(&entry(1, i, 1), loc(1, i * 64));
        }
        ix.add(&entry(1, 3, 2), loc(2, 0));
        let s = &ix.streams[&1];
        assert_eq!(s.last_index(), 3);
        assert_eq!(s.entries.back().map(|e| e.term), Some(2));
        ix.add(
            &Record {
                kind: RecordKind::Truncate,
                stream: 1,
                term: 0,
                index: 2,
                payload: b"",
            },
            loc(2, 64),
        );
        assert_eq!(ix.streams[&1].first_index(), 3);
        assert!(
            !ix.entries_obsolete(1),
            "segment 1 still holds entry 3 of term 1? no: max 5"
        );
        ix.add(
            &Record {
                kind: RecordKind::Truncate,
                stream: 1,
                term: 0,
                index: 5,
                payload: b"",
            },
            loc(2, 128),
        );
        assert!(ix.entries_obsolete(1));
        assert!(!ix.entries_obsolete(2) || ix.streams[&1].truncated_upto >= 3);
        assert_eq!(ix.sticky_records(2).0, vec![(1, 5, 0)]);
    }
}
