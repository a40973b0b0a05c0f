//! Scan pages over a table that is split into partitions, each scanned only by the shard
//! that leads it: one DynamoDB-style page may take several requests, partition by
//! partition in hash order (`ScanRequest.hash_range`), and a parallel-scan segment is the
//! intersection of its hash range (`wire::key::scan_segment_hash_range`) with the
//! partitions.
//!
//! How a page is built: start at the `ExclusiveStartKey`'s hash (else at the range's start),
//! ask the partition holding it. A shard answer with a `LastEvaluatedKey` ends the page with
//! that key (the caller resumes there). An answer without one means the partition is done:
//! if the range ends there the page is the last; otherwise the next partition is asked,
//! with the rest of the caller's `Limit`, or, when there was no limit and the page already
//! holds items, with `Limit = 1`, so the page ends with a key inside the next non-empty
//! partition and stays near the 1 MB a shard reads per answer.
//! Invariant: every key of the range is read by exactly one page of a complete run, because
//! each continuation starts strictly after the last key read (a `LastEvaluatedKey`) or at
//! the first hash after a finished partition, taken from the route the answer came with.
//! Does not filter or project anything itself; shards do.

use shoal_wire::key::{partition_hash, scan_segment_hash_range};
use shoal_wire::message::{ConsumedCapacity, HashRange, ScanRequest, ScanResponse};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::partition_map::TableRoute;
use crate::routing::Pick;

/// The whole hash space.
const HASH_RANGE_ALL: (u64, u64) = (0, u64::MAX);

impl Client {
    /// One page of a Scan (see the module doc).
    pub(crate) async fn scan_page(&self, request: ScanRequest) -> Result<ScanResponse> {
        let (range_start, range_end) = match (request.segment, request.total_segments) {
            (None, None) => HASH_RANGE_ALL,
            (Some(segment), Some(total)) => match scan_segment_hash_range(segment, total) {
                Some(range) => range,
                None => return self.scan_unroutable(request).await,
            },
            _ => return self.scan_unroutable(request).await,
        };
        let route = self.table_route(&request.table_name).await?;
        let mut start = match &request.exclusive_start_key {
            None => range_start,
            Some(key) => match key
                .get(&route.schema.partition.name)
                .and_then(|value| partition_hash(value).ok())
            {
                Some(hash) => hash,
                None => return self.scan_unroutable(request).await,
            },
        };
        let mut page = empty_page(&request);
        let mut start_key = request.exclusive_start_key.clone();
        loop {
            let limit = part_limit(request.limit, &page);
            let (answer, part_end) = self
                .scan_part(
                    &request,
                    start,
                    start_key.take(),
                    limit,
                    (range_start, range_end),
                )
                .await?;
            merge(&mut page, answer);
            if page.last_evaluated_key.is_some() || part_end >= range_end {
                return Ok(page);
            }
            start = part_end + 1;
        }
    }

    /// Scans within the partition holding `start`; returns the answer and the last hash of
    /// that partition within the range, as the route of the answering attempt had it.
    async fn scan_part(
        &self,
        request: &ScanRequest,
        start: u64,
        start_key: Option<shoal_wire::Item>,
        limit: Option<u32>,
        (range_start, range_end): (u64, u64),
    ) -> Result<(ScanResponse, u64)> {
        let mut attempt = request.clone();
        attempt.exclusive_start_key = start_key;
        attempt.limit = limit;
        let plan = |route: &TableRoute, attempt: &mut ScanRequest| {
            attempt.map_epoch = route.epoch;
            attempt.hash_range = route.lookup(start).map(|entry| HashRange {
                start: entry.hash_start.max(range_start),
                end: entry.hash_end.min(range_end),
            });
            Some(start)
        };
        let unroutable = |_: &ScanRequest, _: &TableRoute| Error::validation("unroutable scan");
        let (answer, route) = self
            .send_routed(&request.table_name, Pick::Leader, attempt, plan, unroutable)
            .await?;
        let part_end = route
            .lookup(start)
            .map_or(range_end, |entry| entry.hash_end.min(range_end));
        Ok((answer, part_end))
    }

