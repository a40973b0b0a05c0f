//! The storage engine API for the layers above: a log plus a tree per shard.
//!
//! `commit(stream, ops)` appends the batch to the write-ahead log, waits until it is
//! durable, then applies it to the tree in log order and returns: an acknowledged batch is
//! always in the log, and is visible to every read that starts after the acknowledgement.
//! Batches become visible whole or not at all. Checkpoints run on a background task queue
//! (never on the caller's), and after each one the log is truncated up to the positions it
//! made durable. `open` recovers: newest valid checkpoint, then replay of every logged batch
//! after its applied positions.
//!
//! The raft layer (later) uses the log directly for its entries and `apply_committed` to
//! apply committed entries at their (group, index); this module's own `commit` is the
//! single-replica path and what `shoal-node stress` and the benchmarks drive.
//!
//! Memory: the tree's dirty bytes are bounded by `dirty_bytes_max`; a commit beyond it
//! waits for a checkpoint (backpressure) instead of growing without limit.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures::lock::Mutex;

use super::batch;
use super::btree::{CheckpointInfo, Op, Tree, TreeConfig, TreeStats, validate_ops};
use super::error::StorageError;
use super::io::{Disk, Latch};
use super::replay::ReplayLog;
use super::wal::{Record, RecordKind, Wal, WalConfig, WalStats};

/// Name of the log directory inside a shard directory.
pub const WAL_DIR_NAME: &str = "wal";

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The tree.
    pub tree: TreeConfig,
    /// The log.
    pub wal: WalConfig,
    /// A checkpoint runs at least this often while anything is dirty.
    pub checkpoint_interval: Duration,
    /// A checkpoint starts once this many bytes are dirty.
    pub checkpoint_dirty_bytes: usize,
    /// Commits wait while more than this many bytes are dirty.
    pub dirty_bytes_max: usize,
    /// After each checkpoint, truncate every stream's log up to what the checkpoint holds.
    /// Off when a raft layer owns the streams (it truncates with the entry terms itself).
    pub truncate_log_at_checkpoint: bool,
    /// At open, replay logged batches (records written by `commit`) after the checkpoint.
    /// Off when a raft layer owns the streams: it re-applies its committed entries itself.
    pub replay_log: bool,
}

impl EngineConfig {
    /// The settings for an engine whose log streams belong to raft groups.
    pub fn for_raft(mut self) -> Self {
        self.truncate_log_at_checkpoint = false;
        self.replay_log = false;
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let tree = TreeConfig::default();
        Self {
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_dirty_bytes: tree.cache_bytes / 4,
            dirty_bytes_max: tree.cache_bytes / 2,
            truncate_log_at_checkpoint: true,
            replay_log: true,
            tree,
            wal: WalConfig::default(),
        }
    }
}

impl EngineConfig {
    /// A configuration with `cache_bytes` of page cache and the dirty limits scaled to it.
    pub fn with_cache_bytes(cache_bytes: usize) -> Self {
        let mut c = Self::default();
        c.tree.cache_bytes = cache_bytes;
        c.checkpoint_dirty_bytes = cache_bytes / 4;
        c.dirty_bytes_max = cache_bytes / 2;
        c
    }

    /// Checks relations between fields, naming the one at fault.
    pub fn validate(&self) -> Result<(), StorageError> {
        self.tree.validate()?;
        self.wal.validate()?;
        if self.checkpoint_dirty_bytes > self.dirty_bytes_max {
            return Err(StorageError::Invalid(format!(
                "checkpoint_dirty_bytes {} must not exceed dirty_bytes_max {}",
                self.checkpoint_dirty_bytes, self.dirty_bytes_max
            )));
        }
        if self.dirty_bytes_max > self.tree.cache_bytes {
            return Err(StorageError::Invalid(format!(
                "dirty_bytes_max {} must not exceed cache_bytes {}",
                self.dirty_bytes_max, self.tree.cache_bytes
            )));
        }
        Ok(())
    }
}

