//! Admission for PROVISIONED tables: one token bucket per partition for reads and one for
//! writes, refilled at the table's provisioned rate divided among its partitions, banking up
//! to [`BURST_SECONDS`] of unused capacity (§10.2).
//!
//! Invariant: tokens are kept exactly (thousandths of a unit × nanoseconds), so frequent
//! refills lose nothing; a request is admitted while the bucket holds any tokens and is
//! charged its actual cost afterwards, which may leave a debt of at most one burst; time only
//! moves forward (an earlier `now` is treated as no time passing). The caller passes `now`.
//! Does not throttle PAY_PER_REQUEST tables ([`PartitionThrottle::Unlimited`]) and does not
//! implement adaptive capacity.

use std::time::Instant;

use shoal_wire::Error;
use shoal_wire::ErrorKind;
use shoal_wire::schema::{BillingMode, TableDescription};

use super::units::MilliUnits;

/// Seconds of unused capacity a bucket banks (DynamoDB's burst capacity).
pub const BURST_SECONDS: u64 = 300;
/// Nanoseconds per second: tokens are scaled by it.
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A token bucket in thousandths of a unit.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    /// Refill rate, thousandths of a unit per second (at least 1).
    rate_milli_per_second: u64,
    /// Tokens × 10^9 (so a nanosecond of refill is a whole number); may be negative (debt).
    tokens_scaled: i128,
    /// Time of the last refill.
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket (a burst's worth) refilling at `rate_milli_per_second`.
    pub fn new(rate_milli_per_second: u64, now: Instant) -> TokenBucket {
        let rate = rate_milli_per_second.max(1);
        TokenBucket {
            rate_milli_per_second: rate,
            tokens_scaled: burst_scaled(rate),
            updated: now,
        }
    }

    /// Tokens available at `now`, in thousandths of a unit (negative while in debt).
    pub fn available_milli(&mut self, now: Instant) -> i64 {
        self.refill(now);
        let milli = self.tokens_scaled / NANOS_PER_SECOND;
        i64::try_from(milli).expect("tokens are bounded by one burst")
    }

    /// True when a request may start at `now` (the bucket is not empty).
    pub fn admit(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens_scaled > 0
    }

    /// Charges `units` consumed at `now`. The debt is capped at one burst, so a single huge
    /// charge cannot lock a partition out for longer than the burst window.
    pub fn charge(&mut self, units: MilliUnits, now: Instant) {
        self.refill(now);
        let cost = i128::from(units.0) * NANOS_PER_SECOND;
        let floor = -burst_scaled(self.rate_milli_per_second);
        self.tokens_scaled = (self.tokens_scaled - cost).max(floor);
    }

    /// Changes the rate (UpdateTable, or the partition count changed), keeping the tokens
    /// earned so far but no more than the new burst.
    pub fn set_rate(&mut self, rate_milli_per_second: u64, now: Instant) {
        self.refill(now);
        self.rate_milli_per_second = rate_milli_per_second.max(1);
        let burst = burst_scaled(self.rate_milli_per_second);
        self.tokens_scaled = self.tokens_scaled.clamp(-burst, burst);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated);
        if now > self.updated {
            self.updated = now;
        }
        let earned = elapsed.as_nanos() as i128 * i128::from(self.rate_milli_per_second);
        let burst = burst_scaled(self.rate_milli_per_second);
        self.tokens_scaled = self.tokens_scaled.saturating_add(earned).min(burst);
    }
}

/// A burst's worth of tokens, scaled.
fn burst_scaled(rate_milli_per_second: u64) -> i128 {
    i128::from(rate_milli_per_second) * i128::from(BURST_SECONDS) * NANOS_PER_SECOND
}

/// The error a throttled request gets (retryable).
pub fn throughput_exceeded() -> Error {
    Error::new(
        ErrorKind::ProvisionedThroughputExceeded,
        "The level of configured provisioned throughput for the table was exceeded. Consider \
         increasing your provisioning level with the UpdateTable API.",
    )
}

/// Admission state of one partition of a table.
#[derive(Clone, Debug)]
pub enum PartitionThrottle {
    /// PAY_PER_REQUEST: never throttled here.
    Unlimited,
    /// PROVISIONED: the table's throughput divided among its partitions.
    Provisioned {
        /// Read units.
        read: TokenBucket,
        /// Write units.
        write: TokenBucket,
    },
}

impl PartitionThrottle {
    /// The throttle of one of `partition_count` partitions of `table` (full buckets).
    pub fn for_table(
        table: &TableDescription,
        partition_count: u32,
        now: Instant,
    ) -> PartitionThrottle {
        match partition_rates(table, partition_count) {
            None => PartitionThrottle::Unlimited,
            Some((read, write)) => PartitionThrottle::Provisioned {
                read: TokenBucket::new(read, now),
                write: TokenBucket::new(write, now),
            },
        }
    }

