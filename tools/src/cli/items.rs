//! The item commands: put, get, update, delete, query and scan, with items, keys and
//! placeholder values as plain JSON (or typed with `--typed`) and DynamoDB-shaped JSON
//! answers (`{"Item": ...}`, `{"Items": [...], "Count": n, ...}`).
//!
//! Invariant: query and scan without `--limit` read every page (counts are summed);
//! with `--limit` they read one page and print its `LastEvaluatedKey`, which `--start-key`
//! takes back.
//! Does not retry anything itself; the client library does.

use futures::StreamExt;
use serde_json::Value;
use shoal_router::Client;
use shoal_wire::Item;
use shoal_wire::message::{
    ExpressionAttributeNames, ExpressionAttributeValues, QueryResponse, ReturnValue,
};

use super::CliError;
use super::args::{
    DeleteArgs, GetArgs, Placeholders, PutArgs, QueryArgs, ReadOptions, ScanArgs, UpdateArgs,
};
use super::json::{self, Dialect};
use super::output::{object, print_json};

/// The text of a JSON argument: inline, or the contents of the file after `@`.
pub fn argument_text(argument: &str, what: &str) -> Result<String, CliError> {
    match argument.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Invalid(format!("cannot read {what} from {path}: {e}"))),
        None => Ok(argument.to_owned()),
    }
}

fn item_argument(argument: &str, dialect: Dialect, what: &str) -> Result<Item, CliError> {
    let value = json::parse(&argument_text(argument, what)?, what).map_err(CliError::Invalid)?;
    json::item_from_json(&value, dialect, what).map_err(CliError::Invalid)
}

fn names(text: &Option<String>) -> Result<Option<ExpressionAttributeNames>, CliError> {
    let Some(text) = text else { return Ok(None) };
    let value =
        json::parse(&argument_text(text, "--names")?, "--names").map_err(CliError::Invalid)?;
    json::names_from_json(&value)
        .map(Some)
        .map_err(CliError::Invalid)
}

fn values(
    text: &Option<String>,
    dialect: Dialect,
) -> Result<Option<ExpressionAttributeValues>, CliError> {
    let Some(text) = text else { return Ok(None) };
    item_argument(text, dialect, "--values").map(Some)
}

fn return_values(text: &Option<String>) -> Result<Option<ReturnValue>, CliError> {
    text.as_deref()
        .map(|t| {
            ReturnValue::parse(t).ok_or_else(|| {
                CliError::Invalid(format!(
                    "1 validation error detected: Value '{t}' at 'returnValues' failed to \
                     satisfy constraint: Member must satisfy enum value set: [ALL_NEW, \
                     UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
                ))
            })
        })
        .transpose()
}

fn item_json(item: Option<Item>, dialect: Dialect) -> Option<Value> {
    item.map(|item| json::item_to_json(&item, dialect))
}

/// Placeholder maps of a command.
struct Maps {
    names: Option<ExpressionAttributeNames>,
    values: Option<ExpressionAttributeValues>,
}

fn maps(placeholders: &Placeholders, dialect: Dialect) -> Result<Maps, CliError> {
    Ok(Maps {
        names: names(&placeholders.names)?,
        values: values(&placeholders.values, dialect)?,
    })
}

/// `shoal put`.
pub async fn put(client: Client, args: PutArgs, dialect: Dialect) -> Result<(), CliError> {
    let item = item_argument(&args.item, dialect, "the item")?;
    let maps = maps(&args.placeholders, dialect)?;
    let mut put = client.put_item(args.table).item(item);
    if let Some(condition) = args.condition {
        put = put.condition_expression(condition);
    }
    if let Some(names) = maps.names {
        put = put.expression_attribute_names(names);
    }
    if let Some(values) = maps.values {
        put = put.expression_attribute_values(values);
    }
    if let Some(rv) = return_values(&args.return_values)? {
        put = put.return_values(rv);
    }
    let answer = put.send().await?;
    print_json(&object([(
        "Attributes",
        item_json(answer.attributes, dialect),
    )]));
    Ok(())
}

/// `shoal get`.
pub async fn get(client: Client, args: GetArgs, dialect: Dialect) -> Result<(), CliError> {
    let key = item_argument(&args.key, dialect, "the key")?;
    let mut get = client
        .get_item(args.table)
        .key_item(key)
        .consistent_read(args.consistent);
    if let Some(projection) = args.projection {
        get = get.projection_expression(projection);
    }
    if let Some(names) = names(&args.names)? {
        get = get.expression_attribute_names(names);
    }
    let answer = get.send().await?;
    print_json(&object([("Item", item_json(answer.item, dialect))]));
    Ok(())
}

/// `shoal update`.
pub async fn update(client: Client, args: UpdateArgs, dialect: Dialect) -> Result<(), CliError> {
    let key = item_argument(&args.key, dialect, "the key")?;
    let maps = maps(&args.placeholders, dialect)?;
    let mut update = client
        .update_item(args.table)
        .key_item(key)
        .update_expression(args.update);
    if let Some(condition) = args.condition {
        update = update.condition_expression(condition);
    }
    if let Some(names) = maps.names {
        update = update.expression_attribute_names(names);
    }
    if let Some(values) = maps.values {
        update = update.expression_attribute_values(values);
    }
    if let Some(rv) = return_values(&args.return_values)? {
        update = update.return_values(rv);
    }
    let answer = update.send().await?;
    print_json(&object([(
        "Attributes",
        item_json(answer.attributes, dialect),
    )]));
    Ok(())
}

