//! The tree of one shard: opening (recovery of the newest checkpoint), reads, scans and
//! atomic batches over the page cache, reading missing extents from disk as needed.
//!
//! Every read and every batch pins the epoch it started in, so no extent it may still
//! follow is reused under it (see `alloc.rs`). Nothing here holds a `RefCell` borrow across
//! an await: the synchronous core (`state.rs`) is entered, reports what it is missing, and
//! is entered again after the read.
//!
//! Back-of-the-envelope: a get over cached nodes is a few binary searches (sub-microsecond);
//! a miss costs one 4 KiB O_DIRECT read per missing level, usually only the leaf.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::rc::Rc;

use futures::future::try_join_all;

use super::alloc::Allocator;
use super::node::{ExtentRef, Node, Value};
use super::page::{
    ExtentKind, Superblock, decode_meta, decode_node, decode_superblock, encode_superblock,
    verify_extent,
};
use super::state::{Find, Loaded, Op, ScanStep, Seek, TreeCounters, TreeState, beyond};
use crate::storage::error::StorageError;
use crate::storage::io::{BLOCK_SIZE, Disk, File, IO_SIZE_MAX, Latch, sync_dir};
use crate::storage::page_cache::{CacheEntry, CacheStats, PageCache};
use crate::storage::prefetch::prefetch;
use crate::storage::wal::segment::read_range;

/// Largest key accepted.
pub const KEY_SIZE_MAX: usize = 4096;
/// Largest value accepted (an encoded 400 KB DynamoDB item plus headroom).
pub const VALUE_SIZE_MAX: usize = 512 * 1024;
/// Supported page sizes.
pub const PAGE_SIZE_MIN: usize = 4096;
/// Supported page sizes.
pub const PAGE_SIZE_MAX: usize = 64 * 1024;

/// Tunables of a tree.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// Page size for a new file (a power of two, 4 to 64 KiB); an existing file keeps its own.
    pub page_size: usize,
    /// Page cache budget in bytes.
    pub cache_bytes: usize,
    /// Values larger than this go to overflow extents.
    pub value_inline_max: usize,
    /// Id for a new file (checksum seed); random by default.
    pub file_id: Option<u64>,
}

impl Default for TreeConfig {
    fn default() -> Self {
        Self {
            page_size: 4096,
            cache_bytes: 64 << 20,
            value_inline_max: 1024,
            file_id: None,
        }
    }
}

impl TreeConfig {
    /// Checks the fields, naming the one at fault.
    pub fn validate(&self) -> Result<(), StorageError> {
        let ok_size = self.page_size.is_power_of_two()
            && (PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&self.page_size);
        if !ok_size {
            return Err(StorageError::Invalid(format!(
                "page_size {} must be a power of two from {PAGE_SIZE_MIN} to {PAGE_SIZE_MAX}",
                self.page_size
            )));
        }
        if self.value_inline_max > self.page_size / 2 {
            return Err(StorageError::Invalid(format!(
                "value_inline_max {} must be at most page_size / 2 ({})",
                self.value_inline_max,
                self.page_size / 2
            )));
        }
        if self.cache_bytes < 16 * self.page_size {
            return Err(StorageError::Invalid(format!(
                "cache_bytes {} must hold at least 16 pages",
                self.cache_bytes
            )));
        }
        Ok(())
    }
}

pub(super) struct Shared<D: Disk> {
    pub(super) disk: D,
    pub(super) file: File<D>,
    pub(super) latch: Latch,
    pub(super) state: RefCell<TreeState>,
    pub(super) checkpointing: RefCell<bool>,
    pub(super) checkpoint_waiters: RefCell<Vec<std::task::Waker>>,
}

/// A copy-on-write B+tree in one file.
pub struct Tree<D: Disk> {
    pub(super) shared: Rc<Shared<D>>,
}

impl<D: Disk> Clone for Tree<D> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

/// A snapshot of the tree's counters.
#[derive(Debug, Clone)]
pub struct TreeStats {
    /// Page size.
    pub page_size: usize,
    /// Pages in the file's used region.
    pub pages: u64,
    /// Pages free for reuse now.
    pub pages_free: u64,
    /// Cache counters.
    pub cache: CacheStats,
    /// Sequence of the newest durable checkpoint.
    pub checkpoint_sequence: u64,
    /// Tree counters.
    pub counters: TreeCounters,
}

