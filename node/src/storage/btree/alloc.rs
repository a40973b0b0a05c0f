//! Page allocation for the copy-on-write tree, with the two-checkpoint reuse rule.
//!
//! Free space is a set of runs (start, length) plus the high-water mark beyond which the
//! file is unused. A page freed during epoch `e` (the mutations between checkpoint `e-1`
//! starting and checkpoint `e` starting) may still be reachable from the durable root of
//! checkpoint `e-1`, so it becomes reusable only once checkpoint `e` is durable, and only
//! when no reader that started in an epoch `<= e` is still running ("pins"). Pages that were
//! allocated and freed within the current epoch were never written by any checkpoint and
//! are reusable at once.
//!
//! Allocation is first fit from the lowest address, which keeps the file compact; an
//! overwrite-heavy workload therefore reuses pages and the file stops growing.

use std::collections::BTreeMap;

/// Reserved pages at the start of the file: the two superblock slots.
pub const RESERVED_PAGES: u32 = 2;

/// The page allocator of one tree file.
#[derive(Debug, Default, Clone)]
pub struct Allocator {
    runs: BTreeMap<u32, u32>,
    high_water: u32,
    pending: BTreeMap<u64, Vec<(u32, u32)>>,
    free_pages: u64,
}

impl Allocator {
    /// An allocator for an empty file.
    pub fn new() -> Self {
        Self {
            high_water: RESERVED_PAGES,
            ..Self::default()
        }
    }

    /// Restores the allocator from a checkpoint's free runs and high-water mark.
    pub fn restore(free: &[(u32, u32)], high_water: u32) -> Result<Self, String> {
        let mut a = Self {
            high_water: high_water.max(RESERVED_PAGES),
            ..Self::default()
        };
        let mut prev_end = RESERVED_PAGES;
        for &(start, len) in free {
            if len == 0
                || start < prev_end
                || start.checked_add(len).is_none_or(|e| e > a.high_water)
            {
                return Err(format!(
                    "free run {start}+{len} overlaps, is empty, or lies beyond high water {}",
                    a.high_water
                ));
            }
            prev_end = start + len;
            a.insert_run(start, len);
        }
        Ok(a)
    }

    /// Allocates `pages` consecutive pages.
    pub fn alloc(&mut self, pages: u32) -> u32 {
        assert!(pages > 0, "zero-page allocation");
        let found = self
            .runs
            .iter()
            .find(|(_, len)| **len >= pages)
            .map(|(s, l)| (*s, *l));
        if let Some((start, len)) = found {
            self.runs.remove(&start);
            if len > pages {
                self.runs.insert(start + pages, len - pages);
            }
            self.free_pages -= pages as u64;
            return start;
        }
        // Extend the file, absorbing a free run that touches the high-water mark.
        let tail = self.runs.iter().next_back().map(|(s, l)| (*s, *l));
        if let Some((start, len)) = tail.filter(|(s, l)| s + l == self.high_water) {
            self.runs.remove(&start);
            self.free_pages -= len as u64;
            self.high_water = start + pages;
            return start;
        }
        let start = self.high_water;
        self.high_water = start
            .checked_add(pages)
            .expect("tree file exceeds 2^32 pages");
        start
    }

    /// Frees pages that no checkpoint ever wrote: reusable now.
    pub fn free_now(&mut self, start: u32, pages: u32) {
        debug_assert!(start >= RESERVED_PAGES && start + pages <= self.high_water);
        self.insert_run(start, pages);
    }

    /// Frees pages during `epoch`: reusable once checkpoint `epoch` is durable.
    pub fn free_later(&mut self, epoch: u64, start: u32, pages: u32) {
        self.pending.entry(epoch).or_default().push((start, pages));
    }