/// Refuses to open when the log was truncated past what the checkpoint holds: that
/// happens only if the newest checkpoint was lost (a damaged superblock made recovery fall
/// back to an older one), and replaying would silently drop acknowledged batches.
fn check_log_covers_checkpoint<D: Disk>(
    wal: &Wal<D>,
    applied: &HashMap<u64, u64>,
    dir: &Path,
) -> Result<(), StorageError> {
    for stream in wal.stream_ids() {
        let Some(s) = wal.stream(stream) else {
            continue;
        };
        let have = applied.get(&stream).copied().unwrap_or(0);
        if s.truncated_upto > have {
            return Err(StorageError::corrupt(
                &dir.join(super::btree::TREE_FILE_NAME),
                0,
                format!(
                    "checkpoint holds stream {stream} up to index {have} but the log was \
                     truncated up to {}: the newest checkpoint is lost or damaged",
                    s.truncated_upto
                ),
            ));
        }
    }
    Ok(())
}

/// Where a committed batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The stream.
    pub stream: u64,
    /// Its index in the stream.
    pub index: u64,
}

/// A snapshot of the engine's counters.
#[derive(Debug, Clone)]
pub struct EngineStats {
    /// The tree.
    pub tree: TreeStats,
    /// The log.
    pub wal: WalStats,
    /// Time since the last checkpoint finished (or since open).
    pub checkpoint_age: Duration,
    /// Fraction of node lookups served by the cache.
    pub cache_hit_rate: f64,
    /// Bytes written by log and tree.
    pub bytes_written: u64,
    /// fdatasync calls by log and tree.
    pub fsyncs: u64,
    /// Records replayed at open.
    pub replayed: u64,
}

struct PendingApply {
    ticket: u64,
    stream: u64,
    index: u64,
    ops: Vec<Op>,
}

struct State {
    next_index: HashMap<u64, u64>,
    pending: VecDeque<PendingApply>,
    last_checkpoint: Instant,
    last_checkpoint_applied: Vec<(u64, u64)>,
    checkpoint_wanted: bool,
    background_waker: Option<Waker>,
    background_running: bool,
    closing: bool,
    replayed: u64,
}

struct Inner<D: Disk> {
    dir: PathBuf,
    wal: Wal<D>,
    tree: Tree<D>,
    config: EngineConfig,
    latch: Latch,
    state: RefCell<State>,
    apply_lock: Mutex<()>,
}

/// The storage engine of one shard.
pub struct Engine<D: Disk> {
    inner: Rc<Inner<D>>,
}

