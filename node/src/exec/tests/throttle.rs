//! Admission of PROVISIONED tables per partition: the table's throughput divided among its
//! partitions, 300 s of burst, `ProvisionedThroughputExceededException` when empty; on-demand
//! tables pass (§10.2).

use std::time::{Duration, Instant};

use shoal_wire::ErrorKind;
use shoal_wire::cluster::TableId;
use shoal_wire::message::CreateTableRequest;
use shoal_wire::schema::{BillingMode, ProvisionedThroughput, ScalarType};

use super::support::{create_request, simple};
use crate::exec::capacity::{MilliUnits, PartitionThrottle};
use crate::exec::tables::create_table;

#[test]
fn provisioned_partitions_share_the_table_rate_and_bank_a_burst() {
    let request = CreateTableRequest {
        billing_mode: Some(BillingMode::Provisioned),
        provisioned_throughput: Some(ProvisionedThroughput {
            read_capacity_units: 10,
            write_capacity_units: 4,
        }),
        ..create_request("prov", ("pk", ScalarType::S), None)
    };
    let table = create_table(&request, TableId(3), 0).unwrap();
    let t0 = Instant::now();
    // Two partitions: 2 WCU/s each, 600 WCU of burst.
    let mut throttle = PartitionThrottle::for_table(&table, 2, t0);
    for _ in 0..600 {
        throttle
            .admit_write(t0)
            .expect("the burst absorbs 600 writes");
        throttle.charge_write(MilliUnits::units(1), t0);
    }
    let error = throttle.admit_write(t0).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ProvisionedThroughputExceeded);
    assert!(error.kind.is_retryable());
    assert!(
        throttle.admit_read(t0).is_ok(),
        "reads have their own bucket"
    );
    // Any refill admits the next write, which then overdraws: at 2 WCU/s a 1 WCU write
    // leaves the bucket about half a second in debt.
    let ms = |ms: u64| t0 + Duration::from_millis(ms);
    assert!(throttle.admit_write(ms(1)).is_ok());
    throttle.charge_write(MilliUnits::units(1), ms(1));
    assert!(throttle.admit_write(ms(400)).is_err());
    assert!(throttle.admit_write(ms(501)).is_ok());
    // Raising the table's throughput raises the partition's rate, keeping the bank.
    let mut raised = table.clone();
    raised.provisioned_throughput.write_capacity_units = 40;
    throttle.reconfigure(&raised, 2, t0 + Duration::from_secs(1));
    throttle.charge_write(MilliUnits::units(2), t0 + Duration::from_secs(1));
    assert!(
        throttle
            .admit_write(t0 + Duration::from_millis(1100))
            .is_ok()
    );
}

#[test]
fn on_demand_tables_are_not_throttled_here() {
    let t0 = Instant::now();
    let mut throttle = PartitionThrottle::for_table(&simple(), 4, t0);
    throttle.charge_write(MilliUnits::units(1_000_000), t0);
    assert!(throttle.admit_write(t0).is_ok());
    assert!(matches!(throttle, PartitionThrottle::Unlimited));
}
