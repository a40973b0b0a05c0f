//! Workloads: the YCSB core mixes A-F plus single-operation `put`, `get` and `query`, and the
//! operation kinds the reports count.
//!
//! YCSB core workloads (Cooper et al., 2010, and YCSB's `workloads/workload[a-f]`):
//! A 50% read / 50% update, B 95/5, C read only, D 95% read / 5% insert with "latest" key
//! choice, E 95% scan / 5% insert, F 50% read / 50% read-modify-write. Updates write the whole
//! record (one value attribute), as YCSB's `writeallfields` does.
//! Invariant: every mix's fractions sum to 1.
//! Does not choose keys (see `keys`) or talk to targets.

use clap::ValueEnum;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A named workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadName {
    A,
    B,
    C,
    D,
    E,
    F,
    /// Updates (whole-item puts) of existing records.
    Put,
    /// Reads of existing records.
    Get,
    /// Queries of one page of a partition.
    Query,
}

/// How a record (or partition) is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Scrambled zipfian (theta 0.99): a few hot records spread over the key space.
    Zipfian,
    /// Every record equally likely.
    Uniform,
    /// Zipfian over recency: the newest inserts are the hottest.
    Latest,
}

/// One kind of operation, as counted in the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Read,
    Update,
    Insert,
    Scan,
    /// Read-modify-write: a read then an update of the same record, timed as one.
    Rmw,
    Query,
}

impl OpKind {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::Scan => "scan",
            OpKind::Rmw => "rmw",
            OpKind::Query => "query",
        }
    }
}

impl WorkloadName {
    /// The operation mix: (kind, fraction) pairs summing to 1.
    pub fn mix(self) -> &'static [(OpKind, f64)] {
        use OpKind::*;
        match self {
            WorkloadName::A => &[(Read, 0.5), (Update, 0.5)],
            WorkloadName::B => &[(Read, 0.95), (Update, 0.05)],
            WorkloadName::C => &[(Read, 1.0)],
            WorkloadName::D => &[(Read, 0.95), (Insert, 0.05)],
            WorkloadName::E => &[(Scan, 0.95), (Insert, 0.05)],
            WorkloadName::F => &[(Read, 0.5), (Rmw, 0.5)],
            WorkloadName::Put => &[(Update, 1.0)],
            WorkloadName::Get => &[(Read, 1.0)],
            WorkloadName::Query => &[(Query, 1.0)],
        }
    }

    /// YCSB's key choice for the workload; uniform for the single-operation ones.
    pub fn default_distribution(self) -> Distribution {
        match self {
            WorkloadName::D => Distribution::Latest,
            WorkloadName::Put | WorkloadName::Get | WorkloadName::Query => Distribution::Uniform,
            _ => Distribution::Zipfian,
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadName::A => "a",
            WorkloadName::B => "b",
            WorkloadName::C => "c",
            WorkloadName::D => "d",
            WorkloadName::E => "e",
            WorkloadName::F => "f",
            WorkloadName::Put => "put",
            WorkloadName::Get => "get",
            WorkloadName::Query => "query",
        }
    }
}

/// Draws the next operation of `mix`.
pub fn choose_op(mix: &[(OpKind, f64)], rng: &mut impl Rng) -> OpKind {
    let mut u: f64 = rng.random();
    for &(kind, fraction) in mix {
        if u < fraction {
            return kind;
        }
        u -= fraction;
    }
    mix.last().expect("a mix is never empty").0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const ALL: [WorkloadName; 9] = [
        WorkloadName::A,
        WorkloadName::B,
        WorkloadName::C,
        WorkloadName::D,
        WorkloadName::E,
        WorkloadName::F,
        WorkloadName::Put,
        WorkloadName::Get,
        WorkloadName::Query,
    ];

    #[test]
    fn every_mix_sums_to_one() {
        for w in ALL {
            let sum: f64 = w.mix().iter().map(|m| m.1).sum();
            assert!(
                (sum - 1.0).abs() < 1e-9,
                "workload {} sums to {sum}",
                w.name()
            );
        }
    }

    #[test]
    fn workload_b_draws_about_five_percent_updates() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let n = 100_000;
        let updates = (0..n)
            .filter(|_| choose_op(WorkloadName::B.mix(), &mut rng) == OpKind::Update)
            .count();
        assert!(
            (4_000..6_000).contains(&updates),
            "{updates} updates of {n}"
        );
    }
}
