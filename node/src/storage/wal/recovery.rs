//! Log recovery: find the acknowledged prefix, replay it, and cut a torn tail.
//!
//! Segments are read in sequence order. Flushes must form one unbroken chain of
//! consecutive batch numbers, starting at block 1 of the oldest segment and moving to the
//! next segment whenever that segment's first flush continues the chain. The first point
//! where the chain breaks (a blank or damaged flush header, a bad record checksum, a
//! sequence gap) is the candidate end of the log.
//!
//! Telling a torn tail from corruption (RUNTIME-NOTES §6.4, pitfall 24): every flush header
//! carries the highest batch number known durable when it was issued (flushes in flight
//! together never vouch for each other, and tickets resolve in batch order), so if any
//! valid flush header *after* the break says the broken batch was durable, that batch was
//! acknowledged: the damage is corruption of acknowledged data,
//! the shard refuses to open, and the error names the file, offset and reason. Otherwise the
//! damage belongs to a flush that was never acknowledged: the log is cut there, and any
//! stale but valid-looking flush headers beyond the cut are zeroed before new appends, so
//! they can never be mistaken for a continuation later.
//!
//! Limitation (inherent to one copy): damage to the last acknowledged flushes, with no
//! later flush issued after they were durable to vouch for them (at most as many as the
//! log writes at once), is indistinguishable from a torn tail. Replication repairs that
//! case from peers.

use std::path::{Path, PathBuf};

use futures::future::OptionFuture;

use super::format::{
    FLUSH_HEADER_LEN, FlushHeader, Record, SegmentHeaderError, decode_flush_header, decode_records,
    decode_segment_header, segment_seed,
};
use super::index::RecordLoc;
use super::segment::{
    is_spare_name, is_temp_segment_name, parse_segment_name, read_range_into, segment_path,
};
use crate::storage::error::StorageError;
use crate::storage::io::{BLOCK_SIZE, Disk, File, Latch};

/// What recovery found, handed to the log writer.
pub struct Recovered<D: Disk> {
    /// Segments in the chain, oldest first; the last one is where appends continue.
    pub chain: Vec<(u64, File<D>)>,
    /// Offset in the last chain segment where the next flush goes.
    pub write_pos: u64,
    /// Batch number of the next flush.
    pub next_batch_seq: u64,
    /// Offsets in the last chain segment whose stale flush headers must be zeroed.
    pub zero_offsets: Vec<u64>,
    /// Segment files after the chain: reusable.
    pub spares: Vec<PathBuf>,
    /// Highest segment sequence number seen.
    pub max_segment_seq: u64,
    /// Summary for logs and `fsck`.
    pub report: RecoveryReport,
}

/// Counters describing a recovery.
#[derive(Debug, Default, Clone)]
pub struct RecoveryReport {
    /// Segment files read.
    pub segments: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Valid flushes in the chain.
    pub flushes: u64,
    /// Records replayed.
    pub records: u64,
    /// Bytes of records replayed.
    pub record_bytes: u64,
    /// Where the tail was cut, and why (None: the log ended cleanly).
    pub cut: Option<(PathBuf, u64, String)>,
}

struct Break {
    chain_len: usize,
    path: PathBuf,
    pos: u64,
    seq_at_break: Option<u64>,
    reason: String,
    zero_offsets: Vec<u64>,
    evidence_max: Option<u64>,
}

enum FlushParse {
    Good(FlushHeader),
    Bad {
        header: Option<FlushHeader>,
        offset: u64,
        reason: String,
    },
}

/// Checks the flush at `pos` of a segment's bytes without replaying it.
fn check_flush(data: &[u8], pos: usize, seed: u32) -> FlushParse {
    if pos + FLUSH_HEADER_LEN > data.len() {
        return FlushParse::Bad {
            header: None,
            offset: pos as u64,
            reason: "end of segment".into(),
        };
    }
    let Some(h) = decode_flush_header(&data[pos..], seed) else {
        let blank = data[pos..pos + FLUSH_HEADER_LEN].iter().all(|&b| b == 0);
        return FlushParse::Bad {
            header: None,
            offset: pos as u64,
            reason: if blank {
                "blank flush header".into()
            } else {
                "invalid flush header".into()
            },
        };
    };
    let body_start = pos + FLUSH_HEADER_LEN;
    let body_end = body_start + h.records_len as usize;
    if body_end > data.len() {
        return FlushParse::Bad {
            header: Some(h),
            offset: pos as u64,
            reason: format!("flush of {} bytes runs past the segment end", h.records_len),
        };
    }
    for item in decode_records(&data[body_start..body_end], h.record_count, seed) {
        if let Err((at, reason)) = item {
            return FlushParse::Bad {
                header: Some(h),
                offset: (body_start + at) as u64,
                reason,
            };
        }
    }
    FlushParse::Good(h)
}

