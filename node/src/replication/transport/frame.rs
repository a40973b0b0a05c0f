//! Bytes on a transport stream: a hello, then length-prefixed messages with a CRC32C.
//!
//! ```text
//! hello   (20 bytes, once per stream)
//!   0  4  magic "SHQT"
//!   4  1  version (1)
//!   5  1  lane (0 raft, 1 control)
//!   6  4  sender node id        (u32 LE)
//!  10  2  sender shard          (u16 LE)
//!  12  2  target shard          (u16 LE)
//!  14  2  reserved, zero
//!  16  4  CRC32C of bytes 0..16 (u32 LE)
//! message (repeated)
//!   0  4  payload length        (u32 LE, at most MESSAGE_BYTES_MAX)
//!   4  4  CRC32C of the payload (u32 LE)
//!   8  n  payload
//! ```
//!
//! QUIC already authenticates every byte; the CRCs catch our own bugs (a stream resumed at
//! the wrong offset), which must close the connection loudly rather than hand raft garbage.

use bytes::{Buf, Bytes, BytesMut};

/// Largest payload of one message (raft batches stay far below it).
pub const MESSAGE_BYTES_MAX: usize = 16 << 20;
/// Bytes of a stream's hello.
pub const HELLO_BYTES: usize = 20;
/// Bytes before each payload.
pub const MESSAGE_HEADER_BYTES: usize = 8;

const MAGIC: &[u8; 4] = b"SHQT";
const VERSION: u8 = 1;

/// The hello that opens a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Lane byte (see `Lane`).
    pub lane: u8,
    /// Sender node id.
    pub node: u32,
    /// Sender shard.
    pub shard: u16,
    /// The shard the sender meant to reach.
    pub target_shard: u16,
}

/// What is wrong with bytes on a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The hello is not one of ours.
    #[error("bad hello: {0}")]
    Hello(&'static str),
    /// A message announces more than [`MESSAGE_BYTES_MAX`] bytes.
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A payload does not match its checksum.
    #[error("message checksum mismatch")]
    Checksum,
}

impl Hello {
    /// The hello's bytes.
    pub fn encode(&self) -> [u8; HELLO_BYTES] {
        let mut b = [0u8; HELLO_BYTES];
        b[0..4].copy_from_slice(MAGIC);
        b[4] = VERSION;
        b[5] = self.lane;
        b[6..10].copy_from_slice(&self.node.to_le_bytes());
        b[10..12].copy_from_slice(&self.shard.to_le_bytes());
        b[12..14].copy_from_slice(&self.target_shard.to_le_bytes());
        let crc = crc32c::crc32c(&b[..16]);
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses a hello (exactly [`HELLO_BYTES`] bytes).
    pub fn decode(b: &[u8]) -> Result<Self, FrameError> {
        if b.len() != HELLO_BYTES || &b[0..4] != MAGIC {
            return Err(FrameError::Hello("not a Shoal replication stream"));
        }
        if u32::from_le_bytes(b[16..20].try_into().expect("4 bytes")) != crc32c::crc32c(&b[..16]) {
            return Err(FrameError::Hello("checksum mismatch"));
        }
        if b[4] != VERSION {
            return Err(FrameError::Hello("unknown version"));
        }
        Ok(Self {
            lane: b[5],
            node: u32::from_le_bytes(b[6..10].try_into().expect("4 bytes")),
            shard: u16::from_le_bytes(b[10..12].try_into().expect("2 bytes")),
            target_shard: u16::from_le_bytes(b[12..14].try_into().expect("2 bytes")),
        })
    }
}

/// A message framed for a stream: header and payload in one buffer.
pub fn encode_message(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MESSAGE_HEADER_BYTES + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reassembles a stream's bytes, which arrive in arbitrary pieces.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    buf: BytesMut,
    hello: Option<Hello>,
}

/// One unit decoded from a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The stream's hello (always first, exactly once).
    Hello(Hello),
    /// A message payload.
    Message(Bytes),
}

impl StreamDecoder {
    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The hello, once it has been decoded.
    pub fn hello(&self) -> Option<Hello> {
        self.hello
    }

    /// The next complete unit, if the buffered bytes hold one.
    pub fn next(&mut self) -> Result<Option<Decoded>, FrameError> {
        if self.hello.is_none() {
            if self.buf.len() < HELLO_BYTES {
                return Ok(None);
            }
            let hello = Hello::decode(&self.buf[..HELLO_BYTES])?;
            self.buf.advance(HELLO_BYTES);
            self.hello = Some(hello);
            return Ok(Some(Decoded::Hello(hello)));
        }
        if self.buf.len() < MESSAGE_HEADER_BYTES {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.buf[0..4].try_into().expect("4 bytes")) as usize;
        if len > MESSAGE_BYTES_MAX {
            return Err(FrameError::TooLarge(len));
        }
        if self.buf.len() < MESSAGE_HEADER_BYTES + len {
            self.buf
                .reserve(MESSAGE_HEADER_BYTES + len - self.buf.len());
            return Ok(None);
        }
        let crc = u32::from_le_bytes(self.buf[4..8].try_into().expect("4 bytes"));
        self.buf.advance(MESSAGE_HEADER_BYTES);
        let payload = self.buf.split_to(len).freeze();
        if crc32c::crc32c(&payload) != crc {
            return Err(FrameError::Checksum);
        }
        Ok(Some(Decoded::Message(payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            lane: 1,
            node: 7,
            shard: 3,
            target_shard: 2,
        }
    }

    #[test]
    fn hello_and_messages_decode_from_any_split() {
        let mut bytes = hello().encode().to_vec();
        let payloads: Vec<Vec<u8>> = (0..20).map(|i| vec![i as u8; i * 37]).collect();
        for p in &payloads {
            bytes.extend(encode_message(p));
        }
        for piece in [1, 3, 8, 19, 64, bytes.len()] {
            let mut d = StreamDecoder::default();
            let mut got = Vec::new();
            for chunk in bytes.chunks(piece) {
                d.push(chunk);
                while let Some(unit) = d.next().expect("valid stream") {
                    got.push(unit);
                }
            }
            assert_eq!(got[0], Decoded::Hello(hello()), "piece {piece}");
            let messages: Vec<Vec<u8>> = got[1..]
                .iter()
                .map(|u| match u {
                    Decoded::Message(m) => m.to_vec(),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert_eq!(messages, payloads, "piece {piece}");
        }
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut bad_magic = hello().encode();
        bad_magic[0] = b'X';
        let mut d = StreamDecoder::default();
        d.push(&bad_magic);
        assert!(matches!(d.next(), Err(FrameError::Hello(_))));

        let mut bad_crc = hello().encode();
        bad_crc[7] ^= 1;
        let mut d = StreamDecoder::default();
        d.push(&bad_crc);
        assert_eq!(d.next(), Err(FrameError::Hello("checksum mismatch")));

        let mut d = StreamDecoder::default();
        d.push(&hello().encode());
        d.next().expect("hello").expect("decoded");
        let mut m = encode_message(b"payload");
        let last = m.len() - 1;
        m[last] ^= 0x80;
        d.push(&m);
        assert_eq!(d.next(), Err(FrameError::Checksum));

        let mut d = StreamDecoder::default();
        d.push(&hello().encode());
        d.next().expect("hello").expect("decoded");
        d.push(&((MESSAGE_BYTES_MAX + 1) as u32).to_le_bytes());
        d.push(&[0; 4]);
        assert_eq!(d.next(), Err(FrameError::TooLarge(MESSAGE_BYTES_MAX + 1)));
    }
}
