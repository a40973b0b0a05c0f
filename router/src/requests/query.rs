//! The Query builder: one page with `send()`, every page or every item as a stream with
//! `pages()` / `items()` (following `LastEvaluatedKey`), or all items with `all_items()`.
//!
//! Invariant: each page request is the built request with the previous page's
//! `LastEvaluatedKey` as `ExclusiveStartKey`; the stream ends after the first page without
//! one, or at the first error.
//! Does not merge pages: counts are per page, as DynamoDB's are.

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use shoal_wire::Item;
use shoal_wire::cluster::Epoch;
use shoal_wire::message::{QueryRequest, QueryResponse, ReturnConsumedCapacity, Select};

use crate::client::Client;
use crate::error::{Error, Result};

/// Query: items of one partition key, in sort-key order.
#[derive(Debug, Clone)]
pub struct Query {
    client: Client,
    request: QueryRequest,
}

impl Client {
    /// Starts a Query on `table`.
    pub fn query(&self, table: impl Into<String>) -> Query {
        Query {
            client: self.clone(),
            request: QueryRequest {
                table_name: table.into(),
                index_name: None,
                key_condition_expression: None,
                filter_expression: None,
                projection_expression: None,
                expression_attribute_names: None,
                expression_attribute_values: None,
                select: None,
                limit: None,
                consistent_read: None,
                scan_index_forward: None,
                exclusive_start_key: None,
                return_consumed_capacity: None,
                key_conditions: None,
                query_filter: None,
                conditional_operator: None,
                attributes_to_get: None,
                map_epoch: Epoch(0),
            },
        }
    }
}

impl Query {
    option_setters! {
        /// `KeyConditionExpression`: partition key equality and an optional sort-key condition.
        key_condition_expression: String,
        /// `FilterExpression`, applied after reading.
        filter_expression: String,
        /// `ProjectionExpression`.
        projection_expression: String,
        /// `IndexName` (local secondary indexes).
        index_name: String,
        /// `Select`.
        select: Select,
        /// `ConsistentRead`.
        consistent_read: bool,
        /// `ScanIndexForward` (false: descending sort-key order).
        scan_index_forward: bool,
        /// `ExclusiveStartKey`: resume after this key.
        exclusive_start_key: Item,
        /// `ReturnConsumedCapacity`.
        return_consumed_capacity: ReturnConsumedCapacity,
    }
    name_setters!();
    value_setters!();
    request_access!(QueryRequest);

    /// `Limit`: most items read for one page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.request.limit = Some(limit);
        self
    }

    /// Sends the request: one page.
    pub async fn send(self) -> Result<QueryResponse> {
        self.client.send_keyed(self.request).await
    }

    /// Every page, following `LastEvaluatedKey`.
    pub fn pages(self) -> BoxStream<'static, Result<QueryResponse>> {
        stream::try_unfold(Some(self), |state| async move {
            let Some(query) = state else {
                return Ok::<_, Error>(None);
            };
            let page = query.client.send_keyed(query.request.clone()).await?;
            let next = page.last_evaluated_key.clone().map(|key| Query {
                request: QueryRequest {
                    exclusive_start_key: Some(key),
                    ..query.request
                },
                client: query.client,
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
