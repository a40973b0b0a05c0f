//! In-memory B+tree nodes: sorted leaves and branches, search, insert, remove and split.
//!
//! A leaf holds (key, value) entries sorted by key; a value is stored inline or, when larger
//! than the inline limit, as a reference to an overflow extent. A branch holds `n` separator
//! keys and `n + 1` children: child `i` covers keys in `[keys[i-1], keys[i])`. Separators are
//! lower fences of their right child, shortened to the shortest byte string that still
//! separates the two sides (suffix truncation), which keeps branches wide.
//!
//! Each node tracks its encoded size, so splitting and extent sizing never re-encode.
//! Pure data structure: no I/O, no cache, no page allocation here.

use std::cmp::Ordering;

use super::page::{BRANCH_CHILD_LEN, BRANCH_FIRST_LEN, LEAF_ENTRY_OVERHEAD, OVERFLOW_REF_LEN};

/// Where a child node or an overflow value lives, and which checkpoint wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtentRef {
    /// First page of the extent.
    pub page: u32,
    /// Number of pages.
    pub pages: u32,
    /// Checkpoint generation expected in the extent's header (catches lost and misdirected
    /// writes: a stale but self-consistent page has an older generation).
    pub generation: u64,
}

/// A leaf value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Stored in the leaf.
    Inline(Box<[u8]>),
    /// Stored in an overflow extent of `len` bytes.
    Overflow {
        /// The extent.
        extent: ExtentRef,
        /// Value length in bytes.
        len: u32,
    },
}

impl Value {
    fn encoded_len(&self) -> usize {
        match self {
            Value::Inline(v) => v.len(),
            Value::Overflow { .. } => OVERFLOW_REF_LEN,
        }
    }
}

/// One leaf entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafEntry {
    /// The key.
    pub key: Box<[u8]>,
    /// The value.
    pub value: Value,
}

impl LeafEntry {
    /// Bytes this entry takes in an encoded leaf.
    pub fn encoded_len(&self) -> usize {
        LEAF_ENTRY_OVERHEAD + self.key.len() + self.value.encoded_len()
    }
}

/// A leaf node. Mutate only through its methods: they keep the search heads in step.
#[derive(Debug, Clone, Default)]
pub struct Leaf {
    /// Entries sorted by key, no duplicates.
    pub entries: Vec<LeafEntry>,
    /// Encoded body size.
    pub size: usize,
    heads: Heads,
}

impl PartialEq for Leaf {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Leaf {}

/// A branch node. Mutate only through its methods: they keep the search heads in step.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Separator keys, sorted.
    pub keys: Vec<Box<[u8]>>,
    /// Children; `children.len() == keys.len() + 1`.
    pub children: Vec<ExtentRef>,
    /// Encoded body size.
    pub size: usize,
    heads: Heads,
}

impl PartialEq for Branch {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys && self.children == other.children
    }
}

impl Eq for Branch {}

/// Search accelerator of a node: for every key, the 8 bytes that follow the prefix all the
/// node's keys share, as a big-endian integer, in one contiguous array. A binary search
/// compares these integers (cache-friendly, no pointer chasing) and looks at a whole key
/// only to break a tie. Zero padding keeps integer order consistent with byte order, so
/// heads that differ decide the comparison. The shared prefix may be shorter than the
/// keys' longest common prefix (it is never recomputed upwards); it is always common.
#[derive(Debug, Clone, Default)]
struct Heads {
    heads: Vec<u64>,
    prefix: usize,
}

fn head_of(key: &[u8], prefix: usize) -> u64 {
    let rest = key.get(prefix..).unwrap_or(&[]);
    if let Some(first) = rest.first_chunk::<8>() {
        // The common case, without a variable-length copy (a call to memcpy).
        return u64::from_be_bytes(*first);
    }
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(rest) {
        *d = *s;
    }
    u64::from_be_bytes(b)
}

