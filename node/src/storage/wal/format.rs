//! Byte layout of write-ahead-log segments, flushes and records (see `node/FORMAT.md`).
//!
//! A segment file is a preallocated, zero-filled run of 4 KiB blocks. Block 0 holds the
//! segment header. Every group-commit flush starts on a fresh block with a flush header,
//! followed by its records back to back, and is padded with zeros to the next block.
//!
//! Every checksum is CRC32C seeded from the segment's generation (its sequence number), so a
//! record left over from a recycled segment's previous life fails verification instead of
//! being replayed.
//!
//! Pure functions over byte slices: no I/O here, so the fuzzers and `fsck` can use them.

use crate::storage::io::BLOCK_SIZE;

/// First 8 bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SHOALWAL";
/// Version of this layout; bumped on any change (and FORMAT.md updated).
pub const WAL_FORMAT_VERSION: u32 = 1;
/// Bytes of the segment header that carry data (the rest of block 0 is zero).
pub const SEGMENT_HEADER_LEN: usize = 40;
/// Magic of a flush header ("FLSH" little-endian).
pub const FLUSH_MAGIC: u32 = u32::from_le_bytes(*b"FLSH");
/// Size of a flush header.
pub const FLUSH_HEADER_LEN: usize = 32;
/// Size of a record header (the payload follows).
pub const RECORD_HEADER_LEN: usize = 40;

const HEADER_SEED: u32 = 0x5348_4f41;

/// What a record means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// A log entry of a stream at (term, index); later entries at the same or lower index
    /// of the same stream replace it (a raft log suffix overwrite).
    Entry = 1,
    /// Prefix truncation: entries of the stream with index <= `index` are discarded.
    Truncate = 2,
    /// The latest opaque state of a stream (raft hard state); the newest one wins.
    State = 3,
}

impl RecordKind {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(RecordKind::Entry),
            2 => Some(RecordKind::Truncate),
            3 => Some(RecordKind::State),
            _ => None,
        }
    }
}

/// A record as appended or read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// What it means.
    pub kind: RecordKind,
    /// The logical stream (a raft group, or an engine batch stream).
    pub stream: u64,
    /// Raft term (0 where unused).
    pub term: u64,
    /// Position in the stream.
    pub index: u64,
    /// Opaque payload.
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Encoded size of this record.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.payload.len()
    }
}

/// The seed of every checksum in the segment with sequence number `seq`.
pub fn segment_seed(seq: u64) -> u32 {
    crc32c::crc32c_append(HEADER_SEED, &seq.to_le_bytes())
}

/// Decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence number (generation) of the segment; matches its file name.
    pub seq: u64,
    /// Size of the segment file in bytes.
    pub segment_size: u64,
    /// The most bytes one flush may span in this segment (header, records, padding).
    /// Recovery reads this far past the end of the log looking for later flushes.
    pub flush_span_max: u32,
}

/// Writes the segment header into `block` (at least [`SEGMENT_HEADER_LEN`] bytes).
pub fn encode_segment_header(h: &SegmentHeader, block: &mut [u8]) {
    block[..SEGMENT_HEADER_LEN].fill(0);
    block[0..8].copy_from_slice(&SEGMENT_MAGIC);
    block[8..12].copy_from_slice(&WAL_FORMAT_VERSION.to_le_bytes());
    block[12..16].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
    block[16..24].copy_from_slice(&h.seq.to_le_bytes());
    block[24..32].copy_from_slice(&h.segment_size.to_le_bytes());
    block[32..36].copy_from_slice(&h.flush_span_max.to_le_bytes());
    let crc = crc32c::crc32c_append(HEADER_SEED, &block[0..36]);
    block[36..40].copy_from_slice(&crc.to_le_bytes());
}

/// Why bytes are not a valid segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentHeaderError {
    /// All zero: never written.
    Blank,
    /// Anything else, with the reason.
    Invalid(String),
}

