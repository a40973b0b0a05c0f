//! The write-ahead log of one shard: appends, group commit, truncation, reads, recycling.
//!
//! Many logical streams (raft groups, engine batch streams) share one log. `append` encodes a
//! record into the pending batch and returns a ticket (the batch number); `wait_durable`
//! resolves once that batch, and every batch before it, is on disk and durable. One flusher
//! task writes batches in order, up to `flushes_in_flight_max` at once (the disk completes
//! concurrent synced writes in parallel), each flush at its own place after the previous
//! one: each flush starts on a fresh 4 KiB block, carries a header with its
//! batch number and the durable watermark, is padded with zeros to a block boundary, and is
//! durable once its writes complete: segments in use are open for synced writes (`O_DSYNC`,
//! the kernel flushes the disk's cache after each write), which costs the same device flush
//! as a write and an fdatasync but one request for the shard to submit and reap instead of
//! two. Appends made while the most flushes are in flight join the next batch (group commit).
//! A block holding an acknowledged record is never written again.
//!
//! Back-of-the-envelope: one writer pays one synced 4 KiB write per record
//! (about the disk's flush latency); N concurrent writers share that cost, so throughput
//! grows with concurrency until a flush carries `flush_bytes_max` bytes.
//!
//! Invariants: batch numbers are consecutive; a ticket resolves only after the synced writes
//! (or the fdatasync) covering its batch and every earlier batch returned; a flush header's
//! watermark names only batches durable when the flush was issued; after the first failed
//! write or fdatasync the shard's latch trips and every waiter and later call fails (fsync is
//! never retried).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::{Poll, Waker};

use futures::StreamExt;
use futures::future::try_join_all;
use futures::stream::FuturesOrdered;

use super::format::{
    FLUSH_HEADER_LEN, FlushHeader, RECORD_HEADER_LEN, Record, RecordKind, SegmentHeader,
    decode_record, encode_flush_header, encode_record, segment_seed,
};
use super::index::{LogIndex, RecordLoc, StreamIndex};
use super::recovery::{RecoveryReport, recover};
use super::segment::{
    SEGMENT_IO_DEPTH_MAX, ZERO_FILL_DEPTH_BACKGROUND, create_segment, recycle_segment,
    segment_path, spare_name,
};
use crate::storage::error::StorageError;
use crate::storage::io::{BLOCK_SIZE, Disk, File, IO_SIZE_MAX, Latch, align_up, sync_dir};

/// Bytes of one segment read at once by [`Wal::read`] (records close together share it).
const READ_RUN_BYTES_MAX: u64 = 1 << 20;

/// Flushes in flight at once by default. This VM's disk completes concurrent synced writes
/// in parallel (fio, 4 KiB `O_DSYNC` direct writes: 2,618 / 5,897 / 9,193 per second at
/// queue depth 1 / 2 / 8), so a flush starts while earlier ones are on their way instead of
/// waiting behind them with the shard idle. One node, one shard, PutItem (three nodes side
/// by side in one `shoal-bench compare` run, bench/README.md): at 64 in flight depth 1 /
/// 2 / 4 did 20-24k / 28-38k / 30-35k per second, at 16 in flight 14-18k / 17-24k /
/// 15-26k; depth 8 did no better than 4.
pub const FLUSHES_IN_FLIGHT_DEFAULT: usize = 4;
/// Most flushes in flight a log may be configured for.
pub const FLUSHES_IN_FLIGHT_MAX: usize = 64;

/// Tunables of the log. Validated by [`WalConfig::validate`].
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Size of each segment file in bytes (multiple of 4 KiB).
    pub segment_size: u64,
    /// Record bytes one flush carries at most (a single larger record gets its own flush).
    pub flush_bytes_max: usize,
    /// Appended-but-not-yet-durable bytes beyond which `append` waits (backpressure).
    pub pending_bytes_max: usize,
    /// Largest record accepted.
    pub record_size_max: usize,
    /// Obsolete segment files kept for reuse; more are deleted.
    pub spare_segments_max: usize,
    /// Flushes written at once (each its own batch, made durable in batch order).
    pub flushes_in_flight_max: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            segment_size: 64 << 20,
            flush_bytes_max: 1 << 20,
            pending_bytes_max: 32 << 20,
            record_size_max: 16 << 20,
            spare_segments_max: 2,
            flushes_in_flight_max: FLUSHES_IN_FLIGHT_DEFAULT,
        }
    }
}