/// Name of the tree file in a shard directory.
pub const TREE_FILE_NAME: &str = "tree.db";

/// Most extents a scan reads at once: the one it needs plus siblings it will need next.
const SCAN_READS_MAX: usize = 16;

/// Most overflow values a scan reads at once, once it knows which it returns.
const OVERFLOW_READS_MAX: usize = 64;

/// Node reads an apply keeps in flight at once (a replayed chunk of sorted ops may need
/// thousands of cold leaves).
const LOADS_IN_FLIGHT: usize = 64;

/// Ops [`Tree::apply_in_parts`] applies at a time: few enough that the keys it fetched into
/// the cache first are still there when it compares them. Recovery's replay of 8.6 M ops
/// (keys in key order, allocated in log order) took 1.31 s in the tree in parts of 8192,
/// 1.11 s in parts of 1024, 1.18 s in parts of 64 (more descents), 2.0 s without the
/// prefetch.
const PART_OPS: usize = 1024;

impl<D: Disk> Tree<D> {
    /// Opens the tree file in `dir` (creating it if absent) at its newest valid checkpoint.
    pub async fn open(
        disk: D,
        dir: &Path,
        config: TreeConfig,
        latch: Latch,
    ) -> Result<Self, StorageError> {
        config.validate()?;
        let path = dir.join(TREE_FILE_NAME);
        let existed = disk
            .exists(&path)
            .await
            .map_err(|e| StorageError::io("stat", &path, e))?;
        let file = File::open(&disk, &path, true, &latch).await?;
        if !existed {
            sync_dir(&disk, dir, &latch).await?;
        }
        let size = file.size().await?;
        let state = if size == 0 {
            let state = new_state(&config);
            write_superblock(&disk, &file, &superblock_of(&state, 0), 0).await?;
            file.sync().await?;
            state
        } else {
            load_state(&file, &config).await?
        };
        Ok(Self {
            shared: Rc::new(Shared {
                disk,
                file,
                latch,
                state: RefCell::new(state),
                checkpointing: RefCell::new(false),
                checkpoint_waiters: RefCell::new(Vec::new()),
            }),
        })
    }

