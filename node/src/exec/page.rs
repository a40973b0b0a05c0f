//! One Query or Scan page over a range of storage keys (dynamodb-semantics.md §7.5, §10.3):
//! read items in key order until `Limit` items or 1 MB of item data have been read, apply the
//! filter, then the selection.
//!
//! Invariant: `Limit` and the 1 MB cap count items *read* (before the filter), measured in
//! DynamoDB's item size (§2.3); the item that crosses 1 MB is included, so a page always makes
//! progress. `stopped_early` is true exactly when reading stopped because of `Limit` or the cap
//! rather than the end of the range (DynamoDB then returns `LastEvaluatedKey`, even if nothing
//! is left). The range is read in bounded chunks ([`PAGE_CHUNK_ITEMS_MAX`],
//! [`PAGE_CHUNK_BYTES_MAX`]), never all at once.
//! Does not validate requests or build responses: `query` and `scan` do.

use std::ops::Bound;

use shoal_wire::Error;
use shoal_wire::expr::Condition;
use shoal_wire::limits::QUERY_PAGE_SIZE_MAX;
use shoal_wire::schema::KeySchema;
use shoal_wire::validate::key_of;
use shoal_wire::value::{Item, item_size};

use super::item_codec;
use super::reader::{ItemReader, entries_size};
use super::select::Selection;

/// Most entries asked of the reader at once.
pub const PAGE_CHUNK_ITEMS_MAX: usize = 256;
/// Most bytes (keys and stored values) asked of the reader at once.
pub const PAGE_CHUNK_BYTES_MAX: usize = 256 * 1024;

/// What to read.
#[derive(Debug)]
pub(crate) struct PageSpec<'a> {
    /// Lower bound of the storage keys.
    pub lo: Bound<Vec<u8>>,
    /// Upper bound of the storage keys.
    pub hi: Bound<Vec<u8>>,
    /// Descending key order.
    pub reverse: bool,
    /// Most items to read.
    pub limit: Option<u32>,
    /// Applied to each item read.
    pub filter: Option<&'a Condition>,
    /// What to return of each item that passes the filter.
    pub selection: &'a Selection,
    /// The table's key, for `LastEvaluatedKey`.
    pub schema: &'a KeySchema,
}

/// What a page read.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// Items that passed the filter, selected (empty with COUNT).
    pub items: Vec<Item>,
    /// Items that passed the filter.
    pub count: u32,
    /// Items read.
    pub scanned_count: u32,
    /// Key attributes of the last item read.
    pub last_key: Option<Item>,
    /// Reading stopped because of `Limit` or the 1 MB cap.
    pub stopped_early: bool,
    /// DynamoDB size of all items read.
    pub size_read: u64,
}

/// Reads one page.
pub(crate) async fn read_page(
    reader: &impl ItemReader,
    spec: &PageSpec<'_>,
) -> Result<Page, Error> {
    let limit = spec.limit.map_or(usize::MAX, |limit| limit as usize);
    let mut page = Page::default();
    let (mut lo, mut hi) = (spec.lo.clone(), spec.hi.clone());
    // Ends: each pass either returns or moves the bound past at least one entry.
    loop {
        let want = (limit - page.scanned_count as usize).min(PAGE_CHUNK_ITEMS_MAX);
        let chunk = reader
            .scan(
                borrow(&lo),
                borrow(&hi),
                spec.reverse,
                want,
                PAGE_CHUNK_BYTES_MAX,
            )
            .await?;
        let range_ended = chunk.len() < want && entries_size(&chunk) < PAGE_CHUNK_BYTES_MAX;
        let mut last = None;
        for (key, value) in chunk {
            page.take(item_codec::decode(&value)?, spec);
            last = Some(key);
            let full = page.size_read >= u64::from(QUERY_PAGE_SIZE_MAX);
            if page.scanned_count as usize >= limit || full {
                page.stopped_early = true;
                return Ok(page);
            }
        }
        let Some(last) = last else {
            return Ok(page);
        };
        if range_ended {
            return Ok(page);
        }
        if spec.reverse {
            hi = Bound::Excluded(last);
        } else {
            lo = Bound::Excluded(last);
        }
    }
}

impl Page {
    fn take(&mut self, item: Item, spec: &PageSpec<'_>) {
        self.scanned_count += 1;
        self.size_read += item_size(&item);
        self.last_key = Some(key_of(&item, spec.schema));
        if spec.filter.is_some_and(|filter| !filter.evaluate(&item)) {
            return;
        }
        self.count += 1;
        if let Some(selected) = spec.selection.apply(item) {
            self.items.push(selected);
        }
    }
}

fn borrow(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_slice()),
        Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
