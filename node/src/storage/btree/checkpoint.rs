//! Checkpoints: making the tree durable without stopping writers.
//!
//! Protocol for checkpoint `g` (RUNTIME-NOTES §6.3):
//! 1. Freeze (synchronous, O(dirty pages) bookkeeping only): the current epoch `g` ends;
//!    its dirty nodes and overflow values become immutable (writers copy them on their
//!    next change), and a fresh meta extent is allocated to hold the free list and the
//!    applied log positions as of the freeze.
//! 2. Write every frozen extent to the location it was allocated at (never over a live
//!    page), coalesced into writes of at most 128 KiB, a bounded number in flight.
//! 3. fdatasync the file.
//! 4. Write superblock slot `g % 2` naming the new root and meta extent; fdatasync.
//! 5. Only now mark the frozen nodes clean and let pages freed during epoch `g` be reused.
//!
//! A crash before step 4 completes leaves slot `(g-1) % 2` intact and every page it
//! references untouched (pages are reused only after the next checkpoint is durable), so
//! recovery finds checkpoint `g-1` and replays the log after it.

use std::rc::Rc;

use futures::future::try_join_all;

use super::node::{ExtentRef, Node};
use super::page::{
    ExtentKind, Meta, PAGE_HEADER_LEN, encode_meta, encode_node_body, meta_len, pages_for,
    seal_extent,
};
use super::tree::{Tree, superblock_of, write_superblock};
use crate::storage::error::StorageError;
use crate::storage::io::{Disk, IO_SIZE_MAX};

/// Writes in flight at once during a checkpoint.
const CHECKPOINT_WRITES_IN_FLIGHT_MAX: usize = 16;

/// What a checkpoint did.
#[derive(Debug, Clone, Default)]
pub struct CheckpointInfo {
    /// Its sequence number.
    pub sequence: u64,
    /// Node extents written.
    pub nodes: u64,
    /// Overflow extents written.
    pub overflow: u64,
    /// Bytes written, superblock included.
    pub bytes: u64,
    /// Applied log positions it made durable.
    pub applied: Vec<(u64, u64)>,
}

/// What an extent of the checkpoint holds, encoded only when it is written.
enum Payload {
    Node(Rc<Node>),
    Bytes(ExtentKind, u32, Rc<Vec<u8>>),
}

struct Frozen {
    sequence: u64,
    extents: Vec<(ExtentRef, Payload)>,
    superblock: super::page::Superblock,
    applied: Vec<(u64, u64)>,
    node_pages: Vec<u32>,
    overflow_pages: Vec<u32>,
}

impl<D: Disk> Tree<D> {
    /// Runs one checkpoint. Returns `None` when there was nothing to write, or when another
    /// checkpoint was running (after waiting for it to finish).
    pub async fn checkpoint(&self) -> Result<Option<CheckpointInfo>, StorageError> {
        self.shared.latch.check()?;
        if self.shared.checkpointing.replace(true) {
            // Another checkpoint is running: wait for it rather than start a second one.
            std::future::poll_fn(|cx| {
                if *self.shared.checkpointing.borrow() {
                    self.shared
                        .checkpoint_waiters
                        .borrow_mut()
                        .push(cx.waker().clone());
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(())
                }
            })
            .await;
            return Ok(None);
        }
        let result = self.checkpoint_inner().await;
        *self.shared.checkpointing.borrow_mut() = false;
        for w in self.shared.checkpoint_waiters.borrow_mut().drain(..) {
            w.wake();
        }
        result
    }

