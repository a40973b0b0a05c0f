//! Command-line arguments and the validated run configuration.
//!
//! Invariant: a `Config` has passed `WorkloadArgs::validate`, so the engine never sees a zero
//! concurrency, a non-finite rate or a record count it cannot address; every rejection names
//! the flag and the offending value.
//! Does not parse targets (see `target`) or run anything.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::workload::{Distribution, WorkloadName};

/// Most concurrent requests in flight (tasks) of one run.
pub const CONCURRENCY_MAX: u32 = 4096;
/// Largest value written per item: below the 400 KiB item limit with room for the keys.
pub const VALUE_SIZE_MAX: usize = 350 * 1024;
/// Most records a run may address (keys are formatted with 12 digits).
pub const RECORDS_MAX: u64 = 100_000_000_000;

/// The `shoal-bench` command line.
#[derive(Parser, Debug)]
#[command(
    name = "shoal-bench",
    version,
    about = "Load generator for Shoal and its peers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one workload against one target and report.
    Run(RunArgs),
    /// Run the same workload against several targets in alternation and report ratios.
    Compare(CompareArgs),
    /// Draw an SVG latency-percentile plot of one or more JSON reports.
    Plot(PlotArgs),
}

/// `shoal-bench run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// shoal://CLUSTER_FILE, shoal://HOST:PORT, redis://HOST:PORT or dynamodb+http://HOST:PORT
    /// (optionally NAME=URL; dynamodb+http signs with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Write the full report (configuration, percentiles) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw an SVG latency-percentile plot to FILE.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// `shoal-bench compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Comma-separated targets (each URL or NAME=URL); ratios are first / each other.
    #[arg(long, value_delimiter = ',', required = true)]
    pub targets: Vec<String>,
    /// Rounds; each round runs every target once, in the given order.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Write every round's reports and the ratios as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw an SVG latency-percentile plot of each target's last round to FILE.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// `shoal-bench plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// JSON reports written by `run --json`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// The SVG file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LoopMode {
    /// Each task issues its next request when the previous one completes.
    Closed,
    /// Requests start at scheduled times (`--rate`); latency counts from the intended start.
    Open,
}

/// The workload flags shared by `run` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct WorkloadArgs {
    /// a-f (YCSB core workloads), put, get or query.
    #[arg(long, value_enum, default_value = "a")]
    pub workload: WorkloadName,
    /// Records inserted by the load phase.
    #[arg(long, default_value_t = 1000)]
    pub records: u64,
    /// Measured operations (instead of --duration).
    #[arg(long, conflicts_with = "duration")]
    pub operations: Option<u64>,
    /// Measured seconds (default 10 when --operations is not given).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Unmeasured seconds of the workload before measuring.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Requests in flight (tasks, each with its own connection where the target has them).
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,
    /// Load threads, each pinned to a core (counting down from the last one).
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Bytes of each item's value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Strongly consistent reads and queries (Shoal; Redis reads are always from the primary).
    #[arg(long)]
    pub consistent: bool,
    /// Seed of every random choice (keys, operations, values).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Open loop: total operations per second, scheduled at intended start times.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Key choice (default: the workload's own).
    #[arg(long, value_enum)]
    pub distribution: Option<Distribution>,
    /// Items per partition key (Shoal: sort keys under one partition key).
    #[arg(long, default_value_t = 10)]
    pub items_per_partition: u64,
    /// Items per page of the `query` workload.
    #[arg(long, default_value_t = 10)]
    pub page_size: u32,
    /// Longest scan of workload E (lengths are uniform in 1..=N).
    #[arg(long, default_value_t = 100)]
    pub scan_length_max: u32,
    /// Table name (Shoal) or key prefix (Redis).
    #[arg(long, default_value = "usertable")]
    pub table: String,
    /// Skip the load phase (the records are already there).
    #[arg(long)]
    pub skip_load: bool,
    /// Do not pin load threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// No live progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Hard bound on the whole run (load and measurement), seconds.
    #[arg(long, default_value_t = 600.0)]
    pub time_limit: f64,
    /// Bound on one operation, seconds (a timed-out operation counts as an error).
    #[arg(long, default_value_t = 10.0)]
    pub op_timeout: f64,
}

