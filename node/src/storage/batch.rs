//! Encoding of a batch of puts and deletes as a log record payload.
//!
//! Layout (little-endian): version u8 = 1, op count u32, then per op: kind u8 (1 = put,
//! 2 = delete), key length u32, key, and for puts value length u32 and value. Decoding
//! checks every length against the remaining bytes and the engine's limits, so a damaged
//! or hostile payload is an error, never a panic.

use std::ops::Range;

use super::btree::{KEY_SIZE_MAX, Op, VALUE_SIZE_MAX};

const BATCH_VERSION: u8 = 1;
const KIND_PUT: u8 = 1;
const KIND_DELETE: u8 = 2;

/// Bytes the encoding of `ops` takes.
pub fn encoded_len(ops: &[Op]) -> usize {
    5 + ops
        .iter()
        .map(|op| 5 + op.key.len() + op.value.as_ref().map_or(0, |v| 4 + v.len()))
        .sum::<usize>()
}

/// Appends the encoding of `ops` to `out`.
pub fn encode(ops: &[Op], out: &mut Vec<u8>) {
    out.reserve(encoded_len(ops));
    out.push(BATCH_VERSION);
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        out.push(if op.value.is_some() {
            KIND_PUT
        } else {
            KIND_DELETE
        });
        out.extend_from_slice(&(op.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&op.key);
        if let Some(v) = &op.value {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
}

/// Decodes a batch payload.
pub fn decode(bytes: &[u8]) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for_each_op(bytes, |key, value| {
        ops.push(Op {
            key: bytes[key].to_vec(),
            value: value.map(|v| bytes[v].to_vec()),
        })
    })?;
    Ok(ops)
}

/// Checks a batch payload and calls `f` with the byte ranges of each op's key and value
/// (None: a delete), in order, without copying them.
pub fn for_each_op(
    bytes: &[u8],
    mut f: impl FnMut(Range<usize>, Option<Range<usize>>),
) -> Result<(), String> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u8()?;
    if version != BATCH_VERSION {
        return Err(format!("batch version {version} is not supported"));
    }
    let count = r.u32()? as usize;
    // Each op takes at least 5 bytes.
    if count > bytes.len() / 5 {
        return Err(format!("batch claims {count} ops in {} bytes", bytes.len()));
    }
    for _ in 0..count {
        let kind = r.u8()?;
        let key = r.chunk(KEY_SIZE_MAX, "key")?;
        let value = match kind {
            KIND_PUT => Some(r.chunk(VALUE_SIZE_MAX, "value")?),
            KIND_DELETE => None,
            other => return Err(format!("unknown op kind {other}")),
        };
        f(key, value);
    }
    if r.at != bytes.len() {
        return Err(format!("{} trailing bytes after batch", bytes.len() - r.at));
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() - self.at < n {
            return Err(format!("batch truncated at byte {} (needs {n})", self.at));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A length-prefixed chunk: its range in the payload.
    fn chunk(&mut self, max: usize, what: &str) -> Result<Range<usize>, String> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(format!("{what} of {len} bytes exceeds {max}"));
        }
        let at = self.at;
        self.take(len)?;
        Ok(at..at + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let ops = vec![
            Op {
                key: b"a".to_vec(),
                value: Some(b"1".to_vec()),
            },
            Op {
                key: b"b".to_vec(),
                value: None,
            },
        ];
        let mut buf = Vec::new();
        encode(&ops, &mut buf);
        assert_eq!(buf.len(), encoded_len(&ops));
        assert_eq!(decode(&buf), Ok(ops));
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "truncated at {cut} accepted");
        }
        assert!(decode(&[1, 255, 255, 255, 255]).is_err());
    }
}