    /// Reads the value of `key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.shared.latch.check()?;
        let mut pin = Pin::new(&self.shared);
        let mut loaded = Loaded::new();
        loop {
            let step = self.shared.state.borrow_mut().find(key, &loaded);
            match step {
                Find::Absent => return Ok(None),
                Find::Inline(v) => return Ok(Some(v)),
                Find::Overflow(extent, len) => {
                    pin.ensure();
                    return self.read_overflow(extent, len).await.map(Some);
                }
                Find::Need(r) => {
                    pin.ensure();
                    let node = self.load(r).await?;
                    loaded.insert(r.page, node);
                }
            }
        }
    }

    /// Reads up to `limit` entries within `lo..hi` in key order (or reverse order), stopping
    /// once about `max_bytes` of keys and values are collected (at least one entry).
    pub async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.scan_version(None, lo, hi, reverse, limit, max_bytes)
            .await
    }

    /// A view of the newest durable checkpoint: reads of it see the tree exactly as that
    /// checkpoint holds it, whatever is applied or checkpointed meanwhile; its pages are not
    /// reused while the view lives.
    pub fn checkpoint_view(&self) -> CheckpointView<D> {
        let mut st = self.shared.state.borrow_mut();
        let epoch = st.pin_durable();
        CheckpointView {
            tree: self.clone(),
            root: st.durable_root,
            applied: st.durable_applied.clone(),
            sequence: st.durable,
            epoch,
        }
    }

    /// Whether a checkpoint is running.
    pub fn checkpoint_running(&self) -> bool {
        *self.shared.checkpointing.borrow()
    }

    /// The current epoch and the sequence of the newest durable checkpoint: what is applied
    /// now is durable once `durable >= epoch`.
    pub fn epochs(&self) -> (u64, u64) {
        let st = self.shared.state.borrow();
        (st.epoch, st.durable)
    }

    /// A scan of the live tree (`root` None) or of the version rooted at `root` (pinned by
    /// its caller).
    async fn scan_version(
        &self,
        root: Option<Option<ExtentRef>>,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.shared.latch.check()?;
        let mut pin = Pin::new(&self.shared);
        let mut loaded = Loaded::new();
        let mut out: Vec<(Vec<u8>, Value)> = Vec::new();
        let mut bytes = 0usize;
        let mut leaves = 0usize;
        let mut seek = initial_seek(lo, hi, reverse);
        while out.len() < limit && bytes < max_bytes.max(1) {
            let Some(at) = seek.take() else { break };
            let ahead = read_ahead(leaves, out.len(), bytes, limit, max_bytes);
            let step = {
                let mut st = self.shared.state.borrow_mut();
                let from = root.unwrap_or(st.root);
                st.scan_leaf_from(from, &at, lo, hi, limit - out.len(), ahead, &loaded)
            };
            match step {
                ScanStep::Need(r, more) => {
                    pin.ensure();
                    if more.is_empty() {
                        let node = self.load(r).await?;
                        loaded.insert(r.page, node);
                    } else {
                        self.shared.state.borrow_mut().counters.extents_read_ahead +=
                            more.len() as u64;
                        let all: Vec<ExtentRef> = std::iter::once(r).chain(more).collect();
                        let nodes = try_join_all(all.iter().map(|&x| self.load(x))).await?;
                        for (x, node) in all.iter().zip(nodes) {
                            loaded.insert(x.page, node);
                        }
                    }
                    seek = Some(at);
                }
                ScanStep::Entries(entries, next) => {
                    leaves += 1;
                    for (k, v) in entries {
                        if bytes >= max_bytes && !out.is_empty() {
                            break;
                        }
                        bytes += k.len() + value_len(&v);
                        out.push((k, v));
                    }
                    seek = next.filter(|s| !beyond(s, lo, hi));
                    if loaded.len() > 64 {
                        loaded.clear();
                    }
                }
            }
            pin.ensure();
            crate::rt::yield_if_needed().await;
        }
        pin.ensure();
        let mut result = Vec::with_capacity(out.len());
        let mut overflow = Vec::new();
        for (k, v) in out {
            match v {
                Value::Inline(b) => result.push((k, b.into_vec())),
                Value::Overflow { extent, len } => {
                    overflow.push((result.len(), extent, len));
                    result.push((k, Vec::new()));
                }
            }
        }
        for reads in overflow.chunks(OVERFLOW_READS_MAX) {
            let values =
                try_join_all(reads.iter().map(|&(_, e, len)| self.read_overflow(e, len))).await?;
            for (&(at, _, _), v) in reads.iter().zip(values) {
                result[at].1 = v;
            }
        }
        Ok(result)
    }

    /// Applies a batch of puts and deletes atomically (no reader sees part of it), recording
    /// `applied` as the log position it came from. Not durable until a checkpoint; the log
    /// is what makes it durable before that.
    pub async fn apply(
        &self,
        mut ops: Vec<Op>,
        applied: Option<(u64, u64)>,
    ) -> Result<(), StorageError> {
        self.shared.latch.check()?;
        validate_ops(&ops)?;
        let mut pin = Pin::new(&self.shared);
        let mut loaded = Loaded::new();
        if ops.len() == 1 {
            // The common case, every node cached: one descent. Otherwise the op comes back
            // untouched and takes the general way below, which loads what is missing without
            // changing anything first (so the loads are bounded by the tree's depth).
            let op = ops.pop().expect("one op");
            let mut st = self.shared.state.borrow_mut();
            match st.apply_one(op, &mut loaded) {
                Ok(()) => {
                    drop(st);
                    return self.finish_apply(applied);
                }
                Err((back, _)) => ops.push(back),
            }
        }
        loop {
            let missing = self.shared.state.borrow_mut().missing_for(&ops, &loaded);
            if missing.is_empty() {
                break;
            }
            pin.ensure();
            self.load_all(&missing, &mut loaded).await?;
        }
        self.shared.state.borrow_mut().apply_batch(ops, &mut loaded);
        self.finish_apply(applied)
    }

    /// Applies `ops` as [`Tree::apply`] does, but not atomically: between the loads of the
    /// nodes it needs, a reader could see some ops applied and others not. Only for
    /// recovery, where nobody reads until it ends.
    ///
    /// The ops are applied in parts of [`PART_OPS`], whose keys are fetched into the cache
    /// first. A part goes until an op needs a node that is not cached; then the nodes the
    /// rest of the whole batch needs next are read together, and it goes on. A batch onto
    /// cached nodes (most of a replayed log) is thus never walked for missing nodes, and
    /// one onto a cold tree waits for one round of reads per level.
    pub(crate) async fn apply_in_parts(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        self.shared.latch.check()?;
        validate_ops(&ops)?;
        let mut pin = Pin::new(&self.shared);
        let mut loaded = Loaded::new();
        let mut ops = ops.into_iter();
        let mut part: Vec<Op> = Vec::with_capacity(PART_OPS);
        loop {
            if part.is_empty() {
                part.extend(ops.by_ref().take(PART_OPS));
                if part.is_empty() {
                    break;
                }
                for op in &part {
                    prefetch(op.key.as_ptr());
                }
            }
            part = self
                .shared
                .state
                .borrow_mut()
                .apply_until_missing(part, &mut loaded);
            if part.is_empty() {
                continue;
            }
            let missing = self
                .shared
                .state
                .borrow_mut()
                .missing_for(part.iter().chain(ops.as_slice()), &loaded);
            assert!(!missing.is_empty(), "an op stopped at a node that is there");
            pin.ensure();
            self.load_all(&missing, &mut loaded).await?;
        }
        self.finish_apply(None)
    }

    /// Reads the extents `missing`, [`LOADS_IN_FLIGHT`] at a time, into `loaded`.
    async fn load_all(
        &self,
        missing: &[ExtentRef],
        loaded: &mut Loaded,
    ) -> Result<(), StorageError> {
        for wave in missing.chunks(LOADS_IN_FLIGHT) {
            let nodes = try_join_all(wave.iter().map(|&r| self.load(r))).await?;
            for (r, node) in wave.iter().zip(nodes) {
                loaded.insert(r.page, node);
            }
        }
        Ok(())
    }

    /// What every apply ends with: the recorded log position and eviction to the budget.
    fn finish_apply(&self, applied: Option<(u64, u64)>) -> Result<(), StorageError> {
        let mut st = self.shared.state.borrow_mut();
        if let Some((stream, index)) = applied {
            let slot = st.applied.entry(stream).or_insert(0);
            assert!(
                index > *slot,
                "stream {stream}: applying index {index} after {}",
                *slot
            );
            *slot = index;
            st.applied_changed = true;
        }
        st.cache.evict_to_budget();
        Ok(())
    }

    /// Records that everything of `stream` up to `index` is applied (recovery applies many
    /// batches at once and records their positions afterwards).
    pub fn set_applied(&self, stream: u64, index: u64) {
        let mut st = self.shared.state.borrow_mut();
        let slot = st.applied.entry(stream).or_insert(0);
        assert!(
            index >= *slot,
            "stream {stream}: applied index going back to {index}"
        );
        *slot = index;
        st.applied_changed = true;
    }

    /// Log position applied for `stream` (0 if none).
    pub fn applied(&self, stream: u64) -> u64 {
        self.shared
            .state
            .borrow()
            .applied
            .get(&stream)
            .copied()
            .unwrap_or(0)
    }

    /// Applied positions of every stream.
    pub fn applied_all(&self) -> Vec<(u64, u64)> {
        let st = self.shared.state.borrow();
        st.applied.iter().map(|(s, i)| (*s, *i)).collect()
    }

    /// Bytes held by nodes not yet written by a checkpoint.
    pub fn dirty_bytes(&self) -> usize {
        let st = self.shared.state.borrow();
        st.cache.stats().dirty_bytes + st.overflow_bytes
    }

    /// Counters.
    pub fn stats(&self) -> TreeStats {
        let st = self.shared.state.borrow();
        TreeStats {
            page_size: st.page_size,
            pages: st.alloc.high_water() as u64,
            pages_free: st.alloc.free_pages(),
            cache: st.cache.stats(),
            checkpoint_sequence: st.durable,
            counters: st.counters.clone(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.shared.file.path()
    }

    /// Reads, verifies and decodes the node extent `r`, and caches it.
    async fn load(&self, r: ExtentRef) -> Result<Rc<Node>, StorageError> {
        let (page_size, file_id) = {
            let st = self.shared.state.borrow();
            (st.page_size, st.file_id)
        };
        let mut bytes = read_extent(&self.shared.file, r, page_size).await?;
        let node = decode_extent_node(&mut bytes, r, file_id)
            .map_err(|reason| self.corrupt(r, page_size, reason))?;
        let node = Rc::new(node);
        let mut st = self.shared.state.borrow_mut();
        st.counters.extents_read += 1;
        if st.cache.peek(r.page).is_none() {
            st.cache
                .insert(r.page, CacheEntry::new(node.clone(), r.pages, None));
            st.cache.evict_to_budget();
        }
        Ok(node)
    }

    async fn read_overflow(&self, extent: ExtentRef, len: u32) -> Result<Vec<u8>, StorageError> {
        let (page_size, file_id, dirty) = {
            let st = self.shared.state.borrow();
            let dirty = st.overflow.get(&extent.page).map(|o| o.data.clone());
            (st.page_size, st.file_id, dirty)
        };
        if let Some(data) = dirty {
            return Ok(data.as_ref().clone());
        }
        let mut bytes = read_extent(&self.shared.file, extent, page_size).await?;
        let v = verify_extent(&mut bytes, extent, file_id)
            .map_err(|reason| self.corrupt(extent, page_size, reason))?;
        if v.kind != ExtentKind::Overflow || v.body.len() != len as usize {
            let reason = format!(
                "expected an overflow value of {len} bytes, found {:?}",
                v.kind
            );
            return Err(self.corrupt(extent, page_size, reason));
        }
        self.shared.state.borrow_mut().counters.extents_read += 1;
        Ok(v.body.to_vec())
    }

    fn corrupt(&self, r: ExtentRef, page_size: usize, reason: String) -> StorageError {
        StorageError::corrupt(
            self.shared.file.path(),
            r.page as u64 * page_size as u64,
            reason,
        )
    }
}

/// A read-only view of the newest durable checkpoint at the time it was taken (see
/// [`Tree::checkpoint_view`]). Used to stream a consistent copy of a key range (a raft
/// snapshot) while writers go on.
pub struct CheckpointView<D: Disk> {
    tree: Tree<D>,
    root: Option<ExtentRef>,
    applied: BTreeMap<u64, u64>,
    sequence: u64,
    epoch: u64,
}

impl<D: Disk> CheckpointView<D> {
    /// The applied position of `stream` in this checkpoint (0 if it holds none).
    pub fn applied(&self, stream: u64) -> u64 {
        self.applied.get(&stream).copied().unwrap_or(0)
    }

    /// The checkpoint's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Reads up to `limit` entries within `lo..hi` in key order, stopping after about
    /// `max_bytes` (at least one entry), as this checkpoint holds them.
    pub async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.tree
            .scan_version(Some(self.root), lo, hi, false, limit, max_bytes)
            .await
    }
}

