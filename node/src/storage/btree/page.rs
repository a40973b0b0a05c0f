//! On-disk layout of B+tree extents and superblocks (see `node/FORMAT.md`).
//!
//! An extent is one or more consecutive pages holding one node, one overflow value or one
//! checkpoint's metadata. It starts with a 40-byte header carrying a magic, the format
//! version, the kind, the extent's own first page number and length, the checkpoint
//! generation that wrote it, and a CRC32C over the whole extent seeded with the file id and
//! the page number, so a correct page read from the wrong place, a stale page, or a page of
//! another file fails verification. An all-zero page is "never written", never valid.
//!
//! Bytes from disk are untrusted: every decoder checks bounds and returns a reason instead
//! of panicking. Pure functions: no I/O.

use super::node::{Branch, ExtentRef, Leaf, LeafEntry, Node, Value};
use crate::storage::wal::format::{u32_at, u64_at};

/// Magic at the start of every extent ("SHPG").
pub const PAGE_MAGIC: u32 = u32::from_le_bytes(*b"SHPG");
/// Version of the extent layout.
pub const PAGE_FORMAT_VERSION: u16 = 1;
/// Size of the extent header.
pub const PAGE_HEADER_LEN: usize = 40;
/// Bytes of a leaf entry besides its key and value: key length u16, flags u8, value
/// length u32.
pub const LEAF_ENTRY_OVERHEAD: usize = 7;
/// Bytes of an overflow reference in a leaf: page u32, pages u32, length u32, generation u64.
pub const OVERFLOW_REF_LEN: usize = 20;
/// Bytes of a child reference: page u32, pages u32, generation u64.
pub const BRANCH_FIRST_LEN: usize = 16;
/// Bytes of a branch entry besides its key: key length u16 and a child reference.
pub const BRANCH_CHILD_LEN: usize = 2 + BRANCH_FIRST_LEN;

const CRC_OFFSET: usize = 24;
const LEAF_FLAG_OVERFLOW: u8 = 1;

/// What an extent holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExtentKind {
    /// A leaf node.
    Leaf = 1,
    /// A branch node.
    Branch = 2,
    /// One large value.
    Overflow = 3,
    /// Checkpoint metadata (free space, applied positions).
    Meta = 4,
}

impl ExtentKind {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Leaf),
            2 => Some(Self::Branch),
            3 => Some(Self::Overflow),
            4 => Some(Self::Meta),
            _ => None,
        }
    }
}

/// Checksum seed of page `page` in the file with id `file_id`.
pub fn page_seed(file_id: u64, page: u32) -> u32 {
    let seed = crc32c::crc32c(&file_id.to_le_bytes());
    crc32c::crc32c_append(seed, &page.to_le_bytes())
}

/// Pages an extent with `body` bytes needs.
pub fn pages_for(body: usize, page_size: usize) -> u32 {
    (PAGE_HEADER_LEN + body).div_ceil(page_size) as u32
}

/// Writes header and checksum around a body already placed at `buf[PAGE_HEADER_LEN..]`.
/// `buf` is the whole extent; bytes after the body must be zero.
pub fn seal_extent(
    buf: &mut [u8],
    kind: ExtentKind,
    extent: ExtentRef,
    count: u32,
    body_len: usize,
    file_id: u64,
) {
    buf[0..4].copy_from_slice(&PAGE_MAGIC.to_le_bytes());
    buf[4..6].copy_from_slice(&PAGE_FORMAT_VERSION.to_le_bytes());
    buf[6] = kind as u8;
    buf[7] = 0;
    buf[8..12].copy_from_slice(&extent.page.to_le_bytes());
    buf[12..16].copy_from_slice(&extent.pages.to_le_bytes());
    buf[16..24].copy_from_slice(&extent.generation.to_le_bytes());
    buf[24..28].fill(0);
    buf[28..32].copy_from_slice(&count.to_le_bytes());
    buf[32..36].copy_from_slice(&(body_len as u32).to_le_bytes());
    buf[36..40].fill(0);
    let crc = crc32c::crc32c_append(page_seed(file_id, extent.page), buf);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A verified extent: kind, count field and body.
#[derive(Debug)]
pub struct Verified<'a> {
    /// What it holds.
    pub kind: ExtentKind,
    /// Entry count (nodes) or byte length (overflow).
    pub count: u32,
    /// The body bytes.
    pub body: &'a [u8],
}