impl WalConfig {
    /// The most bytes one flush can span: a batch holds at most `flush_bytes_max` bytes of
    /// records, or one record of up to `record_size_max`.
    pub fn flush_span_max(&self) -> usize {
        align_up(FLUSH_HEADER_LEN + self.flush_bytes_max.max(self.record_size_max))
    }

    /// Checks relations between fields, naming the field at fault.
    pub fn validate(&self) -> Result<(), StorageError> {
        let bad = |msg: String| Err(StorageError::Invalid(msg));
        if !self.segment_size.is_multiple_of(BLOCK_SIZE as u64) {
            return bad(format!(
                "wal.segment_size {} is not a multiple of 4096",
                self.segment_size
            ));
        }
        let need = BLOCK_SIZE + self.flush_span_max();
        if self.segment_size < need as u64 {
            return bad(format!(
                "wal.segment_size {} cannot hold a flush of wal.record_size_max {} or \
                 wal.flush_bytes_max {} (needs {need})",
                self.segment_size, self.record_size_max, self.flush_bytes_max
            ));
        }
        if self.flush_bytes_max == 0 || self.pending_bytes_max < self.flush_bytes_max {
            return bad(format!(
                "wal.pending_bytes_max {} must be at least wal.flush_bytes_max {} (> 0)",
                self.pending_bytes_max, self.flush_bytes_max
            ));
        }
        if !(1..=FLUSHES_IN_FLIGHT_MAX).contains(&self.flushes_in_flight_max) {
            return bad(format!(
                "wal.flushes_in_flight_max (storage.wal_flushes_in_flight) {} is not between 1 \
                 and {FLUSHES_IN_FLIGHT_MAX}",
                self.flushes_in_flight_max
            ));
        }
        if self.record_size_max < RECORD_HEADER_LEN {
            return bad(format!(
                "wal.record_size_max {} is too small",
                self.record_size_max
            ));
        }
        Ok(())
    }
}

/// Counters of the log, for `stats`.
#[derive(Debug, Default, Clone)]
pub struct WalStats {
    /// Records appended.
    pub records: u64,
    /// Flushes written.
    pub flushes: u64,
    /// Durability points: synced flushes and fdatasync calls (segment preparation).
    pub fsyncs: u64,
    /// Bytes written (flushes, segment zero-fill and headers).
    pub bytes_written: u64,
    /// Segments created by zero-filling.
    pub segments_created: u64,
    /// Segments reused by renaming.
    pub segments_recycled: u64,
    /// Live segments.
    pub segments_live: u64,
    /// What recovery did at open.
    pub recovery: RecoveryReport,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the stream.
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// Payload.
    pub payload: Vec<u8>,
}

struct PendingRec {
    kind: RecordKind,
    stream: u64,
    term: u64,
    index: u64,
    offset: u32,
    len: u32,
}

struct Pending {
    seq: u64,
    seed_segment: u64,
    buf: Vec<u8>,
    recs: Vec<PendingRec>,
}

struct State<D: Disk> {
    segments: BTreeMap<u64, Rc<File<D>>>,
    write_pos: u64,
    spares: Vec<PathBuf>,
    prepared: Option<(u64, Rc<File<D>>)>,
    preparing: bool,
    next_segment_seq: u64,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    next_batch_seq: u64,
    durable_seq: u64,
    index: LogIndex,
    purge_needed: bool,
    waiters: Vec<Waker>,
    flusher: Option<Waker>,
    closing: bool,
    flusher_done: bool,
    stats: WalStats,
}

struct Shared<D: Disk> {
    disk: D,
    dir: PathBuf,
    config: WalConfig,
    latch: Latch,
    state: RefCell<State<D>>,
}

/// The write-ahead log. Cloning gives another handle to the same log.
pub struct Wal<D: Disk> {
    shared: Rc<Shared<D>>,
}

