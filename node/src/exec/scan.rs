//! Scan (dynamodb-semantics.md §7.6, §10.3): validation, and one page over one hash range of
//! the table at the shard that owns it.
//!
//! Invariant: a Scan page covers storage keys whose partition hash lies in the range the server
//! passes (its partition intersected with the requested segment, see
//! `shoal_wire::key::scan_segment_hash_range`) and starts strictly after `ExclusiveStartKey`;
//! `ExclusiveStartKey` must be a full table key in the requested segment. Pages follow the same
//! Limit / 1 MB / filter / count rules as Query. The node never forwards: when the range is
//! exhausted the page says so, and the client or router moves to the next partition.
//! Does not choose partitions or merge pages from several of them.

use std::ops::Bound;

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{self, Condition, RequestExpressions, SCAN_EXPRESSIONS, parse_request};
use shoal_wire::key::{hash_range, scan_segment_hash_range, scan_segment_of_hash};
use shoal_wire::limits::SCAN_TOTAL_SEGMENTS_MAX;
use shoal_wire::message::{ScanRequest, ScanResponse};
use shoal_wire::schema::{KeySchema, TableDescription};
use shoal_wire::validate::validate_key;
use shoal_wire::value::Item;

use super::capacity::{Consistency, MilliUnits, consumed_capacity, page_read_units};
use super::page::{PageSpec, read_page};
use super::params::{
    check_conditional_operator, check_legacy_values, check_limit, filter_values, reject_mixed,
};
use super::read::projection_of;
use super::reader::ItemReader;
use super::select::{Reader, Selection, check_select, selection};
use super::table::TableContext;

/// A validated Scan.
#[derive(Clone, Debug)]
pub struct PreparedScan<'r> {
    /// The requested segment's hash range (all hashes without parallel scan).
    pub segment_hashes: (u64, u64),
    /// Where `ExclusiveStartKey` lives (the page resumes in the partition holding this hash).
    pub start: Option<(Vec<u8>, u64)>,
    /// FilterExpression or ScanFilter.
    pub filter: Option<Condition>,
    /// What each item returns.
    pub selection: Selection,
    /// How the read is charged.
    pub consistency: Consistency,
    schema: KeySchema,
    table_id: TableId,
    request: &'r ScanRequest,
    table_name: String,
}

/// One Scan page over one hash range.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanPage {
    /// The page as the client sees it (`LastEvaluatedKey` only when Limit or the 1 MB cap
    /// stopped the read).
    pub response: ScanResponse,
    /// Nothing more in the range after this page: continue in the next partition.
    pub exhausted: bool,
    /// Key of the last item read, even when the range is exhausted (a router that stops
    /// between partitions returns it as `LastEvaluatedKey`).
    pub last_key: Option<Item>,
    /// Read units consumed.
    pub capacity: MilliUnits,
}

/// Validates a Scan against its table.
pub fn prepare_scan<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r ScanRequest,
) -> Result<PreparedScan<'r>, Error> {
    let context = TableContext::new(table, table_id)?;
    context.check_usable()?;
    check_parameters(request)?;
    let parsed = parse_request(&RequestExpressions {
        accepted: SCAN_EXPRESSIONS,
        filter: request.filter_expression.as_deref(),
        projection: request.projection_expression.as_deref(),
        names: request.expression_attribute_names.as_ref(),
        values: request.expression_attribute_values.as_ref(),
        ..RequestExpressions::default()
    })?;
    let filter = match (parsed.filter, &request.scan_filter) {
        (Some(filter), _) => Some(filter),
        (None, Some(legacy)) => {
            check_legacy_values(filter_values(legacy))?;
            expr::filter_conditions(legacy, request.conditional_operator)?
        }
        (None, None) => None,
    };
    let projection = projection_of(parsed.projection, request.attributes_to_get.as_deref())?;
    context.check_index(request.index_name.as_deref())?;
    let segment_hashes = match (request.segment, request.total_segments) {
        (Some(segment), Some(total)) => scan_segment_hash_range(segment, total)
            .ok_or_else(|| Error::internal("segment checked above"))?,
        _ => (0, u64::MAX),
    };
    let start = match &request.exclusive_start_key {
        Some(start) => Some(check_start(&context, request, start)?),
        None => None,
    };
    Ok(PreparedScan {
        segment_hashes,
        start,
        filter,
        selection: selection(request.select, projection),
        consistency: Consistency::from_request(request.consistent_read),
        schema: context.schema.clone(),
        table_id,
        request,
        table_name: context.name().to_owned(),
    })
}

/// Validates a Scan and reads one page of the hashes `hash_start..=hash_end` (the server's
/// partition intersected with the requested segment).
pub async fn scan_range(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &ScanRequest,
    hash_start: u64,
    hash_end: u64,
) -> Result<ScanPage, Error> {
    let prepared = prepare_scan(table, table_id, request)?;
    prepared.execute(reader, hash_start, hash_end).await
}

