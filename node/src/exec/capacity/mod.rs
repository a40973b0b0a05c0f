//! Capacity: the read and write units an operation consumes (dynamodb-semantics.md §10.1),
//! the `ConsumedCapacity` reported to clients, and admission of provisioned tables through a
//! token bucket per partition (§10.2).
//!
//! Invariant: units travel as thousandths ([`MilliUnits`]), never floating point; core logic
//! takes the time as an argument and never reads a clock.
//! Does not decide which partition a request belongs to (the server does), and does not
//! throttle PAY_PER_REQUEST tables.

mod bucket;
mod units;

pub use bucket::{
    BURST_SECONDS, PartitionThrottle, TokenBucket, is_provisioned, throughput_exceeded,
};
pub use units::{
    Consistency, MilliUnits, READ_UNIT_BYTES, WRITE_UNIT_BYTES, consumed_capacity, get_item_units,
    page_read_units, read_units, write_units,
};
