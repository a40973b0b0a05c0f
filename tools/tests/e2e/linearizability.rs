//! A linearizability checker for single-key register histories (put, get, conditional put),
//! in the manner of Wing & Gong with Lowe's memoisation (the search Knossos and Porcupine
//! run): find an order of the operations that respects real time (an operation that returned
//! before another was invoked comes first) and the register's semantics.
//!
//! An operation whose outcome is unknown (a timeout, a lost connection) may have taken
//! effect at any time after its invocation, or never: it is given an infinite return time and
//! need not be placed. Reads that failed are left out by the caller.

use std::collections::{BTreeSet, HashSet};

/// What an operation did, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Wrote the value.
    Put(i64),
    /// Read the value (`None`: the item did not exist).
    Get(Option<i64>),
    /// Wrote `new` if the value was `expect`; `ok` says whether the condition held
    /// (`None`: outcome unknown).
    Cas {
        /// The value the condition required.
        expect: i64,
        /// The value written if it held.
        new: i64,
        /// Whether it held, if known.
        ok: Option<bool>,
    },
}

/// One operation of a history.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Invocation time (any monotonic unit).
    pub call: u64,
    /// Return time; `u64::MAX` when the outcome is unknown.
    pub ret: u64,
    /// What it did.
    pub kind: OpKind,
}

impl Op {
    fn known(&self) -> bool {
        self.ret != u64::MAX
    }
}

/// The register after `op` if `op` may take effect in state `state`.
fn step(state: Option<i64>, op: &Op) -> Option<Option<i64>> {
    match op.kind {
        OpKind::Put(v) => Some(Some(v)),
        OpKind::Get(v) => (v == state).then_some(state),
        OpKind::Cas { expect, new, ok } => {
            let holds = state == Some(expect);
            match ok {
                Some(true) => holds.then_some(Some(new)),
                Some(false) => (!holds).then_some(state),
                None => Some(if holds { Some(new) } else { state }),
            }
        }
    }
}

/// Whether `ops` (one key's history, starting from an absent item) is linearizable. Gives up
/// (returns `None`) after `budget` search steps.
///
/// The search is a depth-first walk over partial orders kept on a heap-allocated stack, one
/// frame per placed operation: a history is as deep as it is long, and a recursive walk
/// overflowed the test thread's 2 MiB stack on a key's history of a long fault run
/// (`SHOAL_FAULT_SECONDS=12`). Each step costs the operations that may go next plus a log
/// factor, not the length of the history.
pub fn check(ops: &[Op], budget: u64) -> Option<bool> {
    let mut search = Search {
        ops,
        by_call: ops.iter().enumerate().map(|(i, op)| (op.call, i)).collect(),
        by_ret: ops.iter().enumerate().map(|(i, op)| (op.ret, i)).collect(),
        known_left: ops.iter().filter(|op| op.known()).count(),
        keys: zobrist_keys(ops.len()),
        placed: 0,
        seen: HashSet::new(),
        steps: 0,
        budget,
    };
    search.run()
}

struct Search<'a> {
    ops: &'a [Op],
    /// Unplaced operations by invocation time: (call, index).
    by_call: BTreeSet<(u64, usize)>,
    /// Unplaced operations by return time: (ret, index).
    by_ret: BTreeSet<(u64, usize)>,
    /// Unplaced operations whose outcome is known.
    known_left: usize,
    /// A random key per operation: the set of placed operations is known by the XOR of
    /// theirs (Zobrist hashing), so the memo costs 16 bytes per state instead of a copy of
    /// the set. Two different sets share a fingerprint with probability 2^-128 per pair.
    keys: Vec<u128>,
    /// The fingerprint of the placed operations.
    placed: u128,
    /// (placed, register) pairs already explored without success (Lowe's memoisation).
    seen: HashSet<(u128, Option<i64>)>,
    steps: u64,
    budget: u64,
}

/// `n` pseudo-random 128-bit keys (splitmix64; fixed seed, so a verdict is reproducible).
fn zobrist_keys(n: usize) -> Vec<u128> {
    let mut x: u64 = 0x5348_4f41_4c21_u64;
    let mut next = move || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| (u128::from(next()) << 64) | u128::from(next()))
        .collect()
}

/// The operations that may go next after a prefix, and where the walk is among them.
struct Frame {
    /// (operation, register after it).
    candidates: Vec<(usize, Option<i64>)>,
    next: usize,
    /// The candidate placed below this frame, taken back before the next one is tried.
    current: Option<usize>,
}

enum Expanded {
    Linearized,
    OutOfBudget,
    /// Explored before (from the same placed set and register) without success.
    Seen,
    Frame(Frame),
}