    /// Makes pages freed in epochs `<= upto` reusable.
    pub fn release(&mut self, upto: u64) {
        if self
            .pending
            .first_key_value()
            .is_none_or(|(&e, _)| e > upto)
        {
            return;
        }
        let later = self.pending.split_off(&(upto + 1));
        let ready = std::mem::replace(&mut self.pending, later);
        for (_, runs) in ready {
            for (start, pages) in runs {
                self.insert_run(start, pages);
            }
        }
    }

    /// Pages freed during epochs `<= epoch` and not yet reusable (they wait for a checkpoint
    /// or for readers); all of them are free in checkpoint `epoch`.
    pub fn pending_upto(&self, epoch: u64) -> Vec<(u32, u32)> {
        self.pending
            .range(..=epoch)
            .flat_map(|(_, runs)| runs.iter().copied())
            .collect()
    }

    /// The free runs now, merged with `extra` runs (for a checkpoint's free list).
    pub fn runs_with(&self, extra: &[(u32, u32)]) -> Vec<(u32, u32)> {
        let mut copy = Allocator {
            runs: self.runs.clone(),
            high_water: self.high_water,
            pending: BTreeMap::new(),
            free_pages: self.free_pages,
        };
        for &(s, l) in extra {
            copy.insert_run(s, l);
        }
        copy.runs.into_iter().collect()
    }

    /// Pages from the start of the file that are allocated or free (the file's extent).
    pub fn high_water(&self) -> u32 {
        self.high_water
    }

    /// Pages immediately reusable.
    pub fn free_pages(&self) -> u64 {
        self.free_pages
    }

    /// Number of free runs.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    fn insert_run(&mut self, start: u32, pages: u32) {
        let mut start = start;
        let mut len = pages;
        if let Some((&ps, &pl)) = self.runs.range(..start).next_back() {
            assert!(
                ps + pl <= start,
                "double free: run {ps}+{pl} overlaps {start}+{pages}"
            );
            if ps + pl == start {
                self.runs.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some((&ns, &nl)) = self.runs.range(start..).next() {
            assert!(
                start + len <= ns,
                "double free: {start}+{len} overlaps run {ns}+{nl}"
            );
            if start + len == ns {
                self.runs.remove(&ns);
                len += nl;
            }
        }
        self.runs.insert(start, len);
        self.free_pages += pages as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_reuse_and_merge() {
        let mut a = Allocator::new();
        let p1 = a.alloc(1);
        let p2 = a.alloc(2);
        let p3 = a.alloc(1);
        assert_eq!((p1, p2, p3), (2, 3, 5));
        a.free_now(p1, 1);
        a.free_now(p2, 2);
        assert_eq!(a.runs_with(&[]), vec![(2, 3)]);
        assert_eq!(a.alloc(2), 2);
        assert_eq!(a.alloc(1), 4);
        assert_eq!(a.alloc(1), 6);
    }

    #[test]
    fn pages_freed_in_an_epoch_wait_for_its_checkpoint() {
        let mut a = Allocator::new();
        let p = a.alloc(1);
        a.free_later(5, p, 1);
        assert_eq!(a.pending_upto(5), vec![(p, 1)]);
        assert!(a.pending_upto(4).is_empty());
        assert_ne!(a.alloc(1), p);
        a.release(4);
        assert_eq!(a.free_pages(), 0);
        a.release(5);
        assert_eq!(a.alloc(1), p);
    }

    #[test]
    fn extension_absorbs_free_tail() {
        let mut a = Allocator::new();
        let _ = a.alloc(1);
        let t = a.alloc(1);
        a.free_now(t, 1);
        assert_eq!(a.alloc(3), t);
        assert_eq!(a.high_water(), t + 3);
    }

    #[test]
    fn restore_rejects_overlaps() {
        assert!(Allocator::restore(&[(2, 3), (4, 1)], 10).is_err());
        assert!(Allocator::restore(&[(8, 5)], 10).is_err());
        let a = Allocator::restore(&[(2, 3), (6, 1)], 10).expect("valid");
        assert_eq!(a.free_pages(), 4);
    }
}
