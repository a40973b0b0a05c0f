//! Key choice: uniform, scrambled zipfian and latest, as YCSB's generators define them.
//!
//! The zipfian generator is Gray et al., "Quickly generating billion-record synthetic
//! databases" (SIGMOD 1994), with YCSB's constant theta = 0.99. "Scrambled" hashes the
//! zipfian rank (FNV-1a, 64 bit) so the hot records are spread over the key space rather than
//! clustered at the low record numbers; "latest" counts ranks back from the newest insert.
//! Invariant: `KeyChooser::next` returns a record number below the frontier it is given
//! (and below the loaded count for scrambled zipfian, which never targets new inserts).
//! Does not know how records map to keys or partitions.

use rand::Rng;

use crate::workload::Distribution;

/// YCSB's zipfian constant.
pub const ZIPFIAN_THETA: f64 = 0.99;

/// ζ(n, θ) accumulated from `from` to `to` (exclusive) on top of `sum`.
pub fn zeta(from: u64, to: u64, theta: f64, sum: f64) -> f64 {
    (from..to).fold(sum, |acc, i| acc + 1.0 / ((i + 1) as f64).powf(theta))
}

/// A zipfian generator over `0..items`, growable (for "latest").
#[derive(Debug, Clone)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zeta2: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `0..items` given ζ(items) (computed once per run, it is O(items)).
    pub fn new(items: u64, zetan: f64) -> Zipfian {
        assert!(items >= 1, "zipfian over {items} items");
        let theta = ZIPFIAN_THETA;
        let zeta2 = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta2,
            zetan,
            eta: 0.0,
        };
        z.eta = z.eta_for();
        z
    }

    fn eta_for(&self) -> f64 {
        (1.0 - (2.0 / self.items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2 / self.zetan)
    }

    /// Extends the range to `0..items` (no-op if it is not larger).
    pub fn grow(&mut self, items: u64) {
        if items > self.items {
            self.zetan = zeta(self.items, items, self.theta, self.zetan);
            self.items = items;
            self.eta = self.eta_for();
        }
    }

    /// The next rank: 0 is the most popular.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        let rank = (self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.items - 1)
    }
}

/// FNV-1a over the eight little-endian bytes of `x`.
pub fn fnv64(x: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in x.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Chooses record (or partition) numbers for one task.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    Uniform,
    /// Scrambled zipfian over the loaded records.
    Zipfian {
        zipfian: Zipfian,
        items: u64,
    },
    /// Zipfian ranks counted back from the newest record.
    Latest(Zipfian),
}

impl KeyChooser {
    /// A chooser over `items` loaded records, with ζ(items) precomputed.
    pub fn new(distribution: Distribution, items: u64, zetan: f64) -> KeyChooser {
        match distribution {
            Distribution::Uniform => KeyChooser::Uniform,
            Distribution::Zipfian => KeyChooser::Zipfian {
                zipfian: Zipfian::new(items, zetan),
                items,
            },
            Distribution::Latest => KeyChooser::Latest(Zipfian::new(items, zetan)),
        }
    }

    /// A record number below `frontier` (the records inserted so far, at least 1).
    pub fn next(&mut self, rng: &mut impl Rng, frontier: u64) -> u64 {
        debug_assert!(frontier >= 1);
        match self {
            KeyChooser::Uniform => rng.random_range(0..frontier),
            KeyChooser::Zipfian { zipfian, items } => {
                fnv64(zipfian.next(rng)) % (*items).min(frontier)
            }
            KeyChooser::Latest(zipfian) => {
                zipfian.grow(frontier);
                frontier - 1 - zipfian.next(rng).min(frontier - 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_pcg::Pcg64Mcg {
        rand_pcg::Pcg64Mcg::seed_from_u64(42)
    }

    #[test]
    fn zipfian_rank_zero_is_the_most_frequent_and_ranks_stay_in_range() {
        let n = 1000;
        let z = Zipfian::new(n, zeta(0, n, ZIPFIAN_THETA, 0.0));
        let mut counts = vec![0u32; n as usize];
        let mut r = rng();
        for _ in 0..100_000 {
            counts[z.next(&mut r) as usize] += 1;
        }
        let max = counts.iter().copied().max().unwrap();
        assert_eq!(counts[0], max);
        // With theta 0.99 over 1000 items, rank 0 takes about 13% of draws.
        assert!(
            (10_000..17_000).contains(&counts[0]),
            "rank 0 drew {}",
            counts[0]
        );
    }

    #[test]
    fn grown_zipfian_matches_one_built_at_the_larger_size() {
        let mut grown = Zipfian::new(100, zeta(0, 100, ZIPFIAN_THETA, 0.0));
        grown.grow(5000);
        let fresh = zeta(0, 5000, ZIPFIAN_THETA, 0.0);
        assert!((grown.zetan - fresh).abs() < 1e-9);
    }

    #[test]
    fn latest_prefers_the_newest_records() {
        let mut chooser =
            KeyChooser::new(Distribution::Latest, 100, zeta(0, 100, ZIPFIAN_THETA, 0.0));
        let mut r = rng();
        let newest = (0..10_000)
            .filter(|_| chooser.next(&mut r, 200) >= 190)
            .count();
        assert!(newest > 3_000, "{newest} of 10000 among the newest ten");
        for _ in 0..1000 {
            assert!(chooser.next(&mut r, 200) < 200);
        }
    }

    #[test]
    fn scrambled_zipfian_stays_below_the_frontier() {
        let mut chooser =
            KeyChooser::new(Distribution::Zipfian, 50, zeta(0, 50, ZIPFIAN_THETA, 0.0));
        let mut r = rng();
        for _ in 0..10_000 {
            assert!(chooser.next(&mut r, 50) < 50);
        }
    }
}