impl<D: Disk> Drop for CheckpointView<D> {
    fn drop(&mut self) {
        self.tree.shared.state.borrow_mut().unpin(self.epoch);
    }
}

/// An epoch pin held from a read's first await to its end. A read that never awaits (all
/// nodes cached) cannot see a page reused under it, so it never pays for a pin.
struct Pin<'a, D: Disk> {
    shared: &'a Shared<D>,
    epoch: Option<u64>,
}

impl<'a, D: Disk> Pin<'a, D> {
    fn new(shared: &'a Shared<D>) -> Self {
        Self {
            shared,
            epoch: None,
        }
    }

    /// Pins the current epoch if not yet pinned. Call before the first await: the pages the
    /// read has seen so far were reachable in this epoch.
    fn ensure(&mut self) {
        if self.epoch.is_none() {
            self.epoch = Some(self.shared.state.borrow_mut().pin());
        }
    }
}

impl<D: Disk> Drop for Pin<'_, D> {
    fn drop(&mut self) {
        if let Some(epoch) = self.epoch {
            self.shared.state.borrow_mut().unpin(epoch);
        }
    }
}

fn value_len(v: &Value) -> usize {
    match v {
        Value::Inline(b) => b.len(),
        Value::Overflow { len, .. } => *len as usize,
    }
}

