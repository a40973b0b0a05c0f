//! The synchronous core of the tree: lookups over cached nodes and copy-on-write mutation.
//!
//! Everything here runs without awaiting. A lookup either finishes or names the one extent
//! it is missing; the async layer (`tree.rs`) reads that extent and retries. A batch is
//! applied in one synchronous pass, so no reader ever observes half a batch and no page can
//! be evicted mid-batch: a batch of several ops is first checked to be fully resolvable; a
//! batch of one op is tried at once, and if its path lacks a node it changes no entry and
//! falls back to the check. Recovery alone, which has no readers, applies a batch in parts
//! ([`TreeState::apply_until_missing`]), each part ending where a node is missing.
//!
//! Copy-on-write rule: a node written by a checkpoint, or frozen for the checkpoint in
//! progress, is never changed in place. The first change in an epoch copies it to a freshly
//! allocated extent (dirty in the current epoch) and frees the old extent for reuse after
//! the next checkpoint. Later changes in the same epoch modify the copy in place.
//!
//! Structural changes are limited to what only touches dirty nodes: splits during the
//! batch, and removal of emptied nodes after it, or after each part of a batch applied in
//! parts (an emptied leaf stays routable while the batch or part runs, so its later
//! operations never need a sibling that is not loaded).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::rc::Rc;

use super::alloc::Allocator;
use super::node::{Branch, ExtentRef, Leaf, Node, Value, compare_keys};
use super::page::{PAGE_HEADER_LEN, pages_for};
use crate::storage::page_cache::{CacheEntry, PageCache};

/// Nodes read during one operation, kept alive so eviction cannot undo its progress.
pub type Loaded = HashMap<u32, Rc<Node>>;

/// A large value not yet written by a checkpoint.
#[derive(Debug, Clone)]
pub struct DirtyOverflow {
    /// Epoch that allocated it.
    pub epoch: u64,
    /// Its extent.
    pub extent: ExtentRef,
    /// The bytes.
    pub data: Rc<Vec<u8>>,
}

/// Counters kept by the tree.
#[derive(Debug, Default, Clone)]
pub struct TreeCounters {
    /// Checkpoints completed.
    pub checkpoints: u64,
    /// Bytes written by checkpoints.
    pub bytes_written: u64,
    /// fdatasync calls by checkpoints.
    pub fsyncs: u64,
    /// Extents read from disk.
    pub extents_read: u64,
    /// Of those, extents a scan read ahead, beside the one it needed at that moment.
    pub extents_read_ahead: u64,
    /// Puts and deletes applied.
    pub ops_applied: u64,
}

/// The whole mutable state of one tree.
pub struct TreeState {
    /// Page size of the file.
    pub page_size: usize,
    /// File id (checksum seed).
    pub file_id: u64,
    /// Largest value kept inline in a leaf.
    pub value_inline_max: usize,
    /// Root node, if the tree is not empty.
    pub root: Option<ExtentRef>,
    /// Current epoch: mutations now are written by checkpoint `epoch`.
    pub epoch: u64,
    /// Sequence of the newest durable checkpoint.
    pub durable: u64,
    /// Page allocator.
    pub alloc: Allocator,
    /// Decoded nodes.
    pub cache: PageCache,
    /// Dirty node extents by epoch (first page numbers).
    pub dirty: BTreeMap<u64, BTreeSet<u32>>,
    /// Large values not yet written, by first page.
    pub overflow: HashMap<u32, DirtyOverflow>,
    /// Total bytes of the values in `overflow`.
    pub overflow_bytes: usize,
    /// Applied log position per stream.
    pub applied: BTreeMap<u64, u64>,
    /// Root of the newest durable checkpoint (what a [`super::tree::CheckpointView`] reads).
    pub durable_root: Option<ExtentRef>,
    /// Applied log positions the newest durable checkpoint holds.
    pub durable_applied: BTreeMap<u64, u64>,
    /// Whether `applied` changed since the last checkpoint froze it.
    pub applied_changed: bool,
    /// Running readers by the epoch they started in.
    pub pins: BTreeMap<u64, usize>,
    /// Counters.
    pub counters: TreeCounters,
}