/// `shoal delete`.
pub async fn delete(client: Client, args: DeleteArgs, dialect: Dialect) -> Result<(), CliError> {
    let key = item_argument(&args.key, dialect, "the key")?;
    let maps = maps(&args.placeholders, dialect)?;
    let mut delete = client.delete_item(args.table).key_item(key);
    if let Some(condition) = args.condition {
        delete = delete.condition_expression(condition);
    }
    if let Some(names) = maps.names {
        delete = delete.expression_attribute_names(names);
    }
    if let Some(values) = maps.values {
        delete = delete.expression_attribute_values(values);
    }
    if let Some(rv) = return_values(&args.return_values)? {
        delete = delete.return_values(rv);
    }
    let answer = delete.send().await?;
    print_json(&object([(
        "Attributes",
        item_json(answer.attributes, dialect),
    )]));
    Ok(())
}

/// Items, counts and the last key of one or more pages.
#[derive(Default)]
struct Pages {
    items: Vec<Item>,
    count: u64,
    scanned_count: u64,
    last_evaluated_key: Option<Item>,
}

impl Pages {
    fn add(&mut self, page: QueryResponse) {
        self.items.extend(page.items.unwrap_or_default());
        self.count += u64::from(page.count);
        self.scanned_count += u64::from(page.scanned_count);
        self.last_evaluated_key = page.last_evaluated_key;
    }

    fn print(self, dialect: Dialect) {
        let items = self
            .items
            .iter()
            .map(|i| json::item_to_json(i, dialect))
            .collect();
        print_json(&object([
            ("Items", Some(Value::Array(items))),
            ("Count", Some(Value::from(self.count))),
            ("ScannedCount", Some(Value::from(self.scanned_count))),
            (
                "LastEvaluatedKey",
                item_json(self.last_evaluated_key, dialect),
            ),
        ]));
    }
}

/// The start key of `--start-key`.
fn start_key(read: &ReadOptions, dialect: Dialect) -> Result<Option<Item>, CliError> {
    read.start_key
        .as_deref()
        .map(|text| item_argument(text, dialect, "--start-key"))
        .transpose()
}

/// `shoal query`.
pub async fn query(client: Client, args: QueryArgs, dialect: Dialect) -> Result<(), CliError> {
    let read = &args.read;
    let maps = maps(&read.placeholders, dialect)?;
    let mut query = client
        .query(args.table)
        .key_condition_expression(args.key_condition)
        .consistent_read(read.consistent);
    if args.reverse {
        query = query.scan_index_forward(false);
    }
    if let Some(filter) = read.filter.clone() {
        query = query.filter_expression(filter);
    }
    if let Some(projection) = read.projection.clone() {
        query = query.projection_expression(projection);
    }
    if let Some(index) = read.index.clone() {
        query = query.index_name(index);
    }
    if let Some(names) = maps.names {
        query = query.expression_attribute_names(names);
    }
    if let Some(values) = maps.values {
        query = query.expression_attribute_values(values);
    }
    if let Some(key) = start_key(read, dialect)? {
        query = query.exclusive_start_key(key);
    }
    let mut pages = Pages::default();
    match read.limit {
        Some(limit) => pages.add(query.limit(limit).send().await?),
        None => {
            let mut stream = query.pages();
            while let Some(page) = stream.next().await {
                pages.add(page?);
            }
        }
    }
    pages.print(dialect);
    Ok(())
}

/// `shoal scan`.
pub async fn scan(client: Client, args: ScanArgs, dialect: Dialect) -> Result<(), CliError> {
    let read = &args.read;
    let maps = maps(&read.placeholders, dialect)?;
    let mut scan = client.scan(args.table).consistent_read(read.consistent);
    if let Some((segment, total)) = args.segment {
        scan = scan.segment(segment, total);
    }
    if let Some(filter) = read.filter.clone() {
        scan = scan.filter_expression(filter);
    }
    if let Some(projection) = read.projection.clone() {
        scan = scan.projection_expression(projection);
    }
    if let Some(index) = read.index.clone() {
        scan = scan.index_name(index);
    }
    if let Some(names) = maps.names {
        scan = scan.expression_attribute_names(names);
    }
    if let Some(values) = maps.values {
        scan = scan.expression_attribute_values(values);
    }
    if let Some(key) = start_key(read, dialect)? {
        scan = scan.exclusive_start_key(key);
    }
    let mut pages = Pages::default();
    match read.limit {
        Some(limit) => pages.add(as_query_page(scan.limit(limit).send().await?)),
        None => {
            let mut stream = scan.pages();
            while let Some(page) = stream.next().await {
                pages.add(as_query_page(page?));
            }
        }
    }
    pages.print(dialect);
    Ok(())
}

/// A Scan page in Query's (identical) shape.
fn as_query_page(page: shoal_wire::message::ScanResponse) -> QueryResponse {
    QueryResponse {
        items: page.items,
        count: page.count,
        scanned_count: page.scanned_count,
        last_evaluated_key: page.last_evaluated_key,
        consumed_capacity: page.consumed_capacity,
    }
}
