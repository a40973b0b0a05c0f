//! `shoal-bench compare`: the same workload against several targets in alternation
//! (A B A B ...), so drift on a noisy machine (other load, thermal limits, page cache) hits
//! every target alike; per-round and median ratios of throughput and p99.
//!
//! Each target is loaded in the first round only; later rounds reuse its records.
//! Invariant: the last lines on stdout are exactly one
//! `ratio throughput A/B = X.XX, p99 A/B = Y.YY` per target B after the first, A.
//! Does not run targets concurrently: one run at a time, so they never compete.

use serde::Serialize;

use crate::UsageError;
use crate::config::CompareArgs;
use crate::engine;
use crate::plot;
use crate::report::{RunReport, time};
use crate::target::parse_targets;

/// Most rounds of one comparison.
pub const ROUNDS_MAX: u32 = 1000;

#[derive(Serialize)]
struct Ratio {
    numerator: String,
    denominator: String,
    throughput_per_round: Vec<f64>,
    p99_per_round: Vec<f64>,
    throughput_median: f64,
    p99_median: f64,
}

#[derive(Serialize)]
struct CompareReport {
    rounds: Vec<Vec<RunReport>>,
    ratios: Vec<Ratio>,
}

/// The median (mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::INFINITY } else { a / b }
}

/// Runs the comparison and prints rounds, then the ratio lines last.
pub fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let config = args.workload.validate().map_err(UsageError)?;
    if args.rounds == 0 || args.rounds > ROUNDS_MAX {
        let r = args.rounds;
        return Err(UsageError(format!("--rounds must be in 1..={ROUNDS_MAX}, got {r}")).into());
    }
    let targets = parse_targets(&args.targets).map_err(UsageError)?;
    if targets.len() < 2 {
        return Err(
            UsageError("--targets needs at least two targets, comma-separated".into()).into(),
        );
    }
    let mut rounds: Vec<Vec<RunReport>> = Vec::new();
    for round in 1..=args.rounds {
        let mut reports = Vec::new();
        for target in &targets {
            let mut config = config.clone();
            config.skip_load |= round > 1;
            let report = RunReport::new(&engine::run(target, &config)?);
            print!("{}", report.table());
            println!(
                "round {round} {}: {:.0} ops/s, p99 {}, {} errors\n",
                target.name,
                report.total.throughput_per_s,
                time(report.total.latency_us.p99),
                report.total.errors
            );
            reports.push(report);
        }
        let first = &reports[0];
        for other in &reports[1..] {
            println!(
                "round {round} ratio {a}/{b}: throughput {:.2}, p99 {:.2}",
                ratio(first.total.throughput_per_s, other.total.throughput_per_s),
                ratio(first.total.latency_us.p99, other.total.latency_us.p99),
                a = first.target.name,
                b = other.target.name,
            );
        }
        rounds.push(reports);
    }
    let ratios: Vec<Ratio> = (1..targets.len())
        .map(|i| {
            let per = |f: fn(&RunReport) -> f64| -> Vec<f64> {
                rounds.iter().map(|r| ratio(f(&r[0]), f(&r[i]))).collect()
            };
            let throughput = per(|r| r.total.throughput_per_s);
            let p99 = per(|r| r.total.latency_us.p99);
            Ratio {
                numerator: targets[0].name.clone(),
                denominator: targets[i].name.clone(),
                throughput_median: median(&throughput),
                p99_median: median(&p99),
                throughput_per_round: throughput,
                p99_per_round: p99,
            }
        })
        .collect();
    if let Some(path) = &args.plot {
        let last = rounds.last().expect("at least one round").clone();
        plot::write_svg(&last, path)?;
    }
    let report = CompareReport { rounds, ratios };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")?;
    }
    println!("medians over {} rounds:", args.rounds);
    for r in &report.ratios {
        println!(
            "ratio throughput {a}/{b} = {:.2}, p99 {a}/{b} = {:.2}",
            r.throughput_median,
            r.p99_median,
            a = r.numerator,
            b = r.denominator
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