impl Search<'_> {
    fn run(&mut self) -> Option<bool> {
        let mut stack = match self.expand(None) {
            Expanded::Linearized => return Some(true),
            Expanded::OutOfBudget => return None,
            Expanded::Seen => return Some(false),
            Expanded::Frame(frame) => vec![frame],
        };
        while let Some(top) = stack.last_mut() {
            if let Some(i) = top.current.take() {
                self.unplace(i);
            }
            let Some(&(i, next)) = top.candidates.get(top.next) else {
                stack.pop();
                continue;
            };
            top.next += 1;
            top.current = Some(i);
            self.place(i);
            match self.expand(next) {
                Expanded::Linearized => return Some(true),
                Expanded::OutOfBudget => return None,
                Expanded::Seen => {}
                Expanded::Frame(frame) => stack.push(frame),
            }
        }
        Some(false)
    }

    /// The frame of the current prefix, which left the register at `state`.
    fn expand(&mut self, state: Option<i64>) -> Expanded {
        self.steps += 1;
        if self.steps > self.budget {
            return Expanded::OutOfBudget;
        }
        // Done once every operation with a known outcome is placed.
        if self.known_left == 0 {
            return Expanded::Linearized;
        }
        if !self.seen.insert((self.placed, state)) {
            return Expanded::Seen;
        }
        // An operation may go next only if it was invoked before every unplaced operation
        // returned.
        let horizon = self.by_ret.first().map_or(u64::MAX, |&(ret, _)| ret);
        let candidates = self
            .by_call
            .iter()
            .take_while(|&&(call, _)| call <= horizon)
            .filter_map(|&(_, i)| step(state, &self.ops[i]).map(|next| (i, next)))
            .collect();
        Expanded::Frame(Frame {
            candidates,
            next: 0,
            current: None,
        })
    }

    fn place(&mut self, i: usize) {
        let op = &self.ops[i];
        self.placed ^= self.keys[i];
        self.by_call.remove(&(op.call, i));
        self.by_ret.remove(&(op.ret, i));
        if op.known() {
            self.known_left -= 1;
        }
    }

    fn unplace(&mut self, i: usize) {
        let op = &self.ops[i];
        self.placed ^= self.keys[i];
        self.by_call.insert((op.call, i));
        self.by_ret.insert((op.ret, i));
        if op.known() {
            self.known_left += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, kind: OpKind) -> Op {
        Op { call, ret, kind }
    }

    #[test]
    fn accepts_linearizable_and_rejects_stale_histories() {
        use OpKind::*;
        // Concurrent put and get: the get may see either value.
        let ok = [
            op(0, 10, Put(1)),
            op(5, 20, Get(Some(1))),
            op(15, 30, Get(Some(1))),
        ];
        assert_eq!(check(&ok, 10_000), Some(true));
        let also_ok = [op(0, 10, Put(1)), op(5, 20, Get(None))];
        assert_eq!(check(&also_ok, 10_000), Some(true));
        // A read after a completed write must not see the old value.
        let stale = [
            op(0, 10, Put(1)),
            op(11, 20, Put(2)),
            op(21, 30, Get(Some(1))),
        ];
        assert_eq!(check(&stale, 10_000), Some(false));
        // A lost acknowledged write: read sees nothing after the put returned.
        let lost = [op(0, 10, Put(7)), op(20, 30, Get(None))];
        assert_eq!(check(&lost, 10_000), Some(false));
        // An unknown put may take effect late, or never.
        let late = [
            op(0, u64::MAX, Put(3)),
            op(50, 60, Get(None)),
            op(70, 80, Get(Some(3))),
        ];
        assert_eq!(check(&late, 10_000), Some(true));
        // But it cannot take effect and then un-happen.
        let flicker = [
            op(0, u64::MAX, Put(3)),
            op(50, 60, Get(Some(3))),
            op(70, 80, Get(None)),
        ];
        assert_eq!(check(&flicker, 10_000), Some(false));
        // Conditional puts: a success needs the expected value, a failure its absence.
        let cas = [
            op(0, 10, Put(1)),
            op(
                20,
                30,
                Cas {
                    expect: 1,
                    new: 2,
                    ok: Some(true),
                },
            ),
            op(
                40,
                50,
                Cas {
                    expect: 1,
                    new: 3,
                    ok: Some(false),
                },
            ),
            op(60, 70, Get(Some(2))),
        ];
        assert_eq!(check(&cas, 10_000), Some(true));
        let double = [
            op(0, 10, Put(1)),
            op(
                20,
                30,
                Cas {
                    expect: 1,
                    new: 2,
                    ok: Some(true),
                },
            ),
            op(
                40,
                50,
                Cas {
                    expect: 1,
                    new: 3,
                    ok: Some(true),
                },
            ),
        ];
        assert_eq!(check(&double, 10_000), Some(false));
    }

    /// A long fault run gives one key tens of thousands of operations; the search is as deep
    /// as the history is long, and must not be bounded by the thread's stack.
    #[test]
    fn a_history_of_two_hundred_thousand_operations_is_checked() {
        use OpKind::*;
        let mut ops = Vec::new();
        let mut t = 0;
        for v in 0..100_000 {
            // A put, then a read overlapping the next put (it may see either value).
            ops.push(op(t, t + 10, Put(v)));
            ops.push(op(t + 5, t + 25, Get(Some(v))));
            t += 20;
        }
        let checked = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let ok = check(&ops, 10_000_000);
                // The same history with its last read seeing a value overwritten long before.
                let mut stale = ops.clone();
                let last = stale.len() - 1;
                stale[last].kind = Get(Some(17));
                (ok, check(&stale, 10_000_000))
            })
            .expect("spawn")
            .join()
            .expect("the check ran to the end");
        assert_eq!(checked, (Some(true), Some(false)));
    }
}
