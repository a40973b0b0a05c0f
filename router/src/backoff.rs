//! Jittered exponential back-off between retries.
//!
//! The delay before retry `n` (0-based) is drawn from `[ceiling/2, ceiling]` where
//! `ceiling = min(retry_delay_max, retry_delay_min · 2^n)` ("equal jitter"): clients that
//! failed together spread out, and no retry is immediate.
//! Invariant: every delay lies within `[ceiling(n)/2, ceiling(n)] ⊆ [0, retry_delay_max]`.
//! Does not sleep and owns no randomness: callers pass a random number in.

use std::time::Duration;

/// The back-off schedule of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// Ceiling of the first delay.
    pub min: Duration,
    /// Cap of every delay.
    pub max: Duration,
}

/// Beyond this many doublings the ceiling is the cap for any sane `min` (2^32 × 1 ns > 4 s).
const DOUBLINGS_MAX: u32 = 32;

impl Backoff {
    /// The largest delay before retry `attempt`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(DOUBLINGS_MAX - 1);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry `attempt`, jittered by `random`.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_nanos()).unwrap_or(u64::MAX);
        let floor = ceiling / 2;
        let spread = ceiling - floor;
        Duration::from_nanos(floor + random % spread.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule() -> Backoff {
        Backoff {
            min: Duration::from_millis(10),
            max: Duration::from_secs(1),
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = schedule();
        let ceilings: Vec<u128> = (0..10).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), b.max);
    }

    proptest! {
        #[test]
        fn delay_stays_within_bounds(attempt in 0u32..100, random in any::<u64>()) {
            let b = schedule();
            let delay = b.delay(attempt, random);
            prop_assert!(delay <= b.ceiling(attempt));
            prop_assert!(delay >= b.ceiling(attempt) / 2);
            prop_assert!(delay <= b.max);
        }
    }
}
