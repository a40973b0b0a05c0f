//! The table commands (create, describe, list, delete) and the JSON form of a table
//! description, shaped as DynamoDB's `TableDescription`.
//!
//! Invariant: `--pk` / `--sk` are `NAME:TYPE` with TYPE one of S, N, B; anything else is a
//! `ValidationException` before any request is sent.
//! Does not wait for a new table to become ACTIVE.

use serde_json::{Value, json};
use shoal_router::Client;
use shoal_wire::schema::{BillingMode, ScalarType, TableDescription};

use super::CliError;
use super::args::TableCommand;
use super::json::number_json;
use super::output::{object, print_json};

/// Runs a table command.
pub async fn run(client: Client, command: TableCommand) -> Result<(), CliError> {
    match command {
        TableCommand::Create {
            name,
            pk,
            sk,
            billing_mode,
            read_capacity,
            write_capacity,
        } => {
            let (pk_name, pk_type) = key_argument(&pk, "--pk")?;
            let billing = BillingMode::parse(&billing_mode).ok_or_else(|| {
                CliError::Invalid(format!(
                    "Invalid billing mode {billing_mode}: use PAY_PER_REQUEST or PROVISIONED"
                ))
            })?;
            let mut create = client
                .create_table(name)
                .partition_key(pk_name, pk_type)
                .billing_mode(billing);
            if let Some(sk) = sk {
                let (sk_name, sk_type) = key_argument(&sk, "--sk")?;
                create = create.sort_key(sk_name, sk_type);
            }
            if read_capacity.is_some() || write_capacity.is_some() {
                create = create.provisioned_throughput(
                    read_capacity.unwrap_or(0),
                    write_capacity.unwrap_or(0),
                );
            }
            let answer = create.send().await?;
            print_json(&json!({ "TableDescription": description_json(&answer.table_description) }));
        }
        TableCommand::Describe { name } => {
            let answer = client.describe_table(name).send().await?;
            print_json(&json!({ "Table": description_json(&answer.table) }));
        }
        TableCommand::List => {
            let names = client.list_tables().all_names().await?;
            print_json(&json!({ "TableNames": names }));
        }
        TableCommand::Delete { name } => {
            let answer = client.delete_table(name).send().await?;
            print_json(&json!({ "TableDescription": description_json(&answer.table_description) }));
        }
    }
    Ok(())
}

/// Parses `NAME:TYPE`.
pub fn key_argument(text: &str, flag: &str) -> Result<(String, ScalarType), CliError> {
    let (name, kind) = text.rsplit_once(':').ok_or_else(|| {
        CliError::Invalid(format!("{flag} {text:?} must be NAME:TYPE, e.g. id:S"))
    })?;
    let kind = ScalarType::parse(kind).ok_or_else(|| {
        CliError::Invalid(format!(
            "{flag} {text:?}: Member must satisfy enum value set: [B, N, S]"
        ))
    })?;
    if name.is_empty() {
        return Err(CliError::Invalid(format!(
            "{flag} {text:?} has an empty name"
        )));
    }
    Ok((name.to_owned(), kind))
}

/// Milliseconds as DynamoDB's fractional epoch seconds.
fn seconds(ms: u64) -> Value {
    let text = format!("{}.{:03}", ms / 1000, ms % 1000);
    number_json(&shoal_wire::Number::parse(&text).expect("decimal text"))
}

/// A `TableDescription` as DynamoDB's JSON shows it.
pub fn description_json(d: &TableDescription) -> Value {
    let keys: Vec<Value> = d
        .key_schema
        .iter()
        .map(|k| json!({ "AttributeName": k.attribute_name, "KeyType": k.key_type.as_str() }))
        .collect();
    let definitions: Vec<Value> = d
        .attribute_definitions
        .iter()
        .map(|a| json!({ "AttributeName": a.attribute_name, "AttributeType": a.attribute_type.as_str() }))
        .collect();
    let throughput = &d.provisioned_throughput;
    object([
        ("TableName", Some(json!(d.table_name))),
        ("TableStatus", Some(json!(d.table_status.as_str()))),
        (
            "KeySchema",
            (!keys.is_empty()).then_some(Value::Array(keys)),
        ),
        (
            "AttributeDefinitions",
            (!definitions.is_empty()).then_some(Value::Array(definitions)),
        ),
        ("CreationDateTime", Some(seconds(d.creation_date_time_ms))),
        ("ItemCount", Some(json!(d.item_count))),
        ("TableSizeBytes", Some(json!(d.table_size_bytes))),
        ("TableArn", Some(json!(d.table_arn))),
        ("TableId", Some(json!(d.table_id))),
        (
            "BillingModeSummary",
            d.billing_mode_summary
                .as_ref()
                .map(|b| json!({ "BillingMode": b.billing_mode.as_str() })),
        ),
        (
            "ProvisionedThroughput",
            Some(json!({
                "ReadCapacityUnits": throughput.read_capacity_units,
                "WriteCapacityUnits": throughput.write_capacity_units,
                "NumberOfDecreasesToday": throughput.number_of_decreases_today,
            })),
        ),
        (
            "DeletionProtectionEnabled",
            Some(json!(d.deletion_protection_enabled)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arguments() {
        assert_eq!(
            key_argument("id:S", "--pk").unwrap(),
            ("id".into(), ScalarType::S)
        );
        assert_eq!(
            key_argument("a:b:N", "--sk").unwrap(),
            ("a:b".into(), ScalarType::N)
        );
        for bad in ["id", "id:X", ":S", "id:s"] {
            let error = key_argument(bad, "--pk").unwrap_err();
            assert!(
                error.to_string().starts_with("ValidationException: --pk"),
                "{error}"
            );
        }
    }

    #[test]
    fn creation_time_is_fractional_seconds() {
        assert_eq!(seconds(1_700_000_000_123).to_string(), "1700000000.123");
        assert_eq!(seconds(5).to_string(), "0.005");
    }
}
