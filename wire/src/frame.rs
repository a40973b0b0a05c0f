//! Frames of the binary protocol: a fixed 24-byte little-endian header (length, CRC32C,
//! version, kind, flags, request id) followed by an rkyv payload, and an incremental decoder
//! for byte streams (PROTOCOL.md, "Frame layout").
//!
//! ```text
//! offset size field
//!  0     4    length      u32 LE, whole frame including this header, 24..=FRAME_SIZE_MAX
//!  4     4    crc32c      u32 LE, CRC32C (Castagnoli) of bytes 8..length
//!  8     2    version     u16 LE, protocol version (PROTOCOL_VERSION)
//! 10     2    kind        u16 LE, MessageKind code
//! 12     2    flags       u16 LE, bit 0 = response; other bits zero in version 1
//! 14     2    reserved    u16 LE, zero in version 1
//! 16     8    request id  u64 LE, chosen by the requester, echoed by the response
//! 24     -    payload     rkyv archive (little-endian, 32-bit offsets, unaligned)
//! ```
//!
//! Invariant: nothing in a frame is used before its length is bounded, its CRC verified, its
//! version, kind and flags known, and (for the payload) bytecheck has validated the archive
//! with a bounded pointer depth ([`RKYV_SUBTREE_DEPTH_MAX`]). Every failure is a typed
//! [`FrameError`], never a panic. Payloads are accessed in place: no copy, no allocation
//! on the success path.
//! Does not do I/O: callers feed bytes in and write bytes out.
//!
//! Estimate: a 1 KB item frame is ~1.2 KB; CRC32C (hardware) runs at > 10 GB/s, bytecheck of
//! a few dozen fields is ~100 ns, so encode + validate + access should stay well under 1 µs.

use std::num::NonZeroUsize;

use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::validation::Validator;
use rkyv::validation::archive::ArchiveValidator;
use rkyv::validation::shared::SharedValidator;

use crate::limits::{FRAME_SIZE_MAX, RKYV_SUBTREE_DEPTH_MAX};
use crate::message::{Message, MessageKind, check_payload};

/// Size of the frame header.
pub const FRAME_HEADER_SIZE: usize = 24;
/// Offset of the length field.
pub const OFFSET_LENGTH: usize = 0;
/// Offset of the CRC32C field.
pub const OFFSET_CRC: usize = 4;
/// Offset of the version field (the first byte the CRC covers).
pub const OFFSET_VERSION: usize = 8;
/// Offset of the kind field.
pub const OFFSET_KIND: usize = 10;
/// Offset of the flags field.
pub const OFFSET_FLAGS: usize = 12;
/// Offset of the reserved field.
pub const OFFSET_RESERVED: usize = 14;
/// Offset of the request id.
pub const OFFSET_REQUEST_ID: usize = 16;
/// Offset of the payload.
pub const OFFSET_PAYLOAD: usize = FRAME_HEADER_SIZE;

/// The protocol version this build writes.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest protocol version this build reads.
pub const PROTOCOL_VERSION_MIN: u16 = 1;
/// Flag bit: the frame is a response (or an error reply).
pub const FLAG_RESPONSE: u16 = 0x0001;
/// Every flag bit version 1 defines.
pub const FLAGS_KNOWN: u16 = FLAG_RESPONSE;

const _: () = assert!(OFFSET_REQUEST_ID + 8 == FRAME_HEADER_SIZE);
const _: () = assert!(PROTOCOL_VERSION_MIN <= PROTOCOL_VERSION);