/// Replays the records of a verified flush.
fn replay_flush(
    data: &[u8],
    pos: usize,
    h: &FlushHeader,
    seq: u64,
    visit: &mut dyn FnMut(&Record<'_>, RecordLoc) -> Result<(), StorageError>,
    report: &mut RecoveryReport,
) -> Result<(), StorageError> {
    let body_start = pos + FLUSH_HEADER_LEN;
    let body = &data[body_start..body_start + h.records_len as usize];
    for item in decode_records(body, h.record_count, segment_seed(seq)) {
        let (at, rec) = item.expect("flush verified by check_flush");
        let loc = RecordLoc {
            segment: seq,
            offset: (body_start + at) as u64,
            len: rec.encoded_len() as u32,
        };
        report.records += 1;
        report.record_bytes += rec.encoded_len() as u64;
        visit(&rec, loc)?;
    }
    Ok(())
}

/// Valid flush headers at block boundaries from `from` on: (offset, header).
fn find_headers(data: &[u8], from: usize, seed: u32) -> Vec<(u64, FlushHeader)> {
    let mut out = Vec::new();
    let mut at = from.div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
    while at + FLUSH_HEADER_LEN <= data.len() {
        if let Some(h) = decode_flush_header(&data[at..], seed) {
            out.push((at as u64, h));
        }
        at += BLOCK_SIZE;
    }
    out
}

/// What a segment turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentRole {
    /// Part of the log's chain of flushes.
    Chain,
    /// After the end of the log (or never used): reusable.
    Spare,
}

/// Where the log ends and how appends continue, once every segment has been scanned.
#[derive(Debug, Clone)]
pub struct ChainEnd {
    /// Chain segments (oldest first) that stay in the log; later ones are spares.
    pub chain_len: usize,
    /// Offset in the last chain segment where the next flush goes.
    pub write_pos: u64,
    /// Batch number of the next flush.
    pub next_batch_seq: u64,
    /// Offsets in the last chain segment whose stale flush headers must be zeroed.
    pub zero_offsets: Vec<u64>,
    /// What the scan found.
    pub report: RecoveryReport,
}

/// The decision procedure of recovery, fed one segment at a time in sequence order.
/// Pure (no I/O), so `fsck` runs exactly the same checks read-only.
#[derive(Default)]
pub struct ChainScanner {
    /// Bytes of flushes replayed between yields to the executor (0: never yields).
    yield_every: usize,
    report: RecoveryReport,
    expected: Option<u64>,
    brk: Option<Break>,
    hole: Option<(PathBuf, String)>,
    write_pos: u64,
    chain_len: usize,
}

impl ChainScanner {
    /// A scanner for an empty log.
    pub fn new() -> Self {
        Self {
            write_pos: BLOCK_SIZE as u64,
            ..Self::default()
        }
    }

    /// A scanner that gives way to the executor's I/O after every `bytes` of flushes it
    /// replays, so reads issued beside it (the next segment's) keep going while it works.
    /// Without this, [`ChainScanner::segment`] never waits.
    pub fn yielding(bytes: usize) -> Self {
        Self {
            yield_every: bytes,
            ..Self::new()
        }
    }

    /// Where the chain stands, as far as reading the next segment is concerned.
    fn plan(&self) -> ReadPlan {
        ReadPlan {
            expected: self.expected,
            has_break: self.brk.is_some(),
        }
    }