impl<D: Disk> Clone for Engine<D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Disk> Engine<D> {
    /// Opens the engine in `dir` (creating it if needed): newest valid checkpoint, then
    /// replay of the logged batches after it.
    pub async fn open(disk: D, dir: &Path, config: EngineConfig) -> Result<Self, StorageError> {
        config.validate()?;
        let latch = Latch::new();
        disk.create_dir_all(dir)
            .await
            .map_err(|e| StorageError::io("create directory", dir, e))?;
        let tree = Tree::open(disk.clone(), dir, config.tree.clone(), latch.clone()).await?;
        let applied: HashMap<u64, u64> = tree.applied_all().into_iter().collect();
        let mut replay = ReplayLog::default();
        let replay_enabled = config.replay_log;
        let mut last_seen: HashMap<u64, u64> = HashMap::new();
        let wal_dir = dir.join(WAL_DIR_NAME);
        let read_started = Instant::now();
        let wal = Wal::open(
            disk,
            &wal_dir,
            config.wal.clone(),
            latch.clone(),
            &mut |rec, loc| {
                if rec.kind != RecordKind::Entry || !replay_enabled {
                    // Raft streams may overwrite a suffix of their log; raft checks them.
                    return Ok(());
                }
                let seen = last_seen.entry(rec.stream).or_insert(0);
                if rec.index <= *seen {
                    return Err(StorageError::corrupt(
                        &wal_dir.join(super::wal::segment::segment_name(loc.segment)),
                        loc.offset,
                        format!("stream {} index {} after {}", rec.stream, rec.index, *seen),
                    ));
                }
                *seen = rec.index;
                if rec.index > applied.get(&rec.stream).copied().unwrap_or(0) {
                    replay
                        .push(rec.stream, rec.index, rec.payload)
                        .map_err(|reason| {
                            StorageError::corrupt(
                                &wal_dir.join(super::wal::segment::segment_name(loc.segment)),
                                loc.offset,
                                format!(
                                    "stream {} index {}: bad batch: {reason}",
                                    rec.stream, rec.index
                                ),
                            )
                        })?;
                }
                Ok(())
            },
        )
        .await?;
        check_log_covers_checkpoint(&wal, &applied, dir)?;
        let replayed = replay.records();
        let read_took = read_started.elapsed();
        let apply_started = Instant::now();
        replay.apply(&tree).await?;
        let apply_took = apply_started.elapsed();
        let mut next_index = applied;
        for (stream, last) in last_seen {
            let slot = next_index.entry(stream).or_insert(0);
            *slot = (*slot).max(last);
        }
        if replayed > 0 {
            tracing::info!(
                dir = %dir.display(),
                replayed,
                read_ms = read_took.as_millis() as u64,
                apply_ms = apply_took.as_millis() as u64,
                "replayed log after checkpoint"
            );
        }
        Ok(Self {
            inner: Rc::new(Inner {
                dir: dir.to_path_buf(),
                wal,
                tree,
                config,
                latch,
                state: RefCell::new(State {
                    next_index,
                    pending: VecDeque::new(),
                    last_checkpoint: Instant::now(),
                    last_checkpoint_applied: Vec::new(),
                    checkpoint_wanted: false,
                    background_waker: None,
                    background_running: false,
                    closing: false,
                    replayed,
                }),
                apply_lock: Mutex::new(()),
            }),
        })
    }

    /// Starts the background checkpoint task in `queue` (or the current queue).
    pub fn start_background(&self, queue: Option<crate::rt::TaskQueueHandle>) {
        {
            let mut st = self.inner.state.borrow_mut();
            if st.background_running {
                return;
            }
            st.background_running = true;
        }
        let engine = self.clone();
        let task = async move { engine.background_loop().await };
        match queue {
            Some(q) => crate::rt::spawn_detached_into(task, q),
            None => crate::rt::spawn_detached(task),
        }
    }

    /// Commits a batch to `stream`: logged durably, then applied; returns its position.
    pub async fn commit(&self, stream: u64, ops: Vec<Op>) -> Result<Committed, StorageError> {
        self.inner.latch.check()?;
        validate_ops(&ops)?;
        let mut payload = Vec::with_capacity(batch::encoded_len(&ops));
        batch::encode(&ops, &mut payload);
        self.wait_dirty_below_max().await?;
        self.inner.wal.wait_for_space().await;
        // Index assignment and append happen together, so log order = index order.
        let (ticket, index) = {
            let mut st = self.inner.state.borrow_mut();
            if st.closing {
                return Err(StorageError::Closed);
            }
            let next = st.next_index.entry(stream).or_insert(0);
            let index = *next + 1;
            let ticket = self.inner.wal.append_now(&Record {
                kind: RecordKind::Entry,
                stream,
                term: 0,
                index,
                payload: &payload,
            })?;
            *next = index;
            st.pending.push_back(PendingApply {
                ticket,
                stream,
                index,
                ops,
            });
            (ticket, index)
        };
        self.inner.wal.wait_durable(ticket).await?;
        self.apply_durable().await?;
        self.maybe_request_checkpoint();
        Ok(Committed { stream, index })
    }