    async fn checkpoint_inner(&self) -> Result<Option<CheckpointInfo>, StorageError> {
        let Some(frozen) = self.freeze() else {
            return Ok(None);
        };
        let (page_size, file_id) = {
            let st = self.shared.state.borrow();
            (st.page_size, st.file_id)
        };
        let mut bytes = 0u64;
        let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
        let count = frozen.extents.len();
        for (i, (r, payload)) in frozen.extents.iter().enumerate() {
            let image = match payload {
                Payload::Node(node) => {
                    let mut body = Vec::with_capacity(node.body_size());
                    let (kind, n) = encode_node_body(node, &mut body);
                    assert_eq!(
                        pages_for(body.len(), page_size),
                        r.pages,
                        "extent {r:?} size"
                    );
                    seal(kind, *r, n, &body, page_size, file_id)
                }
                Payload::Bytes(kind, n, data) => seal(*kind, *r, *n, data, page_size, file_id),
            };
            push_runs(&mut runs, r.page as u64 * page_size as u64, &image);
            let last = i + 1 == count;
            if runs.len() > CHECKPOINT_WRITES_IN_FLIGHT_MAX || (last && !runs.is_empty()) {
                let keep = if last { 0 } else { 1 };
                let ready: Vec<(u64, Vec<u8>)> = runs.drain(..runs.len() - keep).collect();
                bytes += self.write_runs(ready).await?;
                crate::rt::yield_if_needed().await;
            }
        }
        self.shared.file.sync().await?;
        write_superblock(
            &self.shared.disk,
            &self.shared.file,
            &frozen.superblock,
            frozen.sequence,
        )
        .await?;
        self.shared.file.sync().await?;
        bytes += crate::storage::io::BLOCK_SIZE as u64;

        let mut st = self.shared.state.borrow_mut();
        for &page in &frozen.node_pages {
            st.cache.mark_clean(page, frozen.sequence);
        }
        for page in &frozen.overflow_pages {
            if let Some(o) = st.overflow.remove(page) {
                st.overflow_bytes -= o.data.len();
            }
        }
        st.durable = frozen.sequence;
        st.durable_root = (frozen.superblock.root.pages > 0).then_some(frozen.superblock.root);
        st.durable_applied = frozen.applied.iter().copied().collect();
        st.release_freed();
        st.counters.checkpoints += 1;
        st.counters.bytes_written += bytes;
        st.counters.fsyncs += 2;
        st.cache.evict_to_budget();
        Ok(Some(CheckpointInfo {
            sequence: frozen.sequence,
            nodes: frozen.node_pages.len() as u64,
            overflow: frozen.overflow_pages.len() as u64,
            bytes,
            applied: frozen.applied,
        }))
    }

    /// Step 1: ends the epoch and encodes everything the checkpoint must write.
    fn freeze(&self) -> Option<Frozen> {
        let mut st = self.shared.state.borrow_mut();
        let sequence = st.epoch;
        let node_pages: Vec<u32> = st
            .dirty
            .remove(&sequence)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        let mut overflow_pages: Vec<u32> = st
            .overflow
            .values()
            .filter(|o| o.epoch == sequence)
            .map(|o| o.extent.page)
            .collect();
        overflow_pages.sort_unstable();
        let freed_any = !st.alloc.pending_upto(sequence).is_empty();
        if node_pages.is_empty() && overflow_pages.is_empty() && !st.applied_changed && !freed_any {
            return None;
        }
        st.epoch += 1;
        st.applied_changed = false;
        let page_size = st.page_size;
        let mut extents = Vec::with_capacity(node_pages.len() + overflow_pages.len() + 1);
        for &page in &node_pages {
            let entry = st
                .cache
                .peek(page)
                .unwrap_or_else(|| panic!("frozen node at page {page} missing from the cache"));
            assert_eq!(
                entry.dirty,
                Some(sequence),
                "page {page} not dirty in epoch {sequence}"
            );
            let r = ExtentRef {
                page,
                pages: entry.pages,
                generation: sequence,
            };
            extents.push((r, Payload::Node(entry.node.clone())));
        }
        for &page in &overflow_pages {
            let o = &st.overflow[&page];
            let payload = Payload::Bytes(ExtentKind::Overflow, o.data.len() as u32, o.data.clone());
            extents.push((o.extent, payload));
        }
        let applied: Vec<(u64, u64)> = st.applied.iter().map(|(s, i)| (*s, *i)).collect();
        // The meta extent is allocated before the free list is taken, so it is not in it;
        // allocation never adds free runs, so the estimate below is an upper bound.
        let pending = st.alloc.pending_upto(sequence);
        let estimate = st.alloc.runs_with(&pending).len() + 1;
        let meta_pages = pages_for(meta_len(estimate, applied.len()), page_size);
        let meta_page = st.alloc.alloc(meta_pages);
        let free = st.alloc.runs_with(&pending);
        let meta_ref = ExtentRef {
            page: meta_page,
            pages: meta_pages,
            generation: sequence,
        };
        let epoch_now = st.epoch;
        st.alloc.free_later(epoch_now, meta_page, meta_pages);
        let mut meta_body = Vec::new();
        encode_meta(
            &Meta {
                free,
                applied: applied.clone(),
            },
            &mut meta_body,
        );
        let used = pages_for(meta_body.len(), page_size);
        assert!(
            used <= meta_pages,
            "meta needs {used} pages, estimated {meta_pages}"
        );
        extents.push((
            meta_ref,
            Payload::Bytes(ExtentKind::Meta, 0, Rc::new(meta_body)),
        ));
        extents.sort_by_key(|(r, _)| r.page);
        let mut superblock = superblock_of(&st, sequence);
        superblock.meta = meta_ref;
        Some(Frozen {
            sequence,
            extents,
            superblock,
            applied,
            node_pages,
            overflow_pages,
        })
    }
}

