//! Raft snapshots: the frames that carry a partition's key range from a leader to a
//! lagging follower, and where the follower keeps them until raft accepts the snapshot.
//!
//! A leader whose log no longer holds what a follower needs (compacted after a checkpoint)
//! streams the group's key range as the newest durable checkpoint holds it (a pinned,
//! copy-on-write version of the tree: consistent at one applied index, read while writers go
//! on) in chunks on the transport's snapshot lane, at most [`CHUNKS_UNACKED_MAX`] chunks
//! ahead of the follower's acknowledgements, then sends raft's `MsgSnapshot` (its metadata
//! names that index and its term) as the last frame. The follower writes each chunk into a
//! staging key range of its tree (never the whole snapshot in memory), and steps the
//! `MsgSnapshot` into raft once every chunk arrived. If raft accepts it, the driver replaces
//! the group's range with the staged copy, checkpoints, and only then truncates the group's
//! log up to the snapshot (so a crash at any point leaves either the old state with its log
//! or the new state with the [`snapshot_term_key`] record that lets the log be rebuilt).
//!
//! Frame layout (little endian): `kind u8 ‖ group u64 ‖ id u64 ‖ body`, where the body of a
//! chunk is `seq u32 ‖ count u32 ‖ (key_len u32 ‖ key ‖ value_len u32 ‖ value)*`, of an
//! acknowledgement `seq u32`, of the final frame `seq u32 ‖ raft batch (envelope)`, and of
//! an abort a UTF-8 reason.
//!
//! The same lane carries one frame that is not about snapshots: a leader's notice that an
//! idle group hibernates (`id` is the leader's term, no body). Its followers then stop
//! ticking the group until any message for it arrives (see the driver's hibernation).

use std::time::Duration;

/// Bytes of keys and values per chunk (about; a chunk holds at least one entry).
pub const CHUNK_BYTES: usize = 256 << 10;
/// Entries per chunk at most.
pub const CHUNK_ENTRIES_MAX: usize = 4096;
/// Chunks a sender keeps in flight before waiting for acknowledgements.
pub const CHUNKS_UNACKED_MAX: u32 = 8;
/// A sender gives up (and raft retries later) after waiting this long for an answer.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(15);

/// Prefix of every key the snapshot layer keeps in the tree: above every table's keys
/// (table ids are allocated upwards from 1 and never reach `u64::MAX`).
const PREFIX: &[u8] = b"\xff\xff\xff\xff\xff\xff\xff\xffsnap";

/// A snapshot frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Entries of the key range, in key order.
    Chunk {
        /// The group.
        group: u64,
        /// The transfer (chosen by the sender).
        id: u64,
        /// Position of the chunk in the transfer, from 0.
        seq: u32,
        /// Keys and values.
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The receiver holds frame `seq` (and every one before it).
    Ack {
        /// The group.
        group: u64,
        /// The transfer.
        id: u64,
        /// The frame acknowledged.
        seq: u32,
    },
    /// Every chunk was sent; `message` is the raft batch holding the `MsgSnapshot`.
    Done {
        /// The group.
        group: u64,
        /// The transfer.
        id: u64,
        /// Number of chunks sent (the position of this frame).
        seq: u32,
        /// The envelope-encoded raft message.
        message: Vec<u8>,
    },
    /// The leader of `group` in `term` stops ticking it: its followers may too.
    Hibernate {
        /// The group.
        group: u64,
        /// The leader's term.
        term: u64,
    },
    /// The other side gave up on the transfer.
    Abort {
        /// The group.
        group: u64,
        /// The transfer.
        id: u64,
        /// Why.
        reason: String,
    },
}

const KIND_CHUNK: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_DONE: u8 = 3;
const KIND_ABORT: u8 = 4;
const KIND_HIBERNATE: u8 = 5;

impl Frame {
    /// The group the frame is about.
    pub fn group(&self) -> u64 {
        match self {
            Frame::Chunk { group, .. }
            | Frame::Ack { group, .. }
            | Frame::Done { group, .. }
            | Frame::Hibernate { group, .. }
            | Frame::Abort { group, .. } => *group,
        }
    }