impl PreparedScan<'_> {
    /// Reads one page of `hash_start..=hash_end` (clipped to the requested segment).
    pub async fn execute(
        &self,
        reader: &impl ItemReader,
        hash_start: u64,
        hash_end: u64,
    ) -> Result<ScanPage, Error> {
        let first = hash_start.max(self.segment_hashes.0);
        let last = hash_end.min(self.segment_hashes.1);
        if first > last {
            return Ok(self.page(Default::default(), MilliUnits::default()));
        }
        let range = hash_range(self.table_id, first, last);
        let lo = match (&self.start, range.start) {
            (Some((key, _)), Bound::Included(start)) if *key >= start => {
                Bound::Excluded(key.clone())
            }
            (_, start) => start,
        };
        let spec = PageSpec {
            lo,
            hi: range.end,
            reverse: false,
            limit: self.request.limit,
            filter: self.filter.as_ref(),
            selection: &self.selection,
            schema: &self.schema,
        };
        let page = read_page(reader, &spec).await?;
        let capacity = page_read_units(page.size_read, self.consistency);
        Ok(self.page(page, capacity))
    }

    fn page(&self, page: super::page::Page, capacity: MilliUnits) -> ScanPage {
        let response = ScanResponse {
            items: (self.selection != Selection::Count).then_some(page.items),
            count: page.count,
            scanned_count: page.scanned_count,
            last_evaluated_key: if page.stopped_early {
                page.last_key.clone()
            } else {
                None
            },
            consumed_capacity: consumed_capacity(
                &self.table_name,
                capacity,
                self.request.return_consumed_capacity,
            ),
        };
        ScanPage {
            response,
            exhausted: !page.stopped_early,
            last_key: page.last_key,
            capacity,
        }
    }
}

/// The checks that need no parsing, in DynamoDB's order.
fn check_parameters(request: &ScanRequest) -> Result<(), Error> {
    reject_mixed(
        &[
            ("AttributesToGet", request.attributes_to_get.is_some()),
            ("ScanFilter", request.scan_filter.is_some()),
            (
                "ConditionalOperator",
                request.conditional_operator.is_some(),
            ),
        ],
        &[
            (
                "ProjectionExpression",
                request.projection_expression.is_some(),
            ),
            ("FilterExpression", request.filter_expression.is_some()),
        ],
    )?;
    check_conditional_operator(
        request.conditional_operator,
        request.scan_filter.as_ref().map(|f| f.len()),
    )?;
    check_limit(request.limit)?;
    check_segments(request.segment, request.total_segments)?;
    let projection_parameter = if request.projection_expression.is_some() {
        Some("ProjectionExpression")
    } else if request.attributes_to_get.is_some() {
        Some("AttributesToGet")
    } else {
        None
    };
    check_select(
        request.select,
        projection_parameter,
        request.index_name.is_some(),
        Reader::Scan,
    )
}

/// `Segment` and `TotalSegments`: both or neither, 1 ≤ TotalSegments ≤ 1,000,000,
/// Segment < TotalSegments.
fn check_segments(segment: Option<u32>, total: Option<u32>) -> Result<(), Error> {
    if let Some(total) = total {
        let bound = if total == 0 {
            Some("greater than or equal to 1".to_owned())
        } else if total > SCAN_TOTAL_SEGMENTS_MAX {
            Some(format!("less than or equal to {SCAN_TOTAL_SEGMENTS_MAX}"))
        } else {
            None
        };
        if let Some(bound) = bound {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{total}' at 'totalSegments' failed to \
                 satisfy constraint: Member must have value {bound}"
            )));
        }
    }
    match (segment, total) {
        (Some(_), None) => Err(Error::validation(
            "The TotalSegments parameter is required but was not present in the request when \
             Segment parameter is present",
        )),
        (None, Some(_)) => Err(Error::validation(
            "The Segment parameter is required but was not present in the request when \
             parameter TotalSegments is present",
        )),
        (Some(segment), Some(total)) if segment >= total => Err(Error::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter \
             TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        ))),
        _ => Ok(()),
    }
}

/// Checks `ExclusiveStartKey` (a full table key in the requested segment); returns its storage
/// key and hash.
fn check_start(
    context: &TableContext<'_>,
    request: &ScanRequest,
    start: &Item,
) -> Result<(Vec<u8>, u64), Error> {
    validate_key(start, &context.schema).map_err(|error| {
        Error::validation(format!(
            "The provided starting key is invalid: {}",
            error.message
        ))
    })?;
    let key = context.item_key(start)?;
    if let (Some(segment), Some(total)) = (request.segment, request.total_segments)
        && scan_segment_of_hash(key.hash, total) != Some(segment)
    {
        return Err(Error::validation(
            "The provided Exclusive start key does not map to the provided Segment and \
             TotalSegments values.",
        ));
    }
    Ok((key.storage_key, key.hash))
}