/// How many siblings a scan reads ahead when it must read a node: none before it has seen a
/// leaf (a short scan may end in the first), then as many leaves as it looks like needing
/// to reach `limit` entries or `max_bytes`, at the rate of the leaves it saw, up to
/// [`SCAN_READS_MAX`] extents in all.
fn read_ahead(
    leaves: usize,
    entries: usize,
    bytes: usize,
    limit: usize,
    max_bytes: usize,
) -> usize {
    if leaves == 0 {
        return 0;
    }
    let per_leaf = (entries / leaves).max(1);
    let by_count = (limit - entries).div_ceil(per_leaf);
    let per_leaf_bytes = (bytes / leaves).max(1);
    let by_bytes = max_bytes.saturating_sub(bytes).div_ceil(per_leaf_bytes);
    by_count
        .min(by_bytes)
        .saturating_sub(1)
        .min(SCAN_READS_MAX - 1)
}

fn initial_seek(lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool) -> Option<Seek> {
    Some(if reverse {
        match hi {
            Bound::Unbounded => Seek::Last,
            Bound::Included(k) => Seek::Le(k.to_vec()),
            Bound::Excluded(k) => Seek::Lt(k.to_vec()),
        }
    } else {
        match lo {
            Bound::Unbounded => Seek::Ge(Vec::new()),
            Bound::Included(k) => Seek::Ge(k.to_vec()),
            Bound::Excluded(k) => Seek::Gt(k.to_vec()),
        }
    })
}

