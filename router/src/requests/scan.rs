//! The Scan builder: one page with `send()` (which may ask several partitions, see the
//! crate's `scan` module), every page or item as a stream with `pages()` / `items()`, or all
//! items with `all_items()`; `segment(i, n)` makes it one segment of a parallel scan.
//!
//! Invariant: the `LastEvaluatedKey` of a page, passed back as `ExclusiveStartKey` with the
//! same parameters, continues exactly where the page stopped.
//! Does not run segments concurrently; callers run one builder per segment.

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use shoal_wire::Item;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{ReturnConsumedCapacity, ScanRequest, ScanResponse, Select};

use crate::client::Client;
use crate::error::{Error, Result};

/// Scan: every item of a table (or of one segment of it).
#[derive(Debug, Clone)]
pub struct Scan {
    client: Client,
    request: ScanRequest,
}

impl Client {
    /// Starts a Scan of `table`.
    pub fn scan(&self, table: impl Into<String>) -> Scan {
        Scan {
            client: self.clone(),
            request: ScanRequest {
                table_name: table.into(),
                index_name: None,
                filter_expression: None,
                projection_expression: None,
                expression_attribute_names: None,
                expression_attribute_values: None,
                select: None,
                limit: None,
                consistent_read: None,
                exclusive_start_key: None,
                segment: None,
                total_segments: None,
                hash_range: None,
                return_consumed_capacity: None,
                scan_filter: None,
                conditional_operator: None,
                attributes_to_get: None,
                map_epoch: Epoch(0),
            },
        }
    }
}

impl Scan {
    option_setters! {
        /// `FilterExpression`, applied after reading.
        filter_expression: String,
        /// `ProjectionExpression`.
        projection_expression: String,
        /// `IndexName`.
        index_name: String,
        /// `Select`.
        select: Select,
        /// `ConsistentRead`.
        consistent_read: bool,
        /// `ExclusiveStartKey`: resume after this key (a page's `LastEvaluatedKey`).
        exclusive_start_key: Item,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
    }
    name_setters!();
    value_setters!();
    request_access!(ScanRequest);

    /// `Limit`: most items read for one page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.request.limit = Some(limit);
        self
    }

    /// Makes this scan segment `segment` of `total_segments` (parallel scan).
    pub fn segment(mut self, segment: u32, total_segments: u32) -> Self {
        self.request.segment = Some(segment);
        self.request.total_segments = Some(total_segments);
        self
    }

    /// Sends the request: one page.
    pub async fn send(self) -> Result<ScanResponse> {
        self.client.scan_page(self.request).await
    }

    /// Every page, following `LastEvaluatedKey`.
    pub fn pages(self) -> BoxStream<'static, Result<ScanResponse>> {
        stream::try_unfold(Some(self), |state| async move {
            let Some(scan) = state else {
                return Ok::<_, Error>(None);
            };
            let page = scan.client.scan_page(scan.request.clone()).await?;
            let next = page.last_evaluated_key.clone().map(|key| Scan {
                request: ScanRequest {
                    exclusive_start_key: Some(key),
                    ..scan.request
                },
                client: scan.client,
            });
            Ok(Some((page, next)))
        })
        .boxed()
    }

    /// Every item of every page.
    pub fn items(self) -> BoxStream<'static, Result<Item>> {
        self.pages()
            .map_ok(|page| stream::iter(page.items.unwrap_or_default().into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// All items of all pages, collected.
    pub async fn all_items(self) -> Result<Vec<Item>> {
        self.items().try_collect().await
    }
}
