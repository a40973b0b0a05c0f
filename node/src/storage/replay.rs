//! Recovery's replay of logged batches into the tree.
//!
//! Nobody reads during recovery and only the final state matters, so replay does not apply
//! batch after batch. While the log is read, each batch payload is checked and its keys and
//! values are copied once, into the exact allocations the tree will own. Then the ops are
//! sorted by key in chunks (log order kept among equal keys, the last one wins) and moved
//! into the tree in key order: a sorted batch reaches each leaf once, turning random
//! inserts into sequential ones.
//!
//! Why no arena: on this VM the first write to a page of fresh memory costs ~2.9 s per GiB
//! (the host backs guest memory lazily; 93% of the replaying thread's samples were the
//! kernel's `clear_page_erms`). Copying every record into an arena first and then into the
//! tree touched the log's size of memory twice; now it is touched once.

use std::collections::BTreeMap;

use super::batch;
use super::btree::{Op, Tree};
use super::error::StorageError;
use super::io::Disk;
use super::prefetch::prefetch;

/// Ops sorted together: in practice the whole replay, in one sort. A later chunk's keys
/// land between an earlier one's and split every leaf again; one sort builds each leaf
/// once, in ascending order. 1 GiB of log, 8.6 M ops of 100 B values: apply 2.6-3.5 s in
/// one chunk against 4.1-4.9 s in chunks of 4 M (alternating runs). The sort's (head,
/// position) pairs take 32 bytes per op while it runs (16, and as much again for the radix
/// sort's second buffer), beside the ops' 32 and their keys and values.
const CHUNK_OPS_MAX: usize = 1 << 30;

/// Ops handed to the tree at a time (the executor may run other tasks between them). The
/// tree reads the nodes a batch needs together, so a batch onto a cold tree waits for one
/// round of reads per level (see [`Tree::apply_in_parts`]).
const APPLY_OPS: usize = 8192;

/// How far ahead of the op being moved into a batch its successors' ops are fetched into
/// the cache (key order is not log order: each op is a cache miss otherwise).
const PREFETCH_OPS: usize = 32;

/// One logged op: its key and its value (None: a delete), in the allocations the tree
/// keeps.
struct LoggedOp {
    key: Box<[u8]>,
    value: Option<Box<[u8]>>,
}

/// Ops kept in one allocation: 2 MiB of ops.
const OPS_PER_BLOCK_LOG2: u32 = 16;
const OPS_PER_BLOCK: usize = 1 << OPS_PER_BLOCK_LOG2;

/// Logged ops in log order, in fixed blocks. One vector would double as it grew, and each
/// doubling copies every op so far into memory touched for the first time (1 GiB of log
/// holds 8.6 M ops of 100 B values: the last doubling copied 256 MiB into fresh memory,
/// ~1 s of recovery on this VM).
#[derive(Default)]
struct OpLog {
    /// Every block but the last is full.
    blocks: Vec<Vec<LoggedOp>>,
    /// Length of a prefix every key shares with the first op's (kept as the keys arrive,
    /// while they are in the cache, rather than in a pass over all of them before the
    /// sort). Ops truncated away leave it a prefix common to the rest.
    prefix: usize,
}

impl OpLog {
    fn push(&mut self, op: LoggedOp) {
        self.prefix = match self.blocks.first().and_then(|b| b.first()) {
            None => op.key.len(),
            Some(first) => first.key[..self.prefix]
                .iter()
                .zip(&op.key[..])
                .take_while(|(a, b)| a == b)
                .count(),
        };
        match self.blocks.last_mut() {
            Some(b) if b.len() < OPS_PER_BLOCK => b.push(op),
            _ => {
                let mut b = Vec::with_capacity(OPS_PER_BLOCK);
                b.push(op);
                self.blocks.push(b);
            }
        }
    }