    /// A Scan whose parameters cannot be routed (bad segment numbers, a start key without
    /// the partition key): sent as is to any one shard, which reports DynamoDB's error.
    async fn scan_unroutable(&self, request: ScanRequest) -> Result<ScanResponse> {
        let table_name = request.table_name.clone();
        let plan = |route: &TableRoute, attempt: &mut ScanRequest| {
            attempt.map_epoch = route.epoch;
            None
        };
        let unroutable = |attempt: &ScanRequest, _: &TableRoute| {
            Error::validation(format!(
                "The provided starting key or segment is invalid (Segment {:?}, TotalSegments \
                 {:?})",
                attempt.segment, attempt.total_segments
            ))
        };
        let (answer, _) = self
            .send_routed(&table_name, Pick::Leader, request, plan, unroutable)
            .await?;
        Ok(answer)
    }
}

/// An empty page of the request's shape (items absent with `Select=COUNT`).
fn empty_page(request: &ScanRequest) -> ScanResponse {
    let counting = request.select == Some(shoal_wire::message::Select::Count);
    ScanResponse {
        items: (!counting).then(Vec::new),
        count: 0,
        scanned_count: 0,
        last_evaluated_key: None,
        consumed_capacity: None,
    }
}

/// The `Limit` of the next partition's request: what remains of the caller's limit, else
/// 1 once the page holds something (so it ends inside the next non-empty partition), else
/// none.
pub(crate) fn part_limit(limit: Option<u32>, page: &ScanResponse) -> Option<u32> {
    match limit {
        Some(limit) => Some(limit.saturating_sub(page.scanned_count).max(1)),
        None if page.scanned_count > 0 => Some(1),
        None => None,
    }
}

/// Adds a partition's answer to the page.
fn merge(page: &mut ScanResponse, answer: ScanResponse) {
    if let Some(items) = answer.items {
        page.items.get_or_insert_with(Vec::new).extend(items);
    }
    page.count += answer.count;
    page.scanned_count += answer.scanned_count;
    page.last_evaluated_key = answer.last_evaluated_key;
    add_capacity(&mut page.consumed_capacity, answer.consumed_capacity);
}

/// Sums consumed capacity of one table over several answers.
pub(crate) fn add_capacity(total: &mut Option<ConsumedCapacity>, more: Option<ConsumedCapacity>) {
    let Some(more) = more else { return };
    let Some(sum) = total else {
        *total = Some(more);
        return;
    };
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    sum.capacity_units_milli += more.capacity_units_milli;
    sum.read_capacity_units_milli = add(
        sum.read_capacity_units_milli,
        more.read_capacity_units_milli,
    );
    sum.write_capacity_units_milli = add(
        sum.write_capacity_units_milli,
        more.write_capacity_units_milli,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(scanned: u32, count: u32) -> ScanResponse {
        ScanResponse {
            items: Some(Vec::new()),
            count,
            scanned_count: scanned,
            last_evaluated_key: None,
            consumed_capacity: None,
        }
    }

    #[test]
    fn limits_of_later_partitions() {
        assert_eq!(
            part_limit(None, &page(0, 0)),
            None,
            "nothing read yet: full page"
        );
        assert_eq!(
            part_limit(None, &page(5, 2)),
            Some(1),
            "anchor in the next partition"
        );
        assert_eq!(
            part_limit(None, &page(5, 0)),
            Some(1),
            "filtered out still counts"
        );
        assert_eq!(
            part_limit(Some(10), &page(4, 4)),
            Some(6),
            "rest of the caller's limit"
        );
        assert_eq!(part_limit(Some(3), &page(0, 0)), Some(3));
    }

    #[test]
    fn capacity_adds_up() {
        let capacity = |units, read| ConsumedCapacity {
            table_name: "t".into(),
            capacity_units_milli: units,
            read_capacity_units_milli: read,
            write_capacity_units_milli: None,
            table: None,
            local_secondary_indexes: Default::default(),
            global_secondary_indexes: Default::default(),
        };
        let mut total = None;
        add_capacity(&mut total, Some(capacity(500, Some(500))));
        add_capacity(&mut total, None);
        add_capacity(&mut total, Some(capacity(1500, None)));
        let total = total.unwrap();
        assert_eq!(total.capacity_units_milli, 2000);
        assert_eq!(total.read_capacity_units_milli, Some(500));
        assert_eq!(total.write_capacity_units_milli, None);
    }
}