/// Decodes and verifies a segment header.
pub fn decode_segment_header(block: &[u8]) -> Result<SegmentHeader, SegmentHeaderError> {
    if block.len() < SEGMENT_HEADER_LEN {
        return Err(SegmentHeaderError::Invalid(
            "segment shorter than its header".into(),
        ));
    }
    if block[..SEGMENT_HEADER_LEN].iter().all(|&b| b == 0) {
        return Err(SegmentHeaderError::Blank);
    }
    if block[0..8] != SEGMENT_MAGIC {
        return Err(SegmentHeaderError::Invalid("bad segment magic".into()));
    }
    let stored = u32_at(block, 36);
    let crc = crc32c::crc32c_append(HEADER_SEED, &block[0..36]);
    if stored != crc {
        return Err(SegmentHeaderError::Invalid(format!(
            "segment header checksum {stored:#010x} != computed {crc:#010x}"
        )));
    }
    let version = u32_at(block, 8);
    if version != WAL_FORMAT_VERSION {
        return Err(SegmentHeaderError::Invalid(format!(
            "WAL format version {version} is not supported (this build reads {WAL_FORMAT_VERSION})"
        )));
    }
    let block_size = u32_at(block, 12);
    if block_size as usize != BLOCK_SIZE {
        return Err(SegmentHeaderError::Invalid(format!(
            "block size {block_size} != {BLOCK_SIZE}"
        )));
    }
    Ok(SegmentHeader {
        seq: u64_at(block, 16),
        segment_size: u64_at(block, 24),
        flush_span_max: u32_at(block, 32),
    })
}

/// Decoded flush header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushHeader {
    /// Sequence number of this flush (consecutive across segments).
    pub batch_seq: u64,
    /// Highest flush known durable when this one was written: the acknowledged watermark.
    pub durable_seq: u64,
    /// Bytes of records after the header.
    pub records_len: u32,
    /// Number of records.
    pub record_count: u32,
}

impl FlushHeader {
    /// Bytes this flush occupies on disk, padding included.
    pub fn span(&self) -> usize {
        crate::storage::io::align_up(FLUSH_HEADER_LEN + self.records_len as usize)
    }
}

/// Writes a flush header into `out[..FLUSH_HEADER_LEN]`.
pub fn encode_flush_header(h: &FlushHeader, seed: u32, out: &mut [u8]) {
    out[0..4].copy_from_slice(&FLUSH_MAGIC.to_le_bytes());
    out[8..16].copy_from_slice(&h.batch_seq.to_le_bytes());
    out[16..24].copy_from_slice(&h.durable_seq.to_le_bytes());
    out[24..28].copy_from_slice(&h.records_len.to_le_bytes());
    out[28..32].copy_from_slice(&h.record_count.to_le_bytes());
    let crc = crc32c::crc32c_append(seed, &out[8..FLUSH_HEADER_LEN]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes a flush header at the start of `bytes`; `None` unless magic and checksum match
/// this segment's seed.
pub fn decode_flush_header(bytes: &[u8], seed: u32) -> Option<FlushHeader> {
    if bytes.len() < FLUSH_HEADER_LEN || u32_at(bytes, 0) != FLUSH_MAGIC {
        return None;
    }
    let crc = crc32c::crc32c_append(seed, &bytes[8..FLUSH_HEADER_LEN]);
    if crc != u32_at(bytes, 4) {
        return None;
    }
    Some(FlushHeader {
        batch_seq: u64_at(bytes, 8),
        durable_seq: u64_at(bytes, 16),
        records_len: u32_at(bytes, 24),
        record_count: u32_at(bytes, 28),
    })
}

/// Appends the encoding of `rec` to `out`.
pub fn encode_record(rec: &Record<'_>, seed: u32, out: &mut Vec<u8>) {
    let start = out.len();
    let len = rec.encoded_len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(rec.kind as u8);
    out.extend_from_slice(&[0; 7]);
    out.extend_from_slice(&rec.stream.to_le_bytes());
    out.extend_from_slice(&rec.term.to_le_bytes());
    out.extend_from_slice(&rec.index.to_le_bytes());
    out.extend_from_slice(rec.payload);
    let crc = record_crc(&out[start..], seed);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn record_crc(rec: &[u8], seed: u32) -> u32 {
    let crc = crc32c::crc32c_append(seed, &rec[0..4]);
    crc32c::crc32c_append(crc, &rec[8..])
}

/// Decodes the record at the start of `bytes`, verifying its checksum. On failure returns
/// the reason.
pub fn decode_record(bytes: &[u8], seed: u32) -> Result<Record<'_>, String> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(format!(
            "record header truncated ({} bytes left)",
            bytes.len()
        ));
    }
    let len = u32_at(bytes, 0) as usize;
    if len < RECORD_HEADER_LEN || len > bytes.len() {
        return Err(format!(
            "record length {len} out of bounds ({} bytes left)",
            bytes.len()
        ));
    }
    let rec = &bytes[..len];
    let stored = u32_at(rec, 4);
    let crc = record_crc(rec, seed);
    if stored != crc {
        return Err(format!(
            "record checksum {stored:#010x} != computed {crc:#010x}"
        ));
    }
    let kind =
        RecordKind::from_u8(rec[8]).ok_or_else(|| format!("unknown record kind {}", rec[8]))?;
    Ok(Record {
        kind,
        stream: u64_at(rec, 16),
        term: u64_at(rec, 24),
        index: u64_at(rec, 32),
        payload: &rec[RECORD_HEADER_LEN..],
    })
}