/// An extent image: header, body, zero padding to its page count.
fn seal(
    kind: ExtentKind,
    r: ExtentRef,
    count: u32,
    body: &[u8],
    page_size: usize,
    file_id: u64,
) -> Vec<u8> {
    let mut buf = vec![0u8; r.pages as usize * page_size];
    buf[PAGE_HEADER_LEN..PAGE_HEADER_LEN + body.len()].copy_from_slice(body);
    seal_extent(&mut buf, kind, r, count, body.len(), file_id);
    buf
}

/// Appends an extent image at `pos` to the write runs, merging it into the previous run when
/// they touch, and keeping every run at most `IO_SIZE_MAX` bytes.
fn push_runs(runs: &mut Vec<(u64, Vec<u8>)>, pos: u64, image: &[u8]) {
    let mut at = 0usize;
    while at < image.len() {
        let here = pos + at as u64;
        let touches = runs
            .last()
            .is_some_and(|(p, d)| p + d.len() as u64 == here && d.len() < IO_SIZE_MAX);
        if touches {
            let (_, d) = runs.last_mut().expect("checked");
            let n = (IO_SIZE_MAX - d.len()).min(image.len() - at);
            d.extend_from_slice(&image[at..at + n]);
            at += n;
        } else {
            let n = IO_SIZE_MAX.min(image.len() - at);
            runs.push((here, image[at..at + n].to_vec()));
            at += n;
        }
    }
}

impl<D: Disk> Tree<D> {
    /// Writes runs concurrently; returns the bytes written.
    async fn write_runs(&self, runs: Vec<(u64, Vec<u8>)>) -> Result<u64, StorageError> {
        let mut bytes = 0u64;
        let mut writes = Vec::with_capacity(runs.len());
        for (pos, data) in runs {
            let mut buf = self.shared.disk.alloc(data.len());
            buf.copy_from_slice(&data);
            bytes += data.len() as u64;
            writes.push(self.shared.file.write(buf, pos));
        }
        try_join_all(writes).await?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_neighbours_and_cap_size() {
        let ps = 4096u64;
        let mut runs = Vec::new();
        push_runs(&mut runs, 2 * ps, &[2u8; 4096]);
        push_runs(&mut runs, 3 * ps, &[3u8; 8192]);
        push_runs(&mut runs, 6 * ps, &[1u8; 4096]);
        push_runs(&mut runs, 10 * ps, &vec![4u8; 40 * 4096]);
        assert_eq!(runs[0].0, 2 * ps);
        assert_eq!(runs[0].1.len(), 3 * 4096);
        assert!(runs.iter().all(|(_, d)| d.len() <= IO_SIZE_MAX));
        let total: usize = runs.iter().map(|(_, d)| d.len()).sum();
        assert_eq!(total, 44 * 4096);
    }
}