/// A validated run configuration; serialised whole into the JSON report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub workload: WorkloadName,
    pub distribution: Distribution,
    pub records: u64,
    pub operations: Option<u64>,
    pub duration_s: Option<f64>,
    pub warmup_s: f64,
    pub concurrency: u32,
    pub threads: u32,
    pub value_size_bytes: usize,
    pub consistent: bool,
    pub seed: u64,
    pub loop_mode: LoopMode,
    pub rate_per_s: Option<f64>,
    pub items_per_partition: u64,
    pub page_size: u32,
    pub scan_length_max: u32,
    pub table: String,
    pub skip_load: bool,
    pub pin: bool,
    pub time_limit_s: f64,
    pub op_timeout_s: f64,
    /// No progress line (not part of the measurement).
    #[serde(skip)]
    pub quiet: bool,
}

impl Config {
    /// The measured duration bound, if the run is time-bounded.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_s.map(Duration::from_secs_f64)
    }

    /// Partitions holding the loaded records.
    pub fn partitions(&self) -> u64 {
        self.records.div_ceil(self.items_per_partition)
    }
}

impl WorkloadArgs {
    /// Checks every flag and builds the configuration; errors name the flag.
    pub fn validate(&self) -> Result<Config, String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(format!(
                    "--{name} must be a positive number of seconds, got {v}"
                ))
            }
        };
        if self.records == 0 || self.records > RECORDS_MAX {
            return Err(format!(
                "--records must be in 1..={RECORDS_MAX}, got {}",
                self.records
            ));
        }
        if self.operations == Some(0) {
            return Err("--operations must be at least 1".into());
        }
        let duration_s = match (self.operations, self.duration) {
            (Some(_), _) => None,
            (None, Some(d)) => Some(positive("duration", d)?),
            (None, None) => Some(10.0),
        };
        if !(self.warmup.is_finite() && self.warmup >= 0.0) {
            return Err(format!(
                "--warmup must be >= 0 seconds, got {}",
                self.warmup
            ));
        }
        if self.concurrency == 0 || self.concurrency > CONCURRENCY_MAX {
            let c = self.concurrency;
            return Err(format!(
                "--concurrency must be in 1..={CONCURRENCY_MAX}, got {c}"
            ));
        }
        if self.threads == 0 || self.threads > self.concurrency {
            let (t, c) = (self.threads, self.concurrency);
            return Err(format!(
                "--threads must be in 1..=--concurrency ({c}), got {t}"
            ));
        }
        if self.value_size > VALUE_SIZE_MAX {
            let v = self.value_size;
            return Err(format!("--value-size {v} bytes exceeds {VALUE_SIZE_MAX}"));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!(
                "--rate must be a positive number of operations/s, got {rate}"
            ));
        }
        if self.items_per_partition == 0 {
            return Err("--items-per-partition must be at least 1".into());
        }
        if self.page_size == 0 {
            return Err("--page-size must be at least 1".into());
        }
        if self.scan_length_max == 0 {
            return Err("--scan-length-max must be at least 1".into());
        }
        let table_ok = (3..=255).contains(&self.table.len())
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !table_ok {
            return Err(format!(
                "--table must be 3 to 255 letters, digits, '_', '-' or '.', got {:?}",
                self.table
            ));
        }
        let time_limit_s = positive("time-limit", self.time_limit)?;
        let op_timeout_s = positive("op-timeout", self.op_timeout)?;
        Ok(Config {
            workload: self.workload,
            distribution: self
                .distribution
                .unwrap_or(self.workload.default_distribution()),
            records: self.records,
            operations: self.operations,
            duration_s,
            warmup_s: self.warmup,
            concurrency: self.concurrency,
            threads: self.threads,
            value_size_bytes: self.value_size,
            consistent: self.consistent,
            seed: self.seed,
            loop_mode: if self.rate.is_some() {
                LoopMode::Open
            } else {
                LoopMode::Closed
            },
            rate_per_s: self.rate,
            items_per_partition: self.items_per_partition,
            page_size: self.page_size,
            scan_length_max: self.scan_length_max,
            table: self.table.clone(),
            skip_load: self.skip_load,
            pin: !self.no_pin,
            time_limit_s,
            op_timeout_s,
            quiet: self.quiet,
        })
    }
}