/// Why bytes are not a usable frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length field is below the header size (fatal: framing is lost).
    #[error("frame length {length} is below the header size {FRAME_HEADER_SIZE}")]
    TooSmall {
        /// The length field.
        length: u32,
    },
    /// The length field (or an encoded message) exceeds the limit (fatal when decoding).
    #[error("frame length {length} exceeds {max}")]
    TooLarge {
        /// The length.
        length: u64,
        /// [`FRAME_SIZE_MAX`].
        max: u32,
    },
    /// The CRC does not match (fatal: nothing in the frame can be trusted).
    #[error("frame checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// A version this build does not read; the frame can be skipped.
    #[error(
        "unsupported protocol version {version} \
         (supported {PROTOCOL_VERSION_MIN}..={PROTOCOL_VERSION})"
    )]
    UnsupportedVersion {
        /// The version.
        version: u16,
        /// The frame's request id.
        request_id: u64,
        /// The frame's length, to skip it.
        length: u32,
    },
    /// A kind this build does not know; the frame can be skipped.
    #[error("unknown message kind {kind:#06x}")]
    UnknownKind {
        /// The kind code.
        kind: u16,
        /// The frame's request id.
        request_id: u64,
        /// The frame's length, to skip it.
        length: u32,
    },
    /// Unknown flag bits, a non-zero reserved field, or a response flag that disagrees with
    /// the kind; the frame can be skipped.
    #[error("bad frame header for kind {kind:#06x}: flags {flags:#06x}, reserved {reserved:#06x}")]
    BadHeader {
        /// The kind code.
        kind: u16,
        /// The flags.
        flags: u16,
        /// The reserved field.
        reserved: u16,
        /// The frame's request id.
        request_id: u64,
        /// The frame's length, to skip it.
        length: u32,
    },
    /// The payload failed validation (bytecheck or depth limit).
    #[error("invalid {} payload: {reason}", kind.name())]
    InvalidPayload {
        /// The frame's kind.
        kind: MessageKind,
        /// What bytecheck reported.
        reason: String,
    },
    /// The frame holds a different kind than the one asked for.
    #[error("expected a {} frame, got {}", expected.name(), actual.name())]
    KindMismatch {
        /// Asked for.
        expected: MessageKind,
        /// In the frame.
        actual: MessageKind,
    },
    /// Serialising a message failed.
    #[error("cannot encode {}: {reason}", kind.name())]
    Encode {
        /// The message's kind.
        kind: MessageKind,
        /// What rkyv reported.
        reason: String,
    },
}

impl FrameError {
    /// True when the stream's framing can no longer be trusted: close the connection.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FrameError::TooSmall { .. }
                | FrameError::TooLarge { .. }
                | FrameError::ChecksumMismatch { .. }
        )
    }

    /// The request id of a rejected but well-framed frame, so it can be answered.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            FrameError::UnsupportedVersion { request_id, .. }
            | FrameError::UnknownKind { request_id, .. }
            | FrameError::BadHeader { request_id, .. } => Some(*request_id),
            _ => None,
        }
    }
}

/// A verified frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whole frame length.
    pub length: u32,
    /// Protocol version.
    pub version: u16,
    /// Payload kind.
    pub kind: MessageKind,
    /// Flags.
    pub flags: u16,
    /// Request id.
    pub request_id: u64,
}

/// A frame whose header and checksum are verified; the payload is validated on access.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The rkyv payload, borrowed from the input buffer.
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The payload as `M`'s archived form, validated in place (zero copy).
    pub fn access<M: Message>(&self) -> Result<&'a M::Archived, FrameError>
    where
        M::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>,
    {
        if self.header.kind != M::KIND {
            return Err(FrameError::KindMismatch {
                expected: M::KIND,
                actual: self.header.kind,
            });
        }
        access::<M>(self.header.kind, self.payload)
    }

    /// The payload as an owned `M` (validated, then deserialised).
    pub fn decode<M: Message>(&self) -> Result<M, FrameError>
    where
        M::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<M, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        let archived = self.access::<M>()?;
        rkyv::deserialize::<M, rancor::Error>(archived).map_err(|error| {
            FrameError::InvalidPayload {
                kind: self.header.kind,
                reason: error.to_string(),
            }
        })
    }

    /// Validates the payload for whatever kind the header names.
    pub fn check_payload(&self) -> Result<(), FrameError> {
        check_payload(self.header.kind, self.payload)
    }
}