/// Verifies an extent read from disk against the reference that pointed at it.
pub fn verify_extent<'a>(
    buf: &'a mut [u8],
    expect: ExtentRef,
    file_id: u64,
) -> Result<Verified<'a>, String> {
    if buf.len() < PAGE_HEADER_LEN {
        return Err(format!(
            "extent of {} bytes is shorter than its header",
            buf.len()
        ));
    }
    if buf.iter().all(|&b| b == 0) {
        return Err("page was never written (all zero)".into());
    }
    let stored = u32_at(buf, CRC_OFFSET);
    buf[CRC_OFFSET..CRC_OFFSET + 4].fill(0);
    let crc = crc32c::crc32c_append(page_seed(file_id, expect.page), buf);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&stored.to_le_bytes());
    if stored != crc {
        return Err(format!(
            "page checksum {stored:#010x} != computed {crc:#010x}"
        ));
    }
    if u32_at(buf, 0) != PAGE_MAGIC {
        return Err("bad page magic".into());
    }
    let version = u16::from_le_bytes([buf[4], buf[5]]);
    if version != PAGE_FORMAT_VERSION {
        return Err(format!("page format version {version} is not supported"));
    }
    let kind =
        ExtentKind::from_u8(buf[6]).ok_or_else(|| format!("unknown page kind {}", buf[6]))?;
    let page = u32_at(buf, 8);
    let pages = u32_at(buf, 12);
    let generation = u64_at(buf, 16);
    if page != expect.page || pages != expect.pages {
        return Err(format!(
            "extent header says pages {page}+{pages}, expected {}+{}",
            expect.page, expect.pages
        ));
    }
    if generation != expect.generation {
        return Err(format!(
            "extent generation {generation}, expected {} (lost or misdirected write)",
            expect.generation
        ));
    }
    let count = u32_at(buf, 28);
    let body_len = u32_at(buf, 32) as usize;
    if PAGE_HEADER_LEN + body_len > buf.len() {
        return Err(format!("body length {body_len} exceeds the extent"));
    }
    Ok(Verified {
        kind,
        count,
        body: &buf[PAGE_HEADER_LEN..PAGE_HEADER_LEN + body_len],
    })
}

/// Appends the encoding of a child reference.
fn put_ref(out: &mut Vec<u8>, r: &ExtentRef) {
    out.extend_from_slice(&r.page.to_le_bytes());
    out.extend_from_slice(&r.pages.to_le_bytes());
    out.extend_from_slice(&r.generation.to_le_bytes());
}

fn get_ref(b: &[u8], at: usize) -> ExtentRef {
    ExtentRef {
        page: u32_at(b, at),
        pages: u32_at(b, at + 4),
        generation: u64_at(b, at + 8),
    }
}

/// Encodes a node's body (the bytes after the header) into `out`; returns the entry count.
pub fn encode_node_body(node: &Node, out: &mut Vec<u8>) -> (ExtentKind, u32) {
    match node {
        Node::Leaf(leaf) => {
            for e in &leaf.entries {
                out.extend_from_slice(&(e.key.len() as u16).to_le_bytes());
                match &e.value {
                    Value::Inline(v) => {
                        out.push(0);
                        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                        out.extend_from_slice(&e.key);
                        out.extend_from_slice(v);
                    }
                    Value::Overflow { extent, len } => {
                        out.push(LEAF_FLAG_OVERFLOW);
                        out.extend_from_slice(&(OVERFLOW_REF_LEN as u32).to_le_bytes());
                        out.extend_from_slice(&e.key);
                        put_ref(out, extent);
                        out.extend_from_slice(&len.to_le_bytes());
                    }
                }
            }
            (ExtentKind::Leaf, leaf.entries.len() as u32)
        }
        Node::Branch(b) => {
            put_ref(out, &b.children[0]);
            for (k, c) in b.keys.iter().zip(&b.children[1..]) {
                out.extend_from_slice(&(k.len() as u16).to_le_bytes());
                out.extend_from_slice(k);
                put_ref(out, c);
            }
            (ExtentKind::Branch, b.keys.len() as u32)
        }
    }
}

