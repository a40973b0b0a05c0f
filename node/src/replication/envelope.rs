//! The bytes of one transport message between two shards: a batch of raft messages of any
//! of the groups the two shards share.
//!
//! ```text
//! u32 LE  count
//! count × { u64 LE group id, u32 LE length, length bytes of the raft message (protobuf) }
//! ```
//!
//! raft-rs needs an owned `Message` anyway, so its protobuf encoding travels as is
//! (RUNTIME-NOTES §3.1) inside our envelope; the transport frames and checksums the whole.

use protobuf::Message as _;
use raft::prelude::Message;

/// Encodes `messages` (group id, raft message) into one payload.
pub fn encode_batch(messages: &[(u64, Message)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + messages.len() * 64);
    out.extend_from_slice(&(messages.len() as u32).to_le_bytes());
    for (group, msg) in messages {
        let bytes = msg
            .write_to_bytes()
            .expect("an in-memory raft message encodes");
        out.extend_from_slice(&group.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Decodes a payload of [`encode_batch`]; any malformation rejects the whole batch.
pub fn decode_batch(mut b: &[u8]) -> Result<Vec<(u64, Message)>, String> {
    let count = take_u32(&mut b)? as usize;
    // Each message takes at least 12 bytes: a count beyond that is a lie.
    if count > b.len() / 12 {
        return Err(format!(
            "batch claims {count} messages in {} bytes",
            b.len()
        ));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let group = u64::from_le_bytes(take(&mut b, 8)?.try_into().expect("8 bytes"));
        let len = take_u32(&mut b)? as usize;
        let msg = Message::parse_from_bytes(take(&mut b, len)?)
            .map_err(|e| format!("group {group}: bad raft message: {e}"))?;
        out.push((group, msg));
    }
    if !b.is_empty() {
        return Err(format!("{} trailing bytes after the batch", b.len()));
    }
    Ok(out)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if b.len() < n {
        return Err(format!("batch truncated: need {n} bytes, {} left", b.len()));
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Ok(head)
}

fn take_u32(b: &mut &[u8]) -> Result<u32, String> {
    Ok(u32::from_le_bytes(take(b, 4)?.try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::prelude::{Entry, MessageType};

    #[test]
    fn batches_round_trip_and_malformed_ones_are_rejected() {
        let mut append = Message::default();
        append.set_msg_type(MessageType::MsgAppend);
        append.to = 2;
        append.from = 1;
        append.term = 7;
        let e = Entry {
            index: 11,
            term: 7,
            data: vec![1, 2, 3].into(),
            ..Entry::default()
        };
        append.entries = vec![e].into();
        let mut beat = Message::default();
        beat.set_msg_type(MessageType::MsgHeartbeat);
        beat.to = 3;
        let batch = vec![(42u64, append), (43u64, beat)];
        let bytes = encode_batch(&batch);
        assert_eq!(decode_batch(&bytes).expect("decodes"), batch);
        for cut in [0, 3, 4, 11, bytes.len() - 1] {
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = bytes.clone();
        lying[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_batch(&lying).is_err());
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode_batch(&trailing).is_err());
    }
}
