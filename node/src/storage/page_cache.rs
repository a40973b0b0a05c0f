//! The shard's page cache: decoded B+tree nodes by page number, under a byte budget.
//!
//! Clean nodes (identical to a durable extent) are evictable; dirty nodes (modified since
//! the last checkpoint that wrote them) are pinned until a checkpoint writes them.
//! Eviction is CLOCK (second chance): cheap bookkeeping on every hit, no list surgery.
//! Eviction runs only when the tree asks for it (`evict_to_budget`), at points where no
//! synchronous operation holds page numbers it has not yet resolved, so a batch being
//! applied never loses a page mid-way. The cache may therefore overshoot its budget briefly.
//!
//! Memory is accounted with each node's approximate in-memory size, not its page count.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use super::btree::node::Node;

/// Hashes page numbers with one multiplication (Fibonacci hashing): page numbers are dense
/// small integers, not attacker-chosen strings, so SipHash's cost buys nothing here.
#[derive(Default)]
pub struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PageMap = HashMap<u32, usize, BuildHasherDefault<PageHasher>>;

/// A cached node.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// The node.
    pub node: Rc<Node>,
    /// Length of the node's extent in pages.
    pub pages: u32,
    /// Epoch in which the node was modified and not yet written (None: clean).
    pub dirty: Option<u64>,
    referenced: bool,
    memory: usize,
}

impl CacheEntry {
    /// A cache entry for `node`.
    pub fn new(node: Rc<Node>, pages: u32, dirty: Option<u64>) -> Self {
        let memory = node.memory_size();
        Self {
            node,
            pages,
            dirty,
            referenced: true,
            memory,
        }
    }
}

/// Counters of the cache.
#[derive(Debug, Default, Clone, Copy)]
pub struct CacheStats {
    /// Lookups that found the page.
    pub hits: u64,
    /// Lookups that had to read it.
    pub misses: u64,
    /// Pages evicted.
    pub evictions: u64,
    /// Bytes held.
    pub bytes: usize,
    /// Bytes held by dirty nodes.
    pub dirty_bytes: usize,
    /// Entries held.
    pub entries: usize,
}

/// The cache.
#[derive(Debug)]
pub struct PageCache {
    map: PageMap,
    slots: Vec<Option<(u32, CacheEntry)>>,
    free_slots: Vec<usize>,
    hand: usize,
    budget: usize,
    stats: CacheStats,
}

impl PageCache {
    /// A cache with a budget of `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            map: PageMap::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            hand: 0,
            budget,
            stats: CacheStats::default(),
        }
    }

    /// Looks `page` up, counting a hit or a miss.
    pub fn lookup(&mut self, page: u32) -> Option<&CacheEntry> {
        match self.map.get(&page) {
            Some(&slot) => {
                self.stats.hits += 1;
                let (_, e) = self.slots[slot].as_mut().expect("mapped slot is full");
                e.referenced = true;
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Looks `page` up without touching statistics or reference bits.
    pub fn peek(&self, page: u32) -> Option<&CacheEntry> {
        let slot = *self.map.get(&page)?;
        self.slots[slot].as_ref().map(|(_, e)| e)
    }

    /// Mutable access; call [`PageCache::refresh`] after changing the node's size.
    pub fn get_mut(&mut self, page: u32) -> Option<&mut CacheEntry> {
        let slot = *self.map.get(&page)?;
        self.slots[slot].as_mut().map(|(_, e)| e)
    }

    /// Recomputes the memory accounting of `page` after its node changed.
    pub fn refresh(&mut self, page: u32) {
        let Some(&slot) = self.map.get(&page) else {
            return;
        };
        let (_, e) = self.slots[slot].as_mut().expect("mapped slot is full");
        let memory = e.node.memory_size();
        self.stats.bytes = self.stats.bytes - e.memory + memory;
        if e.dirty.is_some() {
            self.stats.dirty_bytes = self.stats.dirty_bytes - e.memory + memory;
        }
        e.memory = memory;
    }

    /// Inserts (or replaces) the entry for `page`.
    pub fn insert(&mut self, page: u32, entry: CacheEntry) {
        self.remove(page);
        self.stats.bytes += entry.memory;
        if entry.dirty.is_some() {
            self.stats.dirty_bytes += entry.memory;
        }
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s] = Some((page, entry));
                s
            }
            None => {
                self.slots.push(Some((page, entry)));
                self.slots.len() - 1
            }
        };
        self.map.insert(page, slot);
    }

    /// Removes `page`.
    pub fn remove(&mut self, page: u32) -> Option<CacheEntry> {
        let slot = self.map.remove(&page)?;
        let (_, e) = self.slots[slot].take().expect("mapped slot is full");
        self.free_slots.push(slot);
        self.stats.bytes -= e.memory;
        if e.dirty.is_some() {
            self.stats.dirty_bytes -= e.memory;
        }
        Some(e)
    }

    /// Marks `page` clean if it is dirty in exactly `epoch` (a checkpoint wrote it).
    pub fn mark_clean(&mut self, page: u32, epoch: u64) {
        let Some(&slot) = self.map.get(&page) else {
            return;
        };
        let (_, e) = self.slots[slot].as_mut().expect("mapped slot is full");
        if e.dirty == Some(epoch) {
            e.dirty = None;
            self.stats.dirty_bytes -= e.memory;
        }
    }

    /// Evicts clean entries (second chance) until the budget holds or nothing evictable is
    /// left.
    pub fn evict_to_budget(&mut self) {
        let mut steps = 2 * self.slots.len();
        while self.stats.bytes > self.budget && steps > 0 && !self.slots.is_empty() {
            steps -= 1;
            self.hand = (self.hand + 1) % self.slots.len();
            let Some((page, e)) = self.slots[self.hand].as_mut() else {
                continue;
            };
            if e.dirty.is_some() {
                continue;
            }
            if e.referenced {
                e.referenced = false;
                continue;
            }
            let page = *page;
            self.remove(page);
            self.stats.evictions += 1;
        }
    }

    /// Bytes the cache may hold.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::btree::node::{Leaf, Value};

    fn node(n: usize) -> Rc<Node> {
        let mut leaf = Leaf::default();
        for i in 0..n {
            leaf.put(
                &(i as u32).to_be_bytes(),
                Value::Inline(vec![0; 100].into()),
            );
        }
        Rc::new(Node::Leaf(leaf))
    }

    #[test]
    fn evicts_clean_keeps_dirty() {
        let mut c = PageCache::new(3000);
        c.insert(10, CacheEntry::new(node(10), 1, Some(1)));
        for p in 11..20 {
            c.insert(p, CacheEntry::new(node(10), 1, None));
        }
        c.evict_to_budget();
        assert!(c.peek(10).is_some(), "dirty page evicted");
        assert!(c.stats().bytes <= 3000 || c.stats().entries == 1);
        c.mark_clean(10, 1);
        assert_eq!(c.stats().dirty_bytes, 0);
    }

    #[test]
    fn accounting_balances() {
        let mut c = PageCache::new(1 << 20);
        c.insert(5, CacheEntry::new(node(3), 1, Some(2)));
        c.insert(5, CacheEntry::new(node(4), 1, None));
        assert_eq!(c.stats().dirty_bytes, 0);
        c.remove(5);
        assert_eq!(c.stats().bytes, 0);
    }
}