/// Decodes a verified node body. Checks bounds and key order.
pub fn decode_node(kind: ExtentKind, count: u32, body: &[u8]) -> Result<Node, String> {
    let need = |at: usize, n: usize| {
        if at + n > body.len() {
            Err(format!("node body truncated at byte {at} (needs {n} more)"))
        } else {
            Ok(())
        }
    };
    match kind {
        ExtentKind::Leaf => {
            let mut entries = Vec::with_capacity(count as usize);
            let mut at = 0usize;
            for _ in 0..count {
                need(at, LEAF_ENTRY_OVERHEAD)?;
                let klen = u16::from_le_bytes([body[at], body[at + 1]]) as usize;
                let flags = body[at + 2];
                let vlen = u32_at(body, at + 3) as usize;
                at += LEAF_ENTRY_OVERHEAD;
                need(at, klen + vlen)?;
                let key: Box<[u8]> = body[at..at + klen].into();
                at += klen;
                let value = if flags & LEAF_FLAG_OVERFLOW != 0 {
                    if vlen != OVERFLOW_REF_LEN {
                        return Err(format!("overflow reference of {vlen} bytes"));
                    }
                    Value::Overflow {
                        extent: get_ref(body, at),
                        len: u32_at(body, at + 16),
                    }
                } else {
                    Value::Inline(body[at..at + vlen].into())
                };
                at += vlen;
                if entries.last().is_some_and(|p: &LeafEntry| p.key >= key) {
                    return Err("leaf keys out of order".into());
                }
                entries.push(LeafEntry { key, value });
            }
            if at != body.len() {
                return Err(format!("{} trailing bytes in leaf", body.len() - at));
            }
            Ok(Node::Leaf(Leaf::from_entries(entries)))
        }
        ExtentKind::Branch => {
            need(0, BRANCH_FIRST_LEN)?;
            let mut children = vec![get_ref(body, 0)];
            let mut keys: Vec<Box<[u8]>> = Vec::with_capacity(count as usize);
            let mut at = BRANCH_FIRST_LEN;
            for _ in 0..count {
                need(at, 2)?;
                let klen = u16::from_le_bytes([body[at], body[at + 1]]) as usize;
                at += 2;
                need(at, klen + BRANCH_FIRST_LEN)?;
                let key: Box<[u8]> = body[at..at + klen].into();
                if keys.last().is_some_and(|p| *p >= key) {
                    return Err("branch separators out of order".into());
                }
                keys.push(key);
                at += klen;
                children.push(get_ref(body, at));
                at += BRANCH_FIRST_LEN;
            }
            if at != body.len() {
                return Err(format!("{} trailing bytes in branch", body.len() - at));
            }
            Ok(Node::Branch(Branch::from_parts(keys, children)))
        }
        other => Err(format!("expected a node, found a {other:?} extent")),
    }
}

/// Checkpoint metadata stored in a meta extent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Free page runs (start, length), sorted, disjoint.
    pub free: Vec<(u32, u32)>,
    /// Applied log position per stream: (stream, index).
    pub applied: Vec<(u64, u64)>,
}