/// Validates `payload` as `M`'s archive with the protocol's depth bound.
pub fn access<M: Message>(kind: MessageKind, payload: &[u8]) -> Result<&M::Archived, FrameError>
where
    M::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>,
{
    let depth = NonZeroUsize::new(RKYV_SUBTREE_DEPTH_MAX).expect("depth bound is non-zero");
    let mut validator = Validator::new(
        ArchiveValidator::with_max_depth(payload, Some(depth)),
        SharedValidator::new(),
    );
    rkyv::api::access_with_context::<M::Archived, _, rancor::Error>(payload, &mut validator)
        .map_err(|error| FrameError::InvalidPayload {
            kind,
            reason: error.to_string(),
        })
}

/// Appends one frame carrying `message` to `out`.
pub fn encode_frame_into<M: Message>(
    out: &mut Vec<u8>,
    request_id: u64,
    message: &M,
) -> Result<(), FrameError> {
    let start = out.len();
    let kind = M::KIND;
    let flags = if kind.is_response() { FLAG_RESPONSE } else { 0 };
    out.extend_from_slice(&[0u8; FRAME_HEADER_SIZE]);
    let mut bytes = rkyv::api::high::to_bytes_in::<_, rancor::Error>(message, std::mem::take(out))
        .map_err(|error| FrameError::Encode {
            kind,
            reason: error.to_string(),
        })?;
    let length = bytes.len() - start;
    if length > FRAME_SIZE_MAX as usize {
        bytes.truncate(start);
        *out = bytes;
        return Err(FrameError::TooLarge {
            length: length as u64,
            max: FRAME_SIZE_MAX,
        });
    }
    let frame = &mut bytes[start..];
    let length = u32::try_from(length).expect("length <= FRAME_SIZE_MAX");
    frame[OFFSET_LENGTH..OFFSET_LENGTH + 4].copy_from_slice(&length.to_le_bytes());
    frame[OFFSET_VERSION..OFFSET_VERSION + 2].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    frame[OFFSET_KIND..OFFSET_KIND + 2].copy_from_slice(&kind.code().to_le_bytes());
    frame[OFFSET_FLAGS..OFFSET_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
    frame[OFFSET_REQUEST_ID..OFFSET_REQUEST_ID + 8].copy_from_slice(&request_id.to_le_bytes());
    let crc = crc32c::crc32c(&frame[OFFSET_VERSION..]);
    frame[OFFSET_CRC..OFFSET_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    *out = bytes;
    Ok(())
}

/// First capacity of a frame's buffer.
const FRAME_CAPACITY_FIRST: usize = 512;

/// One frame carrying `message`, in a new buffer.
pub fn encode_frame<M: Message>(request_id: u64, message: &M) -> Result<Vec<u8>, FrameError> {
    // Most frames (a key, a small item) fit: growing from empty took five reallocations.
    let mut out = Vec::with_capacity(FRAME_CAPACITY_FIRST);
    encode_frame_into(&mut out, request_id, message)?;
    Ok(out)
}

/// What the decoder found at the start of a buffer.
#[derive(Clone, Copy, Debug)]
pub enum Decoded<'a> {
    /// Not enough bytes yet: the frame needs this many bytes in total.
    NeedMore(usize),
    /// A complete, verified frame of `frame.header.length` bytes.
    Frame(Frame<'a>),
}

fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().expect("2 bytes"))
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

/// Decodes the frame at the start of `buffer`: needs-more, a verified frame, or a typed
/// error. Skippable errors carry the frame length so the caller can drop it and go on.
pub fn decode_frame(buffer: &[u8]) -> Result<Decoded<'_>, FrameError> {
    if buffer.len() < OFFSET_CRC {
        return Ok(Decoded::NeedMore(FRAME_HEADER_SIZE));
    }
    let length = read_u32(buffer, OFFSET_LENGTH);
    if (length as usize) < FRAME_HEADER_SIZE {
        return Err(FrameError::TooSmall { length });
    }
    if length > FRAME_SIZE_MAX {
        return Err(FrameError::TooLarge {
            length: u64::from(length),
            max: FRAME_SIZE_MAX,
        });
    }
    let length_bytes = length as usize;
    if buffer.len() < length_bytes {
        return Ok(Decoded::NeedMore(length_bytes));
    }
    let frame = &buffer[..length_bytes];
    let stored = read_u32(frame, OFFSET_CRC);
    let computed = crc32c::crc32c(&frame[OFFSET_VERSION..]);
    if stored != computed {
        return Err(FrameError::ChecksumMismatch { stored, computed });
    }
    let version = read_u16(frame, OFFSET_VERSION);
    let code = read_u16(frame, OFFSET_KIND);
    let flags = read_u16(frame, OFFSET_FLAGS);
    let reserved = read_u16(frame, OFFSET_RESERVED);
    let request_id = u64::from_le_bytes(
        frame[OFFSET_REQUEST_ID..FRAME_HEADER_SIZE]
            .try_into()
            .expect("8"),
    );
    if !(PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
        return Err(FrameError::UnsupportedVersion {
            version,
            request_id,
            length,
        });
    }
    let kind = MessageKind::from_code(code).ok_or(FrameError::UnknownKind {
        kind: code,
        request_id,
        length,
    })?;
    let direction_ok = (flags & FLAG_RESPONSE != 0) == kind.is_response();
    if flags & !FLAGS_KNOWN != 0 || reserved != 0 || !direction_ok {
        return Err(FrameError::BadHeader {
            kind: code,
            flags,
            reserved,
            request_id,
            length,
        });
    }
    let header = FrameHeader {
        length,
        version,
        kind,
        flags,
        request_id,
    };
    Ok(Decoded::Frame(Frame {
        header,
        payload: &frame[OFFSET_PAYLOAD..],
    }))
}