    /// Applies, in log order, every pending batch whose log record is durable.
    async fn apply_durable(&self) -> Result<(), StorageError> {
        let _guard = self.inner.apply_lock.lock().await;
        loop {
            let next = {
                let mut st = self.inner.state.borrow_mut();
                match st.pending.front() {
                    Some(p) if p.ticket <= self.inner.wal.durable_seq() => st.pending.pop_front(),
                    _ => None,
                }
            };
            let Some(p) = next else {
                return Ok(());
            };
            // An error here latches the shard's storage: nothing applies after it anyway.
            self.inner
                .tree
                .apply(p.ops, Some((p.stream, p.index)))
                .await?;
        }
    }

    /// Applies a batch that is already durable elsewhere (a committed raft entry) at
    /// (`stream`, `index`).
    pub async fn apply_committed(
        &self,
        stream: u64,
        index: u64,
        ops: Vec<Op>,
    ) -> Result<(), StorageError> {
        self.wait_dirty_below_max().await?;
        let _guard = self.inner.apply_lock.lock().await;
        self.inner.tree.apply(ops, Some((stream, index))).await?;
        drop(_guard);
        self.maybe_request_checkpoint();
        Ok(())
    }

    /// Applies a batch that no log records (a raft snapshot being received or installed):
    /// it is durable only once a checkpoint holds it. With `applied`, records that position
    /// of that stream as reached.
    pub async fn apply_unlogged(
        &self,
        ops: Vec<Op>,
        applied: Option<(u64, u64)>,
    ) -> Result<(), StorageError> {
        self.wait_dirty_below_max().await?;
        let _guard = self.inner.apply_lock.lock().await;
        self.inner.tree.apply(ops, applied).await?;
        drop(_guard);
        self.maybe_request_checkpoint();
        Ok(())
    }

    /// Returns once a checkpoint holds everything applied before the call (running as many
    /// checkpoints as that takes: one already running may have started before the call).
    pub async fn checkpoint_all_applied(&self) -> Result<(), StorageError> {
        let (epoch, _) = self.inner.tree.epochs();
        loop {
            let (now, durable) = self.inner.tree.epochs();
            if durable >= epoch {
                return Ok(());
            }
            let running = self.inner.tree.checkpoint_running();
            let info = self.checkpoint().await?;
            if info.is_none() && !running {
                // Nothing to write: the current epoch holds no change and every earlier
                // one is durable.
                debug_assert_eq!(self.inner.tree.epochs().0, now);
                return Ok(());
            }
        }
    }

    /// A consistent read-only view of the newest durable checkpoint (see
    /// [`crate::storage::btree::CheckpointView`]).
    pub fn checkpoint_view(&self) -> crate::storage::btree::CheckpointView<D> {
        self.inner.tree.checkpoint_view()
    }