/// Encodes checkpoint metadata.
pub fn encode_meta(meta: &Meta, out: &mut Vec<u8>) {
    out.extend_from_slice(&(meta.free.len() as u32).to_le_bytes());
    for (start, len) in &meta.free {
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(&(meta.applied.len() as u32).to_le_bytes());
    for (stream, index) in &meta.applied {
        out.extend_from_slice(&stream.to_le_bytes());
        out.extend_from_slice(&index.to_le_bytes());
    }
}

/// Bytes the encoding of metadata with `runs` free runs and `streams` applied positions
/// takes.
pub fn meta_len(runs: usize, streams: usize) -> usize {
    8 + runs * 8 + streams * 16
}

/// Decodes checkpoint metadata.
pub fn decode_meta(body: &[u8]) -> Result<Meta, String> {
    let short = || "meta extent truncated".to_string();
    if body.len() < 4 {
        return Err(short());
    }
    let runs = u32_at(body, 0) as usize;
    let mut at = 4;
    if body.len() < at + runs * 8 + 4 {
        return Err(short());
    }
    let mut free = Vec::with_capacity(runs);
    for _ in 0..runs {
        free.push((u32_at(body, at), u32_at(body, at + 4)));
        at += 8;
    }
    let streams = u32_at(body, at) as usize;
    at += 4;
    if body.len() != at + streams * 16 {
        return Err(short());
    }
    let mut applied = Vec::with_capacity(streams);
    for _ in 0..streams {
        applied.push((u64_at(body, at), u64_at(body, at + 8)));
        at += 16;
    }
    Ok(Meta { free, applied })
}

/// Magic at the start of each superblock slot.
pub const SUPERBLOCK_MAGIC: [u8; 8] = *b"SHOALSB\0";
/// Version of the superblock layout.
pub const SUPERBLOCK_VERSION: u32 = 1;
/// Bytes of a superblock slot that carry data.
pub const SUPERBLOCK_LEN: usize = 80;

/// One superblock slot: the root of a durable checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superblock {
    /// Page size of the file.
    pub page_size: u32,
    /// Random id chosen when the file was created; seeds page checksums.
    pub file_id: u64,
    /// Checkpoint number; the valid slot with the highest one wins.
    pub sequence: u64,
    /// Root node (pages == 0: empty tree).
    pub root: ExtentRef,
    /// Meta extent.
    pub meta: ExtentRef,
    /// Pages in use from the start of the file (allocation beyond extends the file).
    pub high_water: u32,
}