/// Iterates over the records of one flush body, yielding (offset within body, record) or
/// the first error with its offset.
pub fn decode_records(
    body: &[u8],
    count: u32,
    seed: u32,
) -> impl Iterator<Item = Result<(usize, Record<'_>), (usize, String)>> {
    let mut at = 0usize;
    let mut left = count;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || left == 0 {
            if !failed && left == 0 && at != body.len() {
                failed = true;
                return Some(Err((
                    at,
                    format!("{} trailing bytes after last record", body.len() - at),
                )));
            }
            return None;
        }
        match decode_record(&body[at..], seed) {
            Ok(rec) => {
                let here = at;
                at += rec.encoded_len();
                left -= 1;
                Some(Ok((here, rec)))
            }
            Err(reason) => {
                failed = true;
                Some(Err((at, reason)))
            }
        }
    })
}

/// Little-endian u32 at `at`.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Little-endian u64 at `at`.
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_stale_generation_rejected() {
        let rec = Record {
            kind: RecordKind::Entry,
            stream: 7,
            term: 3,
            index: 42,
            payload: b"hello",
        };
        let mut buf = Vec::new();
        encode_record(&rec, segment_seed(5), &mut buf);
        assert_eq!(decode_record(&buf, segment_seed(5)), Ok(rec));
        assert!(
            decode_record(&buf, segment_seed(4)).is_err(),
            "stale generation accepted"
        );
    }

    #[test]
    fn flipped_bit_in_record_is_detected() {
        let rec = Record {
            kind: RecordKind::State,
            stream: 1,
            term: 0,
            index: 0,
            payload: &[9; 100],
        };
        let mut buf = Vec::new();
        encode_record(&rec, segment_seed(1), &mut buf);
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x10;
            assert!(
                decode_record(&bad, segment_seed(1)).is_err(),
                "flip at {at} missed"
            );
        }
    }

    #[test]
    fn flush_header_round_trip() {
        let h = FlushHeader {
            batch_seq: 9,
            durable_seq: 8,
            records_len: 4070,
            record_count: 3,
        };
        let mut b = [0u8; FLUSH_HEADER_LEN];
        encode_flush_header(&h, segment_seed(2), &mut b);
        assert_eq!(decode_flush_header(&b, segment_seed(2)), Some(h));
        assert_eq!(decode_flush_header(&b, segment_seed(3)), None);
        assert_eq!(h.span(), 8192);
    }

    #[test]
    fn segment_header_round_trip() {
        let h = SegmentHeader {
            seq: 77,
            segment_size: 1 << 20,
            flush_span_max: 64 << 10,
        };
        let mut b = vec![0u8; BLOCK_SIZE];
        assert_eq!(decode_segment_header(&b), Err(SegmentHeaderError::Blank));
        encode_segment_header(&h, &mut b);
        assert_eq!(decode_segment_header(&b), Ok(h));
        b[20] ^= 1;
        assert!(matches!(
            decode_segment_header(&b),
            Err(SegmentHeaderError::Invalid(_))
        ));
    }
}