/// Checks every key and value against the limits.
pub fn validate_ops(ops: &[Op]) -> Result<(), StorageError> {
    for op in ops {
        if op.key.len() > KEY_SIZE_MAX {
            return Err(StorageError::TooLarge {
                what: "key",
                size: op.key.len(),
                max: KEY_SIZE_MAX,
            });
        }
        if let Some(v) = &op.value
            && v.len() > VALUE_SIZE_MAX
        {
            return Err(StorageError::TooLarge {
                what: "value",
                size: v.len(),
                max: VALUE_SIZE_MAX,
            });
        }
    }
    Ok(())
}

/// Reads the whole extent `r`.
pub(super) async fn read_extent<D: Disk>(
    file: &File<D>,
    r: ExtentRef,
    page_size: usize,
) -> Result<Vec<u8>, StorageError> {
    let pos = r.page as u64 * page_size as u64;
    let len = r.pages as u64 * page_size as u64;
    let bytes = if len as usize <= IO_SIZE_MAX {
        file.read_one(pos, len as usize).await?.to_vec()
    } else {
        read_range(file, pos, len).await?
    };
    if bytes.len() as u64 != len {
        return Err(StorageError::corrupt(
            file.path(),
            pos,
            format!("extent of {len} bytes ends past the end of the file"),
        ));
    }
    Ok(bytes)
}

/// Verifies and decodes a node extent.
pub fn decode_extent_node(bytes: &mut [u8], r: ExtentRef, file_id: u64) -> Result<Node, String> {
    let v = verify_extent(bytes, r, file_id)?;
    match v.kind {
        ExtentKind::Leaf | ExtentKind::Branch => decode_node(v.kind, v.count, v.body),
        other => Err(format!("expected a node, found a {other:?} extent")),
    }
}

fn new_state(config: &TreeConfig) -> TreeState {
    let file_id = config.file_id.unwrap_or_else(random_file_id);
    TreeState {
        page_size: config.page_size,
        file_id,
        value_inline_max: config.value_inline_max,
        root: None,
        epoch: 1,
        durable: 0,
        alloc: Allocator::new(),
        cache: PageCache::new(config.cache_bytes),
        dirty: Default::default(),
        overflow: Default::default(),
        overflow_bytes: 0,
        applied: Default::default(),
        durable_root: None,
        durable_applied: Default::default(),
        applied_changed: false,
        pins: Default::default(),
        counters: TreeCounters::default(),
    }
}

fn random_file_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mix = nanos ^ ((std::process::id() as u64) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    mix.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1
}

/// The superblock describing `state` as checkpoint `sequence`.
pub(super) fn superblock_of(state: &TreeState, sequence: u64) -> Superblock {
    Superblock {
        page_size: state.page_size as u32,
        file_id: state.file_id,
        sequence,
        root: state.root.unwrap_or(ExtentRef {
            page: 0,
            pages: 0,
            generation: 0,
        }),
        meta: ExtentRef {
            page: 0,
            pages: 0,
            generation: 0,
        },
        high_water: state.alloc.high_water(),
    }
}

