//! Recovery's replay of logged batches into the tree.
//!
//! Nobody reads during recovery and only the final state matters, so replay does not apply
//! batch after batch. While the log is read, each batch payload is checked and copied whole
//! into one arena, with the positions of its keys and values; nothing is decoded into
//! separate allocations. Then the ops are sorted by key in chunks (log order kept among
//! equal keys, the last one wins) and applied in key order: a sorted batch reaches each leaf
//! once, turning random inserts into sequential ones.

use std::collections::BTreeMap;

use super::batch;
use super::btree::{Op, Tree};
use super::error::StorageError;
use super::io::Disk;

/// Ops sorted together. More share leaves, at the price of a longer sort.
const CHUNK_OPS_MAX: usize = 1 << 22;

/// Ops handed to the tree at a time (the executor may run other tasks between them).
const APPLY_OPS: usize = 8192;

/// Bytes of one arena block (a larger payload gets a block of its own).
const BLOCK_BYTES: usize = 64 << 20;

/// Values at least this long are kept in a buffer of their own (moved into the tree
/// later, never copied again); shorter ones are copied into the arena.
const OWN_VALUE_BYTES: usize = 1024;

/// One op in the arena. `at` is the position of its key: block number in the high 32
/// bits, offset in the low 32, so positions grow in log order. A short value follows its
/// key in the arena; for a value of its own, the key is followed by its index in `owned`
/// (4 bytes, little-endian).
#[derive(Clone, Copy)]
struct ArenaOp {
    at: u64,
    key_len: u32,
    /// `DELETE`, `OWNED`, or the length of the value that follows the key.
    value_len: u32,
}

const DELETE: u32 = u32::MAX;
const OWNED: u32 = u32::MAX - 1;

/// The batches to replay, in log order.
#[derive(Default)]
pub struct ReplayLog {
    blocks: Vec<Vec<u8>>,
    ops: Vec<ArenaOp>,
    owned: Vec<Vec<u8>>,
    records: u64,
    /// Highest index logged per stream.
    last: BTreeMap<u64, u64>,
}

impl ReplayLog {
    /// Adds the batch `payload` logged at (`stream`, `index`); an invalid payload is an
    /// error (the caller names the record).
    pub fn push(&mut self, stream: u64, index: u64, payload: &[u8]) -> Result<(), String> {
        // What an op stores never exceeds its encoding, so the payload's size suffices.
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= payload.len());
        if !fits {
            self.blocks.push(new_block(payload.len().max(BLOCK_BYTES)));
        }
        let block_no = self.blocks.len() - 1;
        let block = &mut self.blocks[block_no];
        let (ops_before, bytes_before, owned_before) =
            (self.ops.len(), block.len(), self.owned.len());
        let (ops, owned) = (&mut self.ops, &mut self.owned);
        let parsed = batch::for_each_op(payload, |key, value| {
            let at = ((block_no as u64) << 32) | block.len() as u64;
            block.extend_from_slice(&payload[key.clone()]);
            let value_len = match value {
                None => DELETE,
                Some(v) if v.len() >= OWN_VALUE_BYTES => {
                    block.extend_from_slice(&(owned.len() as u32).to_le_bytes());
                    owned.push(payload[v].to_vec());
                    OWNED
                }
                Some(v) => {
                    block.extend_from_slice(&payload[v.clone()]);
                    v.len() as u32
                }
            };
            ops.push(ArenaOp {
                at,
                key_len: key.len() as u32,
                value_len,
            });
        });
        if let Err(reason) = parsed {
            self.ops.truncate(ops_before);
            self.blocks[block_no].truncate(bytes_before);
            self.owned.truncate(owned_before);
            return Err(reason);
        }
        self.records += 1;
        let slot = self.last.entry(stream).or_insert(0);
        *slot = (*slot).max(index);
        Ok(())
    }

    /// Batches added.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn key(&self, op: &ArenaOp) -> &[u8] {
        let at = (op.at & u32::MAX as u64) as usize;
        &self.blocks[(op.at >> 32) as usize][at..at + op.key_len as usize]
    }

    /// The value of a put (None: a delete), taking a value of its own out of `owned`.
    fn take_value(&mut self, op: &ArenaOp) -> Option<Vec<u8>> {
        let at = (op.at & u32::MAX as u64) as usize + op.key_len as usize;
        let block = &self.blocks[(op.at >> 32) as usize];
        match op.value_len {
            DELETE => None,
            OWNED => {
                let i = u32::from_le_bytes(block[at..at + 4].try_into().expect("4 bytes"));
                Some(std::mem::take(&mut self.owned[i as usize]))
            }
            len => Some(block[at..at + len as usize].to_vec()),
        }
    }

    /// Applies every batch to `tree` and records the streams' positions.
    pub async fn apply<D: Disk>(mut self, tree: &Tree<D>) -> Result<(), StorageError> {
        let mut start = 0;
        while start < self.ops.len() {
            let end = (start + CHUNK_OPS_MAX).min(self.ops.len());
            let order = self.sorted_unique(&self.ops[start..end]);
            for part in order.chunks(APPLY_OPS) {
                let ops: Vec<Op> = part
                    .iter()
                    .map(|op| Op {
                        key: self.key(op).to_vec(),
                        value: self.take_value(op),
                    })
                    .collect();
                tree.apply(ops, None).await?;
                crate::rt::yield_if_needed().await;
            }
            start = end;
        }
        for (&stream, &index) in &self.last {
            tree.set_applied(stream, index);
        }
        Ok(())
    }

    /// The ops of `chunk` in key order, only the last one (in log order) of each key.
    fn sorted_unique(&self, chunk: &[ArenaOp]) -> Vec<ArenaOp> {
        // Sort by the 8 bytes past the prefix every key of the chunk shares, as one
        // integer; whole keys are read only when those are equal. The ops are visited in
        // log order here, which reads the arena sequentially.
        let first = chunk.first().map(|op| self.key(op)).unwrap_or(&[]);
        let prefix = chunk.iter().fold(first.len(), |p, op| {
            let k = self.key(op);
            p.min(first.iter().zip(k).take_while(|(a, b)| a == b).count())
        });
        let mut order: Vec<(u64, ArenaOp)> = chunk
            .iter()
            .map(|op| (head(self.key(op), prefix), *op))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.key(&a.1).cmp(self.key(&b.1)))
                .then(a.1.at.cmp(&b.1.at))
        });
        let mut out: Vec<ArenaOp> = Vec::with_capacity(order.len());
        let mut prev_head = None;
        for (h, op) in order {
            match out.last_mut() {
                Some(prev) if prev_head == Some(h) && self.key(prev) == self.key(&op) => *prev = op,
                _ => out.push(op),
            }
            prev_head = Some(h);
        }
        out
    }
}