    /// Applies a changed description or partition count, keeping earned tokens.
    pub fn reconfigure(&mut self, table: &TableDescription, partition_count: u32, now: Instant) {
        match (partition_rates(table, partition_count), &mut *self) {
            (Some((r, w)), PartitionThrottle::Provisioned { read, write }) => {
                read.set_rate(r, now);
                write.set_rate(w, now);
            }
            _ => *self = PartitionThrottle::for_table(table, partition_count, now),
        }
    }

    /// Admits a read or answers `ProvisionedThroughputExceededException`.
    pub fn admit_read(&mut self, now: Instant) -> Result<(), Error> {
        match self {
            PartitionThrottle::Unlimited => Ok(()),
            PartitionThrottle::Provisioned { read, .. } => admit(read, now),
        }
    }

    /// Admits a write or answers `ProvisionedThroughputExceededException`.
    pub fn admit_write(&mut self, now: Instant) -> Result<(), Error> {
        match self {
            PartitionThrottle::Unlimited => Ok(()),
            PartitionThrottle::Provisioned { write, .. } => admit(write, now),
        }
    }

    /// Charges read units consumed by an admitted request.
    pub fn charge_read(&mut self, units: MilliUnits, now: Instant) {
        if let PartitionThrottle::Provisioned { read, .. } = self {
            read.charge(units, now);
        }
    }

    /// Charges write units consumed by an admitted request.
    pub fn charge_write(&mut self, units: MilliUnits, now: Instant) {
        if let PartitionThrottle::Provisioned { write, .. } = self {
            write.charge(units, now);
        }
    }
}

fn admit(bucket: &mut TokenBucket, now: Instant) -> Result<(), Error> {
    if bucket.admit(now) {
        Ok(())
    } else {
        Err(throughput_exceeded())
    }
}

/// Whether `table` has provisioned throughput (its requests are throttled and their units
/// charged); on-demand tables are not.
pub fn is_provisioned(table: &TableDescription) -> bool {
    let mode = table
        .billing_mode_summary
        .as_ref()
        .map_or(BillingMode::Provisioned, |summary| summary.billing_mode);
    mode != BillingMode::PayPerRequest
}

/// Per-partition (read, write) rates in thousandths of a unit per second, or `None` for
/// on-demand tables.
fn partition_rates(table: &TableDescription, partition_count: u32) -> Option<(u64, u64)> {
    if !is_provisioned(table) {
        return None;
    }
    let partitions = u64::from(partition_count.max(1));
    let share = |units: u64| units.saturating_mul(1000) / partitions;
    let throughput = &table.provisioned_throughput;
    Some((
        share(throughput.read_capacity_units),
        share(throughput.write_capacity_units),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_bucket_starts_with_a_full_burst_and_refills_at_its_rate() {
        let t0 = Instant::now();
        // 2 units per second: a burst is 600 units.
        let mut bucket = TokenBucket::new(2000, t0);
        assert_eq!(bucket.available_milli(t0), 600_000);
        bucket.charge(MilliUnits::units(600), t0);
        assert_eq!(bucket.available_milli(t0), 0);
        assert!(!bucket.admit(t0), "an empty bucket refuses");
        // Half a second earns one unit; a millisecond earns 2 thousandths, none lost.
        assert_eq!(
            bucket.available_milli(t0 + Duration::from_millis(500)),
            1000
        );
        for ms in 501..=510 {
            bucket.available_milli(t0 + Duration::from_millis(ms));
        }
        assert_eq!(
            bucket.available_milli(t0 + Duration::from_millis(510)),
            1020
        );
        assert!(bucket.admit(t0 + Duration::from_millis(510)));
        // Banking stops at the burst: an hour idle is still 300 seconds' worth.
        assert_eq!(bucket.available_milli(t0 + secs(3600)), 600_000);
    }

    #[test]
    fn charges_may_overdraw_by_at_most_one_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000, t0);
        bucket.charge(MilliUnits::units(10_000), t0);
        assert_eq!(bucket.available_milli(t0), -300_000);
        assert!(!bucket.admit(t0 + secs(299)));
        assert!(!bucket.admit(t0 + secs(300)), "exactly zero is still empty");
        assert!(bucket.admit(t0 + secs(301)));
    }

    #[test]
    fn time_going_backwards_earns_nothing() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000, t0 + secs(10));
        bucket.charge(MilliUnits::units(300), t0 + secs(10));
        assert_eq!(bucket.available_milli(t0), 0);
        assert_eq!(bucket.available_milli(t0 + secs(11)), 1000);
    }

    #[test]
    fn lowering_the_rate_clamps_the_bank() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10_000, t0);
        bucket.set_rate(1000, t0);
        assert_eq!(bucket.available_milli(t0), 300_000);
    }
}
