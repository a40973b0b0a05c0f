//! `ItemReader`: how request execution reads a shard's items, and its implementation for the
//! storage engine.
//!
//! Invariant: a reader returns raw stored bytes (keys are storage keys from `wire::key`, values
//! are `item_codec` bytes) and reports storage failures as `InternalServerError`-kind errors
//! naming the cause; it never panics on a failed read.
//! Does not decode items, route keys or cache anything.

use std::ops::Bound;

use shoal_wire::Error;

use crate::storage::io::Disk;
use crate::storage::{Engine, StorageError};

/// Read access to the items of a shard.
///
/// `scan` contract (the page logic relies on it): entries come in key order (reversed when
/// `reverse`), at most `limit` of them, and the scan stops once the keys and values returned
/// add up to at least `max_bytes` (the entry that crosses it is included; at least one entry is
/// returned when any exists). So a result with fewer than `limit` entries whose keys and values
/// total less than `max_bytes` means the range holds nothing more.
#[allow(async_fn_in_trait)]
pub trait ItemReader {
    /// The value stored under `key`, if any.
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;

    /// Entries in `lo..hi` (see the trait documentation for the stopping rule).
    async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error>;
}

impl<D: Disk> ItemReader for Engine<D> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Engine::get(self, key).await.map_err(storage_error)
    }

    async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        Engine::scan(self, lo, hi, reverse, limit, max_bytes)
            .await
            .map_err(storage_error)
    }
}

impl<R: ItemReader> ItemReader for &R {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        (**self).get(key).await
    }

    async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        (**self).scan(lo, hi, reverse, limit, max_bytes).await
    }
}

/// A storage failure as the client sees it: an `InternalServerError` naming the cause.
pub fn storage_error(error: StorageError) -> Error {
    Error::internal(format!("storage read failed: {error}"))
}

/// Total bytes of keys and values, as `ItemReader::scan` counts them.
pub(crate) fn entries_size(entries: &[(Vec<u8>, Vec<u8>)]) -> usize {
    entries.iter().map(|(k, v)| k.len() + v.len()).sum()
}