/// Writes superblock slot `sequence % 2`.
pub(super) async fn write_superblock<D: Disk>(
    disk: &D,
    file: &File<D>,
    sb: &Superblock,
    sequence: u64,
) -> Result<(), StorageError> {
    let slot = (sequence % 2) as u32;
    let mut buf = disk.alloc(BLOCK_SIZE);
    encode_superblock(sb, slot, &mut buf);
    file.write(buf, slot as u64 * sb.page_size as u64).await
}

/// Reads both superblock slots and picks the newest valid one.
pub async fn read_superblock<D: Disk>(
    file: &File<D>,
) -> Result<(Superblock, Vec<String>), StorageError> {
    let first = file.read_one(0, BLOCK_SIZE).await?.to_vec();
    let a = decode_superblock(&first, 0);
    let page_size = match &a {
        Ok(Some(sb)) => sb.page_size as u64,
        _ => 0,
    };
    let mut candidates = Vec::new();
    let mut problems = Vec::new();
    match a {
        Ok(Some(sb)) => candidates.push(sb),
        Ok(None) => {}
        Err(e) => problems.push(format!("superblock slot 0 at offset 0: {e}")),
    }
    // Slot 1 lives at page 1; try every supported page size when slot 0 is unusable.
    let sizes: Vec<u64> = if page_size != 0 {
        vec![page_size]
    } else {
        (12..=16).map(|s| 1u64 << s).collect()
    };
    for size in sizes {
        let bytes = file.read_one(size, BLOCK_SIZE).await?.to_vec();
        if bytes.is_empty() {
            // Beyond the end of the file: the slot was never written.
            continue;
        }
        match decode_superblock(&bytes, 1) {
            Ok(Some(sb)) if sb.page_size as u64 == size => {
                candidates.push(sb);
                break;
            }
            Ok(_) => {}
            Err(e) if page_size != 0 => {
                problems.push(format!("superblock slot 1 at offset {size}: {e}"))
            }
            Err(_) => {}
        }
    }
    let best = candidates.into_iter().max_by_key(|sb| sb.sequence);
    match best {
        Some(sb) => Ok((sb, problems)),
        None => Err(StorageError::corrupt(
            file.path(),
            0,
            if problems.is_empty() {
                "no valid superblock in either slot".to_string()
            } else {
                problems.join("; ")
            },
        )),
    }
}

async fn load_state<D: Disk>(
    file: &File<D>,
    config: &TreeConfig,
) -> Result<TreeState, StorageError> {
    let (sb, problems) = read_superblock(file).await?;
    for p in &problems {
        tracing::warn!(path = %file.path().display(), problem = %p, "using the other superblock slot");
    }
    let page_size = sb.page_size as usize;
    if !page_size.is_power_of_two() || !(PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&page_size) {
        return Err(StorageError::corrupt(
            file.path(),
            0,
            format!("page size {page_size}"),
        ));
    }
    let mut state = new_state(&TreeConfig {
        page_size,
        file_id: Some(sb.file_id),
        value_inline_max: config.value_inline_max.min(page_size / 2),
        ..config.clone()
    });
    state.root = (sb.root.pages > 0).then_some(sb.root);
    state.durable_root = state.root;
    state.epoch = sb.sequence + 1;
    state.durable = sb.sequence;
    if sb.meta.pages > 0 {
        let mut bytes = read_extent(file, sb.meta, page_size).await?;
        let corrupt = |reason: String| {
            StorageError::corrupt(file.path(), sb.meta.page as u64 * page_size as u64, reason)
        };
        let v = verify_extent(&mut bytes, sb.meta, sb.file_id).map_err(corrupt)?;
        if v.kind != ExtentKind::Meta {
            return Err(corrupt(format!(
                "expected checkpoint metadata, found {:?}",
                v.kind
            )));
        }
        let meta = decode_meta(v.body).map_err(corrupt)?;
        state.alloc = Allocator::restore(&meta.free, sb.high_water).map_err(corrupt)?;
        state.applied = meta.applied.into_iter().collect();
        // The meta extent is referenced by the superblock only: it is free again once the
        // next checkpoint (which writes its own) is durable.
        state
            .alloc
            .free_later(state.epoch, sb.meta.page, sb.meta.pages);
        state.durable_applied = state.applied.clone();
    } else {
        state.alloc = Allocator::restore(&[], sb.high_water)
            .map_err(|reason| StorageError::corrupt(file.path(), 0, reason))?;
    }
    Ok(state)
}