    /// Reads the value of `key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.tree.get(key).await
    }

    /// Reads up to `limit` entries in `lo..hi`, in key order or reversed, stopping after
    /// about `max_bytes` of keys and values.
    pub async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.inner
            .tree
            .scan(lo, hi, reverse, limit, max_bytes)
            .await
    }

    /// Runs a checkpoint now and truncates the log behind it.
    pub async fn checkpoint(&self) -> Result<Option<CheckpointInfo>, StorageError> {
        let info = self.inner.tree.checkpoint().await?;
        if let Some(info) = &info {
            self.inner.state.borrow_mut().last_checkpoint_applied = info.applied.clone();
            if self.inner.config.truncate_log_at_checkpoint {
                for &(stream, index) in &info.applied {
                    self.inner.wal.truncate_prefix(stream, index, 0)?;
                }
            }
            let mut st = self.inner.state.borrow_mut();
            st.last_checkpoint = Instant::now();
            st.checkpoint_wanted = false;
        }
        Ok(info)
    }

    /// Applied log positions (stream, index) the newest checkpoint made durable, for a layer
    /// that truncates its own streams.
    pub fn checkpointed_applied(&self) -> Vec<(u64, u64)> {
        self.inner.state.borrow().last_checkpoint_applied.clone()
    }

    /// Checkpoints completed since open.
    pub fn checkpoints_done(&self) -> u64 {
        self.inner.tree.stats().counters.checkpoints
    }

    /// Log position applied for `stream`.
    pub fn applied(&self, stream: u64) -> u64 {
        self.inner.tree.applied(stream)
    }

    /// The shard's log, for layers that keep their own streams in it (raft).
    pub fn wal(&self) -> &Wal<D> {
        &self.inner.wal
    }

    /// The shard directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        let tree = self.inner.tree.stats();
        let wal = self.inner.wal.stats();
        let st = self.inner.state.borrow();
        let lookups = tree.cache.hits + tree.cache.misses;
        EngineStats {
            checkpoint_age: st.last_checkpoint.elapsed(),
            cache_hit_rate: if lookups == 0 {
                1.0
            } else {
                tree.cache.hits as f64 / lookups as f64
            },
            bytes_written: wal.bytes_written + tree.counters.bytes_written,
            fsyncs: wal.fsyncs + tree.counters.fsyncs,
            replayed: st.replayed,
            tree,
            wal,
        }
    }

    /// Stops background work, checkpoints, and flushes and closes the log.
    pub async fn close(&self) -> Result<(), StorageError> {
        self.stop_background().await;
        if !self.inner.latch.is_tripped() {
            self.checkpoint().await?;
        }
        self.inner.wal.close().await
    }

    /// Stops background work and the log without a checkpoint: the state a crash leaves
    /// behind (every acknowledged batch in the log, the tree as of the last checkpoint), for
    /// tools and tests that need a store to recover. Like `close`, it ends every task of the
    /// engine, which releases the directory lock; an engine that is merely dropped keeps its
    /// tasks (and the lock) until they end.
    pub async fn halt(&self) -> Result<(), StorageError> {
        self.stop_background().await;
        self.inner.wal.close().await
    }

    async fn stop_background(&self) {
        {
            let mut st = self.inner.state.borrow_mut();
            st.closing = true;
            if let Some(w) = st.background_waker.take() {
                w.wake();
            }
        }
        poll_fn(|cx| {
            let mut st = self.inner.state.borrow_mut();
            if st.background_running {
                st.background_waker = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }

    fn maybe_request_checkpoint(&self) {
        if self.inner.tree.dirty_bytes() < self.inner.config.checkpoint_dirty_bytes {
            return;
        }
        let mut st = self.inner.state.borrow_mut();
        st.checkpoint_wanted = true;
        if let Some(w) = st.background_waker.take() {
            w.wake();
        }
    }

    async fn wait_dirty_below_max(&self) -> Result<(), StorageError> {
        while self.inner.tree.dirty_bytes() > self.inner.config.dirty_bytes_max {
            self.inner.latch.check()?;
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// Runs checkpoints when enough is dirty or the interval passed; runs until close.
    async fn background_loop(&self) {
        let tick = self
            .inner
            .config
            .checkpoint_interval
            .min(Duration::from_millis(100));
        loop {
            let wake = poll_fn(|cx| {
                let mut st = self.inner.state.borrow_mut();
                if st.closing || st.checkpoint_wanted {
                    Poll::Ready(())
                } else {
                    st.background_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            });
            futures::future::select(Box::pin(wake), Box::pin(crate::rt::sleep(tick))).await;
            let (closing, due) = {
                let st = self.inner.state.borrow();
                let due = st.checkpoint_wanted
                    || (st.last_checkpoint.elapsed() >= self.inner.config.checkpoint_interval
                        && self.inner.tree.dirty_bytes() > 0);
                (st.closing, due)
            };
            if closing || self.inner.latch.is_tripped() {
                break;
            }
            if due && let Err(e) = self.checkpoint().await {
                tracing::error!(error = %e, "checkpoint failed");
                break;
            }
        }
        let mut st = self.inner.state.borrow_mut();
        st.background_running = false;
        if let Some(w) = st.background_waker.take() {
            w.wake();
        }
    }
}