/// An empty arena block of `bytes` capacity, backed by transparent huge pages where the
/// kernel offers them: replay reads it in key order, which is random in log order, and
/// with 4 KiB pages nearly every access would miss the TLB.
fn new_block(bytes: usize) -> Vec<u8> {
    let block = Vec::with_capacity(bytes);
    const HUGE: usize = 2 << 20;
    let start = (block.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (block.as_ptr() as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside the block's allocation; MADV_HUGEPAGE only
        // changes how the kernel backs it. Failure (no THP support) is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    block
}

/// The 8 bytes of `key` after `prefix` as a big-endian integer (zero-padded: integer order
/// agrees with byte order whenever two heads differ).
fn head(key: &[u8], prefix: usize) -> u64 {
    let rest = key.get(prefix..).unwrap_or(&[]);
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(ops: &[(&[u8], Option<&[u8]>)]) -> Vec<u8> {
        let ops: Vec<Op> = ops
            .iter()
            .map(|(k, v)| Op {
                key: k.to_vec(),
                value: v.map(|v| v.to_vec()),
            })
            .collect();
        let mut out = Vec::new();
        batch::encode(&ops, &mut out);
        out
    }

    #[test]
    fn sorted_unique_keeps_the_last_op_of_each_key_in_key_order() {
        let mut log = ReplayLog::default();
        log.push(1, 1, &payload(&[(b"k2", Some(b"a")), (b"k1", Some(b"b"))]))
            .unwrap();
        log.push(2, 7, &payload(&[(b"k2", None), (b"k10", Some(b"c"))]))
            .unwrap();
        log.push(1, 2, &payload(&[(b"k1", Some(b"d")), (b"", Some(b"e"))]))
            .unwrap();
        let long = vec![7u8; OWN_VALUE_BYTES];
        log.push(3, 1, &payload(&[(b"k3", Some(&long))])).unwrap();
        let order = log.sorted_unique(&log.ops);
        let got: Vec<(Vec<u8>, Option<Vec<u8>>)> = order
            .iter()
            .map(|op| (log.key(op).to_vec(), log.take_value(op)))
            .collect();
        let want: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
            (b"".to_vec(), Some(b"e".to_vec())),
            (b"k1".to_vec(), Some(b"d".to_vec())),
            (b"k10".to_vec(), Some(b"c".to_vec())),
            (b"k2".to_vec(), None),
            (b"k3".to_vec(), Some(long.clone())),
        ];
        assert_eq!(got, want);
        assert_eq!(log.last, BTreeMap::from([(1, 2), (2, 7), (3, 1)]));
        assert_eq!(log.records(), 4);
    }

    #[test]
    fn an_invalid_payload_is_refused_and_leaves_nothing_behind() {
        let mut log = ReplayLog::default();
        let mut bad = payload(&[(b"a", Some(&[1; OWN_VALUE_BYTES])), (b"b", Some(b"2"))]);
        bad.truncate(bad.len() - 1);
        assert!(log.push(1, 1, &bad).is_err());
        assert!(log.ops.is_empty() && log.owned.is_empty() && log.last.is_empty());
        assert!(log.blocks.iter().all(Vec::is_empty));
    }

    #[test]
    fn heads_agree_with_byte_order() {
        assert!(head(b"ab", 0) < head(b"abc", 0));
        assert!(head(b"xab", 1) < head(b"xb", 1));
        assert_eq!(head(b"x", 1), 0);
    }
}