/// Encodes a superblock into `out[..SUPERBLOCK_LEN]`, checksummed for `slot`.
pub fn encode_superblock(sb: &Superblock, slot: u32, out: &mut [u8]) {
    out[..SUPERBLOCK_LEN].fill(0);
    out[0..8].copy_from_slice(&SUPERBLOCK_MAGIC);
    out[8..12].copy_from_slice(&SUPERBLOCK_VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&sb.page_size.to_le_bytes());
    out[16..24].copy_from_slice(&sb.file_id.to_le_bytes());
    out[24..32].copy_from_slice(&sb.sequence.to_le_bytes());
    let mut refs = Vec::with_capacity(32);
    put_ref(&mut refs, &sb.root);
    put_ref(&mut refs, &sb.meta);
    out[32..64].copy_from_slice(&refs);
    out[64..68].copy_from_slice(&sb.high_water.to_le_bytes());
    out[68..72].copy_from_slice(&slot.to_le_bytes());
    let crc = crc32c::crc32c_append(slot, &out[0..76]);
    out[76..80].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes superblock slot `slot`: `Ok(None)` if it was never written.
pub fn decode_superblock(b: &[u8], slot: u32) -> Result<Option<Superblock>, String> {
    if b.len() < SUPERBLOCK_LEN {
        return Err("superblock truncated".into());
    }
    if b[..SUPERBLOCK_LEN].iter().all(|&x| x == 0) {
        return Ok(None);
    }
    if b[0..8] != SUPERBLOCK_MAGIC {
        return Err("bad superblock magic".into());
    }
    let crc = crc32c::crc32c_append(slot, &b[0..76]);
    if crc != u32_at(b, 76) {
        return Err(format!(
            "superblock checksum {:#010x} != computed {crc:#010x}",
            u32_at(b, 76)
        ));
    }
    let version = u32_at(b, 8);
    if version != SUPERBLOCK_VERSION {
        return Err(format!(
            "superblock version {version} is not supported (this build reads {SUPERBLOCK_VERSION})"
        ));
    }
    if u32_at(b, 68) != slot {
        return Err(format!(
            "superblock written for slot {}, found in slot {slot}",
            u32_at(b, 68)
        ));
    }
    Ok(Some(Superblock {
        page_size: u32_at(b, 12),
        file_id: u64_at(b, 16),
        sequence: u64_at(b, 24),
        root: get_ref(b, 32),
        meta: get_ref(b, 48),
        high_water: u32_at(b, 64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(page: u32) -> ExtentRef {
        ExtentRef {
            page,
            pages: 1,
            generation: 3,
        }
    }

    fn round_trip(node: &Node) -> Node {
        let mut body = Vec::new();
        let (kind, count) = encode_node_body(node, &mut body);
        assert_eq!(
            body.len(),
            node.body_size(),
            "tracked size matches encoding"
        );
        let mut buf = vec![0u8; 4096];
        buf[PAGE_HEADER_LEN..PAGE_HEADER_LEN + body.len()].copy_from_slice(&body);
        seal_extent(&mut buf, kind, r(9), count, body.len(), 77);
        let v = verify_extent(&mut buf, r(9), 77).expect("verifies");
        decode_node(v.kind, v.count, v.body).expect("decodes")
    }

    #[test]
    fn leaf_and_branch_round_trip() {
        let mut leaf = Leaf::default();
        leaf.put(b"a", Value::Inline(b"1".as_slice().into()));
        leaf.put(
            b"b",
            Value::Overflow {
                extent: r(40),
                len: 100_000,
            },
        );
        let node = Node::Leaf(leaf);
        assert_eq!(round_trip(&node), node);
        let branch = Node::Branch(Branch::from_parts(
            vec![b"k".as_slice().into(), b"q".as_slice().into()],
            vec![r(2), r(3), r(4)],
        ));
        assert_eq!(round_trip(&branch), branch);
    }

    #[test]
    fn wrong_place_wrong_file_and_stale_generation_are_rejected() {
        let node = Node::Leaf(Leaf::default());
        let mut body = Vec::new();
        let (kind, count) = encode_node_body(&node, &mut body);
        let mut buf = vec![0u8; 4096];
        seal_extent(&mut buf, kind, r(9), count, body.len(), 77);
        assert!(
            verify_extent(&mut buf.clone(), r(10), 77).is_err(),
            "misdirected"
        );
        assert!(
            verify_extent(&mut buf.clone(), r(9), 78).is_err(),
            "other file"
        );
        let stale = ExtentRef {
            generation: 4,
            ..r(9)
        };
        assert!(
            verify_extent(&mut buf.clone(), stale, 77).is_err(),
            "lost write"
        );
        buf[100] ^= 1;
        assert!(verify_extent(&mut buf, r(9), 77).is_err(), "bit flip");
        assert!(
            verify_extent(&mut vec![0u8; 4096], r(9), 77).is_err(),
            "never written"
        );
    }

    #[test]
    fn meta_and_superblock_round_trip() {
        let meta = Meta {
            free: vec![(5, 3), (20, 1)],
            applied: vec![(1, 99), (2, 7)],
        };
        let mut out = Vec::new();
        encode_meta(&meta, &mut out);
        assert_eq!(out.len(), meta_len(2, 2));
        assert_eq!(decode_meta(&out), Ok(meta));
        let sb = Superblock {
            page_size: 4096,
            file_id: 0xdead,
            sequence: 12,
            root: r(7),
            meta: r(8),
            high_water: 100,
        };
        let mut b = vec![0u8; 4096];
        assert_eq!(decode_superblock(&b, 0), Ok(None));
        encode_superblock(&sb, 1, &mut b);
        assert_eq!(decode_superblock(&b, 1), Ok(Some(sb)));
        assert!(decode_superblock(&b, 0).is_err(), "slot mismatch");
    }
}