/// Byte order of two keys. Most keys differ in their first 8 bytes, which are compared as
/// one integer; a call to memcmp for every op cost recovery's replay ~4% of its tree time.
pub fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    match head_of(a, 0).cmp(&head_of(b, 0)) {
        Ordering::Equal => a.cmp(b),
        unequal => unequal,
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Heads {
    fn build<'a>(n: usize, key: impl Fn(usize) -> &'a [u8]) -> Self {
        let prefix = if n >= 2 {
            common_prefix(key(0), key(n - 1))
        } else {
            0
        };
        Heads {
            heads: (0..n).map(|i| head_of(key(i), prefix)).collect(),
            prefix,
        }
    }

    /// Position of `probe` among the `n` sorted keys: `Ok(i)` if equal to key `i`, else
    /// `Err(i)` where it would be inserted.
    fn search<'a>(&self, probe: &[u8], key: impl Fn(usize) -> &'a [u8]) -> Result<usize, usize> {
        let n = self.heads.len();
        if n == 0 {
            return Err(0);
        }
        let p = self.prefix;
        if p > 0 {
            let m = probe.len().min(p);
            match probe[..m].cmp(&key(0)[..m]) {
                Ordering::Less => return Err(0),
                Ordering::Greater => return Err(n),
                Ordering::Equal if probe.len() < p => return Err(0),
                Ordering::Equal => {}
            }
        }
        let h = head_of(probe, p);
        let mut lo = self.heads.partition_point(|&x| x < h);
        let mut hi = lo + self.heads[lo..].partition_point(|&x| x <= h);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match key(mid).cmp(probe) {
                Ordering::Less => lo = mid + 1,
                Ordering::Equal => return Ok(mid),
                Ordering::Greater => hi = mid,
            }
        }
        Err(lo)
    }

    /// Accounts for a key inserted at `at`; `n` keys now exist.
    fn inserted<'a>(&mut self, at: usize, n: usize, key: impl Fn(usize) -> &'a [u8]) {
        let boundary = at == 0 || at + 1 == n;
        if n <= 2 || (boundary && common_prefix(key(0), key(n - 1)) < self.prefix) {
            *self = Heads::build(n, key);
        } else {
            self.heads.insert(at, head_of(key(at), self.prefix));
        }
    }

    fn removed(&mut self, at: usize) {
        self.heads.remove(at);
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Holds entries.
    Leaf(Leaf),
    /// Routes to children.
    Branch(Branch),
}

/// Approximate heap bytes per entry beyond its encoded bytes (boxes, vectors, enum tags);
/// used for cache accounting.
const ENTRY_MEMORY_OVERHEAD: usize = 48;

impl Node {
    /// Encoded body size in bytes (without the page header).
    pub fn body_size(&self) -> usize {
        match self {
            Node::Leaf(l) => l.size,
            Node::Branch(b) => b.size,
        }
    }

    /// Approximate memory this node occupies, for the cache budget.
    pub fn memory_size(&self) -> usize {
        let n = match self {
            Node::Leaf(l) => l.entries.len(),
            Node::Branch(b) => b.children.len(),
        };
        64 + self.body_size() + n * (ENTRY_MEMORY_OVERHEAD + 8)
    }

