//! Reports: the JSON document of a run (configuration, counts, percentiles, the percentile
//! curve for plots) and the human table printed on stdout.
//!
//! Invariant: every number in the table comes from the `RunReport`, so the table and the
//! JSON never disagree; percentiles are read from the same merged histogram, so they are
//! non-decreasing (p50 <= p90 <= p99 <= p99.9 <= max).
//! Does not draw (see `plot`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::{Config, LoopMode};
use crate::engine::RunResult;
use crate::stats::OpStats;
use crate::target::TargetSpec;

/// Version of the JSON report's shape.
pub const REPORT_SCHEMA: u32 = 1;

/// Quantiles of the curve kept for plots (the HdrHistogram plot's classic ticks and between).
const CURVE_QUANTILES: [f64; 14] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999, 1.0,
];

/// Percentiles of one histogram, microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Percentiles {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One operation kind (or the total) of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpReport {
    /// Successful operations.
    pub count: u64,
    pub errors: u64,
    /// Reads (or scans, queries) that found nothing.
    pub not_found: u64,
    /// Successful operations per second of measured time.
    pub throughput_per_s: f64,
    /// Latency (open loop: from the intended start), microseconds.
    pub latency_us: Percentiles,
    /// Service time (send to reply), microseconds.
    pub service_us: Percentiles,
    /// (quantile, latency µs) points for plots.
    pub latency_curve_us: Vec<(f64, f64)>,
    pub first_error: Option<String>,
}

/// The load phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    pub records: u64,
    pub elapsed_s: f64,
    pub inserts: OpReport,
}

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: u32,
    pub tool: String,
    pub git_revision: String,
    pub unix_time_s: u64,
    pub target: TargetSpec,
    pub config: Config,
    pub load: Option<LoadReport>,
    /// Measured time: from the measurement start to the last measured reply.
    pub elapsed_s: f64,
    /// True if `--time-limit` cut the run short.
    pub timed_out: bool,
    pub total: OpReport,
    pub ops: BTreeMap<String, OpReport>,
}

fn micros(h: &Histogram<u64>, v: u64) -> f64 {
    let _ = h;
    v as f64 / 1e3
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles {
            min: 0.0,
            mean: 0.0,
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            p999: 0.0,
            max: 0.0,
        };
    }
    let q = |q: f64| micros(h, h.value_at_quantile(q));
    Percentiles {
        min: micros(h, h.min()),
        mean: h.mean() / 1e3,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        // The highest equivalent value, so max is never below a percentile read the same way.
        max: micros(h, h.highest_equivalent(h.max())),
    }
}

fn op_report(op: &OpStats, elapsed_s: f64) -> OpReport {
    let curve = if op.latency.is_empty() {
        Vec::new()
    } else {
        CURVE_QUANTILES
            .iter()
            .map(|&q| (q, micros(&op.latency, op.latency.value_at_quantile(q))))
            .collect()
    };
    OpReport {
        count: op.count(),
        errors: op.errors,
        not_found: op.not_found,
        throughput_per_s: if elapsed_s > 0.0 {
            op.count() as f64 / elapsed_s
        } else {
            0.0
        },
        latency_us: percentiles(&op.latency),
        service_us: percentiles(&op.service),
        latency_curve_us: curve,
        first_error: op.first_error.clone(),
    }
}

/// The git revision of the working directory, if it is a repository.
fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl RunReport {
    /// The report of a finished run.
    pub fn new(result: &RunResult) -> RunReport {
        let elapsed_s = result.elapsed.as_secs_f64();
        let ops = result
            .stats
            .ops
            .iter()
            .map(|(kind, op)| (kind.name().to_string(), op_report(op, elapsed_s)))
            .collect();
        let load = result.load.as_ref().map(|load| {
            let elapsed_s = load.elapsed.as_secs_f64();
            LoadReport {
                records: load.records,
                elapsed_s,
                inserts: op_report(&load.stats.total(), elapsed_s),
            }
        });
        let unix_time_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        RunReport {
            schema: REPORT_SCHEMA,
            tool: format!("shoal-bench {}", env!("CARGO_PKG_VERSION")),
            git_revision: git_revision(),
            unix_time_s,
            target: result.target.clone(),
            config: result.config.clone(),
            load,
            elapsed_s,
            timed_out: result.timed_out,
            total: op_report(&result.stats.total(), elapsed_s),
            ops,
        }
    }

    /// Writes the JSON report.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).context("serialise the report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))
    }

    /// Reads a JSON report.
    pub fn read_json(path: &Path) -> anyhow::Result<RunReport> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a shoal-bench report", path.display()))
    }

    /// The human table.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mode = match c.loop_mode {
            LoopMode::Closed => "closed loop".to_string(),
            LoopMode::Open => format!("open loop at {} ops/s", c.rate_per_s.unwrap_or(0.0)),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "target {} ({}), workload {}, {:?} keys, {} records, {mode}, concurrency {}, {:.2} s measured{}",
            self.target.name,
            self.target.url,
            c.workload.name(),
            c.distribution,
            c.records,
            c.concurrency,
            self.elapsed_s,
            if self.timed_out {
                " (cut by --time-limit)"
            } else {
                ""
            },
        );
        if let Some(load) = &self.load {
            let _ = writeln!(
                out,
                "load: {} records in {:.2} s ({:.0}/s), {} errors",
                load.records, load.elapsed_s, load.inserts.throughput_per_s, load.inserts.errors
            );
        }
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "op", "count", "errors", "ops/s", "p50", "p90", "p99", "p99.9", "max"
        );
        let rows = self
            .ops
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain([("total", &self.total)]);
        for (name, op) in rows {
            let l = &op.latency_us;
            let _ = writeln!(
                out,
                "{name:<8} {:>10} {:>7} {:>10.0} {:>10} {:>10} {:>10} {:>10} {:>10}",
                op.count,
                op.errors,
                op.throughput_per_s,
                time(l.p50),
                time(l.p90),
                time(l.p99),
                time(l.p999),
                time(l.max)
            );
        }
        for (name, op) in &self.ops {
            if let Some(e) = &op.first_error {
                let _ = writeln!(out, "first {name} error: {e}");
            }
        }
        out
    }
}

/// Microseconds as a short human duration.
pub fn time(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.1}µs")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_non_decreasing() {
        let mut h = crate::stats::histogram();
        for v in 1..10_000u64 {
            h.record(v * 997).unwrap();
        }
        let p = percentiles(&h);
        let order = [p.min, p.p50, p.p90, p.p99, p.p999, p.max];
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn times_read_well() {
        assert_eq!(time(12.34), "12.3µs");
        assert_eq!(time(1234.0), "1.23ms");
        assert_eq!(time(2_500_000.0), "2.50s");
    }
}
