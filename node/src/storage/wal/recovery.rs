//! Log recovery: find the acknowledged prefix, replay it, and cut a torn tail.
//!
//! Segments are read in sequence order. Flushes must form one unbroken chain of
//! consecutive batch numbers, starting at block 1 of the oldest segment and moving to the
//! next segment whenever that segment's first flush continues the chain. The first point
//! where the chain breaks (a blank or damaged flush header, a bad record checksum, a
//! sequence gap) is the candidate end of the log.
//!
//! Telling a torn tail from corruption (RUNTIME-NOTES §6.4, pitfall 24): every flush header
//! carries the highest batch number known durable when it was written. Only one flush is in
//! flight at a time, so if any valid flush header *after* the break says the broken batch
//! was durable, that batch was acknowledged: the damage is corruption of acknowledged data,
//! the shard refuses to open, and the error names the file, offset and reason. Otherwise the
//! damage belongs to a flush that was never acknowledged: the log is cut there, and any
//! stale but valid-looking flush headers beyond the cut are zeroed before new appends, so
//! they can never be mistaken for a continuation later.
//!
//! Limitation (inherent to one copy): damage to the very last acknowledged flush, with no
//! later flush to vouch for it, is indistinguishable from a torn tail. Replication repairs
//! that case from peers.

use std::path::{Path, PathBuf};

use super::format::{
    FLUSH_HEADER_LEN, FlushHeader, Record, SegmentHeaderError, decode_flush_header, decode_records,
    decode_segment_header, segment_seed,
};
use super::index::RecordLoc;
use super::segment::{is_temp_segment_name, parse_segment_name, read_range, segment_path};
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

    let mut report = RecoveryReport::default();
    let mut chain: Vec<(u64, File<D>)> = Vec::new();
    let mut spares = Vec::new();
    let mut expected: Option<u64> = None;
    let mut brk: Option<Break> = None;
    let mut hole: Option<(PathBuf, String)> = None;
    let mut write_pos = BLOCK_SIZE as u64;

    for &seq in &seqs {
        let path = segment_path(dir, seq);
        let file = File::open(disk, &path, false, latch).await?;
        let size = file.size().await?;
        let data = read_range(&file, 0, size).await?;
        report.segments += 1;
        report.bytes_read += data.len() as u64;
        let seed = segment_seed(seq);

        let header_ok = match decode_segment_header(&data) {
            Ok(h) if h.seq == seq => Ok(()),
            Ok(h) => Err(format!(
                "segment header names sequence {} (file name says {seq})",
                h.seq
            )),
            Err(SegmentHeaderError::Blank) => Err("blank segment header".to_string()),
            Err(SegmentHeaderError::Invalid(reason)) => Err(reason),
        };
        if let Err(reason) = header_ok {
            if hole.is_none() && brk.is_none() {
                hole = Some((path.clone(), reason));
            }
            note_evidence(&mut brk, &data, 0, seed, false);
            spares.push(path);
            continue;
        }

        // A tentative break at the end of the previous segment is a clean segment switch
        // when this segment's first flush continues the chain.
        let first = check_flush(&data, BLOCK_SIZE, seed);
        // (Otherwise the pending break is replaced below, when this segment is walked.)
        let continues =
            matches!((&first, expected), (FlushParse::Good(h), Some(e)) if h.batch_seq == e);
        if brk.is_some() && !continues {
            note_evidence(&mut brk, &data, 0, seed, false);
            spares.push(path);
            continue;
        }
        if let (Some((hole_path, reason)), FlushParse::Good(_)) = (&hole, &first) {
            return Err(StorageError::corrupt(
                hole_path,
                0,
                format!(
                    "{reason}, but later segment {} holds log data",
                    path.display()
                ),
            ));
        }

        let mut pos = BLOCK_SIZE;
        let parse = loop {
            match check_flush(&data, pos, seed) {
                FlushParse::Good(h) if expected.is_none_or(|e| h.batch_seq == e) => {
                    replay_flush(&data, pos, &h, seq, visit, &mut report)?;
                    report.flushes += 1;
                    expected = Some(h.batch_seq + 1);
                    pos += h.span();
                }
                FlushParse::Good(h) => {
                    break (
                        Some(h),
                        pos as u64,
                        format!(
                            "flush sequence {} where {} was expected",
                            h.batch_seq,
                            expected.unwrap_or_default()
                        ),
                    );
                }
                FlushParse::Bad {
                    header,
                    offset,
                    reason,
                } => break (header, offset, reason),
            }
        };
        let (header, offset, reason) = parse;
        write_pos = pos as u64;
        chain.push((seq, file));
        let mut b = Break {
            chain_len: chain.len(),
            path: path.clone(),
            pos: pos as u64,
            seq_at_break: expected.or(header.map(|h| h.batch_seq)),
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
        brk = Some(b);
        note_evidence(&mut brk, &data, pos + BLOCK_SIZE, seed, true);
    }

    let max_segment_seq = seqs.last().copied().unwrap_or(0);
    let Some(b) = brk else {
        // No usable segment at all: a fresh log (every file found is reusable).
        return Ok(Recovered {
            chain,
            write_pos: BLOCK_SIZE as u64,
            next_batch_seq: 1,
            zero_offsets: Vec::new(),
            spares,
            max_segment_seq,
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
    if b.reason != "end of segment" && b.reason != "blank flush header" {
        report.cut = Some((b.path.clone(), b.pos, b.reason.clone()));
    }
    chain.truncate(b.chain_len);
    Ok(Recovered {
        chain,
        write_pos,
        next_batch_seq: b.seq_at_break.unwrap_or(1),
        zero_offsets: b.zero_offsets,
        spares,
        max_segment_seq,
        report,
    })
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
