//! Query (dynamodb-semantics.md §7.5, §8.5, §10.3): validation, and one page read from the
//! queried partition key's range at the shard that owns it.
//!
//! Invariant: the key condition becomes exactly one storage-key range inside one partition
//! key; `ExclusiveStartKey` must be a full table key inside that range, and reading starts
//! strictly after it (before it when reversed). `LastEvaluatedKey` is the table key of the last
//! item read and is present exactly when reading stopped because of `Limit` or the 1 MB cap
//! (a table without a sort key has at most one item per partition key, so reading it ends the
//! range). The charge is the page's total item size rounded up once to 4 KB.
//! Does not route (the server compares `PreparedQuery::hash` with its partitions) and does not
//! query secondary indexes (a real index is refused as not supported yet).

use std::ops::Bound;

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::expr::{
    self, Condition, KeyCondition, KeyConditionExpr, QUERY_EXPRESSIONS, RequestExpressions,
    SortKeyCondition, parse_request,
};
use shoal_wire::key::{KeyRange, SortCondition, partition_hash, partition_range, sort_range};
use shoal_wire::message::{QueryRequest, QueryResponse};
use shoal_wire::schema::{KeySchema, TableDescription};
use shoal_wire::validate::validate_key;
use shoal_wire::value::Item;

use super::capacity::{Consistency, consumed_capacity, page_read_units};
use super::page::{PageSpec, read_page};
use super::params::{
    check_conditional_operator, check_legacy_values, check_limit, condition_attributes,
    filter_values, reject_mixed,
};
use super::read::{ReadOutcome, projection_of};
use super::reader::ItemReader;
use super::select::{Reader, Selection, check_select, selection};
use super::table::TableContext;

/// A validated Query.
#[derive(Clone, Debug)]
pub struct PreparedQuery<'r> {
    /// Partition hash of the queried partition key (route on it).
    pub hash: u64,
    /// The storage-key range to read, `ExclusiveStartKey` applied.
    pub lo: Bound<Vec<u8>>,
    /// Upper bound of the range.
    pub hi: Bound<Vec<u8>>,
    /// FilterExpression or QueryFilter.
    pub filter: Option<Condition>,
    /// What each item returns.
    pub selection: Selection,
    /// How the read is charged.
    pub consistency: Consistency,
    schema: KeySchema,
    request: &'r QueryRequest,
    table_name: String,
}

/// Validates a Query against its table.
pub fn prepare_query<'r>(
    table: &TableDescription,
    table_id: TableId,
    request: &'r QueryRequest,
) -> Result<PreparedQuery<'r>, Error> {
    let context = TableContext::new(table, table_id)?;
    context.check_usable()?;
    check_parameters(request)?;
    let parsed = parse_request(&RequestExpressions {
        accepted: QUERY_EXPRESSIONS,
        key_condition: request.key_condition_expression.as_deref(),
        filter: request.filter_expression.as_deref(),
        projection: request.projection_expression.as_deref(),
        names: request.expression_attribute_names.as_ref(),
        values: request.expression_attribute_values.as_ref(),
        ..RequestExpressions::default()
    })?;
    let key_condition = key_condition(parsed.key_condition, request)?;
    let (filter, legacy_filter) = match (parsed.filter, &request.query_filter) {
        (Some(filter), _) => (Some(filter), false),
        (None, Some(legacy)) => {
            check_legacy_values(filter_values(legacy))?;
            (
                expr::filter_conditions(legacy, request.conditional_operator)?,
                true,
            )
        }
        (None, None) => (None, false),
    };
    let projection = projection_of(parsed.projection, request.attributes_to_get.as_deref())?;
    context.check_index(request.index_name.as_deref())?;
    let bound = key_condition.bind(&context.schema)?;
    if let Some(filter) = &filter {
        check_filter_keys(filter, &context, legacy_filter)?;
    }
    let range = key_range(&context, &bound)?;
    let reverse = request.scan_index_forward == Some(false);
    let (lo, hi) = match &request.exclusive_start_key {
        Some(start) => start_after(&context, &bound, start, range, reverse)?,
        None => (range.start, range.end),
    };
    Ok(PreparedQuery {
        hash: partition_hash(&bound.partition).map_err(|e| Error::internal(e.to_string()))?,
        lo,
        hi,
        filter,
        selection: selection(request.select, projection),
        consistency: Consistency::from_request(request.consistent_read),
        schema: context.schema.clone(),
        request,
        table_name: context.name().to_owned(),
    })
}

/// Validates and executes a Query page at the shard.
pub async fn query(
    reader: &impl ItemReader,
    table: &TableDescription,
    table_id: TableId,
    request: &QueryRequest,
) -> Result<QueryResponse, Error> {
    let prepared = prepare_query(table, table_id, request)?;
    Ok(prepared.execute(reader).await?.response)
}