    /// Encodes the frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let head = |out: &mut Vec<u8>, kind: u8, group: u64, id: u64| {
            out.push(kind);
            out.extend_from_slice(&group.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        };
        match self {
            Frame::Chunk {
                group,
                id,
                seq,
                entries,
            } => {
                let size: usize = entries.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
                out.reserve(25 + size);
                head(&mut out, KIND_CHUNK, *group, *id);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
                for (k, v) in entries {
                    out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                    out.extend_from_slice(k);
                    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    out.extend_from_slice(v);
                }
            }
            Frame::Ack { group, id, seq } => {
                head(&mut out, KIND_ACK, *group, *id);
                out.extend_from_slice(&seq.to_le_bytes());
            }
            Frame::Done {
                group,
                id,
                seq,
                message,
            } => {
                head(&mut out, KIND_DONE, *group, *id);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(message);
            }
            Frame::Hibernate { group, term } => head(&mut out, KIND_HIBERNATE, *group, *term),
            Frame::Abort { group, id, reason } => {
                head(&mut out, KIND_ABORT, *group, *id);
                out.extend_from_slice(reason.as_bytes());
            }
        }
        out
    }

    /// Decodes a frame, checking every length against the bytes.
    pub fn decode(b: &[u8]) -> Result<Frame, String> {
        let mut r = Reader { b, at: 0 };
        let kind = r.take(1)?[0];
        let group = r.u64()?;
        let id = r.u64()?;
        let frame = match kind {
            KIND_CHUNK => {
                let seq = r.u32()?;
                let count = r.u32()? as usize;
                // Each entry takes at least 8 bytes: a count beyond that is a lie.
                if count > r.left() / 8 {
                    return Err(format!(
                        "chunk claims {count} entries in {} bytes",
                        r.left()
                    ));
                }
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let kl = r.u32()? as usize;
                    let k = r.take(kl)?.to_vec();
                    let vl = r.u32()? as usize;
                    let v = r.take(vl)?.to_vec();
                    entries.push((k, v));
                }
                Frame::Chunk {
                    group,
                    id,
                    seq,
                    entries,
                }
            }
            KIND_ACK => Frame::Ack {
                group,
                id,
                seq: r.u32()?,
            },
            KIND_DONE => {
                let seq = r.u32()?;
                let message = r.take(r.left())?.to_vec();
                Frame::Done {
                    group,
                    id,
                    seq,
                    message,
                }
            }
            KIND_HIBERNATE => Frame::Hibernate { group, term: id },
            KIND_ABORT => Frame::Abort {
                group,
                id,
                reason: String::from_utf8_lossy(r.take(r.left())?).into_owned(),
            },
            k => return Err(format!("unknown snapshot frame kind {k}")),
        };
        if r.left() != 0 {
            return Err(format!("{} bytes after the snapshot frame", r.left()));
        }
        Ok(frame)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!(
                "snapshot frame truncated: {n} bytes wanted at offset {}, {} left",
                self.at,
                self.left()
            ));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// The staging key prefix of `group`: a received chunk's key `k` is kept at this ‖ `k`.
pub fn staging_prefix(group: u64) -> Vec<u8> {
    let mut p = PREFIX.to_vec();
    p.extend_from_slice(b"/stage/");
    p.extend_from_slice(&group.to_be_bytes());
    p
}

/// Every staging key of every group: `[start, end)`.
pub fn staging_all() -> (Vec<u8>, Vec<u8>) {
    let mut start = PREFIX.to_vec();
    start.extend_from_slice(b"/stage/");
    let mut end = PREFIX.to_vec();
    end.extend_from_slice(b"/stage0"); // '0' follows '/'
    (start, end)
}

/// The key recording the (index, term) of the last snapshot installed in `group`: after a
/// crash between the checkpoint holding the snapshot and the log truncation, it tells the
/// log where it now starts.
pub fn snapshot_term_key(group: u64) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(b"/term/");
    k.extend_from_slice(&group.to_be_bytes());
    k
}

/// Encodes a snapshot's (index, term) for [`snapshot_term_key`].
pub fn encode_index_term(index: u64, term: u64) -> Vec<u8> {
    let mut v = index.to_le_bytes().to_vec();
    v.extend_from_slice(&term.to_le_bytes());
    v
}

/// Decodes [`encode_index_term`].
pub fn decode_index_term(v: &[u8]) -> Option<(u64, u64)> {
    if v.len() != 16 {
        return None;
    }
    Some((
        u64::from_le_bytes(v[..8].try_into().ok()?),
        u64::from_le_bytes(v[8..].try_into().ok()?),
    ))
}

/// The smallest key greater than every key starting with `prefix` (None: there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_lies() {
        let frames = [
            Frame::Chunk {
                group: 7,
                id: 9,
                seq: 3,
                entries: vec![(b"a".to_vec(), b"1".to_vec()), (b"bb".to_vec(), Vec::new())],
            },
            Frame::Ack {
                group: 7,
                id: 9,
                seq: 3,
            },
            Frame::Done {
                group: 7,
                id: 9,
                seq: 4,
                message: b"raft".to_vec(),
            },
            Frame::Abort {
                group: 7,
                id: 9,
                reason: "gone".into(),
            },
            Frame::Hibernate { group: 7, term: 3 },
        ];
        for f in &frames {
            let bytes = f.encode();
            assert_eq!(&Frame::decode(&bytes).expect("decode"), f);
            for cut in 0..bytes.len() {
                if let Ok(g) = Frame::decode(&bytes[..cut]) {
                    // Only the variable tails (done, abort) may decode when cut.
                    assert!(
                        matches!(g, Frame::Done { .. } | Frame::Abort { .. }),
                        "{g:?}"
                    );
                }
            }
        }
        let mut lie = frames[0].encode();
        lie[21..25].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Frame::decode(&lie).is_err());
        assert!(Frame::decode(&[9; 30]).is_err());
    }

    #[test]
    fn keys_sit_above_tables_and_apart() {
        let s = staging_prefix(5);
        let (lo, hi) = staging_all();
        assert!(s.as_slice() >= lo.as_slice() && s.as_slice() < hi.as_slice());
        assert!(snapshot_term_key(5).as_slice() >= hi.as_slice());
        assert!(s.as_slice() > u64::MAX.wrapping_sub(1).to_be_bytes().as_slice());
        assert_eq!(prefix_end(b"ab\xff"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(decode_index_term(&encode_index_term(4, 2)), Some((4, 2)));
    }
}