    /// Drops the ops from position `len` on.
    fn truncate(&mut self, len: usize) {
        self.blocks.truncate(len.div_ceil(OPS_PER_BLOCK));
        let full = self.blocks.len().saturating_sub(1) * OPS_PER_BLOCK;
        if let Some(last) = self.blocks.last_mut() {
            last.truncate(len - full);
        }
    }

    fn len(&self) -> usize {
        self.blocks.last().map_or(0, |last| {
            (self.blocks.len() - 1) * OPS_PER_BLOCK + last.len()
        })
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    fn get(&self, i: usize) -> &LoggedOp {
        &self.blocks[i >> OPS_PER_BLOCK_LOG2][i & (OPS_PER_BLOCK - 1)]
    }

    fn get_mut(&mut self, i: usize) -> &mut LoggedOp {
        &mut self.blocks[i >> OPS_PER_BLOCK_LOG2][i & (OPS_PER_BLOCK - 1)]
    }
}

/// The batches to replay, in log order.
#[derive(Default)]
pub struct ReplayLog {
    ops: OpLog,
    records: u64,
    /// Highest index logged per stream.
    last: BTreeMap<u64, u64>,
}

impl ReplayLog {
    /// Adds the batch `payload` logged at (`stream`, `index`); an invalid payload is an
    /// error (the caller names the record).
    pub fn push(&mut self, stream: u64, index: u64, payload: &[u8]) -> Result<(), String> {
        let ops_before = self.ops.len();
        let ops = &mut self.ops;
        let parsed = batch::for_each_op(payload, |key, value| {
            ops.push(LoggedOp {
                key: payload[key].into(),
                value: value.map(|v| payload[v].into()),
            });
        });
        if let Err(reason) = parsed {
            self.ops.truncate(ops_before);
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

    /// Applies every batch to `tree` and records the streams' positions.
    pub async fn apply<D: Disk>(mut self, tree: &Tree<D>) -> Result<(), StorageError> {
        let mut start = 0;
        while start < self.ops.len() {
            let end = (start + CHUNK_OPS_MAX).min(self.ops.len());
            let order = sorted_unique(&self.ops, start, end);
            for part in order.chunks(APPLY_OPS) {
                let mut ops: Vec<Op> = Vec::with_capacity(part.len());
                for (n, &i) in part.iter().enumerate() {
                    if let Some(&ahead) = part.get(n + PREFETCH_OPS) {
                        prefetch(self.ops.get(start + ahead as usize));
                    }
                    let op = self.ops.get_mut(start + i as usize);
                    ops.push(Op {
                        key: std::mem::take(&mut op.key).into_vec(),
                        value: op.value.take().map(Vec::from),
                    });
                }
                tree.apply_in_parts(ops).await?;
                crate::rt::yield_if_needed().await;
            }
            start = end;
        }
        for (&stream, &index) in &self.last {
            tree.set_applied(stream, index);
        }
        Ok(())
    }
}

/// Positions (from `start`) of the ops `start..end` (at most `u32::MAX` of them) in key
/// order, only the last one (in log order) of each key.
fn sorted_unique(ops: &OpLog, start: usize, end: usize) -> Vec<u32> {
    let key = |i: u32| -> &[u8] { &ops.get(start + i as usize).key };
    let n = u32::try_from(end - start).expect("a chunk holds at most u32::MAX ops");
    // Sort by the 8 bytes past the prefix every key pushed shares, as one integer;
    // whole keys are compared only when those are equal, and log order breaks ties.
    let prefix = ops.prefix;
    let mut order: Vec<(u64, u32)> = (0..n).map(|i| (head(key(i), prefix), i)).collect();
    // A radix sort by head; it is stable, so log order stays among equal heads. 8.6 M ops:
    // 0.44 s with a comparison sort.
    radsort::sort_by_key(&mut order, |&(h, _)| h);
    // Equal heads: ordered by their whole keys, log order kept among equal keys.
    let mut from = 0;
    while from < order.len() {
        let h = order[from].0;
        let to = from + order[from..].iter().take_while(|&&(x, _)| x == h).count();
        if to - from > 1 {
            order[from..to].sort_by(|a, b| key(a.1).cmp(key(b.1)));
        }
        from = to;
    }
    let mut out: Vec<u32> = Vec::with_capacity(order.len());
    let mut prev_head = None;
    for (h, i) in order {
        match out.last_mut() {
            Some(prev) if prev_head == Some(h) && key(*prev) == key(i) => *prev = i,
            _ => out.push(i),
        }
        prev_head = Some(h);
    }
    out
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
        let long = vec![7u8; 4096];
        log.push(3, 1, &payload(&[(b"k3", Some(&long))])).unwrap();
        let order = sorted_unique(&log.ops, 0, log.ops.len());
        let got: Vec<(Vec<u8>, Option<Vec<u8>>)> = order
            .iter()
            .map(|&i| {
                let op = log.ops.get(i as usize);
                (op.key.to_vec(), op.value.as_ref().map(|v| v.to_vec()))
            })
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
        let mut bad = payload(&[(b"a", Some(&[1; 4096])), (b"b", Some(b"2"))]);
        bad.truncate(bad.len() - 1);
        assert!(log.push(1, 1, &bad).is_err());
        assert!(log.ops.is_empty() && log.last.is_empty());
    }

    #[test]
    fn ops_span_blocks_and_truncate_across_them() {
        let op = |i: usize| LoggedOp {
            key: (i as u64).to_be_bytes().into(),
            value: None,
        };
        let mut ops = OpLog::default();
        for i in 0..OPS_PER_BLOCK + 5 {
            ops.push(op(i));
        }
        assert_eq!((ops.len(), ops.blocks.len()), (OPS_PER_BLOCK + 5, 2));
        ops.truncate(OPS_PER_BLOCK - 3);
        assert_eq!((ops.len(), ops.blocks.len()), (OPS_PER_BLOCK - 3, 1));
        ops.push(op(7));
        ops.push(op(8));
        ops.push(op(9));
        ops.push(op(3));
        assert_eq!(ops.len(), OPS_PER_BLOCK + 1);
        assert_eq!(&*ops.get(OPS_PER_BLOCK - 1).key, &9u64.to_be_bytes());
        // Keys 0..OPS_PER_BLOCK-3, then 7, 8, 9, 3 again: the later ops of 3, 7, 8, 9 win.
        let order = sorted_unique(&ops, 0, ops.len());
        assert_eq!(order.len(), OPS_PER_BLOCK - 3);
        assert_eq!(order[3], OPS_PER_BLOCK as u32);
        assert_eq!(order[7], OPS_PER_BLOCK as u32 - 3);
        assert_eq!(order[10], 10);
        ops.truncate(0);
        assert!(ops.is_empty() && ops.blocks.is_empty());
    }

    proptest::proptest! {
        /// Keys from a two-letter alphabet: many share their heads, many repeat; with
        /// `shared`, every key starts with the same 12 bytes (the prefix the sort skips).
        #[test]
        fn sorted_unique_agrees_with_a_map(
            keys in proptest::collection::vec(proptest::collection::vec(b'a'..=b'b', 0..12), 0..300),
            shared in proptest::bool::ANY,
        ) {
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .map(|k| if shared { [&b"tenant-0042/"[..], &k].concat() } else { k })
                .collect();
            let mut ops = OpLog::default();
            let mut want = BTreeMap::new();
            for (i, k) in keys.iter().enumerate() {
                ops.push(LoggedOp { key: k.as_slice().into(), value: None });
                want.insert(k.clone(), i as u32);
            }
            let got = sorted_unique(&ops, 0, ops.len());
            proptest::prop_assert_eq!(got, want.into_values().collect::<Vec<u32>>());
        }
    }

    #[test]
    fn heads_agree_with_byte_order() {
        assert!(head(b"ab", 0) < head(b"abc", 0));
        assert!(head(b"xab", 1) < head(b"xb", 1));
        assert_eq!(head(b"x", 1), 0);
    }
}