    /// Number of entries (leaf) or children (branch).
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.entries.len(),
            Node::Branch(b) => b.children.len(),
        }
    }

    /// Whether the node holds no entries or children.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Leaf {
    /// Builds a leaf from sorted entries.
    pub fn from_entries(entries: Vec<LeafEntry>) -> Self {
        let size = entries.iter().map(LeafEntry::encoded_len).sum();
        let heads = Heads::build(entries.len(), |i| &entries[i].key);
        Leaf {
            entries,
            size,
            heads,
        }
    }

    /// Position of `key`: `Ok(i)` if present, `Err(i)` where it would go.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.heads.search(key, |i| &self.entries[i].key)
    }

    /// Inserts or replaces `key`; returns the old value if any.
    pub fn put(&mut self, key: &[u8], value: Value) -> Option<Value> {
        self.put_owned(key.into(), value)
    }

    /// [`Leaf::put`] taking the key by value (no copy when it is inserted).
    pub fn put_owned(&mut self, key: Box<[u8]>, value: Value) -> Option<Value> {
        // A key past the last one (as every key of a sorted run is, which recovery's replay
        // applies) needs one comparison, not a search.
        let at = match self.entries.last() {
            None => Err(0),
            Some(last) if compare_keys(&last.key, &key) == Ordering::Less => {
                Err(self.entries.len())
            }
            Some(_) => self.search(&key),
        };
        match at {
            Ok(i) => {
                let e = &mut self.entries[i];
                self.size = self.size - e.value.encoded_len() + value.encoded_len();
                Some(std::mem::replace(&mut e.value, value))
            }
            Err(i) => {
                let e = LeafEntry { key, value };
                self.size += e.encoded_len();
                self.entries.insert(i, e);
                let entries = &self.entries;
                self.heads.inserted(i, entries.len(), |j| &entries[j].key);
                None
            }
        }
    }

    /// Removes `key`; returns its value if it was present.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let i = self.search(key).ok()?;
        let e = self.entries.remove(i);
        self.heads.removed(i);
        self.size -= e.encoded_len();
        Some(e.value)
    }

    /// Splits into parts of at most `capacity` encoded bytes each where possible (a single
    /// entry larger than `capacity` stays alone). Returns the parts after the first, each
    /// with its separator; `self` keeps the first part.
    pub fn split(&mut self, capacity: usize) -> Vec<(Box<[u8]>, Leaf)> {
        let entries = std::mem::take(&mut self.entries);
        let sizes: Vec<usize> = entries.iter().map(LeafEntry::encoded_len).collect();
        let cuts = split_points(&sizes, capacity, 1);
        let mut parts = cut(entries, &cuts).into_iter().map(Leaf::from_entries);
        *self = parts.next().expect("at least one part");
        let mut prev_last: Box<[u8]> = self.entries.last().expect("non-empty part").key.clone();
        let mut out = Vec::new();
        for part in parts {
            let first = &part.entries.first().expect("non-empty part").key;
            let sep = separator(&prev_last, first);
            prev_last = part.entries.last().expect("non-empty part").key.clone();
            out.push((sep, part));
        }
        out
    }
}

impl Branch {
    /// A branch with one child and no separators.
    pub fn with_child(child: ExtentRef) -> Self {
        Branch {
            keys: Vec::new(),
            children: vec![child],
            size: BRANCH_FIRST_LEN,
            heads: Heads::default(),
        }
    }

    /// Builds a branch from separators and children.
    pub fn from_parts(keys: Vec<Box<[u8]>>, children: Vec<ExtentRef>) -> Self {
        assert_eq!(children.len(), keys.len() + 1, "branch shape");
        let size = BRANCH_FIRST_LEN
            + keys
                .iter()
                .map(|k| BRANCH_CHILD_LEN + k.len())
                .sum::<usize>();
        let heads = Heads::build(keys.len(), |i| &keys[i]);
        Branch {
            keys,
            children,
            size,
            heads,
        }
    }

