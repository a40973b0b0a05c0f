//! The operations the gateway serves: `X-Amz-Target` → decode the body, run the request
//! through the client library (straight to the owning shard), encode the answer.
//!
//! Invariant: every operation the nodes execute is served; every other operation of
//! DynamoDB's API answers a `ValidationException` saying it is not supported yet; any
//! other target is an `UnknownOperationException`, as DynamoDB answers.
//! Does not parse HTTP or check signatures (see `server`, `sigv4`).

use serde_json::Value;
use shoal_wire::{Error as WireError, ErrorKind};

use super::decode;
use super::encode;
use super::fields::Fields;
use crate::client::Client;
use crate::error::Result;

/// The target prefix of DynamoDB's API version.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// The target prefix of the Streams API.
pub const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";

/// The operations served, in the order of dynamodb-semantics.md §6 and §7.
pub const SERVED: &[&str] = &[
    "CreateTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "DeleteTable",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
];

/// DynamoDB operations the gateway knows but does not serve yet.
pub const NOT_SUPPORTED_YET: &[&str] = &[
    "BatchExecuteStatement",
    "CreateBackup",
    "CreateGlobalTable",
    "DeleteBackup",
    "DeleteResourcePolicy",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeEndpoints",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeLimits",
    "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExecuteStatement",
    "ExecuteTransaction",
    "ExportTableToPointInTime",
    "GetResourcePolicy",
    "ImportTable",
    "ListBackups",
    "ListContributorInsights",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "ListTagsOfResource",
    "PutResourcePolicy",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "TagResource",
    "TransactGetItems",
    "TransactWriteItems",
    "UntagResource",
    "UpdateContinuousBackups",
    "UpdateContributorInsights",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateKinesisStreamingDestination",
    "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
];

/// Stream operations (`DynamoDBStreams_20120810.*`), not served yet.
const STREAMS_NOT_SUPPORTED_YET: &[&str] = &[
    "DescribeStream",
    "GetRecords",
    "GetShardIterator",
    "ListStreams",
];

/// What a target names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// An operation this gateway serves.
    Served(&'a str),
    /// A known operation that is not served yet.
    NotSupportedYet(&'a str),
    /// Anything else.
    Unknown,
}

/// Classifies an `X-Amz-Target` header value.
pub fn target(header: &str) -> Target<'_> {
    if let Some(operation) = header.strip_prefix(TARGET_PREFIX) {
        if SERVED.contains(&operation) {
            return Target::Served(operation);
        }
        if NOT_SUPPORTED_YET.contains(&operation) {
            return Target::NotSupportedYet(operation);
        }
    }
    if let Some(operation) = header.strip_prefix(STREAMS_TARGET_PREFIX)
        && STREAMS_NOT_SUPPORTED_YET.contains(&operation)
    {
        return Target::NotSupportedYet(operation);
    }
    Target::Unknown
}

/// DynamoDB's answer to an unknown target.
pub fn unknown_operation() -> WireError {
    WireError::new(ErrorKind::UnknownOperation, "")
}

/// A known operation that is not served yet.
pub fn not_supported_yet(operation: &str) -> WireError {
    WireError::new(
        ErrorKind::NotSupportedYet,
        format!("{operation} is not supported yet by Shoal's gateway"),
    )
}

/// Runs one served operation with the parsed JSON body.
pub async fn run(client: &Client, operation: &str, body: &Value) -> Result<Value> {
    let f = Fields::top(body)?;
    Ok(match operation {
        "PutItem" => {
            let r = client
                .put_item("")
                .set_request(decode::put_item(f)?)
                .send()
                .await?;
            encode::write_result(
                r.attributes.as_ref(),
                r.consumed_capacity.as_ref(),
                r.item_collection_metrics.as_ref(),
            )
        }
        "GetItem" => {
            let r = client
                .get_item("")
                .set_request(decode::get_item(f)?)
                .send()
                .await?;
            encode::get_result(r.item.as_ref(), r.consumed_capacity.as_ref())
        }
        "UpdateItem" => {
            let request = decode::update_item(f)?;
            let r = client.update_item("").set_request(request).send().await?;
            encode::write_result(
                r.attributes.as_ref(),
                r.consumed_capacity.as_ref(),
                r.item_collection_metrics.as_ref(),
            )
        }
        "DeleteItem" => {
            let request = decode::delete_item(f)?;
            let r = client.delete_item("").set_request(request).send().await?;
            encode::write_result(
                r.attributes.as_ref(),
                r.consumed_capacity.as_ref(),
                r.item_collection_metrics.as_ref(),
            )
        }
        "Query" => encode::query(
            &client
                .query("")
                .set_request(decode::query(f)?)
                .send()
                .await?,
        ),
        "Scan" => encode::scan(&client.scan("").set_request(decode::scan(f)?).send().await?),
        "BatchGetItem" => {
            let request = decode::batch_get_item(f)?;
            encode::batch_get(&client.batch_get_item().set_request(request).send().await?)
        }
        "BatchWriteItem" => {
            let request = decode::batch_write_item(f)?;
            encode::batch_write(
                &client
                    .batch_write_item()
                    .set_request(request)
                    .send()
                    .await?,
            )
        }
        _ => run_control(client, operation, f).await?,
    })
}

async fn run_control(client: &Client, operation: &str, f: Fields<'_>) -> Result<Value> {
    let description = |d| serde_json::json!({ "TableDescription": encode::table(d) });
    Ok(match operation {
        "CreateTable" => {
            let request = decode::create_table(f)?;
            let r = client.create_table("").set_request(request).send().await?;
            description(&r.table_description)
        }
        "DescribeTable" => {
            let request = decode::describe_table(f)?;
            let r = client
                .describe_table("")
                .set_request(request)
                .send()
                .await?;
            serde_json::json!({ "Table": encode::table(&r.table) })
        }
        "ListTables" => {
            let request = decode::list_tables(f)?;
            encode::list_tables(&client.list_tables().set_request(request).send().await?)
        }
        "UpdateTable" => {
            let request = decode::update_table(f)?;
            let r = client.update_table("").set_request(request).send().await?;
            description(&r.table_description)
        }
        "DeleteTable" => {
            let request = decode::delete_table(f)?;
            let r = client.delete_table("").set_request(request).send().await?;
            description(&r.table_description)
        }
        other => return Err(not_supported_yet(other).into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified() {
        assert_eq!(
            target("DynamoDB_20120810.GetItem"),
            Target::Served("GetItem")
        );
        assert_eq!(
            target("DynamoDB_20120810.TransactWriteItems"),
            Target::NotSupportedYet("TransactWriteItems")
        );
        assert_eq!(
            target("DynamoDBStreams_20120810.GetRecords"),
            Target::NotSupportedYet("GetRecords")
        );
        for unknown in [
            "",
            "DynamoDB_20120810.",
            "DynamoDB_20120810.getitem",
            "DynamoDB_20111205.GetItem",
            "DynamoDBStreams_20120810.GetItem",
        ] {
            assert_eq!(target(unknown), Target::Unknown, "{unknown}");
        }
        for served in SERVED {
            assert!(!NOT_SUPPORTED_YET.contains(served), "{served}");
        }
    }
}