    /// Scans the bytes of segment `seq` (stored at `path`), replaying the records that
    /// continue the chain through `visit`.
    pub async fn segment(
        &mut self,
        seq: u64,
        path: &Path,
        data: &[u8],
        visit: &mut dyn FnMut(&Record<'_>, RecordLoc) -> Result<(), StorageError>,
    ) -> Result<SegmentRole, StorageError> {
        self.report.segments += 1;
        self.report.bytes_read += data.len() as u64;
        let seed = segment_seed(seq);
        let header_ok = match decode_segment_header(data) {
            Ok(h) if h.seq == seq => Ok(()),
            Ok(h) => Err(format!(
                "segment header names sequence {} (file name says {seq})",
                h.seq
            )),
            Err(SegmentHeaderError::Blank) => Err("blank segment header".to_string()),
            Err(SegmentHeaderError::Invalid(reason)) => Err(reason),
        };
        if let Err(reason) = header_ok {
            if self.hole.is_none() && self.brk.is_none() {
                self.hole = Some((path.to_path_buf(), reason));
            }
            note_evidence(&mut self.brk, data, 0, seed, false);
            return Ok(SegmentRole::Spare);
        }
        // A pending break at the end of the previous segment is a clean segment switch when
        // this segment's first flush continues the chain; otherwise this segment lies after
        // the end of the log and only serves as evidence.
        let first = check_flush(data, BLOCK_SIZE, seed);
        let continues =
            matches!((&first, self.expected), (FlushParse::Good(h), Some(e)) if h.batch_seq == e);
        if self.brk.is_some() && !continues {
            note_evidence(&mut self.brk, data, 0, seed, false);
            return Ok(SegmentRole::Spare);
        }
        if let (Some((hole_path, reason)), FlushParse::Good(_)) = (&self.hole, &first) {
            return Err(StorageError::corrupt(
                hole_path,
                0,
                format!(
                    "{reason}, but later segment {} holds log data",
                    path.display()
                ),
            ));
        }
        self.walk(seq, path, data, visit).await?;
        Ok(SegmentRole::Chain)
    }

    /// Follows the chain through one segment and records where it breaks.
    async fn walk(
        &mut self,
        seq: u64,
        path: &Path,
        data: &[u8],
        visit: &mut dyn FnMut(&Record<'_>, RecordLoc) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let seed = segment_seed(seq);
        let mut pos = BLOCK_SIZE;
        let mut yielded_at = pos;
        let (header, offset, reason) = loop {
            match check_flush(data, pos, seed) {
                FlushParse::Good(h) if self.expected.is_none_or(|e| h.batch_seq == e) => {
                    replay_flush(data, pos, &h, seq, visit, &mut self.report)?;
                    self.report.flushes += 1;
                    self.expected = Some(h.batch_seq + 1);
                    pos += h.span();
                    if self.yield_every > 0 && pos - yielded_at >= self.yield_every {
                        yielded_at = pos;
                        crate::rt::yield_to_io().await;
                    }
                }
                FlushParse::Good(h) => {
                    let want = self.expected.unwrap_or_default();
                    let reason =
                        format!("flush sequence {} where {want} was expected", h.batch_seq);
                    break (Some(h), pos as u64, reason);
                }
                FlushParse::Bad {
                    header,
                    offset,
                    reason,
                } => break (header, offset, reason),
            }
        };
        self.write_pos = pos as u64;
        self.chain_len += 1;
        let mut b = Break {
            chain_len: self.chain_len,
            path: path.to_path_buf(),
            pos: pos as u64,
            seq_at_break: self.expected.or(header.map(|h| h.batch_seq)),
            reason: if offset == pos as u64 {
                reason
            } else {
                format!("{reason} (record at offset {offset})")
            },
            zero_offsets: Vec::new(),
            evidence_max: None,
        };
        if header.is_some() {
            b.zero_offsets.push(pos as u64);
        }
        self.brk = Some(b);
        note_evidence(&mut self.brk, data, pos + BLOCK_SIZE, seed, true);
        Ok(())
    }

    /// Decides: a torn tail to cut (Ok), or damage to acknowledged data (Err, naming the
    /// file, offset and reason).
    pub fn finish(self) -> Result<ChainEnd, StorageError> {
        let mut report = self.report;
        let Some(b) = self.brk else {
            return Ok(ChainEnd {
                chain_len: 0,
                write_pos: BLOCK_SIZE as u64,
                next_batch_seq: 1,
                zero_offsets: Vec::new(),
                report,
            });
        };
        let acknowledged = match (b.seq_at_break, b.evidence_max) {
            (Some(s), Some(d)) => d >= s,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if acknowledged {
            return Err(StorageError::corrupt(
                &b.path,
                b.pos,
                format!(
                    "{}; a later flush records batch {} as durable, so acknowledged data is damaged",
                    b.reason,
                    b.evidence_max.unwrap_or_default()
                ),
            ));
        }
        // A blank or foreign block (stale bytes of a recycled segment's earlier life) is
        // the normal end of the log; a cut is worth reporting only when a flush of this
        // generation was torn (a valid header with damaged records, or headers beyond).
        if !b.zero_offsets.is_empty() {
            report.cut = Some((b.path.clone(), b.pos, b.reason.clone()));
        }
        Ok(ChainEnd {
            chain_len: b.chain_len,
            write_pos: self.write_pos,
            next_batch_seq: b.seq_at_break.unwrap_or(1),
            zero_offsets: b.zero_offsets,
            report,
        })
    }
}

/// Recovers the log in `dir`: replays every acknowledged record in order through `visit`
/// and decides where appends continue.
pub async fn recover<D: Disk>(
    disk: &D,
    dir: &Path,
    latch: &Latch,
    visit: &mut dyn FnMut(&Record<'_>, RecordLoc) -> Result<(), StorageError>,
) -> Result<Recovered<D>, StorageError> {
    let names = disk
        .list(dir)
        .await
        .map_err(|e| StorageError::io("list", dir, e))?;
    for name in names.iter().filter(|n| is_temp_segment_name(n)) {
        let path = dir.join(name);
        disk.remove(&path)
            .await
            .map_err(|e| StorageError::io("remove", &path, e))?;
    }
    let mut seqs: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    seqs.sort_unstable();
    let mut scanner = ChainScanner::yielding(RECOVERY_YIELD_BYTES);
    let mut chain: Vec<(u64, File<D>)> = Vec::new();
    let mut spares: Vec<PathBuf> = names
        .iter()
        .filter(|n| is_spare_name(n))
        .map(|n| dir.join(n))
        .collect();
    // Two buffers, reused for every segment (their pages are faulted in once): while the
    // scanner replays one segment, the next one is read into the other. How much of the
    // next segment to read depends on where the chain stands after this one; the read
    // assumes the chain its flush headers show, and is redone in the rare case that the
    // scan disagrees (a damaged record).
    let mut data = Vec::new();
    let mut next_data = Vec::new();
    let mut files = Vec::with_capacity(seqs.len());
    for &seq in &seqs {
        files.push(File::open_synced(disk, &segment_path(dir, seq), latch).await?);
    }
    let mut plan = scanner.plan();
    if let (Some(&seq), Some(file)) = (seqs.first(), files.first()) {
        plan = read_for_recovery(file, seq, plan, &mut data).await?;
    }
    let mut files = files.into_iter();
    for (i, &seq) in seqs.iter().enumerate() {
        let path = segment_path(dir, seq);
        let file = files.next().expect("one file per segment");
        let next = seqs.get(i + 1).copied().zip(files.as_slice().first());
        let prefetch: OptionFuture<_> = next
            .map(|(next_seq, next_file)| {
                read_for_recovery(next_file, next_seq, plan, &mut next_data)
            })
            .into();
        let (role, prefetched) =
            futures::join!(scanner.segment(seq, &path, &data, visit), prefetch);
        match role? {
            SegmentRole::Chain => chain.push((seq, file)),
            SegmentRole::Spare => spares.push(path),
        }
        if let Some((next_seq, next_file)) = next {
            plan = match prefetched {
                Some(after) if plan == scanner.plan() => after?,
                _ => read_for_recovery(next_file, next_seq, scanner.plan(), &mut next_data).await?,
            };
            std::mem::swap(&mut data, &mut next_data);
        }
    }
    let end = scanner.finish()?;
    for (seq, _) in chain.drain(end.chain_len..) {
        spares.push(segment_path(dir, seq));
    }
    Ok(Recovered {
        chain,
        write_pos: end.write_pos,
        next_batch_seq: end.next_batch_seq,
        zero_offsets: end.zero_offsets,
        spares,
        max_segment_seq: seqs.last().copied().unwrap_or(0),
        report: end.report,
    })
}

/// Bytes read at a time while following the chain through a segment.
const RECOVERY_READ_CHUNK: u64 = 8 << 20;

/// Reads in flight while recovery reads a segment. 1 GiB of log (256 MiB segments) read
/// while replaying: 1.32-1.33 s at 32 against 1.37-1.55 s at 8 (2 vCPUs, 2026-12-07).
const RECOVERY_IO_DEPTH: usize = 32;

/// Bytes of flushes the scanner replays between chances for the next segment's reads to
/// complete and be reissued: with [`RECOVERY_IO_DEPTH`] reads of
/// [`IO_SIZE_MAX`](crate::storage::io::IO_SIZE_MAX) (4 MiB) in flight, small enough that
/// the disk never idles while the scanner works.
const RECOVERY_YIELD_BYTES: usize = 256 << 10;

/// Where the chain stands before a segment, which is all that decides how much of that
/// segment recovery reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadPlan {
    /// Batch number the chain continues with (None before the first flush).
    expected: Option<u64>,
    /// Whether the chain has stopped (possibly only until this segment continues it).
    has_break: bool,
}

/// Reads what recovery needs of segment `seq` into `data` (replacing what it held): its
/// chain of flushes plus one maximal flush span beyond where the chain stops (a later
/// flush, the only evidence that a broken one was acknowledged, must start within that
/// span: flushes are contiguous and only one is in flight). A segment after the end of the
/// log needs only its first flush header. So recovery reads about the log's size, not
/// every preallocated or spare byte.
///
/// Returns where the chain stands after this segment as its flush headers show it (the
/// scanner, which also checks every record, agrees unless a record is damaged).
async fn read_for_recovery<D: Disk>(
    file: &File<D>,
    seq: u64,
    plan: ReadPlan,
    data: &mut Vec<u8>,
) -> Result<ReadPlan, StorageError> {
    data.clear();
    let size = file.size().await?;
    // Room for the whole segment up front: growing by doubling would copy what was read
    // and fault in twice the memory (pages are touched only as reads fill them). The size
    // comes from the disk: if it cannot be reserved, the buffer grows as it is filled.
    let _ = data.try_reserve(usize::try_from(size).unwrap_or(usize::MAX));
    read_range_into(file, 0, size.min(2 * BLOCK_SIZE as u64), 1, data).await?;
    let header = match decode_segment_header(data) {
        Ok(h) if h.seq == seq => h,
        // A damaged header: read everything, the scanner decides what it means.
        _ => {
            let at = data.len() as u64;
            read_range_into(file, at, size.saturating_sub(at), RECOVERY_IO_DEPTH, data).await?;
            return Ok(plan);
        }
    };
    let seed = segment_seed(seq);
    let first = decode_flush_header(data.get(BLOCK_SIZE..).unwrap_or(&[]), seed);
    let continues = first.is_some_and(|h| plan.expected.is_none_or(|e| h.batch_seq == e));
    if plan.has_break && !continues {
        return Ok(plan);
    }
    let span_max = header.flush_span_max as u64;
    // Where to resume looking for the chain's end: flushes before it are already known.
    let mut walked = ChainWalk::new(plan.expected);
    let after = |walked: &ChainWalk| ReadPlan {
        expected: walked.expected,
        has_break: true,
    };
    loop {
        let want = match walked.stop(data, seed, size) {
            Some(stop) => (stop as u64 + span_max + BLOCK_SIZE as u64).min(size),
            None => (data.len() as u64 + RECOVERY_READ_CHUNK).min(size),
        };
        if data.len() as u64 >= want {
            return Ok(after(&walked));
        }
        let at = data.len() as u64;
        let whole = read_range_into(
            file,
            at,
            (want - at).min(RECOVERY_READ_CHUNK),
            RECOVERY_IO_DEPTH,
            data,
        )
        .await?;
        if !whole && data.len() as u64 == at {
            return Ok(after(&walked));
        }
    }
}

/// Follows the chain of flushes through a segment's bytes as they arrive, by headers alone
/// (records are verified later), remembering how far it got.
struct ChainWalk {
    pos: usize,
    expected: Option<u64>,
}

impl ChainWalk {
    fn new(expected: Option<u64>) -> Self {
        Self {
            pos: BLOCK_SIZE,
            expected,
        }
    }

    /// Where the chain stops in `data` (the first `data.len()` bytes of a segment of `size`
    /// bytes): `Some(pos)` once known, `None` if `data` ends inside the chain.
    fn stop(&mut self, data: &[u8], seed: u32, size: u64) -> Option<usize> {
        loop {
            let pos = self.pos;
            if pos + FLUSH_HEADER_LEN > data.len() {
                return (data.len() as u64 >= size).then_some(pos);
            }
            match decode_flush_header(&data[pos..], seed) {
                Some(h) if self.expected.is_none_or(|e| h.batch_seq == e) => {
                    let next = pos + h.span();
                    if next as u64 > size {
                        return Some(pos);
                    }
                    if next > data.len() {
                        return None;
                    }
                    self.expected = Some(h.batch_seq + 1);
                    self.pos = next;
                }
                _ => return Some(pos),
            }
        }
    }
}

/// Records valid flush headers found from `from` on as evidence against the pending break;
/// `same_segment` also lists them for zeroing.
fn note_evidence(brk: &mut Option<Break>, data: &[u8], from: usize, seed: u32, same_segment: bool) {
    let Some(b) = brk else {
        return;
    };
    for (offset, h) in find_headers(data, from.max(BLOCK_SIZE), seed) {
        b.evidence_max = Some(
            b.evidence_max
                .map_or(h.durable_seq, |d| d.max(h.durable_seq)),
        );
        if same_segment {
            b.zero_offsets.push(offset);
        }
    }
}