    /// Index of the child whose range holds `key`.
    pub fn child_for(&self, key: &[u8]) -> usize {
        match self.heads.search(key, |i| &self.keys[i]) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// Index of the child whose range holds the largest key strictly below `key`.
    pub fn child_before(&self, key: &[u8]) -> usize {
        match self.heads.search(key, |i| &self.keys[i]) {
            Ok(i) | Err(i) => i,
        }
    }

    /// Inserts `child` right after position `at`, separated from it by `key`.
    pub fn insert_after(&mut self, at: usize, key: Box<[u8]>, child: ExtentRef) {
        self.size += BRANCH_CHILD_LEN + key.len();
        self.keys.insert(at, key);
        self.children.insert(at + 1, child);
        let keys = &self.keys;
        self.heads.inserted(at, keys.len(), |j| &keys[j]);
    }

    /// Removes child `at` together with the separator next to it.
    pub fn remove_child(&mut self, at: usize) {
        self.children.remove(at);
        if self.keys.is_empty() {
            return;
        }
        let i = at.saturating_sub(1);
        let k = self.keys.remove(i);
        self.heads.removed(i);
        self.size -= BRANCH_CHILD_LEN + k.len();
    }

    /// Whether the branch has enough separators to split into two non-trivial halves.
    pub fn splittable(&self) -> bool {
        self.keys.len() >= 3
    }

    /// Splits into parts of at most `capacity` encoded bytes where possible; returns the
    /// parts after the first with the separator promoted to the parent for each.
    pub fn split(&mut self, capacity: usize) -> Vec<(Box<[u8]>, Branch)> {
        let keys = std::mem::take(&mut self.keys);
        let children = std::mem::take(&mut self.children);
        // Entry i (for i >= 1) is (keys[i-1], children[i]); entry 0 is children[0] alone.
        let mut sizes = vec![BRANCH_FIRST_LEN];
        sizes.extend(keys.iter().map(|k| BRANCH_CHILD_LEN + k.len()));
        let cuts = split_points(&sizes, capacity, 2);
        let mut keys = keys.into_iter();
        let mut children = children.into_iter();
        let mut parts: Vec<(Option<Box<[u8]>>, Branch)> = Vec::new();
        let mut start = 0usize;
        for end in cuts.iter().copied().chain([sizes.len()]) {
            // Entries start..end: the first one's key (if start > 0) is promoted.
            let promoted = if start > 0 { keys.next() } else { None };
            let first_child = children.next().expect("child per entry");
            let mut part_keys = Vec::new();
            let mut part_children = vec![first_child];
            for _ in start + 1..end {
                part_keys.push(keys.next().expect("key per entry"));
                part_children.push(children.next().expect("child per entry"));
            }
            parts.push((promoted, Branch::from_parts(part_keys, part_children)));
            start = end;
        }
        let mut parts = parts.into_iter();
        *self = parts.next().expect("at least one part").1;
        parts
            .map(|(k, b)| (k.expect("promoted separator"), b))
            .collect()
    }
}

/// Chooses cut positions in a sequence of entry sizes so each part holds at most
/// `capacity` bytes (parts hold at least `min_part` entries; an oversized single entry
/// stays alone). Splits into two halves by size when that suffices.
fn split_points(sizes: &[usize], capacity: usize, min_part: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let mut cuts = Vec::new();
    if sizes.len() < 2 * min_part {
        return cuts;
    }
    let parts_needed = total.div_ceil(capacity).max(2);
    let target = total.div_ceil(parts_needed);
    let mut acc = 0usize;
    let mut start = 0usize;
    for (i, &s) in sizes.iter().enumerate() {
        let part_len = i - start;
        let too_big = acc + s > capacity || acc >= target;
        let rest_ok = sizes.len() - i >= min_part;
        if part_len >= min_part && too_big && rest_ok {
            cuts.push(i);
            start = i;
            acc = 0;
        }
        acc += s;
    }
    cuts
}

fn cut<T>(mut items: Vec<T>, cuts: &[usize]) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    for &c in cuts.iter().rev() {
        out.push(items.split_off(c));
    }
    // The first part keeps the whole vector's capacity: give the surplus back (a leaf
    // that grew to several pages during a sorted run would hold it for its lifetime).
    items.shrink_to_fit();
    out.push(items);
    out.reverse();
    out
}

