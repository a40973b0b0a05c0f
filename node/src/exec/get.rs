//! GetItem (dynamodb-semantics.md §7.2): validation, and the read at the shard.
//!
//! Invariant: the key is validated like any key (type, exact attributes, sizes) even though a
//! bad key could never match; a found item is returned projected (possibly as `{}`), a missing
//! one as no `Item`; the charge is the whole item's size rounded up to 4 KB (1 or 0.5 unit
//! when missing).
//! Does not route (the server compares `PreparedGet::key.hash` with its partitions) and does
//! not decide consistency: the server serves `ConsistentRead` from the leader.

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{GET_ITEM_EXPRESSIONS, Projection, RequestExpressions, parse_request};
use shoal_wire::message::{GetItemRequest, GetItemResponse};
use shoal_wire::schema::TableDescription;
use shoal_wire::value::item_size;

use super::capacity::{Consistency, consumed_capacity, get_item_units};
use super::read::{ReadOutcome, projection_of, reject_mixed_projection};
use super::reader::ItemReader;
use super::table::{ItemKey, TableContext};
use super::write::read_item;

/// A validated GetItem.
#[derive(Clone, Debug)]
pub struct PreparedGet<'r> {
    /// Where the item lives (route on `key.hash`).
    pub key: ItemKey,
    /// ProjectionExpression or AttributesToGet, if any.
    pub projection: Option<Projection>,
    /// How the read is charged.
    pub consistency: Consistency,
    request: &'r GetItemRequest,
    table_name: String,
}

/// Validates a GetItem against its table.
pub fn prepare_get<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r GetItemRequest,
) -> Result<PreparedGet<'r>, Error> {
    let context = TableContext::new(table, table_id)?;
    context.check_usable()?;
    reject_mixed_projection(
        request.attributes_to_get.is_some(),
        request.projection_expression.is_some(),
    )?;
    let parsed = parse_request(&RequestExpressions {
        accepted: GET_ITEM_EXPRESSIONS,
        projection: request.projection_expression.as_deref(),
        names: request.expression_attribute_names.as_ref(),
        ..RequestExpressions::default()
    })?;
    let projection = projection_of(parsed.projection, request.attributes_to_get.as_deref())?;
    Ok(PreparedGet {
        key: context.validated_key(&request.key)?,
        projection,
        consistency: Consistency::from_request(request.consistent_read),
        request,
        table_name: context.name().to_owned(),
    })
}

/// Validates and executes a GetItem at the shard.
pub async fn get_item(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &GetItemRequest,
) -> Result<GetItemResponse, Error> {
    let prepared = prepare_get(table, table_id, request)?;
    Ok(prepared.execute(reader).await?.response)
}

impl PreparedGet<'_> {
    /// Reads the item.
    pub async fn execute(
        &self,
        reader: &impl ItemReader,
    ) -> Result<ReadOutcome<GetItemResponse>, Error> {
        let found = read_item(reader, &self.key).await?;
        let capacity = get_item_units(found.as_ref().map(item_size), self.consistency);
        let item = match (&self.projection, found) {
            (Some(projection), Some(item)) => Some(projection.apply(&item)),
            (None, found) => found,
            (Some(_), None) => None,
        };
        let consumed = consumed_capacity(
            &self.table_name,
            capacity,
            self.request.return_consumed_capacity,
        );
        Ok(ReadOutcome {
            response: GetItemResponse {
                item,
                consumed_capacity: consumed,
            },
            capacity,
        })
    }
}
