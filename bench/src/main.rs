//! `shoal-bench`: the load generator. `run` measures one workload against one target,
//! `compare` alternates targets round by round and reports ratios, `plot` draws reports.
//!
//! Map: `config` (flags, validation), `workload` (YCSB mixes, operation kinds), `keys`
//! (uniform, zipfian, latest), `target` (Shoal through the client library, Redis over RESP),
//! `engine` (threads, tasks, closed and open loop), `stats` (HDR histograms), `report`
//! (table, JSON), `compare`, `plot` (SVG).
//! Invariant: a bad flag or target is reported with the flag's name before anything runs,
//! and exits with status 2.
//! Does not start targets: the scripts in `bench/peers/` and `shoal up` do.
#![forbid(unsafe_code)]

mod compare;
mod config;
mod engine;
mod keys;
mod plot;
mod report;
mod stats;
mod target;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::config::{Cli, Command, RunArgs};
use crate::report::RunReport;

/// mimalloc for every target's client alike: with glibc's malloc the load generator's own
/// allocations (JSON bodies, buffers freed on other threads) took a fifth of its CPU, which
/// the measured servers then lacked on a shared machine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare::compare(args),
        Command::Plot(args) => plot::plot_files(&args.reports, &args.out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A bad flag or target (exit status 2, like clap's own errors).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = args.workload.validate().map_err(UsageError)?;
    let target = target::parse_target(&args.target).map_err(UsageError)?;
    let result = engine::run(&target, &config)?;
    let report = RunReport::new(&result);
    print!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path)?;
    }
    if let Some(path) = &args.plot {
        plot::write_svg(&[report], path)?;
    }
    Ok(())
}