/// Result of a synchronous lookup.
pub enum Find {
    /// The key is absent.
    Absent,
    /// The value, inline.
    Inline(Vec<u8>),
    /// The value lives in an overflow extent.
    Overflow(ExtentRef, u32),
    /// This extent must be read first.
    Need(ExtentRef),
}

/// Where a scan continues.
#[derive(Debug, Clone)]
pub enum Seek {
    /// First key >= this.
    Ge(Vec<u8>),
    /// First key > this.
    Gt(Vec<u8>),
    /// Last key <= this.
    Le(Vec<u8>),
    /// Last key < this.
    Lt(Vec<u8>),
    /// The last key.
    Last,
}

/// One leaf's worth of scan results.
pub enum ScanStep {
    /// This extent must be read first; so may the siblings listed after it, which the scan
    /// reaches next (read ahead at the same time).
    Need(ExtentRef, Vec<ExtentRef>),
    /// Entries found, and where to continue (None: the tree ends in this direction).
    Entries(Vec<(Vec<u8>, Value)>, Option<Seek>),
}

/// One put (`Some`) or delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or None to delete.
    pub value: Option<Vec<u8>>,
}

/// Pages' worth of entries a leaf may gather during one run of
/// [`TreeState::apply_batch`] before it is split.
const RUN_LEAF_PAGES_MAX: usize = 4;

/// The key range `[lo, hi)` of the leaf a descent reached (an absent bound is open).
#[derive(Default)]
struct LeafRange {
    lo: Vec<u8>,
    hi: Vec<u8>,
    has_lo: bool,
    has_hi: bool,
    /// Whether the range describes a leaf of the tree as it is now.
    valid: bool,
}

impl LeafRange {
    fn reset(&mut self) {
        self.has_lo = false;
        self.has_hi = false;
        self.valid = false;
    }

    /// Narrows the range to child `idx` of branch `b` (which children cover
    /// `[keys[idx - 1], keys[idx])`).
    fn narrow(&mut self, b: &Branch, idx: usize) {
        if idx > 0 {
            let k = &b.keys[idx - 1][..];
            if !self.has_lo || k > &self.lo[..] {
                self.lo.clear();
                self.lo.extend_from_slice(k);
                self.has_lo = true;
            }
        }
        if idx < b.keys.len() {
            let k = &b.keys[idx][..];
            if !self.has_hi || k < &self.hi[..] {
                self.hi.clear();
                self.hi.extend_from_slice(k);
                self.has_hi = true;
            }
        }
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.valid
            && (!self.has_lo || compare_keys(key, &self.lo) != Ordering::Less)
            && (!self.has_hi || compare_keys(key, &self.hi) == Ordering::Less)
    }
}

impl TreeState {
    /// Bytes of node body that fit in one page.
    pub fn capacity(&self) -> usize {
        self.page_size - PAGE_HEADER_LEN
    }

    fn node(&mut self, r: ExtentRef, loaded: &Loaded) -> Option<Rc<Node>> {
        if let Some(e) = self.cache.lookup(r.page) {
            return Some(e.node.clone());
        }
        loaded.get(&r.page).cloned()
    }

    /// Looks `key` up in cached (or `loaded`) nodes.
    pub fn find(&mut self, key: &[u8], loaded: &Loaded) -> Find {
        let Some(mut r) = self.root else {
            return Find::Absent;
        };
        loop {
            let Some(node) = self.node(r, loaded) else {
                return Find::Need(r);
            };
            match &*node {
                Node::Branch(b) => r = b.children[b.child_for(key)],
                Node::Leaf(l) => {
                    return match l.search(key) {
                        Err(_) => Find::Absent,
                        Ok(i) => match &l.entries[i].value {
                            Value::Inline(v) => Find::Inline(v.to_vec()),
                            Value::Overflow { extent, len } => Find::Overflow(*extent, *len),
                        },
                    };
                }
            }
        }
    }