impl PreparedQuery<'_> {
    /// Reads the page.
    pub async fn execute(
        &self,
        reader: &impl ItemReader,
    ) -> Result<ReadOutcome<QueryResponse>, Error> {
        let spec = PageSpec {
            lo: self.lo.clone(),
            hi: self.hi.clone(),
            reverse: self.request.scan_index_forward == Some(false),
            limit: self.request.limit,
            filter: self.filter.as_ref(),
            selection: &self.selection,
            schema: &self.schema,
        };
        let page = read_page(reader, &spec).await?;
        // Without a sort key the range holds at most one item: reading it ends the range.
        let more = page.stopped_early && self.schema.sort.is_some();
        let capacity = page_read_units(page.size_read, self.consistency);
        let response = QueryResponse {
            items: (self.selection != Selection::Count).then_some(page.items),
            count: page.count,
            scanned_count: page.scanned_count,
            last_evaluated_key: if more { page.last_key } else { None },
            consumed_capacity: consumed_capacity(
                &self.table_name,
                capacity,
                self.request.return_consumed_capacity,
            ),
        };
        Ok(ReadOutcome { response, capacity })
    }
}

/// The checks that need no parsing, in DynamoDB's order.
fn check_parameters(request: &QueryRequest) -> Result<(), Error> {
    let key_condition_expression = request.key_condition_expression.is_some();
    reject_mixed(
        &[
            ("AttributesToGet", request.attributes_to_get.is_some()),
            ("QueryFilter", request.query_filter.is_some()),
            (
                "ConditionalOperator",
                request.conditional_operator.is_some(),
            ),
            // KeyConditions mixes only with KeyConditionExpression.
            (
                "KeyConditions",
                request.key_conditions.is_some() && key_condition_expression,
            ),
        ],
        &[
            (
                "ProjectionExpression",
                request.projection_expression.is_some(),
            ),
            ("FilterExpression", request.filter_expression.is_some()),
            ("KeyConditionExpression", key_condition_expression),
        ],
    )?;
    check_conditional_operator(
        request.conditional_operator,
        request.query_filter.as_ref().map(|f| f.len()),
    )?;
    check_limit(request.limit)?;
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
        Reader::Query,
    )
}

/// KeyConditionExpression, or KeyConditions translated; one is required.
fn key_condition(
    parsed: Option<KeyConditionExpr>,
    request: &QueryRequest,
) -> Result<KeyConditionExpr, Error> {
    if let Some(parsed) = parsed {
        return Ok(parsed);
    }
    let Some(legacy) = &request.key_conditions else {
        return Err(Error::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in \
             the request.",
        ));
    };
    check_legacy_values(filter_values(legacy))?;
    expr::key_conditions(legacy)
}

/// A Query filter may not read the table's key attributes.
fn check_filter_keys(
    filter: &Condition,
    context: &TableContext<'_>,
    legacy: bool,
) -> Result<(), Error> {
    let mut names = Vec::new();
    condition_attributes(filter, &mut names);
    let keys = context.key_names();
    let Some(key) = names.iter().find(|name| keys.contains(&name.as_str())) else {
        return Ok(());
    };
    let parameter = if legacy {
        "QueryFilter"
    } else {
        "Filter Expression"
    };
    Err(Error::validation(format!(
        "{parameter} can only contain non-primary key attributes: Primary key attribute: {key}"
    )))
}

/// The storage-key range of a bound key condition.
fn key_range(context: &TableContext<'_>, bound: &KeyCondition) -> Result<KeyRange, Error> {
    let partition = &bound.partition;
    let range = match &bound.sort {
        None => partition_range(context.id, partition),
        Some(sort) => sort_range(context.id, partition, sort_condition(sort)),
    };
    range.map_err(|error| Error::validation(format!("Query key condition not supported: {error}")))
}

fn sort_condition(condition: &SortKeyCondition) -> SortCondition<'_> {
    match condition {
        SortKeyCondition::Eq(v) => SortCondition::Eq(v),
        SortKeyCondition::Lt(v) => SortCondition::Lt(v),
        SortKeyCondition::Le(v) => SortCondition::Le(v),
        SortKeyCondition::Gt(v) => SortCondition::Gt(v),
        SortKeyCondition::Ge(v) => SortCondition::Ge(v),
        SortKeyCondition::Between(low, high) => SortCondition::Between(low, high),
        SortKeyCondition::BeginsWith(v) => SortCondition::BeginsWith(v),
    }
}

/// Lower and upper bounds of a range of storage keys.
type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Checks `ExclusiveStartKey` against the key condition and starts the range after it.
fn start_after(
    context: &TableContext<'_>,
    bound: &KeyCondition,
    start: &Item,
    range: KeyRange,
    reverse: bool,
) -> Result<KeyBounds, Error> {
    let invalid =
        |detail: &str| Error::validation(format!("The provided starting key is invalid: {detail}"));
    validate_key(start, &context.schema).map_err(|error| invalid(&error.message))?;
    let Some(sort) = &context.schema.sort else {
        return Err(invalid(
            "Exclusive start key cannot be used to query a table without a sort key",
        ));
    };
    if start.get(&context.schema.partition.name) != Some(&bound.partition) {
        return Err(Error::validation(
            "The provided starting key is outside query boundaries based on provided conditions",
        ));
    }
    let sort_value = start.get(&sort.name);
    if let (Some(condition), Some(value)) = (&bound.sort, sort_value)
        && !condition.matches(value)
    {
        return Err(Error::validation(
            "The provided starting key does not match the range key predicate",
        ));
    }
    let key = context.item_key(start)?.storage_key;
    Ok(if reverse {
        (range.start, Bound::Excluded(key))
    } else {
        (Bound::Excluded(key), range.end)
    })
}