impl<D: Disk> Clone for Wal<D> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<D: Disk> Wal<D> {
    /// Opens (or creates) the log in `dir`, replaying every acknowledged record in log order
    /// through `visit`, cutting a torn tail, and starting the flusher task on the current
    /// task queue.
    pub async fn open(
        disk: D,
        dir: &Path,
        config: WalConfig,
        latch: Latch,
        visit: &mut dyn FnMut(&Record<'_>, RecordLoc) -> Result<(), StorageError>,
    ) -> Result<Self, StorageError> {
        config.validate()?;
        disk.create_dir_all(dir)
            .await
            .map_err(|e| StorageError::io("create directory", dir, e))?;
        let mut index = LogIndex::default();
        let recovered = recover(&disk, dir, &latch, &mut |rec, loc| {
            index.add(rec, loc);
            visit(rec, loc)
        })
        .await?;
        let mut segments = BTreeMap::new();
        for (seq, file) in recovered.chain {
            segments.insert(seq, Rc::new(file));
        }
        let mut stats = WalStats {
            recovery: recovered.report,
            ..WalStats::default()
        };
        if let Some((path, offset, reason)) = &stats.recovery.cut {
            tracing::warn!(path = %path.display(), offset, reason = %reason, "cut torn log tail (never acknowledged)");
        }
        if let Some((_, file)) = segments.iter().next_back() {
            for &offset in &recovered.zero_offsets {
                file.write(disk.alloc(BLOCK_SIZE), offset).await?;
                stats.bytes_written += BLOCK_SIZE as u64;
            }
            if !recovered.zero_offsets.is_empty() && !file.is_synced() {
                file.sync().await?;
                stats.fsyncs += 1;
            }
        }
        let state = State {
            segments,
            write_pos: recovered.write_pos,
            spares: recovered.spares,
            prepared: None,
            preparing: false,
            next_segment_seq: recovered.max_segment_seq + 1,
            pending: VecDeque::new(),
            pending_bytes: 0,
            next_batch_seq: recovered.next_batch_seq,
            durable_seq: recovered.next_batch_seq - 1,
            index,
            purge_needed: true,
            waiters: Vec::new(),
            flusher: None,
            closing: false,
            flusher_done: false,
            stats,
        };
        let shared = Rc::new(Shared {
            disk,
            dir: dir.to_path_buf(),
            config,
            latch,
            state: RefCell::new(state),
        });
        if shared.state.borrow().segments.is_empty() {
            shared.rotate().await?;
        }
        crate::rt::spawn_detached(run_flusher(shared.clone()));
        Ok(Self { shared })
    }

    /// Appends a record to the pending batch and returns its ticket; waits first while more
    /// than `pending_bytes_max` bytes are pending (backpressure).
    pub async fn append(&self, rec: &Record<'_>) -> Result<u64, StorageError> {
        self.wait_for_space().await;
        self.append_now(rec)
    }

    /// Waits while more than `pending_bytes_max` bytes are appended but not yet durable.
    pub async fn wait_for_space(&self) {
        let max = self.shared.config.pending_bytes_max;
        poll_fn(|cx| {
            let mut st = self.shared.state.borrow_mut();
            if self.shared.latch.is_tripped() || st.pending_bytes < max || st.closing {
                Poll::Ready(())
            } else {
                st.waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    /// Appends without waiting for pending space.
    pub fn append_now(&self, rec: &Record<'_>) -> Result<u64, StorageError> {
        self.shared.latch.check()?;
        let len = rec.encoded_len();
        if len > self.shared.config.record_size_max {
            return Err(StorageError::TooLarge {
                what: "log record",
                size: len,
                max: self.shared.config.record_size_max,
            });
        }
        let mut st = self.shared.state.borrow_mut();
        if st.closing {
            return Err(StorageError::Closed);
        }
        let flush_max = self.shared.config.flush_bytes_max;
        let needs_new = st
            .pending
            .back()
            .is_none_or(|b| !b.buf.is_empty() && b.buf.len() + len > flush_max);
        if needs_new {
            let seq = st.next_batch_seq;
            st.next_batch_seq += 1;
            let seed_segment = *st.segments.keys().next_back().expect("a current segment");
            st.pending.push_back(Pending {
                seq,
                seed_segment,
                buf: Vec::with_capacity(len.min(flush_max)),
                recs: Vec::new(),
            });
        }
        let batch = st.pending.back_mut().expect("ensured above");
        let offset = batch.buf.len() as u32;
        encode_record(rec, segment_seed(batch.seed_segment), &mut batch.buf);
        batch.recs.push(PendingRec {
            kind: rec.kind,
            stream: rec.stream,
            term: rec.term,
            index: rec.index,
            offset,
            len: len as u32,
        });
        let ticket = batch.seq;
        st.pending_bytes += len;
        st.stats.records += 1;
        if let Some(w) = st.flusher.take() {
            w.wake();
        }
        Ok(ticket)
    }

    /// Resolves once the batch `ticket` (and every earlier one) is durable.
    pub async fn wait_durable(&self, ticket: u64) -> Result<(), StorageError> {
        poll_fn(|cx| {
            self.shared.latch.check()?;
            let mut st = self.shared.state.borrow_mut();
            if st.durable_seq >= ticket {
                return Poll::Ready(Ok(()));
            }
            if st.flusher_done {
                return Poll::Ready(Err(StorageError::Closed));
            }
            st.waiters.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Appends and waits until the record is durable.
    pub async fn append_durable(&self, rec: &Record<'_>) -> Result<(), StorageError> {
        let ticket = self.append(rec).await?;
        self.wait_durable(ticket).await
    }

    /// Resolves once everything appended so far is durable.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.wait_durable(self.last_ticket()).await
    }

    /// Discards entries of `stream` with index <= `upto` (after a checkpoint made them
    /// redundant). Durable with the next flush; segments holding only discarded entries are
    /// recycled.
    ///
    /// `term` is the term of entry `upto` (raft needs it after the entries are gone; 0 for
    /// streams without terms).
    pub fn truncate_prefix(&self, stream: u64, upto: u64, term: u64) -> Result<u64, StorageError> {
        {
            let st = self.shared.state.borrow();
            let current = st
                .index
                .streams
                .get(&stream)
                .map_or(0, |s| s.truncated_upto);
            if upto <= current {
                return Ok(st.durable_seq);
            }
        }
        let ticket = self.append_now(&Record {
            kind: RecordKind::Truncate,
            stream,
            term,
            index: upto,
            payload: &[],
        })?;
        self.shared.state.borrow_mut().purge_needed = true;
        Ok(ticket)
    }

    /// A copy of what the log knows about `stream`.
    pub fn stream(&self, stream: u64) -> Option<StreamIndex> {
        self.shared
            .state
            .borrow()
            .index
            .streams
            .get(&stream)
            .cloned()
    }

    /// Ids of every stream the log knows.
    pub fn stream_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .shared
            .state
            .borrow()
            .index
            .streams
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Reads entries `lo..hi` of `stream` back from disk (after waiting for pending appends
    /// to become durable), stopping after about `max_bytes` of records (at least one entry).
    /// Records that lie close together in a segment are read with one ranged read.
    pub async fn read(
        &self,
        stream: u64,
        lo: u64,
        hi: u64,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, StorageError> {
        if !self.shared.state.borrow().pending.is_empty() {
            self.sync().await?;
        }
        let locs: Vec<(RecordLoc, Rc<File<D>>)> = {
            let st = self.shared.state.borrow();
            let Some(s) = st.index.streams.get(&stream) else {
                return Ok(Vec::new());
            };
            let from = s.entries.partition_point(|e| e.index < lo);
            let mut bytes = 0usize;
            s.entries
                .range(from..)
                .take_while(|e| e.index < hi)
                .take_while(|e| {
                    let more = bytes == 0 || bytes < max_bytes;
                    bytes += e.loc.len as usize;
                    more
                })
                .map(|e| (e.loc, st.segments[&e.loc.segment].clone()))
                .collect()
        };
        let mut out = Vec::with_capacity(locs.len());
        let mut run = 0;
        while run < locs.len() {
            let (first, file) = &locs[run];
            let start = first.offset / BLOCK_SIZE as u64 * BLOCK_SIZE as u64;
            let mut end = run + 1;
            while end < locs.len()
                && locs[end].0.segment == first.segment
                && locs[end].0.offset > locs[end - 1].0.offset
                && locs[end].0.offset + locs[end].0.len as u64 - start <= READ_RUN_BYTES_MAX
            {
                end += 1;
            }
            let last = locs[end - 1].0;
            let stop = align_up((last.offset + last.len as u64) as usize) as u64;
            let bytes = super::segment::read_range(file, start, stop - start).await?;
            for (loc, _) in &locs[run..end] {
                out.push(record_at(file, &bytes, start, *loc)?);
            }
            run = end;
        }
        Ok(out)
    }

    /// Stops accepting appends, flushes what is pending and stops the flusher.
    pub async fn close(&self) -> Result<(), StorageError> {
        {
            let mut st = self.shared.state.borrow_mut();
            st.closing = true;
            if let Some(w) = st.flusher.take() {
                w.wake();
            }
        }
        // A segment being prepared in the background holds the log open too: wait for it,
        // so that when close returns no task of this log is left.
        poll_fn(|cx| {
            let mut st = self.shared.state.borrow_mut();
            if st.flusher_done && !st.preparing {
                Poll::Ready(())
            } else {
                st.waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        self.shared.latch.check()
    }

    /// Counters.
    pub fn stats(&self) -> WalStats {
        let st = self.shared.state.borrow();
        let mut stats = st.stats.clone();
        stats.segments_live = st.segments.len() as u64;
        stats
    }

    /// The ticket of the newest record appended (durable or not): once it is durable, so is
    /// everything appended so far.
    ///
    /// A batch leaves `pending` when its flush starts, so the newest batch number handed
    /// out, not the newest pending one, is the answer.
    pub fn last_ticket(&self) -> u64 {
        self.shared.state.borrow().next_batch_seq - 1
    }

    /// Whether every record appended so far is durable (no flush pending or in flight).
    pub fn all_durable(&self) -> bool {
        let st = self.shared.state.borrow();
        st.durable_seq + 1 >= st.next_batch_seq
    }

    /// Highest durable batch number.
    pub fn durable_seq(&self) -> u64 {
        self.shared.state.borrow().durable_seq
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

/// The record at `loc`, from `bytes` read from `file` at `start`.
fn record_at<D: Disk>(
    file: &File<D>,
    bytes: &[u8],
    start: u64,
    loc: RecordLoc,
) -> Result<LogEntry, StorageError> {
    let at = (loc.offset - start) as usize;
    let seed = segment_seed(loc.segment);
    let corrupt = |reason: String| StorageError::corrupt(file.path(), loc.offset, reason);
    let slice = bytes
        .get(at..)
        .ok_or_else(|| corrupt("record beyond end of file".into()))?;
    let rec = decode_record(slice, seed).map_err(corrupt)?;
    Ok(LogEntry {
        index: rec.index,
        term: rec.term,
        payload: rec.payload.to_vec(),
    })
}

/// Recomputes every record checksum of a batch for segment `seq` (the batch was encoded
/// for another segment, and a rotation moved it).
fn reseal(buf: &mut [u8], recs: &[PendingRec], seq: u64) {
    let seed = segment_seed(seq);
    for r in recs {
        let rec = &mut buf[r.offset as usize..(r.offset + r.len) as usize];
        let crc = crc32c::crc32c_append(seed, &rec[0..4]);
        let crc = crc32c::crc32c_append(crc, &rec[8..]);
        rec[4..8].copy_from_slice(&crc.to_le_bytes());
    }
}

/// A flush whose writes were issued: what marking it durable needs.
struct Issued {
    batch: Pending,
    segment: u64,
    pos: u64,
    span: usize,
}

/// What the flusher does next.
enum Next {
    /// Write this batch.
    Issue(Pending),
    /// The oldest flush in flight ended.
    Done(Result<Issued, StorageError>),
    /// Closed (or failed) with nothing left in flight.
    Stop,
}

/// The flusher: writes pending batches in order, up to `flushes_in_flight_max` at once,
/// and marks them durable in batch order, until the log closes or fails.
///
/// Each flush's writes run in a task of their own, so they proceed while the flusher
/// waits for an earlier one. A batch is durable once its writes and those of every earlier
/// batch completed: `durable_seq` moves through consecutive batches only, so a ticket never
/// resolves while an earlier batch could still be lost. A batch that must start a new
/// segment waits until the flushes in flight have ended (only the current segment ever has
/// writes in flight, so recycling older ones never races with a write).
async fn run_flusher<D: Disk>(shared: Rc<Shared<D>>) {
    let depth = shared.config.flushes_in_flight_max;
    let mut in_flight: FuturesOrdered<crate::rt::Task<Result<Issued, StorageError>>> =
        FuturesOrdered::new();
    let mut held: Option<Pending> = None;
    let mut failed = false;
    loop {
        let next = poll_fn(|cx| {
            if let Poll::Ready(Some(done)) = in_flight.poll_next_unpin(cx) {
                return Poll::Ready(Next::Done(done));
            }
            let mut st = shared.state.borrow_mut();
            failed |= shared.latch.is_tripped();
            if !failed
                && in_flight.len() < depth
                && let Some(batch) = held.take().or_else(|| st.pending.pop_front())
            {
                let span = align_up(FLUSH_HEADER_LEN + batch.buf.len());
                let rotates = st.write_pos + span as u64 > shared.config.segment_size;
                if !rotates || in_flight.is_empty() {
                    return Poll::Ready(Next::Issue(batch));
                }
                // Woken by the flush in flight when it ends.
                held = Some(batch);
                return Poll::Pending;
            }
            // After a failure nothing more is written (the latch fails every waiter).
            let nothing_left = failed || (held.is_none() && st.pending.is_empty());
            if in_flight.is_empty() && nothing_left && (failed || st.closing) {
                return Poll::Ready(Next::Stop);
            }
            st.flusher = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        match next {
            Next::Issue(batch) => match shared.issue(batch).await {
                Ok(writes) => in_flight.push_back(writes),
                Err(_) => failed = true,
            },
            // After a failed flush, later ones that reached the disk are not durable
            // batches: an earlier batch is missing, so none of them is ever acknowledged.
            Next::Done(Ok(_)) if failed => {}
            Next::Done(Ok(issued)) => {
                shared.complete(issued);
                if shared.after_flush().await.is_err() {
                    failed = true;
                }
            }
            Next::Done(Err(_)) => failed = true,
            Next::Stop => break,
        }
    }
    let mut st = shared.state.borrow_mut();
    st.flusher_done = true;
    for w in st.waiters.drain(..) {
        w.wake();
    }
}

impl<D: Disk> Shared<D> {
    /// Places `batch` after the flushes before it (a new segment first if it does not fit)
    /// and starts its writes in a task of their own.
    async fn issue(
        self: &Rc<Self>,
        mut batch: Pending,
    ) -> Result<crate::rt::Task<Result<Issued, StorageError>>, StorageError> {
        let span = align_up(FLUSH_HEADER_LEN + batch.buf.len());
        let needs_rotation = {
            let st = self.state.borrow();
            st.write_pos + span as u64 > self.config.segment_size
        };
        if needs_rotation {
            self.rotate().await?;
        }
        let (segment, file, pos, durable_seq) = {
            let mut st = self.state.borrow_mut();
            let (&seq, file) = st.segments.iter().next_back().expect("current segment");
            let (file, pos, durable_seq) = (file.clone(), st.write_pos, st.durable_seq);
            st.write_pos = pos + span as u64;
            (seq, file, pos, durable_seq)
        };
        if batch.seed_segment != segment {
            reseal(&mut batch.buf, &batch.recs, segment);
        }
        // The watermark a flush carries is what was durable when it was issued: a flush
        // still in flight before it is not vouched for (recovery relies on this to tell a
        // torn tail from damage to acknowledged data).
        let header = FlushHeader {
            batch_seq: batch.seq,
            durable_seq,
            records_len: batch.buf.len() as u32,
            record_count: batch.recs.len() as u32,
        };
        let mut head = [0u8; FLUSH_HEADER_LEN];
        encode_flush_header(&header, segment_seed(segment), &mut head);
        let mut chunks = Vec::new();
        let mut at = 0usize;
        while at < span {
            let n = (span - at).min(IO_SIZE_MAX);
            let mut buf = self.disk.alloc(n);
            fill_chunk(&mut buf, at, &head, &batch.buf);
            chunks.push((buf, pos + at as u64));
            at += n;
        }
        Ok(crate::rt::spawn(async move {
            try_join_all(chunks.into_iter().map(|(buf, at)| file.write(buf, at))).await?;
            // Segments are open for synced writes (segment.rs): each write above was durable
            // when it completed, so the flush costs the shard one completion to reap, not a
            // write's and then an fdatasync's. At 1 / 16 / 64 puts in flight, one node, one
            // shard: 3.3-3.6k / 37-41k / 82-91k -> 4.6-5.1k / 43-45k / 95-106k per second
            // (bench/README.md, with the driver's apply chunks).
            if !file.is_synced() {
                file.sync().await?;
            }
            Ok(Issued {
                batch,
                segment,
                pos,
                span,
            })
        }))
    }

    /// Marks the oldest flush in flight durable: its records enter the index and the
    /// waiters for its ticket wake.
    fn complete(&self, issued: Issued) {
        let Issued {
            batch,
            segment,
            pos,
            span,
        } = issued;
        let mut st = self.state.borrow_mut();
        debug_assert_eq!(batch.seq, st.durable_seq + 1, "flushes complete in order");
        st.durable_seq = batch.seq;
        st.pending_bytes -= batch.buf.len();
        st.stats.flushes += 1;
        st.stats.fsyncs += 1;
        st.stats.bytes_written += span as u64;
        let body = pos + FLUSH_HEADER_LEN as u64;
        for r in &batch.recs {
            let start = r.offset as usize;
            let payload = &batch.buf[start + RECORD_HEADER_LEN..start + r.len as usize];
            let rec = Record {
                kind: r.kind,
                stream: r.stream,
                term: r.term,
                index: r.index,
                payload,
            };
            let loc = RecordLoc {
                segment,
                offset: body + r.offset as u64,
                len: r.len,
            };
            st.index.add(&rec, loc);
        }
        for w in st.waiters.drain(..) {
            w.wake();
        }
    }

    /// Housekeeping between flushes: recycle obsolete segments, prepare the next one.
    async fn after_flush(self: &Rc<Self>) -> Result<(), StorageError> {
        if self.state.borrow().purge_needed {
            self.purge().await?;
        }
        let prepare = {
            let mut st = self.state.borrow_mut();
            let want = st.prepared.is_none()
                && !st.preparing
                && st.write_pos > self.config.segment_size / 2;
            if want {
                st.preparing = true;
            }
            want
        };
        if prepare {
            let me = self.clone();
            crate::rt::spawn_detached(async move {
                let result = me.prepare_next(ZERO_FILL_DEPTH_BACKGROUND).await;
                let mut st = me.state.borrow_mut();
                st.preparing = false;
                if let Ok(ready) = result {
                    st.prepared = Some(ready);
                }
                for w in st.waiters.drain(..) {
                    w.wake();
                }
            });
        }
        Ok(())
    }

    /// Moves to the next segment (prepared in the background when possible).
    async fn rotate(self: &Rc<Self>) -> Result<(), StorageError> {
        poll_fn(|cx| {
            let mut st = self.state.borrow_mut();
            if st.preparing && !self.latch.is_tripped() {
                st.waiters.push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        self.latch.check()?;
        let prepared = self.state.borrow_mut().prepared.take();
        let (seq, file) = match prepared {
            Some(ready) => ready,
            None => self.prepare_next(SEGMENT_IO_DEPTH_MAX).await?,
        };
        let mut st = self.state.borrow_mut();
        st.segments.insert(seq, file);
        st.write_pos = BLOCK_SIZE as u64;
        Ok(())
    }

    /// Makes the next segment ready: a spare renamed, or a new one zero-filled with
    /// `depth` writes in flight.
    async fn prepare_next(&self, depth: usize) -> Result<(u64, Rc<File<D>>), StorageError> {
        let (seq, spare) = {
            let mut st = self.state.borrow_mut();
            let seq = st.next_segment_seq;
            st.next_segment_seq += 1;
            (seq, st.spares.pop())
        };
        let size = self.config.segment_size;
        let header = SegmentHeader {
            seq,
            segment_size: size,
            flush_span_max: self.config.flush_span_max() as u32,
        };
        let file = match spare {
            Some(old) => {
                let file =
                    recycle_segment(&self.disk, &self.dir, &old, &header, &self.latch).await?;
                let mut st = self.state.borrow_mut();
                st.stats.segments_recycled += 1;
                st.stats.fsyncs += 2;
                st.stats.bytes_written += BLOCK_SIZE as u64;
                file
            }
            None => {
                let file =
                    create_segment(&self.disk, &self.dir, &header, &self.latch, depth).await?;
                let mut st = self.state.borrow_mut();
                st.stats.segments_created += 1;
                st.stats.fsyncs += 2;
                st.stats.bytes_written += size;
                file
            }
        };
        Ok((seq, Rc::new(file)))
    }

    /// Recycles the oldest segments whose entries are all truncated away.
    async fn purge(self: &Rc<Self>) -> Result<(), StorageError> {
        let mut freed = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            st.purge_needed = false;
            let seqs: Vec<u64> = st.segments.keys().copied().collect();
            let Some((&current, older)) = seqs.split_last() else {
                return Ok(());
            };
            debug_assert!(older.iter().all(|&s| s < current));
            for &seq in older {
                if !st.index.entries_obsolete(seq) {
                    break;
                }
                let (truncations, states) = st.index.sticky_records(seq);
                if !truncations.is_empty() || !states.is_empty() {
                    drop(st);
                    self.reappend(truncations, states)?;
                    self.state.borrow_mut().purge_needed = true;
                    break;
                }
                st.index.remove_segment(seq);
                st.segments.remove(&seq);
                freed.push(seq);
            }
        }
        if freed.is_empty() {
            return Ok(());
        }
        // Oldest first, each rename durable before the next: at any crash point the
        // segments still named as log are a suffix of the chain, never an old segment
        // stranded before a gap.
        let mut spare_paths = Vec::with_capacity(freed.len());
        for seq in freed {
            let from = segment_path(&self.dir, seq);
            let to = self.dir.join(spare_name(seq));
            self.disk
                .rename(&from, &to)
                .await
                .map_err(|e| self.latch.trip("rename", &from, &e))?;
            sync_dir(&self.disk, &self.dir, &self.latch).await?;
            spare_paths.push(to);
        }
        let freed = spare_paths;
        let excess = {
            let mut st = self.state.borrow_mut();
            st.spares.extend(freed);
            let keep = self.config.spare_segments_max;
            let n = st.spares.len().saturating_sub(keep);
            st.spares.drain(..n).collect::<Vec<_>>()
        };
        for path in &excess {
            self.disk
                .remove(path)
                .await
                .map_err(|e| self.latch.trip("remove", path, &e))?;
        }
        if !excess.is_empty() {
            sync_dir(&self.disk, &self.dir, &self.latch).await?;
        }
        Ok(())
    }

    fn reappend(
        self: &Rc<Self>,
        truncations: Vec<(u64, u64, u64)>,
        states: Vec<(u64, Vec<u8>)>,
    ) -> Result<(), StorageError> {
        let wal = Wal {
            shared: self.clone(),
        };
        for (stream, upto, term) in truncations {
            wal.append_now(&Record {
                kind: RecordKind::Truncate,
                stream,
                term,
                index: upto,
                payload: &[],
            })?;
        }
        for (stream, payload) in states {
            wal.append_now(&Record {
                kind: RecordKind::State,
                stream,
                term: 0,
                index: 0,
                payload: &payload,
            })?;
        }
        Ok(())
    }
}

/// Copies the part of the flush image (header, records, zero padding) that starts at `at`
/// into `buf`.
fn fill_chunk(buf: &mut [u8], at: usize, head: &[u8], body: &[u8]) {
    let end = at + buf.len();
    let mut out = 0usize;
    if at < head.len() {
        let n = head.len().min(end) - at;
        buf[..n].copy_from_slice(&head[at..at + n]);
        out = n;
    }
    if out == buf.len() {
        return;
    }
    let body_from = (at + out) - head.len();
    if body_from < body.len() {
        let n = (body.len() - body_from).min(buf.len() - out);
        buf[out..out + n].copy_from_slice(&body[body_from..body_from + n]);
        out += n;
    }
    buf[out..].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_chunk_assembles_the_flush_image() {
        let head = [1u8; 4];
        let body = [2u8; 10];
        let mut whole = vec![9u8; 20];
        fill_chunk(&mut whole, 0, &head, &body);
        assert_eq!(&whole[..4], &[1; 4]);
        assert_eq!(&whole[4..14], &[2; 10]);
        assert_eq!(&whole[14..], &[0; 6]);
        let mut parts = Vec::new();
        for at in (0..20).step_by(3) {
            let mut chunk = vec![9u8; 3.min(20 - at)];
            fill_chunk(&mut chunk, at, &head, &body);
            parts.extend(chunk);
        }
        assert_eq!(parts, whole);
    }
}