    /// Collects the entries of the leaf at `seek` that lie within `lo..hi`, at most
    /// `limit` of them.
    pub fn scan_leaf(
        &mut self,
        seek: &Seek,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
        loaded: &Loaded,
    ) -> ScanStep {
        self.scan_leaf_from(self.root, seek, lo, hi, limit, 0, loaded)
    }

    /// [`TreeState::scan_leaf`] in the tree whose root is `root` (an older, pinned version).
    /// When a node on the way is missing, up to `ahead` of its next siblings in the scan's
    /// direction that are missing too and may hold keys within `lo..hi` are listed with it.
    #[allow(clippy::too_many_arguments)]
    pub fn scan_leaf_from(
        &mut self,
        root: Option<ExtentRef>,
        seek: &Seek,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
        ahead: usize,
        loaded: &Loaded,
    ) -> ScanStep {
        let Some(mut r) = root else {
            return ScanStep::Entries(Vec::new(), None);
        };
        let reverse = matches!(seek, Seek::Le(_) | Seek::Lt(_) | Seek::Last);
        let mut fence: Option<Box<[u8]>> = None;
        loop {
            let Some(node) = self.node(r, loaded) else {
                return ScanStep::Need(r, Vec::new());
            };
            match &*node {
                Node::Branch(b) => {
                    let i = match seek {
                        Seek::Ge(k) | Seek::Gt(k) | Seek::Le(k) => b.child_for(k),
                        Seek::Lt(k) => b.child_before(k),
                        Seek::Last => b.children.len() - 1,
                    };
                    if !reverse && i < b.keys.len() {
                        fence = Some(b.keys[i].clone());
                    }
                    if reverse && i > 0 {
                        fence = Some(b.keys[i - 1].clone());
                    }
                    r = b.children[i];
                    if ahead > 0 && !self.available(r, loaded) {
                        let more = self.missing_siblings(b, i, reverse, ahead, lo, hi, loaded);
                        return ScanStep::Need(r, more);
                    }
                }
                Node::Leaf(l) => {
                    let out = collect_leaf(l, seek, lo, hi, limit);
                    let next = fence.map(|f| {
                        if reverse {
                            Seek::Lt(f.to_vec())
                        } else {
                            Seek::Ge(f.to_vec())
                        }
                    });
                    return ScanStep::Entries(out, next);
                }
            }
        }
    }

    /// Whether `r` is cached or `loaded` (without counting a cache lookup).
    fn available(&self, r: ExtentRef, loaded: &Loaded) -> bool {
        self.cache.peek(r.page).is_some() || loaded.contains_key(&r.page)
    }