/// The shortest key `s` with `left < s <= right` (requires `left < right`).
pub fn separator(left: &[u8], right: &[u8]) -> Box<[u8]> {
    debug_assert!(
        left.cmp(right) == Ordering::Less,
        "separator of unordered keys"
    );
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].into()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn compare_keys_is_byte_order(
            a in proptest::collection::vec(0u8..3, 0..12),
            b in proptest::collection::vec(0u8..3, 0..12),
        ) {
            proptest::prop_assert_eq!(compare_keys(&a, &b), a.cmp(&b));
        }
    }

    fn entry(k: &[u8], vlen: usize) -> LeafEntry {
        LeafEntry {
            key: k.into(),
            value: Value::Inline(vec![7; vlen].into()),
        }
    }

    #[test]
    fn separator_is_shortest_between() {
        assert_eq!(&*separator(b"apple", b"banana"), b"b");
        assert_eq!(&*separator(b"abc", b"abd"), b"abd");
        assert_eq!(&*separator(b"ab", b"abc"), b"abc");
        assert_eq!(&*separator(b"", b"a"), b"a");
    }

    #[test]
    fn leaf_split_keeps_order_and_capacity() {
        let mut leaf = Leaf::default();
        for i in 0..100u32 {
            leaf.put(&i.to_be_bytes(), Value::Inline(vec![1; 90].into()));
        }
        let total = leaf.size;
        let parts = leaf.split(4000);
        assert!(!parts.is_empty());
        assert!(leaf.size <= 4000);
        let mut all: Vec<Box<[u8]>> = leaf.entries.iter().map(|e| e.key.clone()).collect();
        let mut sum = leaf.size;
        for (sep, part) in &parts {
            assert!(part.size <= 4000);
            assert!(**sep <= *part.entries[0].key);
            assert!(**sep > **all.last().expect("keys"));
            all.extend(part.entries.iter().map(|e| e.key.clone()));
            sum += part.size;
        }
        assert_eq!(sum, total);
        assert_eq!(all.len(), 100);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn oversized_single_entry_stays_alone() {
        let mut leaf =
            Leaf::from_entries(vec![entry(b"a", 10), entry(b"b", 5000), entry(b"c", 10)]);
        let parts = leaf.split(4000);
        let sizes: Vec<usize> = std::iter::once(leaf.entries.len())
            .chain(parts.iter().map(|(_, p)| p.entries.len()))
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 3);
        assert!(sizes.iter().all(|&n| n >= 1));
    }

    #[test]
    fn branch_split_promotes_separators() {
        let keys: Vec<Box<[u8]>> = (0..50u32).map(|i| i.to_be_bytes().into()).collect();
        let children: Vec<ExtentRef> = (0..51u32)
            .map(|i| ExtentRef {
                page: i + 2,
                pages: 1,
                generation: 1,
            })
            .collect();
        let mut b = Branch::from_parts(keys.clone(), children.clone());
        let parts = b.split(300);
        let mut seen_children = b.children.clone();
        let mut seen_keys = b.keys.clone();
        for (sep, part) in parts {
            seen_keys.push(sep);
            seen_keys.extend(part.keys.iter().cloned());
            seen_children.extend(part.children.iter().copied());
            assert_eq!(part.children.len(), part.keys.len() + 1);
        }
        assert_eq!(seen_children, children);
        assert_eq!(seen_keys, keys);
    }

    #[test]
    fn heads_search_agrees_with_plain_binary_search() {
        // Keys with long shared prefixes, zero bytes, prefixes of each other and ties in
        // the first 8 bytes after the shared prefix.
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for i in 0..300u32 {
            let mut k = b"table-0001/".to_vec();
            k.extend_from_slice(&(i / 7).to_be_bytes());
            k.extend(std::iter::repeat_n(0u8, (i % 3) as usize));
            k.extend_from_slice(&(i % 7).to_be_bytes()[..(i % 4) as usize]);
            keys.push(k);
        }
        keys.sort();
        keys.dedup();
        let mut leaf = Leaf::default();
        // Insert out of order so boundary inserts shrink the shared prefix.
        for k in keys.iter().rev().step_by(2).chain(keys.iter().step_by(2)) {
            leaf.put(k, Value::Inline(Box::new([])));
        }
        let probes: Vec<Vec<u8>> = keys
            .iter()
            .flat_map(|k| {
                let mut longer = k.clone();
                longer.push(0);
                [k.clone(), k[..k.len() - 1].to_vec(), longer]
            })
            .chain([
                Vec::new(),
                b"table-0001".to_vec(),
                b"zz".to_vec(),
                b"a".to_vec(),
            ])
            .collect();
        for p in &probes {
            let plain = leaf.entries.binary_search_by(|e| (*e.key).cmp(p));
            assert_eq!(leaf.search(p), plain, "probe {p:?}");
        }
        let b = Branch::from_parts(
            keys.iter().map(|k| k.as_slice().into()).collect(),
            (0..=keys.len() as u32)
                .map(|page| ExtentRef {
                    page,
                    pages: 1,
                    generation: 0,
                })
                .collect(),
        );
        for p in &probes {
            assert_eq!(
                b.child_for(p),
                keys.partition_point(|k| k.as_slice() <= p.as_slice())
            );
            assert_eq!(
                b.child_before(p),
                keys.partition_point(|k| k.as_slice() < p.as_slice())
            );
        }
    }

    #[test]
    fn branch_child_lookup() {
        let r = |p| ExtentRef {
            page: p,
            pages: 1,
            generation: 0,
        };
        let b = Branch::from_parts(vec![b"m".as_slice().into()], vec![r(2), r(3)]);
        assert_eq!(b.child_for(b"a"), 0);
        assert_eq!(b.child_for(b"m"), 1);
        assert_eq!(b.child_before(b"m"), 0);
        assert_eq!(b.child_before(b"n"), 1);
    }
}