/// An incremental frame reader for one connection: append received bytes, take frames out.
/// Memory is bounded by one frame ([`FRAME_SIZE_MAX`]) plus the last read.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
    start: usize,
    pending: usize,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Appends bytes read from the connection.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.release();
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start - self.pending
    }

    /// The next complete frame, `None` if more bytes are needed. After a skippable error the
    /// offending frame is dropped, so the caller can answer it (`FrameError::request_id`) and
    /// call again; after a fatal error the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        self.release();
        match decode_frame(&self.buffer[self.start..]) {
            Ok(Decoded::NeedMore(_)) => Ok(None),
            Ok(Decoded::Frame(frame)) => {
                self.pending = frame.header.length as usize;
                Ok(Some(frame))
            }
            Err(error) => {
                if let FrameError::UnsupportedVersion { length, .. }
                | FrameError::UnknownKind { length, .. }
                | FrameError::BadHeader { length, .. } = error
                {
                    self.pending = length as usize;
                }
                Err(error)
            }
        }
    }

    /// Drops the frame returned last and compacts the buffer when it is mostly consumed.
    fn release(&mut self) {
        self.start += std::mem::take(&mut self.pending);
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start > self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::message::{
        ErrorReply, GetItemRequest, PutItemRequest, PutItemResponse, round_trip_every_kind,
    };
    use crate::sample::{Gen, Sample};
    use crate::value::AttributeValue;
    use proptest::prelude::*;
    use std::fmt::Debug;

    /// Encodes a sample, decodes it whole and in chunks, and compares.
    pub(crate) fn round_trip<M>(g: &mut Gen, make: fn(&mut Gen) -> M) -> Result<usize, String>
    where
        M: Message + Debug + PartialEq,
        M::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<M, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        let message = make(g);
        let request_id = g.next_u64();
        let bytes = encode_frame(request_id, &message).map_err(|e| e.to_string())?;
        let Decoded::Frame(frame) = decode_frame(&bytes).map_err(|e| e.to_string())? else {
            return Err(format!(
                "{}: complete frame reported incomplete",
                M::KIND.name()
            ));
        };
        if frame.header.request_id != request_id || frame.header.length as usize != bytes.len() {
            return Err(format!(
                "{}: header mismatch {:?}",
                M::KIND.name(),
                frame.header
            ));
        }
        frame.check_payload().map_err(|e| e.to_string())?;
        let back: M = frame.decode().map_err(|e| e.to_string())?;
        if back != message {
            return Err(format!(
                "{}: {message:?} came back as {back:?}",
                M::KIND.name()
            ));
        }
        // The same bytes fed to a reader in small chunks give the same frame once.
        let mut reader = FrameReader::new();
        let mut seen = 0;
        for chunk in bytes.chunks(1 + g.below(7)) {
            reader.extend(chunk);
            if let Some(frame) = reader.next_frame().map_err(|e| e.to_string())? {
                seen += 1;
                let again: M = frame.decode().map_err(|e| e.to_string())?;
                if again != message {
                    return Err(format!("{}: chunked decode differs", M::KIND.name()));
                }
            }
        }
        if seen != 1 || reader.next_frame().map_err(|e| e.to_string())?.is_some() {
            return Err(format!("{}: reader produced {seen} frames", M::KIND.name()));
        }
        Ok(1)
    }

    fn sample_frame(seed: u64) -> Vec<u8> {
        let mut g = Gen::new(seed);
        encode_frame(seed, &PutItemRequest::sample(&mut g)).unwrap()
    }

    #[test]
    fn every_kind_round_trips() {
        for seed in 0..40 {
            let frames = round_trip_every_kind(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(frames, MessageKind::ALL.len());
        }
    }

    #[test]
    fn kind_codes_are_unique_and_directional() {
        let mut codes: Vec<u16> = MessageKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MessageKind::ALL.len());
        for kind in MessageKind::ALL {
            assert_eq!(MessageKind::from_code(kind.code()), Some(*kind));
            let response = kind.name().ends_with("Response") || *kind == MessageKind::ErrorReply;
            assert_eq!(kind.is_response(), response, "{}", kind.name());
        }
    }

    #[test]
    fn header_layout_is_little_endian_and_stable() {
        let message = GetItemRequest::sample(&mut Gen::new(1));
        let bytes = encode_frame(0x0102_0304_0506_0708, &message).unwrap();
        assert_eq!(read_u32(&bytes, 0) as usize, bytes.len());
        assert_eq!(read_u32(&bytes, 4), crc32c::crc32c(&bytes[8..]));
        assert_eq!(&bytes[8..10], &[1, 0]);
        assert_eq!(&bytes[10..12], &[0x02, 0x01]);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 0]);
        assert_eq!(&bytes[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        let reply = encode_frame(9, &ErrorReply::sample(&mut Gen::new(2))).unwrap();
        assert_eq!(&reply[10..14], &[0x01, 0x00, 0x01, 0x00]);
    }

    /// Rewrites a header field and fixes the CRC, so only the field itself is wrong.
    fn patched(mut bytes: Vec<u8>, offset: usize, value: &[u8]) -> Vec<u8> {
        bytes[offset..offset + value.len()].copy_from_slice(value);
        let crc = crc32c::crc32c(&bytes[8..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn header_errors_are_typed() {
        let good = sample_frame(3);
        let length = good.len() as u32;
        assert!(matches!(
            decode_frame(&good[..3]),
            Ok(Decoded::NeedMore(24))
        ));
        assert!(matches!(decode_frame(&good[..30]), Ok(Decoded::NeedMore(n)) if n == good.len()));
        let mut small = good.clone();
        small[0..4].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(
            decode_frame(&small).unwrap_err(),
            FrameError::TooSmall { length: 10 }
        );
        let mut large = good.clone();
        large[0..4].copy_from_slice(&(FRAME_SIZE_MAX + 1).to_le_bytes());
        assert!(decode_frame(&large).unwrap_err().is_fatal());
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        let error = decode_frame(&flipped).unwrap_err();
        assert!(matches!(error, FrameError::ChecksumMismatch { .. }) && error.is_fatal());
        let newer = patched(good.clone(), 8, &2u16.to_le_bytes());
        assert_eq!(
            decode_frame(&newer).unwrap_err(),
            FrameError::UnsupportedVersion {
                version: 2,
                request_id: 3,
                length
            }
        );
        let unknown = patched(good.clone(), 10, &0x7777u16.to_le_bytes());
        assert_eq!(
            decode_frame(&unknown).unwrap_err(),
            FrameError::UnknownKind {
                kind: 0x7777,
                request_id: 3,
                length
            }
        );
        for (offset, value) in [(12, 0x0002u16), (12, FLAG_RESPONSE), (14, 1)] {
            let bad = patched(good.clone(), offset, &value.to_le_bytes());
            let error = decode_frame(&bad).unwrap_err();
            assert!(matches!(error, FrameError::BadHeader { .. }), "{error}");
            assert_eq!(error.request_id(), Some(3));
            assert!(!error.is_fatal());
        }
    }

    #[test]
    fn reader_skips_rejected_frames_and_continues() {
        let first = patched(sample_frame(1), 10, &0x7777u16.to_le_bytes());
        let second = sample_frame(2);
        let mut reader = FrameReader::new();
        reader.extend(&first);
        reader.extend(&second);
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::UnknownKind { .. })
        ));
        let frame = reader.next_frame().unwrap().expect("second frame");
        assert_eq!(frame.header.request_id, 2);
        assert!(reader.next_frame().unwrap().is_none());
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn access_checks_kind_and_payload() {
        let bytes = sample_frame(5);
        let Decoded::Frame(frame) = decode_frame(&bytes).unwrap() else {
            panic!("frame")
        };
        assert!(frame.access::<PutItemRequest>().is_ok());
        assert!(matches!(
            frame.access::<PutItemResponse>(),
            Err(FrameError::KindMismatch { .. })
        ));
        // Corrupt the payload but fix the CRC: bytecheck must refuse it, not panic.
        let mut rejected = 0;
        for index in FRAME_HEADER_SIZE..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[index] = corrupt[index].wrapping_add(0x81);
            let corrupt = patched(corrupt, 0, &(bytes.len() as u32).to_le_bytes());
            let Ok(Decoded::Frame(frame)) = decode_frame(&corrupt) else {
                continue;
            };
            if frame.check_payload().is_err() {
                rejected += 1;
            } else {
                // Accepted bytes must still deserialize without panicking.
                let _ = frame.decode::<PutItemRequest>();
            }
        }
        assert!(rejected > 0);
    }

    #[test]
    fn hostile_nesting_is_refused_without_overflowing_the_stack() {
        // Deeper than any valid document by far; validation must stop at the depth bound.
        let handle = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                let mut value = AttributeValue::Null;
                for _ in 0..3000 {
                    value = AttributeValue::L(vec![value]);
                }
                let mut message = PutItemRequest::sample(&mut Gen::new(0));
                message.item.insert("deep".into(), value);
                let bytes = encode_frame(1, &message).unwrap();
                let Decoded::Frame(frame) = decode_frame(&bytes).unwrap() else {
                    panic!()
                };
                let error = frame.check_payload().unwrap_err();
                // Dropping the deep value recursively is what needs the big stack here.
                drop(message);
                error
            })
            .unwrap();
        let error = handle.join().unwrap();
        assert!(
            matches!(error, FrameError::InvalidPayload { .. }),
            "{error}"
        );
    }

    #[test]
    fn encoded_size_limit_is_enforced() {
        let mut message = PutItemRequest::sample(&mut Gen::new(0));
        message.item.insert(
            "big".into(),
            AttributeValue::B(vec![0; FRAME_SIZE_MAX as usize]),
        );
        let mut out = vec![1, 2, 3];
        let error = encode_frame_into(&mut out, 1, &message).unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { .. }));
        assert_eq!(out, vec![1, 2, 3]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn every_kind_round_trips_for_random_seeds(seed in any::<u64>()) {
            let frames = round_trip_every_kind(seed).map_err(TestCaseError::fail)?;
            prop_assert_eq!(frames, MessageKind::ALL.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Fuzz-style: arbitrary bytes, and valid frames with arbitrary edits, never panic
        /// the decoder or the payload validation.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
            seed in any::<u64>(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        ) {
            exercise_decoder(&bytes);
            let mut frame = sample_frame(seed);
            for (index, byte) in edits {
                let index = index % frame.len();
                frame[index] = byte;
            }
            let crc = crc32c::crc32c(&frame[8..]);
            frame[4..8].copy_from_slice(&crc.to_le_bytes());
            exercise_decoder(&frame);
        }
    }

    /// The fuzz seeds committed under `wire/fuzz/seeds/frame` replay here, as is and with
    /// their length and CRC fixed (as the fuzz target does). One of them is the input that
    /// found a target bug: a payload that passes bytecheck but holds a non-normalised number
    /// must fail to decode with `InvalidPayload`, not panic (numbers are checked on
    /// conversion, PROTOCOL.md §2).
    #[test]
    fn committed_fuzz_seeds_replay() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/frame");
        let mut replayed = 0;
        for entry in std::fs::read_dir(&dir).expect("seed directory") {
            let mut bytes = std::fs::read(entry.expect("entry").path()).expect("seed");
            exercise_decoder(&bytes);
            if bytes.len() >= FRAME_HEADER_SIZE {
                let length = bytes.len() as u32;
                bytes[0..4].copy_from_slice(&length.to_le_bytes());
                let crc = crc32c::crc32c(&bytes[8..]);
                bytes[4..8].copy_from_slice(&crc.to_le_bytes());
                exercise_decoder(&bytes);
            }
            replayed += 1;
        }
        assert!(replayed >= 6, "only {replayed} seeds in {}", dir.display());
    }

    #[test]
    fn non_normalised_numbers_fail_decoding_with_a_typed_error() {
        let mut message = PutItemRequest::sample(&mut Gen::new(4));
        message.item.clear();
        message
            .item
            .insert("n".into(), AttributeValue::N(crate::Number::from(7)));
        let mut bytes = encode_frame(1, &message).unwrap();
        // The archived coefficient 7 (u128 LE) is followed by exponent 0 and the sign; make
        // the coefficient 70 with exponent 0: well-formed for bytecheck, not normalised.
        let at = bytes
            .windows(19)
            .position(|w| w[0] == 7 && w[1..16].iter().all(|b| *b == 0) && w[16..19] == [0, 0, 0])
            .expect("archived number");
        bytes[at] = 70;
        let crc = crc32c::crc32c(&bytes[8..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        let Decoded::Frame(frame) = decode_frame(&bytes).unwrap() else {
            panic!("frame")
        };
        assert!(frame.check_payload().is_ok());
        let error = frame.decode::<PutItemRequest>().unwrap_err();
        assert!(
            matches!(error, FrameError::InvalidPayload { .. }),
            "{error}"
        );
    }

    /// Runs every decoder entry point over `bytes`; used by the fuzz-style test.
    pub(crate) fn exercise_decoder(bytes: &[u8]) {
        if let Ok(Decoded::Frame(frame)) = decode_frame(bytes)
            && frame.check_payload().is_ok()
            && frame.header.kind == MessageKind::PutItemRequest
        {
            let _ = frame.decode::<PutItemRequest>();
        }
        let mut reader = FrameReader::new();
        reader.extend(bytes);
        for _ in 0..4 {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let _ = frame.check_payload();
                }
                Ok(None) => break,
                Err(error) if error.is_fatal() => break,
                Err(_) => {}
            }
        }
    }
}
