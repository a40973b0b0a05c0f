//! UpdateTable (§6.4): billing mode, provisioned throughput, table class, deletion protection
//! and on-demand or warm throughput settings.
//!
//! Invariant: a request that changes nothing is rejected; PROVISIONED needs throughput and
//! PAY_PER_REQUEST forbids it; throughput decreases follow DynamoDB's daily allowance (four in
//! the first hour of a UTC day, then one per hour, at most 27 a day). The result is ACTIVE.
//! Does not change indexes, streams, encryption or replicas: those are `NotSupportedYet`.

use shoal_wire::Error;
use shoal_wire::message::UpdateTableRequest;
use shoal_wire::schema::{
    BillingMode, BillingModeSummary, ProvisionedThroughput, ProvisionedThroughputDescription,
    TableClassSummary, TableDescription,
};

use super::create::{billing_throughput, pay_per_request_throughput};
use super::{check_not_busy, check_throughput, not_supported};

/// Milliseconds in a UTC day.
const DAY_MS: u64 = 24 * 3600 * 1000;
/// Milliseconds in an hour.
const HOUR_MS: u64 = 3600 * 1000;
/// Decreases allowed at any time of a UTC day.
const DECREASES_FREE_MAX: u64 = 4;
/// Decreases allowed in one UTC day.
const DECREASES_PER_DAY_MAX: u64 = 27;