    /// Up to `count` children of `b` that a scan reaches after child `i` (in its direction)
    /// and that are neither cached nor `loaded`; stops at the first wholly outside `lo..hi`.
    #[allow(clippy::too_many_arguments)]
    fn missing_siblings(
        &self,
        b: &Branch,
        i: usize,
        reverse: bool,
        count: usize,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        loaded: &Loaded,
    ) -> Vec<ExtentRef> {
        let mut out = Vec::new();
        let next: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((0..i).rev())
        } else {
            Box::new(i + 1..b.children.len())
        };
        for j in next.take(count) {
            // Child j holds keys >= keys[j - 1] and < keys[j].
            let outside = if reverse {
                fence_beyond(&b.keys[j], true, lo, hi)
            } else {
                fence_beyond(&b.keys[j - 1], false, lo, hi)
            };
            if outside {
                break;
            }
            if !self.available(b.children[j], loaded) {
                out.push(b.children[j]);
            }
        }
        out
    }

    /// Every extent the batch needs next that is neither cached nor `loaded`: for each op,
    /// the first such extent on its path (each extent once, in op order). Loading them all
    /// and asking again resolves one more level each time, so a batch needs at most the
    /// tree's depth of rounds, whose reads can all be in flight at once. Consecutive ops
    /// that fall in the leaf (or the missing subtree) already reached need no second
    /// descent.
    pub fn missing_for<'a>(
        &mut self,
        ops: impl IntoIterator<Item = &'a Op>,
        loaded: &Loaded,
    ) -> Vec<ExtentRef> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut range = LeafRange::default();
        for op in ops {
            if range.contains(&op.key) {
                continue;
            }
            range.reset();
            let Some(mut r) = self.root else {
                return out;
            };
            loop {
                let Some(node) = self.node(r, loaded) else {
                    if seen.insert(r.page) {
                        out.push(r);
                    }
                    break;
                };
                match &*node {
                    Node::Branch(b) => {
                        let idx = b.child_for(&op.key);
                        range.narrow(b, idx);
                        r = b.children[idx];
                    }
                    Node::Leaf(_) => break,
                }
            }
            range.valid = true;
        }
        out
    }

    /// Applies a batch whose paths are all resolvable (see [`TreeState::missing_for`]).
    /// Takes the ops by value: keys and values move into the tree without a copy.
    ///
    /// Ops are applied in order. A run of consecutive ops that fall in the same leaf is
    /// applied with one descent and one split/resize pass (a sorted batch, as recovery
    /// replays, touches each leaf once).
    pub fn apply_batch(&mut self, ops: Vec<Op>, loaded: &mut Loaded) {
        let rest = self.apply_until_missing(ops, loaded);
        assert!(rest.is_empty(), "batch paths are resolved first");
    }

    /// Applies the ops of `ops` in order until one whose path needs an extent that is
    /// neither cached nor `loaded`; returns that op and the ones after it (none if all were
    /// applied). Unlike [`TreeState::apply_batch`], a batch may thus be applied in parts,
    /// with loads between them: only for recovery, where nobody reads until it ends. It
    /// spares the pass of [`TreeState::missing_for`] over a batch whose nodes are all
    /// cached, which replaying a log onto a warm tree is.
    pub fn apply_until_missing(&mut self, ops: Vec<Op>, loaded: &mut Loaded) -> Vec<Op> {
        let mut applied = 0u64;
        let mut emptied = Vec::new();
        let mut range = LeafRange::default();
        let mut ops = ops.into_iter().peekable();
        let mut rest = Vec::new();
        while let Some(op) = ops.next() {
            let before = ops.len();
            match self.apply_run(op, &mut ops, &mut range, loaded) {
                Ok(emptied_key) => {
                    applied += 1 + (before - ops.len()) as u64;
                    emptied.extend(emptied_key);
                }
                Err((op, _)) => {
                    rest.reserve_exact(1 + ops.len());
                    rest.push(op);
                    rest.extend(ops);
                    break;
                }
            }
        }
        for key in emptied {
            self.remove_if_empty(&key);
        }
        self.collapse_root();
        self.counters.ops_applied += applied;
        rest
    }

    /// Applies one op in a single descent, or hands it back with the first extent its
    /// path needs that is neither cached nor `loaded` (then nothing is applied; nodes above
    /// that extent may have become dirty copies, which changes no content, and the caller
    /// goes the way of a larger batch: [`TreeState::missing_for`], then
    /// [`TreeState::apply_batch`]). A write request is a batch of one op, and checking its
    /// path first repeated the descent: 3.8% of a shard's CPU at PutItem 64 in flight.
    pub fn apply_one(&mut self, op: Op, loaded: &mut Loaded) -> Result<(), (Op, ExtentRef)> {
        let mut none = Vec::new().into_iter().peekable();
        let emptied = self.apply_run(op, &mut none, &mut LeafRange::default(), loaded)?;
        if let Some(key) = emptied {
            self.remove_if_empty(&key);
        }
        self.collapse_root();
        self.counters.ops_applied += 1;
        Ok(())
    }

    /// Applies `first` and every following op of `rest` that falls in the same leaf (until
    /// the leaf holds [`RUN_LEAF_PAGES_MAX`] pages' worth); returns a key of the leaf if the
    /// run left it empty. If a node on `first`'s path is neither cached nor `loaded`, hands
    /// `first` back with it before any entry changes.
    fn apply_run(
        &mut self,
        first: Op,
        rest: &mut std::iter::Peekable<std::vec::IntoIter<Op>>,
        range: &mut LeafRange,
        loaded: &mut Loaded,
    ) -> Result<Option<Vec<u8>>, (Op, ExtentRef)> {
        let root = match self.root {
            Some(r) if !self.available(r, loaded) => return Err((first, r)),
            Some(r) => r,
            None if first.value.is_none() => return Ok(None),
            None => self.new_node(Node::Leaf(Leaf::default())),
        };
        let root = self.make_dirty(root, loaded);
        self.root = Some(root);
        range.reset();
        let mut path: Vec<(ExtentRef, usize)> = Vec::new();
        let mut cur = root;
        loop {
            // A lookup, not a peek: the path of a write counts as recently used (CLOCK).
            let node = self
                .cache
                .lookup(cur.page)
                .expect("dirty node cached")
                .node
                .clone();
            let Node::Branch(b) = &*node else { break };
            let idx = b.child_for(&first.key);
            range.narrow(b, idx);
            let child = b.children[idx];
            drop(node);
            if !self.available(child, loaded) {
                return Err((first, child));
            }
            let new_child = self.make_dirty(child, loaded);
            if new_child != child {
                self.branch_mut(cur.page).children[idx] = new_child;
            }
            path.push((cur, idx));
            cur = new_child;
        }
        range.valid = true;
        let run_max = RUN_LEAF_PAGES_MAX * self.capacity();
        let mut last_delete = None;
        let mut op = first;
        loop {
            let old = match op.value {
                Some(v) => {
                    let v = self.store_value(v);
                    self.leaf_mut(cur.page)
                        .put_owned(op.key.into_boxed_slice(), v)
                }
                None => {
                    let old = self.leaf_mut(cur.page).remove(&op.key);
                    last_delete = Some(op.key);
                    old
                }
            };
            if let Some(Value::Overflow { extent, .. }) = old {
                self.free_overflow(extent);
            }
            let size = self.leaf_mut(cur.page).size;
            match rest.next_if(|next| size < run_max && range.contains(&next.key)) {
                Some(next) => op = next,
                None => break,
            }
        }
        let empty = self.leaf_mut(cur.page).entries.is_empty();
        self.cache.refresh(cur.page);
        self.fix_up(path, cur);
        // The leaf's range is stale once it split or moved; the next op descends again.
        range.valid = false;
        Ok(if empty { last_delete } else { None })
    }

    fn store_value(&mut self, v: Vec<u8>) -> Value {
        if v.len() <= self.value_inline_max {
            return Value::Inline(v.into_boxed_slice());
        }
        let pages = pages_for(v.len(), self.page_size);
        let page = self.alloc.alloc(pages);
        let extent = ExtentRef {
            page,
            pages,
            generation: self.epoch,
        };
        let len = v.len() as u32;
        self.overflow_bytes += v.len();
        self.overflow.insert(
            page,
            DirtyOverflow {
                epoch: self.epoch,
                extent,
                data: Rc::new(v),
            },
        );
        Value::Overflow { extent, len }
    }

    fn free_overflow(&mut self, extent: ExtentRef) {
        match self.overflow.get(&extent.page).map(|o| o.epoch) {
            Some(e) if e == self.epoch => {
                if let Some(o) = self.overflow.remove(&extent.page) {
                    self.overflow_bytes -= o.data.len();
                }
                self.alloc.free_now(extent.page, extent.pages);
            }
            // Frozen for the running checkpoint (kept until written), or already durable.
            _ => self.alloc.free_later(self.epoch, extent.page, extent.pages),
        }
    }

    /// Allocates an extent for a new node and caches it dirty.
    fn new_node(&mut self, node: Node) -> ExtentRef {
        let pages = pages_for(node.body_size(), self.page_size);
        let page = self.alloc.alloc(pages);
        self.cache.insert(
            page,
            CacheEntry::new(Rc::new(node), pages, Some(self.epoch)),
        );
        self.dirty.entry(self.epoch).or_default().insert(page);
        ExtentRef {
            page,
            pages,
            generation: self.epoch,
        }
    }

    /// Returns a reference to a node that may be modified in place: `r` itself if it is
    /// dirty in the current epoch, else a fresh copy (the old extent is freed).
    fn make_dirty(&mut self, r: ExtentRef, loaded: &mut Loaded) -> ExtentRef {
        let entry = self.cache.peek(r.page);
        if entry.is_some_and(|e| e.dirty == Some(self.epoch)) {
            return r;
        }
        // The batch's own handle on the node goes: the tree is about to point at the copy.
        let from_load = loaded.remove(&r.page);
        let node = entry
            .map(|e| e.node.clone())
            .or(from_load)
            .expect("paths are checked before nodes are made dirty");
        // A clean node leaves the cache here (a frozen one stays for its checkpoint).
        self.free_node(r);
        // If nothing else holds the node (a reader, a checkpoint), it becomes the copy as it
        // is: a replay onto a cold tree cloned every leaf it loaded, every key and value
        // (11% of its samples with dropping the originals).
        let node = Rc::try_unwrap(node).unwrap_or_else(|shared| (*shared).clone());
        self.new_node(node)
    }

    /// Frees a node's extent under the copy-on-write rule.
    fn free_node(&mut self, r: ExtentRef) {
        match self.cache.peek(r.page).and_then(|e| e.dirty) {
            Some(e) if e == self.epoch => {
                self.cache.remove(r.page);
                if let Some(set) = self.dirty.get_mut(&e) {
                    set.remove(&r.page);
                }
                self.alloc.free_now(r.page, r.pages);
            }
            Some(_frozen) => self.alloc.free_later(self.epoch, r.page, r.pages),
            None => {
                self.cache.remove(r.page);
                self.alloc.free_later(self.epoch, r.page, r.pages);
            }
        }
    }

    fn node_mut(&mut self, page: u32) -> &mut Node {
        let e = self.cache.get_mut(page).expect("dirty node cached");
        debug_assert_eq!(
            e.dirty,
            Some(self.epoch),
            "mutating a node of another epoch"
        );
        Rc::make_mut(&mut e.node)
    }

    fn leaf_mut(&mut self, page: u32) -> &mut Leaf {
        match self.node_mut(page) {
            Node::Leaf(l) => l,
            Node::Branch(_) => panic!("page {page} is a branch, expected a leaf"),
        }
    }

    fn branch_mut(&mut self, page: u32) -> &mut Branch {
        match self.node_mut(page) {
            Node::Branch(b) => b,
            Node::Leaf(_) => panic!("page {page} is a leaf, expected a branch"),
        }
    }

    /// Splits oversized nodes and resizes extents from `cur` up to the root.
    fn fix_up(&mut self, mut path: Vec<(ExtentRef, usize)>, mut cur: ExtentRef) {
        let cap = self.capacity();
        loop {
            let node = self
                .cache
                .peek(cur.page)
                .expect("dirty node cached")
                .node
                .clone();
            let splittable = match &*node {
                Node::Leaf(l) => l.entries.len() >= 2,
                Node::Branch(b) => b.splittable(),
            };
            if node.body_size() > cap && splittable {
                drop(node);
                let parts = self.split(cur.page, cap);
                match path.last() {
                    Some(&(parent, idx)) => {
                        let b = self.branch_mut(parent.page);
                        for (i, (sep, r)) in parts.into_iter().enumerate() {
                            b.insert_after(idx + i, sep, r);
                        }
                        self.cache.refresh(parent.page);
                    }
                    None => {
                        let (keys, mut children): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
                        children.insert(0, cur);
                        let root = self.new_node(Node::Branch(Branch::from_parts(keys, children)));
                        self.root = Some(root);
                        path.push((root, 0));
                    }
                }
            }
            self.fit_extent(cur, path.last().copied());
            match path.pop() {
                Some((parent, _)) => cur = parent,
                None => return,
            }
        }
    }

    /// Splits the node at `page`; returns the new right-hand parts with their separators.
    fn split(&mut self, page: u32, cap: usize) -> Vec<(Box<[u8]>, ExtentRef)> {
        let parts: Vec<(Box<[u8]>, Node)> = match self.node_mut(page) {
            Node::Leaf(l) => l
                .split(cap)
                .into_iter()
                .map(|(k, p)| (k, Node::Leaf(p)))
                .collect(),
            Node::Branch(b) => b
                .split(cap)
                .into_iter()
                .map(|(k, p)| (k, Node::Branch(p)))
                .collect(),
        };
        self.cache.refresh(page);
        parts
            .into_iter()
            .map(|(k, n)| (k, self.new_node(n)))
            .collect()
    }

    /// Moves a dirty node to an extent of the right length if its size changed; returns its
    /// (possibly new) reference and updates the parent or root.
    fn fit_extent(&mut self, r: ExtentRef, parent: Option<(ExtentRef, usize)>) -> ExtentRef {
        let entry = self.cache.peek(r.page).expect("dirty node cached");
        let need = pages_for(entry.node.body_size(), self.page_size);
        if need == r.pages {
            return r;
        }
        let entry = self.cache.remove(r.page).expect("dirty node cached");
        if let Some(set) = self.dirty.get_mut(&self.epoch) {
            set.remove(&r.page);
        }
        self.alloc.free_now(r.page, r.pages);
        let page = self.alloc.alloc(need);
        self.cache
            .insert(page, CacheEntry::new(entry.node, need, Some(self.epoch)));
        self.dirty.entry(self.epoch).or_default().insert(page);
        let moved = ExtentRef {
            page,
            pages: need,
            generation: self.epoch,
        };
        match parent {
            Some((p, idx)) => self.branch_mut(p.page).children[idx] = moved,
            None => self.root = Some(moved),
        }
        moved
    }

    /// Removes the leaf holding `key` if it is empty, and any branch emptied by that.
    fn remove_if_empty(&mut self, key: &[u8]) {
        let Some(root) = self.root else { return };
        let mut path: Vec<(ExtentRef, usize)> = Vec::new();
        let mut cur = root;
        loop {
            let Some(e) = self.cache.peek(cur.page) else {
                return;
            };
            if e.dirty != Some(self.epoch) {
                // Untouched since the batch began: it cannot have been emptied by it.
                return;
            }
            let node = e.node.clone();
            match &*node {
                Node::Branch(b) => {
                    let idx = b.child_for(key);
                    path.push((cur, idx));
                    cur = b.children[idx];
                }
                Node::Leaf(l) if !l.entries.is_empty() => return,
                Node::Leaf(_) => break,
            }
        }
        loop {
            self.free_node(cur);
            let Some((parent, idx)) = path.pop() else {
                self.root = None;
                return;
            };
            let b = self.branch_mut(parent.page);
            b.remove_child(idx);
            let empty = b.children.is_empty();
            self.cache.refresh(parent.page);
            if !empty {
                self.fit_extent(parent, path.last().copied());
                return;
            }
            cur = parent;
        }
    }

    /// Replaces a root branch that has a single child by that child.
    fn collapse_root(&mut self) {
        while let Some(r) = self.root {
            let Some(e) = self.cache.peek(r.page) else {
                return;
            };
            let child = match &*e.node {
                Node::Branch(b) if b.children.len() == 1 => b.children[0],
                _ => return,
            };
            if e.dirty != Some(self.epoch) {
                return;
            }
            self.free_node(r);
            self.root = Some(child);
        }
    }

    /// Registers a reader starting now; returns the epoch to unpin with.
    pub fn pin(&mut self) -> u64 {
        *self.pins.entry(self.epoch).or_insert(0) += 1;
        self.epoch
    }

    /// Registers a reader of the newest durable checkpoint; returns the epoch to unpin with.
    /// Its pages are freed in later epochs, and pages freed in an epoch after `durable` are
    /// not released yet, so pinning `durable + 1` keeps every one of them in place.
    pub fn pin_durable(&mut self) -> u64 {
        let epoch = self.durable + 1;
        *self.pins.entry(epoch).or_insert(0) += 1;
        epoch
    }

    /// Ends a reader; pages freed meanwhile may become reusable.
    pub fn unpin(&mut self, epoch: u64) {
        let n = self.pins.get_mut(&epoch).expect("pinned epoch");
        *n -= 1;
        if *n == 0 {
            self.pins.remove(&epoch);
            self.release_freed();
        }
    }

    /// Makes pages reusable that were freed in epochs covered by a durable checkpoint and
    /// seen by no running reader.
    pub fn release_freed(&mut self) {
        let oldest_reader = self.pins.keys().next().copied().unwrap_or(u64::MAX);
        let upto = self.durable.min(oldest_reader.saturating_sub(1));
        self.alloc.release(upto);
    }
}

