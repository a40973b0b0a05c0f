//! Per-operation statistics: HDR histograms of latency (from the intended start in open
//! loop) and service time (from the actual send), error and not-found counts.
//!
//! Each load thread owns one `Stats` behind a mutex that only its own tasks and the progress
//! line take, so recording is uncontended; threads are merged at the end.
//! Invariant: a histogram holds one value per successful measured operation; failed
//! operations are counted in `errors` and never recorded as latencies.
//! Does not compute rates (see `report`).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::workload::OpKind;

/// Smallest latency resolved, nanoseconds (values below are recorded in the first bucket).
const LATENCY_LOW_NS: u64 = 1_000;
/// Largest latency recorded, nanoseconds (one hour; larger values saturate).
const LATENCY_HIGH_NS: u64 = 3_600_000_000_000;
/// Significant digits of every histogram.
const LATENCY_DIGITS: u8 = 3;

/// A new latency histogram.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LATENCY_LOW_NS, LATENCY_HIGH_NS, LATENCY_DIGITS)
        .expect("constant bounds are valid")
}

/// Statistics of one operation kind.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency, nanoseconds: from the intended start (open loop) or the send (closed loop).
    pub latency: Histogram<u64>,
    /// Service time, nanoseconds: from the send to the reply.
    pub service: Histogram<u64>,
    pub errors: u64,
    pub not_found: u64,
    pub first_error: Option<String>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            latency: histogram(),
            service: histogram(),
            errors: 0,
            not_found: 0,
            first_error: None,
        }
    }
}

impl OpStats {
    /// Successful operations.
    pub fn count(&self) -> u64 {
        self.latency.len()
    }

    fn merge(&mut self, other: &OpStats) {
        self.latency.add(&other.latency).expect("same bounds");
        self.service.add(&other.service).expect("same bounds");
        self.errors += other.errors;
        self.not_found += other.not_found;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

/// Statistics of every operation kind of a run (or one thread's share).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ops: BTreeMap<OpKind, OpStats>,
}

impl Stats {
    /// Records a success.
    pub fn record(&mut self, kind: OpKind, latency: Duration, service: Duration, found: bool) {
        let op = self.ops.entry(kind).or_default();
        op.latency.saturating_record(nanos(latency));
        op.service.saturating_record(nanos(service));
        if !found {
            op.not_found += 1;
        }
    }

    /// Records a failure.
    pub fn record_error(&mut self, kind: OpKind, message: String) {
        let op = self.ops.entry(kind).or_default();
        op.errors += 1;
        if op.first_error.is_none() {
            op.first_error = Some(message);
        }
    }

    /// Adds `other` into this.
    pub fn merge(&mut self, other: &Stats) {
        for (kind, op) in &other.ops {
            self.ops.entry(*kind).or_default().merge(op);
        }
    }

    /// All kinds merged into one.
    pub fn total(&self) -> OpStats {
        let mut total = OpStats::default();
        for op in self.ops.values() {
            total.merge(op);
        }
        total
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