/// Validates an UpdateTable request against the current table and returns the table after it.
pub fn update_table(
    current: &TableDescription,
    request: &UpdateTableRequest,
    now_ms: u64,
) -> Result<TableDescription, Error> {
    check_unsupported(request)?;
    check_not_busy(current)?;
    let changes_something = request.billing_mode.is_some()
        || request.provisioned_throughput.is_some()
        || request.table_class.is_some()
        || request.deletion_protection_enabled.is_some()
        || request.on_demand_throughput.is_some()
        || request.warm_throughput.is_some();
    if !changes_something {
        return Err(Error::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, \
             GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let mut table = current.clone();
    update_billing(&mut table, request, now_ms)?;
    if let Some(table_class) = request.table_class {
        table.table_class_summary = Some(TableClassSummary {
            table_class,
            last_update_date_time_ms: Some(now_ms),
        });
    }
    if let Some(protected) = request.deletion_protection_enabled {
        table.deletion_protection_enabled = protected;
    }
    if let Some(on_demand) = &request.on_demand_throughput {
        table.on_demand_throughput = Some(on_demand.clone());
    }
    if let Some(warm) = &request.warm_throughput {
        table.warm_throughput = Some(warm.clone());
    }
    Ok(table)
}

fn check_unsupported(request: &UpdateTableRequest) -> Result<(), Error> {
    if request.global_secondary_index_updates.is_some() {
        return Err(not_supported("Global secondary index updates"));
    }
    if request.stream_specification.is_some() {
        return Err(not_supported("DynamoDB Streams"));
    }
    if request.sse_specification.is_some() {
        return Err(not_supported("Encryption changes (SSESpecification)"));
    }
    if request.replica_updates.is_some() {
        return Err(not_supported("Global table replicas"));
    }
    Ok(())
}

fn current_mode(table: &TableDescription) -> BillingMode {
    table
        .billing_mode_summary
        .as_ref()
        .map_or(BillingMode::Provisioned, |summary| summary.billing_mode)
}

/// Applies BillingMode and ProvisionedThroughput.
fn update_billing(
    table: &mut TableDescription,
    request: &UpdateTableRequest,
    now_ms: u64,
) -> Result<(), Error> {
    let from = current_mode(table);
    let to = request.billing_mode.unwrap_or(from);
    match (from, to, &request.provisioned_throughput) {
        (_, BillingMode::PayPerRequest, Some(_)) => Err(pay_per_request_throughput()),
        (BillingMode::PayPerRequest, BillingMode::PayPerRequest, None) => {
            if request.billing_mode.is_some() && only_billing_mode(request) {
                return Err(Error::validation(
                    "One or more parameter values were invalid: The table is already in \
                     PAY_PER_REQUEST billing mode",
                ));
            }
            Ok(())
        }
        (BillingMode::Provisioned, BillingMode::PayPerRequest, None) => {
            table.provisioned_throughput = billing_throughput(to, None)?;
            table.billing_mode_summary = Some(BillingModeSummary {
                billing_mode: to,
                last_update_to_pay_per_request_date_time_ms: Some(now_ms),
            });
            Ok(())
        }
        (BillingMode::PayPerRequest, BillingMode::Provisioned, throughput) => {
            table.provisioned_throughput = billing_throughput(to, throughput.as_ref())?;
            let previous = table.billing_mode_summary.take();
            table.billing_mode_summary = Some(BillingModeSummary {
                billing_mode: to,
                last_update_to_pay_per_request_date_time_ms: previous
                    .and_then(|s| s.last_update_to_pay_per_request_date_time_ms),
            });
            Ok(())
        }
        (BillingMode::Provisioned, BillingMode::Provisioned, None) => {
            if request.billing_mode.is_some() && only_billing_mode(request) {
                return Err(Error::validation(
                    "One or more parameter values were invalid: The table is already in \
                     PROVISIONED billing mode",
                ));
            }
            Ok(())
        }
        (BillingMode::Provisioned, BillingMode::Provisioned, Some(throughput)) => {
            change_throughput(&mut table.provisioned_throughput, throughput, now_ms)
        }
    }
}

/// True when BillingMode is the only change asked for.
fn only_billing_mode(request: &UpdateTableRequest) -> bool {
    request.provisioned_throughput.is_none()
        && request.table_class.is_none()
        && request.deletion_protection_enabled.is_none()
        && request.on_demand_throughput.is_none()
        && request.warm_throughput.is_none()
}

/// New throughput on a provisioned table: must differ; decreases are rationed.
fn change_throughput(
    current: &mut ProvisionedThroughputDescription,
    requested: &ProvisionedThroughput,
    now_ms: u64,
) -> Result<(), Error> {
    check_throughput(requested)?;
    let (read, write) = (current.read_capacity_units, current.write_capacity_units);
    let (new_read, new_write) = (
        requested.read_capacity_units,
        requested.write_capacity_units,
    );
    if (read, write) == (new_read, new_write) {
        return Err(Error::validation(format!(
            "The provisioned throughput for the table will not change. The requested value \
             equals the current value. Current ReadCapacityUnits provisioned for the table: \
             {read}. Requested ReadCapacityUnits: {new_read}. Current WriteCapacityUnits \
             provisioned for the table: {write}. Requested WriteCapacityUnits: {new_write}. \
             Refer to the Amazon DynamoDB Developer Guide for current limits and how to request \
             higher limits."
        )));
    }
    if new_read < read || new_write < write {
        record_decrease(current, now_ms)?;
    }
    if new_read > read || new_write > write {
        current.last_increase_date_time_ms = Some(now_ms);
    }
    current.read_capacity_units = new_read;
    current.write_capacity_units = new_write;
    Ok(())
}

fn record_decrease(
    current: &mut ProvisionedThroughputDescription,
    now_ms: u64,
) -> Result<(), Error> {
    let last = current.last_decrease_date_time_ms;
    let same_day = last.is_some_and(|last| last / DAY_MS == now_ms / DAY_MS);
    let today = if same_day {
        current.number_of_decreases_today
    } else {
        0
    };
    let hour_passed = last.is_none_or(|last| now_ms.saturating_sub(last) >= HOUR_MS);
    let allowed = today < DECREASES_FREE_MAX || (hour_passed && today < DECREASES_PER_DAY_MAX);
    if !allowed {
        return Err(Error::limit_exceeded(format!(
            "Subscriber limit exceeded: Provisioned throughput decreases are limited within a \
             given UTC day. After the first {DECREASES_FREE_MAX} decreases, each subsequent \
             decrease in the same UTC day can be performed at most once every 3600 seconds, up \
             to {DECREASES_PER_DAY_MAX} a day. Number of decreases today: {today}."
        )));
    }
    current.number_of_decreases_today = today + 1;
    current.last_decrease_date_time_ms = Some(now_ms);
    Ok(())
}