fn in_range(k: &[u8], lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> (bool, bool) {
    let above_lo = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l,
        Bound::Excluded(l) => k > l,
    };
    let below_hi = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h,
        Bound::Excluded(h) => k < h,
    };
    (above_lo, below_hi)
}

fn collect_leaf(
    l: &Leaf,
    seek: &Seek,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    limit: usize,
) -> Vec<(Vec<u8>, Value)> {
    let mut out = Vec::new();
    let take = |e: &super::node::LeafEntry| (e.key.to_vec(), e.value.clone());
    match seek {
        Seek::Ge(k) | Seek::Gt(k) => {
            let start = match (l.search(k), seek) {
                (Ok(i), Seek::Gt(_)) => i + 1,
                (Ok(i), _) | (Err(i), _) => i,
            };
            for e in &l.entries[start..] {
                let (above, below) = in_range(&e.key, lo, hi);
                if !below || out.len() >= limit {
                    break;
                }
                if above {
                    out.push(take(e));
                }
            }
        }
        Seek::Le(_) | Seek::Lt(_) | Seek::Last => {
            let end = match seek {
                Seek::Le(k) => match l.search(k) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                },
                Seek::Lt(k) => l.search(k).unwrap_or_else(|i| i),
                _ => l.entries.len(),
            };
            for e in l.entries[..end].iter().rev() {
                let (above, below) = in_range(&e.key, lo, hi);
                if !above || out.len() >= limit {
                    break;
                }
                if below {
                    out.push(take(e));
                }
            }
        }
    }
    out
}

/// Whether a continuation point lies entirely outside `lo..hi`.
pub(super) fn beyond(seek: &Seek, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match seek {
        Seek::Ge(f) => fence_beyond(f, false, lo, hi),
        Seek::Lt(f) => fence_beyond(f, true, lo, hi),
        _ => false,
    }
}

/// Whether the keys on the far side of `fence` (those >= it, or `below`: those < it) all lie
/// outside `lo..hi`.
fn fence_beyond(fence: &[u8], below: bool, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    if below {
        match lo {
            Bound::Unbounded => false,
            Bound::Included(l) | Bound::Excluded(l) => fence <= l,
        }
    } else {
        match hi {
            Bound::Unbounded => false,
            Bound::Included(h) => fence > h,
            Bound::Excluded(h) => fence >= h,
        }
    }
}
